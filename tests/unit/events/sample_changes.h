// Realistic AnalyticsChange values for the backend-event tests, encoded by the real encoder.
#pragma once

#include <string>
#include <vector>

#include "codec/analytics_doc.h"
#include "core/time.h"
#include "engine/engine.h"

namespace ha::testing {

inline ObjectId UserId(int n) {
  ObjectId id = *ObjectId::FromHex("65a1b2c3d4e5f60718290000");
  id.bytes[10] = static_cast<uint8_t>(n >> 8);
  id.bytes[11] = static_cast<uint8_t>(n);
  return id;
}

// 2025-11-20T10:00:45.123Z: the batch clock of the samples.
inline constexpr Instant kCalculatedAt = 1763632845123;
inline constexpr Day kToday = static_cast<Day>(kCalculatedAt / kMillisPerDay);

// Steps as of today: a 3-day streak since two days ago, an anomaly in 7day, no previous window
// in 90day (isImprovement null).
inline MetricAnalytics SampleSteps() {
  MetricAnalytics m;
  m.metric = Metric::kSteps;
  m.as_of = kToday;
  m.streak_days = 3;
  m.longest_streak = 10;
  m.streak_start = kToday - 2;
  for (int i = 0; i < kRangeCount; ++i) {
    RangeAnalytics& r = m.ranges[static_cast<size_t>(i)];
    r.range = static_cast<TimeRange>(i);
    r.rolling_average = 8000.0;  // a whole double
    r.trend = "up";
    r.trend_percentage = 12.5;
    r.percentile = 92.857142857142861;
    r.absolute_change = 888.25;
    r.percentage_change = 12.5;
    r.is_improvement = true;
    r.standard_deviation = 3162.2776601683795;
    r.min_value = 5000;
    r.max_value = 15000;
    r.median_value = 7000;
    r.data_points_count = 7;
    r.completeness_percentage = 100.0 * 7 / kRangeDays[static_cast<size_t>(i)];
    for (int d = 6; d >= 0; --d) r.historical.emplace_back(kToday - d, d == 0 ? 15000 : 7000);
  }
  RangeAnalytics& week = m.ranges[0];
  week.anomaly_detected = true;
  week.anomaly.severity = "high";
  week.anomaly.actual_value = 15000;
  week.anomaly.expected_value = 6666.666666666667;
  week.anomaly.deviation = 3.4;
  week.anomaly.message = "Steps 125% above average for this period";
  m.ranges[2].is_improvement.reset();
  return m;
}

// Weight: no goal, so no streak (streakStartDate null), no anomaly.
inline MetricAnalytics SampleWeight() {
  MetricAnalytics m = SampleSteps();
  m.metric = Metric::kWeight;
  m.streak_days = 0;
  m.longest_streak = 0;
  m.streak_start.reset();
  for (RangeAnalytics& r : m.ranges) {
    r.anomaly_detected = false;
    r.anomaly = {};
    r.rolling_average = 72.4;
    r.trend = "stable";
    r.is_improvement = false;
  }
  return m;
}

inline AnalyticsChange Change(const ObjectId& user, const MetricAnalytics& m, int range,
                              bool inserted, int64_t batch_id = 7) {
  WriteStamp s;
  s.calculated_at = kCalculatedAt;
  s.spark_job_id = "health-analytics:" + std::to_string(batch_id);
  s.processing_duration_ms = 42;
  AnalyticsChange c;
  c.metric = m.metric;
  c.range = static_cast<TimeRange>(range);
  c.inserted = inserted;
  AppendAnalyticsFields(c.fields.get(), user, m, range, s);
  return c;
}

// `n` changes of one user whose 7day rollingAverage is 0, 1, ..., n - 1 (to check order).
inline std::vector<AnalyticsChange> NumberedChanges(const ObjectId& user, int n) {
  std::vector<AnalyticsChange> out;
  MetricAnalytics m = SampleWeight();
  for (int i = 0; i < n; ++i) {
    m.ranges[0].rolling_average = i;
    out.push_back(Change(user, m, 0, i % 2 == 0));
  }
  return out;
}

}  // namespace ha::testing
