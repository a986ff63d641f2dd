#include "observe/health.h"

#include <gtest/gtest.h>

namespace ha {
namespace {

const Instant kStart = *ParseInstant("2025-11-20T12:00:00Z");
constexpr int64_t kSec = 1000;

// A tracker with a 10 s interval, driven by a fake clock: each step moves time forward.
class HealthTest : public ::testing::Test {
 protected:
  HealthTracker tracker_{kStart, 10};
  Instant now_ = kStart;

  void Completed(int64_t duration_ms = 200) {
    now_ += duration_ms;
    tracker_.RecordBatch(false, now_, duration_ms, false);
  }
  void Failed(bool unreachable = false) {
    now_ += 100;
    tracker_.RecordBatch(true, now_, 100, unreachable);
  }
  void Wait(int64_t ms) { now_ += ms; }
  HealthVerdict Now() const { return tracker_.Evaluate(now_); }
};

TEST_F(HealthTest, NotReadyAndDegradedUntilTheFirstBatchCompletes) {
  HealthVerdict v = Now();
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.status, HealthStatus::kDegraded);
  EXPECT_NE(v.ready_reason.find("no batch has completed yet"), std::string::npos);
  Completed();
  v = Now();
  EXPECT_TRUE(v.ready);
  EXPECT_EQ(v.status, HealthStatus::kHealthy);
  EXPECT_EQ(v.status_reason, "");
  EXPECT_EQ(v.ready_reason, "");
}

TEST_F(HealthTest, NoBatchEverCompletingBecomesUnhealthy) {
  Wait(29 * kSec);
  EXPECT_EQ(Now().status, HealthStatus::kDegraded);
  Wait(2 * kSec);  // 31 s > 3 intervals of 10 s
  const HealthVerdict v = Now();
  EXPECT_EQ(v.status, HealthStatus::kUnhealthy);
  EXPECT_FALSE(v.ready);
}

TEST_F(HealthTest, ReadinessExpiresThreeIntervalsAfterTheLastSuccess) {
  Completed(2 * kSec);  // window = 3 x 10 s + this batch's 2 s
  EXPECT_DOUBLE_EQ(Now().ready_window_seconds, 32);
  Wait(32 * kSec);
  EXPECT_TRUE(Now().ready);
  Wait(1);
  const HealthVerdict v = Now();
  EXPECT_FALSE(v.ready);
  EXPECT_NE(v.ready_reason.find("no batch completed in the last"), std::string::npos);
  EXPECT_EQ(v.status, HealthStatus::kUnhealthy) << "a stuck loop is unhealthy";
  Completed();
  EXPECT_TRUE(Now().ready);
}

TEST_F(HealthTest, AShorterIntervalShortensTheWindow) {
  Completed(0);
  tracker_.SetInterval(1);  // adaptive polling went down to 1 s
  Wait(3 * kSec + 1);
  EXPECT_FALSE(Now().ready);
}

TEST_F(HealthTest, StatusDegradesOnFailuresAndRecoversAfterSuccesses) {
  for (int i = 0; i < 6; ++i) Completed();
  EXPECT_EQ(Now().status, HealthStatus::kHealthy);

  Failed();
  HealthVerdict v = Now();
  EXPECT_EQ(v.status, HealthStatus::kDegraded);
  EXPECT_EQ(v.status_reason, "the last batch failed");
  EXPECT_TRUE(v.ready) << "one failure within the window does not make the engine unready";

  Failed();
  EXPECT_EQ(Now().status, HealthStatus::kDegraded);
  Failed();
  v = Now();
  EXPECT_EQ(v.status, HealthStatus::kUnhealthy);
  EXPECT_EQ(v.status_reason, "3 batches in a row failed");
  EXPECT_EQ(tracker_.consecutive_failures(), 3);

  // Recovery: degraded until 5 batches in a row completed, then healthy again.
  for (int i = 1; i <= 4; ++i) {
    Completed();
    v = Now();
    EXPECT_EQ(v.status, HealthStatus::kDegraded) << i;
    EXPECT_NE(v.status_reason.find("recovering: " + std::to_string(i) + " of 5"), std::string::npos)
        << v.status_reason;
    EXPECT_TRUE(v.ready);
  }
  Completed();
  EXPECT_EQ(Now().status, HealthStatus::kHealthy);
  EXPECT_EQ(tracker_.consecutive_failures(), 0);
}

TEST_F(HealthTest, AnUnreachableDatabaseMakesTheEngineNotReadyAtOnce) {
  Completed();
  Failed(/*unreachable=*/true);
  HealthVerdict v = Now();
  EXPECT_FALSE(v.ready);
  EXPECT_NE(v.ready_reason.find("database is unreachable"), std::string::npos);
  EXPECT_EQ(v.status, HealthStatus::kDegraded);
  // A failure for another reason after the outage: the database answered again.
  Failed(/*unreachable=*/false);
  EXPECT_TRUE(Now().ready);
  Completed();
  EXPECT_TRUE(Now().ready);
}

TEST(HealthStatusNames, AreTheOldJobsWords) {
  EXPECT_STREQ(ToString(HealthStatus::kHealthy), "healthy");
  EXPECT_STREQ(ToString(HealthStatus::kDegraded), "degraded");
  EXPECT_STREQ(ToString(HealthStatus::kUnhealthy), "unhealthy");
}

}  // namespace
}  // namespace ha
