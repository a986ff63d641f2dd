// `compute` throughput in input documents per second, in-process over `seed` data (see
// docs/PERFORMANCE.md, section "compute"). BM_ComputePipeline is the whole offline path minus
// the file I/O: parse Extended JSON -> decode -> group -> kernel -> encode -> relaxed JSON.
// The other benchmarks split it into its stages.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "cli/compute.h"
#include "codec/analytics_doc.h"
#include "codec/ejson.h"
#include "codec/healthmetric.h"
#include "codec/synthetic.h"

namespace ha {
namespace {

constexpr Instant kNow = StartOf(20412) + 36'000'000;  // 2025-11-20T10:00:00Z

struct SeedLines : SeedSink {
  std::vector<std::string> users, metrics;
  void OnUser(const bson_t* doc) override { users.push_back(ToRelaxedJson(doc)); }
  void OnMetric(const bson_t* doc) override { metrics.push_back(ToRelaxedJson(doc)); }
};

// 1,000 users x 180 days (about 125,000 documents, ~50 MB of JSON), generated once.
const SeedLines& Data() {
  static const SeedLines data = [] {
    SeedLines d;
    GenerateSeedData(SeedOptions{1000, 180, 7, kNow}, &d);
    return d;
  }();
  return data;
}

int64_t Bytes(const std::vector<std::string>& lines) {
  int64_t n = 0;
  for (const auto& l : lines) n += static_cast<int64_t>(l.size()) + 1;
  return n;
}

void BM_ComputePipeline(benchmark::State& state) {
  const SeedLines& data = Data();
  cli::ComputeOptions options;
  options.now = kNow;
  int64_t out_bytes = 0;
  for (auto _ : state) {
    std::string dead;
    cli::OfflineCompute job(options, &dead);
    for (const auto& line : data.users) benchmark::DoNotOptimize(job.AddUserLine(line).ok());
    for (const auto& line : data.metrics)
      benchmark::DoNotOptimize(job.AddHealthMetricLine(line).ok());
    job.Finish([&](std::string_view block) { out_bytes += static_cast<int64_t>(block.size()); });
    benchmark::DoNotOptimize(dead.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(data.metrics.size()));
  state.SetBytesProcessed(state.iterations() * Bytes(data.metrics));
  state.counters["output_MB_per_run"] =
      static_cast<double>(out_bytes) / static_cast<double>(state.iterations()) / 1e6;
}
BENCHMARK(BM_ComputePipeline)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ParseExtendedJson(benchmark::State& state) {
  const SeedLines& data = Data();
  BsonDoc doc;
  for (auto _ : state) {
    for (const auto& line : data.metrics)
      benchmark::DoNotOptimize(ParseExtendedJsonLineInto(line, doc.get()).ok());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(data.metrics.size()));
  state.SetBytesProcessed(state.iterations() * Bytes(data.metrics));
}
BENCHMARK(BM_ParseExtendedJson)->Unit(benchmark::kMillisecond);

// libbson's own parser on the same lines, for comparison (why docs/ejson.cc has its own).
void BM_ParseExtendedJsonLibbson(benchmark::State& state) {
  const SeedLines& data = Data();
  for (auto _ : state) {
    for (const auto& line : data.metrics) {
      bson_t doc;
      bson_error_t error;
      benchmark::DoNotOptimize(
          bson_init_from_json(&doc, line.data(), static_cast<ssize_t>(line.size()), &error));
      bson_destroy(&doc);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(data.metrics.size()));
}
BENCHMARK(BM_ParseExtendedJsonLibbson)->Unit(benchmark::kMillisecond);

void BM_DecodeHealthMetric(benchmark::State& state) {
  const SeedLines& data = Data();
  std::vector<BsonDoc> docs;
  for (const auto& line : data.metrics) docs.push_back(std::move(*ParseExtendedJsonLine(line)));
  DecodedHealthMetric out;
  const AnalyticsOptions options;
  for (auto _ : state) {
    for (const BsonDoc& d : docs) {
      DecodeHealthMetric(d.get(), options, &out);
      benchmark::DoNotOptimize(out.record.observed);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(docs.size()));
}
BENCHMARK(BM_DecodeHealthMetric)->Unit(benchmark::kMillisecond);

// Encoding one user's 24 analytics documents (8 metrics x 3 ranges, 180-day history) to relaxed
// JSON; items are analytics documents.
void BM_EncodeAnalyticsJson(benchmark::State& state) {
  std::vector<DayRecord> records;
  for (int i = 0; i < 180; ++i) {
    DayRecord r;
    r.day = DayOf(kNow) - i;
    r.updated_at = StartOf(r.day) + 3'600'000;
    for (const MetricInfo& info : kMetricInfo) {
      r.value[static_cast<int>(info.metric)] = info.min_valid + 1 + (i * 37 % 11);
      r.observed |= static_cast<uint8_t>(1u << static_cast<int>(info.metric));
    }
    records.push_back(r);
  }
  const UserAnalytics result = ComputeUser(records, DefaultGoals(), DayOf(kNow), {});
  WriteStamp stamp;
  stamp.calculated_at = kNow;
  stamp.spark_job_id = "health-analytics:compute";
  const ObjectId user = *ObjectId::FromHex("65a1b2c3d4e5f60718293a00");
  BsonDoc doc;
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const MetricAnalytics& m : result.metrics) {
      for (int r = 0; r < kRangeCount; ++r) {
        bson_reinit(doc.get());
        AppendAnalyticsDocument(doc.get(), user, m, r, stamp);
        AppendRelaxedJson(doc.get(), &out);
        out.push_back('\n');
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(result.metrics.size()) *
                          kRangeCount);
}
BENCHMARK(BM_EncodeAnalyticsJson)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ha
