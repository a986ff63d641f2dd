// demo: the embedded default. With no MONGO_URI it starts a local FerretDB (SQLite backend) in
// a temporary folder, seeds a few hundred users with 90 days of history, and runs the engine
// with a short interval while a writer keeps adding and editing today's metrics; it prints the
// batches and how a few users' analytics change. Ctrl-C stops everything and removes the
// temporary folder. With MONGO_URI set it runs against that database (seeding only with
// --seed-demo-data).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/monitoring.h"
#include "cli/runner.h"
#include "cli/seed_sink.h"
#include "codec/synthetic.h"
#include "engine/loop.h"

namespace ha::cli {
namespace {

std::atomic<bool> g_demo_stop{false};
extern "C" void OnDemoSignal(int) { g_demo_stop.store(true); }

constexpr const char* kFerretVersion = "v1.24.2";

std::string FindFerretDb() {
  if (const char* p = std::getenv("HA_FERRETDB"); p && *p) return p;
  const char* home = std::getenv("HOME");
  const std::string cache =
      std::string(std::getenv("HA_CACHE_DIR")
                      ? std::getenv("HA_CACHE_DIR")
                      : std::string(home ? home : "") + "/.cache/health-analytics") +
      "/bin/ferretdb-" + kFerretVersion;
  if (access(cache.c_str(), X_OK) == 0) return cache;
  return "";
}

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// The local server: started in the constructor, stopped (and its folder removed) on destruction.
class LocalServer {
 public:
  Status Start(const std::string& binary) {
    char tmpl[] = "/tmp/health-analytics-demo-XXXXXX";
    if (!mkdtemp(tmpl)) return IoError("cannot create a temporary folder for the demo");
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/data");
    const int port = FreeLoopbackPort();
    uri_ = fmt::format("mongodb://127.0.0.1:{}/", port);
    const std::string log = dir_ + "/ferretdb.log";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);  // Ctrl-C goes to us; we stop the server ourselves
      FILE* out = freopen(log.c_str(), "w", stdout);
      FILE* err = freopen(log.c_str(), "a", stderr);
      (void)out;
      (void)err;
      const std::string a1 = "--handler=sqlite", a2 = "--sqlite-url=file:" + dir_ + "/data/",
                        a3 = "--state-dir=" + dir_,
                        a4 = fmt::format("--listen-addr=127.0.0.1:{}", port), a5 = "--debug-addr=-",
                        a6 = "--telemetry=disable", a7 = "--log-level=warn";
      execl(binary.c_str(), binary.c_str(), a1.c_str(), a2.c_str(), a3.c_str(), a4.c_str(),
            a5.c_str(), a6.c_str(), a7.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) return IoError("cannot start FerretDB");
    return Status::Ok();
  }

  ~LocalServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = 0;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  const std::string& uri() const { return uri_; }
  const std::string& dir() const { return dir_; }

 private:
  pid_t pid_ = 0;
  std::string dir_;
  std::string uri_;
};

double FieldDouble(const bson_t* doc, const char* path) {
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_NUMBER(&found))
    return bson_iter_as_double(&found);
  return 0;
}

std::string FieldString(const bson_t* doc, const char* path) {
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_UTF8(&found))
    return bson_iter_utf8(&found, nullptr);
  return "";
}

// "steps 7day: avg 8,234 (up 12.5%), streak 4 days, 6 points". The document is found by key
// once, then by its _id (kept across updates), which FerretDB serves without a scan.
std::string Describe(ToolsStore& store, const ObjectId& user, std::map<ObjectId, ObjectId>* ids) {
  auto known = ids->find(user);
  auto doc = known != ids->end() ? store.FindAnalyticsById(known->second)
                                 : store.FindAnalytics(user, Metric::kSteps, TimeRange::k7Day);
  if (!doc.ok()) return "(unavailable)";
  if (!*doc) return "no steps analytics yet";
  const bson_t* d = (*doc)->get();
  bson_iter_t it;
  if (bson_iter_init_find(&it, d, "_id") && BSON_ITER_HOLDS_OID(&it)) {
    ObjectId id;
    std::copy(bson_iter_oid(&it)->bytes, bson_iter_oid(&it)->bytes + 12, id.bytes.begin());
    (*ids)[user] = id;
  }
  return fmt::format("steps 7day avg {:.0f} ({} {:+.1f}%), streak {} days, {} of 7 days logged",
                     FieldDouble(d, "analytics.rollingAverage"), FieldString(d, "analytics.trend"),
                     FieldDouble(d, "analytics.trendPercentage"),
                     FieldDouble(d, "analytics.streakDays"),
                     FieldDouble(d, "analytics.statistics.dataPointsCount"));
}

