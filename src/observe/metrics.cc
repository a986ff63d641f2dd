#include "observe/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <utility>
#include <vector>

namespace ha {
namespace {

// Reasons the dead-letter log knows (observe/dead_letters.h): rendered at 0 from the start, so
// dashboards show a flat line instead of "no data".
constexpr const char* kKnownDeadLetterReasons[] = {
    "type", "non-finite", "range", "wearable", "missing", "overflow", "write-failed"};
// Outcomes the events publisher reports (events/events.h), likewise rendered from the start.
constexpr const char* kKnownEventResults[] = {"sent", "failed", "retried", "dropped"};

double Seconds(Instant ms) { return static_cast<double>(ms) / 1000.0; }

// Registers families in a prometheus::Registry: one call per family, then its samples.
class Families {
 public:
  explicit Families(prometheus::Registry& registry) : registry_(registry) {}

  prometheus::Family<prometheus::Counter>& Counter(const std::string& name,
                                                   const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry_);
  }
  prometheus::Family<prometheus::Gauge>& Gauge(const std::string& name, const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry_);
  }
  // A family with one unlabelled sample.
  void Counter(const std::string& name, const std::string& help, double value) {
    Counter(name, help).Add({}).Increment(value);
  }
  void Gauge(const std::string& name, const std::string& help, double value) {
    Gauge(name, help).Add({}).Set(value);
  }
  prometheus::Family<prometheus::Histogram>& Histogram(const std::string& name,
                                                       const std::string& help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(registry_);
  }

 private:
  prometheus::Registry& registry_;
};

double D(int64_t v) { return static_cast<double>(v); }

// The batch-duration histogram from the snapshot's cumulative bucket counts (prometheus-cpp
// takes per-bucket increments, +Inf last).
void AddDurationHistogram(Families& f, const MetricsSnapshot& m) {
  const prometheus::Histogram::BucketBoundaries bounds(kBatchDurationBuckets.begin(),
                                                       kBatchDurationBuckets.end());
  std::vector<double> increments(m.duration_buckets.size());
  int64_t below = 0;
  for (size_t i = 0; i < m.duration_buckets.size(); ++i) {
    increments[i] = D(m.duration_buckets[i] - below);
    below = m.duration_buckets[i];
  }
  f.Histogram("health_analytics_batch_duration_seconds",
              "Wall-clock duration of each batch (completed or failed).")
      .Add({}, bounds)
      .ObserveMultiple(increments, m.duration_sum_seconds);
}

// Batches and the work they did: health_analytics_{batches,documents_read,users_recomputed,
// analytics_written,analytics_unchanged,batch_phase_seconds}_total.
void AddWorkFamilies(Families& f, const MetricsSnapshot& m) {
  auto& batches = f.Counter("health_analytics_batches_total", "Batches finished, by status.");
  batches.Add({{"status", "completed"}}).Increment(D(m.batches_completed));
  batches.Add({{"status", "failed"}}).Increment(D(m.batches_failed));
  AddDurationHistogram(f, m);
  f.Counter("health_analytics_documents_read_total",
            "Changed healthmetrics document versions read by the poll (cursor read and new "
            "versions of the grace re-read).",
            D(m.documents_read));
  f.Counter("health_analytics_users_recomputed_total",
            "Users whose analytics were recomputed (changed users and the daily recompute).",
            D(m.counts.users));
  auto& written = f.Counter("health_analytics_analytics_written_total",
                            "Analytics documents written, by operation.");
  written.Add({{"operation", "insert"}}).Increment(D(m.counts.inserted));
  written.Add({{"operation", "update"}}).Increment(D(m.counts.updated));
  written.Add({{"operation", "delete"}}).Increment(D(m.counts.deleted));
  f.Counter("health_analytics_analytics_unchanged_total",
            "Analytics documents recomputed with unchanged content, so not written.",
            D(m.counts.unchanged));
  auto& phases =
      f.Counter("health_analytics_batch_phase_seconds_total",
                "Wall-clock seconds batches spent per phase: poll (the changed documents), read "
                "(user lists, goals, histories, existing analytics), compute, write (analytics), "
                "commit (the checkpoint).");
  for (const auto& named : BatchReport::Phases{}.Named()) {
    auto it = m.phase_seconds.find(named.first);
    phases.Add({{"phase", named.first}}).Increment(it == m.phase_seconds.end() ? 0.0 : it->second);
  }
  auto& dead = f.Counter("health_analytics_dead_letters_total",
                         "Dead letters written by this process, by reason.");
  for (const auto& [reason, n] : m.dead_letters_by_reason)
    dead.Add({{"reason", reason}}).Increment(D(n));
  auto& events = f.Counter("health_analytics_events_total",
                           "Backend events (BACKEND_API_URL), by outcome: sent, failed, dropped "
                           "per event, retried per retry.");
  for (const auto& [result, n] : m.events_by_result)
    events.Add({{"result", result}}).Increment(D(n));
}

