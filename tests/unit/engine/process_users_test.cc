// The process-users step on its own: given a context (as another process would receive it) and
// any users, from any thread.
#include "engine/process_users.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "engine/batch_context.h"
#include "engine_fixture.h"

namespace ha::engine_test {
namespace {

const Instant kNow = At("2025-11-20T12:00:00Z");
const Day kDay = DayOf(kNow);

// Accepts concurrent calls; remembers the letters.
class LockedSink : public DeadLetterSink {
 public:
  bool Record(const DeadLetter& letter) override {
    std::lock_guard lock(mu_);
    letters.push_back(letter);
    return true;
  }
  std::mutex mu_;
  std::vector<DeadLetter> letters;
};

std::string StringAt(const bson_t* doc, const char* path) {
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found) ||
      !BSON_ITER_HOLDS_UTF8(&found))
    return "";
  return bson_iter_utf8(&found, nullptr);
}

TEST(BatchContextTest, RoundTripsThroughJson) {
  BatchContext c;
  c.batch_id = 41;
  c.clock = kNow;
  c.options.analytics.history_days = 90;
  c.options.analytics.zero_is_missing = false;
  c.options.analytics.trend_threshold_percent = 7.5;
  c.options.analytics.anomaly_z_threshold = 3;
  c.options.analytics.anomaly_min_baseline = 4;
  c.options.analytics.anomaly_min_deviation_percent = 2.5;
  c.options.initial_lookback_days = 3;
  c.options.late_data_grace_ms = 30'000;
  c.options.max_batch_docs = 7;
  c.options.result_ttl_days = 12;
  c.options.worker_threads = 5;
  c.options.users_per_chunk = 64;
  c.options.read_users_per_query = 17;
  c.options.write_attempts = 2;
  c.options.recompute_users_per_batch = 9;
  c.options.reconcile_interval_ms = 0;
  auto back = BatchContextFromJson(BatchContextToJson(c));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(BatchContextToJson(*back), BatchContextToJson(c));
  EXPECT_EQ(back->batch_id, 41);
  EXPECT_EQ(back->clock, kNow);
  EXPECT_EQ(back->options.analytics.history_days, 90);
  EXPECT_FALSE(back->options.analytics.zero_is_missing);
  EXPECT_EQ(back->options.analytics.anomaly_min_deviation_percent, 2.5);
  EXPECT_EQ(back->options.users_per_chunk, 64u);
  EXPECT_EQ(back->options.read_users_per_query, 17u);
  EXPECT_EQ(back->options.reconcile_interval_ms, 0);
}

