// ComputeUser: the anomaly rule (baseline without the asOf observation, minimum baseline, two
// distinct values, |z| > Z and p >= minimum deviation, severity, message) and the overflow rule.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "analytics/kernel.h"
#include "test_util.h"

namespace ha {
namespace {

using namespace ha::testing;  // NOLINT
constexpr Day T = kToday;

// Baseline B on T-6 .. T-1: 1000 1100 900 1000 1100 900. Sum 6000, mean 1000. Deviations 0 100
// -100 0 100 -100, squares sum 40000, sd = sqrt(40000 / 5) = sqrt(8000) = 40 * sqrt(5).
History StepsWithBaseline(double x) {
  History h;
  h.Run(Metric::kSteps, T - 6, {1000, 1100, 900, 1000, 1100, 900, x});
  return h;
}

TEST(KernelAnomaly, HighAboveAverage) {
  // x = 1300: z = 300 / (40 sqrt 5) = 1.5 sqrt 5 = 3.354 > 3: high. p = 100 * 300 / 1000 = 30.
  // (With x inside the baseline, as the old job did: 7 values, mean 1042.86, sd 139.7,
  // z = 1.84 < 2, never flagged.)
  const RangeAnalytics& r = R7(Of(Compute(StepsWithBaseline(1300)), Metric::kSteps));
  ASSERT_TRUE(r.anomaly_detected);
  EXPECT_EQ(r.anomaly.severity, "high");
  EXPECT_EQ(r.anomaly.actual_value, 1300.0);
  EXPECT_EQ(r.anomaly.expected_value, 1000.0);
  EXPECT_NEAR(r.anomaly.deviation, 1.5 * std::sqrt(5.0), 1e-12);
  EXPECT_EQ(r.anomaly.message, "Steps 30% above average for this period");
}

TEST(KernelAnomaly, SeverityBands) {
  // x = 1250: z = 250 / (40 sqrt 5) = 1.25 sqrt 5 = 2.795: medium, p = 25.
  const RangeAnalytics& m = R7(Of(Compute(StepsWithBaseline(1250)), Metric::kSteps));
  ASSERT_TRUE(m.anomaly_detected);
  EXPECT_EQ(m.anomaly.severity, "medium");
  EXPECT_EQ(m.anomaly.message, "Steps 25% above average for this period");
  // x = 1200: z = 200 / (40 sqrt 5) = sqrt 5 = 2.236: low, p = 20.
  const RangeAnalytics& l = R7(Of(Compute(StepsWithBaseline(1200)), Metric::kSteps));
  ASSERT_TRUE(l.anomaly_detected);
  EXPECT_EQ(l.anomaly.severity, "low");
  EXPECT_NEAR(l.anomaly.deviation, std::sqrt(5.0), 1e-12);
  EXPECT_EQ(l.anomaly.message, "Steps 20% above average for this period");
  // Near the band edges (but not within 1e-9 of them): x = 1232: z = 232 / 89.443 = 2.594,
  // medium, p = 23.2 -> 23; x = 1280: z = 280 / 89.443 = 3.130, high, p = 28.
  const RangeAnalytics& m2 = R7(Of(Compute(StepsWithBaseline(1232)), Metric::kSteps));
  ASSERT_TRUE(m2.anomaly_detected);
  EXPECT_EQ(m2.anomaly.severity, "medium");
  EXPECT_EQ(m2.anomaly.message, "Steps 23% above average for this period");
  const RangeAnalytics& h2 = R7(Of(Compute(StepsWithBaseline(1280)), Metric::kSteps));
  ASSERT_TRUE(h2.anomaly_detected);
  EXPECT_EQ(h2.anomaly.severity, "high");
  // x = 1180: z = 180 / 89.443 = 2.012 (> 2), low, p = 18.
  const RangeAnalytics& l2 = R7(Of(Compute(StepsWithBaseline(1180)), Metric::kSteps));
  ASSERT_TRUE(l2.anomaly_detected);
  EXPECT_EQ(l2.anomaly.severity, "low");
  // x = 1150: z = 150 / 89.44 = 1.68 <= 2: not anomalous, details left empty.
  const RangeAnalytics& n = R7(Of(Compute(StepsWithBaseline(1150)), Metric::kSteps));
  EXPECT_FALSE(n.anomaly_detected);
  EXPECT_TRUE(n.anomaly.message.empty());
}

TEST(KernelAnomaly, BelowAverageHasANegativeDeviation) {
  // x = 750: z = -250 / (40 sqrt 5) = -2.795: medium; p = 100 * 250 / 1000 = 25.
  const RangeAnalytics& r = R7(Of(Compute(StepsWithBaseline(750)), Metric::kSteps));
  ASSERT_TRUE(r.anomaly_detected);
  EXPECT_EQ(r.anomaly.severity, "medium");
  EXPECT_NEAR(r.anomaly.deviation, -1.25 * std::sqrt(5.0), 1e-12);
  EXPECT_EQ(r.anomaly.actual_value, 750.0);
  EXPECT_EQ(r.anomaly.message, "Steps 25% below average for this period");
}

TEST(KernelAnomaly, ZThresholdIsConfigurable) {
  AnalyticsOptions o;
  o.anomaly_z_threshold = 4;  // z = 3.354 is no longer enough
  EXPECT_FALSE(R7(Of(Compute(StepsWithBaseline(1300), o), Metric::kSteps)).anomaly_detected);
}

TEST(KernelAnomaly, PercentRoundsHalvesAwayFromZero) {
  // B = 1000 1050 950 1000 1050 950: mean 1000, sd = sqrt(4 * 2500 / 5) = sqrt(2000) = 44.72.
  // x = 1125: 100 * 125 / 1000 = 12.5 exactly -> 13; z = 125 / 44.72 = 2.795 (medium).
  History up;
  up.Run(Metric::kSteps, T - 6, {1000, 1050, 950, 1000, 1050, 950, 1125});
  const RangeAnalytics& r = R7(Of(Compute(up), Metric::kSteps));
  ASSERT_TRUE(r.anomaly_detected);
  EXPECT_EQ(r.anomaly.message, "Steps 13% above average for this period");
  // x = 875: 12.5 again, below: 13 (away from zero, not to even 12).
  History down;
  down.Run(Metric::kSteps, T - 6, {1000, 1050, 950, 1000, 1050, 950, 875});
  const RangeAnalytics& d = R7(Of(Compute(down), Metric::kSteps));
  ASSERT_TRUE(d.anomaly_detected);
  EXPECT_EQ(d.anomaly.message, "Steps 13% below average for this period");
  // 669.2 rounds down: B = 4000 .. 9000 by 1000 (mean 6500), x = 50000:
  // 100 * 43500 / 6500 = 669.23 -> 669.
  History big;
  big.Run(Metric::kSteps, T - 6, {4000, 5000, 6000, 7000, 8000, 9000, 50000});
  EXPECT_EQ(R7(Of(Compute(big), Metric::kSteps)).anomaly.message,
            "Steps 669% above average for this period");
}

TEST(KernelAnomaly, MinimumDeviationPercentKeepsRegularSeriesQuiet) {
  // Weight B = 80.0 80.1 79.9 80.0 80.1 79.9: mean 80, sd = sqrt(4 * 0.01 / 5) = sqrt(0.008)
  // = 0.0894; x = 80.3: z = 0.3 / 0.0894 = 3.354 (> 2), but p = round(100 * 0.3 / 80)
  // = round(0.375) = 0 < 5: not anomalous.
  History h;
  h.Run(Metric::kWeight, T - 6, {80.0, 80.1, 79.9, 80.0, 80.1, 79.9, 80.3});
  EXPECT_FALSE(R7(Of(Compute(h), Metric::kWeight)).anomaly_detected);
  // With the minimum at 0 the z test alone decides: high, "0%".
  AnalyticsOptions o;
  o.anomaly_min_deviation_percent = 0;
  const RangeAnalytics& r = R7(Of(Compute(h, o), Metric::kWeight));
  ASSERT_TRUE(r.anomaly_detected);
  EXPECT_EQ(r.anomaly.severity, "high");
  EXPECT_NEAR(r.anomaly.deviation, 1.5 * std::sqrt(5.0), 1e-9);
  EXPECT_NEAR(r.anomaly.expected_value, 80.0, 1e-12);
  EXPECT_EQ(r.anomaly.message, "Weight 0% above average for this period");
}

TEST(KernelAnomaly, BaselineTooSmall) {
  // Five observations: B = 1000 1100 900 1000 (m = 4 < 5), x = 5000: not anomalous.
  History h;
  h.Run(Metric::kSteps, T - 4, {1000, 1100, 900, 1000, 5000});
  EXPECT_FALSE(R7(Of(Compute(h), Metric::kSteps)).anomaly_detected);
  // With a minimum of 4: mean 1000, sd = sqrt(2 * 10000 / 3) = 81.65, z = 4000 / 81.65 = 49:
  // high; p = 100 * 4000 / 1000 = 400.
  AnalyticsOptions o;
  o.anomaly_min_baseline = 4;
  const RangeAnalytics& r = R7(Of(Compute(h, o), Metric::kSteps));
  ASSERT_TRUE(r.anomaly_detected);
  EXPECT_EQ(r.anomaly.severity, "high");
  EXPECT_NEAR(r.anomaly.deviation, 4000 / std::sqrt(20000.0 / 3), 1e-9);
  EXPECT_EQ(r.anomaly.message, "Steps 400% above average for this period");
}

TEST(KernelAnomaly, BaselineWithoutTwoDistinctValues) {
  // B = 1000 x 6 (sd 0), x = 5000: never anomalous, even though x is five times the average.
  History h;
  h.Run(Metric::kSteps, T - 6, {1000, 1000, 1000, 1000, 1000, 1000, 5000});
  const UserAnalytics u = Compute(h);
  EXPECT_FALSE(R7(Of(u, Metric::kSteps)).anomaly_detected);
  EXPECT_TRUE(u.overflow.empty());
}

TEST(KernelAnomaly, EachRangeHasItsOwnBaseline) {
  // The 7-day baseline as above (x = 1300: high). The 30-day one adds 1300 on T-20 .. T-15:
  // B = 1300 x 6 + 1000 1100 900 1000 1100 900, mean 13800 / 12 = 1150; squared deviations
  // 6 * 22500 + (22500 2500 62500 22500 2500 62500) = 310000, sd = sqrt(310000 / 11) = 167.9;
  // z = 150 / 167.9 = 0.89: not anomalous. The 90-day window holds the same days.
  History h = StepsWithBaseline(1300);
  h.Run(Metric::kSteps, T - 20, {1300, 1300, 1300, 1300, 1300, 1300});
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_TRUE(R7(a).anomaly_detected);
  EXPECT_FALSE(R30(a).anomaly_detected);
  EXPECT_FALSE(R90(a).anomaly_detected);
  // 7800 + 6000 + x 1300 = 15100 over 13 days.
  EXPECT_NEAR(R30(a).rolling_average, 15100.0 / 13, 1e-9);
}

TEST(KernelAnomaly, ZeroBaselineMeanIsNotAnomalous) {
  // Hydration B = 0 0 0 0 0 and the smallest denormal: two distinct values, but their mean
  // (4.9e-324 / 6) rounds to 0, so p cannot be computed: not anomalous (our decision), and the
  // metric is still computed (nothing non-finite is written).
  const double tiny = std::numeric_limits<double>::denorm_min();
  History h;
  h.Run(Metric::kHydration, T - 6, {0, 0, 0, 0, 0, tiny, 1});
  const UserAnalytics u = Compute(h);
  const MetricAnalytics* a = Find(u, Metric::kHydration);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(R7(*a).anomaly_detected);
  EXPECT_TRUE(u.overflow.empty());
}

TEST(KernelNumerics, NonFiniteResultGoesToOverflow) {
  // Hydration P = {denorm_min} on T-7, W = {1} on T: percentageChange = 100 * 1 / 4.9e-324
  // overflows to infinity. Steps on the same days are unaffected.
  const double tiny = std::numeric_limits<double>::denorm_min();
  History h;
  h.Set(T - 7, Metric::kHydration, tiny).Set(T, Metric::kHydration, 1);
  h.Set(T - 7, Metric::kSteps, 1000).Set(T, Metric::kSteps, 2000);
  const UserAnalytics u = Compute(h);
  EXPECT_EQ(Find(u, Metric::kHydration), nullptr);
  EXPECT_EQ(u.overflow, std::vector<Metric>{Metric::kHydration});
  ASSERT_NE(Find(u, Metric::kSteps), nullptr);
  EXPECT_EQ(R7(Of(u, Metric::kSteps)).percentage_change, 100.0);  // 100 * 1000 / 1000
}

TEST(KernelNumerics, NonFiniteZScoreGoesToOverflow) {
  // Hydration B = 0 x 5 and 1e-200: the squared deviations (about 1e-400) underflow to 0, so
  // sd(B) = 0 although B holds two values; mean(B) = 1.67e-201 > 0 and z = x / 0 is infinite.
  History h;
  h.Run(Metric::kHydration, T - 6, {0, 0, 0, 0, 0, 1e-200, 1});
  const UserAnalytics u = Compute(h);
  EXPECT_EQ(Find(u, Metric::kHydration), nullptr);
  EXPECT_TRUE(Contains(u.overflow, Metric::kHydration));
}

}  // namespace
}  // namespace ha
