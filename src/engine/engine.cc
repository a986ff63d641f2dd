#include "engine/engine.h"

#include <algorithm>

#include "engine/commit.h"

namespace ha {

Engine::Engine(EngineStore& store, CheckpointStore& checkpoint, DeadLetterSink& dead_letters,
               const EngineOptions& options)
    : store_(store), checkpoint_(checkpoint), dead_letters_(dead_letters), options_(options) {}

Status Engine::RecomputeUsers(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                              UsersProcessed* done) {
  const BatchContext context{batch_id, now, options_};
  return ProcessUsers(context, users, store_, dead_letters_, listener_, stop_, done);
}

Status Engine::RecomputeAll(Instant now, int64_t batch_id, UsersProcessed* done) {
  const Day today = DayOf(now);
  std::vector<ObjectId> users;
  if (Status st = store_.ListUsers(today - options_.analytics.history_days + 1, today, &users);
      !st.ok())
    return st;
  return RecomputeUsers(users, now, batch_id, done);
}

Status Engine::ProcessPlan(const BatchPlan& plan, BatchReport* report) {
  const std::span<const ObjectId> users(plan.users);
  const size_t per_chunk = std::max<size_t>(1, options_.users_per_chunk);
  size_t slice_done = 0;
  for (size_t i = 0; i < users.size(); i += per_chunk) {
    const std::span<const ObjectId> chunk = users.subspan(i, std::min(per_chunk, users.size() - i));
    UsersProcessed done;
    Status st = ProcessUsers(plan.context, chunk, store_, dead_letters_, listener_, stop_, &done);
    report->phases += done.time;
    if (!st.ok()) return st;
    report->counts += done.counts;
    if (Status saved = SavePassProgress(plan, chunk.back(), checkpoint_, &slice_done, report);
        !saved.ok())
      return saved;
  }
  return Status::Ok();
}

Result<BatchReport> Engine::RunBatch(Instant now, bool finish_recompute) {
  BatchReport report;
  report.start_time = NowMillis();
  report.clock = now;
  last_error_code_ = StatusCode::kOk;
  const IoCounts io_start = store_.Io();
  auto fail = [&](const Status& st) -> Result<BatchReport> {
    report.io = store_.Io() - io_start;
    report.failed = true;
    report.errors.push_back(st.message());
    report.end_time = NowMillis();
    last_error_code_ = st.code();
    if (listener_) listener_->OnBatchAbandoned(report.batch_id);
    return report;
  };

  auto loaded = checkpoint_.Load();
  if (!loaded.ok()) {
    if (loaded.status().code() == StatusCode::kInvalidArgument) return loaded.status();
    return fail(loaded.status());
  }
  report.batch_id = loaded->next_batch_id;
  report.watermark_from = loaded->watermark;

  BatchPlan plan;
  plan.context = BatchContext{loaded->next_batch_id, now, options_};
  Status planned = PlanBatch(*loaded, finish_recompute, store_, dead_letters_, &memory_, &plan);
  report.records_processed = plan.records_processed;
  report.counts += plan.counts;
  report.deferred_users = plan.deferred_users;
  report.more_pending = plan.deferred_users > 0;
  report.phases += plan.phases;
  if (!planned.ok()) return fail(planned);

  if (Status st = ProcessPlan(plan, &report); !st.ok()) return fail(st);
  plan.users = {};
  if (Status st = CommitBatch(plan, checkpoint_, listener_, &memory_, &report); !st.ok())
    return fail(st);
  report.io = store_.Io() - io_start;
  report.end_time = NowMillis();
  return report;
}

}  // namespace ha