TEST(BatchContextTest, AbsentOptionsKeepTheirDefaultsAndBadFieldsAreNamed) {
  auto minimal = BatchContextFromJson(R"({"batch_id": 3, "clock": 1000})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->options.max_batch_docs, 100'000);
  EXPECT_EQ(minimal->options.analytics.history_days, 180);

  auto error = [](const char* json) {
    auto r = BatchContextFromJson(json);
    EXPECT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    return r.status().message();
  };
  EXPECT_NE(error("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(error(R"({"batch_id": 3})").find("clock"), std::string::npos);
  EXPECT_NE(error(R"({"batch_id": "3", "clock": 1})").find("batch_id"), std::string::npos);
  EXPECT_NE(error(R"({"batch_id": 3, "clock": 1, "options": {"max_batch_docs": 1.5}})")
                .find("options.max_batch_docs"),
            std::string::npos);
  EXPECT_NE(error(R"({"batch_id": 3, "clock": 1, "options": {"users_per_chunk": -1}})")
                .find("options.users_per_chunk"),
            std::string::npos);
  EXPECT_NE(
      error(R"({"batch_id": 3, "clock": 1, "options": {"analytics": {"zero_is_missing": 1}}})")
          .find("options.analytics.zero_is_missing"),
      std::string::npos);
}

TEST(ProcessUsersTest, AContextFromJsonComputesAndARepeatWritesNothing) {
  MemoryStore store;
  for (int i = 1; i <= 2; ++i) {
    BsonDoc d = Steps(Doc(i), User(i), kDay, 4000.0 * i, kNow - 3'600'000);
    ASSERT_TRUE(store.PutHealthMetric(d.get()));
  }
  auto context = BatchContextFromJson(R"({"batch_id": 7, "clock": )" + std::to_string(kNow) + "}");
  ASSERT_TRUE(context.ok());
  const std::vector<ObjectId> users{User(1), User(2)};
  LockedSink sink;

  UsersProcessed first;
  ASSERT_TRUE(ProcessUsers(*context, users, store, sink, nullptr, nullptr, &first).ok());
  // One metric with data, three ranges, two users.
  EXPECT_EQ(first.counts.users, 2);
  EXPECT_EQ(first.counts.computed, 6);
  EXPECT_EQ(first.counts.inserted, 6);
  auto doc = store.FindAnalytics(User(2), Metric::kSteps, TimeRange::k30Day);
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(StringAt(doc->get(), "metadata.sparkJobId"), "health-analytics:7");

  UsersProcessed again;
  ASSERT_TRUE(ProcessUsers(*context, users, store, sink, nullptr, nullptr, &again).ok());
  EXPECT_EQ(again.counts.computed, 6);
  EXPECT_EQ(again.counts.unchanged, 6);
  EXPECT_EQ(again.counts.written(), 0);
  EXPECT_EQ(store.AnalyticsDocuments().size(), 6u);
  EXPECT_TRUE(sink.letters.empty());
}

TEST(ProcessUsersTest, ADeletedDayStopsCountingAndAMetricWithoutDataLosesItsDocuments) {
  MemoryStore store;
  BsonDoc d = Steps(Doc(1), User(1), kDay, 4000, kNow - 3'600'000);
  ASSERT_TRUE(store.PutHealthMetric(d.get()));
  const BatchContext context{1, kNow, EngineOptions{}};
  const std::vector<ObjectId> users{User(1)};
  LockedSink sink;
  UsersProcessed done;
  ASSERT_TRUE(ProcessUsers(context, users, store, sink, nullptr, nullptr, &done).ok());
  ASSERT_EQ(store.AnalyticsDocuments().size(), 3u);

  MemoryStore emptied;  // the same analytics, the day deleted from the source
  for (const BsonDoc& a : store.AnalyticsDocuments()) ASSERT_TRUE(emptied.PutAnalytics(a.get()));
  UsersProcessed after;
  ASSERT_TRUE(ProcessUsers(context, users, emptied, sink, nullptr, nullptr, &after).ok());
  EXPECT_EQ(after.counts.deleted, 3);
  EXPECT_TRUE(emptied.AnalyticsDocuments().empty());
}

TEST(ProcessUsersTest, CallsFromSeveralThreadsOnDisjointUsersAllLand) {
  MemoryStore store;  // thread-safe, so the threads may share it
  std::vector<ObjectId> users;
  for (int i = 0; i < 40; ++i) {
    BsonDoc d = Steps(Doc(i), User(i), kDay, 1000.0 + i, kNow - 3'600'000);
    ASSERT_TRUE(store.PutHealthMetric(d.get()));
    users.push_back(User(i));
  }
  LockedSink sink;
  EngineOptions options;
  options.users_per_chunk = 3;
  const BatchContext context{2, kNow, options};
  UsersProcessed done[4];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::span<const ObjectId> mine(users.data() + 10 * t, 10);
      EXPECT_TRUE(ProcessUsers(context, mine, store, sink, nullptr, nullptr, &done[t]).ok());
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(done[t].counts.inserted, 30) << t;
  EXPECT_EQ(store.AnalyticsDocuments().size(), 120u);
}

TEST(ProcessUsersTest, ReadsAChunkInListsOfReadUsersPerQuery) {
  MemoryStore store;
  std::vector<ObjectId> users;
  for (int i = 0; i < 23; ++i) {
    BsonDoc d = Steps(Doc(i), User(i), kDay, 1000.0 + i, kNow - 3'600'000);
    ASSERT_TRUE(store.PutHealthMetric(d.get()));
    users.push_back(User(i));
  }
  LockedSink sink;
  EngineOptions options;
  options.users_per_chunk = 10;      // chunks of 10, 10, 3
  options.read_users_per_query = 4;  // each read as 4 + 4 + 2, then 3
  UsersProcessed done;
  ASSERT_TRUE(
      ProcessUsers(BatchContext{1, kNow, options}, users, store, sink, nullptr, nullptr, &done)
          .ok());
  const std::vector<size_t> expected{4, 4, 2, 4, 4, 2, 3};
  for (auto op : {MemoryStore::Op::kReadHistory, MemoryStore::Op::kReadGoals,
                  MemoryStore::Op::kReadAnalytics})
    EXPECT_EQ(store.user_list_sizes(op), expected) << static_cast<int>(op);
  // Every user was read once and computed: 3 ranges of steps each.
  EXPECT_EQ(store.history_reads().size(), 23u);
  EXPECT_EQ(done.counts.inserted, 23 * 3);
  EXPECT_EQ(store.AnalyticsDocuments().size(), 69u);
}

TEST(ProcessUsersTest, AnOutageStopsWithoutDeadLetters) {
  MemoryStore store;
  BsonDoc d = Steps(Doc(1), User(1), kDay, 4000, kNow - 3'600'000);
  ASSERT_TRUE(store.PutHealthMetric(d.get()));
  store.FailNext(MemoryStore::Op::kReadHistory, Unavailable("no server"));
  LockedSink sink;
  UsersProcessed done;
  const std::vector<ObjectId> users{User(1)};
  Status st = ProcessUsers(BatchContext{1, kNow, EngineOptions{}}, users, store, sink, nullptr,
                           nullptr, &done);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(sink.letters.empty());
  EXPECT_TRUE(store.AnalyticsDocuments().empty());
}

}  // namespace
}  // namespace ha::engine_test
