// The engine's Prometheus metrics (docs/OPERATIONS.md, Metrics): counters, gauges and a
// batch-duration histogram fed from each BatchReport, rendered in the text exposition format
// (version 0.0.4).
//
// Current names start with `health_analytics_`. The old Spark job's names (`spark_analytics_*`)
// are rendered too when asked (the node_exporter textfile keeps them, so existing dashboards and
// alerts go on working); docs/OPERATIONS.md lists the mapping.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/thread_annotations.h"
#include "core/time.h"
#include "observe/batch_log.h"

namespace ha {

// Upper bounds in seconds of the batch-duration histogram's buckets (+Inf is implicit): from a
// quiet batch (a few ms) to a daily-recompute slice (minutes).
inline constexpr std::array<double, 14> kBatchDurationBuckets = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

// Everything the registry counts, copied out under its lock (for JSON endpoints and tests).
struct MetricsSnapshot {
  int64_t batches_completed = 0;
  int64_t batches_failed = 0;
  int64_t documents_read = 0;
  WorkCounts counts;  // of the completed and failed batches (users, inserted, updated, ...)
  // Seconds spent per batch phase (BatchReport::Phases): poll, read, compute, write, commit.
  std::map<std::string, double> phase_seconds;
  std::map<std::string, int64_t> dead_letters_by_reason;
  std::map<std::string, int64_t> events_by_result;
  // Cumulative counts per bucket of kBatchDurationBuckets, then +Inf (== duration_count).
  std::array<int64_t, kBatchDurationBuckets.size() + 1> duration_buckets{};
  double duration_sum_seconds = 0;
  int64_t duration_count = 0;
  std::optional<Instant> watermark;     // last known checkpoint watermark
  std::optional<Instant> last_success;  // end time of the last completed batch
  double last_batch_seconds = 0;        // duration of the last batch (completed or failed)
  int64_t last_batch_records = 0;       // documents read by the last batch
  double polling_interval_seconds = 0;
  Instant started = 0;
};

// Thread-safe: the engine's thread records batches while the HTTP server renders and the
// events worker counts deliveries.
class MetricsRegistry {
 public:
  // `version` goes into health_analytics_build_info; `interval_seconds` is the initial polling
  // interval (BATCH_INTERVAL_SECONDS); `started` is when the process started (wall clock, ms).
  MetricsRegistry(std::string version, double interval_seconds, Instant started);

  // Counts a finished batch: its status, its duration in the histogram, the documents read,
  // users recomputed and analytics written by operation. A completed batch also sets the last
  // success time (its end_time) and, when it has one, the watermark (its watermark_to).
  void RecordBatch(const BatchReport& report);

  // Adds `count` dead letters of `reason` (type, range, overflow, write-failed, ...).
  void RecordDeadLetters(std::string_view reason, int64_t count = 1);

  // Adds one backend event (or `count`) with outcome `result` (for example sent, failed,
  // dropped): the label value is used as given.
  void RecordEvent(std::string_view result, int64_t count = 1);

  // The checkpoint watermark known at start-up (or after an operator reset); nullopt: none.
  void SetWatermark(std::optional<Instant> watermark);

  // The interval the loop waits between batches now (adaptive polling changes it).
  void SetPollingInterval(double seconds);

  MetricsSnapshot Snapshot() const;

  enum class Names {
    kCurrent,           // health_analytics_* only (/metrics)
    kCurrentAndLegacy,  // plus the old job's spark_analytics_* (the textfile)
  };

  // The text exposition (prometheus-cpp's TextSerializer): a HELP and a TYPE line per family,
  // then its samples, with no sample timestamps; families are grouped by type (counters, gauges,
  // histograms). Checkpoint lag is `now` (wall clock, ms) minus the last known watermark; it and
  // the watermark and last-success gauges are left out while unknown.
  //
  // Each call fills a fresh prometheus::Registry from one Snapshot(): the snapshot stays the one
  // source of truth (the JSON endpoints, the status page and the textfile read it too), and the
  // lag depends on `now`, so there is nothing to keep in step between two stores.
  std::string Render(Instant now, Names names = Names::kCurrent) const;

 private:
  mutable Mutex mu_;
  const std::string version_;
  MetricsSnapshot m_ HA_GUARDED_BY(mu_);
};

}  // namespace ha
