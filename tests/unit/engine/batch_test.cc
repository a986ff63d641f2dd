// The batch's guarantees, on the in-memory store (docs/ARCHITECTURE.md, "Where each guarantee is
// enforced"). Expected values are worked out by hand from the engine's contract; the comments
// say how. The integration tests check the same behaviours against real servers.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "engine_fixture.h"

namespace ha::engine_test {
namespace {

const Instant kNow = At("2025-11-20T12:00:00Z");  // first batch; later batches add minutes
const Instant kT = At("2025-11-20T11:00:00Z");    // when the test's documents were written
const Day kDay = DayOf(kNow);
constexpr Instant kMinute = 60'000;

double MaxSteps7Day(const MemoryStore& store, const ObjectId& user) {
  auto doc = store.FindAnalytics(user, Metric::kSteps, TimeRange::k7Day);
  if (!doc) return -1;
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc->get()) ||
      !bson_iter_find_descendant(&it, "analytics.statistics.maxValue", &found))
    return -2;
  return bson_iter_as_double(&found);
}

void WriteWatermark(const CheckpointStore& checkpoint, const std::string& text) {
  std::ofstream out(checkpoint.watermark_path(), std::ios::trunc);
  out << text;
}

class BatchTest : public EngineFixture {};

TEST_F(BatchTest, TiesCutByMaxBatchDocsResumeAtTheExactId) {
  options_.max_batch_docs = 3;
  Restart();
  Batch(kNow);  // the first batch: nothing yet; the day's recompute is done (no users)
  // Five versions share one updatedAt; the cut after three falls inside the group.
  for (int i = 1; i <= 5; ++i) Put(Steps(Doc(i), User(i), kDay, 1000.0 * i, kT));

  BatchReport first = Batch(kNow + kMinute);
  EXPECT_EQ(first.records_processed, 3);
  EXPECT_EQ(first.counts.users, 3);
  EXPECT_TRUE(first.more_pending);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(3)}));

  // The next batch reads after (T, d3): d4 and d5. d1..d3 are in its grace window (watermark T
  // minus 10 s, up to the cursor) but were processed already.
  BatchReport second = Batch(kNow + 2 * kMinute);
  EXPECT_EQ(second.records_processed, 2);
  EXPECT_EQ(second.counts.users, 2);
  EXPECT_FALSE(second.more_pending);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(5)}));
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(Recomputed(User(i)), 1) << i;
    EXPECT_EQ(MaxSteps7Day(store_, User(i)), 1000.0 * i) << i;
  }
  // One metric with data: three documents (7day, 30day, 90day) per user.
  EXPECT_EQ(store_.AnalyticsDocuments().size(), 15u);

  BatchReport quiet = Batch(kNow + 3 * kMinute);
  EXPECT_EQ(quiet.records_processed, 0);
  EXPECT_EQ(quiet.counts.users, 0);
}

TEST_F(BatchTest, AFirstRunCutInsideATieResumesAtTheExactId) {
  options_.max_batch_docs = 3;
  Restart();
  for (int i = 1; i <= 5; ++i) Put(Steps(Doc(i), User(i), kDay, 1000.0 * i, kT));
  // The first run reads from the lookback (no watermark, so no window): d1..d3. The batch is
  // full and the first day's pass is due, so it computes nobody and schedules the pass.
  BatchReport first = Batch(kNow);
  EXPECT_EQ(first.records_processed, 3);
  EXPECT_EQ(first.counts.users, 0);
  EXPECT_TRUE(first.more_pending);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(3)}));
  // The rest (d4, d5) is not a full batch: the pass computes all five users, each once.
  BatchReport second = Batch(kNow + kMinute);
  EXPECT_EQ(second.records_processed, 2);
  EXPECT_EQ(second.counts.users, 5);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(Recomputed(User(i)), 1) << i;
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(5)}));
}

