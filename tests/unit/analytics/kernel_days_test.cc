// ComputeUser: which days take part (one winner per UTC day, days after today, the horizon)
// and the goal-aware streaks.
#include <gtest/gtest.h>

#include <limits>

#include "analytics/kernel.h"
#include "test_util.h"

namespace ha {
namespace {

using namespace ha::testing;  // NOLINT
constexpr Day T = kToday;

DayRecord Doc(Day day, std::optional<Instant> updated_at, uint8_t id) {
  DayRecord r;
  r.day = day;
  r.updated_at = updated_at;
  r.id = Oid(id);
  return r;
}

DayRecord& With(DayRecord& r, Metric m, double v) {
  r.observed |= Bit(m);
  r.value[static_cast<int>(m)] = v;
  return r;
}

double OnlyStepsValue(const std::vector<DayRecord>& records) {
  const UserAnalytics u = ComputeUser(records, DefaultGoals(), T, {});
  const MetricAnalytics* a = Find(u, Metric::kSteps);
  if (a == nullptr) {
    ADD_FAILURE() << "no steps analytics";
    return -1;
  }
  EXPECT_EQ(R7(*a).data_points_count, 1);
  return R7(*a).rolling_average;
}

// ---- One document per day ----

TEST(KernelDays, LaterUpdatedAtWins) {
  // Same day: id 9 updated at t0 holds 1000, id 1 updated at t0 + 1 ms holds 2000.
  const Instant t0 = StartOf(T) + 5000;
  DayRecord a = Doc(T, t0, 9), b = Doc(T, t0 + 1, 1);
  With(a, Metric::kSteps, 1000);
  With(b, Metric::kSteps, 2000);
  EXPECT_EQ(OnlyStepsValue({a, b}), 2000.0);
  EXPECT_EQ(OnlyStepsValue({b, a}), 2000.0);
}

TEST(KernelDays, EqualUpdatedAtGreaterIdWins) {
  const Instant t0 = StartOf(T) + 5000;
  DayRecord a = Doc(T, t0, 1), b = Doc(T, t0, 2);
  With(a, Metric::kSteps, 1000);
  With(b, Metric::kSteps, 2000);
  EXPECT_EQ(OnlyStepsValue({a, b}), 2000.0);
  EXPECT_EQ(OnlyStepsValue({b, a}), 2000.0);
  // ObjectIds compare bytewise from the first byte: 01 00 .. 00 beats 00 .. 00 ff.
  DayRecord c = Doc(T, t0, 0xff), d = Doc(T, t0, 0);
  d.id.bytes[0] = 1;
  With(c, Metric::kSteps, 1000);
  With(d, Metric::kSteps, 3000);
  EXPECT_EQ(OnlyStepsValue({c, d}), 3000.0);
}

TEST(KernelDays, MissingUpdatedAtRanksBelowEveryDate) {
  // No updatedAt with the greatest id loses to a Date before 1970 (-5 ms).
  DayRecord a = Doc(T, std::nullopt, 0xff), b = Doc(T, Instant{-5}, 1);
  With(a, Metric::kSteps, 1000);
  With(b, Metric::kSteps, 2000);
  EXPECT_EQ(OnlyStepsValue({a, b}), 2000.0);
  EXPECT_EQ(OnlyStepsValue({b, a}), 2000.0);
  // Both missing: the greater id wins.
  DayRecord c = Doc(T, std::nullopt, 3), d = Doc(T, std::nullopt, 4);
  With(c, Metric::kSteps, 1000);
  With(d, Metric::kSteps, 4000);
  EXPECT_EQ(OnlyStepsValue({d, c}), 4000.0);
}

TEST(KernelDays, LosersAreIgnoredEvenForMetricsTheWinnerLacks) {
  // The winner of T holds steps only; the loser holds steps and weight. Weight has no
  // observation at all, so it gets no analytics.
  DayRecord winner = Doc(T, StartOf(T) + 2, 1), loser = Doc(T, StartOf(T) + 1, 2);
  With(winner, Metric::kSteps, 2000);
  With(loser, Metric::kSteps, 1000);
  With(loser, Metric::kWeight, 80);
  const std::vector<DayRecord> records = {loser, winner};
  const UserAnalytics u = ComputeUser(records, DefaultGoals(), T, {});
  ASSERT_EQ(u.metrics.size(), 1u);
  EXPECT_EQ(u.metrics[0].metric, Metric::kSteps);
  EXPECT_EQ(R7(u.metrics[0]).rolling_average, 2000.0);
  // The loser's weight on T does not replace the winner's missing one for asOf either: with a
  // weight on T-1 from another day, asOf is T-1.
  DayRecord yesterday = Doc(T - 1, StartOf(T - 1), 3);
  With(yesterday, Metric::kWeight, 81);
  const std::vector<DayRecord> more = {loser, winner, yesterday};
  const UserAnalytics v = ComputeUser(more, DefaultGoals(), T, {});
  const MetricAnalytics* w = Find(v, Metric::kWeight);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->as_of, T - 1);
  EXPECT_EQ(R7(*w).data_points_count, 1);
  EXPECT_EQ(R7(*w).rolling_average, 81.0);
}

TEST(KernelDays, DuplicateDaysCountOnce) {
  // T-1 has three versions (1000, 3000, 2000 in update order); T has 4000. n = 2, the T-1
  // value is the latest version's 2000: mean (2000 + 4000) / 2 = 3000.
  std::vector<DayRecord> records;
  for (const auto& [t, v] : {std::pair<int, double>{1, 1000}, {3, 2000}, {2, 3000}}) {
    DayRecord r = Doc(T - 1, StartOf(T - 1) + t, 7);
    records.push_back(With(r, Metric::kSteps, v));
  }
  DayRecord today = Doc(T, StartOf(T), 7);
  records.push_back(With(today, Metric::kSteps, 4000));
  const UserAnalytics u = ComputeUser(records, DefaultGoals(), T, {});
  const RangeAnalytics& r = R7(Of(u, Metric::kSteps));
  EXPECT_EQ(r.data_points_count, 2);
  EXPECT_EQ(r.rolling_average, 3000.0);
  ASSERT_EQ(r.historical.size(), 2u);
  EXPECT_EQ(r.historical[0], (std::pair<Day, double>{T - 1, 2000.0}));
}

TEST(KernelDays, DaysAfterTodayAreIgnored) {
  History h;
  h.Set(T, Metric::kSteps, 1000).Set(T + 1, Metric::kSteps, 50000).Set(T + 30, Metric::kWeight, 80);
  const UserAnalytics u = Compute(h);
  ASSERT_EQ(u.metrics.size(), 1u);  // weight only exists in the future
  EXPECT_EQ(u.metrics[0].as_of, T);
  EXPECT_EQ(R7(u.metrics[0]).data_points_count, 1);
  EXPECT_EQ(R7(u.metrics[0]).rolling_average, 1000.0);
  // Once that day comes, it counts.
  EXPECT_EQ(Compute(h, {}, DefaultGoals(), T + 1).metrics[0].as_of, T + 1);
}

TEST(KernelDays, NoObservationMeansNoAnalytics) {
  EXPECT_TRUE(ComputeUser({}, DefaultGoals(), T, {}).metrics.empty());
  // A document without any observation (all values missing, zero or invalid).
  DayRecord empty = Doc(T, StartOf(T), 1);
  const std::vector<DayRecord> records = {empty};
  const UserAnalytics u = ComputeUser(records, DefaultGoals(), T, {});
  EXPECT_TRUE(u.metrics.empty());
  EXPECT_TRUE(u.overflow.empty());
}

TEST(KernelDays, HorizonBoundsWindowsAndPreviousWindow) {
  // HISTORY_DAYS 10: the horizon is [T-9, T]. Steps T-10: 100000 (outside), T-8: 2000, T: 4000.
  AnalyticsOptions o;
  o.history_days = 10;
  History h;
  h.Set(T - 10, Metric::kSteps, 100000)
      .Set(T - 8, Metric::kSteps, 2000)
      .Set(T, Metric::kSteps, 4000);
  const MetricAnalytics& a = Of(Compute(h, o), Metric::kSteps);
  // 7day: W = {4000}; P = [T-13, T-7] within the horizon = {2000} (not 100000):
  // change 2000, 100 * 2000 / 2000 = 100 %.
  EXPECT_EQ(R7(a).absolute_change, 2000.0);
  EXPECT_EQ(R7(a).percentage_change, 100.0);
  // 30day: W = {2000, 4000} only, n = 2, completeness still over N = 30: 100 * 2 / 30.
  EXPECT_EQ(R30(a).data_points_count, 2);
  EXPECT_EQ(R30(a).rolling_average, 3000.0);
  EXPECT_NEAR(R30(a).completeness_percentage, 6.6666666666666667, 1e-12);
  EXPECT_FALSE(R30(a).is_improvement.has_value());
  // The default horizon (180 days) sees T-10: 30day W = {100000, 2000, 4000}.
  EXPECT_EQ(R30(Of(Compute(h), Metric::kSteps)).data_points_count, 3);
}

TEST(KernelDays, DataOnlyBeforeTheHorizonGivesNoAnalytics) {
  History h;
  h.Set(T - 180, Metric::kSteps, 5000);  // the default horizon starts at T-179
  EXPECT_TRUE(Compute(h).metrics.empty());
  h.Set(T - 179, Metric::kSteps, 6000);
  const UserAnalytics u = Compute(h);
  ASSERT_EQ(u.metrics.size(), 1u);
  EXPECT_EQ(u.metrics[0].as_of, T - 179);
  EXPECT_EQ(R7(u.metrics[0]).rolling_average, 6000.0);
}

TEST(KernelOutput, MetricsInEnumOrderWithTheirThreeRanges) {
  History h;
  h.Set(T, Metric::kHydration, 2).Set(T, Metric::kSteps, 100).Set(T - 1, Metric::kWeight, 80);
  const UserAnalytics u = Compute(h);
  ASSERT_EQ(u.metrics.size(), 3u);
  EXPECT_EQ(u.metrics[0].metric, Metric::kSteps);
  EXPECT_EQ(u.metrics[1].metric, Metric::kWeight);
  EXPECT_EQ(u.metrics[2].metric, Metric::kHydration);
  for (const MetricAnalytics& a : u.metrics) {
    EXPECT_EQ(a.ranges[0].range, TimeRange::k7Day);
    EXPECT_EQ(a.ranges[1].range, TimeRange::k30Day);
    EXPECT_EQ(a.ranges[2].range, TimeRange::k90Day);
  }
}

// ---- Streaks ----

TEST(KernelStreak, RunThroughToday) {
  // Steps (goal 10000) on T-8 .. T: 12000 x 5 (T-8 .. T-4), 9999, 10000, 11000, 15000.
  // Runs: T-8 .. T-4 (5) and T-2 .. T (3, 10000 meets the goal exactly).
  History h;
  h.Run(Metric::kSteps, T - 8, {12000, 12000, 12000, 12000, 12000, 9999, 10000, 11000, 15000});
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 3);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 2));
  EXPECT_EQ(a.longest_streak, 5);
}

