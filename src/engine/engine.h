// The engine: a batch as the composition of its three steps, plan (plan.h, with the decisions
// of decide.h), process users (process_users.h) and commit (commit.h), and the recompute of
// chosen users that the daily pass, `recompute` and the batch share. docs/ARCHITECTURE.md
// ("The batch as steps") says which guarantee each step enforces.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "checkpoint/checkpoint.h"
#include "core/status.h"
#include "engine/batch_context.h"
#include "engine/batch_report.h"
#include "engine/listener.h"
#include "engine/plan.h"
#include "engine/process_users.h"
#include "store/engine_store.h"

namespace ha {

class Engine {
 public:
  // The engine borrows everything; all must outlive it.
  Engine(EngineStore& store, CheckpointStore& checkpoint, DeadLetterSink& dead_letters,
         const EngineOptions& options);

  // Runs one batch at the batch clock `now`: loads the checkpoint, plans (the due part of the
  // full recompute pass, all of it when `finish_recompute`; the changed documents since the
  // checkpoint, at most MAX_BATCH_DOCS, with the grace re-read), processes the plan's users
  // chunk by chunk (saving the pass's progress after each), then commits.
  // Returns the report (failed or not). A failed batch leaves the checkpoint untouched and the
  // listener hears OnBatchAbandoned. `report.more_pending` says the next batch should start
  // without waiting. Returns an error only for what must stop the engine: an unreadable
  // checkpoint (kInvalidArgument). `last_error_code` tells whether a failed batch failed for
  // want of a server.
  Result<BatchReport> RunBatch(Instant now, bool finish_recompute);
  StatusCode last_error_code() const { return last_error_code_; }

  // Recomputes `users` now (the `recompute --user` command), without touching the checkpoint.
  // The change listener hears OnUserChanged; the caller ends with OnBatchCommitted/Abandoned.
  Status RecomputeUsers(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                        UsersProcessed* done);

  // Recomputes every user with analytics or data in the horizon (the `recompute` command).
  Status RecomputeAll(Instant now, int64_t batch_id, UsersProcessed* done);

  // While `*stop` is true (set by a signal handler), the batch in flight abandons before its
  // next write: it fails without touching the checkpoint, which a later batch replays.
  void SetStopFlag(const std::atomic<bool>* stop) { stop_ = stop; }

  // Where visible changes are announced (nullptr: nowhere). Borrowed.
  void SetChangeListener(ChangeListener* listener) { listener_ = listener; }

 private:
  // The plan's users, USERS_PER_CHUNK at a time, with the pass's progress saved after each.
  Status ProcessPlan(const BatchPlan& plan, BatchReport* report);

  EngineStore& store_;
  CheckpointStore& checkpoint_;
  DeadLetterSink& dead_letters_;
  EngineOptions options_;
  const std::atomic<bool>* stop_ = nullptr;
  ChangeListener* listener_ = nullptr;
  EngineMemory memory_;
  StatusCode last_error_code_ = StatusCode::kOk;
};

}  // namespace ha
