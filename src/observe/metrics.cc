#include "observe/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>

namespace ha {
namespace {

// Reasons the dead-letter log knows (observe/dead_letters.h): rendered at 0 from the start, so
// dashboards show a flat line instead of "no data".
constexpr const char* kKnownDeadLetterReasons[] = {
    "type", "non-finite", "range", "wearable", "missing", "overflow", "write-failed"};
// Outcomes the events publisher reports (observe/events.h), likewise rendered from the start.
constexpr const char* kKnownEventResults[] = {"sent", "failed", "retried", "dropped"};

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string Number(int64_t v) { return fmt::format("{}", v); }

double Seconds(Instant ms) { return static_cast<double>(ms) / 1000.0; }

// Builds the exposition text one family at a time.
class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  // `labels` is "" or `key="value",...` with values escaped.
  void Sample(std::string_view name, std::string_view labels, const std::string& value) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Label(std::string_view key, std::string_view value) {
  return fmt::format("{}=\"{}\"", key, EscapeLabelValue(value));
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

MetricsRegistry::MetricsRegistry(std::string version, double interval_seconds, Instant started)
    : version_(std::move(version)) {
  m_.polling_interval_seconds = interval_seconds;
  m_.started = started;
  for (const char* reason : kKnownDeadLetterReasons) m_.dead_letters_by_reason[reason] = 0;
  for (const char* result : kKnownEventResults) m_.events_by_result[result] = 0;
}

void MetricsRegistry::RecordBatch(const BatchReport& r) {
  const double seconds = Seconds(r.processing_time_ms());
  std::lock_guard<std::mutex> lock(mu_);
  if (r.failed) {
    ++m_.batches_failed;
  } else {
    ++m_.batches_completed;
    m_.last_success = r.end_time;
    if (r.watermark_to) m_.watermark = *r.watermark_to;
  }
  m_.documents_read += r.records_processed;
  m_.counts += r.counts;
  for (const auto& [name, us] : r.phases.Named())
    m_.phase_seconds[name] += static_cast<double>(us) / 1e6;
  for (size_t i = 0; i < kBatchDurationBuckets.size(); ++i)
    if (seconds <= kBatchDurationBuckets[i]) ++m_.duration_buckets[i];
  ++m_.duration_buckets.back();
  m_.duration_sum_seconds += seconds;
  ++m_.duration_count;
  m_.last_batch_seconds = seconds;
  m_.last_batch_records = r.records_processed;
}

void MetricsRegistry::RecordDeadLetters(std::string_view reason, int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  m_.dead_letters_by_reason[std::string(reason)] += count;
}

void MetricsRegistry::RecordEvent(std::string_view result, int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  m_.events_by_result[std::string(result)] += count;
}

void MetricsRegistry::SetWatermark(std::optional<Instant> watermark) {
  std::lock_guard<std::mutex> lock(mu_);
  m_.watermark = watermark;
}

void MetricsRegistry::SetPollingInterval(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  m_.polling_interval_seconds = seconds;
}

MetricsSnapshot MetricsRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return m_;
}

std::string MetricsRegistry::Render(Instant now, Names names) const {
  const MetricsSnapshot m = Snapshot();
  Exposition x;

  x.Family("health_analytics_build_info", "gauge",
           "Build information of the running engine; the value is always 1.");
  x.Sample("health_analytics_build_info", Label("version", version_), "1");

  x.Family("health_analytics_start_time_seconds", "gauge",
           "When the engine process started, in seconds since the Unix epoch.");
  x.Sample("health_analytics_start_time_seconds", "", Number(Seconds(m.started)));

  x.Family("health_analytics_batches_total", "counter", "Batches finished, by status.");
  x.Sample("health_analytics_batches_total", Label("status", "completed"),
           Number(m.batches_completed));
  x.Sample("health_analytics_batches_total", Label("status", "failed"), Number(m.batches_failed));

  x.Family("health_analytics_batch_duration_seconds", "histogram",
           "Wall-clock duration of each batch (completed or failed).");
  for (size_t i = 0; i < kBatchDurationBuckets.size(); ++i)
    x.Sample("health_analytics_batch_duration_seconds_bucket",
             Label("le", Number(kBatchDurationBuckets[i])), Number(m.duration_buckets[i]));
  x.Sample("health_analytics_batch_duration_seconds_bucket", Label("le", "+Inf"),
           Number(m.duration_count));
  x.Sample("health_analytics_batch_duration_seconds_sum", "", Number(m.duration_sum_seconds));
  x.Sample("health_analytics_batch_duration_seconds_count", "", Number(m.duration_count));

  x.Family("health_analytics_documents_read_total", "counter",
           "Changed healthmetrics document versions read by the poll (cursor read and new "
           "versions of the grace re-read).");
  x.Sample("health_analytics_documents_read_total", "", Number(m.documents_read));

  x.Family("health_analytics_users_recomputed_total", "counter",
           "Users whose analytics were recomputed (changed users and the daily recompute).");
  x.Sample("health_analytics_users_recomputed_total", "", Number(m.counts.users));

  x.Family("health_analytics_analytics_written_total", "counter",
           "Analytics documents written, by operation.");
  x.Sample("health_analytics_analytics_written_total", Label("operation", "insert"),
           Number(m.counts.inserted));
  x.Sample("health_analytics_analytics_written_total", Label("operation", "update"),
           Number(m.counts.updated));
  x.Sample("health_analytics_analytics_written_total", Label("operation", "delete"),
           Number(m.counts.deleted));

  x.Family("health_analytics_analytics_unchanged_total", "counter",
           "Analytics documents recomputed with unchanged content, so not written.");
  x.Sample("health_analytics_analytics_unchanged_total", "", Number(m.counts.unchanged));

  x.Family("health_analytics_batch_phase_seconds_total", "counter",
           "Wall-clock seconds batches spent per phase: poll (the changed documents), read "
           "(user lists, goals, histories, existing analytics), compute, write (analytics), "
           "commit (the checkpoint).");
  for (const auto& named : BatchReport::Phases{}.Named()) {
    const char* phase = named.first;
    auto it = m.phase_seconds.find(phase);
    x.Sample("health_analytics_batch_phase_seconds_total", Label("phase", phase),
             Number(it == m.phase_seconds.end() ? 0.0 : it->second));
  }

  x.Family("health_analytics_dead_letters_total", "counter",
           "Dead letters written by this process, by reason.");
  for (const auto& [reason, n] : m.dead_letters_by_reason)
    x.Sample("health_analytics_dead_letters_total", Label("reason", reason), Number(n));

  x.Family("health_analytics_events_total", "counter",
           "Backend events (BACKEND_API_URL), by outcome: sent, failed, dropped per event, "
           "retried per retry.");
  for (const auto& [result, n] : m.events_by_result)
    x.Sample("health_analytics_events_total", Label("result", result), Number(n));

  if (m.watermark) {
    x.Family("health_analytics_checkpoint_watermark_timestamp_seconds", "gauge",
             "The checkpoint watermark (last_processed_timestamp.txt), in seconds since the "
             "Unix epoch.");
    x.Sample("health_analytics_checkpoint_watermark_timestamp_seconds", "",
             Number(Seconds(*m.watermark)));
    x.Family("health_analytics_checkpoint_lag_seconds", "gauge",
             "Now minus the checkpoint watermark, in seconds, when this was rendered.");
    x.Sample("health_analytics_checkpoint_lag_seconds", "", Number(Seconds(now - *m.watermark)));
  }

  if (m.last_success) {
    x.Family("health_analytics_last_success_timestamp_seconds", "gauge",
             "When the last completed batch ended, in seconds since the Unix epoch.");
    x.Sample("health_analytics_last_success_timestamp_seconds", "",
             Number(Seconds(*m.last_success)));
  }

  x.Family("health_analytics_polling_interval_seconds", "gauge",
           "The interval the engine waits between batches now (BATCH_INTERVAL_SECONDS, or the "
           "adaptive interval).");
  x.Sample("health_analytics_polling_interval_seconds", "", Number(m.polling_interval_seconds));

  if (names == Names::kCurrentAndLegacy) {
    // The old Spark job's names, kept for existing dashboards and alerts.
    x.Family("spark_analytics_batches_total", "counter",
             "Kept from the old job: batches completed (health_analytics_batches_total).");
    x.Sample("spark_analytics_batches_total", "", Number(m.batches_completed));
    x.Family("spark_analytics_failed_batches_total", "counter",
             "Kept from the old job: batches failed.");
    x.Sample("spark_analytics_failed_batches_total", "", Number(m.batches_failed));
    x.Family("spark_analytics_records_processed_total", "counter",
             "Kept from the old job: documents read "
             "(health_analytics_documents_read_total).");
    x.Sample("spark_analytics_records_processed_total", "", Number(m.documents_read));
    x.Family("spark_analytics_analytics_written_total", "counter",
             "Kept from the old job: analytics documents inserted or updated.");
    x.Sample("spark_analytics_analytics_written_total", "",
             Number(m.counts.inserted + m.counts.updated));
    int64_t dead = 0;
    for (const auto& [reason, n] : m.dead_letters_by_reason) dead += n;
    x.Family("spark_analytics_dead_letters_total", "counter",
             "Kept from the old job: dead letters written, all reasons.");
    x.Sample("spark_analytics_dead_letters_total", "", Number(dead));
    x.Family("spark_analytics_batch_duration_seconds", "gauge",
             "Kept from the old job: duration of the last batch.");
    x.Sample("spark_analytics_batch_duration_seconds", "", Number(m.last_batch_seconds));
    x.Family("spark_analytics_records_per_batch", "gauge",
             "Kept from the old job: documents read by the last batch.");
    x.Sample("spark_analytics_records_per_batch", "", Number(m.last_batch_records));
    if (m.last_success) {
      x.Family("spark_analytics_last_batch_timestamp", "gauge",
               "Kept from the old job: when the last completed batch ended, in seconds since "
               "the Unix epoch.");
      x.Sample("spark_analytics_last_batch_timestamp", "", Number(Seconds(*m.last_success)));
    }
    if (m.watermark) {
      x.Family("spark_analytics_checkpoint_lag_seconds", "gauge",
               "Kept from the old job: now minus the checkpoint watermark, in seconds, when "
               "this file was written.");
      x.Sample("spark_analytics_checkpoint_lag_seconds", "", Number(Seconds(now - *m.watermark)));
    }
  }
  return x.Take();
}

}  // namespace ha
