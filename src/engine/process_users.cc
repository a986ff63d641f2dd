#include "engine/process_users.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec/analytics_doc.h"
#include "core/failpoint.h"

namespace ha {
namespace {

using Key = std::pair<Metric, TimeRange>;
using ExistingByUser = std::unordered_map<ObjectId, std::vector<ExistingAnalytics>, ObjectIdHash>;

// What a unit's three reads found.
struct ChunkReads {
  GoalsByUser goals;
  HistoryByUser history;
  ExistingByUser existing;
};

// One user's planned writes and what they amount to.
struct UserWrites {
  std::vector<AnalyticsWrite> writes;
  std::vector<AnalyticsChange> changes;  // filled only when a listener wants them
  WorkCounts counts;                     // computed, inserted, updated, deleted, unchanged
  std::vector<Metric> overflow;
};

// Plans the writes that make the stored documents of `user` equal to `result`.
UserWrites PlanUserWrites(const ObjectId& user, const UserAnalytics& result,
                          std::span<const ExistingAnalytics> existing, const WriteStamp& stamp,
                          bool record_changes) {
  UserWrites plan;
  plan.overflow = result.overflow;
  std::map<Key, std::vector<const ExistingAnalytics*>> by_key;
  for (const ExistingAnalytics& e : existing) by_key[{e.metric, e.range}].push_back(&e);
  for (auto& [key, docs] : by_key)
    std::sort(docs.begin(), docs.end(), [](auto* a, auto* b) { return a->id < b->id; });

  auto del = [&](const ExistingAnalytics* e) {
    AnalyticsWrite w;
    w.kind = AnalyticsWrite::Kind::kDelete;
    w.user = user;
    w.id = e->id;
    plan.writes.push_back(std::move(w));
    ++plan.counts.deleted;
  };

  std::array<bool, kMetricCount> keep{};
  for (Metric m : result.overflow) keep[static_cast<int>(m)] = true;  // left as they are
  for (const MetricAnalytics& m : result.metrics) {
    keep[static_cast<int>(m.metric)] = true;
    for (int r = 0; r < kRangeCount; ++r) {
      ++plan.counts.computed;
      BsonDoc fields;
      const uint64_t digest = AppendAnalyticsFields(fields.get(), user, m, r, stamp);
      auto it = by_key.find({m.metric, static_cast<TimeRange>(r)});
      const bool is_new = it == by_key.end() || it->second.empty();
      // A document without a stored digest (written before it existed) is rewritten once.
      const bool same = !is_new && it->second.front()->digest == digest;
      if (record_changes && !same) {
        AnalyticsChange c;
        c.metric = m.metric;
        c.range = static_cast<TimeRange>(r);
        c.inserted = is_new;
        c.fields = BsonDoc(bson_copy(fields.get()));
        plan.changes.push_back(std::move(c));
      }
      if (is_new) {
        AnalyticsWrite w;
        w.kind = AnalyticsWrite::Kind::kInsert;
        w.user = user;
        w.body = EncodeAnalyticsDocument(user, m, r, stamp);
        plan.writes.push_back(std::move(w));
        ++plan.counts.inserted;
        continue;
      }
      if (same) {
        ++plan.counts.unchanged;
      } else {
        AnalyticsWrite w;
        w.kind = AnalyticsWrite::Kind::kUpdate;
        w.user = user;
        w.id = it->second.front()->id;
        w.body = std::move(fields);
        plan.writes.push_back(std::move(w));
        ++plan.counts.updated;
      }
      // Several documents share the key (the old model allowed it): keep one.
      for (size_t i = 1; i < it->second.size(); ++i) del(it->second[i]);
    }
  }
  // Metrics with no observation left in the horizon: their documents go.
  for (auto& [key, docs] : by_key)
    if (!keep[static_cast<int>(key.first)])
      for (const ExistingAnalytics* e : docs) del(e);
  return plan;
}

void RecordWholeUser(const BatchContext& context, const ObjectId& user, std::string field,
                     const char* reason, std::string value_json, DeadLetterSink& dead_letters,
                     WorkCounts* counts) {
  DeadLetter l;
  l.recorded_at = NowMillis();
  l.batch_id = context.batch_id;
  l.user_id = user.ToHex();
  l.field = std::move(field);
  l.reason = reason;
  l.value_json = std::move(value_json);
  if (dead_letters.Record(l)) ++counts->dead_letters;
}

// The unit's analytics and planned writes, computed on WORKER_THREADS threads partitioned by
// user (each worker writes only its users' entries; the reads are shared, never inserted into).
void ComputeSlice(const BatchContext& context, std::span<const ObjectId> users,
                  const ChunkReads& reads, const WriteStamp& stamp, Instant wall_start,
                  bool record_changes, std::vector<UserAnalytics>* results,
                  std::vector<UserWrites>* plans) {
  static const std::vector<DayRecord> kNoHistory;
  static const std::vector<ExistingAnalytics> kNoExisting;
  static const Goals kDefaultGoals = DefaultGoals();
  const Day today = DayOf(context.clock);
  results->assign(users.size(), UserAnalytics{});
  plans->resize(users.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < users.size();) {
      const ObjectId& u = users[i];
      auto h = reads.history.find(u);
      auto e = reads.existing.find(u);
      auto g = reads.goals.find(u);
      (*results)[i] = ComputeUser(h == reads.history.end() ? kNoHistory : h->second,
                                  g == reads.goals.end() ? kDefaultGoals : g->second, today,
                                  context.options.analytics);
      WriteStamp s = stamp;
      s.processing_duration_ms = static_cast<int32_t>(NowMillis() - wall_start);
      (*plans)[i] = PlanUserWrites(
          u, (*results)[i], e == reads.existing.end() ? kNoExisting : e->second, s, record_changes);
    }
  };
  const int threads = std::max(
      1, std::min<int>(context.options.worker_threads, static_cast<int>(users.size() / 16)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

// After a refused bulk write: each user alone, from a fresh read of its keys, up to
// write_attempts times; a user still refused is dead-lettered `write-failed` and marked in
// `failed`. kUnavailable stops at once (an outage is not the user's fault). The users' planned
// changes and counts stay those of the first plan: they say what the batch changed since before
// it, while a fresh plan finds unchanged whatever the refused bulk write applied anyway (an
// unordered bulk write applies all it can).
Status RetryUserByUser(const BatchContext& context, std::span<const ObjectId> users,
                       const std::vector<UserAnalytics>& results, const WriteStamp& stamp,
                       EngineStore& store, DeadLetterSink& dead_letters, std::vector<bool>* failed,
                       WorkCounts* counts) {
  for (size_t i = 0; i < users.size(); ++i) {
    Status user_status;
    for (int attempt = 0; attempt < context.options.write_attempts; ++attempt) {
      std::vector<ExistingAnalytics> mine;
      user_status = store.ReadAnalytics(users.subspan(i, 1), &mine);
      if (user_status.ok()) {
        UserWrites retry = PlanUserWrites(users[i], results[i], mine, stamp, false);
        WriteCounts c;
        user_status = store.WriteAnalytics(retry.writes, &c);
      }
      if (user_status.ok() || user_status.code() == StatusCode::kUnavailable) break;
    }
    if (user_status.code() == StatusCode::kUnavailable) return user_status;
    if (!user_status.ok()) {
      (*failed)[i] = true;
      RecordWholeUser(context, users[i], "user", "write-failed",
                      nlohmann::json(user_status.message()).dump(), dead_letters, counts);
    }
  }
  return Status::Ok();
}

// Computes, plans and writes `users` (a unit) from the unit's reads.
Status ComputeAndWrite(const BatchContext& context, std::span<const ObjectId> users,
                       const ChunkReads& reads, const WriteStamp& stamp, Instant wall_start,
                       EngineStore& store, DeadLetterSink& dead_letters, ChangeListener* listener,
                       const std::atomic<bool>* stop, UsersProcessed* done) {
  const bool record_changes = listener != nullptr;
  std::vector<UserAnalytics> results;
  std::vector<UserWrites> plans;
  const int64_t compute_start = MonotonicMicros();
  ComputeSlice(context, users, reads, stamp, wall_start, record_changes, &results, &plans);

  if (stop && stop->load())
    return {StatusCode::kFailedPrecondition, "stopping: batch abandoned before writing"};

  std::vector<AnalyticsWrite> writes;
  for (UserWrites& p : plans)
    for (AnalyticsWrite& w : p.writes) writes.push_back(std::move(w));
  const int64_t write_start = MonotonicMicros();
  done->time.compute_us += write_start - compute_start;
  struct WriteTime {  // every return below counts the writes' time
    int64_t start;
    int64_t* into;
    ~WriteTime() { *into += MonotonicMicros() - start; }
  } write_time{write_start, &done->time.write_us};
  WriteCounts counts;
  Failpoint("before-write");
  Status st = store.WriteAnalytics(writes, &counts);
  Failpoint("after-write");
  std::vector<bool> failed(users.size(), false);
  if (!st.ok()) {
    if (st.code() == StatusCode::kUnavailable) return st;
    // Something in the slice was refused: redo user by user, so one bad user cannot hold back
    // the others.
    if (Status retry = RetryUserByUser(context, users, results, stamp, store, dead_letters, &failed,
                                       &done->counts);
        !retry.ok())
      return retry;
  }
  for (size_t i = 0; i < users.size(); ++i) {
    for (Metric m : plans[i].overflow)
      RecordWholeUser(context, users[i], fmt::format("metrics.{}", MetricInfoOf(m).name),
                      "overflow", "null", dead_letters, &done->counts);
    if (failed[i]) continue;
    if (listener && !plans[i].changes.empty())
      listener->OnUserChanged(users[i], context.clock, std::move(plans[i].changes));
    done->counts += plans[i].counts;
  }
  return Status::Ok();
}

// A unit's goals, history in [from, to] and analytics keys: one query each.
Status ReadUnit(const BatchContext& context, std::span<const ObjectId> users, Day from, Day to,
                EngineStore& store, ChunkReads* reads) {
  std::vector<ExistingAnalytics> existing;
  if (Status st = store.ReadGoals(users, &reads->goals); !st.ok()) return st;
  if (Status st = store.ReadHistory(users, from, to, context.options.analytics, &reads->history);
      !st.ok())
    return st;
  if (Status st = store.ReadAnalytics(users, &existing); !st.ok()) return st;
  for (const ExistingAnalytics& e : existing) reads->existing[e.user].push_back(e);
  return Status::Ok();
}

// One unit of at most READ_USERS_PER_QUERY users: its reads, then compute and write.
Status ProcessUnit(const BatchContext& context, std::span<const ObjectId> users,
                   const WriteStamp& stamp, EngineStore& store, DeadLetterSink& dead_letters,
                   ChangeListener* listener, const std::atomic<bool>* stop, UsersProcessed* done) {
  const Instant wall_start = NowMillis();
  const Day today = DayOf(context.clock);
  const Day from = today - context.options.analytics.history_days + 1;
  const int64_t read_start = MonotonicMicros();
  ChunkReads reads;
  if (Status st = ReadUnit(context, users, from, today, store, &reads); !st.ok()) return st;
  done->time.read_us += MonotonicMicros() - read_start;
  if (Status st = ComputeAndWrite(context, users, reads, stamp, wall_start, store, dead_letters,
                                  listener, stop, done);
      !st.ok())
    return st;
  done->counts.users += static_cast<int64_t>(users.size());
  return Status::Ok();
}

// The dead-letter sink and the listener, called by one worker at a time.
class SerializedSinks final : public DeadLetterSink, public ChangeListener {
 public:
  SerializedSinks(DeadLetterSink& dead_letters, ChangeListener* listener)
      : dead_letters_(dead_letters), listener_(listener) {}
  bool Record(const DeadLetter& letter) override {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_letters_.Record(letter);
  }
  void OnUserChanged(const ObjectId& user, Instant calculated_at,
                     std::vector<AnalyticsChange>&& changes) override {
    std::lock_guard<std::mutex> lock(mu_);
    listener_->OnUserChanged(user, calculated_at, std::move(changes));
  }
  void OnBatchCommitted(int64_t) override {}  // not called by ProcessUsers
  void OnBatchAbandoned(int64_t) override {}

 private:
  std::mutex mu_;
  DeadLetterSink& dead_letters_;
  ChangeListener* listener_;
};

}  // namespace

Status ProcessUsers(const BatchContext& context, std::span<const ObjectId> users,
                    EngineStore& store, DeadLetterSink& dead_letters, ChangeListener* listener,
                    const std::atomic<bool>* stop, UsersProcessed* done) {
  WriteStamp stamp;
  stamp.calculated_at = context.clock;
  stamp.result_ttl_days = context.options.result_ttl_days;
  stamp.spark_job_id = fmt::format("health-analytics:{}", context.batch_id);
  const size_t per_unit = std::max<size_t>(1, context.options.read_users_per_query);
  const size_t units = (users.size() + per_unit - 1) / per_unit;
  auto unit = [&](size_t u) {
    return users.subspan(u * per_unit, std::min(per_unit, users.size() - u * per_unit));
  };
  const size_t workers =
      std::max<size_t>(1, std::min<size_t>(std::max(1, context.options.io_concurrency), units));
  // K workers (the calling thread is the first; with one, the units go in order), each taking
  // the next unit until none is left or one failed. Each has its own counts (summed at the end)
  // and calls the store on its own (a MongoStore pops a pooled client per call); the sinks are
  // serialized.
  SerializedSinks sinks(dead_letters, listener);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<UsersProcessed> per_worker(workers);
  std::vector<Status> errors(workers);
  auto work = [&](size_t w) {
    for (size_t u; !failed.load() && (u = next.fetch_add(1)) < units;) {
      Status st = ProcessUnit(context, unit(u), stamp, store, sinks, listener ? &sinks : nullptr,
                              stop, &per_worker[w]);
      if (!st.ok()) {
        errors[w] = st;
        failed.store(true);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (std::thread& t : threads) t.join();
  for (const UsersProcessed& p : per_worker) {
    done->counts += p.counts;
    done->time += p.time;
  }
  for (const Status& st : errors)
    if (!st.ok()) return st;
  return Status::Ok();
}

}  // namespace ha
