#include "events/events.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sample_changes.h"
#include "tests/support/http_receiver.h"

namespace ha {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Change;
using testing::HttpAnswer;
using testing::HttpReceiver;
using testing::HttpRequest;
using testing::kCalculatedAt;
using testing::NumberedChanges;
using testing::SampleSteps;
using testing::SampleWeight;
using testing::UserId;

// True when `s` matches `pattern`, where '9' stands for a decimal digit, 'f' for a lowercase hex
// digit, and any other character for itself. (std::regex trips GCC 12's warnings at -O1.)
bool Matches(std::string_view s, std::string_view pattern) {
  if (s.size() != pattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool digit = c >= '0' && c <= '9';
    if (pattern[i] == '9'   ? !digit
        : pattern[i] == 'f' ? !(digit || (c >= 'a' && c <= 'f'))
                            : c != pattern[i])
      return false;
  }
  return true;
}

constexpr char kToken[] = "s3cr3t-service-token-0123456789";

// Captures everything logged through spdlog's default logger during a test.
class EventPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    auto logger = std::make_shared<spdlog::logger>("events-test", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    spdlog::set_default_logger(previous_);
    EXPECT_EQ(Log().find(kToken), std::string::npos) << Log();
  }
  std::string Log() {
    spdlog::default_logger()->flush();
    return log_.str();
  }

  // Fast retries so the tests do not sleep; everything else as in production.
  static EventPublisherOptions Options(const std::string& url) {
    EventPublisherOptions o;
    o.backend_api_url = url;
    o.service_token = kToken;
    o.retry_waits = {10ms, 20ms};
    o.log_interval = 0ms;
    return o;
  }

  // Announces `changes` for `user` in a batch that commits.
  static void Commit(EventPublisher& p, int64_t batch_id, const ObjectId& user,
                     std::vector<AnalyticsChange> changes) {
    p.OnUserChanged(user, kCalculatedAt, std::move(changes));
    p.OnBatchCommitted(batch_id);
  }

