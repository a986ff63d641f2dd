#include "engine/plan.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <iterator>
#include <thread>

namespace ha {
namespace {

// What the poll read: each version as its position and user (MAX_BATCH_DOCS of them are in
// memory at once), and the few with field issues whole, for the dead-letter log.
struct Polled {
  std::deque<PolledVersion> changed;  // after the cursor
  std::deque<PolledVersion> late;     // in the grace window and not seen before
  std::vector<ChangedVersion> flawed;
};

// The changed versions after `start`, and the grace re-read behind it: one query when there is
// a window (versions already processed in it are not new).
Status Poll(const BatchPlan& plan, const Cursor& start, EngineStore& store,
            const std::vector<Cursor>& seen, Polled* polled) {
  const EngineOptions& options = plan.context.options;
  auto keep = [polled](std::deque<PolledVersion>& into, ChangedVersion&& v) {
    into.push_back({Cursor{v.updated_at, v.id}, v.user});
    if (!v.decoded.issues.empty()) polled->flawed.push_back(std::move(v));
  };
  auto read_changed = [&](ChangedVersion&& v) { keep(polled->changed, std::move(v)); };
  const std::optional<Instant> window_from = GraceWindowFrom(plan.checkpoint, options);
  if (window_from && *window_from < start.updated_at) {
    return store.ReadWindowAndChanges(
        *window_from, start, options.max_batch_docs, options.analytics,
        [&](ChangedVersion&& v) {
          if (!std::binary_search(seen.begin(), seen.end(), Cursor{v.updated_at, v.id}))
            keep(polled->late, std::move(v));
        },
        read_changed);
  }
  return store.ReadChanges(start, options.max_batch_docs, options.analytics, read_changed);
}

// Every invalid field of a polled version, once.
void DeadLetterVersions(const std::vector<ChangedVersion>& flawed, int64_t batch_id,
                        DeadLetterSink& dead_letters, int64_t* count) {
  for (const ChangedVersion& v : flawed) {
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
      if (dead_letters.Record(l)) ++*count;
    }
  }
}

// The owners of the polled versions, sorted and distinct.
std::vector<ObjectId> AffectedUsers(const Polled& polled) {
  std::vector<ObjectId> affected;
  for (const auto* list : {&polled.changed, &polled.late})
    for (const PolledVersion& v : *list)
      if (v.user) affected.push_back(*v.user);
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  return affected;
}

// The I/O that begins a pass, or resumes one in a new process: where the server has no TTL
// index the expired analytics documents go (`sweep`, at its start), and its users are listed
// (`list`: once per pass; a new pass lists again, users come and go).
struct PassBeginning {
  Instant started = 0;          // the pass it is for
  std::optional<bool> has_ttl;  // what the engine knew, then the server's answer
  std::vector<ObjectId> users;  // sorted
  int64_t read_us = 0, write_us = 0;
  Status status = Status::Ok();
};

void BeginPass(EngineStore& store, const EngineOptions& options, Instant now, bool sweep, bool list,
               PassBeginning* b) {
  if (sweep) {
    if (!b->has_ttl) {
      auto ttl = store.HasTtlIndex();
      if (!ttl.ok()) {
        b->status = ttl.status();
        return;
      }
      b->has_ttl = *ttl;
    }
    if (!*b->has_ttl) {
      const int64_t t0 = MonotonicMicros();
      auto n = store.DeleteExpired(now);
      b->write_us += MonotonicMicros() - t0;
      if (!n.ok()) {
        b->status = n.status();
        return;
      }
    }
  }
  if (list) {
    const Day today = DayOf(now);
    const int64_t t0 = MonotonicMicros();
    b->status = store.ListUsers(today - options.analytics.history_days + 1, today, &b->users);
    b->read_us += MonotonicMicros() - t0;
  }
}

// A pass's beginning read beside the poll (PassToBeginEarly), on its own thread; joined before
// the plan looks at it, and always before the plan returns.
class EarlyBeginning {
 public:
  EarlyBeginning() = default;
  EarlyBeginning(const EarlyBeginning&) = delete;
  EarlyBeginning& operator=(const EarlyBeginning&) = delete;
  ~EarlyBeginning() { Join(); }

  void Start(EngineStore& store, const EngineOptions& options, Instant now, const PassState& pass,
             std::optional<bool> has_ttl) {
    result_.started = pass.started;
    result_.has_ttl = has_ttl;
    started_ = true;
    thread_ = std::thread([this, &store, &options, now, sweep = !pass.after] {
      BeginPass(store, options, now, sweep, /*list=*/true, &result_);
    });
  }
  // The result, or nullptr when none was started.
  PassBeginning* Join() {
    if (thread_.joinable()) thread_.join();
    return started_ ? &result_ : nullptr;
  }

