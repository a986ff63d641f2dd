#include "analytics/stats.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace ha::stats {

namespace {

// Neumaier's variant of Kahan summation: also exact when a term is larger than the running sum.
class CompensatedSum {
 public:
  void Add(double v) {
    const double t = sum_ + v;
    if (std::fabs(sum_) >= std::fabs(v)) {
      compensation_ += (sum_ - t) + v;
    } else {
      compensation_ += (v - t) + sum_;
    }
    sum_ = t;
  }
  double Total() const { return sum_ + compensation_; }

 private:
  double sum_ = 0;
  double compensation_ = 0;
};

}  // namespace

double AccurateSum(std::span<const double> values) {
  CompensatedSum s;
  for (double v : values) s.Add(v);
  return s.Total();
}

Summary Summarize(std::span<const double> values) {
  Summary out;
  const double first = values.front();
  double lo = first, hi = first;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  out.min = lo;
  out.max = hi;
  if (lo == hi) {
    // All equal (this also covers n == 1): the spec wants exactly that value and sd exactly 0,
    // which a rounded sum / n would not guarantee.
    out.mean = first;
    out.sd = 0;
    out.all_equal = true;
    return out;
  }
  out.all_equal = false;
  const double n = static_cast<double>(values.size());
  const double mean = AccurateSum(values) / n;
  CompensatedSum squares;
  for (double v : values) {
    const double d = v - mean;
    squares.Add(d * d);
  }
  out.mean = mean;
  out.sd = std::sqrt(squares.Total() / (n - 1));
  return out;
}

double MedianInPlace(std::span<double> values) {
  const size_t n = values.size();
  const size_t k = n / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  const double upper = values[k];
  if (n % 2 == 1) return upper;
  // After nth_element every element before k is <= values[k]: the lower middle is their maximum.
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k));
  if (lower == upper) return upper;
  // (a + b) / 2 is correctly rounded for the bounded values the kernel sees (no overflow).
  return (lower + upper) / 2;
}

double PercentileRank(std::span<const double> values, double x) {
  size_t below = 0, equal = 0;
  for (double v : values) {
    below += v < x;
    equal += v == x;
  }
  const double rank = static_cast<double>(below) + 0.5 * static_cast<double>(equal);
  return 100.0 * rank / static_cast<double>(values.size());
}

}  // namespace ha::stats