  static std::vector<AnalyticsChange> OneChange(const ObjectId& user) {
    std::vector<AnalyticsChange> v;
    v.push_back(Change(user, SampleSteps(), 0, true));
    return v;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream log_;
};

TEST_F(EventPublisherTest, PostsTheSpecBodyWithTheHeaders) {
  HttpReceiver receiver;
  EventPublisherOptions o = Options(receiver.url() + "/");  // the slash is not doubled
  auto created = EventPublisher::Create(o);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EventPublisher& p = **created;

  const ObjectId user = UserId(1);
  std::vector<AnalyticsChange> changes;
  changes.push_back(Change(user, SampleSteps(), 0, true));
  changes.push_back(Change(user, SampleWeight(), 1, false));
  const Instant before = NowMillis();
  Commit(p, 7, user, std::move(changes));
  p.Shutdown(10s);
  const Instant after = NowMillis();

  ASSERT_EQ(receiver.count(), 1u);
  const HttpRequest r = receiver.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/events/emit");
  EXPECT_EQ(r.headers.at("authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.count("expect"), 0u);

  // Plain JSON only: no Extended JSON wrapper anywhere.
  for (const char* wrapper : {"$date", "$oid", "$numberLong", "$numberDouble", "$numberInt"})
    EXPECT_EQ(r.body.find(wrapper), std::string::npos) << wrapper << " in " << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body.size(), 3u);
  EXPECT_EQ(body["userId"], user.ToHex());
  EXPECT_TRUE(Matches(body["userId"].get<std::string>(), std::string(24, 'f')));
  EXPECT_EQ(body["eventType"], "analytics:batch_update");
  const json& data = body["data"];
  EXPECT_EQ(data["count"], 2);
  EXPECT_EQ(data["batchIndex"], 1);
  EXPECT_EQ(data["totalBatches"], 1);
  ASSERT_TRUE(data["documentId"].is_string());
  EXPECT_FALSE(data["documentId"].get<std::string>().empty());
  ASSERT_TRUE(data["timestamp"].is_number_integer());
  EXPECT_GE(data["timestamp"].get<int64_t>(), before);
  EXPECT_LE(data["timestamp"].get<int64_t>(), after);
  // What the dashboard reads to label the event a batch and to find its user.
  EXPECT_EQ(data["isBatch"], true);
  EXPECT_EQ(data["userId"], body["userId"]);
  EXPECT_EQ(data["userId"], user.ToHex());
  EXPECT_EQ(data.size(), 8u) << data.dump();

  ASSERT_EQ(data["analytics"].size(), 2u);
  const json& steps = data["analytics"][0];
  EXPECT_EQ(steps["metricType"], "steps");
  EXPECT_EQ(steps["timeRange"], "7day");
  EXPECT_EQ(steps["operationType"], "insert");
  EXPECT_EQ(steps["calculatedAt"], "2025-11-20T10:00:45.123Z");
  EXPECT_TRUE(Matches(steps["calculatedAt"].get<std::string>(), "9999-99-99T99:99:99.999Z"));
  const json& a = steps["analytics"];
  EXPECT_EQ(a["rollingAverage"].get<double>(), 8000.0);
  EXPECT_EQ(a["trend"], "up");
  EXPECT_EQ(a["trendPercentage"].get<double>(), 12.5);
  EXPECT_EQ(a["anomalyDetected"], true);
  EXPECT_EQ(a["anomalyDetails"]["severity"], "high");
  EXPECT_EQ(a["anomalyDetails"]["actualValue"].get<double>(), 15000.0);
  EXPECT_EQ(a["anomalyDetails"]["deviation"].get<double>(), 3.4);
  EXPECT_EQ(a["anomalyDetails"]["message"], "Steps 125% above average for this period");
  EXPECT_EQ(a["anomalyDetails"]["detectedAt"], "2025-11-20T10:00:45.123Z");
  EXPECT_EQ(a["streakDays"], 3);
  EXPECT_EQ(a["longestStreak"], 10);
  EXPECT_EQ(a["streakStartDate"], "2025-11-18T00:00:00.000Z");
  EXPECT_EQ(a["comparisonToPrevious"]["absoluteChange"].get<double>(), 888.25);
  EXPECT_EQ(a["comparisonToPrevious"]["isImprovement"], true);
  EXPECT_EQ(a["statistics"]["minValue"].get<double>(), 5000.0);
  EXPECT_EQ(a["statistics"]["dataPointsCount"], 7);
  // Only the five item fields: no historicalData, metadata, expiresAt in an event.
  EXPECT_EQ(steps.size(), 5u);

  const json& weight = data["analytics"][1];
  EXPECT_EQ(weight["metricType"], "weight");
  EXPECT_EQ(weight["timeRange"], "30day");
  EXPECT_EQ(weight["operationType"], "update");
  EXPECT_FALSE(weight["analytics"].contains("anomalyDetails"));
  EXPECT_TRUE(weight["analytics"]["streakStartDate"].is_null());
  EXPECT_EQ(weight["analytics"]["comparisonToPrevious"]["isImprovement"], false);

  const EventCounts c = p.Counts();
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.failed, 0);
  EXPECT_EQ(c.dropped, 0);
  EXPECT_EQ(c.retried, 0);
  EXPECT_EQ(c.queued, 0);
}

TEST_F(EventPublisherTest, SplitsAUsersChangesIntoEventsOfAtMost50) {
  HttpReceiver receiver;
  auto p = std::make_unique<EventPublisher>(Options(receiver.url()));
  const ObjectId many = UserId(1), one = UserId(2);
  p->OnUserChanged(many, kCalculatedAt, NumberedChanges(many, 100));
  p->OnUserChanged(one, kCalculatedAt, OneChange(one));
  p->OnUserChanged(many, kCalculatedAt, NumberedChanges(many, 20));  // same user, same batch
  p->OnBatchCommitted(12);
  p->Shutdown(10s);

  ASSERT_EQ(receiver.count(), 4u);
  std::map<std::string, std::vector<json>> by_user;
  std::set<std::string> document_ids;
  for (const HttpRequest& r : receiver.requests()) {
    json body = json::parse(r.body);
    document_ids.insert(body["data"]["documentId"].get<std::string>());
    EXPECT_LE(body["data"]["analytics"].size(), 50u);
    EXPECT_EQ(body["data"]["count"], body["data"]["analytics"].size());
    by_user[body["userId"].get<std::string>()].push_back(std::move(body));
  }
  EXPECT_EQ(document_ids.size(), 4u);

  ASSERT_EQ(by_user[one.ToHex()].size(), 1u);
  EXPECT_EQ(by_user[one.ToHex()][0]["data"]["batchIndex"], 1);
  EXPECT_EQ(by_user[one.ToHex()][0]["data"]["totalBatches"], 1);

  std::vector<json>& events = by_user[many.ToHex()];
  ASSERT_EQ(events.size(), 3u);
  std::sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return a["data"]["batchIndex"] < b["data"]["batchIndex"];
  });
  std::vector<double> order;
  for (size_t i = 0; i < events.size(); ++i) {
    const json& d = events[i]["data"];
    EXPECT_EQ(d["batchIndex"], i + 1);
    EXPECT_EQ(d["totalBatches"], 3);
    EXPECT_EQ(d["count"], i < 2 ? 50 : 20);
    for (const json& item : d["analytics"])
      order.push_back(item["analytics"]["rollingAverage"].get<double>());
  }
  // The items in announcement order: 0..99 then 0..19.
  ASSERT_EQ(order.size(), 120u);
  for (size_t i = 0; i < order.size(); ++i)
    EXPECT_EQ(order[i], static_cast<double>(i < 100 ? i : i - 100));
  EXPECT_EQ(p->Counts().sent, 4);
}