TEST_F(BatchTest, ALateVersionBelowTheCursorIsPickedUpOnceNotTwice) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 5000, kT));
  Batch(kNow + kMinute);  // cursor (T, d1), watermark T
  ASSERT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(1)}));

  // A slow writer's version becomes visible after the cursor passed its updatedAt, 5 s behind
  // it: inside the grace window (T - 10 s, cursor].
  Put(Steps(Doc(2), User(2), kDay, 7000, kT - 5'000));
  BatchReport late = Batch(kNow + 2 * kMinute);
  EXPECT_EQ(late.records_processed, 1);
  EXPECT_EQ(Recomputed(User(2)), 1);
  EXPECT_EQ(MaxSteps7Day(store_, User(2)), 7000);

  // Still in the next window, but processed: not again.
  EXPECT_EQ(Batch(kNow + 3 * kMinute).records_processed, 0);
  EXPECT_EQ(Recomputed(User(2)), 1);

  // Nor after a restart: the sidecar kept the window's versions.
  Restart();
  EXPECT_EQ(Batch(kNow + 4 * kMinute).records_processed, 0);
  EXPECT_EQ(Recomputed(User(2)), 1);
  EXPECT_EQ(Recomputed(User(1)), 1);

  // A version later than the grace allows (11 s behind) is the documented limit: the batches
  // do not see it (the next daily recompute will).
  Put(Steps(Doc(3), User(3), kDay, 9000, kT - 11'000));
  EXPECT_EQ(Batch(kNow + 5 * kMinute).records_processed, 0);
  EXPECT_EQ(Recomputed(User(3)), 0);
}

TEST_F(BatchTest, ABacklogDefersItsUsersToOnePassAfterItsLastFullBatch) {
  options_.max_batch_docs = 4;
  options_.users_per_chunk = 2;
  Restart();
  Batch(kNow);  // day D recomputed
  // Day D+1: ten users, one version each, at distinct instants.
  const Day next_day = kDay + 1;
  for (int i = 0; i < 10; ++i)
    Put(Steps(Doc(i), User(i), next_day, 100.0 * (i + 1), StartOf(next_day) + 3'600'000 + i));
  const Instant now = StartOf(next_day) + 12 * 3'600'000LL;

  // Full batches (4 versions, 4 users >= USERS_PER_CHUNK) while the day's pass is due: nobody
  // is computed, the pass is scheduled.
  for (int b = 0; b < 2; ++b) {
    BatchReport full = Batch(now + b * kMinute);
    EXPECT_EQ(full.records_processed, 4) << b;
    EXPECT_EQ(full.deferred_users, 4) << b;
    EXPECT_EQ(full.counts.users, 0) << b;
    EXPECT_TRUE(full.more_pending) << b;
  }
  EXPECT_TRUE(store_.history_reads().empty());

  // The first batch that is not full runs the pass: every user once, after all change reads.
  BatchReport last = Batch(now + 2 * kMinute);
  EXPECT_EQ(last.records_processed, 2);
  EXPECT_EQ(last.deferred_users, 0);
  EXPECT_EQ(last.counts.users, 10);
  EXPECT_EQ(last.recompute_users, 10);
  EXPECT_FALSE(last.more_pending);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Recomputed(User(i)), 1) << i;
    EXPECT_EQ(MaxSteps7Day(store_, User(i)), 100.0 * (i + 1)) << i;
  }
  EXPECT_EQ(Checkpoint().last_recompute_day, std::optional<Day>(next_day));
  // The user list was read three times: by day D's pass (beside the first poll), beside the
  // first full batch of day D+1 (which then deferred the pass, so that list was not used), and
  // by the pass when it ran. The second full batch found the pass scheduled and did not list.
  EXPECT_EQ(store_.calls(MemoryStore::Op::kListUsers), 3);
}

// Holds each change read until the pass's user list has begun (at most 5 s when `wait`), and
// remembers whether it had begun by then.
class ListBesidePollStore final : public DelegatingStore {
 public:
  ListBesidePollStore(MemoryStore& inner, bool wait) : DelegatingStore(inner), wait_(wait) {}
  Status ReadChanges(const Cursor& a, int l, const AnalyticsOptions& o,
                     const std::function<void(ChangedVersion&&)>& e) override {
    Hold();
    return inner_.ReadChanges(a, l, o, e);
  }
  Status ReadWindowAndChanges(Instant f, const Cursor& a, int l, const AnalyticsOptions& o,
                              const std::function<void(ChangedVersion&&)>& w,
                              const std::function<void(ChangedVersion&&)>& c) override {
    Hold();
    return inner_.ReadWindowAndChanges(f, a, l, o, w, c);
  }
  Status ListUsers(Day f, Day t, std::vector<ObjectId>* out) override {
    {
      std::lock_guard lock(mu_);
      list_began_ = true;
      cv_.notify_all();
    }
    return inner_.ListUsers(f, t, out);
  }
  bool ListBeganDuringThePoll() {
    std::lock_guard lock(mu_);
    return during_poll_;
  }

 private:
  void Hold() {
    std::unique_lock lock(mu_);
    if (wait_) cv_.wait_for(lock, std::chrono::seconds(5), [&] { return list_began_; });
    during_poll_ = list_began_;
  }
  const bool wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool list_began_ = false, during_poll_ = false;
};

TEST_F(BatchTest, APassThatBeginsListsItsUsersBesideThePollWhenQueriesMayOverlap) {
  // User 1 changed in the lookback; user 2's only document is older than the lookback but in
  // the horizon, so only the pass's list finds user 2.
  options_.initial_lookback_days = 1;
  Put(Steps(Doc(1), User(1), kDay, 1000, kT));
  Put(Steps(Doc(2), User(2), kDay - 10, 2000, kT - 10 * kMillisPerDay));
  {
    options_.io_concurrency = 2;
    ListBesidePollStore store(store_, /*wait=*/true);
    Engine engine(store, checkpoint_, *dead_letters_, options_);
    auto r = engine.RunBatch(kNow, /*finish_recompute=*/false);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(store.ListBeganDuringThePoll());
    EXPECT_EQ(r->records_processed, 1);
    EXPECT_EQ(r->recompute_users, 2);
    EXPECT_EQ(Recomputed(User(1)), 1);
    EXPECT_EQ(Recomputed(User(2)), 1);
  }
  {
    // The next day's pass with one query at a time: the list follows the poll.
    options_.io_concurrency = 1;
    ListBesidePollStore store(store_, /*wait=*/false);
    Engine engine(store, checkpoint_, *dead_letters_, options_);
    auto r = engine.RunBatch(kNow + kMillisPerDay, /*finish_recompute=*/false);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(store.ListBeganDuringThePoll());
    EXPECT_EQ(r->recompute_users, 2);
    EXPECT_EQ(Recomputed(User(2)), 2);
  }
  EXPECT_EQ(store_.calls(MemoryStore::Op::kListUsers), 2);
}

TEST_F(BatchTest, ARefusedUserIsRetriedThenDeadLetteredAndTheOthersProgress) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 1000, kT));
  Put(Steps(Doc(2), User(2), kDay, 2000, kT + 1));
  store_.RefuseWritesOf(User(1), Status(StatusCode::kInternal, "E11000 duplicate key"));

  BatchReport r = Batch(kNow + kMinute);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.counts.dead_letters, 1);
  // The slice's bulk write, then each user alone: user 1 three times (WRITE_ATTEMPTS), user 2
  // once.
  EXPECT_EQ(store_.calls(MemoryStore::Op::kWriteAnalytics), 1 + 3 + 1);
  EXPECT_EQ(MaxSteps7Day(store_, User(1)), -1);
  EXPECT_EQ(MaxSteps7Day(store_, User(2)), 2000);
  // User 2's documents went in with the refused bulk write: still announced and counted as
  // what this batch inserted (its own retry found nothing left to write).
  EXPECT_EQ(listener_.changed, std::vector<ObjectId>{User(2)});
  EXPECT_EQ(r.counts.inserted, 3);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT + 1, Doc(2)}));  // the batch moved past both

  const auto lines = DeadLetterLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"user_id\":\"" + User(1).ToHex() + "\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"field\":\"user\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"reason\":\"write-failed\""), std::string::npos);
  EXPECT_NE(lines[0].find("E11000"), std::string::npos);
}

