// What operators see of a real `run` against a real server: the HTTP endpoints through an
// outage and recovery, /metrics and the node_exporter textfile growing with batches, the status
// page and its per-user view rendered by headless Chromium (with a screenshot), a busy port, and
// no secret anywhere.
//
// HA_TEST_SCREENSHOTS=<folder> keeps the screenshots the tests take (user-view.png) there.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
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

bool HasChromium() {
  int code = 1;
  Shell("command -v chromium", &code);
  if (code != 0)
    std::fprintf(stderr, "status page not rendered: chromium is not installed (scripts/setup)\n");
  return code == 0;
}

// Headless Chromium on `url` with `output` (--dump-dom, --screenshot=...), its profile under
// `dir`; stdout, and the exit code in *code.
std::string Chromium(const std::string& dir, const std::string& output, const std::string& url,
                     int* code) {
  const std::string profile = dir + "/chromium-profile";
  std::string out = Shell(
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic "
      "--no-first-run --disable-background-networking --disable-component-update "
      "--disable-sync --hide-scrollbars --user-data-dir=" +
          profile + " --window-size=1280,1400 --virtual-time-budget=5000 " + output + " '" + url +
          "'",
      code);
  std::filesystem::remove_all(profile);
  return out;
}

// The opening tag of the first element after `from` in `dom` that has `marker` (an attribute
// such as id="chart-docs"), or "".
std::string TagWith(const std::string& dom, const std::string& marker, size_t from = 0) {
  const size_t at = dom.find(marker, from);
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at);
  return dom.substr(open, dom.find('>', at) - open + 1);
}

// The value of attribute `name` in `tag`, or "" (absent).
std::string Attr(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return tag.substr(start, tag.find('"', start) - start);
}

int64_t AttrNumber(const std::string& tag, const std::string& name) {
  const std::string v = Attr(tag, name);
  return v.empty() ? -1 : std::stoll(v);
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

  // The status page in headless Chromium: Chart.js draws a bar per batch in each of the three
  // charts (?selftest makes each chart count its pixels of the bar colour and of the failed red).
  if (HasChromium()) {
    const json batches = GetJson("/api/batches")["batches"];
    int code = -1;
    const std::string dom =
        Chromium(dir_.path(), "--dump-dom",
                 "http://127.0.0.1:" + std::to_string(port_) + "/?selftest", &code);
    EXPECT_EQ(code, 0);
    EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << "the page never loaded data";
    for (const char* chart : {"chart-duration", "chart-docs", "chart-dead"}) {
      const std::string tag = TagWith(dom, std::string("id=\"") + chart + "\"");
      ASSERT_EQ(tag.rfind("<canvas", 0), 0u) << chart << ": " << dom.substr(0, 3000);
      EXPECT_GE(AttrNumber(tag, "data-points"), static_cast<int64_t>(batches.size())) << tag;
      EXPECT_EQ(AttrNumber(tag, "data-first-batch-id"), batches.front()["batch_id"].get<int64_t>())
          << tag;
      EXPECT_GE(AttrNumber(tag, "data-failed"), 1) << "the outage's batches: " << tag;
    }
    // Bars painted: every completed batch took some time, and the failed ones too (each waited
    // for the server selection).
    const std::string duration = TagWith(dom, "id=\"chart-duration\"");
    EXPECT_GT(AttrNumber(duration, "data-painted-bar"), 100) << duration;
    EXPECT_GT(AttrNumber(duration, "data-painted-failed"), 20) << duration;
    // The first batch read the seeded documents.
    EXPECT_GT(AttrNumber(TagWith(dom, "id=\"chart-docs\""), "data-painted-bar"), 20);
    EXPECT_NE(dom.find(">ready<"), std::string::npos);
  }

  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);
  ExpectNoSecrets();
}

// The inner text of the per-user view's cell (metric, range, figure), tags removed.
std::string UserCell(const std::string& dom, const std::string& metric, const std::string& range,
                     const std::string& field) {
  const size_t card = dom.find("data-metric=\"" + metric + "\"");
  if (card == std::string::npos) return "(no card)";
  const std::string key = "data-range=\"" + range + "\" data-field=\"" + field + "\">";
  const size_t at = dom.find(key, card);
  if (at == std::string::npos) return "(no cell)";
  const size_t end = dom.find("</td>", at);
  std::string text;
  bool in_tag = false;
  for (size_t i = at + key.size(); i < end; ++i) {
    if (dom[i] == '<') in_tag = true;
    if (!in_tag) text += dom[i];
    if (dom[i] == '>') in_tag = false;
  }
  return text;
}