// The process and its clocks: build info, start time, watermark, lag, last success, interval.
void AddStateFamilies(Families& f, const MetricsSnapshot& m, const std::string& version,
                      Instant now) {
  f.Gauge("health_analytics_build_info",
          "Build information of the running engine; the value is always 1.")
      .Add({{"version", version}})
      .Set(1);
  f.Gauge("health_analytics_start_time_seconds",
          "When the engine process started, in seconds since the Unix epoch.", Seconds(m.started));
  if (m.watermark) {
    f.Gauge("health_analytics_checkpoint_watermark_timestamp_seconds",
            "The checkpoint watermark (last_processed_timestamp.txt), in seconds since the "
            "Unix epoch.",
            Seconds(*m.watermark));
    f.Gauge("health_analytics_checkpoint_lag_seconds",
            "Now minus the checkpoint watermark, in seconds, when this was rendered.",
            Seconds(now - *m.watermark));
  }
  if (m.last_success)
    f.Gauge("health_analytics_last_success_timestamp_seconds",
            "When the last completed batch ended, in seconds since the Unix epoch.",
            Seconds(*m.last_success));
  f.Gauge("health_analytics_polling_interval_seconds",
          "The interval the engine waits between batches now (BATCH_INTERVAL_SECONDS, or the "
          "adaptive interval).",
          m.polling_interval_seconds);
}

// The old Spark job's names, kept for existing dashboards and alerts (the textfile only).
void AddLegacyFamilies(Families& f, const MetricsSnapshot& m, Instant now) {
  f.Counter("spark_analytics_batches_total",
            "Kept from the old job: batches completed (health_analytics_batches_total).",
            D(m.batches_completed));
  f.Counter("spark_analytics_failed_batches_total", "Kept from the old job: batches failed.",
            D(m.batches_failed));
  f.Counter("spark_analytics_records_processed_total",
            "Kept from the old job: documents read (health_analytics_documents_read_total).",
            D(m.documents_read));
  f.Counter("spark_analytics_analytics_written_total",
            "Kept from the old job: analytics documents inserted or updated.",
            D(m.counts.inserted + m.counts.updated));
  int64_t dead = 0;
  for (const auto& [reason, n] : m.dead_letters_by_reason) dead += n;
  f.Counter("spark_analytics_dead_letters_total",
            "Kept from the old job: dead letters written, all reasons.", D(dead));
  f.Gauge("spark_analytics_batch_duration_seconds",
          "Kept from the old job: duration of the last batch.", m.last_batch_seconds);
  f.Gauge("spark_analytics_records_per_batch",
          "Kept from the old job: documents read by the last batch.", D(m.last_batch_records));
  if (m.last_success)
    f.Gauge("spark_analytics_last_batch_timestamp",
            "Kept from the old job: when the last completed batch ended, in seconds since the "
            "Unix epoch.",
            Seconds(*m.last_success));
  if (m.watermark)
    f.Gauge("spark_analytics_checkpoint_lag_seconds",
            "Kept from the old job: now minus the checkpoint watermark, in seconds, when this "
            "file was written.",
            Seconds(now - *m.watermark));
}

}  // namespace

MetricsRegistry::MetricsRegistry(std::string version, double interval_seconds, Instant started)
    : version_(std::move(version)) {
  m_.polling_interval_seconds = interval_seconds;
  m_.started = started;
  for (const char* reason : kKnownDeadLetterReasons) m_.dead_letters_by_reason[reason] = 0;
  for (const char* result : kKnownEventResults) m_.events_by_result[result] = 0;
}

void MetricsRegistry::RecordBatch(const BatchReport& r) {
  const double seconds = Seconds(r.processing_time_ms());
  MutexLock lock(mu_);
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
  MutexLock lock(mu_);
  m_.dead_letters_by_reason[std::string(reason)] += count;
}

void MetricsRegistry::RecordEvent(std::string_view result, int64_t count) {
  MutexLock lock(mu_);
  m_.events_by_result[std::string(result)] += count;
}

void MetricsRegistry::SetWatermark(std::optional<Instant> watermark) {
  MutexLock lock(mu_);
  m_.watermark = watermark;
}

void MetricsRegistry::SetPollingInterval(double seconds) {
  MutexLock lock(mu_);
  m_.polling_interval_seconds = seconds;
}

MetricsSnapshot MetricsRegistry::Snapshot() const {
  MutexLock lock(mu_);
  return m_;
}

std::string MetricsRegistry::Render(Instant now, Names names) const {
  const MetricsSnapshot m = Snapshot();
  prometheus::Registry registry;
  Families f(registry);
  AddStateFamilies(f, m, version_, now);
  AddWorkFamilies(f, m);
  if (names == Names::kCurrentAndLegacy) AddLegacyFamilies(f, m, now);
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace ha