 private:
  std::thread thread_;
  bool started_ = false;
  PassBeginning result_;
};

// A running pass: its beginning (read early, when `early` is for this pass, or now), then this
// batch's slice of its users.
Status SliceThePass(bool finish_recompute, EngineStore& store, EngineMemory* memory,
                    PassBeginning* early, BatchPlan* plan) {
  const EngineOptions& options = plan->context.options;
  const bool list = memory->recompute_list_started != plan->pass.started;
  if (early && early->started == plan->pass.started) {
    if (!early->status.ok()) return early->status;
    memory->recompute_list = std::move(early->users);
    memory->recompute_list_started = plan->pass.started;
  } else if (!plan->pass.after || list) {
    PassBeginning b;
    b.has_ttl = memory->has_ttl;
    BeginPass(store, options, plan->context.clock, !plan->pass.after, list, &b);
    memory->has_ttl = b.has_ttl;
    plan->phases.read_us += b.read_us;
    plan->phases.write_us += b.write_us;
    if (!b.status.ok()) return b.status;
    if (list) {
      memory->recompute_list = std::move(b.users);
      memory->recompute_list_started = plan->pass.started;
    }
  }
  const PassSlice s = SliceOfPass(memory->recompute_list, plan->pass, finish_recompute,
                                  options.recompute_users_per_batch);
  plan->slice = std::span<const ObjectId>(memory->recompute_list).subspan(s.begin, s.count);
  plan->pass_done = s.completes_pass;
  return Status::Ok();
}

}  // namespace

Status PlanBatch(const CheckpointState& state, bool finish_recompute, EngineStore& store,
                 DeadLetterSink& dead_letters, EngineMemory* memory, BatchPlan* plan) {
  plan->checkpoint = state;
  plan->context.batch_id = state.next_batch_id;
  const Instant now = plan->context.clock;
  if (state.operator_edited) {
    memory->seen_versions.clear();
  } else if (memory->seen_versions.empty() && state.resume_from == ResumeFrom::kSidecarCursor) {
    // After a restart: the versions the last committed batch had processed in the window.
    memory->seen_versions = ParseGraceWindow(state.grace_window);
  }
  const Cursor start = StartCursor(state, plan->context.options, now);

  // A pass about to begin reads its users beside the poll, when more than one query may be in
  // flight (IO_CONCURRENCY).
  EarlyBeginning early;
  if (plan->context.options.io_concurrency > 1) {
    const std::optional<PassState> pass = PassToBeginEarly(state, plan->context.options, now);
    if (pass && memory->recompute_list_started != pass->started)
      early.Start(store, plan->context.options, now, *pass, memory->has_ttl);
  }

  Polled polled;
  const int64_t poll_start = MonotonicMicros();
  Status poll_status = Poll(*plan, start, store, memory->seen_versions, &polled);
  plan->phases.poll_us = MonotonicMicros() - poll_start;
  // The pass's beginning counts in `read` for the time it outlasts the poll (the rest ran
  // beside it), whether or not the batch uses it (a full batch defers the pass).
  const int64_t join_start = MonotonicMicros();
  PassBeginning* early_result = early.Join();
  if (early_result) {
    if (early_result->has_ttl) memory->has_ttl = early_result->has_ttl;
    plan->phases.read_us += MonotonicMicros() - join_start;
  }
  if (!poll_status.ok()) return poll_status;
  plan->records_processed = static_cast<int64_t>(polled.changed.size() + polled.late.size());

  DeadLetterVersions(polled.flawed, plan->context.batch_id, dead_letters,
                     &plan->counts.dead_letters);
  polled.flawed = {};
  std::vector<ObjectId> affected = AffectedUsers(polled);

  // Each user is computed once per batch: the pass's slice is merged with the affected users,
  // and every history read comes after the change read.
  plan->full = static_cast<int64_t>(polled.changed.size()) >= plan->context.options.max_batch_docs;
  const PollSummary summary{static_cast<int64_t>(polled.changed.size()), affected.size()};
  const PassDecision decision = DecidePass(state, summary, plan->context.options, now);
  plan->pass = decision.pass;
  if (decision.action == PassAction::kDefer) {
    plan->deferred_users = static_cast<int64_t>(affected.size());
    affected.clear();
    memory->recompute_list_started.reset();  // the pass lists its users when it begins
  } else if (decision.action == PassAction::kRun) {
    plan->pass_active = true;
    if (Status st = SliceThePass(finish_recompute, store, memory, early_result, plan); !st.ok())
      return st;
  }
  plan->users.clear();
  std::set_union(plan->slice.begin(), plan->slice.end(), affected.begin(), affected.end(),
                 std::back_inserter(plan->users));

  // What the commit needs from the poll, worked out now so that the batch's versions (up to
  // MAX_BATCH_DOCS) are not held while the users are processed.
  plan->next_cursor = polled.changed.empty() ? start : polled.changed.back().at;
  plan->next_grace_window = NextGraceWindow(memory->seen_versions, polled.changed, polled.late,
                                            plan->next_cursor, plan->context.options, now);
  return Status::Ok();
}

}  // namespace ha
