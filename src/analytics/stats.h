// Small, allocation-free statistics over spans of doubles, with these numerics rules:
// compensated sums, two-pass standard deviation, and sets of equal values that give exactly that
// value back (so a flat week reads as exactly its value, with a deviation of exactly 0).
#pragma once

#include <span>

namespace ha::stats {

// The sum of `values` with Kahan-Neumaier compensation: for the non-negative values the kernel
// sees, within a couple of ulps of the exact sum. 0 for an empty span.
double AccurateSum(std::span<const double> values);

// Mean, sample standard deviation, minimum and maximum of one set.
struct Summary {
  double mean = 0;
  double sd = 0;  // sample (n - 1); 0 when n == 1
  double min = 0;
  double max = 0;
  bool all_equal = true;  // min == max: then mean == min exactly and sd == 0 exactly
};

// Summarizes a non-empty set. mean = AccurateSum / n; sd = sqrt(sum((v - mean)^2) / (n - 1)),
// two-pass, the squares summed with compensation too. When every value is equal, mean is that
// value and sd is exactly 0 (no rounding noise). Precondition: !values.empty(), all finite.
Summary Summarize(std::span<const double> values);

// Median of a non-empty set: the middle value, or the mean of the two middle values when n is
// even (exactly that value when they are equal). Reorders `values` (partial selection, O(n)).
double MedianInPlace(std::span<double> values);

// Percentile rank of `x` in `values`: 100 * (count(v < x) + 0.5 * count(v == x)) / n, in
// [0, 100]. Precondition: !values.empty().
double PercentileRank(std::span<const double> values, double x);

}  // namespace ha::stats
