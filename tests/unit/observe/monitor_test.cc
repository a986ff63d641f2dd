#include "observe/monitor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "prom_text.h"

namespace ha {
namespace {

using nlohmann::json;

const Instant kT0 = *ParseInstant("2025-11-20T12:00:00Z");

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ha-monitor-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

BatchReport Batch(int64_t id, Instant start, bool failed = false) {
  BatchReport r;
  r.batch_id = id;
  r.start_time = start;
  r.end_time = start + 250;
  r.clock = start;
  r.failed = failed;
  r.records_processed = failed ? 0 : 7;
  r.counts.users = failed ? 0 : 2;
  r.counts.inserted = failed ? 0 : 4;
  r.counts.dead_letters = failed ? 0 : 1;
  r.watermark_from = start - 20'000;
  if (!failed) r.watermark_to = start - 10'000;
  if (failed) r.errors = {"write refused"};
  return r;
}

MonitorOptions Options(const std::string& dir) {
  MonitorOptions o;
  o.version = "9.9.9";
  o.interval_seconds = 10;
  o.metrics_directory = dir + "/metrics";
  o.dlq_directory = dir + "/dlq";
  o.config = {{"MONGO_URI", "mongodb://u:***@db/"}, {"BATCH_INTERVAL_SECONDS", "10"}};
  o.history_size = 5;
  o.dlq_recent = 3;
  return o;
}

TEST(Monitor, TextfileIsReplacedAtomicallyAndKeepsBothNames) {
  ScratchDir dir;
  Monitor m(Options(dir.path()), kT0);
  m.SetWatermark(kT0 - 60'000);
  ASSERT_TRUE(m.WriteTextfile(kT0).ok());  // creates METRICS_DIRECTORY
  const std::string path = dir.path() + "/metrics/spark_analytics_metrics.prom";
  EXPECT_EQ(m.textfile_path(), path);
  const auto first = testing_util::ParsePromText(Slurp(path));
  EXPECT_TRUE(first.errors.empty());
  EXPECT_EQ(first.Value("spark_analytics_checkpoint_lag_seconds"), 60);
  EXPECT_EQ(first.Value("health_analytics_checkpoint_lag_seconds"), 60);

  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  EXPECT_EQ(
      before.st_mode & 0777, 0644u &
                                 ~[] {
                                   const mode_t u = ::umask(0);
                                   ::umask(u);
                                   return u;
                                 }())
      << "node_exporter must be able to read it";

  // The next write replaces the file by a rename: a new inode. (Checked right away: after
  // many rewrites the file system may hand an earlier inode out again.)
  ASSERT_TRUE(m.WriteTextfile(kT0 + 500).ok());
  struct stat next {};
  ASSERT_EQ(::stat(path.c_str(), &next), 0);
  EXPECT_NE(before.st_ino, next.st_ino) << "rewritten in place instead of renamed over";

  // A reader polling the file while batches rewrite it never sees a partial file.
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      const std::string text = Slurp(path);
      ++reads;
      const auto p = testing_util::ParsePromText(text);
      if (!p.errors.empty() || !p.Value("health_analytics_polling_interval_seconds")) ++torn;
    }
  });
  for (int i = 1; i <= 150; ++i) {
    m.OnBatch(Batch(i, kT0 + i * 1000), 10.0, false);
    ASSERT_TRUE(m.WriteTextfile(kT0 + i * 1000).ok());
  }
  done.store(true);
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a reader saw a half-written textfile";

  // Nothing but the textfile is left in the folder (no temporary files).
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/metrics"))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"spark_analytics_metrics.prom"});
  const auto last = testing_util::ParsePromText(Slurp(path));
  EXPECT_EQ(last.Value("spark_analytics_batches_total"), 150);
  EXPECT_EQ(last.Value("health_analytics_documents_read_total"), 150 * 7);
}

TEST(Monitor, TextfileFailureNamesTheFile) {
  ScratchDir dir;
  MonitorOptions o = Options(dir.path());
  o.metrics_directory = dir.path() + "/file-in-the-way";
  std::ofstream(o.metrics_directory) << "x";
  Monitor m(o, kT0);
  Status st = m.WriteTextfile(kT0);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("file-in-the-way"), std::string::npos) << st.message();
}

TEST(Monitor, NoMetricsDirectoryWritesNothing) {
  MonitorOptions o;
  Monitor m(o, kT0);
  EXPECT_TRUE(m.WriteTextfile(kT0).ok());
}

