#include "engine/plan.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <iterator>

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

// A running pass: at its start, where the server has no TTL index (FerretDB), the expired
// analytics documents go; its users are listed once per pass (a new pass lists again: users
// come and go); then this batch's slice.
Status SliceThePass(bool finish_recompute, EngineStore& store, EngineMemory* memory,
                    BatchPlan* plan) {
  const EngineOptions& options = plan->context.options;
  const Instant now = plan->context.clock;
  const Day today = DayOf(now);
  if (!plan->pass.after) {
    if (!memory->has_ttl) {
      auto ttl = store.HasTtlIndex();
      if (!ttl.ok()) return ttl.status();
      memory->has_ttl = *ttl;
    }
    if (!*memory->has_ttl) {
      const int64_t t0 = MonotonicMicros();
      auto n = store.DeleteExpired(now);
      plan->phases.write_us += MonotonicMicros() - t0;
      if (!n.ok()) return n.status();
    }
  }
  if (memory->recompute_list_started != plan->pass.started) {
    memory->recompute_list.clear();
    const int64_t t0 = MonotonicMicros();
    Status st =
        store.ListUsers(today - options.analytics.history_days + 1, today, &memory->recompute_list);
    plan->phases.read_us += MonotonicMicros() - t0;
    if (!st.ok()) return st;
    memory->recompute_list_started = plan->pass.started;
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

  Polled polled;
  const int64_t poll_start = MonotonicMicros();
  Status poll_status = Poll(*plan, start, store, memory->seen_versions, &polled);
  if (!poll_status.ok()) return poll_status;
  plan->phases.poll_us = MonotonicMicros() - poll_start;
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
    if (Status st = SliceThePass(finish_recompute, store, memory, plan); !st.ok()) return st;
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
