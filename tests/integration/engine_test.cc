// The engine against a real test server (mongo-java-server or FerretDB: HA_TEST_SERVER): each test
// asserts an outcome a user cares about.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/object_id.h"
#include "core/time.h"
#include "tests/integration/harness.h"
#include "tests/support/http_receiver.h"

namespace ha::testing {
namespace {

using nlohmann::json;

// 2025-11-20T12:00:00Z: the frozen batch clock of these tests.
const Instant kT = StartOf(DaysFromCivil(2025, 11, 20)) + 12 * 3'600'000LL;

std::string Iso(Instant t) { return FormatInstant(t); }

// Analytics documents keyed by (userId, metricType, timeRange), as canonical Extended JSON with
// the fields that legitimately differ between runs removed: _id, metadata, and, when
// `drop_times`, the write instants (calculatedAt, expiresAt, updatedAt, createdAt, detectedAt).
std::map<std::string, std::string> Normalize(const std::vector<std::string>& canonical_lines,
                                             bool drop_times) {
  std::map<std::string, std::string> out;
  for (const std::string& line : canonical_lines) {
    json j = json::parse(line);
    j.erase("_id");
    j.erase("metadata");
    if (drop_times) {
      for (const char* f : {"calculatedAt", "expiresAt", "updatedAt", "createdAt"}) j.erase(f);
      if (j["analytics"].contains("anomalyDetails"))
        j["analytics"]["anomalyDetails"].erase("detectedAt");
    }
    const std::string key = j["userId"].dump() + "|" + j["metricType"].get<std::string>() + "|" +
                            j["timeRange"].get<std::string>();
    EXPECT_EQ(out.count(key), 0u) << "duplicate analytics key " << key;
    out[key] = j.dump();
  }
  return out;
}

// Relaxed Extended JSON lines (compute's output) -> canonical lines, through libbson.
std::vector<std::string> ToCanonical(const std::string& relaxed_lines) {
  std::vector<std::string> out;
  std::istringstream in(relaxed_lines);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    bson_error_t error;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                     static_cast<ssize_t>(line.size()), &error);
    EXPECT_NE(doc, nullptr) << error.message << " in " << line;
    if (!doc) continue;
    char* c = bson_as_canonical_extended_json(doc, nullptr);
    out.emplace_back(c);
    bson_free(c);
    bson_destroy(doc);
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Db>(server_.uri(), UniqueDbName("t"));
    env_ = EngineEnv(server_.uri(), db_->name(), dir_.path());
  }

  RunResult Ha(std::vector<std::string> args, Env extra = {}) {
    Env env = env_;
    for (auto& [k, v] : extra) env[k] = v;
    return RunHa(args, env, dir_.path());
  }

  RunResult Once(Instant now, Env extra = {}) {
    RunResult r = Ha({"once", "--now", Iso(now)}, extra);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r;
  }

  // Seeds N users x D days ending at kT through `seed --out` and inserts them.
  void Seed(int users, int days, int seed = 7) {
    const std::string out = dir_.path() + "/seed";
    RunResult r = Ha({"seed", "--users", std::to_string(users), "--days", std::to_string(days),
                      "--seed", std::to_string(seed), "--now", Iso(kT), "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    db_->InsertJsonLines("healthmetrics", ReadFile(out + "/healthmetrics.jsonl"));
    db_->InsertJsonLines("users", ReadFile(out + "/users.jsonl"));
  }

  // `compute` over an export of the current collections, in mongoexport's format.
  std::map<std::string, std::string> Expected(Instant now, bool drop_times) {
    const std::string hm = dir_.path() + "/export-healthmetrics.jsonl";
    const std::string us = dir_.path() + "/export-users.jsonl";
    WriteFile(hm, db_->ExportRelaxed("healthmetrics"));
    WriteFile(us, db_->ExportRelaxed("users"));
    RunResult r = RunHa({"compute", "--now", Iso(now), "--users", us}, {}, dir_.path(), hm);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Normalize(ToCanonical(r.out), drop_times);
  }

  std::map<std::string, std::string> Actual(bool drop_times) {
    return Normalize(db_->ExportCanonical("analytics"), drop_times);
  }

  // Inserts one day of steps for `user`.
  void InsertSteps(const ObjectId& user, Day day, int steps, Instant updated_at) {
    std::string line =
        json{{"userId", {{"$oid", user.ToHex()}}},
             {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(day))}}}}},
             {"metrics", {{"steps", steps}}},
             {"source", "manual"},
             {"updatedAt", {{"$date", {{"$numberLong", std::to_string(updated_at)}}}}}}
            .dump();
    db_->InsertJsonLines("healthmetrics", line + "\n");
  }

  int64_t AnalyticsOf(const ObjectId& user) {
    bson_t filter = BSON_INITIALIZER;
    bson_oid_t oid;
    std::copy(user.bytes.begin(), user.bytes.end(), oid.bytes);
    bson_append_oid(&filter, "userId", -1, &oid);
    const int64_t n = db_->Count("analytics", &filter);
    bson_destroy(&filter);
    return n;
  }

  static ObjectId User(int i) {
    ObjectId id;
    id.bytes[0] = 0x65;
    id.bytes[11] = static_cast<uint8_t>(i);
    return id;
  }

  Server server_;
  TempDir dir_;
  std::unique_ptr<Db> db_;
  Env env_;
};