TEST(Monitor, EndpointsFollowTheBatches) {
  ScratchDir dir;
  Monitor m(Options(dir.path()), kT0);
  // Before the first batch: live, not ready, degraded (200).
  EXPECT_EQ(m.Live(kT0).code, 200);
  HttpReply ready = m.Ready(kT0 + 1000);
  EXPECT_EQ(ready.code, 503);
  EXPECT_EQ(json::parse(ready.body)["ready"], false);
  EXPECT_EQ(json::parse(m.Health(kT0).body)["status"], "degraded");

  m.OnBatch(Batch(0, kT0 + 1000), 10.0, false);
  const Instant now = kT0 + 2000;
  EXPECT_EQ(m.Ready(now).code, 200);
  json h = json::parse(m.Health(now).body);
  EXPECT_EQ(h["status"], "healthy");
  EXPECT_EQ(h["last_batch_id"], 0);
  EXPECT_DOUBLE_EQ(h["checkpoint_lag_seconds"].get<double>(), 11.0);  // watermark = start - 10 s

  json d = json::parse(m.Detailed(now).body);
  EXPECT_EQ(d["last_batch"]["batch_id"], 0);
  EXPECT_EQ(d["last_batch"]["status"], "completed");
  EXPECT_EQ(d["checkpoint"]["watermark"], FormatInstant(kT0 - 9'000));
  EXPECT_EQ(d["totals"]["documents_read"], 7);
  EXPECT_EQ(d["totals"]["analytics_inserted"], 4);
  EXPECT_EQ(d["config"]["MONGO_URI"], "mongodb://u:***@db/");
  EXPECT_EQ(d["version"], "9.9.9");

  // Three failures in a row: unhealthy (503); the database unreachable: not ready at once.
  for (int i = 1; i <= 3; ++i) m.OnBatch(Batch(i, kT0 + 2000 + i * 100, true), 1.0, i == 3);
  const Instant later = kT0 + 3000;
  EXPECT_EQ(m.Health(later).code, 503);
  EXPECT_EQ(m.Detailed(later).code, 503);
  EXPECT_EQ(json::parse(m.Health(later).body)["status"], "unhealthy");
  EXPECT_EQ(m.Ready(later).code, 503);
  d = json::parse(m.Detailed(later).body);
  EXPECT_EQ(d["engine"]["database_reachable"], false);
  EXPECT_EQ(d["engine"]["consecutive_failures"], 3);
  EXPECT_EQ(d["engine"]["polling_interval_seconds"], 10.0) << "a backoff is not the interval";
  EXPECT_EQ(d["last_batch"]["errors"][0], "write refused");

  // History for the charts: the last history_size (5) batches, oldest first.
  m.OnBatch(Batch(4, kT0 + 4000), 10.0, false);
  m.OnBatch(Batch(5, kT0 + 5000), 10.0, false);
  const json b = json::parse(m.Batches().body)["batches"];
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b.front()["batch_id"], 1);
  EXPECT_EQ(b.back()["batch_id"], 5);
  EXPECT_EQ(b[0]["status"], "failed");
  EXPECT_EQ(b.back()["records"], 7);
  EXPECT_EQ(b.back()["duration_ms"], 250);
  EXPECT_EQ(json::parse(m.Health(kT0 + 6000).body)["status"], "degraded") << "recovering";
}

TEST(Monitor, DeadLettersCountsGrowByDeltaAndRecentEntriesComeFromTheFiles) {
  ScratchDir dir;
  Monitor m(Options(dir.path()), kT0);
  m.SetDeadLetterTotals({{"type", 2}});
  m.SetDeadLetterTotals({{"type", 3}, {"range", 1}});
  m.SetDeadLetterTotals({{"type", 3}, {"range", 1}});  // nothing new
  const auto p = testing_util::ParsePromText(m.MetricsText(kT0));
  EXPECT_EQ(p.Value("health_analytics_dead_letters_total", {{"reason", "type"}}), 3);
  EXPECT_EQ(p.Value("health_analytics_dead_letters_total", {{"reason", "range"}}), 1);

  std::filesystem::create_directories(dir.path() + "/dlq");
  std::ofstream(dir.path() + "/dlq/dead_letters_20251119.jsonl")
      << R"({"doc_id":"y1","reason":"type"})"
         "\n"
         R"({"doc_id":"y2","reason":"type"})"
         "\n";
  std::ofstream(dir.path() + "/dlq/dead_letters_20251120.jsonl")
      << R"({"doc_id":"t1","reason":"range"})"
         "\n"
      << R"({"doc_id":"t2","reason":"type"})"
         "\n"
      << R"({"doc_id":"t3","rea)";  // a line still being written
  const json d = json::parse(m.DeadLetters(kT0).body);
  EXPECT_EQ(d["total_since_start"], 4);
  EXPECT_EQ(d["by_reason"], json({{"range", 1}, {"type", 3}}));
  ASSERT_EQ(d["recent"].size(), 3u);          // dlq_recent
  EXPECT_EQ(d["recent"][0]["doc_id"], "t2");  // newest first
  EXPECT_EQ(d["recent"][1]["doc_id"], "t1");
  EXPECT_EQ(d["recent"][2]["doc_id"], "y2");  // then yesterday's file
}

TEST(TailLines, ReadsOnlyTheEndOfALargeFile) {
  ScratchDir dir;
  const std::string path = dir.path() + "/big.jsonl";
  {
    std::ofstream out(path);
    for (int i = 0; i < 100'000; ++i) out << "line " << i << "\n";
  }
  const auto lines = TailLines(path, 3, 4096);
  EXPECT_EQ(lines, (std::vector<std::string>{"line 99997", "line 99998", "line 99999"}));
  EXPECT_TRUE(TailLines(dir.path() + "/missing", 3).empty());
}

}  // namespace
}  // namespace ha
