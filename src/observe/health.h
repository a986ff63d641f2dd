// Health and readiness of the engine from the outcomes of its batches: readiness means a batch
// succeeded recently, and the status decays back to healthy after errors stop
// (docs/OPERATIONS.md, HTTP endpoints). Pure logic: the caller passes every instant, so tests need
// no clock and no sleeping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/time.h"

namespace ha {

enum class HealthStatus { kHealthy, kDegraded, kUnhealthy };

// "healthy", "degraded", "unhealthy".
const char* ToString(HealthStatus s);

struct HealthPolicy {
  // Ready while the last completed batch ended within this many polling intervals (plus that
  // batch's own duration, so one slow batch does not flap readiness).
  int ready_intervals = 3;
  // Consecutive failed batches that make the status unhealthy (fewer: degraded).
  int unhealthy_after_failures = 3;
  // After a failure the status stays degraded until this many batches in a row completed.
  int recovery_batches = 5;
};

struct HealthVerdict {
  HealthStatus status = HealthStatus::kDegraded;
  bool ready = false;
  std::string status_reason;  // why not healthy ("" when healthy)
  std::string ready_reason;   // why not ready ("" when ready)
  double ready_window_seconds = 0;
};

// Not thread-safe (the caller locks).
class HealthTracker {
 public:
  // `started`: when the process started; `interval_seconds`: BATCH_INTERVAL_SECONDS.
  HealthTracker(Instant started, double interval_seconds, HealthPolicy policy = {});

  // The polling interval now (adaptive polling changes it).
  void SetInterval(double seconds) { interval_seconds_ = seconds; }

  // A batch ended at `end_time` after `duration_ms`. `database_unreachable`: it failed because
  // no server could be selected (the engine is then not ready at once).
  void RecordBatch(bool failed, Instant end_time, int64_t duration_ms, bool database_unreachable);

  // The verdict at `now`:
  //   ready      a batch completed within the ready window (ready_intervals x interval + the
  //              duration of that batch), and the last batch did not fail for want of the
  //              database. Never ready before the first completed batch.
  //   unhealthy  unhealthy_after_failures or more failed batches in a row, or no completed
  //              batch within the ready window (counted from the start before the first one).
  //   degraded   no batch has finished yet, the last batch failed, or fewer than
  //              recovery_batches batches completed since the last failure.
  //   healthy    otherwise.
  HealthVerdict Evaluate(Instant now) const;

  int64_t consecutive_failures() const { return consecutive_failures_; }
  std::optional<Instant> last_success() const { return last_success_; }

 private:
  HealthPolicy policy_;
  Instant started_;
  double interval_seconds_;
  int64_t batches_ = 0;
  int64_t consecutive_failures_ = 0;
  int64_t successes_since_failure_ = 0;
  bool any_failure_ = false;
  bool database_unreachable_ = false;
  std::optional<Instant> last_success_;
  int64_t last_success_duration_ms_ = 0;
};

}  // namespace ha