TEST_F(EngineTest, OnceLeavesExactlyWhatComputeProducesFromAnExport) {
  Seed(120, 100);
  RunResult r = Once(kT);
  EXPECT_NE(r.out.find("batch 0"), std::string::npos) << r.out;
  const auto expected = Expected(kT, /*drop_times=*/false);
  const auto actual = Actual(/*drop_times=*/false);
  ASSERT_GT(expected.size(), 1000u);
  EXPECT_EQ(actual.size(), expected.size());
  size_t mismatches = 0;
  for (const auto& [key, doc] : expected) {
    auto it = actual.find(key);
    if (it == actual.end() || it->second != doc) {
      if (++mismatches <= 3)
        ADD_FAILURE() << "mismatch for " << key << "\nexpected " << doc << "\nactual   "
                      << (it == actual.end() ? "(missing)" : it->second);
    }
  }
  EXPECT_EQ(mismatches, 0u);
  // A second run over unchanged data writes nothing.
  RunResult again = Once(kT + 1000);
  EXPECT_NE(again.out.find(" 0 written"), std::string::npos) << again.out;
}

TEST_F(EngineTest, TheBatchLogSaysWhereTheBatchTimeWent) {
  Seed(30, 40);
  Once(kT);
  Once(kT + 1000);  // nothing new: only the poll and the commit
  const auto lines = BatchLogLines(dir_.path() + "/logs");
  ASSERT_EQ(lines.size(), 2u);
  const json& busy = lines[0];
  ASSERT_GT(busy["analytics_written"].get<int64_t>(), 0) << busy;
  double sum = 0;
  for (const char* phase : {"poll", "read", "compute", "write", "commit"}) {
    ASSERT_TRUE(busy["phase_ms"].contains(phase)) << busy;
    EXPECT_GT(busy["phase_ms"][phase].get<double>(), 0) << phase << " in " << busy;
    sum += busy["phase_ms"][phase].get<double>();
  }
  // The phases are parts of the batch (whole milliseconds there; 1 ms of rounding).
  EXPECT_LE(sum, busy["processing_time_ms"].get<double>() + 1) << busy;
  const json& quiet = lines[1];
  EXPECT_EQ(quiet["users_recomputed"], 0) << quiet;
  EXPECT_GT(quiet["phase_ms"]["poll"].get<double>(), 0) << quiet;
  EXPECT_GT(quiet["phase_ms"]["commit"].get<double>(), 0) << quiet;
  for (const char* phase : {"read", "compute", "write"})
    EXPECT_EQ(quiet["phase_ms"][phase].get<double>(), 0) << phase << " in " << quiet;
  // The quiet batch sent one command, the poll; the busy one also read the users' goals,
  // history and analytics keys and wrote (at least five), and read more.
  EXPECT_EQ(quiet["io"]["commands"], 1) << quiet;
  EXPECT_GT(quiet["io"]["bytes_read"].get<int64_t>(), 0) << quiet;
  EXPECT_GE(busy["io"]["commands"].get<int64_t>(), 5) << busy;
  EXPECT_GT(busy["io"]["bytes_read"].get<int64_t>(), quiet["io"]["bytes_read"].get<int64_t>())
      << busy;
}

