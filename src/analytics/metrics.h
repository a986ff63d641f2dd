// The eight analysed metrics, with their valid ranges and goals, and the three time ranges
// (7, 30 and 90 days); docs/ANALYTICS.md says what each figure means.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ha {

// Ordered as the spec's table. Output order is a different one (ASCII of the name): see
// kMetricsByName.
enum class Metric : uint8_t {
  kSteps = 0,
  kDistance,
  kCalories,
  kActiveMinutes,
  kHeartPoints,
  kWeight,
  kSleepHours,
  kHydration,
};
inline constexpr int kMetricCount = 8;

struct MetricInfo {
  Metric metric;
  std::string_view name;        // metricType and the key under `metrics.`
  std::string_view label;       // used in anomaly messages
  double min_valid;             // inclusive
  double max_valid;             // inclusive
  bool zero_means_no_data;      // the five activity metrics
  bool higher_is_better;        // false only for weight
  std::string_view goal_field;  // field under users.goals; empty when the metric has no goal
  double default_goal;          // 0 when the metric has no goal
};

inline constexpr std::array<MetricInfo, kMetricCount> kMetricInfo = {{
    {Metric::kSteps, "steps", "Steps", 0, 100000, true, true, "stepGoal", 10000},
    {Metric::kDistance, "distance", "Distance", 0, 500, true, true, "distanceGoal", 5},
    {Metric::kCalories, "calories", "Calories", 0, 10000, true, true, "calorieGoal", 2000},
    {Metric::kActiveMinutes, "activeMinutes", "Active minutes", 0, 1440, true, true, "", 0},
    {Metric::kHeartPoints, "heartPoints", "Heart points", 0, 500, true, true, "", 0},
    {Metric::kWeight, "weight", "Weight", 30, 300, false, false, "", 0},
    {Metric::kSleepHours, "sleepHours", "Sleep", 0, 24, false, true, "sleepGoal", 8},
    {Metric::kHydration, "hydration", "Hydration", 0, 10, false, true, "", 0},
}};

constexpr const MetricInfo& MetricInfoOf(Metric m) { return kMetricInfo[static_cast<int>(m)]; }

// The metrics in the order `compute` writes them: ASCII order of metricType.
inline constexpr std::array<Metric, kMetricCount> kMetricsByName = {
    Metric::kActiveMinutes, Metric::kCalories,   Metric::kDistance, Metric::kHeartPoints,
    Metric::kHydration,     Metric::kSleepHours, Metric::kSteps,    Metric::kWeight,
};

// Wearable-only fields: never analysed, dead-lettered with reason `wearable`.
inline constexpr std::array<std::string_view, 3> kWearableFields = {"heartRate", "oxygenSaturation",
                                                                    "bloodOxygen"};

inline std::optional<Metric> MetricFromName(std::string_view name) {
  for (const auto& i : kMetricInfo)
    if (i.name == name) return i.metric;
  return std::nullopt;
}

enum class TimeRange : uint8_t { k7Day = 0, k30Day, k90Day };
inline constexpr int kRangeCount = 3;
inline constexpr std::array<int, kRangeCount> kRangeDays = {7, 30, 90};
inline constexpr std::array<std::string_view, kRangeCount> kRangeNames = {"7day", "30day", "90day"};

inline std::optional<TimeRange> RangeFromName(std::string_view name) {
  for (int i = 0; i < kRangeCount; ++i)
    if (kRangeNames[i] == name) return static_cast<TimeRange>(i);
  return std::nullopt;
}

}  // namespace ha
