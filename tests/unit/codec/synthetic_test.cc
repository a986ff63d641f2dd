#include "codec/synthetic.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "codec/ejson.h"
#include "codec/healthmetric.h"
#include "codec/user.h"
#include "test_util.h"

namespace ha {
namespace {

struct Collected : SeedSink {
  std::vector<std::string> users, metrics;
  void OnUser(const bson_t* doc) override { users.push_back(ToRelaxedJson(doc)); }
  void OnMetric(const bson_t* doc) override { metrics.push_back(ToRelaxedJson(doc)); }
};

constexpr Instant kNow = StartOf(20412) + 36045123;  // 2025-11-20T10:00:45.123Z

Collected Generate(int users, int days, uint64_t seed, Instant now = kNow) {
  Collected c;
  GenerateSeedData(SeedOptions{users, days, seed, now}, &c);
  return c;
}

TEST(GenerateSeedData, IsDeterministicForASeed) {
  const Collected a = Generate(20, 30, 7);
  const Collected b = Generate(20, 30, 7);
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.metrics, b.metrics);
  const Collected c = Generate(20, 30, 8);
  EXPECT_NE(a.metrics, c.metrics);
  EXPECT_EQ(a.users.size(), 20u);
}

TEST(GenerateSeedData, WritesValidHealthmetricsInsideTheDays) {
  const int kUsers = 300, kDays = 90;
  const Collected c = Generate(kUsers, kDays, 42);
  ASSERT_EQ(c.users.size(), static_cast<size_t>(kUsers));
  EXPECT_GT(c.metrics.size(), static_cast<size_t>(kUsers * kDays / 2));
  EXPECT_LT(c.metrics.size(), static_cast<size_t>(kUsers * kDays));

  std::set<ObjectId> user_ids, doc_ids;
  std::map<ObjectId, Goals> goals;
  for (const std::string& line : c.users) {
    auto doc = ParseExtendedJsonLine(line);
    ASSERT_TRUE(doc.ok());
    ObjectId id;
    Goals g;
    ASSERT_TRUE(DecodeUser(doc->get(), &id, &g));
    user_ids.insert(id);
    goals[id] = g;
  }
  EXPECT_EQ(user_ids.size(), static_cast<size_t>(kUsers));
  int custom_goals = 0;
  for (const auto& [id, g] : goals) custom_goals += g.goal != DefaultGoals().goal;
  EXPECT_GT(custom_goals, kUsers / 3);
  EXPECT_LT(custom_goals, kUsers);

  std::map<std::string, int> reasons;
  std::map<std::pair<ObjectId, Day>, int> per_day;
  std::set<std::string> sources;
  int observations[kMetricCount] = {};
  DecodedHealthMetric d;
  const Day today = DayOf(kNow);
  for (const std::string& line : c.metrics) {
    auto doc = ParseExtendedJsonLine(line);
    ASSERT_TRUE(doc.ok()) << line;
    DecodeHealthMetric(doc->get(), {}, &d);
    ASSERT_TRUE(d.usable) << line;
    EXPECT_TRUE(user_ids.count(d.user));
    EXPECT_TRUE(doc_ids.insert(d.record.id).second);
    EXPECT_GE(d.record.day, today - kDays + 1);
    EXPECT_LE(d.record.day, today);
    EXPECT_EQ(testing::DateAt(doc->get(), "date"), StartOf(d.record.day));  // midnight
    const Instant created = testing::DateAt(doc->get(), "createdAt");
    ASSERT_TRUE(d.updated_at.has_value());
    EXPECT_GE(created, StartOf(d.record.day));
    EXPECT_GE(*d.updated_at, created);
    EXPECT_LE(*d.updated_at, kNow);
    EXPECT_EQ(testing::TypeAt(doc->get(), "__v"), BSON_TYPE_INT32);
    sources.insert(testing::StringAt(doc->get(), "source"));
    ++per_day[{d.user, d.record.day}];
    for (const FieldIssue& issue : d.issues) ++reasons[issue.reason];
    for (int m = 0; m < kMetricCount; ++m) observations[m] += d.record.observed >> m & 1;
  }
  for (const auto& [key, n] : per_day) EXPECT_EQ(n, 1);  // unique {userId, date}
  EXPECT_EQ(sources, (std::set<std::string>{"googlefit", "import", "manual"}));
  for (const char* reason : {"type", "non-finite", "range", "wearable"})
    EXPECT_GT(reasons[reason], 0) << reason;
  const int issues =
      reasons["type"] + reasons["non-finite"] + reasons["range"] + reasons["wearable"];
  EXPECT_LT(issues, static_cast<int>(c.metrics.size()) / 20);  // rare
  for (int m = 0; m < kMetricCount; ++m)
    EXPECT_GT(observations[m], static_cast<int>(c.metrics.size()) / 10) << m;
  // Some days are missing and some activity values are zero (no data).
  EXPECT_LT(observations[static_cast<int>(Metric::kSteps)], static_cast<int>(c.metrics.size()));
}

TEST(GenerateSeedData, NeverWritesAfterNow) {
  // Just after midnight: today's documents must still be on today and not in the future.
  const Instant now = StartOf(20412) + 60'000;
  const Collected c = Generate(50, 3, 3, now);
  DecodedHealthMetric d;
  for (const std::string& line : c.metrics) {
    auto doc = ParseExtendedJsonLine(line);
    ASSERT_TRUE(doc.ok());
    DecodeHealthMetric(doc->get(), {}, &d);
    EXPECT_LE(*d.updated_at, now);
    EXPECT_LE(testing::DateAt(doc->get(), "createdAt"), now);
  }
}

TEST(GenerateSeedData, NothingForZeroUsersOrDays) {
  EXPECT_TRUE(Generate(0, 30, 1).users.empty());
  const Collected c = Generate(5, 0, 1);
  EXPECT_EQ(c.users.size(), 5u);
  EXPECT_TRUE(c.metrics.empty());
}

}  // namespace
}  // namespace ha
