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

// The units in flight (IO_CONCURRENCY) and, within a unit's write, several commands in flight at
// once (WRITE_OPS_PER_COMMAND=7 cuts a unit's writes into many commands, sent IO_CONCURRENCY at a
// time): the analytics must be what one unit and one command at a time write, for inserts (the
// first run) and for updates (the second run, after every steps value changed).
TEST(ParallelComputeTest, WritesInSeveralCommandsAtOnceLeaveWhatOneAtATimeLeaves) {
  Server server;
  auto lines = [](int steps_offset) {
    std::string out;
    for (int u = 0; u < 150; ++u) {
      const std::string user = fmt::format("65b1000000000000000{:05d}", u);
      for (int d = 0; d < 3; ++d) {
        const std::string id = fmt::format("65c100000000000{:04d}{:05d}", d, u);
        out +=
            json{{"_id", {{"$oid", id}}},
                 {"userId", {{"$oid", user}}},
                 {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(DayOf(kT) - d))}}}}},
                 {"metrics", {{"steps", 4000 + 10 * u + d + steps_offset}, {"sleepHours", 7}}},
                 {"updatedAt",
                  {{"$date", {{"$numberLong", std::to_string(kT - 60'000 + steps_offset)}}}}}}
                .dump() +
            "\n";
      }
    }
    return out;
  };
  std::map<std::string, std::string> by_concurrency[2];
  int i = 0;
  for (const char* concurrency : {"1", "4"}) {
    Db db(server.uri(), UniqueDbName(std::string("wc") + concurrency));
    db.InsertJsonLines("healthmetrics", lines(0));
    TempDir dir;
    Env env = EngineEnv(server.uri(), db.name(), dir.path());
    env["IO_CONCURRENCY"] = concurrency;
    env["READ_USERS_PER_QUERY"] = "40";
    env["WRITE_OPS_PER_COMMAND"] = "7";
    RunResult r = RunHa({"once", "--now", FormatInstant(kT)}, env, dir.path());
    ASSERT_EQ(r.exit_code, 0) << "IO_CONCURRENCY=" << concurrency << "\n" << r.out << r.err;
    bson_t all = BSON_INITIALIZER;
    db.DeleteMany("healthmetrics", &all);
    db.InsertJsonLines("healthmetrics", lines(1000));
    r = RunHa({"once", "--now", FormatInstant(kT + 1000)}, env, dir.path());
    ASSERT_EQ(r.exit_code, 0) << "IO_CONCURRENCY=" << concurrency << "\n" << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("(0 inserted, "), std::string::npos) << r.out << r.err;
    by_concurrency[i++] = Analytics(db);
  }
  EXPECT_GE(by_concurrency[0].size(), 150u);
  EXPECT_EQ(by_concurrency[0], by_concurrency[1]);
  // The second run's values: user 0's 7-day steps over 3 days are the new ones (5000-5002).
  bool found = false;
  for (const auto& [key, doc] : by_concurrency[1]) {
    if (key.find("65b100000000000000000000") == std::string::npos ||
        key.find("steps7day") == std::string::npos)
      continue;
    found = true;
    EXPECT_NE(doc.find("5002"), std::string::npos) << doc;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ha::testing
