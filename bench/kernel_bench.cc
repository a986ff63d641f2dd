// ComputeUser throughput: full 180-day histories with all eight metrics, the shape of a user
// who logs every day. Reports observations per second (target: >= 5 million on one core; see
// docs/PERFORMANCE.md, section "Kernel").
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "analytics/kernel.h"

namespace ha {
namespace {

constexpr Day kToday = 20412;  // 2025-11-20

// `users` histories of `days` days ending today, every metric observed every day, in shuffled
// order (as a reader would hand them over), values around each metric's goal or mid-range with a
// few spikes so that some anomalies and streaks occur.
std::vector<std::vector<DayRecord>> MakeHistories(int users, int days, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<DayRecord>> out(static_cast<size_t>(users));
  for (auto& records : out) {
    records.reserve(static_cast<size_t>(days));
    for (int i = 0; i < days; ++i) {
      DayRecord r;
      r.day = kToday - i;
      r.updated_at = StartOf(r.day) + 3'600'000;
      r.id.bytes[11] = static_cast<uint8_t>(i);
      for (const MetricInfo& info : kMetricInfo) {
        const double center =
            info.default_goal > 0 ? info.default_goal : (info.min_valid + info.max_valid) / 4 + 1;
        double v = center * std::uniform_real_distribution<double>(0.6, 1.3)(rng);
        if (std::bernoulli_distribution(0.02)(rng)) v = center * 3;
        r.value[static_cast<int>(info.metric)] = std::clamp(v, info.min_valid, info.max_valid);
        r.observed |= static_cast<uint8_t>(1u << static_cast<int>(info.metric));
      }
      records.push_back(r);
    }
    std::shuffle(records.begin(), records.end(), rng);
  }
  return out;
}

void BM_ComputeUser(benchmark::State& state) {
  const int days = static_cast<int>(state.range(0));
  const auto histories = MakeHistories(64, days, 42);
  const Goals goals = DefaultGoals();
  const AnalyticsOptions options;  // HISTORY_DAYS 180
  const int64_t observations_per_user = int64_t{days} * kMetricCount;
  size_t next = 0;
  for (auto _ : state) {
    UserAnalytics result = ComputeUser(histories[next], goals, kToday, options);
    benchmark::DoNotOptimize(result);
    next = (next + 1) % histories.size();
  }
  state.counters["observations"] = benchmark::Counter(
      static_cast<double>(state.iterations() * observations_per_user), benchmark::Counter::kIsRate);
  state.counters["users"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ComputeUser)->Arg(180)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ha