TEST_F(EventPublisherTest, DocumentIdsDifferAcrossBatchesAndRestarts) {
  HttpReceiver receiver;
  const ObjectId user = UserId(5);
  for (int restart = 0; restart < 2; ++restart) {
    EventPublisher p(Options(receiver.url()));
    Commit(p, 40, user, OneChange(user));  // the same batch id after a restart (replay)
    Commit(p, 41, user, OneChange(user));
    p.Shutdown(10s);
  }
  ASSERT_EQ(receiver.count(), 4u);
  std::set<std::string> ids;
  for (const HttpRequest& r : receiver.requests())
    ids.insert(json::parse(r.body)["data"]["documentId"].get<std::string>());
  EXPECT_EQ(ids.size(), 4u);
}

TEST_F(EventPublisherTest, RetriesAServerErrorThenSucceeds) {
  HttpReceiver receiver([](const HttpRequest&, int n) {
    return n <= 2 ? HttpAnswer{500, R"({"error":"busy"})"} : HttpAnswer{200, "{}"};
  });
  std::vector<std::string> results;
  std::mutex results_mu;
  EventPublisherOptions o = Options(receiver.url());
  o.on_result = [&](std::string_view r) {
    std::lock_guard lk(results_mu);
    results.emplace_back(r);
  };
  EventPublisher p(o);
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  p.Shutdown(10s);

  ASSERT_EQ(receiver.count(), 3u);
  const auto requests = receiver.requests();
  EXPECT_EQ(requests[0].body, requests[1].body);  // same documentId: the dashboard can dedupe
  EXPECT_EQ(requests[1].body, requests[2].body);
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.failed, 0);
  EXPECT_EQ(c.retried, 2);
  EXPECT_EQ(results, (std::vector<std::string>{"retried", "retried", "sent"}));
}

TEST_F(EventPublisherTest, GivesUpAfterThreeAttempts) {
  HttpReceiver receiver([](const HttpRequest&, int) { return HttpAnswer{503, ""}; });
  EventPublisher p(Options(receiver.url()));
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  p.Shutdown(10s);
  EXPECT_EQ(receiver.count(), 3u);
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.sent, 0);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 2);
  EXPECT_NE(Log().find("HTTP 503"), std::string::npos) << Log();
  EXPECT_NE(Log().find("after 3 attempt(s)"), std::string::npos) << Log();
}

class NoRetry : public EventPublisherTest, public ::testing::WithParamInterface<int> {};

TEST_P(NoRetry, OnClientRefusal) {
  const int status = GetParam();
  HttpReceiver receiver([status](const HttpRequest&, int) {
    return HttpAnswer{status, R"({"message":"no"})"};
  });
  EventPublisher p(Options(receiver.url()));
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  p.Shutdown(10s);
  EXPECT_EQ(receiver.count(), 1u);
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 0);
  EXPECT_EQ(c.sent, 0);
  EXPECT_NE(Log().find("HTTP " + std::to_string(status) + " (not retried"), std::string::npos)
      << Log();
}

INSTANTIATE_TEST_SUITE_P(BadRequestAndForbidden, NoRetry, ::testing::Values(400, 403));

TEST_F(EventPublisherTest, ANeverAnsweringReceiverTimesOutAndCountsAFailure) {
  HttpReceiver receiver([](const HttpRequest&, int) { return HttpAnswer{-1, ""}; });
  EventPublisherOptions o = Options(receiver.url());
  o.timeout = 200ms;
  EventPublisher p(o);
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  p.Shutdown(10s);
  EXPECT_EQ(receiver.count(), 3u);  // timeouts are retried
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 2);
  EXPECT_NE(Log().find("no answer within 200 ms"), std::string::npos) << Log();
}