TEST_F(EngineTest, TiesOnOneUpdatedAtSplitAcrossTheBatchCutAllArrive) {
  Once(kT);  // the day's recompute, on an empty database
  const Instant tie = kT - 60'000;
  for (int i = 0; i < 10; ++i) InsertSteps(User(i), DayOf(kT), 5000 + i, tie);
  const Env small{{"MAX_BATCH_DOCS", "3"}};
  Once(kT + 1000, small);
  Once(kT + 2000, small);
  int with = 0;
  for (int i = 0; i < 10; ++i) with += AnalyticsOf(User(i)) > 0;
  EXPECT_EQ(with, 6);  // two batches of three, no more, no fewer
  Once(kT + 3000, small);
  Once(kT + 4000, small);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(AnalyticsOf(User(i)), 3) << "user " << i;
}

TEST_F(EngineTest, LateDocumentWithinTheGraceArrivesAndOneBeyondItWaitsForTheRecompute) {
  Once(kT);
  InsertSteps(User(1), DayOf(kT), 4000, kT - 60'000);
  Once(kT + 1000);
  ASSERT_EQ(AnalyticsOf(User(1)), 3);
  // Written after that batch, but stamped 5 s before the watermark (grace is 10 s)...
  InsertSteps(User(2), DayOf(kT), 4100, kT - 65'000);
  // ...and one stamped 35 s before it: later than any promise.
  InsertSteps(User(3), DayOf(kT), 4200, kT - 95'000);
  Once(kT + 2000);
  EXPECT_EQ(AnalyticsOf(User(2)), 3);
  EXPECT_EQ(AnalyticsOf(User(3)), 0);
  // The next day's recompute repairs it.
  Once(kT + kMillisPerDay);
  EXPECT_EQ(AnalyticsOf(User(3)), 3);
}

// The versions of the grace window a batch processed are kept in the sidecar: a `once` with
// nothing new after a restart recomputes nobody, and a really late version is still caught.
TEST_F(EngineTest, QuietOnceAfterARestartRecomputesNobodyYetCatchesALateVersion) {
  Once(kT);
  for (int i = 0; i < 5; ++i) InsertSteps(User(i), DayOf(kT), 5000 + i, kT - 2000);
  RunResult first = Once(kT + 1000);
  EXPECT_NE(first.out.find("5 docs read, 5 users recomputed"), std::string::npos) << first.out;
  RunResult quiet = Once(kT + 2000);
  EXPECT_NE(quiet.out.find("0 docs read, 0 users recomputed"), std::string::npos) << quiet.out;
  // Stamped behind the cursor but inside the grace: read again and recomputed.
  InsertSteps(User(7), DayOf(kT), 4000, kT - 2500);
  RunResult late = Once(kT + 3000);
  EXPECT_NE(late.out.find("1 docs read, 1 users recomputed"), std::string::npos) << late.out;
  EXPECT_EQ(AnalyticsOf(User(7)), 3);
}

// The poll and the grace re-read are one query: the window's versions, however many, do not
// count against MAX_BATCH_DOCS, and a late one among them is still new.
TEST_F(EngineTest, AGraceWindowLargerThanTheBatchLimitLeavesTheBatchItsLimit) {
  Once(kT);
  for (int i = 0; i < 6; ++i) InsertSteps(User(i), DayOf(kT), 5000 + i, kT - 5000 + i * 100);
  const Env small{{"MAX_BATCH_DOCS", "2"}};
  RunResult b1 = Once(kT + 1000, small);
  EXPECT_NE(b1.out.find("2 docs read, 2 users recomputed"), std::string::npos) << b1.out;
  RunResult b2 = Once(kT + 2000, small);
  EXPECT_NE(b2.out.find("2 docs read, 2 users recomputed"), std::string::npos) << b2.out;
  // Behind the cursor (which is at kT - 4700) and inside the grace: late, and new.
  InsertSteps(User(9), DayOf(kT), 4000, kT - 4950);
  // The window now holds five versions (four processed, one late), more than the limit.
  RunResult b3 = Once(kT + 3000, small);
  EXPECT_NE(b3.out.find("3 docs read, 3 users recomputed"), std::string::npos) << b3.out;
  for (int i : {0, 1, 2, 3, 4, 5, 9}) EXPECT_EQ(AnalyticsOf(User(i)), 3) << "user " << i;
  RunResult quiet = Once(kT + 4000, small);
  EXPECT_NE(quiet.out.find("0 docs read, 0 users recomputed"), std::string::npos) << quiet.out;
}

// A backlog: its full batches leave the users they affect to one pass after the backlog, so
// each user is computed once, not once per batch, and the end state is exactly compute's.
TEST_F(EngineTest, ABacklogComputesEachUserOnceAfterItsLastBatchAndEndsExact) {
  Seed(40, 60);  // seeded days interleave the users in (updatedAt, _id) order
  const Env small{{"MAX_BATCH_DOCS", "400"}, {"USERS_PER_CHUNK", "10"}};
  int runs = 0, deferring = 0;
  int64_t recomputed = 0;
  for (bool more = true; more && runs < 40; ++runs) {
    RunResult r = Once(kT, small);
    more = r.out.find("(more pending)") != std::string::npos;
    const size_t at = r.out.find(" users recomputed");
    ASSERT_NE(at, std::string::npos) << r.out;
    recomputed += std::stoll(r.out.substr(r.out.rfind(' ', at - 1) + 1));
    if (r.out.find("left to the recompute after the backlog") != std::string::npos) {
      ++deferring;
      EXPECT_NE(r.out.find(" 0 written"), std::string::npos) << r.out;
    }
  }
  EXPECT_GE(deferring, 2);
  EXPECT_EQ(runs, deferring + 1);  // then the pass, with the last (partial) batch
  EXPECT_GT(recomputed, 0);
  EXPECT_LE(recomputed, 40);  // once per batch would be about 40 per batch
  EXPECT_EQ(Actual(/*drop_times=*/true), Expected(kT, /*drop_times=*/true));
}

TEST_F(EngineTest, OperatorEditOfTheWatermarkFileIsHonoured) {
  Once(kT);
  InsertSteps(User(1), DayOf(kT) - 1, 8000, kT - 3'600'000);
  InsertSteps(User(2), DayOf(kT) - 1, 8000, kT - 60'000);  // the cursor ends here
  Once(kT + 1000);
  ASSERT_EQ(AnalyticsOf(User(1)), 3);
  bson_t user1 = BSON_INITIALIZER;
  bson_oid_t oid;
  const ObjectId u1 = User(1);
  std::copy(u1.bytes.begin(), u1.bytes.end(), oid.bytes);
  bson_append_oid(&user1, "userId", -1, &oid);
  EXPECT_EQ(db_->DeleteMany("analytics", &user1), 3);
  bson_destroy(&user1);
  RunResult quiet = Once(kT + 2000);
  // Nothing new, and user 1's version lies before the grace window: nothing reprocessed.
  EXPECT_EQ(AnalyticsOf(User(1)), 0) << quiet.out;
  // The seed's manual reset: a zone-less timestamp before the document.
  WriteFile(dir_.path() + "/checkpoint/last_processed_timestamp.txt",
            Iso(kT - 7'200'000).substr(0, 19) + "\n");
  Once(kT + 3000);
  EXPECT_EQ(AnalyticsOf(User(1)), 3);
  RunResult show = Ha({"checkpoint", "show"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
}

TEST_F(EngineTest, UnparsableWatermarkStopsWithExit2AndAFix) {
  Once(kT);
  WriteFile(dir_.path() + "/checkpoint/last_processed_timestamp.txt", "yesterday\n");
  RunResult r = Ha({"once", "--now", Iso(kT + 1000)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE((r.out + r.err).find("last_processed_timestamp.txt"), std::string::npos)
      << r.out << r.err;
}

TEST_F(EngineTest, SecondInstanceIsRefusedWithExit4) {
  const pid_t run = Spawn({"run"}, env_, dir_.path());
  // Wait for the first batch (the lock is taken before it).
  for (int i = 0; i < 100 && !std::filesystem::exists(dir_.path() + "/checkpoint/" +
                                                      "last_processed_timestamp.txt");
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  RunResult second = Ha({"once"});
  EXPECT_EQ(second.exit_code, 4) << second.out << second.err;
  EXPECT_NE((second.out + second.err).find("another"), std::string::npos);
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
}

TEST_F(EngineTest, UnreachableServerGivesExit3ForOnceAndRetriesForRun) {
  const Env down{{"MONGO_URI", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"}};
  RunResult r = Ha({"once"}, down);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  Env env = env_;
  env["MONGO_URI"] = down.at("MONGO_URI");
  const pid_t run = Spawn({"run"}, env, dir_.path());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  int status = 0;
  EXPECT_EQ(waitpid(run, &status, WNOHANG), 0) << "run exited during an outage";
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
}

TEST_F(EngineTest, ServerOutageDuringRunIsRetriedAndConverges) {
  Seed(20, 30);
  const pid_t run = Spawn({"run", "--now", Iso(kT)}, env_, dir_.path());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  server_.Stop();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  server_.Start();
  InsertSteps(User(9), DayOf(kT), 9000, kT - 1000);
  bool arrived = false;
  for (int i = 0; i < 150 && !arrived; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    arrived = AnalyticsOf(User(9)) == 3;
  }
  EXPECT_TRUE(arrived);
  int status = 0;
  EXPECT_EQ(waitpid(run, &status, WNOHANG), 0);
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
  EXPECT_EQ(Actual(true), Expected(kT, true));
}

// FerretDB v1.24 hangs on one update command of about 100 statements (docs/TEST-SERVERS.md): a
// batch that rewrites hundreds of documents of one chunk must still finish.
TEST_F(EngineTest, AChunkThatUpdatesHundredsOfDocumentsFinishes) {
  Seed(40, 30);
  Once(kT);
  // Every document changes its steps and calories: 40 users x 2 metrics x 3 ranges updates.
  std::string changed;
  for (const std::string& line : db_->ExportCanonical("healthmetrics")) {
    json j = json::parse(line);
    j.erase("_id");
    j["metrics"]["steps"] = {{"$numberInt", "4321"}};
    j["metrics"]["calories"] = {{"$numberInt", "1234"}};
    j["updatedAt"] = {{"$date", {{"$numberLong", std::to_string(kT + 500)}}}};
    changed += j.dump() + "\n";
  }
  bson_t all = BSON_INITIALIZER;
  db_->DeleteMany("healthmetrics", &all);
  db_->InsertJsonLines("healthmetrics", changed);
  const pid_t once = Spawn({"once", "--now", Iso(kT + 1000)}, env_, dir_.path());
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 1200 && (done = waitpid(once, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (done == 0) {
    kill(once, SIGKILL);
    Wait(once);
    FAIL() << "once did not finish in 120 s";
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(Actual(true), Expected(kT + 1000, true));
}

TEST_F(EngineTest, CrashBetweenWritesAndCheckpointConvergesOnRestart) {
  Once(kT);
  Seed(40, 40);
  const std::string ckpt = dir_.path() + "/checkpoint";
  const std::string saved = dir_.path() + "/saved";
  std::filesystem::copy(ckpt, saved, std::filesystem::copy_options::recursive);
  Once(kT + 1000);
  // The crash: outputs written, checkpoint not advanced.
  std::filesystem::remove_all(ckpt);
  std::filesystem::copy(saved, ckpt, std::filesystem::copy_options::recursive);
  Once(kT + 2000);
  EXPECT_EQ(Actual(true), Expected(kT + 2000, true));
}

TEST_F(EngineTest, KilledAtRandomMomentsTheEngineConverges) {
  Seed(60, 60);
  std::mt19937 rng(42);
  for (int i = 0; i < 6; ++i) {
    const pid_t run = Spawn({"run", "--now", Iso(kT)}, env_, dir_.path());
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1500));
    kill(run, SIGKILL);
    Wait(run);
    // Some writes between the kills.
    InsertSteps(User(100 + i), DayOf(kT), 7000 + i, kT - 5000 + i);
  }
  Once(kT);
  EXPECT_EQ(Actual(true), Expected(kT, true));
}

TEST_F(EngineTest, SigtermDuringRunExitsZeroWithAConsistentCheckpoint) {
  Seed(30, 30);
  const pid_t run = Spawn({"run", "--now", Iso(kT)}, env_, dir_.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
  const std::string wm = ReadFile(dir_.path() + "/checkpoint/last_processed_timestamp.txt");
  EXPECT_TRUE(ParseInstant(wm).ok()) << wm;
  RunResult show = Ha({"checkpoint", "show"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("free"), std::string::npos) << show.out;  // lock released
  Once(kT);
  EXPECT_EQ(Actual(true), Expected(kT, true));
}

TEST_F(EngineTest, DeletedDayStopsCountingAfterRecomputeUser) {
  Once(kT);
  const Day today = DayOf(kT);
  InsertSteps(User(5), today - 2, 1000, kT - 10'000);
  InsertSteps(User(5), today - 1, 3000, kT - 9'000);
  Once(kT + 1000);
  ASSERT_EQ(AnalyticsOf(User(5)), 3);
  bson_t filter = BSON_INITIALIZER;
  bson_append_date_time(&filter, "date", -1, StartOf(today - 1));
  ASSERT_EQ(db_->DeleteMany("healthmetrics", &filter), 1);
  bson_destroy(&filter);
  RunResult r = Ha({"recompute", "--user", User(5).ToHex(), "--now", Iso(kT + 2000)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Actual(true), Expected(kT + 2000, true));
  // All of the user's data gone: their documents go too.
  bson_t all = BSON_INITIALIZER;
  db_->DeleteMany("healthmetrics", &all);
  r = Ha({"recompute", "--user", User(5).ToHex(), "--now", Iso(kT + 3000)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(AnalyticsOf(User(5)), 0);
}

TEST_F(EngineTest, StreakIsCurrentOnDayDAndGoneOnDayDPlus2WithNoNewData) {
  const Day d = DayOf(kT);
  for (int k = 2; k >= 0; --k) InsertSteps(User(7), d - k, 12000, kT - 3'600'000 - k);
  auto streak = [&] {
    for (const std::string& line : db_->ExportCanonical("analytics")) {
      json j = json::parse(line);
      if (j["metricType"] == "steps" && j["timeRange"] == "7day")
        return std::stoi(j["analytics"]["streakDays"]["$numberInt"].get<std::string>());
    }
    return -1;
  };
  Once(kT);
  EXPECT_EQ(streak(), 3);
  Once(kT + kMillisPerDay);  // day D is over and met the goal: still 3
  EXPECT_EQ(streak(), 3);
  Once(kT + 2 * kMillisPerDay);  // D+1 was missed: the streak is gone
  EXPECT_EQ(streak(), 0);
}

TEST_F(EngineTest, SeedIntoTheDatabaseThenOnceMatchesCompute) {
  RunResult seeded = Ha({"seed", "--users", "30", "--days", "40", "--seed", "3", "--now", Iso(kT)});
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  EXPECT_GT(db_->Count("healthmetrics"), 500);
  EXPECT_EQ(db_->Count("users"), 30);
  Once(kT);
  EXPECT_EQ(Actual(false), Expected(kT, false));
}

TEST_F(EngineTest, OnceSendsBackendEventsForChangedUsersAndNeverTheToken) {
  HttpReceiver backend;
  InsertSteps(User(21), DayOf(kT) - 1, 6000, kT - 20'000);
  InsertSteps(User(22), DayOf(kT) - 1, 7000, kT - 10'000);
  const Env events{{"BACKEND_API_URL", backend.url()}, {"SERVICE_TOKEN", "tok-secret-123"}};
  RunResult r = Ha({"once", "--now", Iso(kT)}, events);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(backend.WaitFor(2, std::chrono::seconds(10)));
  std::set<std::string> users;
  for (const HttpRequest& req : backend.requests()) {
    EXPECT_EQ(req.target, "/api/events/emit");
    EXPECT_EQ(req.headers.at("authorization"), "Bearer tok-secret-123");
    json body = json::parse(req.body);
    EXPECT_EQ(body["eventType"], "analytics:batch_update");
    users.insert(body["userId"].get<std::string>());
    EXPECT_EQ(body["data"]["count"], 3);  // steps: 7day, 30day, 90day, all inserted
    for (const json& item : body["data"]["analytics"]) EXPECT_EQ(item["operationType"], "insert");
  }
  EXPECT_EQ(users, (std::set<std::string>{User(21).ToHex(), User(22).ToHex()}));
  EXPECT_EQ((r.out + r.err).find("tok-secret-123"), std::string::npos);
  // Nothing changed: no event.
  const size_t before = backend.count();
  ASSERT_EQ(Ha({"once", "--now", Iso(kT + 1000)}, events).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(backend.count(), before);
}

TEST_F(EngineTest, BadEnvironmentVariableExitsWith2NamingIt) {
  RunResult r = Ha({"once"}, {{"MAX_BATCH_DOCS", "lots"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("MAX_BATCH_DOCS"), std::string::npos) << r.err;
  Env no_uri = env_;
  no_uri.erase("MONGO_URI");
  RunResult r2 = RunHa({"once"}, no_uri, dir_.path());
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.err.find("MONGO_URI"), std::string::npos) << r2.err;
  for (const char* cmd : {"once", "run", "recompute", "indexes", "checkpoint"}) {
    RunResult r3 = Ha({cmd, "--no-such-flag"});
    EXPECT_EQ(r3.exit_code, 2) << cmd << r3.err;
  }
  RunResult r4 = Ha({"once", "--now", "yesterday"});
  EXPECT_EQ(r4.exit_code, 2);
  EXPECT_NE(r4.err.find("--now"), std::string::npos) << r4.err;
}

TEST_F(EngineTest, PasswordInMongoUriNeverReachesTheOutput) {
  const Env secret{
      {"MONGO_URI", "mongodb://alice:s3cr3t-pw@127.0.0.1:1/?serverSelectionTimeoutMS=200"},
      {"SERVICE_TOKEN", "tok-very-secret"}};
  RunResult r = Ha({"once"}, secret);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ((r.out + r.err).find("s3cr3t-pw"), std::string::npos) << r.out << r.err;
  EXPECT_EQ((r.out + r.err).find("tok-very-secret"), std::string::npos);
}

TEST_F(EngineTest, DoctorFailsWithoutIndexesAndPassesAfterTheIndexesCommand) {
  RunResult before = Ha({"doctor"});
  EXPECT_EQ(before.exit_code, 1) << before.out;
  EXPECT_NE(before.out.find("run `health-analytics indexes`"), std::string::npos) << before.out;
  ASSERT_EQ(Ha({"indexes"}).exit_code, 0);
  RunResult after = Ha({"doctor"});
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_NE(after.out.find("server version"), std::string::npos) << after.out;
  const Env down{{"MONGO_URI", "mongodb://u:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=200"}};
  RunResult unreachable = Ha({"doctor"}, down);
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_EQ((unreachable.out + unreachable.err).find("hunter2"), std::string::npos);
}

TEST_F(EngineTest, IndexesCommandCreatesTheRecommendedIndexesAndReportsTtlAsAWarning) {
  RunResult r = Ha({"indexes"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  RunResult again = Ha({"indexes"});
  EXPECT_EQ(again.exit_code, 0);
  if (TestServer() == ServerKind::kFerretDb) {
    // FerretDB rejects TTL indexes: a warning, never fatal.
    EXPECT_NE((r.out + r.err).find("analytics_ttl"), std::string::npos) << r.out << r.err;
  } else {
    // mongo-java-server accepts it (and never expires anything: docs/TEST-SERVERS.md).
    const std::vector<std::string> names = db_->IndexNames("analytics");
    EXPECT_NE(std::find(names.begin(), names.end(), "analytics_ttl"), names.end());
  }
}

}  // namespace
}  // namespace ha::testing
