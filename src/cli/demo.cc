// demo: the embedded default. With no MONGO_URI it starts a local MongoDB-compatible server in a
// temporary folder (mongo-java-server by default, FerretDB with --server ferretdb; measured in
// docs/TEST-SERVERS.md), seeds a few hundred users with 90 days of history, and runs the engine
// with a short interval while a writer keeps adding and editing today's metrics; it prints the
// batches, how a few users' analytics change, and how long each of the writer's edits took to
// show. Ctrl-C stops everything and removes the temporary folder. With MONGO_URI set it runs
// against that database (seeding only with --seed-demo-data).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
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
constexpr const char* kMjsVersion = "1.47.0";

struct DemoOptions {
  int users = 300, days = 90;
  double duration = 0, interval = 2, write_every = 0.5;
  bool seed_demo_data = false;
  std::string server = "mongo-java-server";
};

std::string CacheDir() {
  if (const char* c = std::getenv("HA_CACHE_DIR"); c && *c) return c;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/health-analytics";
}

// FerretDB as scripts/ferretdb builds it, or HA_FERRETDB; "" when there is none.
std::string FindFerretDb() {
  if (const char* p = std::getenv("HA_FERRETDB"); p && *p) return p;
  const std::string cached = CacheDir() + "/bin/ferretdb-" + kFerretVersion;
  return access(cached.c_str(), X_OK) == 0 ? cached : "";
}

// The folder scripts/mongo-java-server builds (lib/ with the jars, classes/ with the launcher):
// HA_MJS_HOME, else the newest complete one in the cache; "" when there is none.
std::string FindMongoJavaServer() {
  if (const char* p = std::getenv("HA_MJS_HOME"); p && *p) return p;
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string best;
  fs::file_time_type best_time{};
  for (const auto& e : fs::directory_iterator(CacheDir() + "/mongo-java-server", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(std::string(kMjsVersion) + "-", 0) != 0 || name.ends_with(".tmp")) continue;
    const fs::path ok = e.path() / "ok";
    if (!fs::exists(ok, ec)) continue;
    const auto t = fs::last_write_time(ok, ec);
    if (best.empty() || t > best_time) best = e.path().string(), best_time = t;
  }
  return best;
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

// The local server: started by Start, stopped (and its folder removed) on destruction. It runs
// in its own process group, so Ctrl-C reaches only the demo, which stops it; and it gets
// SIGTERM from the kernel if the demo dies without doing so (PR_SET_PDEATHSIG).
class LocalServer {
 public:
  // `where` is FindMongoJavaServer()'s folder or FindFerretDb()'s binary.
  Status Start(const std::string& kind, const std::string& where) {
    char tmpl[] = "/tmp/health-analytics-demo-XXXXXX";
    if (!mkdtemp(tmpl)) return IoError("cannot create a temporary folder for the demo");
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/data");
    const int port = port_ = FreeLoopbackPort();
    uri_ = fmt::format("mongodb://127.0.0.1:{}/", port);
    std::vector<std::string> argv;
    if (kind == "ferretdb") {
      argv = {where,
              "--handler=sqlite",
              "--sqlite-url=file:" + dir_ + "/data/",
              "--state-dir=" + dir_,
              fmt::format("--listen-addr=127.0.0.1:{}", port),
              "--debug-addr=-",
              "--telemetry=disable",
              "--log-level=warn"};
    } else {
      // As scripts/mongo-java-server starts it (its comments say why), with a heap for the
      // demo's size and nothing saved at the stop (the folder is removed).
      const char* java = std::getenv("HA_MJS_JAVA");
      argv = {java && *java ? java : "/usr/bin/java",
              "-Xmx2g",
              "-XX:+UseParallelGC",
              "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
              "-Dha.mjs.fastIn=true",
              "-Dha.mjs.fastSort=true",
              "-Dha.mjs.save=false",
              "-cp",
              where + "/lib/*:" + where + "/classes",
              "Launcher",
              "127.0.0.1",
              std::to_string(port),
              dir_ + "/data",
              "5.0"};
    }
    log_ = dir_ + "/" + kind + ".log";
    return Spawn(argv);
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

  // Waits until the server accepts TCP connections, up to `seconds`; false when it does not or
  // exits. (A client's first attempt must not come too early: libmongoc's single-threaded
  // clients wait 5 s before they try a refused server again.)
  bool WaitListening(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end && Running() && !g_demo_stop.load()) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Whether the server process is still running (it exits at once on a bad start); reaps it
  // when it has exited.
  bool Running() {
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = 0;
    return pid_ > 0;
  }
  const std::string& uri() const { return uri_; }
  const std::string& dir() const { return dir_; }
  const std::string& log() const { return log_; }

 private:
  Status Spawn(const std::vector<std::string>& argv) {
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);  // Ctrl-C goes to us; we stop the server ourselves
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);  // the demo died before prctl took effect
      FILE* out = freopen(log_.c_str(), "w", stdout);
      FILE* err = freopen(log_.c_str(), "a", stderr);
      (void)out;
      (void)err;
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      std::fprintf(stderr, "cannot run %s\n", args[0]);
      _exit(127);
    }
    if (pid_ < 0) return IoError("cannot start the local server");
    return Status::Ok();
  }

  pid_t pid_ = 0;
  int port_ = 0;
  std::string dir_, uri_, log_;
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