TEST_F(BatchTest, ARefusalThatPassesIsRetriedWithoutADeadLetter) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 1000, kT));
  Put(Steps(Doc(2), User(2), kDay, 2000, kT + 1));
  // The bulk write and user 1's first attempt are refused; its second attempt passes.
  store_.FailNext(MemoryStore::Op::kWriteAnalytics, Internal("write conflict"), 2);

  BatchReport r = Batch(kNow + kMinute);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.counts.dead_letters, 0);
  EXPECT_EQ(MaxSteps7Day(store_, User(1)), 1000);
  EXPECT_EQ(MaxSteps7Day(store_, User(2)), 2000);
  EXPECT_EQ(listener_.changed, (std::vector<ObjectId>{User(1), User(2)}));
  EXPECT_EQ(r.counts.inserted, 6);
  EXPECT_TRUE(DeadLetterLines().empty());
}

TEST_F(BatchTest, AFailedWriteLeavesTheCheckpointUntouchedAndTheBatchIsReplayed) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 1000, kT));
  const std::string watermark = Slurp(checkpoint_.watermark_path());
  const std::string sidecar = Slurp(checkpoint_.sidecar_path());
  const int64_t batch_id = Checkpoint().next_batch_id;
  store_.FailNext(MemoryStore::Op::kWriteAnalytics, Unavailable("no server"));

  BatchReport failed = Batch(kNow + kMinute);
  EXPECT_TRUE(failed.failed);
  EXPECT_EQ(engine_->last_error_code(), StatusCode::kUnavailable);
  EXPECT_EQ(listener_.abandoned, std::vector<int64_t>{batch_id});
  EXPECT_EQ(Slurp(checkpoint_.watermark_path()), watermark);
  EXPECT_EQ(Slurp(checkpoint_.sidecar_path()), sidecar);
  EXPECT_TRUE(DeadLetterLines().empty());  // an outage is nobody's fault

  BatchReport replay = Batch(kNow + 2 * kMinute);
  EXPECT_FALSE(replay.failed);
  EXPECT_EQ(replay.batch_id, batch_id);
  EXPECT_EQ(replay.records_processed, 1);
  EXPECT_EQ(MaxSteps7Day(store_, User(1)), 1000);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(1)}));
}

