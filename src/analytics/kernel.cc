#include "analytics/kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>

#include "analytics/stats.h"

namespace ha {

ValueClass ClassifyValue(Metric metric, double value, const AnalyticsOptions& options) {
  if (!std::isfinite(value)) return ValueClass::kNonFinite;
  const MetricInfo& info = MetricInfoOf(metric);
  if (value == 0 && info.zero_means_no_data && options.zero_is_missing) return ValueClass::kNoData;
  if (value < info.min_valid || value > info.max_valid) return ValueClass::kOutOfRange;
  return ValueClass::kObservation;
}

Goals DefaultGoals() {
  Goals goals;
  for (const MetricInfo& info : kMetricInfo)
    goals.goal[static_cast<int>(info.metric)] = info.default_goal;
  return goals;
}

namespace {

// The largest N of the three ranges: no window holds more observations (one per day).
constexpr int kMaxWindow = *std::max_element(kRangeDays.begin(), kRangeDays.end());

// True when `a` wins its day over `b`: greater (updated_at, id), a missing updated_at ranking
// below every Date (std::optional orders nullopt first). Two versions with the same key are the
// same document read twice; their content breaks the tie only so that input order can never
// matter.
bool Outranks(const DayRecord& a, const DayRecord& b) {
  if (a.updated_at != b.updated_at) return a.updated_at > b.updated_at;
  if (a.id != b.id) return a.id > b.id;
  if (a.observed != b.observed) return a.observed > b.observed;
  for (int i = 0; i < kMetricCount; ++i) {
    const auto x = std::bit_cast<uint64_t>(a.value[i]);
    const auto y = std::bit_cast<uint64_t>(b.value[i]);
    if (x != y) return x > y;
  }
  return false;
}

// One metric's observations in the horizon, ascending by day (one per day).
struct Series {
  std::span<const Day> days;
  std::span<const double> values;

  size_t size() const { return days.size(); }
  // Index of the first observation on or after `d`.
  size_t LowerBound(Day d) const {
    return static_cast<size_t>(std::lower_bound(days.begin(), days.end(), d) - days.begin());
  }
};

bool IsFinite(double v) { return std::isfinite(v); }

// Fills the anomaly fields of `r` from the window W (ascending, x its last value).
// Returns false when the test itself produced a non-finite number (only with tiny inputs whose
// squares or sums underflow).
bool DetectAnomaly(Metric metric, std::span<const double> window, const AnalyticsOptions& options,
                   RangeAnalytics& r) {
  r.anomaly_detected = false;
  r.anomaly = AnomalyDetails{};
  const size_t m = window.size() - 1;
  if (m < 1 || m < static_cast<size_t>(std::max(options.anomaly_min_baseline, 1))) return true;
  const std::span<const double> baseline = window.first(m);  // W without the asOf observation
  const stats::Summary b = stats::Summarize(baseline);
  if (b.all_equal) return true;  // fewer than two different values
  // Valid values are never negative, so a baseline with two different values has a positive
  // mean unless the sum underflowed: p is then undefined and the day is not anomalous.
  if (!(b.mean > 0)) return true;
  const double x = window.back();
  const double diff = x - b.mean;
  const double z = diff / b.sd;
  const double p = std::round(100.0 * std::fabs(diff) / b.mean);  // halves away from zero
  if (!IsFinite(z) || !IsFinite(p)) return false;
  if (!(std::fabs(z) > options.anomaly_z_threshold && p >= options.anomaly_min_deviation_percent)) {
    return true;
  }
  const double abs_z = std::fabs(z);
  r.anomaly_detected = true;
  r.anomaly.severity = abs_z > 3 ? "high" : abs_z > 2.5 ? "medium" : "low";
  r.anomaly.actual_value = x;
  r.anomaly.expected_value = b.mean;
  r.anomaly.deviation = z;
  r.anomaly.message = fmt::format("{} {:.0f}% {} average for this period",
                                  MetricInfoOf(metric).label, p, diff > 0 ? "above" : "below");
  return true;
}

// Computes one range of one metric. Returns false when a number would not be finite.
bool ComputeRange(Metric metric, TimeRange range, const Series& s, Day as_of,
                  const AnalyticsOptions& options, RangeAnalytics& r) {
  const int big_n = kRangeDays[static_cast<int>(range)];
  const size_t w_begin = s.LowerBound(as_of - big_n + 1);
  const size_t p_begin = s.LowerBound(as_of - 2 * big_n + 1);
  const size_t end = s.size();  // as_of is the last observation
  const std::span<const double> window = s.values.subspan(w_begin, end - w_begin);
  const std::span<const double> previous = s.values.subspan(p_begin, w_begin - p_begin);
  const size_t n = window.size();

  r.range = range;
  const stats::Summary w = stats::Summarize(window);
  r.rolling_average = w.mean;
  r.standard_deviation = w.sd;
  r.min_value = w.min;
  r.max_value = w.max;
  std::array<double, kMaxWindow> sorted;
  std::copy(window.begin(), window.end(), sorted.begin());
  r.median_value = stats::MedianInPlace(std::span<double>(sorted.data(), n));
  r.data_points_count = static_cast<int32_t>(n);
  r.completeness_percentage = 100.0 * static_cast<double>(n) / big_n;

  if (previous.empty()) {
    r.absolute_change = 0;
    r.percentage_change = 0;
    r.is_improvement = std::nullopt;
  } else {
    const double mean_p = stats::Summarize(previous).mean;
    const double change = w.mean - mean_p;
    if (std::fabs(change) <= 1e-9 * std::max(1.0, std::fabs(mean_p))) {
      r.absolute_change = 0;
      r.percentage_change = 0;
      r.is_improvement = false;
    } else {
      r.absolute_change = change;
      r.percentage_change = mean_p == 0 ? 0 : 100.0 * change / mean_p;
      r.is_improvement = MetricInfoOf(metric).higher_is_better ? change > 0 : change < 0;
    }
  }
  r.trend_percentage = std::clamp(r.percentage_change, -100.0, 1000.0);
  const double t = options.trend_threshold_percent;
  r.trend = r.trend_percentage > t ? "up" : r.trend_percentage < -t ? "down" : "stable";

  r.percentile = stats::PercentileRank(window, window.back());

  if (!DetectAnomaly(metric, window, options, r)) return false;

  r.historical.clear();
  r.historical.reserve(n);
  for (size_t i = w_begin; i < end; ++i) r.historical.emplace_back(s.days[i], s.values[i]);

  for (double v : {r.rolling_average, r.standard_deviation, r.min_value, r.max_value,
                   r.median_value, r.completeness_percentage, r.absolute_change,
                   r.percentage_change, r.trend_percentage, r.percentile}) {
    if (!IsFinite(v)) return false;
  }
  return true;
}

// Streak fields of `out` (goal-aware; see the spec's "Streak").
void ComputeStreak(Metric metric, const Series& s, const Goals& goals, Day today,
                   MetricAnalytics& out) {
  out.streak_days = 0;
  out.longest_streak = 0;
  out.streak_start = std::nullopt;
  const MetricInfo& info = MetricInfoOf(metric);
  if (info.goal_field.empty()) return;
  double goal = goals.goal[static_cast<int>(metric)];
  if (!(std::isfinite(goal) && goal > 0)) goal = info.default_goal;

  int32_t run = 0, longest = 0;
  Day run_start = 0, last_met = 0;
  // One observation per day: a day that misses the goal (or has no observation) makes the next
  // meeting day non-consecutive, which is all that ends a run.
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(s.values[i] >= goal)) continue;
    const Day d = s.days[i];
    if (run > 0 && d == last_met + 1) {
      ++run;
    } else {
      run = 1;
      run_start = d;
    }
    last_met = d;
    longest = std::max(longest, run);
  }
  out.longest_streak = longest;
  // `run` is the last run, ending on `last_met`. It is the current streak when it ends today or,
  // today not being over, yesterday.
  if (run > 0 && (last_met == today || last_met == today - 1)) {
    out.streak_days = run;
    out.streak_start = run_start;
  }
}

}  // namespace

