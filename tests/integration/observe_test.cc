// What operators see of a real `run` against a real server: the HTTP endpoints through an
// outage and recovery, /metrics and the node_exporter textfile growing with batches, the status
// page rendered by headless Chromium, a busy port, and no secret anywhere.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/unit/observe/prom_text.h"

namespace ha::testing {
namespace {

using nlohmann::json;

constexpr const char* kPassword = "pw-Zq81-never-shown";
constexpr const char* kToken = "tok-Hx42-never-shown";

std::string Shell(const std::string& command, int* exit_code) {
  std::string out;
  FILE* p = popen((command + " 2>/dev/null").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class ObserveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Db>(server_.uri(), UniqueDbName("obs"));
    env_ = EngineEnv(server_.uri(), db_->name(), dir_.path());
    // A password in MONGO_URI (FerretDB's PLAIN mechanism accepts it), a short server selection
    // so an outage fails batches quickly, a token, and a backend nobody answers.
    std::string uri = server_.uri();
    uri.replace(0, std::string("mongodb://").size(),
                std::string("mongodb://alice:") + kPassword + "@");
    uri += "?authMechanism=PLAIN&serverSelectionTimeoutMS=1000";
    env_["MONGO_URI"] = uri;
    env_["SERVICE_TOKEN"] = kToken;
    env_["BACKEND_API_URL"] = "http://127.0.0.1:9/api";
    port_ = FreePort();
    env_["HEALTH_CHECK_PORT"] = std::to_string(port_);
  }

  // GET on the engine; records every body for the secrets check.
  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto r = client.Get(path);
    if (r) bodies_ += r->body + "\n";
    return r;
  }

  json GetJson(const std::string& path) {
    auto r = Get(path);
    if (!r) return json();
    return json::parse(r->body, nullptr, false);
  }

  testing_util::PromText Metrics() {
    auto r = Get("/metrics");
    EXPECT_TRUE(r);
    if (!r) return {};
    auto p = testing_util::ParsePromText(r->body);
    for (const auto& e : p.errors) ADD_FAILURE() << e;
    return p;
  }

  double Completed(const testing_util::PromText& p) {
    return p.Value("health_analytics_batches_total", {{"status", "completed"}}).value_or(-1);
  }

  // Every file under the test's folder (logs, metrics, dead letters, checkpoint, the engine's
  // stdout and stderr) and every HTTP body must be free of both secrets.
  void ExpectNoSecrets() {
    std::string everything = bodies_;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path()))
      if (e.is_regular_file()) everything += ReadFile(e.path().string());
    EXPECT_EQ(everything.find(kPassword), std::string::npos) << "the MONGO_URI password leaked";
    EXPECT_EQ(everything.find(kToken), std::string::npos) << "SERVICE_TOKEN leaked";
  }

  Server server_;
  TempDir dir_;
  std::unique_ptr<Db> db_;
  Env env_;
  int port_ = 0;
  std::string bodies_;
};

