#include "engine/commit.h"

#include <algorithm>
#include <chrono>

#include "core/failpoint.h"

namespace ha {
Status SavePassProgress(const BatchPlan& plan, const ObjectId& last_user,
                        CheckpointStore& checkpoint, size_t* slice_done, BatchReport* report) {
  const std::span<const ObjectId> slice = plan.slice;
  if (slice.empty()) return Status::Ok();
  const size_t before = *slice_done;
  *slice_done =
      static_cast<size_t>(std::upper_bound(slice.begin(), slice.end(), last_user) - slice.begin());
  report->recompute_users += static_cast<int64_t>(*slice_done - before);
  const bool finished = plan.pass_done && *slice_done == slice.size();
  if (finished || *slice_done == 0 || *slice_done >= slice.size()) return Status::Ok();
  PassState at = plan.pass;
  at.after = slice[*slice_done - 1];
  ProgressUpdate update;
  update.last_recompute_day = plan.checkpoint.last_recompute_day;
  update.recompute_progress = FormatPass(at);
  const int64_t t0 = MonotonicMicros();
  Status st = checkpoint.SaveProgress(update);
  report->phases.commit_us += MonotonicMicros() - t0;
  return st;
}

Status CommitBatch(BatchPlan& plan, CheckpointStore& checkpoint, ChangeListener* listener,
                   EngineMemory* memory, BatchReport* report) {
  PassState pass = plan.pass;
  std::optional<Day> last_recompute_day = plan.checkpoint.last_recompute_day;
  if (plan.pass_active) {
    if (!plan.slice.empty()) pass.after = plan.slice.back();
    if (plan.pass_done) {
      pass.done = true;
      last_recompute_day = DayOf(plan.context.clock);
    } else {
      report->more_pending = true;
    }
  }
  CommitRequest commit;
  commit.watermark_seen = plan.checkpoint.watermark_seen;
  commit.cursor = plan.next_cursor;
  commit.batch_start = plan.context.clock;
  commit.next_batch_id = plan.context.batch_id + 1;
  commit.last_recompute_day = last_recompute_day;
  commit.recompute_progress = FormatPass(pass);
  commit.grace_window = FormatGraceWindow(plan.next_grace_window);
  Failpoint("before-commit");
  const int64_t commit_start = MonotonicMicros();
  auto outcome = checkpoint.Commit(commit);
  report->phases.commit_us += MonotonicMicros() - commit_start;
  if (!outcome.ok()) return outcome.status();
  if (listener) listener->OnBatchCommitted(plan.context.batch_id);
  memory->seen_versions = std::move(plan.next_grace_window);

  if (outcome->watermark_written) {
    report->watermark_to = outcome->watermark;
  } else if (outcome->watermark_seen.exists) {
    auto edited = ParseInstant(outcome->watermark_seen.text);
    if (edited.ok()) report->watermark_to = *edited;
  }
  report->more_pending = report->more_pending || plan.full;
  return Status::Ok();
}

}  // namespace ha
