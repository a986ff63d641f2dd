#include "observe/health.h"

#include <fmt/format.h>

namespace ha {

const char* ToString(HealthStatus s) {
  switch (s) {
    case HealthStatus::kHealthy:
      return "healthy";
    case HealthStatus::kDegraded:
      return "degraded";
    case HealthStatus::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

HealthTracker::HealthTracker(Instant started, double interval_seconds, HealthPolicy policy)
    : policy_(policy), started_(started), interval_seconds_(interval_seconds) {}

void HealthTracker::RecordBatch(bool failed, Instant end_time, int64_t duration_ms,
                                bool database_unreachable) {
  ++batches_;
  if (failed) {
    ++consecutive_failures_;
    successes_since_failure_ = 0;
    any_failure_ = true;
    database_unreachable_ = database_unreachable;
    return;
  }
  consecutive_failures_ = 0;
  ++successes_since_failure_;
  database_unreachable_ = false;
  last_success_ = end_time;
  last_success_duration_ms_ = duration_ms;
}

HealthVerdict HealthTracker::Evaluate(Instant now) const {
  HealthVerdict v;
  const double window =
      policy_.ready_intervals * interval_seconds_ + last_success_duration_ms_ / 1000.0;
  v.ready_window_seconds = window;
  const Instant since = last_success_.value_or(started_);
  const double quiet = (now - since) / 1000.0;
  const bool stale = quiet > window;

  if (!last_success_)
    v.ready_reason = "no batch has completed yet";
  else if (database_unreachable_)
    v.ready_reason = "the database is unreachable (the last batch could not select a server)";
  else if (stale)
    v.ready_reason = fmt::format("no batch completed in the last {:.0f} s (ready window {:.0f} s)",
                                 quiet, window);
  v.ready = v.ready_reason.empty();

  if (consecutive_failures_ >= policy_.unhealthy_after_failures) {
    v.status = HealthStatus::kUnhealthy;
    v.status_reason = fmt::format("{} batches in a row failed", consecutive_failures_);
  } else if (stale) {
    v.status = HealthStatus::kUnhealthy;
    v.status_reason = last_success_
                          ? fmt::format("no batch completed in the last {:.0f} s", quiet)
                          : fmt::format("no batch completed since the start {:.0f} s ago", quiet);
  } else if (batches_ == 0) {
    v.status = HealthStatus::kDegraded;
    v.status_reason = "starting: no batch has finished yet";
  } else if (consecutive_failures_ > 0) {
    v.status = HealthStatus::kDegraded;
    v.status_reason = consecutive_failures_ == 1
                          ? std::string("the last batch failed")
                          : fmt::format("the last {} batches failed", consecutive_failures_);
  } else if (any_failure_ && successes_since_failure_ < policy_.recovery_batches) {
    v.status = HealthStatus::kDegraded;
    v.status_reason = fmt::format("recovering: {} of {} batches completed since the last failure",
                                  successes_since_failure_, policy_.recovery_batches);
  } else {
    v.status = HealthStatus::kHealthy;
  }
  return v;
}

}  // namespace ha
