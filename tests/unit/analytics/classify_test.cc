#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "analytics/kernel.h"

namespace ha {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(ClassifyValue, ValidRangesAreInclusive) {
  const AnalyticsOptions o;
  struct Case {
    Metric m;
    double lo, hi;
  };
  // The table of spec section 2.
  for (const Case c : {Case{Metric::kSteps, 0, 100000}, Case{Metric::kDistance, 0, 500},
                       Case{Metric::kCalories, 0, 10000}, Case{Metric::kActiveMinutes, 0, 1440},
                       Case{Metric::kHeartPoints, 0, 500}, Case{Metric::kWeight, 30, 300},
                       Case{Metric::kSleepHours, 0, 24}, Case{Metric::kHydration, 0, 10}}) {
    SCOPED_TRACE(std::string(MetricInfoOf(c.m).name));
    EXPECT_EQ(ClassifyValue(c.m, c.hi, o), ValueClass::kObservation);
    EXPECT_EQ(ClassifyValue(c.m, (c.lo + c.hi) / 2, o), ValueClass::kObservation);
    EXPECT_EQ(ClassifyValue(c.m, c.hi + 0.001, o), ValueClass::kOutOfRange);
    EXPECT_EQ(ClassifyValue(c.m, c.lo - 0.001, o), ValueClass::kOutOfRange);
    EXPECT_EQ(ClassifyValue(c.m, -1, o), ValueClass::kOutOfRange);
    EXPECT_EQ(ClassifyValue(c.m, 1e300, o), ValueClass::kOutOfRange);
  }
  EXPECT_EQ(ClassifyValue(Metric::kWeight, 30, o), ValueClass::kObservation);
  EXPECT_EQ(ClassifyValue(Metric::kWeight, 29.999, o), ValueClass::kOutOfRange);
}

TEST(ClassifyValue, ZeroIsNoDataForTheFiveActivityMetrics) {
  const AnalyticsOptions o;  // zero_is_missing = true
  for (Metric m : {Metric::kSteps, Metric::kDistance, Metric::kCalories, Metric::kActiveMinutes,
                   Metric::kHeartPoints}) {
    EXPECT_EQ(ClassifyValue(m, 0, o), ValueClass::kNoData) << MetricInfoOf(m).name;
    EXPECT_EQ(ClassifyValue(m, -0.0, o), ValueClass::kNoData) << MetricInfoOf(m).name;
  }
  // Zero is a value for sleep and hydration, and invalid for weight (range 30..300).
  EXPECT_EQ(ClassifyValue(Metric::kSleepHours, 0, o), ValueClass::kObservation);
  EXPECT_EQ(ClassifyValue(Metric::kHydration, 0, o), ValueClass::kObservation);
  EXPECT_EQ(ClassifyValue(Metric::kWeight, 0, o), ValueClass::kOutOfRange);
}

TEST(ClassifyValue, ZeroIsAnObservationWhenZeroIsMissingIsOff) {
  AnalyticsOptions o;
  o.zero_is_missing = false;
  for (Metric m : {Metric::kSteps, Metric::kDistance, Metric::kCalories, Metric::kActiveMinutes,
                   Metric::kHeartPoints, Metric::kSleepHours, Metric::kHydration}) {
    EXPECT_EQ(ClassifyValue(m, 0, o), ValueClass::kObservation) << MetricInfoOf(m).name;
  }
  EXPECT_EQ(ClassifyValue(Metric::kWeight, 0, o), ValueClass::kOutOfRange);
}

TEST(ClassifyValue, NaNAndInfinitiesAreNonFinite) {
  const AnalyticsOptions o;
  for (const MetricInfo& i : kMetricInfo) {
    EXPECT_EQ(ClassifyValue(i.metric, kNaN, o), ValueClass::kNonFinite) << i.name;
    EXPECT_EQ(ClassifyValue(i.metric, kInf, o), ValueClass::kNonFinite) << i.name;
    EXPECT_EQ(ClassifyValue(i.metric, -kInf, o), ValueClass::kNonFinite) << i.name;
  }
}

TEST(DefaultGoals, MatchesTheSpecTable) {
  const Goals g = DefaultGoals();
  EXPECT_EQ(g.goal[static_cast<int>(Metric::kSteps)], 10000);
  EXPECT_EQ(g.goal[static_cast<int>(Metric::kDistance)], 5);
  EXPECT_EQ(g.goal[static_cast<int>(Metric::kCalories)], 2000);
  EXPECT_EQ(g.goal[static_cast<int>(Metric::kSleepHours)], 8);
  for (Metric m :
       {Metric::kActiveMinutes, Metric::kHeartPoints, Metric::kWeight, Metric::kHydration}) {
    EXPECT_EQ(g.goal[static_cast<int>(m)], 0) << MetricInfoOf(m).name;
  }
}

}  // namespace
}  // namespace ha
