// What operators see of a running engine (docs/OPERATIONS.md, Observability), in one place: the
// metrics registry, the health verdict, the recent batches for the status page, and the bodies
// of the HTTP endpoints and of the node_exporter textfile. The engine's thread feeds it after
// each batch; the HTTP server's threads read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "observe/batch_log.h"
#include "observe/health.h"
#include "observe/metrics.h"

namespace ha {

struct MonitorOptions {
  std::string version;            // health_analytics_build_info, /health
  double interval_seconds = 60;   // BATCH_INTERVAL_SECONDS
  std::string metrics_directory;  // METRICS_DIRECTORY; "" writes no textfile
  std::string dlq_directory;      // DLQ_DIRECTORY; "" lists no recent dead letters
  // The configuration shown by /health/detailed, as (variable, value). Secrets must already be
  // masked: this layer cannot tell a password from a collection name.
  std::vector<std::pair<std::string, std::string>> config;
  size_t history_size = 100;  // batches kept for the status page's charts
  size_t dlq_recent = 20;     // dead letters listed by /health/dlq
  HealthPolicy health;
};

// An HTTP answer: status code and JSON (or text) body.
struct HttpReply {
  int code = 200;
  std::string body;
};

// One point of the status page's charts.
struct BatchPoint {
  int64_t batch_id = 0;
  Instant end_time = 0;
  int64_t duration_ms = 0;
  int64_t records = 0;
  int64_t users = 0;
  int64_t written = 0;  // inserted + updated + deleted
  int64_t dead_letters = 0;
  bool failed = false;
};

class Monitor {
 public:
  static constexpr const char* kTextfileName = "spark_analytics_metrics.prom";

  // `started`: when the process started (wall clock, ms).
  Monitor(MonitorOptions options, Instant started);

  // For the events worker and the engine: RecordEvent, RecordDeadLetters.
  MetricsRegistry& metrics() { return metrics_; }

  // The checkpoint watermark known before the first batch (nullopt: none yet).
  void SetWatermark(std::optional<Instant> watermark);

  // After each batch, from the engine's thread, with the loop's `next_interval` (RunLoop's
  // on_batch): the polling interval after a completed batch; a failed batch's backoff and a
  // backlog's 0 are not intervals and leave it unchanged. `database_unreachable`: the batch
  // failed because no server could be selected.
  void OnBatch(const BatchReport& report, double next_interval, bool database_unreachable);

  // The dead-letter log's counts by reason since the process started
  // (DeadLetterLog::counts_by_reason); what grew since the last call is added to the metrics.
  void SetDeadLetterTotals(const std::map<std::string, int64_t>& by_reason);

  // Replaces METRICS_DIRECTORY/spark_analytics_metrics.prom atomically (temporary file, fsync,
  // rename) with the metrics at `now`, old names included, creating the directory if missing.
  // Does nothing without a metrics directory. On failure returns kIo naming the file.
  Status WriteTextfile(Instant now) const;
  std::string textfile_path() const;

  HealthVerdict Verdict(Instant now) const;

  // The endpoints' answers at `now`:
  HttpReply Health(Instant now) const;         // /health: 503 when unhealthy
  HttpReply Detailed(Instant now) const;       // /health/detailed: same code as /health
  HttpReply Ready(Instant now) const;          // /health/ready: 503 when not ready
  HttpReply Live(Instant now) const;           // /health/live: always 200
  HttpReply DeadLetters(Instant now) const;    // /health/dlq: counts and the last entries
  HttpReply Batches() const;                   // /api/batches: the recent batches, oldest first
  std::string MetricsText(Instant now) const;  // /metrics (current names only)

 private:
  const MonitorOptions options_;
  const Instant started_;
  MetricsRegistry metrics_;

  mutable std::mutex mu_;  // guards what follows
  HealthTracker health_;
  std::deque<BatchPoint> history_;
  std::optional<BatchReport> last_report_;
  std::map<std::string, int64_t> dead_letters_seen_;
  bool database_unreachable_ = false;
};

// The last `max_lines` complete lines of a text file (at most the last `max_bytes` are read),
// oldest first; empty when the file does not exist.
std::vector<std::string> TailLines(const std::string& path, size_t max_lines,
                                   size_t max_bytes = size_t{256} * 1024);

}  // namespace ha