// The value of the last historicalData entry when it is dated `day` (today's observation).
std::optional<double> ValueOnDay(const bson_t* doc, Day day) {
  bson_iter_t it, arr;
  if (!bson_iter_init_find(&it, doc, "historicalData") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &arr))
    return std::nullopt;
  std::optional<double> value;
  while (bson_iter_next(&arr)) {
    bson_iter_t entry;
    if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &entry)) continue;
    std::optional<Instant> date;
    std::optional<double> v;
    while (bson_iter_next(&entry)) {
      const char* key = bson_iter_key(&entry);
      if (!strcmp(key, "date") && BSON_ITER_HOLDS_DATE_TIME(&entry))
        date = bson_iter_date_time(&entry);
      else if (!strcmp(key, "value") && BSON_ITER_HOLDS_NUMBER(&entry))
        v = bson_iter_as_double(&entry);
    }
    value = date && *date == StartOf(day) ? v : std::nullopt;
  }
  return value;
}

// The demo's writer: edits today's steps (always upwards) and active minutes of the tracked
// users, as the upstream app does, and remembers each edit so that the demo can say how long
// an edit took to show in the analytics.
class DemoWriter {
 public:
  DemoWriter(std::vector<ObjectId> users, double every) : users_(std::move(users)), every_(every) {
    edits_.resize(users_.size());
  }
  ~DemoWriter() { Stop(); }

  void Start(std::unique_ptr<MongoStore> store) {
    thread_ = std::thread([this, s = std::shared_ptr<MongoStore>(std::move(store))] {
      std::mt19937 rng(7);
      std::vector<double> steps(users_.size());
      for (size_t k = 0; k < steps.size(); ++k) steps[k] = 2000 + 1000 * static_cast<double>(k);
      while (!stop_.load() && !g_demo_stop.load()) {
        const size_t k = rng() % users_.size();
        steps[k] += 400 + rng() % 2500;
        const Instant now = NowMillis();
        if (s->UpsertDailyMetrics(users_[k], DayOf(now),
                                  {{"steps", steps[k]}, {"activeMinutes", 10.0 + rng() % 50}}, now)
                .ok()) {
          std::lock_guard<std::mutex> l(mu_);
          edits_[k].push_back({steps[k], now, false});
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(every_));
      }
    });
  }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  // The analytics of user `k` show today's steps = `value` at `now`: the edit that wrote it and
  // the user's earlier edits have shown. Returns how long ago (ms) that edit was made when this
  // is its first showing; nullopt when it showed before or `value` is none of the writer's edits
  // (seeded data).
  std::optional<int64_t> Shown(size_t k, double value, Instant now) {
    std::lock_guard<std::mutex> l(mu_);
    auto& list = edits_[k];
    auto hit =
        std::find_if(list.begin(), list.end(), [&](const Edit& e) { return e.steps == value; });
    if (hit == list.end() || hit->shown) return std::nullopt;
    for (auto e = list.begin(); e <= hit; ++e)
      if (!e->shown) e->shown = true, delays_.push_back(now - e->at);
    return now - hit->at;
  }

