// The process-users step on its own: given a context (as another process would receive it) and
// any users, from any thread.
#include "engine/process_users.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
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
  c.options.io_concurrency = 6;
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
  EXPECT_EQ(back->options.io_concurrency, 6);
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

TEST(ProcessUsersTest, ReadsInUnitsOfReadUsersPerQuery) {
  MemoryStore store;
  std::vector<ObjectId> users;
  for (int i = 0; i < 23; ++i) {
    BsonDoc d = Steps(Doc(i), User(i), kDay, 1000.0 + i, kNow - 3'600'000);
    ASSERT_TRUE(store.PutHealthMetric(d.get()));
    users.push_back(User(i));
  }
  LockedSink sink;
  EngineOptions options;
  options.users_per_chunk = 10;      // has no say in ProcessUsers (the engine's progress saves)
  options.read_users_per_query = 4;  // units of 4, 4, 4, 4, 4, 3
  options.io_concurrency = 1;        // one after the other, in order
  UsersProcessed done;
  ASSERT_TRUE(
      ProcessUsers(BatchContext{1, kNow, options}, users, store, sink, nullptr, nullptr, &done)
          .ok());
  const std::vector<size_t> expected{4, 4, 4, 4, 4, 3};
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

// An EngineStore that holds each ReadHistory until `want` of them are in flight at once (or
// 5 s passed), and remembers the most it saw: proof that units overlap.
class OverlapStore final : public DelegatingStore {
 public:
  OverlapStore(MemoryStore& inner, int want) : DelegatingStore(inner), want_(want) {}
  Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                     const AnalyticsOptions& options, HistoryByUser* out) override {
    {
      std::unique_lock lock(mu_);
      max_in_flight = std::max(max_in_flight, ++in_flight_);
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return in_flight_ >= want_ || reached_; });
      reached_ = true;  // once reached, the rest go through
    }
    Status st = inner_.ReadHistory(users, from, to, options, out);
    std::lock_guard lock(mu_);
    --in_flight_;
    return st;
  }

  int max_in_flight = 0;

 private:
  const int want_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  bool reached_ = false;
};

// A listener that is not thread-safe on purpose: ProcessUsers must call it from one thread at
// a time (a data race here is what TSan reports).
class CountingListener final : public ChangeListener {
 public:
  void OnUserChanged(const ObjectId& user, Instant, std::vector<AnalyticsChange>&& c) override {
    changes[user] += static_cast<int>(c.size());
  }
  void OnBatchCommitted(int64_t) override {}
  void OnBatchAbandoned(int64_t) override {}
  std::map<ObjectId, int> changes;
};

// (user, metricType, timeRange) -> metadata.contentDigest of every stored document.
std::map<std::string, std::string> DigestsByKey(const MemoryStore& store) {
  std::map<std::string, std::string> out;
  for (const BsonDoc& d : store.AnalyticsDocuments()) {
    bson_iter_t it;
    std::string user;
    if (bson_iter_init_find(&it, d.get(), "userId") && BSON_ITER_HOLDS_OID(&it)) {
      char hex[25];
      bson_oid_to_string(bson_iter_oid(&it), hex);
      user = hex;
    }
    out[user + "/" + StringAt(d.get(), "metricType") + "/" + StringAt(d.get(), "timeRange")] =
        StringAt(d.get(), "metadata.contentDigest");
  }
  return out;
}

// 30 users with three days of steps each.
void PutUsersWithHistory(MemoryStore* store, std::vector<ObjectId>* users) {
  for (int i = 0; i < 30; ++i) {
    for (int d = 0; d < 3; ++d) {
      BsonDoc doc =
          Steps(Doc(100 * i + d), User(i), kDay - d, 1000.0 * (d + 1) + i, kNow - 3'600'000 + d);
      ASSERT_TRUE(store->PutHealthMetric(doc.get()));
    }
    users->push_back(User(i));
  }
}

TEST(ProcessUsersTest, UnitsInFlightAtOnceWriteWhatOneAtATimeWrites) {
  MemoryStore serial_store, parallel_store;
  std::vector<ObjectId> users;
  PutUsersWithHistory(&serial_store, &users);
  std::vector<ObjectId> same;
  PutUsersWithHistory(&parallel_store, &same);
  EngineOptions options;
  options.read_users_per_query = 4;  // 8 units
  options.io_concurrency = 1;
  LockedSink serial_sink, parallel_sink;
  CountingListener serial_heard, parallel_heard;
  UsersProcessed serial, parallel;
  ASSERT_TRUE(ProcessUsers(BatchContext{5, kNow, options}, users, serial_store, serial_sink,
                           &serial_heard, nullptr, &serial)
                  .ok());

  options.io_concurrency = 3;
  OverlapStore overlap(parallel_store, 3);
  ASSERT_TRUE(ProcessUsers(BatchContext{5, kNow, options}, users, overlap, parallel_sink,
                           &parallel_heard, nullptr, &parallel)
                  .ok());
  EXPECT_EQ(overlap.max_in_flight, 3);  // three units were reading at once
  EXPECT_EQ(parallel.counts.users, 30);
  EXPECT_EQ(parallel.counts.inserted, 30 * 3);
  EXPECT_EQ(parallel.counts.computed, serial.counts.computed);
  EXPECT_EQ(parallel.counts.inserted, serial.counts.inserted);
  EXPECT_EQ(parallel_heard.changes, serial_heard.changes);
  EXPECT_EQ(parallel_heard.changes.size(), 30u);
  const auto digests = DigestsByKey(parallel_store);
  EXPECT_EQ(digests.size(), 90u);
  EXPECT_EQ(digests, DigestsByKey(serial_store));
  // Every user's history was read exactly once.
  std::vector<ObjectId> read = parallel_store.history_reads();
  std::sort(read.begin(), read.end());
  std::vector<ObjectId> expected = users;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(read, expected);
}

TEST(ProcessUsersTest, AnOutageInOneOfSeveralUnitsStopsTheCallAndARetryConverges) {
  MemoryStore store;
  std::vector<ObjectId> users;
  PutUsersWithHistory(&store, &users);
  EngineOptions options;
  options.read_users_per_query = 4;
  options.io_concurrency = 3;
  store.FailNext(MemoryStore::Op::kWriteAnalytics, Unavailable("no server"));
  LockedSink sink;
  UsersProcessed first;
  Status st =
      ProcessUsers(BatchContext{6, kNow, options}, users, store, sink, nullptr, nullptr, &first);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(sink.letters.empty());  // an outage is nobody's fault
  EXPECT_LT(store.AnalyticsDocuments().size(), 90u);

  UsersProcessed again;
  ASSERT_TRUE(
      ProcessUsers(BatchContext{6, kNow, options}, users, store, sink, nullptr, nullptr, &again)
          .ok());
  EXPECT_EQ(store.AnalyticsDocuments().size(), 90u);
  EXPECT_EQ(again.counts.users, 30);
  EXPECT_EQ(again.counts.inserted + again.counts.unchanged, 90);
  EXPECT_TRUE(sink.letters.empty());
}

}  // namespace
}  // namespace ha::engine_test
