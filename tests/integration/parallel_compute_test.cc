// The engine's worker threads (WORKER_THREADS) computing one chunk together. Under the tsan preset
// this is where a race between the workers shows; in every build the analytics must not depend on
// the number of threads.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/time.h"
#include "tests/integration/harness.h"

namespace ha::testing {
namespace {

using nlohmann::json;

const Instant kT = StartOf(DaysFromCivil(2025, 11, 20)) + 12 * 3'600'000LL;

// Analytics keyed by (userId, metricType, timeRange), with the write instants and ids removed.
std::map<std::string, std::string> Analytics(Db& db) {
  std::map<std::string, std::string> out;
  for (const std::string& line : db.ExportCanonical("analytics")) {
    json j = json::parse(line);
    for (const char* f : {"_id", "metadata", "calculatedAt", "expiresAt", "updatedAt", "createdAt"})
      j.erase(f);
    out[j["userId"].dump() + j["metricType"].get<std::string>() +
        j["timeRange"].get<std::string>()] = j.dump();
  }
  return out;
}

TEST(ParallelComputeTest, ManyUsersWithoutGoalsOnSeveralThreadsMatchOneThread) {
  Server server;
  // 200 users (several workers share a chunk from 32 users on), none with a users document: the
  // workers look up goals that do not exist, concurrently.
  std::string lines;
  for (int u = 0; u < 200; ++u) {
    const std::string user = fmt::format("65b0000000000000000{:05d}", u);
    for (int d = 0; d < 3; ++d) {
      lines +=
          json{{"userId", {{"$oid", user}}},
               {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(DayOf(kT) - d))}}}}},
               {"metrics", {{"steps", 4000 + 10 * u + d}, {"sleepHours", 7}}},
               {"updatedAt", {{"$date", {{"$numberLong", std::to_string(kT - 60'000)}}}}}}
              .dump() +
          "\n";
    }
  }
  std::map<std::string, std::string> by_threads[2];
  int i = 0;
  for (const char* threads : {"1", "4"}) {
    Db db(server.uri(), UniqueDbName(std::string("par") + threads));
    db.InsertJsonLines("healthmetrics", lines);
    TempDir dir;
    Env env = EngineEnv(server.uri(), db.name(), dir.path());
    env["WORKER_THREADS"] = threads;
    RunResult r = RunHa({"once", "--now", FormatInstant(kT)}, env, dir.path());
    ASSERT_EQ(r.exit_code, 0) << "WORKER_THREADS=" << threads << "\n" << r.out << r.err;
    by_threads[i++] = Analytics(db);
  }
  EXPECT_GE(by_threads[0].size(), 200u);  // every user has analytics
  EXPECT_EQ(by_threads[0], by_threads[1]);
}

}  // namespace
}  // namespace ha::testing