// One user's ten days of steps and sleep, the analytics worked by hand from the analytics spec
// (section 3; today = d, steps goal 10000 and sleep goal 8 by default):
//   steps d-9..d: 10000 10000 10000 5000 5000 5000 5000 5500 5000 15000
//     7day:  W = the last 7, mean 45500/7 = 6500; P = the three 10000s, so -3500 = -35 %: down.
//            Baseline = W without d: mean 5083.33, sd 204.1, z = 48.6: a high anomaly,
//            100 * 9916.67 / 5083.33 = 195.1 -> "Steps 195% above average for this period".
//     30day, 90day: W = all 10, mean 7550; no previous window: stable, 0 %. Baseline = the 9
//            days before d: mean 6722.2, sd 2463.6, z = 3.36 > 3: high, 123 %.
//     streak: d meets the goal, d-1 does not: 1; longest run d-9..d-7: 3.
//   sleep d-9..d: 7 8 8 7.5 8 8.5 9 8 6.5 8: the runs of days >= 8 are d-8..d-7, d-5..d-2 and d,
//     so streak 1, longest 4.
TEST_F(ObserveTest, TheUserViewShowsAUsersAnalyticsInChromium) {
  const std::string user = "65a1b2c3d4e5f60718293a4b";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t today = now - now % 86'400'000;
  const double steps[] = {10000, 10000, 10000, 5000, 5000, 5000, 5000, 5500, 5000, 15000};
  const double sleep[] = {7, 8, 8, 7.5, 8, 8.5, 9, 8, 6.5, 8};
  std::string lines;
  for (int i = 0; i < 10; ++i)
    lines += fmt::format(R"({{"userId":{{"$oid":"{}"}},"date":{{"$date":{{"$numberLong":"{}"}}}},)"
                         R"("metrics":{{"steps":{},"sleepHours":{}}},"source":"googlefit",)"
                         R"("updatedAt":{{"$date":{{"$numberLong":"{}"}}}}}})"
                         "\n",
                         user, today - (9 - i) * int64_t{86'400'000}, steps[i], sleep[i], now);
  db_->InsertJsonLines("healthmetrics", lines);
  const pid_t run = Spawn({"run"}, env_, dir_.path());
  const std::string path = "/api/users/" + user + "/analytics";
  json answer;
  ASSERT_TRUE(WaitFor(
      [&] {
        answer = GetJson(path);
        return answer.is_object() && answer.value("count", 0) == 6;
      },
      60))
      << answer.dump();

  // The API: the stored documents, as the app reads them (plain JSON, ISO dates).
  EXPECT_EQ(answer["userId"], user);
  bson_t filter = BSON_INITIALIZER;
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, user.c_str());
  BSON_APPEND_OID(&filter, "userId", &oid);
  EXPECT_EQ(db_->Count("analytics", &filter), 6);
  bson_destroy(&filter);
  std::map<std::string, json> stored;  // "_id" -> the document, from the server directly
  for (const std::string& line : db_->ExportCanonical("analytics")) {
    const json d = json::parse(line);
    stored[d["_id"]["$oid"].get<std::string>()] = d;
  }
  std::map<std::string, json> by_key;  // "steps/7day" -> the API's document
  for (const json& d : answer["documents"]) {
    by_key[d["metricType"].get<std::string>() + "/" + d["timeRange"].get<std::string>()] = d;
    ASSERT_TRUE(stored.count(d["_id"].get<std::string>())) << d.dump();
    const json& s = stored[d["_id"].get<std::string>()];
    EXPECT_EQ(s["analytics"]["trend"], d["analytics"]["trend"]);
    EXPECT_EQ(s["historicalData"].size(), d["historicalData"].size());
    EXPECT_TRUE(d["calculatedAt"].is_string()) << "an ISO date, as the app sees it";
  }
  ASSERT_EQ(by_key.size(), 6u);
  const json& w7 = by_key["steps/7day"]["analytics"];
  EXPECT_EQ(w7["rollingAverage"].get<double>(), 6500);
  EXPECT_EQ(w7["trend"], "down");
  EXPECT_NEAR(w7["trendPercentage"].get<double>(), -35, 1e-9);
  EXPECT_EQ(w7["streakDays"], 1);
  EXPECT_EQ(w7["longestStreak"], 3);
  EXPECT_EQ(w7["anomalyDetails"]["severity"], "high");
  EXPECT_EQ(w7["anomalyDetails"]["message"], "Steps 195% above average for this period");
  EXPECT_EQ(by_key["steps/7day"]["historicalData"].size(), 7u);
  for (const char* range : {"30day", "90day"}) {
    const json& a = by_key[std::string("steps/") + range]["analytics"];
    EXPECT_EQ(a["rollingAverage"].get<double>(), 7550) << range;
    EXPECT_EQ(a["trend"], "stable") << range;
    EXPECT_EQ(a["anomalyDetails"]["severity"], "high") << range;
    EXPECT_EQ(a["anomalyDetails"]["message"], "Steps 123% above average for this period");
    EXPECT_EQ(by_key[std::string("steps/") + range]["historicalData"].size(), 10u);
  }
  EXPECT_EQ(by_key["sleepHours/30day"]["analytics"]["streakDays"], 1);
  EXPECT_EQ(by_key["sleepHours/30day"]["analytics"]["longestStreak"], 4);

  // Malformed and unknown ids.
  auto bad = Get("/api/users/not-an-id/analytics");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_TRUE(json::parse(bad->body)["error"].is_string());
  auto unknown = Get("/api/users/65a1b2c3d4e5f60718293a4c/analytics");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;

  // The page, in headless Chromium: the figures above in the steps card, for each range, and
  // the 90-day historicalData drawn with the anomalous last day in red.
  if (HasChromium()) {
    const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/?selftest#user=" + user;
    int code = -1;
    const std::string dom = Chromium(dir_.path(), "--dump-dom", url, &code);
    EXPECT_EQ(code, 0);
    EXPECT_NE(dom.find("data-user-code=\"200\""), std::string::npos) << dom.substr(0, 3000);
    EXPECT_EQ(UserCell(dom, "steps", "7day", "average"), "6,500");
    EXPECT_EQ(UserCell(dom, "steps", "30day", "average"), "7,550");
    EXPECT_EQ(UserCell(dom, "steps", "90day", "average"), "7,550");
    EXPECT_EQ(UserCell(dom, "steps", "7day", "trend"), "\u2193 down -35.0%");
    EXPECT_EQ(UserCell(dom, "steps", "30day", "trend"), "stable +0.0%");
    for (const char* range : {"7day", "30day", "90day"}) {
      EXPECT_EQ(UserCell(dom, "steps", range, "streak"), "1 (3)") << range;
      EXPECT_EQ(UserCell(dom, "steps", range, "anomaly"), "high") << range;
      EXPECT_EQ(UserCell(dom, "sleepHours", range, "streak"), "1 (4)") << range;
    }
    EXPECT_EQ(UserCell(dom, "steps", "7day", "points"), "7 (100%)");
    EXPECT_NE(dom.find("Steps 195% above average for this period"), std::string::npos);
    const std::string chart =
        TagWith(dom, "<canvas", dom.find("class=\"metric\" data-metric=\"steps\""));
    EXPECT_EQ(AttrNumber(chart, "data-points"), 10) << chart;
    EXPECT_EQ(Attr(chart, "data-range"), "90day") << chart;
    EXPECT_GT(AttrNumber(chart, "data-painted-line"), 200) << chart;
    EXPECT_GT(AttrNumber(chart, "data-painted-anomaly"), 10) << chart;

    // The screenshot: a PNG of the window (look at it: HA_TEST_SCREENSHOTS).
    const std::string png = dir_.path() + "/user-view.png";
    Chromium(dir_.path(), "--screenshot=" + png, url, &code);
    EXPECT_EQ(code, 0);
    const std::string image = ReadFile(png);
    ASSERT_GT(image.size(), 24u) << "no screenshot";
    EXPECT_EQ(image.substr(0, 8), "\x89PNG\r\n\x1a\n");
    auto be32 = [&](size_t at) {
      return (uint32_t{static_cast<uint8_t>(image[at])} << 24) |
             (uint32_t{static_cast<uint8_t>(image[at + 1])} << 16) |
             (uint32_t{static_cast<uint8_t>(image[at + 2])} << 8) |
             uint32_t{static_cast<uint8_t>(image[at + 3])};
    };
    EXPECT_EQ(image.substr(12, 4), "IHDR");
    EXPECT_EQ(be32(16), 1280u);
    EXPECT_EQ(be32(20), 1400u);
    EXPECT_GT(image.size(), 50'000u) << "a blank page compresses to a few kB";
    if (const char* keep = std::getenv("HA_TEST_SCREENSHOTS"); keep && *keep) {
      std::filesystem::create_directories(keep);
      std::filesystem::copy_file(png, std::string(keep) + "/user-view.png",
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

  // The database goes away: 503, with a JSON reason.
  server_.Stop();
  auto down = Get(path);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_NE(json::parse(down->body)["error"].get<std::string>().find("unreachable"),
            std::string::npos);

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
