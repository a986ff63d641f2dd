// Analytics that stay true as days pass and data is deleted, and adaptive polling (issue 7).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/object_id.h"
#include "core/time.h"
#include "tests/integration/harness.h"

namespace ha::testing {
namespace {

using nlohmann::json;

const Instant kT = StartOf(DaysFromCivil(2025, 11, 20)) + 12 * 3'600'000LL;

class RolloverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Db>(server_.uri(), UniqueDbName("r"));
    env_ = EngineEnv(server_.uri(), db_->name(), dir_.path());
  }

  RunResult Ha(std::vector<std::string> args, Env extra = {}) {
    Env env = env_;
    for (auto& [k, v] : extra) env[k] = v;
    return RunHa(args, env, dir_.path());
  }
  void Once(Instant now, Env extra = {}) {
    RunResult r = Ha({"once", "--now", FormatInstant(now)}, extra);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  static ObjectId User(int i) {
    ObjectId id;
    id.bytes[0] = 0x66;
    id.bytes[11] = static_cast<uint8_t>(i);
    return id;
  }

  void InsertSteps(const ObjectId& user, Day day, int steps, Instant updated_at) {
    json doc = {{"userId", {{"$oid", user.ToHex()}}},
                {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(day))}}}}},
                {"metrics", {{"steps", steps}}},
                {"updatedAt", {{"$date", {{"$numberLong", std::to_string(updated_at)}}}}}};
    db_->InsertJsonLines("healthmetrics", doc.dump() + "\n");
  }

  void DeleteDay(const ObjectId& user, Day day) {
    bson_t filter = BSON_INITIALIZER;
    bson_oid_t oid;
    std::copy(user.bytes.begin(), user.bytes.end(), oid.bytes);
    bson_append_oid(&filter, "userId", -1, &oid);
    bson_append_date_time(&filter, "date", -1, StartOf(day));
    ASSERT_EQ(db_->DeleteMany("healthmetrics", &filter), 1);
    bson_destroy(&filter);
  }

  // The steps/7day document of `user` (null when absent).
  json Steps7(const ObjectId& user) {
    for (const std::string& line : db_->ExportCanonical("analytics")) {
      json j = json::parse(line);
      if (j["userId"]["$oid"] == user.ToHex() && j["metricType"] == "steps" &&
          j["timeRange"] == "7day")
        return j;
    }
    return nullptr;
  }
  static double Avg(const json& doc) {
    return std::stod(doc["analytics"]["rollingAverage"]["$numberDouble"].get<std::string>());
  }

  std::vector<json> BatchLog() { return BatchLogLines(dir_.path() + "/logs"); }

  Server server_;
  TempDir dir_;
  std::unique_ptr<Db> db_;
  Env env_;
};