  // "412 edits; 398 shown in the printed analytics, after 0.9 s median, 2.1 s at most".
  std::string Summary() {
    std::lock_guard<std::mutex> l(mu_);
    size_t edits = 0;
    for (const auto& list : edits_) edits += list.size();
    if (delays_.empty()) return fmt::format("{} edits, none shown yet", edits);
    std::vector<int64_t> d = delays_;
    std::sort(d.begin(), d.end());
    return fmt::format(
        "{} edits; {} shown in the printed analytics, after {:.1f} s median, {:.1f} "
        "s at most",
        edits, d.size(), d[d.size() / 2] / 1000.0, d.back() / 1000.0);
  }

 private:
  struct Edit {
    double steps;
    Instant at;
    bool shown;
  };
  std::vector<ObjectId> users_;
  double every_;
  std::mutex mu_;
  std::vector<std::vector<Edit>> edits_;  // per user, in order
  std::vector<int64_t> delays_;           // ms from each edit to its first showing
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// "steps 7day avg 8,234 (up +12.5%), streak 4 days, 6 of 7 days logged; today 9,120 (edit of
// 1.2 s ago)". The document is found by key once, then by its _id (kept across updates), which
// every server serves without a scan.
std::string Describe(ToolsStore& store, size_t k, const ObjectId& user, DemoWriter* writer,
                     std::map<ObjectId, ObjectId>* ids) {
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
  std::string today = "no steps today yet";
  const Instant now = NowMillis();
  if (auto v = ValueOnDay(d, DayOf(now))) {
    const auto age = writer ? writer->Shown(k, *v, now) : std::nullopt;
    today =
        fmt::format("today {:.0f}{}", *v,
                    age ? fmt::format(" (the writer's edit of {:.1f} s ago)", *age / 1000.0) : "");
  }
  return fmt::format("steps 7day avg {:.0f} ({} {:+.1f}%), streak {} days, {} of 7 days logged; {}",
                     FieldDouble(d, "analytics.rollingAverage"), FieldString(d, "analytics.trend"),
                     FieldDouble(d, "analytics.trendPercentage"),
                     FieldDouble(d, "analytics.streakDays"),
                     FieldDouble(d, "analytics.statistics.dataPointsCount"), today);
}

// The demo's own flags (the configuration flags are the runner's).
void AddDemoFlags(CLI::App& app, DemoOptions* o) {
  app.add_option("--users", o->users, "users to seed (300)")->check(CLI::Range(1, 100000));
  app.add_option("--days", o->days, "days of history to seed (90)")->check(CLI::Range(1, 3650));
  app.add_option("--interval", o->interval, "batch interval in seconds for the demo (2)")
      ->check(CLI::PositiveNumber);
  app.add_option("--write-every", o->write_every,
                 "seconds between the demo writer's edits of today's metrics (0.5)")
      ->check(CLI::PositiveNumber);
  app.add_option("--duration", o->duration, "stop after this many seconds (0: until Ctrl-C)");
  app.add_flag("--seed-demo-data", o->seed_demo_data,
               "seed sample data into the MONGO_URI database too (never done without it)");
  app.add_option("--server", o->server,
                 "the local server without MONGO_URI: mongo-java-server (default) or ferretdb")
      ->check(CLI::IsMember({"mongo-java-server", "ferretdb"}));
}

// Starts the local server and points the configuration at it (database health_demo, state
// folders inside the server's temporary folder, unless set). kInvalidArgument when the server is
// not built or does not start (exit code 2).
Status StartEmbedded(const DemoOptions& o, FlagValues* flags,
                     std::unique_ptr<LocalServer>* server) {
  const bool ferret = o.server == "ferretdb";
  const std::string where = ferret ? FindFerretDb() : FindMongoJavaServer();
  if (where.empty())
    return InvalidArgument(fmt::format(
        "the local server ({}) is not built; run `make demo` or scripts/{} build, or set {}, or "
        "set MONGO_URI to use your own database",
        ferret ? "FerretDB v1.24.2" : "mongo-java-server 1.47.0", o.server,
        ferret ? "HA_FERRETDB to a ferretdb binary" : "HA_MJS_HOME to its folder"));
  *server = std::make_unique<LocalServer>();
  if (Status st = (*server)->Start(o.server, where); !st.ok()) return InvalidArgument(st.message());
  const std::string& d = (*server)->dir();
  (*flags)["MONGO_URI"] = (*server)->uri();
  if (!flags->count("MONGO_DB_NAME")) (*flags)["MONGO_DB_NAME"] = "health_demo";
  for (auto [var, sub] : {std::pair{"CHECKPOINT_LOCATION", "/checkpoint"},
                          {"LOG_DIRECTORY", "/logs"},
                          {"METRICS_DIRECTORY", "/metrics"},
                          {"DLQ_DIRECTORY", "/dlq"}})
    if (!flags->count(var)) (*flags)[var] = d + sub;
  return Status::Ok();
}

// Waits up to 30 s for the database (a JVM on a busy machine can take 5 s to listen); false
// (after logging why) when it does not answer or the local server exits.
bool WaitForDatabase(AdminStore& store, LocalServer* server) {
  Status ping;
  const Instant t0 = NowMillis();
  if (server) server->WaitListening(30);
  while (NowMillis() - t0 < 30'000 && !g_demo_stop.load()) {
    if ((ping = store.Ping()).ok()) {
      spdlog::info("demo: the database answered after {} ms", NowMillis() - t0);
      return true;
    }
    if (server && !server->Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::error("demo: cannot reach the database: {}", ping.message());
  if (server) {  // its folder goes with it: show the end of its log now
    std::ifstream in(server->log());
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    spdlog::error("demo: the local server {}; the end of its log:\n{}",
                  server->Running() ? "is running" : "exited", log);
  }
  return false;
}

// Seeds the sample data; returns the users the demo follows (3), or nullopt on failure.
std::optional<std::vector<ObjectId>> SeedDemo(ToolsStore& store, const DemoOptions& o) {
  const Instant t0 = NowMillis();
  StoreSeedSink sink(store);
  SeedOptions so;
  so.users = o.users;
  so.days = o.days;
  so.seed = 42;
  so.now = NowMillis();
  GenerateSeedData(so, &sink);
  if (Status st = sink.Finish(); !st.ok()) {
    spdlog::error("demo: seeding failed: {}", st.message());
    return std::nullopt;
  }
  spdlog::info("demo: seeded {} users and {} daily documents in {} ms", sink.ids().size(),
               sink.metric_count(), NowMillis() - t0);
  std::vector<ObjectId> tracked;
  for (size_t i = 0; i < sink.ids().size() && tracked.size() < 3; i += 37)
    tracked.push_back(sink.ids()[i]);
  return tracked;
}

// Runs the engine every o.interval seconds until Ctrl-C or o.duration, printing each batch and
// the tracked users' analytics. The writer starts after the first batch, which computes every
// seeded user (seconds), so that its edits measure the steady state. Returns the loop's status.
Status RunDemoLoop(EngineComponents& e, EngineMonitoring& monitoring, const DemoOptions& o,
                   const std::vector<ObjectId>& tracked, DemoWriter* writer,
                   std::unique_ptr<MongoStore> writer_store, SessionSummary* summary) {
  LoopOptions loop;
  loop.interval_seconds = o.interval;
  std::atomic<bool> stop{false};
  const auto started = std::chrono::steady_clock::now();
  std::thread timer([&] {
    while (!g_demo_stop.load()) {
      if (o.duration > 0 &&
          std::chrono::steady_clock::now() - started > std::chrono::duration<double>(o.duration))
        g_demo_stop.store(true);
      stop.store(g_demo_stop.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop.store(true);
  });
  e.engine->SetStopFlag(&stop);
  std::map<ObjectId, ObjectId> analytics_ids;  // tracked user -> their steps/7day document
  summary->started = NowMillis();
  spdlog::info("demo: engine running every {:g} s; Ctrl-C to stop", o.interval);
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
        for (size_t k = 0; k < tracked.size(); ++k)
          spdlog::info("    user {}: {}", tracked[k].ToHex(),
                       Describe(*e.store, k, tracked[k], writer, &analytics_ids));
        if (writer && writer_store) writer->Start(std::move(writer_store));
      },
      summary);
  g_demo_stop.store(true);
  timer.join();
  return st;
}

// The demo's work: the local server (without MONGO_URI), the lock, the engine, the status
// page, the sample data and the writer, then the loop until Ctrl-C or --duration.
Outcome Demo(CommandContext& ctx, FlagValues& flags, const DemoOptions& o) {
  struct sigaction sa {};
  sa.sa_handler = OnDemoSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // Embedded mode when no MONGO_URI is configured anywhere.
  const bool embedded = ctx.config.mongo_uri.empty();
  std::unique_ptr<LocalServer> server;
  if (embedded) {
    if (Status st = StartEmbedded(o, &flags, &server); !st.ok()) return st;
  }
  flags["BATCH_INTERVAL_SECONDS"] = fmt::format("{}", o.interval);
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
    spdlog::info("demo: local {} at {} (data in {}, removed on exit)",
                 o.server == "ferretdb" ? std::string("FerretDB ") + kFerretVersion
                                        : std::string("mongo-java-server ") + kMjsVersion,
                 e.config.mongo_uri, server->dir());
  if (!WaitForDatabase(*e.store, server.get()))
    return Outcome::Reported(Status(StatusCode::kUnavailable, "cannot reach the database"));
  (void)CreateIndexesLogged(*e.store);

  std::vector<ObjectId> tracked;
  if (embedded || o.seed_demo_data) {
    auto seeded = SeedDemo(*e.store, o);
    if (!seeded) return Outcome::Reported(Status(StatusCode::kInternal, "seeding failed"));
    tracked = std::move(*seeded);
  }
  // The writer: keeps adding and editing today's metrics, like the upstream app.
  std::unique_ptr<DemoWriter> writer;
  std::unique_ptr<MongoStore> writer_store;
  if (!tracked.empty()) {
    auto opened = MongoStore::Open(StoreOptionsFrom(e.config));
    if (opened.ok()) {
      writer = std::make_unique<DemoWriter>(tracked, o.write_every);
      writer_store = std::move(opened).value();
    }
  }
  SessionSummary summary;
  Status st =
      RunDemoLoop(e, monitoring, o, tracked, writer.get(), std::move(writer_store), &summary);
  if (writer) writer->Stop();
  spdlog::info(
      "demo stopped: {} batches, {} docs read, {} analytics documents written, {} dead letters; "
      "writer: {}{}",
      summary.batches, summary.records_processed, summary.counts.written(),
      summary.counts.dead_letters, writer ? writer->Summary() : "off",
      embedded ? "; local server stopped and removed" : "");
  return st;
}

}  // namespace

int RunDemo(int argc, char** argv) {
  FlagValues* flags = nullptr;
  DemoOptions o;
  CommandSpec spec;
  spec.name = "demo";
  spec.description =
      "The embedded default: with no MONGO_URI, a local MongoDB-compatible server with sample "
      "data and the live engine; with MONGO_URI, the live engine on that database (seeding it "
      "only with --seed-demo-data). Ctrl-C stops everything.";
  spec.add_flags = [&](CLI::App& app, FlagValues& f) {
    flags = &f;
    AddDemoFlags(app, &o);
  };
  spec.work = [&](CommandContext& ctx) { return Demo(ctx, *flags, o); };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