TEST_F(EventPublisherTest, AnUnreachableBackendCountsAFailure) {
  int port;
  {
    HttpReceiver closed;
    port = closed.port();
  }  // nothing listens there any more
  EventPublisher p(Options("http://127.0.0.1:" + std::to_string(port)));
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  p.Shutdown(10s);
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 2);
  EXPECT_NE(Log().find("check BACKEND_API_URL"), std::string::npos) << Log();
}

TEST_F(EventPublisherTest, AFullQueueDropsTheOldestAndCountsThem) {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  HttpReceiver receiver([open](const HttpRequest&, int n) {
    if (n == 1) open.wait();  // hold the only sender on the first event
    return HttpAnswer{};
  });
  std::atomic<int> dropped_results = 0;
  EventPublisherOptions o = Options(receiver.url());
  o.max_in_flight = 1;
  o.max_queue = 3;
  o.on_result = [&](std::string_view r) {
    if (r == "dropped") ++dropped_results;
  };
  EventPublisher p(o);

  Commit(p, 1, UserId(0), OneChange(UserId(0)));
  ASSERT_TRUE(receiver.WaitFor(1, 10s));  // the sender is busy with user 0
  for (int u = 1; u <= 5; ++u) p.OnUserChanged(UserId(u), kCalculatedAt, OneChange(UserId(u)));
  p.OnBatchCommitted(2);  // does not wait for the stuck sender
  EventCounts c = p.Counts();
  EXPECT_EQ(c.dropped, 2);
  EXPECT_EQ(c.queued, 3);
  EXPECT_EQ(dropped_results, 2);
  EXPECT_NE(Log().find("2 backend event(s) dropped: the queue is full"), std::string::npos)
      << Log();

  gate.set_value();
  p.Shutdown(10s);
  std::set<std::string> users;
  for (const HttpRequest& r : receiver.requests())
    users.insert(json::parse(r.body)["userId"].get<std::string>());
  EXPECT_EQ(users, (std::set<std::string>{UserId(0).ToHex(), UserId(3).ToHex(), UserId(4).ToHex(),
                                          UserId(5).ToHex()}));
  c = p.Counts();
  EXPECT_EQ(c.sent, 4);
  EXPECT_EQ(c.dropped, 2);
}

TEST_F(EventPublisherTest, ABatchAnnouncingMoreThanTheQueueKeepsTheNewest) {
  HttpReceiver receiver;
  EventPublisherOptions o = Options(receiver.url());
  o.max_queue = 2;
  EventPublisher p(o);
  for (int u = 1; u <= 4; ++u) p.OnUserChanged(UserId(u), kCalculatedAt, OneChange(UserId(u)));
  EXPECT_EQ(p.Counts().dropped, 0);  // counted only if the batch commits
  p.OnBatchCommitted(1);
  p.Shutdown(10s);
  std::set<std::string> users;
  for (const HttpRequest& r : receiver.requests())
    users.insert(json::parse(r.body)["userId"].get<std::string>());
  EXPECT_EQ(users, (std::set<std::string>{UserId(3).ToHex(), UserId(4).ToHex()}));
  EXPECT_EQ(p.Counts().dropped, 2);
  EXPECT_EQ(p.Counts().sent, 2);
}

TEST_F(EventPublisherTest, AnAbandonedBatchSendsNothing) {
  HttpReceiver receiver;
  EventPublisher p(Options(receiver.url()));
  p.OnUserChanged(UserId(1), kCalculatedAt, OneChange(UserId(1)));
  p.OnUserChanged(UserId(2), kCalculatedAt, OneChange(UserId(2)));
  p.OnBatchAbandoned(9);
  Commit(p, 9, UserId(3), OneChange(UserId(3)));  // the replay announces its own users
  p.Shutdown(10s);
  ASSERT_EQ(receiver.count(), 1u);
  EXPECT_EQ(json::parse(receiver.requests()[0].body)["userId"], UserId(3).ToHex());
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.dropped, 0);
}