UserAnalytics ComputeUser(std::span<const DayRecord> records, const Goals& goals, Day today,
                          const AnalyticsOptions& options) {
  UserAnalytics out;
  const int64_t horizon = std::max(options.history_days, 1);
  const int64_t first_day = static_cast<int64_t>(today) - horizon + 1;

  // The winning document of each day of the horizon, by dense day slot.
  std::vector<const DayRecord*> winner(static_cast<size_t>(horizon), nullptr);
  for (const DayRecord& r : records) {
    if (r.day > today || r.day < first_day) continue;
    const DayRecord*& slot = winner[static_cast<size_t>(r.day - first_day)];
    if (slot == nullptr || Outranks(r, *slot)) slot = &r;
  }
  std::vector<const DayRecord*> days_with_data;
  days_with_data.reserve(winner.size());
  for (const DayRecord* r : winner)
    if (r != nullptr) days_with_data.push_back(r);
  if (days_with_data.empty()) return out;

  std::vector<Day> day_buf(days_with_data.size());
  std::vector<double> value_buf(days_with_data.size());
  out.metrics.reserve(kMetricCount);
  for (int mi = 0; mi < kMetricCount; ++mi) {
    const Metric metric = static_cast<Metric>(mi);
    const auto bit = static_cast<uint8_t>(1u << mi);
    size_t count = 0;
    for (const DayRecord* r : days_with_data) {
      if ((r->observed & bit) == 0) continue;
      day_buf[count] = r->day;
      value_buf[count] = r->value[mi] + 0.0;  // + 0.0 turns a -0 into 0
      ++count;
    }
    if (count == 0) continue;
    const Series s{std::span<const Day>(day_buf.data(), count),
                   std::span<const double>(value_buf.data(), count)};

    MetricAnalytics ma;
    ma.metric = metric;
    ma.as_of = s.days.back();
    ComputeStreak(metric, s, goals, today, ma);
    bool finite = true;
    for (int ri = 0; ri < kRangeCount && finite; ++ri) {
      finite =
          ComputeRange(metric, static_cast<TimeRange>(ri), s, ma.as_of, options, ma.ranges[ri]);
    }
    if (finite) {
      out.metrics.push_back(std::move(ma));
    } else {
      out.overflow.push_back(metric);
    }
  }
  return out;
}

}  // namespace ha
