// The chaos harness (issue 5): writers, SIGKILLs and server restarts against the real engine
// and a real test server (HA_TEST_SERVER: mongo-java-server or FerretDB, as the integration
// tests), then the checks of engine spec section 1. See docs/RELIABILITY.md.
//
//   ha_chaos --short                 the ctest version (about a minute)
//   ha_chaos [--kills N] [--restarts N] [--writers N] [--users N] [--days N] [--report FILE]
//   ha_chaos --load [--minutes M] [--ops-per-second R] [--report FILE]
//   ha_chaos writer ...              (internal) one writer process
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "tests/chaos/verify.h"
#include "tests/chaos/writer.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace ha::chaos {
namespace {

using nlohmann::json;
using testing::Db;
using testing::Env;
using testing::ReadFile;
using testing::RunHa;
using testing::RunResult;
using testing::Server;
using testing::TempDir;
using testing::WriteFile;

struct Options {
  int users = 30;
  int days = 14;
  int writers = 3;
  int kills = 60;
  int restarts = 3;
  // Per writer. FerretDB (SQLite) needs ~10 ms per update statement, and each changed day
  // rewrites about 15 analytics documents, so a few documents per second keep the engine busy.
  double ops_per_second = 0.5;
  std::string report;
  bool load = false;
  double load_minutes = 5;
  double batch_interval = 0.5;
  uint64_t seed = 20251120;
};

std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

// Starts `argv` with `env` added to PATH/HOME/sanitizer settings, output to the given files.
pid_t Start(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
            const std::string& out, const std::string& err) {
  std::vector<std::string> env_s;
  for (const char* keep : {"PATH", "HOME", "LANG", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                           "TSAN_OPTIONS", "LSAN_OPTIONS"})
    if (const char* v = std::getenv(keep)) env_s.push_back(std::string(keep) + "=" + v);
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::fflush(nullptr);  // or the child's freopen writes the parent's buffered output again
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    if (!freopen("/dev/null", "r", stdin) || !freopen(out.c_str(), "w", stdout) ||
        !freopen(err.c_str(), "w", stderr))
      _exit(127);
    std::vector<char*> a, e;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (const auto& s : env_s) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  return pid;
}

int WaitFor(pid_t pid) { return testing::Wait(pid); }

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Follows the watermark file: it must never move backwards (no operator resets in a run).
class WatermarkWatch {
 public:
  explicit WatermarkWatch(std::string path) : path_(std::move(path)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~WatermarkWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int regressions() const { return regressions_; }
  int64_t samples() const { return samples_; }
  std::string first_regression() {
    std::lock_guard<std::mutex> l(mu_);
    return first_;
  }
  // now - watermark at the last sample, or -1 before the first watermark.
  int64_t lag_ms() const { return lag_ms_; }
  // The largest lag since the engine first caught up (a lag under a minute), or -1.
  int64_t max_lag_ms() const { return max_lag_ms_; }

 private:
  void Loop() {
    while (!stop_) {
      const std::string text = ReadFile(path_);
      if (auto t = ParseInstant(text); !text.empty() && t.ok()) {
        ++samples_;
        if (*t < max_) {
          if (regressions_++ == 0) {
            std::lock_guard<std::mutex> l(mu_);
            first_ = FormatInstant(max_) + " -> " + FormatInstant(*t);
          }
        }
        max_ = std::max(max_, *t);
        lag_ms_ = NowMillis() - *t;
        if (lag_ms_ < 60'000 || max_lag_ms_ >= 0)
          max_lag_ms_ = std::max<int64_t>(max_lag_ms_, lag_ms_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string path_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> regressions_{0};
  std::atomic<int64_t> samples_{0};
  std::atomic<int64_t> lag_ms_{-1};
  std::atomic<int64_t> max_lag_ms_{-1};
  Instant max_ = 0;
  std::mutex mu_;
  std::string first_;
};

// One run's world: a server, a database with seeded users, a folder, the engine's settings.
struct World {
  Server server;
  TempDir dir;
  std::unique_ptr<Db> db;
  Env env;
  std::string users_file;

  explicit World(const Options& o) {
    db = std::make_unique<Db>(server.uri(), "chaos");
    env = testing::EngineEnv(server.uri(), "chaos", dir.path());
    env["BATCH_INTERVAL_SECONDS"] = fmt::format("{}", o.batch_interval);
    env["MAX_BATCH_DOCS"] = "40";  // backlogs cut mid-tie, drained in consecutive batches
    env["USERS_PER_CHUNK"] = "8";  // several chunk writes per batch: kills between them
    env["WORKER_THREADS"] = "2";
    // Seeded history, cleaned of the seed's deliberate invalid values so that every invalid
    // field in the run comes from a writer and can be accounted for.
    const std::string seed_dir = dir.path() + "/seed";
    RunResult r = RunHa({"seed", "--users", std::to_string(o.users), "--days",
                         std::to_string(o.days), "--seed", "5", "--out", seed_dir},
                        {}, dir.path());
    if (r.exit_code != 0) throw std::runtime_error("seed failed: " + r.err);
    db->InsertJsonLines("healthmetrics",
                        WithoutInvalidMetrics(ReadFile(seed_dir + "/healthmetrics.jsonl")));
    db->InsertJsonLines("users", ReadFile(seed_dir + "/users.jsonl"));
    std::string ids;
    for (const std::string& line : db->ExportCanonical("users"))
      ids += json::parse(line)["_id"]["$oid"].get<std::string>() + "\n";
    users_file = dir.path() + "/users.txt";
    WriteFile(users_file, ids);
  }

  ~World() {
    // HA_CHAOS_KEEP=DIR keeps the run's folder (logs, dead letters, exports) for a post-mortem.
    if (const char* keep = std::getenv("HA_CHAOS_KEEP"); keep && *keep) {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
      std::filesystem::copy(dir.path(), keep, std::filesystem::copy_options::recursive, ec);
    }
  }

  std::string Path(const std::string& name) const { return dir.path() + "/" + name; }

  std::vector<pid_t> StartWriters(const Options& o, double ops_per_second, double delete_share,
                                  double invalid_share) {
    std::vector<pid_t> pids;
    std::filesystem::remove(Path("stop-writers"));
    for (int w = 0; w < o.writers; ++w) {
      WriterOptions wo;
      wo.uri = server.uri();
      wo.db = "chaos";
      wo.id = w;
      wo.users_file = users_file;
      wo.days = o.days;
      wo.lag_ms = w == 1 ? 3000 : 0;  // one writer's clock lags 3 s (the grace is 10 s)
      wo.ops_per_second = ops_per_second;
      wo.delete_share = delete_share;
      wo.invalid_share = invalid_share;
      wo.seed = o.seed + static_cast<uint64_t>(w);
      wo.stop_file = Path("stop-writers");
      wo.log_file = Path(fmt::format("writer-{}.jsonl", w));
      std::vector<std::string> argv = {SelfExe(), "writer"};
      for (auto& a : WriterArgs(wo)) argv.push_back(a);
      pids.push_back(Start(argv, {}, dir.path(), Path(fmt::format("writer-{}.out", w)),
                           Path(fmt::format("writer-{}.err", w))));
    }
    return pids;
  }

  void StopWriters(const std::vector<pid_t>& pids) {
    WriteFile(Path("stop-writers"), "stop\n");
    for (pid_t p : pids) {
      const auto t0 = std::chrono::steady_clock::now();
      int status;
      while (waitpid(p, &status, WNOHANG) == 0) {
        if (Seconds(t0) > 15) {
          kill(p, SIGKILL);
          waitpid(p, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // What the writers logged: operations acknowledged, and every user that may have lost a day.
  struct WriterTotals {
    int64_t upserts = 0, deletes = 0, invalid = 0, unacknowledged = 0;
    std::set<std::string> users_with_deletes;
  };
  WriterTotals Totals(int writers) const {
    WriterTotals t;
    for (int w = 0; w < writers; ++w) {
      std::ifstream in(Path(fmt::format("writer-{}.jsonl", w)));
      for (std::string line; std::getline(in, line);) {
        const json j = json::parse(line);
        const std::string op = j["op"];
        const bool ok = j["ok"];
        if (!ok) ++t.unacknowledged;
        if (op == "delete") t.users_with_deletes.insert(j["user"].get<std::string>());
        if (!ok) continue;
        if (op == "upsert")
          ++t.upserts;
        else if (op == "delete")
          ++t.deletes;
        else if (op == "invalid")
          ++t.invalid;
      }
    }
    return t;
  }

  RunResult Ha(const std::vector<std::string>& args) { return RunHa(args, env, dir.path()); }

  // `once` until a batch has nothing more to do: nothing pending and nothing to rewrite (each
  // `once` re-reads the grace window as new, so "0 docs read" never comes; "0 written" does).
  void CatchUp() {
    std::string last;
    for (int i = 0; i < 60; ++i) {
      // Default batch sizes: the small ones of the chaos phase would take many batches here.
      Env env = this->env;
      env["MAX_BATCH_DOCS"] = "100000";
      env["USERS_PER_CHUNK"] = "1000";
      RunResult r = RunHa({"once", "--now", FormatInstant(NowMillis())}, env, dir.path());
      if (r.exit_code != 0) throw std::runtime_error("catch-up once failed: " + r.out + r.err);
      last = r.out;
      if (r.out.find(", 0 written (") != std::string::npos &&
          r.out.find("more pending") == std::string::npos)
        return;
    }
    throw std::runtime_error("the engine did not catch up in 60 batches; the last said: " + last);
  }

  // compute over an export of the collections, against the analytics collection.
  struct Comparison {
    std::vector<Difference> differences;
    size_t duplicates = 0;
    size_t documents = 0;
  };
  Comparison CompareWithCompute(Instant now) {
    WriteFile(Path("export-healthmetrics.jsonl"), db->ExportRelaxed("healthmetrics"));
    WriteFile(Path("export-users.jsonl"), db->ExportRelaxed("users"));
    RunResult r =
        RunHa({"compute", "--now", FormatInstant(now), "--users", Path("export-users.jsonl")}, {},
              dir.path(), Path("export-healthmetrics.jsonl"));
    // Exit 1 only reports skipped lines; the writers' invalid documents are not skipped lines.
    if (r.exit_code != 0) throw std::runtime_error("compute failed: " + r.err);
    size_t ignored;
    const auto expected = NormalizeAnalytics(ToCanonical(r.out), &ignored);
    Comparison c;
    const auto actual = NormalizeAnalytics(db->ExportCanonical("analytics"), &c.duplicates);
    c.documents = actual.size();
    c.differences = Compare(expected, actual);
    return c;
  }
};

// Checks a completed batch log: each batch's watermark_from is at or after the previous
// completed batch's watermark_to, and no batch moves it backwards.
int BatchLogRegressions(const std::string& dir, int* batches) {
  int regressions = 0;
  *batches = 0;
  std::vector<std::string> files;
  if (std::filesystem::exists(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Instant last = 0;
  for (const std::string& f : files) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line, nullptr, false);
      auto text = [&](const char* k) {
        return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
      };
      if (j.is_discarded() || text("status") != "completed") continue;
      ++*batches;
      auto from = ParseInstant(text("watermark_from"));  // null before the first watermark
      auto to = ParseInstant(text("watermark_to"));
      if (!to.ok()) continue;
      if (from.ok() && (*to < *from || *from < last)) ++regressions;
      last = std::max(last, *to);
    }
  }
  return regressions;
}

int CompletedBatches(const std::string& dir) {
  int batches = 0;
  BatchLogRegressions(dir, &batches);
  return batches;
}

void PrintDifferences(const std::vector<Difference>& d, const std::set<std::string>& except) {
  int shown = 0;
  for (const Difference& x : d) {
    if (except.count(x.user)) continue;
    if (++shown > 3) break;
    fmt::print(stderr, "  {}\n    expected {}\n    actual   {}\n", x.key,
               x.expected.empty() ? "(none)" : x.expected, x.actual.empty() ? "(none)" : x.actual);
  }
}

int RunChaos(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  World w(o);
  fmt::print(
      "chaos: {} at {}, {} users x {} days seeded, {} writers, {} kills, {} "
      "server restarts planned\n",
      testing::TestServerName(), w.server.uri(), o.users, o.days, o.writers, o.kills, o.restarts);
  WatermarkWatch watch(w.Path("checkpoint/last_processed_timestamp.txt"));
  std::vector<pid_t> writers = w.StartWriters(o, o.ops_per_second, 0.04, 0.06);

  std::mt19937_64 rng(o.seed);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  // Where a targeted kill lands: inside the chunk writes, between the last write and the
  // checkpoint, and inside the checkpoint commit (staged watermark, sidecar written).
  const std::vector<std::string> points = {"before-write", "after-write", "before-commit",
                                           "watermark-staged", "sidecar-written"};
  std::map<std::string, int> kills_by_point;
  int kills = 0, restarts = 0, unexpected_exits = 0;
  for (int k = 0; k < o.kills; ++k) {
    Env env = w.env;
    std::string point;
    if (k % 2 == 1) {
      point = points[rng() % points.size()];
      env["HA_FAILPOINTS"] = point + ":400";
    }
    const std::string err = w.Path(fmt::format("run-{}.err", k));
    const pid_t pid =
        Start({HA_BINARY, "run"}, env, w.dir.path(), w.Path(fmt::format("run-{}.out", k)), err);
    const bool restart = restarts < o.restarts &&
                         (k + 1) * (o.restarts + 1) / o.kills > k * (o.restarts + 1) / o.kills;
    if (restart) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      w.server.Stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // engine and writers retry
      w.server.Start();
      ++restarts;
    }
    std::string landed = "random";
    if (!point.empty()) {
      const auto start = std::chrono::steady_clock::now();
      landed = "timeout";
      while (Seconds(start) < 20) {
        if (ReadFile(err).find("failpoint " + point) != std::string::npos) {
          landed = point;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    } else if (k % 5 == 4) {
      // Every fifth life lasts until it completes a batch (FerretDB batches take seconds), then
      // ends a moment later: progress between the kills, and kills in the next batch.
      landed = "after-a-batch";
      const int before = CompletedBatches(w.Path("logs"));
      const auto start = std::chrono::steady_clock::now();
      while (Seconds(start) < 60 && CompletedBatches(w.Path("logs")) == before)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::this_thread::sleep_for(std::chrono::duration<double>(uniform(0.0, 2.0)));
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(uniform(0.5, 6.0)));
    }
    // A process that already exited on its own is a failure of `run` (it never exits).
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      ++unexpected_exits;
      fmt::print(stderr, "chaos: run exited by itself (status {}): {}\n", status,
                 ReadFile(err).substr(0, 2000));
      continue;
    }
    kill(pid, SIGKILL);
    WaitFor(pid);
    ++kills;
    ++kills_by_point[landed];
  }
  w.StopWriters(writers);
  const auto totals = w.Totals(o.writers);
  fmt::print(
      "chaos: {} kills, {} server restarts; writers: {} upserts, {} deletes, {} invalid "
      "documents acknowledged, {} unacknowledged\n",
      kills, restarts, totals.upserts, totals.deletes, totals.invalid, totals.unacknowledged);

  // Catch up, then compare before the recompute: only users with a deletion may differ.
  w.CatchUp();
  watch.Stop();
  const Instant caught_up = NowMillis();
  const auto before = w.CompareWithCompute(caught_up);
  size_t explained = 0, unexplained = 0;
  for (const Difference& d : before.differences)
    (totals.users_with_deletes.count(d.user) ? explained : unexplained)++;
  if (unexplained) PrintDifferences(before.differences, totals.users_with_deletes);

  // The recompute applies the deletions; then everything must match.
  const Instant now = NowMillis();
  RunResult rc = w.Ha({"recompute", "--now", FormatInstant(now)});
  if (rc.exit_code != 0) throw std::runtime_error("recompute failed: " + rc.out + rc.err);
  const auto after = w.CompareWithCompute(now);
  if (!after.differences.empty()) PrintDifferences(after.differences, {});

  // Dead letters: every invalid field of the final documents, each exactly once, and no other.
  const auto expected_dl = ExpectedDeadLetters(w.db->ExportCanonical("healthmetrics"));
  const auto found_dl = ReadDeadLetters(w.Path("dlq"));
  size_t dl_missing = 0, dl_extra = 0, dl_repeated = 0;
  for (const auto& k : expected_dl)
    if (!found_dl.count(k) && dl_missing++ < 3)
      fmt::print(stderr, "  dead letter missing: {}\n", k);
  for (const auto& [k, n] : found_dl) {
    if (!expected_dl.count(k) && dl_extra++ < 3) fmt::print(stderr, "  dead letter extra: {}\n", k);
    if (n > 1 && dl_repeated++ < 3)
      fmt::print(stderr, "  dead letter written {} times: {}\n", n, k);
  }
  int logged_batches = 0;
  const int log_regressions = BatchLogRegressions(w.Path("logs"), &logged_batches);

  const bool pass = kills >= o.kills && restarts >= o.restarts && unexpected_exits == 0 &&
                    unexplained == 0 && after.differences.empty() && before.duplicates == 0 &&
                    after.duplicates == 0 && dl_missing == 0 && dl_extra == 0 && dl_repeated == 0 &&
                    watch.regressions() == 0 && log_regressions == 0 && totals.invalid > 0;
  json report = {
      {"result", pass ? "pass" : "FAIL"},
      {"seconds", Seconds(t0)},
      {"users", o.users},
      {"days", o.days},
      {"writers", o.writers},
      {"writes_acknowledged",
       {{"upserts", totals.upserts},
        {"deletes", totals.deletes},
        {"invalid_documents", totals.invalid}}},
      {"writes_unacknowledged", totals.unacknowledged},
      {"engine_kills", kills},
      {"kills_by_point", kills_by_point},
      {"server_restarts", restarts},
      {"unexpected_engine_exits", unexpected_exits},
      {"batches_completed", logged_batches},
      {"analytics_documents", after.documents},
      {"before_recompute",
       {{"differences", before.differences.size()},
        {"explained_by_deletions", explained},
        {"unexplained", unexplained}}},
      {"after_recompute", {{"mismatches", after.differences.size()}}},
      {"duplicate_keys", before.duplicates + after.duplicates},
      {"dead_letters",
       {{"expected", expected_dl.size()},
        {"found", found_dl.size()},
        {"missing", dl_missing},
        {"extra", dl_extra},
        {"written_more_than_once", dl_repeated}}},
      {"watermark",
       {{"samples", watch.samples()},
        {"regressions", watch.regressions()},
        {"first_regression", watch.first_regression()},
        {"batch_log_regressions", log_regressions}}},
      // Includes the server outages and the restarts after each kill.
      {"max_lag_seconds", watch.max_lag_ms() / 1000.0},
  };
  fmt::print("{}\n", report.dump(2));
  if (!o.report.empty()) WriteFile(o.report, report.dump(2) + "\n");
  fmt::print("chaos: {}\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

// Sustained writers and one engine, no faults: the checkpoint lag must stay below twice the
// interval plus the grace, and memory must stay flat.
int RunLoad(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  World w(o);
  const double interval = o.batch_interval;
  const double grace = 10;
  const double bound = 2 * interval + grace;
  w.env["MAX_BATCH_DOCS"] = "100000";
  w.env["USERS_PER_CHUNK"] = "1000";
  w.env["WORKER_THREADS"] = "2";
  WatermarkWatch watch(w.Path("checkpoint/last_processed_timestamp.txt"));
  const pid_t engine =
      Start({HA_BINARY, "run"}, w.env, w.dir.path(), w.Path("run.out"), w.Path("run.err"));
  // Warm-up: the first batch drains the seeded lookback and does the day's recompute; the load
  // starts once a second batch has completed.
  const auto warm = std::chrono::steady_clock::now();
  while (Seconds(warm) < 600 && CompletedBatches(w.Path("logs")) < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double warmup_seconds = Seconds(warm);
  std::vector<pid_t> writers = w.StartWriters(o, o.ops_per_second, 0.0, 0.01);
  std::vector<double> lags;
  std::vector<long> rss;
  const auto start = std::chrono::steady_clock::now();
  while (Seconds(start) < o.load_minutes * 60) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    lags.push_back(watch.lag_ms() / 1000.0);
    rss.push_back(RssKb(engine));
  }
  const double load_seconds = Seconds(start);
  w.StopWriters(writers);
  kill(engine, SIGTERM);
  const int engine_exit = WaitFor(engine);
  watch.Stop();
  const auto totals = w.Totals(o.writers);
  w.CatchUp();
  const auto cmp = w.CompareWithCompute(NowMillis());

  std::vector<double> sorted = lags;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted.empty() ? 0.0 : sorted[std::min(sorted.size() - 1, size_t(p * sorted.size()))];
  };
  const size_t third = rss.size() / 3;
  const long rss_first = third ? *std::max_element(rss.begin(), rss.begin() + third) : 0;
  const long rss_last = third ? *std::max_element(rss.end() - third, rss.end()) : 0;
  const bool lag_ok = !sorted.empty() && sorted.back() < bound;
  const bool rss_flat = rss_first > 0 && rss_last <= rss_first * 12 / 10 + 4096;
  const bool pass = lag_ok && rss_flat && engine_exit == 0 && cmp.differences.empty() &&
                    cmp.duplicates == 0 && watch.regressions() == 0;
  json report = {
      {"result", pass ? "pass" : "FAIL"},
      {"seconds", Seconds(t0)},
      {"warmup_seconds", warmup_seconds},
      {"load_seconds", load_seconds},
      {"writers", o.writers},
      {"writes_acknowledged", totals.upserts + totals.invalid},
      {"writes_per_second", (totals.upserts + totals.invalid) / load_seconds},
      {"batch_interval_seconds", interval},
      {"lag_bound_seconds", bound},
      {"lag_seconds", {{"p50", pct(0.5)}, {"p99", pct(0.99)}, {"max", pct(1.0)}}},
      {"rss_kb", {{"max_first_third", rss_first}, {"max_last_third", rss_last}}},
      {"engine_exit_on_sigterm", engine_exit},
      {"mismatches_after_catch_up", cmp.differences.size()},
      {"duplicate_keys", cmp.duplicates},
      {"watermark_regressions", watch.regressions()},
  };
  fmt::print("{}\n", report.dump(2));
  if (!o.report.empty()) WriteFile(o.report, report.dump(2) + "\n");
  fmt::print("load: {}\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

int Usage(const std::string& what) {
  fmt::print(stderr,
             "ha_chaos: {}\nusage: ha_chaos [--short] [--kills N] [--restarts N] [--writers N] "
             "[--users N] [--days N] [--ops-per-second R] [--seed S] [--report FILE]\n"
             "       ha_chaos --load [--minutes M] [--ops-per-second R] [--batch-interval S] "
             "[--report FILE]\n",
             what);
  return 2;
}

}  // namespace
}  // namespace ha::chaos

int main(int argc, char** argv) {
  using namespace ha::chaos;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "writer") {
    WriterOptions wo;
    std::string error;
    if (!ParseWriterArgs({args.begin() + 1, args.end()}, &wo, &error)) return Usage(error);
    return RunWriter(wo);
  }
  Options o;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--short") {
        o.users = 16, o.days = 10, o.writers = 2, o.kills = 10, o.restarts = 1,
        o.ops_per_second = 1;
      } else if (a == "--load") {
        // A rate FerretDB absorbs (each write rewrites ~20 analytics documents at tens of ms
        // each) and an interval its batches fit in: docs/RELIABILITY.md, "Load".
        o.load = true, o.batch_interval = 10, o.writers = 2, o.users = 30, o.days = 14,
        o.ops_per_second = 0.2;
      } else if (a == "--kills")
        o.kills = std::stoi(next());
      else if (a == "--restarts")
        o.restarts = std::stoi(next());
      else if (a == "--writers")
        o.writers = std::stoi(next());
      else if (a == "--users")
        o.users = std::stoi(next());
      else if (a == "--days")
        o.days = std::stoi(next());
      else if (a == "--ops-per-second")
        o.ops_per_second = std::stod(next());
      else if (a == "--minutes")
        o.load_minutes = std::stod(next());
      else if (a == "--batch-interval")
        o.batch_interval = std::stod(next());
      else if (a == "--seed")
        o.seed = std::stoull(next());
      else if (a == "--report")
        o.report = next();
      else
        return Usage("unknown option " + a);
    }
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  if (o.kills < 1 || o.writers < 2 || o.users < 1 || o.days < 1) return Usage("bad sizes");
  try {
    return o.load ? RunLoad(o) : RunChaos(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "ha_chaos: {}\n", e.what());
    return 1;
  }
}
