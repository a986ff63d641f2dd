// The analytics kernel: one user's observations in, one result per (metric, time range) out.
//
// Pure: no I/O, no clock, no globals. Implements ../../shared/spec/analytics.md sections 1-3
// (everything after decoding): the winning document per UTC day, days after today ignored, the
// horizon, asOf, windows, statistics, comparison, trend, percentile, anomaly, streaks and
// historicalData, with the spec's numerics rules.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/metrics.h"
#include "core/object_id.h"
#include "core/time.h"

namespace ha {

// Every analytics knob, with the spec's default next to it.
struct AnalyticsOptions {
  int history_days = 180;                      // HISTORY_DAYS, >= 1
  bool zero_is_missing = true;                 // ZERO_IS_MISSING
  double trend_threshold_percent = 5.0;        // TREND_THRESHOLD_PERCENT (T), >= 0
  double anomaly_z_threshold = 2.0;            // ANOMALY_Z_THRESHOLD (Z), > 0
  int anomaly_min_baseline = 5;                // ANOMALY_MIN_BASELINE, >= 2
  double anomaly_min_deviation_percent = 5.0;  // ANOMALY_MIN_DEVIATION_PERCENT
};

// How one numeric metric value of a document is classified: an observation only when finite,
// within the metric's valid range and, for activity metrics, not a "zero means no data" zero.
enum class ValueClass : uint8_t {
  kObservation,  // finite, in range, and not a "zero means no data" zero
  kNoData,       // exactly 0 for an activity metric while zero_is_missing
  kNonFinite,    // NaN or an infinity: invalid, reason `non-finite`
  kOutOfRange,   // outside the valid range: invalid, reason `range`
};

// Classifies a number found at metrics.<name> (int32, int64 and double all arrive as double).
ValueClass ClassifyValue(Metric metric, double value, const AnalyticsOptions& options);

// One healthmetrics document version as the kernel sees it, values already classified.
struct DayRecord {
  ObjectId id;                        // _id, for the (updatedAt, _id) tie-break
  Day day = 0;                        // UTC day of `date`
  std::optional<Instant> updated_at;  // nullopt: missing or not a Date (ranks below every Date)
  uint8_t observed = 0;               // bit i set: value[i] is an observation of Metric(i)
  std::array<double, kMetricCount> value{};
};

// Goal per metric, resolved (the default where the user has none); 0 for metrics without a goal.
struct Goals {
  std::array<double, kMetricCount> goal{};
};

// The spec's default goals: steps 10000, distance 5, calories 2000, sleepHours 8.
Goals DefaultGoals();

struct AnomalyDetails {
  std::string_view severity;  // "high", "medium" or "low"
  double actual_value = 0;    // x
  double expected_value = 0;  // mean of the baseline
  double deviation = 0;       // z, signed
  std::string message;        // "<Label> <p>% above|below average for this period"
};

// One (metric, time range) of one user.
struct RangeAnalytics {
  TimeRange range = TimeRange::k7Day;
  double rolling_average = 0;
  std::string_view trend;  // "up", "down" or "stable"
  double trend_percentage = 0;
  bool anomaly_detected = false;
  AnomalyDetails anomaly;  // meaningful only when anomaly_detected
  double percentile = 0;
  double absolute_change = 0;
  double percentage_change = 0;
  std::optional<bool> is_improvement;  // nullopt: null (previous window empty)
  double standard_deviation = 0;
  double min_value = 0;
  double max_value = 0;
  double median_value = 0;
  int32_t data_points_count = 0;
  double completeness_percentage = 0;
  std::vector<std::pair<Day, double>> historical;  // the observations of W, ascending by day
};

// One metric of one user: the three ranges share asOf and the streak.
struct MetricAnalytics {
  Metric metric = Metric::kSteps;
  Day as_of = 0;
  int32_t streak_days = 0;
  int32_t longest_streak = 0;
  std::optional<Day> streak_start;  // nullopt when streak_days is 0
  std::array<RangeAnalytics, kRangeCount> ranges;
};

struct UserAnalytics {
  // Metrics with at least one observation in the horizon, in Metric enum order.
  std::vector<MetricAnalytics> metrics;
  // Metrics whose computation would produce a non-finite number: dead-letter them with reason
  // `overflow` and leave their stored documents as they are.
  std::vector<Metric> overflow;
};

// Computes one user's analytics as of `today` (the UTC day of the batch clock).
// `records` may come in any order and include several documents for one day (the greatest
// (updated_at, id) wins), days after today and days outside the horizon (both ignored).
// A metric absent from both `metrics` and `overflow` has no observation in the horizon: its
// stored documents are to be deleted.
UserAnalytics ComputeUser(std::span<const DayRecord> records, const Goals& goals, Day today,
                          const AnalyticsOptions& options);

}  // namespace ha
