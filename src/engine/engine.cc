#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "codec/analytics_doc.h"
#include "core/failpoint.h"

namespace ha {
namespace {

using Key = std::pair<Metric, TimeRange>;

// One user's planned writes and what they amount to.
struct UserPlan {
  std::vector<AnalyticsWrite> writes;
  std::vector<AnalyticsChange> changes;  // filled only when a listener wants them
  WorkCounts counts;                     // computed, inserted, updated, deleted, unchanged
  std::vector<Metric> overflow;
};

// Plans the writes that make the stored documents of `user` equal to `result`.
UserPlan PlanUser(const ObjectId& user, const UserAnalytics& result,
                  std::span<const ExistingAnalytics> existing, const WriteStamp& stamp,
                  bool record_changes) {
  UserPlan plan;
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
      AppendAnalyticsFields(fields.get(), user, m, r, stamp);
      auto it = by_key.find({m.metric, static_cast<TimeRange>(r)});
      if (record_changes && (it == by_key.end() || it->second.empty() ||
                             it->second.front()->digest != DeterministicDigest(fields.get()))) {
        AnalyticsChange c;
        c.metric = m.metric;
        c.range = static_cast<TimeRange>(r);
        c.inserted = it == by_key.end() || it->second.empty();
        c.fields = BsonDoc(bson_copy(fields.get()));
        plan.changes.push_back(std::move(c));
      }
      if (it == by_key.end() || it->second.empty()) {
        AnalyticsWrite w;
        w.kind = AnalyticsWrite::Kind::kInsert;
        w.user = user;
        w.body = EncodeAnalyticsDocument(user, m, r, stamp);
        plan.writes.push_back(std::move(w));
        ++plan.counts.inserted;
        continue;
      }
      const ExistingAnalytics* first = it->second.front();
      if (first->digest == DeterministicDigest(fields.get())) {
        ++plan.counts.unchanged;
      } else {
        AnalyticsWrite w;
        w.kind = AnalyticsWrite::Kind::kUpdate;
        w.user = user;
        w.id = first->id;
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

// The full recompute pass (daily, or every RECONCILE_INTERVAL_HOURS), kept in the sidecar as
// {"day": D, "started": ms, "after": "<hex>"|null, "done": bool}: the day and instant it
// started for, the last user finished, and whether it is complete.
struct PassState {
  std::optional<Day> day;
  Instant started = 0;
  std::optional<ObjectId> after;
  bool done = true;
};

PassState ParsePass(const std::string& text) {
  PassState p;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return p;
  // A hand-edited day outside Day's range is no day (a new pass), never a wrapped one.
  if (j.contains("day") && j["day"].is_number_integer()) {
    const nlohmann::json& d = j["day"];
    const bool fits = d.is_number_unsigned()
                          ? d.get<uint64_t>() <= uint64_t{std::numeric_limits<Day>::max()}
                          : d.get<int64_t>() >= std::numeric_limits<Day>::min() &&
                                d.get<int64_t>() <= std::numeric_limits<Day>::max();
    if (fits) p.day = static_cast<Day>(d.get<int64_t>());
  }
  if (j.contains("started") && j["started"].is_number_integer())
    p.started = j["started"].get<Instant>();
  if (j.contains("after") && j["after"].is_string())
    p.after = ObjectId::FromHex(j["after"].get<std::string>());
  // Progress written before "done" existed meant an unfinished pass.
  p.done = j.contains("done") ? j["done"].is_boolean() && j["done"].get<bool>() : false;
  return p;
}

// A monotonic clock in microseconds, for the batch's phases (BatchReport::Phases).
int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The processed versions of the grace window, as the sidecar keeps them: [[updatedAt ms, "id"],
// ...]. More than kMaxPersistedVersions are not kept ("": after a restart they all count as new,
// which is harmless, only slower). Anything unreadable is an empty set, for the same reason.
constexpr size_t kMaxPersistedVersions = 5000;

std::string FormatGraceWindow(const std::vector<Cursor>& seen) {
  if (seen.empty() || seen.size() > kMaxPersistedVersions) return "";
  nlohmann::json j = nlohmann::json::array();
  for (const Cursor& c : seen) j.push_back({c.updated_at, c.id.ToHex()});
  return j.dump();
}

// Sorted and unique, like the set it restores.
std::vector<Cursor> ParseGraceWindow(const std::string& text) {
  std::vector<Cursor> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_string()) return {};
    auto id = ObjectId::FromHex(e[1].get<std::string>());
    if (!id) return {};
    out.push_back(Cursor{e[0].get<Instant>(), *id});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FormatPass(const PassState& p) {
  nlohmann::json j;
  j["day"] = p.day ? nlohmann::json(*p.day) : nlohmann::json(nullptr);
  j["started"] = p.started;
  j["after"] = p.after ? nlohmann::json(p.after->ToHex()) : nlohmann::json(nullptr);
  j["done"] = p.done;
  return j.dump();
}

}  // namespace

Engine::Engine(Store& store, CheckpointStore& checkpoint, DeadLetterSink& dead_letters,
               const EngineOptions& options)
    : store_(store), checkpoint_(checkpoint), dead_letters_(dead_letters), options_(options) {}

void Engine::DeadLetterVersion(const ChangedVersion& v, int64_t batch_id, int64_t* count) {
  for (const FieldIssue& issue : v.decoded.issues) {
    DeadLetter l;
    l.recorded_at = NowMillis();
    l.batch_id = batch_id;
    l.doc_id = v.decoded.doc_id;
    l.user_id = v.decoded.user_id;
    l.updated_at = v.updated_at;
    l.field = issue.field;
    l.reason = issue.reason;
    l.value_json = issue.value_json;
    if (dead_letters_.Record(l)) ++*count;
  }
}

Status Engine::ComputeAndWrite(
    std::span<const ObjectId> users,
    const std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash>& history,
    const std::unordered_map<ObjectId, Goals, ObjectIdHash>& goals,
    const std::unordered_map<ObjectId, std::vector<ExistingAnalytics>, ObjectIdHash>&
        existing_by_user,
    Instant now, const WriteStamp& stamp, Instant wall_start, int64_t batch_id, UserWork* work) {
  const Day today = DayOf(now);
  // Compute and plan in parallel, partitioned by user.
  std::vector<UserAnalytics> results(users.size());
  std::vector<UserPlan> plans(users.size());
  static const std::vector<DayRecord> kNoHistory;
  static const std::vector<ExistingAnalytics> kNoExisting;
  static const Goals kDefaultGoals = DefaultGoals();
  const int64_t compute_start = MonotonicUs();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < users.size();) {
      const ObjectId& u = users[i];
      auto h = history.find(u);
      auto e = existing_by_user.find(u);
      auto g = goals.find(u);  // never goals[u]: the workers share the map (no insertion)
      results[i] =
          ComputeUser(h == history.end() ? kNoHistory : h->second,
                      g == goals.end() ? kDefaultGoals : g->second, today, options_.analytics);
      WriteStamp s = stamp;
      s.processing_duration_ms = static_cast<int32_t>(NowMillis() - wall_start);
      plans[i] = PlanUser(u, results[i], e == existing_by_user.end() ? kNoExisting : e->second, s,
                          listener_ != nullptr);
    }
  };
  const int threads =
      std::max(1, std::min<int>(options_.worker_threads, static_cast<int>(users.size() / 16)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  if (stop_ && stop_->load())
    return {StatusCode::kFailedPrecondition, "stopping: batch abandoned before writing"};

  std::vector<AnalyticsWrite> writes;
  for (UserPlan& p : plans)
    for (AnalyticsWrite& w : p.writes) writes.push_back(std::move(w));
  const int64_t write_start = MonotonicUs();
  work->time.compute_us += write_start - compute_start;
  struct WriteTime {  // every return below counts the writes' time
    int64_t start;
    int64_t* into;
    ~WriteTime() { *into += MonotonicUs() - start; }
  } write_time{write_start, &work->time.write_us};
  WriteCounts counts;
  Failpoint("before-write");
  Status st = store_.Write(writes, &counts);
  Failpoint("after-write");
  std::vector<bool> failed(users.size(), false);
  if (!st.ok()) {
    if (st.code() == StatusCode::kUnavailable) return st;
    // Something in the chunk was refused: redo user by user from a fresh read of their keys,
    // so one bad user cannot hold back the others.
    for (size_t i = 0; i < users.size(); ++i) {
      Status user_status;
      for (int attempt = 0; attempt < options_.write_attempts; ++attempt) {
        std::vector<ExistingAnalytics> mine;
        user_status = store_.ReadAnalytics(users.subspan(i, 1), &mine);
        if (user_status.ok()) {
          plans[i] = PlanUser(users[i], results[i], mine, stamp, listener_ != nullptr);
          WriteCounts c;
          user_status = store_.Write(plans[i].writes, &c);
        }
        if (user_status.ok() || user_status.code() == StatusCode::kUnavailable) break;
      }
      if (user_status.code() == StatusCode::kUnavailable) return user_status;
      if (!user_status.ok()) {
        failed[i] = true;
        DeadLetter l;
        l.recorded_at = NowMillis();
        l.batch_id = batch_id;
        l.user_id = users[i].ToHex();
        l.field = "user";
        l.reason = "write-failed";
        l.value_json = nlohmann::json(user_status.message()).dump();
        if (dead_letters_.Record(l)) ++work->counts.dead_letters;
      }
    }
  }
  for (size_t i = 0; i < users.size(); ++i) {
    for (Metric m : plans[i].overflow) {
      DeadLetter l;
      l.recorded_at = NowMillis();
      l.batch_id = batch_id;
      l.user_id = users[i].ToHex();
      l.field = fmt::format("metrics.{}", InfoOf(m).name);
      l.reason = "overflow";
      l.value_json = "null";
      if (dead_letters_.Record(l)) ++work->counts.dead_letters;
    }
    if (failed[i]) continue;
    if (listener_ && !plans[i].changes.empty())
      listener_->OnUserChanged(users[i], now, std::move(plans[i].changes));
    work->counts += plans[i].counts;
  }
  return Status::Ok();
}

Status Engine::ProcessChunk(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                            UserWork* work) {
  if (users.empty()) return Status::Ok();
  const Instant wall_start = NowMillis();
  const Day today = DayOf(now);
  const Day from = today - options_.analytics.history_days + 1;

  const int64_t read_start = MonotonicUs();
  std::unordered_map<ObjectId, Goals, ObjectIdHash> goals;
  std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash> history;
  std::vector<ExistingAnalytics> existing;
  if (Status st = store_.ReadGoals(users, &goals); !st.ok()) return st;
  if (Status st = store_.ReadHistory(users, from, today, options_.analytics, &history); !st.ok())
    return st;
  if (Status st = store_.ReadAnalytics(users, &existing); !st.ok()) return st;
  std::unordered_map<ObjectId, std::vector<ExistingAnalytics>, ObjectIdHash> existing_by_user;
  for (const ExistingAnalytics& e : existing) existing_by_user[e.user].push_back(e);
  work->time.read_us += MonotonicUs() - read_start;

  WriteStamp stamp;
  stamp.calculated_at = now;
  stamp.result_ttl_days = options_.result_ttl_days;
  stamp.spark_job_id = fmt::format("health-analytics:{}", batch_id);

  // Compute, plan and write a slice of the chunk at a time: the reads above are per chunk
  // (one query each), but the computed analytics and the planned documents (a few KB each, 24
  // per user) are held only for kUsersPerSlice users, so memory does not grow with the chunk.
  for (size_t s0 = 0; s0 < users.size(); s0 += kUsersPerSlice) {
    const std::span<const ObjectId> slice =
        users.subspan(s0, std::min(kUsersPerSlice, users.size() - s0));
    if (Status st = ComputeAndWrite(slice, history, goals, existing_by_user, now, stamp, wall_start,
                                    batch_id, work);
        !st.ok())
      return st;
  }
  work->counts.users += static_cast<int64_t>(users.size());
  return Status::Ok();
}

Status Engine::RecomputeUsers(std::span<const ObjectId> users, Instant now, int64_t batch_id,
                              UserWork* work) {
  for (size_t i = 0; i < users.size(); i += options_.users_per_chunk) {
    const size_t n = std::min(options_.users_per_chunk, users.size() - i);
    if (Status st = ProcessChunk(users.subspan(i, n), now, batch_id, work); !st.ok()) return st;
  }
  return Status::Ok();
}

Status Engine::RecomputeAll(Instant now, int64_t batch_id, UserWork* work) {
  const Day today = DayOf(now);
  std::vector<ObjectId> users;
  if (Status st = store_.ListUsers(today - options_.analytics.history_days + 1, today, &users);
      !st.ok())
    return st;
  return RecomputeUsers(users, now, batch_id, work);
}

Result<BatchReport> Engine::RunBatch(Instant now, bool finish_recompute) {
  BatchReport report;
  report.start_time = NowMillis();
  report.clock = now;
  last_error_code_ = StatusCode::kOk;
  auto fail = [&](const Status& st) -> Result<BatchReport> {
    report.failed = true;
    report.errors.push_back(st.message());
    report.end_time = NowMillis();
    last_error_code_ = st.code();
    if (listener_) listener_->OnBatchAbandoned(report.batch_id);
    return report;
  };

  auto loaded = checkpoint_.Load();
  if (!loaded.ok()) {
    if (loaded.status().code() == StatusCode::kInvalidArgument) return loaded.status();
    return fail(loaded.status());
  }
  CheckpointState state = std::move(loaded).value();
  report.batch_id = state.next_batch_id;
  report.watermark_from = state.watermark;
  if (state.operator_edited) {
    seen_versions_.clear();
  } else if (seen_versions_.empty() && state.resume_from == ResumeFrom::kSidecarCursor) {
    // After a restart: the versions the last committed batch had processed in the window.
    seen_versions_ = ParseGraceWindow(state.grace_window);
  }

  const Day today = DayOf(now);
  const Cursor start_cursor = state.cursor.value_or(Cursor{
      now - static_cast<int64_t>(options_.initial_lookback_days) * kMillisPerDay, ObjectId::Min()});

  // 1. The changed documents after the cursor, and the grace re-read behind it: one query
  // when there is a window (versions already processed in it are not new).
  // A version is kept as its position and user (MAX_BATCH_DOCS of them are in memory at once);
  // the few with field issues are also kept whole, for the dead-letter log.
  struct Polled {
    Cursor at;
    std::optional<ObjectId> user;
  };
  std::deque<Polled> changed;
  std::deque<Polled> late;
  std::vector<ChangedVersion> flawed;
  auto keep = [&flawed](std::deque<Polled>& into, ChangedVersion&& v) {
    into.push_back({Cursor{v.updated_at, v.id}, v.user});
    if (!v.decoded.issues.empty()) flawed.push_back(std::move(v));
  };
  const std::optional<Instant> window_from =
      state.watermark ? std::optional<Instant>(*state.watermark - options_.late_data_grace_ms)
                      : std::nullopt;
  auto read_changed = [&](ChangedVersion&& v) { keep(changed, std::move(v)); };
  const int64_t poll_start = MonotonicUs();
  if (window_from && *window_from < start_cursor.updated_at) {
    Status st = store_.ReadWindowAndChanges(
        *window_from, start_cursor, options_.max_batch_docs, options_.analytics,
        [&](ChangedVersion&& v) {
          if (!std::binary_search(seen_versions_.begin(), seen_versions_.end(),
                                  Cursor{v.updated_at, v.id}))
            keep(late, std::move(v));
        },
        read_changed);
    if (!st.ok()) return fail(st);
  } else if (Status st = store_.ReadChanges(start_cursor, options_.max_batch_docs,
                                            options_.analytics, read_changed);
             !st.ok()) {
    return fail(st);
  }
  report.phases.poll_us = MonotonicUs() - poll_start;
  report.records_processed = static_cast<int64_t>(changed.size() + late.size());

  // 2. Dead letters and the affected users.
  for (const ChangedVersion& v : flawed)
    DeadLetterVersion(v, report.batch_id, &report.counts.dead_letters);
  flawed.clear();
  std::vector<ObjectId> affected;
  for (const auto* list : {&changed, &late})
    for (const Polled& v : *list)
      if (v.user) affected.push_back(*v.user);
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());

  // 3. The daily recompute, when the day changed (the first batch included): every user with
  // analytics or data in the horizon, a slice per batch (all of it when `finish_recompute`),
  // resumed from the sidecar's progress. Each user is computed once per batch: the slice is
  // merged with the affected users, and every history read comes after the change read.
  // A full batch: more changed documents may be waiting behind it.
  const bool full = static_cast<int>(changed.size()) >= options_.max_batch_docs;
  std::optional<Day> last_recompute_day = state.last_recompute_day;
  PassState pass = ParsePass(state.recompute_progress);
  std::span<const ObjectId> slice;  // of recompute_list_, which the batch does not change
  bool pass_active = false;
  bool pass_done = true;
  {
    const bool daily_due = state.last_recompute_day != today;
    const bool reconcile_due = options_.reconcile_interval_ms > 0 && pass.done &&
                               now - pass.started >= options_.reconcile_interval_ms;
    const bool resume = !pass.done && pass.day == today;
    // A backlog: this batch is full (more is pending) and affects many users. Computing them
    // now would recompute most users once per batch of the backlog (an import or a first run
    // interleaves every user's history across all its batches). Instead a pass over everyone
    // is scheduled, or kept scheduled, and nobody is computed: the pass covers every user
    // affected so far, since it lists the users and reads their histories in a later batch,
    // after this batch's change read. It begins with the first batch that is not full, or
    // once it has waited kMaxBacklogDeferMs (a stream the engine cannot keep up with is still
    // computed). The schedule is committed with the cursor, so a crash cannot lose it.
    const bool scheduled = resume && !pass.after;  // scheduled, or begun without progress
    if (full && affected.size() >= options_.users_per_chunk &&
        (daily_due || reconcile_due || scheduled) &&
        !(scheduled && now - pass.started >= kMaxBacklogDeferMs)) {
      if (!scheduled) pass = PassState{today, now, std::nullopt, false};
      report.deferred_users = static_cast<int64_t>(affected.size());
      affected.clear();
      recompute_list_started_.reset();  // the pass lists its users when it begins, not before
      report.more_pending = true;
    } else if (daily_due || reconcile_due || resume) {
      pass_active = true;
      if (!resume) pass = PassState{today, now, std::nullopt, false};  // a new pass
    }
  }
  if (pass_active) {
    if (!pass.after) {
      // Where the server has no TTL index (FerretDB), expired documents go here.
      if (!has_ttl_) {
        auto ttl = store_.HasTtlIndex();
        if (!ttl.ok()) return fail(ttl.status());
        has_ttl_ = *ttl;
      }
      if (!*has_ttl_) {
        const int64_t t0 = MonotonicUs();
        auto n = store_.DeleteExpired(now);
        report.phases.write_us += MonotonicUs() - t0;
        if (!n.ok()) return fail(n.status());
      }
    }
    // The pass's users, listed once per pass (a new pass lists again: users come and go).
    if (recompute_list_started_ != pass.started) {
      recompute_list_.clear();
      const int64_t t0 = MonotonicUs();
      Status st =
          store_.ListUsers(today - options_.analytics.history_days + 1, today, &recompute_list_);
      report.phases.read_us += MonotonicUs() - t0;
      if (!st.ok()) return fail(st);
      recompute_list_started_ = pass.started;
    }
    auto begin = pass.after
                     ? std::upper_bound(recompute_list_.begin(), recompute_list_.end(), *pass.after)
                     : recompute_list_.begin();
    const size_t left = static_cast<size_t>(recompute_list_.end() - begin);
    const size_t take =
        finish_recompute ? left : std::min(left, options_.recompute_users_per_batch);
    slice =
        std::span<const ObjectId>(recompute_list_.data() + (begin - recompute_list_.begin()), take);
    pass_done = take == left;
  }
  std::vector<ObjectId> users;
  std::set_union(slice.begin(), slice.end(), affected.begin(), affected.end(),
                 std::back_inserter(users));

  // What the commit needs from the poll: the next cursor, and the versions the next grace
  // window can hold (the next window starts at the new watermark minus the grace): the kept ones
  // after the horizon, then this batch's (a backlog's batch read 100,000 older ones).
  // seen_versions_ changes only once committed. Worked out now, so that the batch's versions
  // (up to MAX_BATCH_DOCS) are not held while the chunks are computed.
  const Cursor next_cursor = changed.empty() ? start_cursor : changed.back().at;
  const Instant horizon = WatermarkFor(next_cursor.updated_at, now) - options_.late_data_grace_ms;
  std::vector<Cursor> seen;
  {
    const Cursor from{horizon + 1, ObjectId::Min()};
    const auto kept = std::lower_bound(seen_versions_.begin(), seen_versions_.end(), from);
    size_t fresh = 0;
    for (const auto* list : {&changed, &late})
      for (const Polled& v : *list) fresh += v.at.updated_at > horizon ? 1 : 0;
    seen.reserve(static_cast<size_t>(seen_versions_.end() - kept) + fresh);
    seen.insert(seen.end(), kept, seen_versions_.end());
    const auto middle = static_cast<std::ptrdiff_t>(seen.size());
    for (const auto* list : {&changed, &late})
      for (const Polled& v : *list)
        if (v.at.updated_at > horizon) seen.push_back(v.at);
    std::sort(seen.begin() + middle, seen.end());
    std::inplace_merge(seen.begin(), seen.begin() + middle, seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  }
  changed = {};
  late = {};
  affected = {};

  // 4-6. Compute and write, chunk by chunk; the recompute's progress is saved after each.
  size_t slice_done = 0;
  for (size_t i = 0; i < users.size(); i += options_.users_per_chunk) {
    const size_t n = std::min(options_.users_per_chunk, users.size() - i);
    const std::span<const ObjectId> chunk(users.data() + i, n);
    UserWork w;
    Status chunk_status = ProcessChunk(chunk, now, report.batch_id, &w);
    report.phases += w.time;
    if (!chunk_status.ok()) return fail(chunk_status);
    report.counts += w.counts;
    if (slice.empty()) continue;
    // Recompute users of this chunk.
    const ObjectId last = chunk.back();
    const size_t before = slice_done;
    slice_done =
        static_cast<size_t>(std::upper_bound(slice.begin(), slice.end(), last) - slice.begin());
    report.recompute_users += static_cast<int64_t>(slice_done - before);
    const bool finished = pass_done && slice_done == slice.size();
    if (!finished && slice_done > 0 && slice_done < slice.size()) {
      PassState at = pass;
      at.after = slice[slice_done - 1];
      ProgressUpdate update;
      update.last_recompute_day = last_recompute_day;
      update.recompute_progress = FormatPass(at);
      const int64_t t0 = MonotonicUs();
      Status st = checkpoint_.SaveProgress(update);
      report.phases.commit_us += MonotonicUs() - t0;
      if (!st.ok()) return fail(st);
    }
  }
  if (pass_active) {
    if (!slice.empty()) pass.after = slice.back();
    if (pass_done) {
      pass.done = true;
      last_recompute_day = today;
    } else {
      report.more_pending = true;
    }
  }
  const std::string progress_text = FormatPass(pass);

  // 7. Commit, with the versions of the grace window processed so far (worked out above).
  CommitRequest commit;
  commit.watermark_seen = state.watermark_seen;
  commit.cursor = next_cursor;
  commit.batch_start = now;
  commit.next_batch_id = report.batch_id + 1;
  commit.last_recompute_day = last_recompute_day;
  commit.recompute_progress = progress_text;
  commit.grace_window = FormatGraceWindow(seen);
  Failpoint("before-commit");
  const int64_t commit_start = MonotonicUs();
  auto outcome = checkpoint_.Commit(commit);
  report.phases.commit_us += MonotonicUs() - commit_start;
  if (!outcome.ok()) return fail(outcome.status());
  if (listener_) listener_->OnBatchCommitted(report.batch_id);
  seen_versions_ = std::move(seen);

  // An operator edit made while the batch ran wins: report the file as it is.
  if (outcome->watermark_written) {
    report.watermark_to = outcome->watermark;
  } else if (outcome->watermark_seen.exists) {
    auto edited = ParseInstant(outcome->watermark_seen.text);
    if (edited.ok()) report.watermark_to = *edited;
  }
  report.more_pending = report.more_pending || full;
  report.end_time = NowMillis();
  return report;
}

}  // namespace ha
