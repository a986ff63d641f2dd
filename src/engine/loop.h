// The trigger loop: Spark's processingTime trigger without Spark: a batch every interval, never
// two at a time, a backlog drained without waiting (docs/ARCHITECTURE.md, "One batch").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "engine/engine.h"

namespace ha {

struct LoopOptions {
  double interval_seconds = 60;       // BATCH_INTERVAL_SECONDS
  bool adaptive = false;              // ADAPTIVE_POLLING
  double min_interval_seconds = 1;    // MIN_BATCH_INTERVAL_SECONDS
  std::optional<Instant> frozen_now;  // --now
  double max_backoff_seconds = 60;    // after failures: 1 s doubling up to this
};

// What the loop did, for the session summary.
struct SessionSummary {
  int64_t batches = 0;
  int64_t failed_batches = 0;
  int64_t records_processed = 0;
  WorkCounts counts;  // of the completed batches
  Instant started = 0;
  std::optional<Instant> last_watermark;
  bool abandoned = false;  // the last batch was abandoned before writing because of a stop
};

// Runs batches until `stop` becomes true: a batch every interval (an overrunning batch is
// followed at once by the next; batches never overlap), a backlog drained without waiting, a
// failed batch retried after 1 s, 2 s, 4 s ... up to 60 s. `on_batch` sees every report
// (console line, batch log, metrics) and the interval the loop will wait next.
// Returns an error only for what must stop the engine (an unreadable checkpoint).
Status RunLoop(Engine& engine, const LoopOptions& options, const std::atomic<bool>& stop,
               const std::function<void(const BatchReport&, double next_interval)>& on_batch,
               SessionSummary* summary);

// The next polling interval under adaptive polling: halves toward `min` while batches find
// changes, doubles back toward `max` when they come back empty.
double NextAdaptiveInterval(double current, bool found_changes, double min, double max);

}  // namespace ha
