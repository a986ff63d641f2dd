// The batch: plan -> read -> compute -> write -> commit (engine spec section 2), and the
// recompute of chosen users that the daily pass, `recompute` and the batch share.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "analytics/kernel.h"
#include "checkpoint/checkpoint.h"
#include "codec/analytics_doc.h"
#include "core/cursor.h"
#include "core/status.h"
#include "engine/batch_report.h"
#include "engine/listener.h"
#include "store/store.h"

namespace ha {

// Every engine knob, with its default next to it.
struct EngineOptions {
  AnalyticsOptions analytics;
  int initial_lookback_days = 30;       // INITIAL_LOOKBACK_DAYS
  int64_t late_data_grace_ms = 10'000;  // LATE_DATA_GRACE_SECONDS
  int max_batch_docs = 100'000;         // MAX_BATCH_DOCS
  int result_ttl_days = 90;             // RESULT_TTL_DAYS
  int worker_threads = 1;               // WORKER_THREADS
  size_t users_per_chunk = 1000;        // affected users processed together
  int write_attempts = 3;               // per user, before dead-lettering `write-failed`
  // Daily-recompute users handled per batch of `run` before the normal batch (interleaving).
  size_t recompute_users_per_batch = 5000;
  // RECONCILE_INTERVAL_HOURS: a full recompute also when the last one started this long ago
  // (0: only the daily one). Picks up deletions sooner where they are frequent.
  int64_t reconcile_interval_ms = 24 * 3'600'000LL;
};

// What recomputing some users did, and where its time went (poll and commit are the batch's).
struct UserWork {
  WorkCounts counts;
  BatchPhases time;  // read, compute and write
};

class Engine {
 public:
  // The engine borrows everything; all must outlive it.
  Engine(Store& store, CheckpointStore& checkpoint, DeadLetterSink& dead_letters,
         const EngineOptions& options);

  // Runs one batch at the batch clock `now` (engine spec section 2): the due part of the daily
  // recompute (all of it when `finish_recompute`), then the changed documents since the
  // checkpoint (at most MAX_BATCH_DOCS) with the grace re-read (one query), then the commit.
  // Returns the report (failed or not). A failed batch leaves the checkpoint untouched.
  // `report.more_pending` says the next batch should start without waiting. Returns an error
  // only for what must stop the engine: an unreadable checkpoint (kInvalidArgument).
  // `last_error_code` tells whether a failed batch failed for want of a server.
  Result<BatchReport> RunBatch(Instant now, bool finish_recompute);
  StatusCode last_error_code() const { return last_error_code_; }

  // Recomputes `users` now (engine spec: `recompute`), without touching the checkpoint. The
  // change listener hears OnUserChanged; the caller ends with OnBatchCommitted/Abandoned.
  Status RecomputeUsers(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                        UserWork* work);

  // Recomputes every user with analytics or data in the horizon (the `recompute` command).
  Status RecomputeAll(Instant now, int64_t batch_id, UserWork* work);

  // While `*stop` is true (set by a signal handler), the batch in flight abandons before its
  // next write: it fails without touching the checkpoint, which a later batch replays.
  void SetStopFlag(const std::atomic<bool>* stop) { stop_ = stop; }

  // Where visible changes are announced (nullptr: nowhere). Borrowed.
  void SetChangeListener(ChangeListener* listener) { listener_ = listener; }

 private:
  Status ProcessChunk(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                      UserWork* work);
  // Computes, plans and writes `users` (a slice of a chunk) from the chunk's reads.
  Status ComputeAndWrite(
      std::span<const ObjectId> users,
      const std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash>& history,
      const std::unordered_map<ObjectId, Goals, ObjectIdHash>& goals,
      const std::unordered_map<ObjectId, std::vector<ExistingAnalytics>, ObjectIdHash>&
          existing_by_user,
      Instant now, const WriteStamp& stamp, Instant wall_start, int64_t batch_id, UserWork* work);
  // Users computed, planned and written together within a chunk (whose reads are shared): the
  // planned documents of this many users are in memory at once.
  static constexpr size_t kUsersPerSlice = 128;
  // How long full batches of a backlog may leave their users to a scheduled pass (RunBatch).
  static constexpr Instant kMaxBacklogDeferMs = 10 * 60 * 1000;
  void DeadLetterVersion(const ChangedVersion& v, int64_t batch_id, int64_t* count);

  Store& store_;
  CheckpointStore& checkpoint_;
  DeadLetterSink& dead_letters_;
  EngineOptions options_;
  const std::atomic<bool>* stop_ = nullptr;
  ChangeListener* listener_ = nullptr;

  // Versions (updatedAt, _id) already processed in the grace window, sorted and unique (a
  // vector: 24 bytes a version against a set's ~70, and a bulk-written batch can put all of its
  // MAX_BATCH_DOCS versions in the window). After a restart it is what the sidecar kept, or
  // empty, so the window is treated as new (harmless).
  std::vector<Cursor> seen_versions_;
  std::optional<bool> has_ttl_;
  // The users of the day's recompute pass, listed once per day (sorted).
  std::vector<ObjectId> recompute_list_;
  std::optional<Instant> recompute_list_started_;
  StatusCode last_error_code_ = StatusCode::kOk;
};

}  // namespace ha
