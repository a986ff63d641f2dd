// ComputeUser: asOf, the W and P windows, statistics, comparison, trend and percentile.
// Every expected value is worked by hand in the comment next to it.
#include <gtest/gtest.h>

#include <cmath>

#include "analytics/kernel.h"
#include "test_util.h"

namespace ha {
namespace {

using namespace ha::testing;  // NOLINT
constexpr Day T = kToday;

TEST(KernelWindows, SevenDayStatistics) {
  // Steps on T-6 .. T: 5000 1000 7000 3000 4000 2000 6000 (x = 6000 on T).
  History h;
  h.Run(Metric::kSteps, T - 6, {5000, 1000, 7000, 3000, 4000, 2000, 6000});
  const UserAnalytics u = Compute(h);
  ASSERT_EQ(u.metrics.size(), 1u);
  const MetricAnalytics& a = u.metrics[0];
  EXPECT_EQ(a.metric, Metric::kSteps);
  EXPECT_EQ(a.as_of, T);
  const RangeAnalytics& r = R7(a);
  EXPECT_EQ(r.range, TimeRange::k7Day);
  // Sum 28000, n 7: mean 4000.
  EXPECT_EQ(r.rolling_average, 4000.0);
  // Squared deviations 1e6 9e6 9e6 1e6 0 4e6 4e6 = 28e6; sd = sqrt(28e6 / 6) = 2160.2468994692...
  EXPECT_NEAR(r.standard_deviation, 2160.2468994692867, 1e-9);
  EXPECT_EQ(r.min_value, 1000.0);
  EXPECT_EQ(r.max_value, 7000.0);
  EXPECT_EQ(r.median_value, 4000.0);  // sorted 1000 .. 7000, 4th value
  EXPECT_EQ(r.data_points_count, 7);
  EXPECT_EQ(r.completeness_percentage, 100.0);  // 100 * 7 / 7
  // x = 6000: five values below (5000 1000 3000 4000 2000), one equal: 100 * 5.5 / 7 = 78.571...
  EXPECT_NEAR(r.percentile, 78.571428571428571, 1e-12);
  // Nothing in T-13 .. T-7: no comparison.
  EXPECT_EQ(r.absolute_change, 0.0);
  EXPECT_EQ(r.percentage_change, 0.0);
  EXPECT_FALSE(r.is_improvement.has_value());
  EXPECT_EQ(r.trend_percentage, 0.0);
  EXPECT_EQ(r.trend, "stable");
  // Baseline 5000 1000 7000 3000 4000 2000: mean 3666.7, sd 2160.2; z = 2333.3 / 2160.2 = 1.08.
  EXPECT_FALSE(r.anomaly_detected);
  ASSERT_EQ(r.historical.size(), 7u);
  EXPECT_EQ(r.historical.front(), (std::pair<Day, double>{T - 6, 5000.0}));
  EXPECT_EQ(r.historical.back(), (std::pair<Day, double>{T, 6000.0}));

  // The 30- and 90-day windows hold the same seven days; only completeness changes.
  EXPECT_EQ(R30(a).range, TimeRange::k30Day);
  EXPECT_EQ(R90(a).range, TimeRange::k90Day);
  EXPECT_EQ(R30(a).rolling_average, 4000.0);
  EXPECT_EQ(R90(a).data_points_count, 7);
  EXPECT_NEAR(R30(a).completeness_percentage, 23.333333333333333, 1e-12);  // 100 * 7 / 30
  EXPECT_NEAR(R90(a).completeness_percentage, 7.7777777777777778, 1e-12);  // 100 * 7 / 90
}

TEST(KernelWindows, EvenCountMedianAndDaysWithoutData) {
  // Steps on T-6: 1000, T-4: 4000, T-2: 2000, T: 3000.
  History h;
  h.Run(Metric::kSteps, T - 6, {1000, kGap, 4000, kGap, 2000, kGap, 3000});
  const RangeAnalytics& r = R7(Of(Compute(h), Metric::kSteps));
  EXPECT_EQ(r.data_points_count, 4);
  EXPECT_EQ(r.rolling_average, 2500.0);  // 10000 / 4
  EXPECT_EQ(r.median_value, 2500.0);     // sorted 1000 2000 3000 4000: (2000 + 3000) / 2
  // Deviations -1500 1500 -500 500: squares 2.25e6 * 2 + 0.25e6 * 2 = 5e6; sqrt(5e6 / 3).
  EXPECT_NEAR(r.standard_deviation, 1290.9944487358056, 1e-9);
  EXPECT_NEAR(r.completeness_percentage, 57.142857142857143, 1e-12);  // 100 * 4 / 7
  // x = 3000: two below, one equal: 100 * 2.5 / 4 = 62.5.
  EXPECT_EQ(r.percentile, 62.5);
  ASSERT_EQ(r.historical.size(), 4u);
  EXPECT_EQ(r.historical[1], (std::pair<Day, double>{T - 4, 4000.0}));
}

TEST(KernelWindows, SingleObservation) {
  History h;
  h.Set(T - 2, Metric::kWeight, 80.5);
  const MetricAnalytics& a = Of(Compute(h), Metric::kWeight);
  EXPECT_EQ(a.as_of, T - 2);
  const RangeAnalytics& r = R7(a);
  EXPECT_EQ(r.data_points_count, 1);
  EXPECT_EQ(r.rolling_average, 80.5);
  EXPECT_EQ(r.standard_deviation, 0.0);  // n = 1
  EXPECT_EQ(r.min_value, 80.5);
  EXPECT_EQ(r.max_value, 80.5);
  EXPECT_EQ(r.median_value, 80.5);
  EXPECT_EQ(r.percentile, 50.0);                                      // 100 * (0 + 0.5 * 1) / 1
  EXPECT_NEAR(r.completeness_percentage, 14.285714285714286, 1e-12);  // 100 / 7
  EXPECT_FALSE(r.is_improvement.has_value());
  EXPECT_FALSE(r.anomaly_detected);
  ASSERT_EQ(r.historical.size(), 1u);
  EXPECT_EQ(r.historical[0], (std::pair<Day, double>{T - 2, 80.5}));
}

TEST(KernelWindows, EqualValuesAreExactAndMeanNoChange) {
  // Weight 70.3 every day T-29 .. T. 70.3 is not a binary fraction: a rounded sum / n would
  // drift, the spec wants exactly 70.3 and sd exactly 0.
  History h;
  for (Day d = T - 29; d <= T; ++d) h.Set(d, Metric::kWeight, 70.3);
  const MetricAnalytics& a = Of(Compute(h), Metric::kWeight);
  for (const RangeAnalytics& r : a.ranges) {
    EXPECT_EQ(r.rolling_average, 70.3);
    EXPECT_EQ(r.median_value, 70.3);
    EXPECT_EQ(r.standard_deviation, 0.0);
    EXPECT_EQ(r.percentile, 50.0);  // 0 below, n equal: 100 * 0.5 n / n
    EXPECT_FALSE(r.anomaly_detected);
  }
  // 7day: P = T-13 .. T-7, also all 70.3: no change, so 0, 0 and isImprovement false (not null).
  EXPECT_EQ(R7(a).absolute_change, 0.0);
  EXPECT_EQ(R7(a).percentage_change, 0.0);
  ASSERT_TRUE(R7(a).is_improvement.has_value());
  EXPECT_FALSE(*R7(a).is_improvement);
  EXPECT_EQ(R7(a).trend, "stable");
  // 30day: P = T-59 .. T-30 is empty: null.
  EXPECT_FALSE(R30(a).is_improvement.has_value());
  EXPECT_EQ(R30(a).data_points_count, 30);
  EXPECT_EQ(R30(a).completeness_percentage, 100.0);
}

TEST(KernelWindows, WindowsEndAtTheLatestObservation) {
  // Steps on T-10: 1000, T-9: 2000, T-3: 3000; nothing after T-3, so asOf = T-3.
  History h;
  h.Set(T - 10, Metric::kSteps, 1000)
      .Set(T - 9, Metric::kSteps, 2000)
      .Set(T - 3, Metric::kSteps, 3000);
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.as_of, T - 3);
  // 7day: W = [T-9, T-3] = {2000, 3000}, mean 2500; P = [T-16, T-10] = {1000}.
  const RangeAnalytics& r = R7(a);
  EXPECT_EQ(r.data_points_count, 2);
  EXPECT_EQ(r.rolling_average, 2500.0);
  EXPECT_EQ(r.absolute_change, 1500.0);   // 2500 - 1000
  EXPECT_EQ(r.percentage_change, 150.0);  // 100 * 1500 / 1000
  EXPECT_EQ(r.trend_percentage, 150.0);
  EXPECT_EQ(r.trend, "up");
  EXPECT_EQ(r.is_improvement, std::optional<bool>(true));
  ASSERT_EQ(r.historical.size(), 2u);
  EXPECT_EQ(r.historical[0].first, T - 9);
  EXPECT_EQ(r.historical[1].first, T - 3);
  // 30day: W = [T-32, T-3] holds all three: mean 6000 / 3 = 2000; P = [T-62, T-33] empty.
  EXPECT_EQ(R30(a).rolling_average, 2000.0);
  EXPECT_FALSE(R30(a).is_improvement.has_value());
}

TEST(KernelComparison, AgainstThePreviousWindow) {
  // P (T-13 .. T-7): 2000 3000 4000 on T-13, T-10, T-7, mean 3000.
  // W (T-6 .. T): 3000 4000 5000 on T-6, T-3, T, mean 4000.
  History h;
  h.Set(T - 13, Metric::kSteps, 2000).Set(T - 10, Metric::kSteps, 3000);
  h.Set(T - 7, Metric::kSteps, 4000).Set(T - 6, Metric::kSteps, 3000);
  h.Set(T - 3, Metric::kSteps, 4000).Set(T, Metric::kSteps, 5000);
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  const RangeAnalytics& r = R7(a);
  EXPECT_EQ(r.absolute_change, 1000.0);
  EXPECT_NEAR(r.percentage_change, 33.333333333333333, 1e-12);  // 100 * 1000 / 3000
  EXPECT_NEAR(r.trend_percentage, 33.333333333333333, 1e-12);
  EXPECT_EQ(r.trend, "up");
  EXPECT_EQ(r.is_improvement, std::optional<bool>(true));
  // 30day: W holds all six, mean 21000 / 6 = 3500; P empty.
  EXPECT_EQ(R30(a).rolling_average, 3500.0);
  EXPECT_EQ(R30(a).absolute_change, 0.0);
  EXPECT_FALSE(R30(a).is_improvement.has_value());
}

TEST(KernelComparison, WeightIsBetterWhenLower) {
  // P: 82 on T-10 and T-8 (mean 82); W: 80 on T-3 and T (mean 80).
  History loss;
  loss.Set(T - 10, Metric::kWeight, 82).Set(T - 8, Metric::kWeight, 82);
  loss.Set(T - 3, Metric::kWeight, 80).Set(T, Metric::kWeight, 80);
  const RangeAnalytics& r = R7(Of(Compute(loss), Metric::kWeight));
  EXPECT_EQ(r.absolute_change, -2.0);
  EXPECT_NEAR(r.percentage_change, -2.4390243902439024, 1e-12);  // 100 * -2 / 82
  EXPECT_EQ(r.is_improvement, std::optional<bool>(true));
  EXPECT_EQ(r.trend, "stable");  // |-2.44| <= 5

  History gain;  // the same, reversed: P mean 80, W mean 82
  gain.Set(T - 10, Metric::kWeight, 80).Set(T - 8, Metric::kWeight, 80);
  gain.Set(T - 3, Metric::kWeight, 82).Set(T, Metric::kWeight, 82);
  const RangeAnalytics& g = R7(Of(Compute(gain), Metric::kWeight));
  EXPECT_EQ(g.absolute_change, 2.0);
  EXPECT_EQ(g.percentage_change, 2.5);  // 100 * 2 / 80
  EXPECT_EQ(g.is_improvement, std::optional<bool>(false));
}

TEST(KernelComparison, ZeroPreviousMeanGivesZeroPercent) {
  // Hydration: zero is a value. P = {0} on T-8, W = {2} on T: change 2, mean(P) = 0.
  History h;
  h.Set(T - 8, Metric::kHydration, 0).Set(T, Metric::kHydration, 2);
  const RangeAnalytics& r = R7(Of(Compute(h), Metric::kHydration));
  EXPECT_EQ(r.absolute_change, 2.0);
  EXPECT_EQ(r.percentage_change, 0.0);
  EXPECT_EQ(r.trend_percentage, 0.0);
  EXPECT_EQ(r.trend, "stable");
  EXPECT_EQ(r.is_improvement, std::optional<bool>(true));
}

TEST(KernelComparison, TinyChangesAreNoChange) {
  // Steps P = {1000} on T-7, W on T. Tolerance 1e-9 * max(1, 1000) = 1e-6.
  {
    History h;
    h.Set(T - 7, Metric::kSteps, 1000).Set(T, Metric::kSteps, 1000.0000005);  // change 5e-7
    const RangeAnalytics& r = R7(Of(Compute(h), Metric::kSteps));
    EXPECT_EQ(r.absolute_change, 0.0);
    EXPECT_EQ(r.percentage_change, 0.0);
    EXPECT_EQ(r.is_improvement, std::optional<bool>(false));
    EXPECT_EQ(r.trend, "stable");
  }
  {
    History h;
    h.Set(T - 7, Metric::kSteps, 1000).Set(T, Metric::kSteps, 1000.000002);  // change 2e-6
    const RangeAnalytics& r = R7(Of(Compute(h), Metric::kSteps));
    EXPECT_NEAR(r.absolute_change, 2e-6, 1e-12);
    EXPECT_NEAR(r.percentage_change, 2e-7, 1e-12);  // 100 * 2e-6 / 1000
    EXPECT_EQ(r.is_improvement, std::optional<bool>(true));
  }
  // Below a mean of 1 the tolerance is 1e-9 * 1: hydration 0.5 then 0.5 + 5e-10 is no change,
  // 0.5 then 0.5 + 3e-9 is one.
  {
    History h;
    h.Set(T - 7, Metric::kHydration, 0.5).Set(T, Metric::kHydration, 0.5 + 5e-10);
    EXPECT_EQ(R7(Of(Compute(h), Metric::kHydration)).absolute_change, 0.0);
  }
  {
    History h;
    h.Set(T - 7, Metric::kHydration, 0.5).Set(T, Metric::kHydration, 0.5 + 3e-9);
    EXPECT_NEAR(R7(Of(Compute(h), Metric::kHydration)).absolute_change, 3e-9, 1e-15);
  }
  // Weight 80 then 80 - 5e-8: lower would be an improvement, but |change| <= 8e-8 is none.
  {
    History h;
    h.Set(T - 7, Metric::kWeight, 80).Set(T, Metric::kWeight, 80 - 5e-8);
    const RangeAnalytics& r = R7(Of(Compute(h), Metric::kWeight));
    EXPECT_EQ(r.absolute_change, 0.0);
    EXPECT_EQ(r.is_improvement, std::optional<bool>(false));
  }
}

TEST(KernelTrend, ClampedToMinus100To1000) {
  // P = {1000}, W = {20000}: change 19000, 1900 % -> trendPercentage 1000, percentageChange not
  // clamped.
  History up;
  up.Set(T - 7, Metric::kSteps, 1000).Set(T, Metric::kSteps, 20000);
  const RangeAnalytics& r = R7(Of(Compute(up), Metric::kSteps));
  EXPECT_EQ(r.percentage_change, 1900.0);
  EXPECT_EQ(r.trend_percentage, 1000.0);
  EXPECT_EQ(r.trend, "up");
  // Hydration P = {2}, W = {0}: 100 * -2 / 2 = -100 exactly, the lower bound.
  History down;
  down.Set(T - 7, Metric::kHydration, 2).Set(T, Metric::kHydration, 0);
  const RangeAnalytics& d = R7(Of(Compute(down), Metric::kHydration));
  EXPECT_EQ(d.percentage_change, -100.0);
  EXPECT_EQ(d.trend_percentage, -100.0);
  EXPECT_EQ(d.trend, "down");
  EXPECT_EQ(d.is_improvement, std::optional<bool>(false));
}

TEST(KernelTrend, ThresholdT) {
  auto trend = [](double previous, double current, double t) {
    History h;
    h.Set(T - 7, Metric::kSteps, previous).Set(T, Metric::kSteps, current);
    AnalyticsOptions o;
    o.trend_threshold_percent = t;
    return std::string(R7(Of(Compute(h, o), Metric::kSteps)).trend);
  };
  // 1000 -> 1040 is +4 %, 1000 -> 960 is -4 %, 20000 -> 1000 is -95 %.
  EXPECT_EQ(trend(1000, 1040, 5), "stable");
  EXPECT_EQ(trend(1000, 1040, 3), "up");
  EXPECT_EQ(trend(1000, 960, 5), "stable");
  EXPECT_EQ(trend(1000, 960, 3), "down");
  EXPECT_EQ(trend(20000, 1000, 5), "down");
  EXPECT_EQ(trend(1000, 1060, 5), "up");  // +6 %
}

TEST(KernelPercentile, TiesCountHalf) {
  // Steps T-3 .. T: 1000 2000 3000 2000; x = 2000: one below, two equal: 100 * 2 / 4 = 50.
  History h;
  h.Run(Metric::kSteps, T - 3, {1000, 2000, 3000, 2000});
  EXPECT_EQ(R7(Of(Compute(h), Metric::kSteps)).percentile, 50.0);
  // x the smallest of 4 distinct: 100 * 0.5 / 4 = 12.5; the largest: 100 * 3.5 / 4 = 87.5.
  History low, high;
  low.Run(Metric::kSteps, T - 3, {4000, 2000, 3000, 1000});
  high.Run(Metric::kSteps, T - 3, {1000, 2000, 3000, 4000});
  EXPECT_EQ(R7(Of(Compute(low), Metric::kSteps)).percentile, 12.5);
  EXPECT_EQ(R7(Of(Compute(high), Metric::kSteps)).percentile, 87.5);
}

}  // namespace
}  // namespace ha