TEST(KernelStreak, RunThroughYesterdayWhenTodayMissesTheGoal) {
  // T-2 and T-1 meet, T holds 5000: today is not over, the run ending yesterday counts.
  History h;
  h.Run(Metric::kSteps, T - 2, {12000, 12000, 5000});
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 2);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 2));
  EXPECT_EQ(a.longest_streak, 2);
}

TEST(KernelStreak, RunThroughYesterdayWhenTodayHasNoData) {
  History h;
  h.Run(Metric::kSteps, T - 3, {12000, 12000, 12000});  // T-3 .. T-1
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 3);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 3));
}

TEST(KernelStreak, BrokenWhenYesterdayAndTodayMiss) {
  // T-5 .. T-2 meet (4 days), T-1 holds 3000, T nothing: current streak 0, longest 4.
  History h;
  h.Run(Metric::kSteps, T - 5, {12000, 12000, 12000, 12000, 3000});
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 0);
  EXPECT_FALSE(a.streak_start.has_value());
  EXPECT_EQ(a.longest_streak, 4);
}

TEST(KernelStreak, DayWithoutDataBreaksARun) {
  // T-4, T-3 meet; T-2 no document; T-1, T meet: two runs of 2.
  History h;
  h.Run(Metric::kSteps, T - 4, {12000, 12000, kGap, 12000, 12000});
  const MetricAnalytics& a = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 2);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 1));
  EXPECT_EQ(a.longest_streak, 2);
}

