#include "observe/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "prom_text.h"

namespace ha {
namespace {

using nlohmann::json;

const Instant kT0 = *ParseInstant("2025-11-20T12:00:00Z");

BatchReport Completed(int64_t id, Instant start) {
  BatchReport r;
  r.batch_id = id;
  r.start_time = start;
  r.end_time = start + 120;
  r.clock = start;
  r.records_processed = 12;
  r.counts.updated = 3;
  r.watermark_to = start - 1000;
  return r;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : monitor_(Options(), kT0), server_(monitor_, [this] { return now_.load(); }) {}

  static MonitorOptions Options() {
    MonitorOptions o;
    o.version = "0.0.7";
    o.interval_seconds = 5;
    o.config = {{"SERVICE_TOKEN", "set (***)"}};
    return o;
  }

  void SetUp() override {
    server_.SetUserAnalyticsLookup([this](const ObjectId& id) {
      ++lookups_;
      UserAnalyticsLookup lookup;
      {
        std::lock_guard lock(lookup_mu_);
        lookup = lookup_;
      }
      return lookup(id);
    });
    Status st = server_.Start("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_GT(server_.port(), 0);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_.port());
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client.Get(path);
  }

  std::atomic<Instant> now_{kT0};
  // What /api/users/<id>/analytics finds (none by default), from the server's threads.
  void SetLookup(UserAnalyticsLookup lookup) {
    std::lock_guard lock(lookup_mu_);
    lookup_ = std::move(lookup);
  }
  std::mutex lookup_mu_;
  UserAnalyticsLookup lookup_ = [](const ObjectId&) -> Result<std::vector<std::string>> {
    return std::vector<std::string>{};
  };
  std::atomic<int> lookups_{0};
  Monitor monitor_;
  HttpServer server_;
};

TEST_F(HttpServerTest, ServesTheOldJobsEndpointsWithHonestCodes) {
  auto live = Get("/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(live->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(live->body)["status"], "alive");

  auto ready = Get("/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << "no batch yet";
  EXPECT_EQ(json::parse(ready->body)["ready"], false);

  monitor_.OnBatch(Completed(0, kT0 + 1000), 5, false);
  now_ = kT0 + 2000;
  ready = Get("/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  for (const char* path : {"/health", "/health/detailed", "/health/dlq", "/api/batches"}) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store") << path;
    EXPECT_NO_THROW(json::parse(r->body)) << path;
  }
  EXPECT_EQ(json::parse(Get("/health/detailed")->body)["last_batch"]["records_processed"], 12);
  EXPECT_EQ(json::parse(Get("/api/batches")->body)["batches"].size(), 1u);

  // 20 s later, with a 5 s interval: not ready any more, and unhealthy.
  now_ = kT0 + 22'000;
  EXPECT_EQ(Get("/health/ready")->status, 503);
  EXPECT_EQ(Get("/health")->status, 503);
  EXPECT_EQ(Get("/health/live")->status, 200);
}

TEST_F(HttpServerTest, MetricsUseThePrometheusContentTypeAndGrowWithBatches) {
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto before = testing_util::ParsePromText(r->body);
  EXPECT_TRUE(before.errors.empty());
  EXPECT_EQ(before.Value("health_analytics_batches_total", {{"status", "completed"}}), 0);
  EXPECT_FALSE(before.Value("spark_analytics_batches_total")) << "old names: textfile only";

  monitor_.OnBatch(Completed(0, kT0), 5, false);
  monitor_.OnBatch(Completed(1, kT0 + 5000), 5, false);
  now_ = kT0 + 10'000;
  auto after = testing_util::ParsePromText(Get("/metrics")->body);
  EXPECT_EQ(after.Value("health_analytics_batches_total", {{"status", "completed"}}), 2);
  EXPECT_EQ(after.Value("health_analytics_documents_read_total"), 24);
  EXPECT_EQ(after.Value("health_analytics_analytics_written_total", {{"operation", "update"}}), 6);
  EXPECT_DOUBLE_EQ(*after.Value("health_analytics_checkpoint_lag_seconds"), 6.0);
}

TEST_F(HttpServerTest, StatusPageIsSelfContained) {
  auto r = Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  // Chart.js, byte for byte the file the build embedded, inside the page's first <script>.
  std::ifstream in(HA_CHARTJS, std::ios::binary);
  const std::string chartjs{std::istreambuf_iterator<char>(in), {}};
  ASSERT_GT(chartjs.size(), 100'000u) << HA_CHARTJS;
  const size_t lib = r->body.find(chartjs);
  ASSERT_NE(lib, std::string::npos) << "Chart.js is not embedded whole";
  EXPECT_EQ(r->body.find(chartjs, lib + 1), std::string::npos) << "embedded twice";
  EXPECT_EQ(r->body.rfind("<script>\n", lib), lib - 9) << "not at the start of a <script>";
  EXPECT_EQ(r->body.compare(lib + chartjs.size(), 10, "\n</script>"), 0);
  // The rest is the page's own: it polls the endpoints and draws with Chart.js.
  const std::string html = r->body.substr(0, lib) + r->body.substr(lib + chartjs.size());
  EXPECT_NE(html.find("new Chart("), std::string::npos);
  EXPECT_NE(html.find("<canvas"), std::string::npos);
  EXPECT_NE(html.find("health/detailed"), std::string::npos);
  EXPECT_NE(html.find("api/batches"), std::string::npos);
  EXPECT_NE(html.find("api/users/"), std::string::npos);
  // No external assets: no src/href attributes, no CSS imports or url(), no absolute URLs other
  // than the SVG namespace.
  std::string compact;  // lowercase, without blanks: catches `src =` and `HREF=` too
  for (char c : html)
    if (!std::isspace(static_cast<unsigned char>(c)))
      compact += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(compact.find("src="), std::string::npos);
  EXPECT_EQ(compact.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  const std::string rest = testing_util::ReplaceAll(html, "http://www.w3.org/2000/svg", "");
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  EXPECT_EQ(rest.find("//cdn"), std::string::npos);
}

TEST_F(HttpServerTest, UnknownPathsAnswer404WithTheEndpoints) {
  auto r = Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["error"], "no endpoint GET /nope");
  EXPECT_NE(std::find(j["endpoints"].begin(), j["endpoints"].end(), "/metrics"),
            j["endpoints"].end());
}

std::string Doc(const std::string& metric, const std::string& range) {
  return json{{"metricType", metric}, {"timeRange", range}, {"analytics", {{"trend", "up"}}}}
      .dump();
}

TEST_F(HttpServerTest, UserAnalyticsAnswersTheLookupsDocuments) {
  std::promise<std::string> asked;
  SetLookup([&](const ObjectId& id) -> Result<std::vector<std::string>> {
    asked.set_value(id.ToHex());
    return std::vector<std::string>{Doc("steps", "7day"), Doc("weight", "90day")};
  });
  // Upper-case hex is an ObjectId too; the answer names it in lower case.
  auto r = Get("/api/users/65A1B2C3D4E5F60718293A4B/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(asked.get_future().get(), "65a1b2c3d4e5f60718293a4b");
  const json j = json::parse(r->body);
  EXPECT_EQ(j["userId"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(j["count"], 2);
  ASSERT_EQ(j["documents"].size(), 2u);
  EXPECT_EQ(j["documents"][0]["metricType"], "steps");
  EXPECT_EQ(j["documents"][1]["timeRange"], "90day");
  EXPECT_EQ(j["documents"][1]["analytics"]["trend"], "up");
}

TEST_F(HttpServerTest, AMalformedUserIdIsA400ThatSaysWhatIsExpected) {
  for (const char* id : {"xyz", "65a1b2c3d4e5f60718293a4", "65a1b2c3d4e5f60718293a4b0",
                         "65a1b2c3d4e5f60718293a4g", "%20%2065a1b2c3d4e5f60718293a4b",
                         "65a1b2c3d4e5f6071829%00a4b", "'%3Cscript%3E'", "%FF%FE", ""}) {
    auto r = Get(std::string("/api/users/") + id + "/analytics");
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(r->status, 400) << id << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << id;
    const json j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << id << ": " << r->body;
    EXPECT_NE(j["error"].get<std::string>().find("expected 24 hexadecimal digits"),
              std::string::npos)
        << j.dump();
    EXPECT_FALSE(j.contains("userId")) << j.dump();
  }
  // What arrived is echoed, shortened.
  const std::string long_id(5000, 'a');
  auto r = Get("/api/users/" + long_id + "/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_LT(r->body.size(), 300u);
  EXPECT_EQ(json::parse(r->body)["error"].get<std::string>().rfind(
                "user id \"" + std::string(64, 'a') + "...\" is not an ObjectId", 0),
            0u)
      << r->body;
  EXPECT_EQ(lookups_, 0) << "a malformed id must not reach the database";
}

TEST_F(HttpServerTest, AUserWithoutDocumentsIsA404) {
  auto r = Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["userId"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_NE(j["error"].get<std::string>().find("has no analytics documents"), std::string::npos);
  EXPECT_EQ(lookups_, 1);
}

TEST_F(HttpServerTest, ADatabaseThatIsDownIsA503AndOtherFailuresA502) {
  SetLookup([](const ObjectId&) -> Result<std::vector<std::string>> {
    return Unavailable("No suitable servers found");
  });
  auto r = Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["error"], "the database is unreachable, try again later: No suitable servers found");
  EXPECT_EQ(j["userId"], "65a1b2c3d4e5f60718293a4b");

  SetLookup([](const ObjectId&) -> Result<std::vector<std::string>> {
    return Internal("not authorized on db");
  });
  r = Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"], "reading the analytics failed: not authorized on db");
}

TEST_F(HttpServerTest, OneLookupAtATimeLeavesTheProbesTheirThreads) {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  SetLookup([&](const ObjectId&) -> Result<std::vector<std::string>> {
    entered.set_value();
    released.wait();
    return std::vector<std::string>{Doc("steps", "7day")};
  });
  auto slow = std::async(std::launch::async,
                         [&] { return Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics"); });
  entered.get_future().wait();
  for (int i = 0; i < 6; ++i) {  // more than the server's 4 threads
    auto busy = Get("/api/users/65a1b2c3d4e5f60718293a4c/analytics");
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->status, 503) << busy->body;
    EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
    EXPECT_NE(json::parse(busy->body)["error"].get<std::string>().find("another user lookup"),
              std::string::npos);
  }
  auto live = Get("/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  release.set_value();
  auto first = slow.get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(lookups_, 1);
}

TEST(HttpServer, WithoutALookupTheUserViewIsA501) {
  Monitor monitor(MonitorOptions{}, kT0);
  HttpServer server(monitor);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  httplib::Client client("127.0.0.1", server.port());
  auto r = client.Get("/api/users/65a1b2c3d4e5f60718293a4b/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_EQ(json::parse(r->body)["error"], "this process serves no per-user view");
  r = client.Get("/api/users/nope/analytics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "validated first";
}

TEST_F(HttpServerTest, APortInUseIsAClearErrorNotASharedPort) {
  Monitor other_monitor(Options(), kT0);
  HttpServer other(other_monitor);
  Status st = other.Start("127.0.0.1", server_.port());
  ASSERT_FALSE(st.ok()) << "a second server must not share the port (SO_REUSEPORT)";
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(server_.port())), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("HEALTH_CHECK_PORT"), std::string::npos) << st.message();
  EXPECT_EQ(other.port(), 0);
  other.Stop();  // harmless when never started
}

TEST(HttpServer, StopsPromptlyAndTwice) {
  Monitor monitor(MonitorOptions{}, kT0);
  HttpServer server(monitor);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  const int port = server.port();
  server.Stop();
  server.Stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/health/live")) << "still answering after Stop()";
}

}  // namespace
}  // namespace ha
