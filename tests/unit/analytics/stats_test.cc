#include "analytics/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace ha::stats {
namespace {

TEST(AccurateSum, KeepsTheLowBitsANaiveSumLoses) {
  // 1e16 + 1 is a tie between 1e16 and 1e16 + 2 (doubles are 2 apart there) and rounds to the
  // even 1e16, twice, so a naive loop returns 1e16. The exact sum 1e16 + 2 is representable.
  const std::vector<double> v = {1e16, 1.0, 1.0};
  double naive = 0;
  for (double x : v) naive += x;
  ASSERT_EQ(naive, 1e16);  // the premise of the test
  EXPECT_EQ(AccurateSum(v), 1e16 + 2);
}

TEST(AccurateSum, EmptyIsZero) { EXPECT_EQ(AccurateSum({}), 0.0); }

TEST(Summarize, MeanSampleSdMinMax) {
  // {2,4,4,4,5,5,7,9}: sum 40, mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32;
  // sample sd = sqrt(32 / 7).
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  const Summary s = Summarize(v);
  EXPECT_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(32.0 / 7.0));
  EXPECT_EQ(s.min, 2.0);
  EXPECT_EQ(s.max, 9.0);
  EXPECT_FALSE(s.all_equal);
}

TEST(Summarize, SingleValueHasSdZero) {
  const std::vector<double> v = {42.5};
  const Summary s = Summarize(v);
  EXPECT_EQ(s.mean, 42.5);
  EXPECT_EQ(s.sd, 0.0);
  EXPECT_TRUE(s.all_equal);
}

TEST(Summarize, EqualValuesGiveExactlyThatValueAndSdZero) {
  // Ten times 0.1: the rounded sum is 0.9999999999999999 with a naive loop, whose tenth is not
  // 0.1; the spec wants exactly 0.1 and sd exactly 0.
  const std::vector<double> v(10, 0.1);
  const Summary s = Summarize(v);
  EXPECT_EQ(s.mean, 0.1);
  EXPECT_EQ(s.sd, 0.0);
  const std::vector<double> w(7, 70.3);
  EXPECT_EQ(Summarize(w).mean, 70.3);
  EXPECT_EQ(Summarize(w).sd, 0.0);
}

TEST(Summarize, TwoPassSdSurvivesALargeOffset) {
  // {1e8+1, 1e8+2, 1e8+3}: mean 1e8+2, deviations -1, 0, 1, sd = sqrt(2 / 2) = 1 exactly.
  // The sum-of-squares shortcut subtracts numbers near 3e16 and loses every digit of it.
  const std::vector<double> v = {1e8 + 1, 1e8 + 2, 1e8 + 3};
  const Summary s = Summarize(v);
  EXPECT_EQ(s.mean, 1e8 + 2);
  EXPECT_EQ(s.sd, 1.0);
}

TEST(Median, OddCountIsTheMiddleValue) {
  std::vector<double> v = {9, 1, 5};  // sorted 1 5 9
  EXPECT_EQ(MedianInPlace(v), 5.0);
}

TEST(Median, EvenCountIsTheMeanOfTheTwoMiddleValues) {
  std::vector<double> v = {4, 1, 3, 2};  // sorted 1 2 3 4: (2 + 3) / 2 = 2.5
  EXPECT_EQ(MedianInPlace(v), 2.5);
  std::vector<double> w = {9, 7.3, 1, 7.3};  // sorted 1 7.3 7.3 9: exactly 7.3
  EXPECT_EQ(MedianInPlace(w), 7.3);
  std::vector<double> two = {0.1, 0.1};
  EXPECT_EQ(MedianInPlace(two), 0.1);
}

TEST(PercentileRank, CountsTiesAsHalf) {
  // {1, 2, 2, 3}, x = 2: one below, two equal: 100 * (1 + 0.5 * 2) / 4 = 50.
  const std::vector<double> v = {1, 2, 2, 3};
  EXPECT_EQ(PercentileRank(v, 2), 50.0);
  // x = 3: three below, one equal: 100 * 3.5 / 4 = 87.5.
  EXPECT_EQ(PercentileRank(v, 3), 87.5);
  // x = 1: none below, one equal: 100 * 0.5 / 4 = 12.5.
  EXPECT_EQ(PercentileRank(v, 1), 12.5);
  const std::vector<double> one = {7};
  EXPECT_EQ(PercentileRank(one, 7), 50.0);
}

}  // namespace
}  // namespace ha::stats
