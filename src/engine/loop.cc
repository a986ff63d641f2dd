#include "engine/loop.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace ha {
namespace {

// Sleeps until `deadline` or until `stop`, whichever comes first (100 ms resolution).
void SleepUntil(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop) {
  while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
    const auto left = deadline - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(100)));
  }
}

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

}  // namespace

double NextAdaptiveInterval(double current, bool found_changes, double min, double max) {
  return found_changes ? std::max(min, current / 2) : std::min(max, current * 2);
}

Status RunLoop(Engine& engine, const LoopOptions& options, const std::atomic<bool>& stop,
               const std::function<void(const BatchReport&, double)>& on_batch,
               SessionSummary* summary) {
  double backoff = 1;
  double interval = options.interval_seconds;
  while (!stop.load()) {
    const auto started = std::chrono::steady_clock::now();
    const Instant now = options.frozen_now.value_or(NowMillis());
    auto result = engine.RunBatch(now, /*finish_recompute=*/false);
    if (!result.ok()) return result.status();
    BatchReport report = std::move(result).value();
    if (report.failed && stop.load()) {
      summary->abandoned = true;  // stopping: not a failure
      break;
    }
    ++summary->batches;
    if (report.failed) {
      ++summary->failed_batches;
      report.next_interval_seconds = backoff;
      on_batch(report, backoff);
      SleepUntil(started + Seconds(backoff), stop);
      backoff = std::min(options.max_backoff_seconds, backoff * 2);
      continue;
    }
    backoff = 1;
    summary->records_processed += report.records_processed;
    summary->counts += report.counts;
    summary->last_watermark = report.watermark_to;
    if (options.adaptive)
      interval = NextAdaptiveInterval(interval, report.records_processed > 0,
                                      options.min_interval_seconds, options.interval_seconds);
    report.next_interval_seconds = report.more_pending ? 0 : interval;
    on_batch(report, report.next_interval_seconds);
    if (report.more_pending) continue;  // drain a backlog without waiting
    SleepUntil(started + Seconds(interval), stop);
  }
  return Status::Ok();
}

}  // namespace ha