TEST(KernelStreak, GoalComesFromGoals) {
  // Steps 6000 on T-2 .. T: a 3-day streak with a goal of 5000, none with the default 10000.
  History h;
  h.Run(Metric::kSteps, T - 2, {6000, 6000, 6000});
  Goals g = DefaultGoals();
  g.goal[static_cast<int>(Metric::kSteps)] = 5000;
  EXPECT_EQ(Of(Compute(h, {}, g), Metric::kSteps).streak_days, 3);
  const MetricAnalytics& d = Of(Compute(h), Metric::kSteps);
  EXPECT_EQ(d.streak_days, 0);
  EXPECT_EQ(d.longest_streak, 0);
}

TEST(KernelStreak, InvalidGoalFallsBackToTheDefault) {
  // Steps T-2: 6000, T-1: 12000, T: 12000. With the default goal 10000: streak 2.
  History h;
  h.Run(Metric::kSteps, T - 2, {6000, 12000, 12000});
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    Goals g = DefaultGoals();
    g.goal[static_cast<int>(Metric::kSteps)] = bad;
    EXPECT_EQ(Of(Compute(h, {}, g), Metric::kSteps).streak_days, 2) << bad;
  }
}

TEST(KernelStreak, EachGoalMetricUsesItsOwnDefault) {
  // Defaults: distance 5, calories 2000, sleep 8. Today: distance 5 (meets), calories 1999
  // (misses), sleep 8 (meets).
  History h;
  h.Set(T, Metric::kDistance, 5).Set(T, Metric::kCalories, 1999).Set(T, Metric::kSleepHours, 8);
  const UserAnalytics u = Compute(h);
  EXPECT_EQ(Of(u, Metric::kDistance).streak_days, 1);
  EXPECT_EQ(Of(u, Metric::kCalories).streak_days, 0);
  EXPECT_EQ(Of(u, Metric::kSleepHours).streak_days, 1);
  EXPECT_EQ(Of(u, Metric::kSleepHours).streak_start, std::optional<Day>(T));
}

