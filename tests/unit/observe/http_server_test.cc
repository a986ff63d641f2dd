#include "observe/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <nlohmann/json.hpp>

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
  const std::string& html = r->body;
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("health/detailed"), std::string::npos);
  EXPECT_NE(html.find("api/batches"), std::string::npos);
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