TEST_F(RolloverTest, DeletedDayLeavesTheAveragesAtTheNextDaysRecompute) {
  const Day d = DayOf(kT);
  InsertSteps(User(1), d - 2, 2000, kT - 50'000);
  InsertSteps(User(1), d - 1, 4000, kT - 40'000);
  Once(kT);
  ASSERT_FALSE(Steps7(User(1)).is_null());
  EXPECT_EQ(Avg(Steps7(User(1))), 3000);  // (2000 + 4000) / 2
  DeleteDay(User(1), d - 1);
  Once(kT + 3'600'000);  // same day: polling cannot see a deletion
  EXPECT_EQ(Avg(Steps7(User(1))), 3000);
  Once(kT + kMillisPerDay);  // the next day's recompute does
  EXPECT_EQ(Avg(Steps7(User(1))), 2000);
}

TEST_F(RolloverTest, AllOfAUsersDataDeletedRemovesTheirDocumentsAtRollover) {
  const Day d = DayOf(kT);
  InsertSteps(User(2), d - 1, 4000, kT - 40'000);
  InsertSteps(User(3), d - 1, 6000, kT - 30'000);
  Once(kT);
  ASSERT_FALSE(Steps7(User(2)).is_null());
  DeleteDay(User(2), d - 1);
  Once(kT + kMillisPerDay);
  EXPECT_TRUE(Steps7(User(2)).is_null());
  EXPECT_FALSE(Steps7(User(3)).is_null());  // the others stay
}

TEST_F(RolloverTest, ReconcileIntervalAppliesDeletionsWithinTheDay) {
  const Day d = DayOf(kT);
  InsertSteps(User(4), d - 2, 2000, kT - 50'000);
  InsertSteps(User(4), d - 1, 4000, kT - 40'000);
  const Env hourly{{"RECONCILE_INTERVAL_HOURS", "1"}};
  Once(kT, hourly);
  DeleteDay(User(4), d - 1);
  Once(kT + 30 * 60'000, hourly);  // half an hour later: not yet
  EXPECT_EQ(Avg(Steps7(User(4))), 3000);
  Once(kT + 61 * 60'000, hourly);  // an hour after the last full pass: reconciled
  EXPECT_EQ(Avg(Steps7(User(4))), 2000);
}

TEST_F(RolloverTest, RolloverInterruptedByACrashResumesWithoutRedoingFinishedChunks) {
  const Day d = DayOf(kT);
  for (int i = 0; i < 40; ++i) InsertSteps(User(10 + i), d - 1, 5000 + i, kT - 60'000 + i);
  Once(kT);
  // Day D+1: a pass of 40 users, 2 per batch in chunks of 1, killed after its first batch. The
  // pass's batches follow each other at once: on mongo-java-server each takes a few ms, so the
  // pass is cut small (20 batches) and the log watched every 2 ms for the kill to land inside it.
  const Env small{{"USERS_PER_CHUNK", "1"},
                  {"RECOMPUTE_USERS_PER_BATCH", "2"},
                  {"BATCH_INTERVAL_SECONDS", "30"}};
  Env env = env_;
  for (auto& [k, v] : small) env[k] = v;
  size_t batches_before = BatchLog().size();
  const pid_t run = Spawn({"run", "--now", FormatInstant(kT + kMillisPerDay)}, env, dir_.path());
  for (int i = 0; i < 7500 && BatchLog().size() < batches_before + 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(run, SIGKILL);
  Wait(run);
  const std::vector<json> log = BatchLog();
  ASSERT_GE(log.size(), batches_before + 1);
  int64_t done_before_crash = 0;
  for (size_t i = batches_before; i < log.size(); ++i)
    done_before_crash += log[i]["recompute_users"].get<int64_t>();
  ASSERT_GE(done_before_crash, 2);
  ASSERT_LT(done_before_crash, 40) << "the kill came too late to interrupt the pass";
  // Restart: the pass resumes where the sidecar says and finishes.
  Once(kT + kMillisPerDay, small);
  const json last = BatchLog().back();
  EXPECT_GT(last["recompute_users"].get<int64_t>(), 0);
  EXPECT_LE(last["recompute_users"].get<int64_t>(), 40 - done_before_crash);
  // And the day after, everything is computed as of D+1 (streaks, windows).
  const std::string hm = dir_.path() + "/hm.jsonl";
  WriteFile(hm, db_->ExportRelaxed("healthmetrics"));
  RunResult expected =
      RunHa({"compute", "--now", FormatInstant(kT + kMillisPerDay)}, {}, dir_.path(), hm);
  ASSERT_EQ(expected.exit_code, 0);
  EXPECT_EQ(static_cast<size_t>(std::count(expected.out.begin(), expected.out.end(), '\n')),
            static_cast<size_t>(db_->Count("analytics")));
}

TEST_F(RolloverTest, AdaptivePollingSpeedsUpUnderAWriterAndSlowsDownAfter) {
  Env env = env_;
  env["ADAPTIVE_POLLING"] = "true";
  env["BATCH_INTERVAL_SECONDS"] = "2";
  env["MIN_BATCH_INTERVAL_SECONDS"] = "0.25";
  const pid_t run = Spawn({"run"}, env, dir_.path());
  // Let the first batches (the day's recompute of an empty database) settle.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // A writer: a new document every 100 ms for 3 s.
  for (int i = 0; i < 30; ++i) {
    const Instant now = NowMillis();
    InsertSteps(User(100 + i % 5), DayOf(now) - 1 - i / 5, 4000 + i, now);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(6));
  kill(run, SIGTERM);
  ASSERT_EQ(Wait(run), 0);
  double lowest = 1e9;
  std::vector<double> intervals;
  for (const json& b : BatchLog())
    if (b.contains("next_interval_seconds")) {
      intervals.push_back(b["next_interval_seconds"].get<double>());
      if (b["records_processed"].get<int64_t>() > 0) lowest = std::min(lowest, intervals.back());
    }
  ASSERT_GE(intervals.size(), 4u);
  EXPECT_EQ(lowest, 0.25) << "the interval did not shrink to the minimum while writes came in";
  EXPECT_EQ(intervals.back(), 2) << "the interval did not grow back once writes stopped";
}

}  // namespace
}  // namespace ha::testing