TEST_F(EventPublisherTest, ShutdownGivesUpOnTime) {
  HttpReceiver receiver([](const HttpRequest&, int) { return HttpAnswer{-1, ""}; });
  EventPublisherOptions o = Options(receiver.url());
  o.max_in_flight = 1;
  o.timeout = 60s;
  EventPublisher p(o);
  Commit(p, 1, UserId(1), OneChange(UserId(1)));
  Commit(p, 2, UserId(2), OneChange(UserId(2)));
  ASSERT_TRUE(receiver.WaitFor(1, 10s));
  const auto start = std::chrono::steady_clock::now();
  p.Shutdown(100ms);
  // Well under the 60 s request timeout (libcurl checks for an abort about once a second).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  const EventCounts c = p.Counts();
  EXPECT_EQ(c.failed, 1);   // in flight, aborted
  EXPECT_EQ(c.dropped, 1);  // still queued
  EXPECT_EQ(c.queued, 0);
  Commit(p, 3, UserId(3), OneChange(UserId(3)));  // after shutdown: dropped, no crash
  EXPECT_EQ(p.Counts().dropped, 2);
}

TEST_F(EventPublisherTest, TheTokenNeverAppearsInLogsOrErrors) {
  // A backend that echoes the Authorization header in its error body.
  HttpReceiver receiver([](const HttpRequest& r, int n) {
    return HttpAnswer{n % 2 ? 403 : 500, "bad " + r.headers.at("authorization")};
  });
  EventPublisherOptions o = Options(receiver.url());
  o.max_queue = 1;
  EventPublisher p(o);
  for (int u = 1; u <= 3; ++u) p.OnUserChanged(UserId(u), kCalculatedAt, OneChange(UserId(u)));
  p.OnBatchCommitted(1);
  p.Shutdown(10s);
  EXPECT_GE(p.Counts().failed, 1);
  EXPECT_NE(Log().find("HTTP 403"), std::string::npos) << Log();
  EXPECT_NE(Log().find("bad Bearer ***"), std::string::npos) << Log();

  o.backend_api_url = std::string("ftp://user:") + kToken + "@backend/";
  auto bad = EventPublisher::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find(kToken), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("BACKEND_API_URL"), std::string::npos);
  // TearDown checks the whole log.
}

TEST(EventPublisherCreate, EventsOnlyWhenUrlAndTokenAreSet) {
  EventPublisherOptions o;
  auto none = EventPublisher::Create(o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  o.backend_api_url = "http://127.0.0.1:9";
  auto no_token = EventPublisher::Create(o);
  ASSERT_TRUE(no_token.ok());
  EXPECT_EQ(*no_token, nullptr);
  o.backend_api_url.clear();
  o.service_token = "t";
  auto no_url = EventPublisher::Create(o);
  ASSERT_TRUE(no_url.ok());
  EXPECT_EQ(*no_url, nullptr);

  o.backend_api_url = "backend:5000";
  EXPECT_EQ(EventPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  o.backend_api_url = "HTTPS://backend.example";
  o.service_token = "line\nbreak";
  EXPECT_EQ(EventPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  o.service_token = "t";
  auto on = EventPublisher::Create(o);
  ASSERT_TRUE(on.ok());
  ASSERT_NE(*on, nullptr);
  EXPECT_EQ((*on)->endpoint_for_logs(), "HTTPS://backend.example/api/events/emit");
}

TEST(EventPublisherOptions, DefaultsAreTheSpecs) {
  const EventPublisherOptions o;
  EXPECT_EQ(o.timeout, 5s);
  EXPECT_EQ(o.attempts, 3);
  EXPECT_EQ(o.retry_waits, (std::vector<std::chrono::milliseconds>{500ms, 1000ms}));
  EXPECT_EQ(o.max_items_per_event, 50u);
  EXPECT_GT(o.max_in_flight, 1);
  EXPECT_GT(o.max_queue, 0u);
}

TEST(EventsEndpoint, JoinsWithoutDoublingSlashes) {
  EXPECT_EQ(EventsEndpoint("http://b:5000"), "http://b:5000/api/events/emit");
  EXPECT_EQ(EventsEndpoint("http://b:5000/"), "http://b:5000/api/events/emit");
  EXPECT_EQ(EventsEndpoint("http://b/prefix//"), "http://b/prefix/api/events/emit");
}

TEST(UrlForLogs, HidesCredentialsAndQuery) {
  EXPECT_EQ(UrlForLogs("http://b:5000/api/events/emit"), "http://b:5000/api/events/emit");
  EXPECT_EQ(UrlForLogs("https://u:pw@b:5000/x?token=1"), "https://***@b:5000/x");
  EXPECT_EQ(UrlForLogs("https://u:p@w@b"), "https://***@b");
}

}  // namespace
}  // namespace ha