TEST_F(BatchTest, AStopBeforeTheWriteAbandonsTheBatchWithoutWriting) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 1000, kT));
  const std::string sidecar = Slurp(checkpoint_.sidecar_path());
  std::atomic<bool> stop{true};
  engine_->SetStopFlag(&stop);

  BatchReport r = Batch(kNow + kMinute);
  EXPECT_TRUE(r.failed);
  EXPECT_TRUE(store_.AnalyticsDocuments().empty());
  EXPECT_EQ(Slurp(checkpoint_.sidecar_path()), sidecar);
  EXPECT_EQ(listener_.abandoned.size(), 1u);
}

BsonDoc TextSteps(const ObjectId& doc, const ObjectId& user, Day day, Instant updated_at) {
  BsonDoc d;
  const bson_oid_t id = ToOid(doc), uid = ToOid(user);
  bson_append_oid(d.get(), "_id", -1, &id);
  bson_append_oid(d.get(), "userId", -1, &uid);
  bson_append_date_time(d.get(), "date", -1, StartOf(day));
  bson_t metrics;
  bson_append_document_begin(d.get(), "metrics", -1, &metrics);
  bson_append_utf8(&metrics, "steps", -1, "abc", -1);
  bson_append_document_end(d.get(), &metrics);
  bson_append_date_time(d.get(), "updatedAt", -1, updated_at);
  return d;
}

TEST_F(BatchTest, DeadLettersAreWrittenOnceAcrossBatchesAndARestart) {
  Batch(kNow);
  Put(TextSteps(Doc(1), User(1), kDay, kT));
  EXPECT_EQ(Batch(kNow + kMinute).counts.dead_letters, 1);

  // The operator moves the watermark back before T: the same version is polled again.
  WriteWatermark(checkpoint_, "2025-11-20T10:00:00Z\n");
  BatchReport again = Batch(kNow + 2 * kMinute);
  EXPECT_EQ(again.records_processed, 1);
  EXPECT_EQ(again.counts.dead_letters, 0);

  Restart();  // the log reads back what it wrote
  WriteWatermark(checkpoint_, "2025-11-20T10:00:00Z\n");
  BatchReport restarted = Batch(kNow + 3 * kMinute);
  EXPECT_EQ(restarted.records_processed, 1);
  EXPECT_EQ(restarted.counts.dead_letters, 0);

  const auto lines = DeadLetterLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"field\":\"metrics.steps\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"reason\":\"type\""), std::string::npos);
}

TEST_F(BatchTest, AnOperatorEditMovesTheCursorToTheInstantAndTheLowestId) {
  Batch(kNow);
  Put(Steps(Doc(1), User(1), kDay, 1000, kT - kMinute));  // before TS, outside its grace
  Put(Steps(Doc(2), User(2), kDay, 2000, kT));
  Put(Steps(Doc(3), User(3), kDay, 3000, kT));
  Batch(kNow + kMinute);
  ASSERT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(3)}));

  // `echo TS > last_processed_timestamp.txt` with TS = T: the documents with updatedAt at or
  // after TS are read again, whatever their _id.
  WriteWatermark(checkpoint_, "2025-11-20T11:00:00Z\n");
  const CheckpointState edited = Checkpoint();
  EXPECT_EQ(edited.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(edited.cursor, (Cursor{kT, ObjectId::Min()}));

  BatchReport r = Batch(kNow + 2 * kMinute);
  EXPECT_EQ(r.records_processed, 2);
  EXPECT_EQ(Recomputed(User(1)), 1);
  EXPECT_EQ(Recomputed(User(2)), 2);
  EXPECT_EQ(Recomputed(User(3)), 2);
  EXPECT_EQ(Checkpoint().cursor, (Cursor{kT, Doc(3)}));
  EXPECT_EQ(Checkpoint().resume_from, ResumeFrom::kSidecarCursor);
}

}  // namespace
}  // namespace ha::engine_test
