#include "observe/metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "prom_text.h"

namespace ha {
namespace {

using testing_util::ParsePromText;
using testing_util::PromText;

const Instant kT0 = *ParseInstant("2025-11-20T12:00:00Z");

BatchReport Batch(int64_t id, int64_t duration_ms, bool failed = false) {
  BatchReport r;
  r.batch_id = id;
  r.start_time = kT0 + id * 60'000;
  r.end_time = r.start_time + duration_ms;
  r.clock = r.start_time;
  r.failed = failed;
  if (!failed) {
    r.records_processed = 10 * id;
    r.counts.users = id;
    r.counts.inserted = 3;
    r.counts.updated = 2;
    r.counts.deleted = 1;
    r.counts.unchanged = 4;
    r.watermark_to = r.start_time - 5'000;
  } else {
    r.errors = {"boom"};
  }
  return r;
}

PromText Parse(const std::string& text) {
  PromText p = ParsePromText(text);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << text;
  return p;
}

TEST(MetricsRegistry, RendersWellFormedTextWithHelpTypeAndNoTimestamps) {
  MetricsRegistry m("1.2.3", 60, kT0);
  m.RecordBatch(Batch(1, 40));
  m.RecordBatch(Batch(2, 3'000, /*failed=*/true));
  m.RecordDeadLetters("type", 2);
  m.RecordEvent("sent", 5);
  const PromText p = Parse(m.Render(kT0 + 600'000));
  for (const auto& [name, f] : p.families) {
    EXPECT_FALSE(f.help.empty()) << name;
    EXPECT_EQ(name.rfind("health_analytics_", 0), 0u) << name << " in /metrics";
  }
  EXPECT_EQ(p.families.at("health_analytics_batches_total").type, "counter");
  EXPECT_EQ(p.families.at("health_analytics_batch_duration_seconds").type, "histogram");
  EXPECT_EQ(p.families.at("health_analytics_checkpoint_lag_seconds").type, "gauge");
  EXPECT_EQ(p.Value("health_analytics_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(p.Value("health_analytics_batches_total", {{"status", "completed"}}), 1);
  EXPECT_EQ(p.Value("health_analytics_batches_total", {{"status", "failed"}}), 1);
  EXPECT_EQ(p.Value("health_analytics_documents_read_total"), 10);
  EXPECT_EQ(p.Value("health_analytics_users_recomputed_total"), 1);
  EXPECT_EQ(p.Value("health_analytics_analytics_written_total", {{"operation", "insert"}}), 3);
  EXPECT_EQ(p.Value("health_analytics_analytics_written_total", {{"operation", "update"}}), 2);
  EXPECT_EQ(p.Value("health_analytics_analytics_written_total", {{"operation", "delete"}}), 1);
  EXPECT_EQ(p.Value("health_analytics_analytics_unchanged_total"), 4);
  EXPECT_EQ(p.Value("health_analytics_dead_letters_total", {{"reason", "type"}}), 2);
  EXPECT_EQ(p.Value("health_analytics_dead_letters_total", {{"reason", "range"}}), 0);
  EXPECT_EQ(p.Value("health_analytics_events_total", {{"result", "sent"}}), 5);
  EXPECT_EQ(p.Value("health_analytics_polling_interval_seconds"), 60);
  // The last success is batch 1's end; the watermark its watermark_to (5 s before its start).
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_last_success_timestamp_seconds"),
                   (kT0 + 60'000 + 40) / 1000.0);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_checkpoint_watermark_timestamp_seconds"),
                   (kT0 + 55'000) / 1000.0);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_start_time_seconds"), kT0 / 1000.0);
}

TEST(MetricsRegistry, CheckpointLagIsComputedWhenRendered) {
  MetricsRegistry m("v", 60, kT0);
  EXPECT_FALSE(Parse(m.Render(kT0)).Value("health_analytics_checkpoint_lag_seconds"))
      << "no watermark known: no lag sample rather than a made-up one";
  m.SetWatermark(kT0 - 30'000);
  EXPECT_DOUBLE_EQ(*Parse(m.Render(kT0)).Value("health_analytics_checkpoint_lag_seconds"), 30);
  EXPECT_DOUBLE_EQ(*Parse(m.Render(kT0 + 90'500)).Value("health_analytics_checkpoint_lag_seconds"),
                   120.5);
  // A failed batch does not move the watermark.
  m.RecordBatch(Batch(3, 10, /*failed=*/true));
  EXPECT_DOUBLE_EQ(*Parse(m.Render(kT0)).Value("health_analytics_checkpoint_lag_seconds"), 30);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeAndEndAtTheCount) {
  MetricsRegistry m("v", 60, kT0);
  const int64_t durations_ms[] = {5, 10, 11, 400, 999, 1000, 7'000, 500'000};
  for (size_t i = 0; i < std::size(durations_ms); ++i)
    m.RecordBatch(Batch(static_cast<int64_t>(i), durations_ms[i]));
  const PromText p = Parse(m.Render(kT0));
  std::vector<std::pair<double, double>> buckets;  // (le, count) in text order
  for (const auto& s : p.samples)
    if (s.name == "health_analytics_batch_duration_seconds_bucket")
      buckets.emplace_back(*testing_util::ParsePromValue(s.labels.at("le")), s.value);
  ASSERT_EQ(buckets.size(), kBatchDurationBuckets.size() + 1);
  for (size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_LT(buckets[i - 1].first, buckets[i].first) << "le must increase";
    EXPECT_LE(buckets[i - 1].second, buckets[i].second) << "buckets must be cumulative";
  }
  EXPECT_TRUE(std::isinf(buckets.back().first));
  EXPECT_EQ(buckets.back().second, 8);
  EXPECT_EQ(p.Value("health_analytics_batch_duration_seconds_count"), 8);
  // le is an upper bound, inclusive: 0.01 s holds 5 ms and 10 ms, not 11 ms.
  EXPECT_EQ(p.Value("health_analytics_batch_duration_seconds_bucket", {{"le", "0.01"}}), 2);
  EXPECT_EQ(p.Value("health_analytics_batch_duration_seconds_bucket", {{"le", "1"}}), 6);
  EXPECT_EQ(p.Value("health_analytics_batch_duration_seconds_bucket", {{"le", "300"}}), 7);
  EXPECT_NEAR(*p.Value("health_analytics_batch_duration_seconds_sum"),
              (5 + 10 + 11 + 400 + 999 + 1000 + 7'000 + 500'000) / 1000.0, 1e-9);
}

TEST(MetricsRegistry, PhaseSecondsAddUpAcrossBatches) {
  MetricsRegistry m("v", 60, kT0);
  EXPECT_EQ(
      Parse(m.Render(kT0)).Value("health_analytics_batch_phase_seconds_total", {{"phase", "read"}}),
      0)
      << "every phase has a sample from the start";
  BatchReport a = Batch(1, 5'000);
  a.phases = {.poll_us = 1'500'000,
              .read_us = 2'000'000,
              .compute_us = 250'000,
              .write_us = 750'000,
              .commit_us = 4'000};
  BatchReport b = Batch(2, 100, /*failed=*/true);  // a failed batch's time counts too
  b.phases.poll_us = 500'000;
  m.RecordBatch(a);
  m.RecordBatch(b);
  const PromText p = Parse(m.Render(kT0));
  EXPECT_EQ(p.families.at("health_analytics_batch_phase_seconds_total").type, "counter");
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_batch_phase_seconds_total", {{"phase", "poll"}}), 2);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_batch_phase_seconds_total", {{"phase", "read"}}), 2);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_batch_phase_seconds_total", {{"phase", "compute"}}),
                   0.25);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_batch_phase_seconds_total", {{"phase", "write"}}),
                   0.75);
  EXPECT_DOUBLE_EQ(*p.Value("health_analytics_batch_phase_seconds_total", {{"phase", "commit"}}),
                   0.004);
}

TEST(MetricsRegistry, TextfileKeepsTheOldJobsNames) {
  MetricsRegistry m("v", 60, kT0);
  m.RecordBatch(Batch(1, 2'500));
  m.RecordBatch(Batch(2, 100, /*failed=*/true));
  m.RecordDeadLetters("range", 3);
  const Instant now = kT0 + 200'000;
  const PromText current = Parse(m.Render(now));
  const PromText p = Parse(m.Render(now, MetricsRegistry::Names::kCurrentAndLegacy));
  EXPECT_EQ(current.Value("spark_analytics_batches_total"), std::nullopt);
  EXPECT_EQ(p.Value("spark_analytics_batches_total"), 1);
  EXPECT_EQ(p.Value("spark_analytics_failed_batches_total"), 1);
  EXPECT_EQ(p.Value("spark_analytics_records_processed_total"), 10);
  EXPECT_EQ(p.Value("spark_analytics_analytics_written_total"), 5);
  EXPECT_EQ(p.Value("spark_analytics_dead_letters_total"), 3);
  EXPECT_DOUBLE_EQ(*p.Value("spark_analytics_batch_duration_seconds"), 0.1);  // the last batch
  EXPECT_DOUBLE_EQ(*p.Value("spark_analytics_last_batch_timestamp"),
                   (kT0 + 60'000 + 2'500) / 1000.0);
  EXPECT_DOUBLE_EQ(*p.Value("spark_analytics_checkpoint_lag_seconds"),
                   *p.Value("health_analytics_checkpoint_lag_seconds"));
  // Every current family is in the textfile too.
  for (const auto& [name, f] : current.families) EXPECT_TRUE(p.families.count(name)) << name;
}

TEST(MetricsRegistry, LabelValuesAreEscaped) {
  MetricsRegistry m("v", 60, kT0);
  m.RecordEvent("odd \"result\"\n");
  const PromText p = Parse(m.Render(kT0));
  EXPECT_EQ(p.Value("health_analytics_events_total", {{"result", "odd \"result\"\n"}}), 1);
}

TEST(MetricsRegistry, PassesPromtoolCheckMetrics) {
  MetricsRegistry m("0.1.0", 2, kT0);
  m.RecordBatch(Batch(1, 1234));
  m.RecordBatch(Batch(2, 20, /*failed=*/true));
  m.RecordDeadLetters("wearable");
  m.RecordEvent("sent");
  m.RecordEvent("failed");
  const std::string scratch =
      (std::filesystem::temp_directory_path() / ("ha-prom-" + std::to_string(getpid()))).string();
  for (auto names : {MetricsRegistry::Names::kCurrent, MetricsRegistry::Names::kCurrentAndLegacy}) {
    auto r = testing_util::PromtoolCheckMetrics(m.Render(kT0 + 5'000, names), scratch);
    if (!r) GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/setup)";
    EXPECT_EQ(r->exit_code, 0) << r->output;
  }
  std::filesystem::remove(scratch);
}

}  // namespace
}  // namespace ha