Outcome Demo(CommandContext& ctx, FlagValues& flags, int users, int days, double duration,
             double interval, double write_every, bool seed_demo_data) {
  struct sigaction sa {};
  sa.sa_handler = OnDemoSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // Embedded mode when no MONGO_URI is configured anywhere.
  const bool embedded = ctx.config.mongo_uri.empty();
  std::unique_ptr<LocalServer> server;
  bool seed = seed_demo_data;
  if (embedded) {
    const std::string binary = FindFerretDb();
    if (binary.empty())
      return InvalidArgument(fmt::format(
          "the local server (FerretDB {}) is not built; run `make demo` or scripts/setup, or set "
          "HA_FERRETDB to a ferretdb binary, or set MONGO_URI to use your own database",
          kFerretVersion));
    server = std::make_unique<LocalServer>();
    if (Status st = server->Start(binary); !st.ok()) return InvalidArgument(st.message());
    const std::string& d = server->dir();
    flags["MONGO_URI"] = server->uri();
    if (!flags.count("MONGO_DB_NAME")) flags["MONGO_DB_NAME"] = "health_demo";
    for (auto [var, sub] : {std::pair{"CHECKPOINT_LOCATION", "/checkpoint"},
                            {"LOG_DIRECTORY", "/logs"},
                            {"METRICS_DIRECTORY", "/metrics"},
                            {"DLQ_DIRECTORY", "/dlq"}})
      if (!flags.count(var)) flags[var] = d + sub;
    seed = true;
  }
  flags["BATCH_INTERVAL_SECONDS"] = fmt::format("{}", interval);
  auto config = LoadConfig(flags, ConfigScope::kFull, /*require_mongo=*/true);
  if (!config.ok()) return config.status();
  SetUpLogging(*config);
  auto lock = AcquireCheckpointLock(config->checkpoint_location);
  if (!lock.ok()) return lock.status();
  auto built = BuildEngineComponents(*config);
  if (!built.ok()) return built.status();
  EngineComponents& e = **built;
  // The status page, /health and /metrics on HEALTH_CHECK_HOST:HEALTH_CHECK_PORT (5001).
  EngineMonitoring monitoring(e, /*with_http=*/true);
  if (monitoring.http_port() > 0)
    spdlog::info("demo: status page at http://{}:{}/", e.config.health_check_host,
                 monitoring.http_port());
  if (embedded)
    spdlog::info("demo: local FerretDB {} at {} (data in {}, removed on exit)", kFerretVersion,
                 e.config.mongo_uri, server->dir());

  // Wait for the server.
  Status ping;
  for (int i = 0; i < 100 && !g_demo_stop.load(); ++i) {
    if ((ping = e.store->Ping()).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ping.ok())
    return Status(StatusCode::kUnavailable, "cannot reach the database: " + ping.message());
  (void)CreateIndexesLogged(*e.store);

  std::vector<ObjectId> tracked;
  if (seed) {
    const Instant t0 = NowMillis();
    StoreSeedSink sink(*e.store);
    SeedOptions so;
    so.users = users;
    so.days = days;
    so.seed = 42;
    so.now = NowMillis();
    GenerateSeedData(so, &sink);
    if (Status st = sink.Finish(); !st.ok())
      return Status(StatusCode::kInternal, "seeding failed: " + st.message());
    spdlog::info("demo: seeded {} users and {} daily documents in {} ms", sink.ids().size(),
                 sink.metric_count(), NowMillis() - t0);
    for (size_t i = 0; i < sink.ids().size() && tracked.size() < 3; i += 37)
      tracked.push_back(sink.ids()[i]);
  }

  // The writer: keeps adding and editing today's metrics, like the upstream app.
  std::atomic<int64_t> writes{0};
  std::thread writer;
  std::atomic<bool> writer_stop{false};
  if (!tracked.empty()) {
    auto writer_store = MongoStore::Open(StoreOptionsFrom(e.config));
    if (writer_store.ok()) {
      writer = std::thread([&, s = std::shared_ptr<MongoStore>(std::move(writer_store).value())] {
        std::mt19937 rng(7);
        double steps[3] = {2000, 3000, 4000};
        while (!writer_stop.load() && !g_demo_stop.load()) {
          const int k = static_cast<int>(rng() % tracked.size());
          steps[k] += 400 + rng() % 2500;
          const Instant now = NowMillis();
          if (s->UpsertDailyMetrics(tracked[k], DayOf(now),
                                    {{"steps", steps[k]}, {"activeMinutes", 10.0 + rng() % 50}},
                                    now)
                  .ok())
            ++writes;
          std::this_thread::sleep_for(std::chrono::duration<double>(write_every));
        }
      });
    }
  }

  LoopOptions loop;
  loop.interval_seconds = interval;
  std::atomic<bool> stop{false};
  const auto started = std::chrono::steady_clock::now();
  std::thread timer([&] {
    while (!g_demo_stop.load()) {
      if (duration > 0 &&
          std::chrono::steady_clock::now() - started > std::chrono::duration<double>(duration))
        g_demo_stop.store(true);
      stop.store(g_demo_stop.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop.store(true);
  });
  e.engine->SetStopFlag(&stop);
  std::map<ObjectId, ObjectId> analytics_ids;  // tracked user -> their steps/7day document
  SessionSummary summary;
  summary.started = NowMillis();
  spdlog::info("demo: engine running every {:g} s; Ctrl-C to stop", interval);
  Status st = RunLoop(
      *e.engine, loop, stop,
      [&](const BatchReport& r, double next) {
        e.batch_log->Append(r);
        monitoring.OnBatch(r, next);
        spdlog::info(
            "batch {}: {} docs read, {} users recomputed, {} written, {} dead letters, "
            "watermark {}, {} ms{}",
            r.batch_id, r.records_processed, r.counts.users, r.counts.written(),
            r.counts.dead_letters, r.watermark_to ? FormatInstant(*r.watermark_to) : "none",
            r.processing_time_ms(),
            r.failed ? " FAILED: " + fmt::format("{}", fmt::join(r.errors, "; ")) : "");
        for (const ObjectId& u : tracked)
          spdlog::info("    user {}: {}", u.ToHex(), Describe(*e.store, u, &analytics_ids));
      },
      &summary);
  g_demo_stop.store(true);
  writer_stop.store(true);
  if (writer.joinable()) writer.join();
  timer.join();
  spdlog::info(
      "demo stopped: {} batches, {} docs read, {} analytics documents written, {} dead letters, "
      "{} writes by the demo writer{}",
      summary.batches, summary.records_processed, summary.counts.written(),
      summary.counts.dead_letters, writes.load(),
      embedded ? "; local server stopped and removed" : "");
  return st;
}

}  // namespace

int RunDemo(int argc, char** argv) {
  FlagValues* flags = nullptr;
  int users = 300, days = 90;
  double duration = 0, interval = 2, write_every = 0.5;
  bool seed_demo_data = false;
  CommandSpec spec;
  spec.name = "demo";
  spec.description =
      "The embedded default: with no MONGO_URI, a local FerretDB with sample data and the live "
      "engine; with MONGO_URI, the live engine on that database (seeding it only with "
      "--seed-demo-data). Ctrl-C stops everything.";
  spec.add_flags = [&](CLI::App& app, FlagValues& f) {
    flags = &f;
    app.add_option("--users", users, "users to seed (300)")->check(CLI::Range(1, 100000));
    app.add_option("--days", days, "days of history to seed (90)")->check(CLI::Range(1, 3650));
    app.add_option("--interval", interval, "batch interval in seconds for the demo (2)")
        ->check(CLI::PositiveNumber);
    app.add_option("--write-every", write_every,
                   "seconds between the demo writer's edits of today's metrics (0.5)")
        ->check(CLI::PositiveNumber);
    app.add_option("--duration", duration, "stop after this many seconds (0: until Ctrl-C)");
    app.add_flag("--seed-demo-data", seed_demo_data,
                 "seed sample data into the MONGO_URI database too (never done without it)");
  };
  spec.work = [&](CommandContext& ctx) {
    return Demo(ctx, *flags, users, days, duration, interval, write_every, seed_demo_data);
  };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