TEST(KernelStreak, MetricsWithoutGoalHaveNoStreak) {
  // Active minutes every day; even a goal slot filled in by mistake is not used.
  History h;
  h.Run(Metric::kActiveMinutes, T - 2, {60, 60, 60});
  Goals g = DefaultGoals();
  g.goal[static_cast<int>(Metric::kActiveMinutes)] = 30;
  const MetricAnalytics& a = Of(Compute(h, {}, g), Metric::kActiveMinutes);
  EXPECT_EQ(a.streak_days, 0);
  EXPECT_EQ(a.longest_streak, 0);
  EXPECT_FALSE(a.streak_start.has_value());
}

TEST(KernelStreak, CappedAtTheHorizon) {
  // 30 days meeting the goal (T-29 .. T) with HISTORY_DAYS 10: the run seen is T-9 .. T.
  AnalyticsOptions o;
  o.history_days = 10;
  History h;
  for (Day d = T - 29; d <= T; ++d) h.Set(d, Metric::kSteps, 12000);
  const MetricAnalytics& a = Of(Compute(h, o), Metric::kSteps);
  EXPECT_EQ(a.streak_days, 10);
  EXPECT_EQ(a.longest_streak, 10);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 9));
  // With the default horizon all 30 days count.
  EXPECT_EQ(Of(Compute(h), Metric::kSteps).streak_days, 30);
  EXPECT_EQ(Of(Compute(h), Metric::kSteps).streak_start, std::optional<Day>(T - 29));
}

TEST(KernelStreak, DependsOnTodayNotOnAsOf) {
  // Sleep 8.5 on T-4 .. T-1 (asOf T-1). Today T: streak 4 through yesterday. A day later
  // (today T+1) the run ends two days ago: streak 0, longest 4, averages unchanged.
  History h;
  h.Run(Metric::kSleepHours, T - 4, {8.5, 8.5, 8.5, 8.5});
  const MetricAnalytics& now = Of(Compute(h), Metric::kSleepHours);
  EXPECT_EQ(now.streak_days, 4);
  EXPECT_EQ(now.streak_start, std::optional<Day>(T - 4));
  const MetricAnalytics& later = Of(Compute(h, {}, DefaultGoals(), T + 1), Metric::kSleepHours);
  EXPECT_EQ(later.streak_days, 0);
  EXPECT_FALSE(later.streak_start.has_value());
  EXPECT_EQ(later.longest_streak, 4);
  EXPECT_EQ(later.as_of, T - 1);
  EXPECT_EQ(R7(later).rolling_average, 8.5);
}

TEST(KernelStreak, LosingDocumentDoesNotMeetTheGoal) {
  // T: the winner holds 5000, an older version 15000. The streak ends yesterday (T-1 meets).
  History h;
  h.Set(T - 1, Metric::kSteps, 12000);
  std::vector<DayRecord> records = h.Records();
  DayRecord older = Doc(T, StartOf(T) + 1, 1), newer = Doc(T, StartOf(T) + 2, 1);
  records.push_back(With(older, Metric::kSteps, 15000));
  records.push_back(With(newer, Metric::kSteps, 5000));
  const UserAnalytics u = ComputeUser(records, DefaultGoals(), T, {});
  const MetricAnalytics& a = Of(u, Metric::kSteps);
  EXPECT_EQ(a.streak_days, 1);
  EXPECT_EQ(a.streak_start, std::optional<Day>(T - 1));
}

}  // namespace
}  // namespace ha