TEST_F(ObserveTest, RunReportsAnOutageThenReadinessMetricsAndTheStatusPage) {
  RunResult seed =
      RunHa({"seed", "--users", "40", "--days", "30", "--seed", "3"}, env_, dir_.path());
  ASSERT_EQ(seed.exit_code, 0) << seed.out << seed.err;
  server_.Stop();
  const pid_t run = Spawn({"run"}, env_, dir_.path());

  // The database is down: the process is live, not ready, and says why.
  ASSERT_TRUE(
      WaitFor([&] { return Get("/health/live") && Get("/health/live")->status == 200; }, 30))
      << "no HTTP server on port " << port_;
  auto ready = Get("/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_EQ(json::parse(ready->body)["ready"], false);
  ASSERT_TRUE(WaitFor(
      [&] { return GetJson("/health/detailed")["engine"]["batches_failed"].get<int>() >= 1; }, 30));
  json d = GetJson("/health/detailed");
  EXPECT_EQ(d["ready"], false);
  EXPECT_EQ(d["engine"]["database_reachable"], false) << d.dump();
  EXPECT_EQ(d["last_batch"]["status"], "failed");
  EXPECT_NE(d["status"], "healthy");
  EXPECT_GE(Metrics().Value("health_analytics_batches_total", {{"status", "failed"}}).value_or(0),
            1);

  // The server comes back: the next batch succeeds and the engine is ready.
  server_.Start();
  ASSERT_TRUE(
      WaitFor([&] { return Get("/health/ready") && Get("/health/ready")->status == 200; }, 90))
      << Get("/health/detailed")->body;
  d = GetJson("/health/detailed");
  EXPECT_EQ(d["engine"]["database_reachable"], true);
  EXPECT_EQ(d["status"], "degraded") << "recovering after failures: " << d.dump();
  EXPECT_TRUE(d["checkpoint"]["watermark"].is_string());
  EXPECT_EQ(d["config"]["SERVICE_TOKEN"], "set (***)");
  EXPECT_NE(d["config"]["MONGO_URI"].get<std::string>().find("alice:***@"), std::string::npos);

  // /metrics: the first batch read the seeded documents; counters grow with later batches.
  auto m1 = Metrics();
  const double first = Completed(m1);
  EXPECT_GE(first, 1);
  EXPECT_GT(m1.Value("health_analytics_documents_read_total").value_or(0), 100);
  EXPECT_GT(m1.Value("health_analytics_users_recomputed_total").value_or(0), 0);
  EXPECT_GT(
      m1.Value("health_analytics_analytics_written_total", {{"operation", "insert"}}).value_or(0),
      0);
  ASSERT_TRUE(m1.Value("health_analytics_checkpoint_lag_seconds"));
  EXPECT_GE(*m1.Value("health_analytics_checkpoint_lag_seconds"), 0);
  EXPECT_TRUE(m1.Value("health_analytics_last_success_timestamp_seconds"));
  EXPECT_EQ(m1.Value("health_analytics_polling_interval_seconds"), 1);
  ASSERT_TRUE(WaitFor([&] { return Completed(Metrics()) >= first + 2; }, 30));

  // The node_exporter textfile: both names, rewritten after each batch.
  const std::string prom_path = dir_.path() + "/metrics/spark_analytics_metrics.prom";
  ASSERT_TRUE(std::filesystem::exists(prom_path));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = testing_util::ParsePromText(ReadFile(prom_path));
        return p.Value("spark_analytics_batches_total").value_or(0) >= first + 2;
      },
      10));
  const auto textfile = testing_util::ParsePromText(ReadFile(prom_path));
  EXPECT_TRUE(textfile.errors.empty());
  EXPECT_TRUE(textfile.Value("spark_analytics_checkpoint_lag_seconds"));
  EXPECT_GT(textfile.Value("spark_analytics_records_processed_total").value_or(0), 100);

  // Dead letters: the seed writes some invalid values; counts and entries agree with /metrics.
  const json dlq = GetJson("/health/dlq");
  double dead = 0;
  for (const auto& s : Metrics().samples)
    if (s.name == "health_analytics_dead_letters_total") dead += s.value;
  EXPECT_EQ(dlq["total_since_start"].get<double>(), dead);
  EXPECT_GT(dead, 0) << "the seed no longer writes invalid values?";
  ASSERT_FALSE(dlq["recent"].empty());
  EXPECT_TRUE(dlq["recent"][0].contains("doc_id"));
  EXPECT_TRUE(dlq["recent"][0].contains("reason"));

  // promtool accepts both expositions.
  const std::string scratch = dir_.path() + "/promtool-input";
  for (const std::string& text : {Get("/metrics")->body, ReadFile(prom_path)}) {
    auto r = testing_util::PromtoolCheckMetrics(text, scratch);
    if (!r) break;  // promtool not installed: the unit tests say so
    EXPECT_EQ(r->exit_code, 0) << r->output;
  }

  // The status page in headless Chromium: charts drawn from these batches.
  int has_chromium = 1;
  Shell("command -v chromium", &has_chromium);
  if (has_chromium == 0) {
    const json batches = GetJson("/api/batches")["batches"];
    const std::string profile = dir_.path() + "/chromium-profile";
    int code = -1;
    const std::string dom = Shell(
        "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic "
        "--no-first-run --disable-background-networking --disable-component-update "
        "--disable-sync --user-data-dir=" +
            profile + " --window-size=1280,900 --virtual-time-budget=5000 --dump-dom " +
            "http://127.0.0.1:" + std::to_string(port_) + "/",
        &code);
    EXPECT_EQ(code, 0);
    EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << "the page never loaded data";
    // One bar per batch in each of the three charts, the first batch's among them.
    std::set<int64_t> ids;
    int bars = 0;
    for (size_t pos = 0; (pos = dom.find("<rect ", pos)) != std::string::npos; ++pos) {
      const std::string tag = dom.substr(pos, dom.find('>', pos) - pos);
      const std::string id_attr = "data-batch-id=\"";
      const size_t id = tag.find(id_attr);
      if (tag.find("class=\"bar") == std::string::npos || id == std::string::npos) continue;
      ++bars;
      ids.insert(std::stoll(tag.substr(id + id_attr.size())));
    }
    EXPECT_GE(bars, 3 * static_cast<int>(batches.size()));
    EXPECT_TRUE(ids.count(batches.front()["batch_id"].get<int64_t>())) << dom.substr(0, 3000);
    EXPECT_NE(dom.find("class=\"bar failed\""), std::string::npos) << "the outage's batches";
    EXPECT_NE(dom.find(">ready<"), std::string::npos);
    std::filesystem::remove_all(profile);
  } else {
    std::fprintf(stderr, "status page not rendered: chromium is not installed (scripts/setup)\n");
  }

  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
  ExpectNoSecrets();
}

TEST_F(ObserveTest, ABusyPortIsAWarningAndRunGoesOn) {
  // Someone else listens on the port.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  const pid_t run = Spawn({"run"}, env_, dir_.path());
  const std::string prom_path = dir_.path() + "/metrics/spark_analytics_metrics.prom";
  EXPECT_TRUE(WaitFor(
      [&] {
        return std::filesystem::exists(prom_path) &&
               testing_util::ParsePromText(ReadFile(prom_path))
                       .Value("spark_analytics_batches_total")
                       .value_or(0) >= 2;
      },
      60))
      << "batches stopped because HTTP could not listen";
  int status = 0;
  EXPECT_EQ(waitpid(run, &status, WNOHANG), 0) << "run exited";
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
  close(fd);
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
    if (e.path().filename().string().rfind(".spawn", 0) == 0) out += ReadFile(e.path().string());
  EXPECT_NE(out.find("cannot listen on 127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << out;
  EXPECT_NE(out.find("without HTTP endpoints"), std::string::npos) << out;
  ExpectNoSecrets();
}

TEST_F(ObserveTest, OnceWritesTheTextfileWithoutServingHttp) {
  RunResult r = RunHa({"once"}, env_, dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto p =
      testing_util::ParsePromText(ReadFile(dir_.path() + "/metrics/spark_analytics_metrics.prom"));
  EXPECT_TRUE(p.errors.empty());
  EXPECT_EQ(p.Value("spark_analytics_batches_total"), 1);
  EXPECT_EQ(p.Value("health_analytics_batches_total", {{"status", "completed"}}), 1);
  EXPECT_FALSE(Get("/health/live")) << "once must not serve HTTP";
  ExpectNoSecrets();
}

}  // namespace
}  // namespace ha::testing
