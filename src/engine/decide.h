// The plan step's decisions, apart from its I/O: pure functions of the checkpoint as loaded,
// what the poll found, the options and the batch clock. plan.cc calls them; they are unit-tested
// without a store (tests/unit/engine/decide_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "core/cursor.h"
#include "core/object_id.h"
#include "core/time.h"
#include "engine/batch_context.h"

namespace ha {

// How long full batches of a backlog may leave their users to a scheduled pass.
inline constexpr Instant kMaxBacklogDeferMs = Instant{10} * 60 * 1000;

// The full recompute pass (daily, or every RECONCILE_INTERVAL_HOURS), kept in the sidecar as
// {"day": D, "started": ms, "after": "<hex>"|null, "done": bool}: the day and instant it
// started for, the last user finished, and whether it is complete.
struct PassState {
  std::optional<Day> day;
  Instant started = 0;
  std::optional<ObjectId> after;
  bool done = true;

  bool operator==(const PassState&) const = default;
};

// The sidecar's text back to a PassState. Unreadable text is a finished pass started at 0 (a
// new pass is then due); a "day" outside Day's range is no day; text without "done" (written
// before it existed) is an unfinished pass.
PassState ParsePass(const std::string& text);
std::string FormatPass(const PassState& pass);

// The processed versions of the grace window as the sidecar keeps them: [[updatedAt ms, "id"],
// ...]. More than kMaxPersistedVersions, or none, are kept as "" (after a restart they all count
// as new, which is harmless, only slower).
inline constexpr size_t kMaxPersistedVersions = 5000;
std::string FormatGraceWindow(const std::vector<Cursor>& seen);
// Sorted and unique. Anything unreadable is an empty set (harmless, as above).
std::vector<Cursor> ParseGraceWindow(const std::string& text);

// Where the poll starts: the checkpoint's cursor, or on a first run (or a deleted watermark)
// (now - INITIAL_LOOKBACK_DAYS, lowest id).
Cursor StartCursor(const CheckpointState& state, const EngineOptions& options, Instant now);

// Where the grace re-read starts (exclusive): watermark - LATE_DATA_GRACE_SECONDS; none without
// a watermark file.
std::optional<Instant> GraceWindowFrom(const CheckpointState& state, const EngineOptions& options);

// What the poll found, as the pass decision needs it.
struct PollSummary {
  int64_t changed = 0;        // versions read after the cursor (MAX_BATCH_DOCS at most)
  size_t affected_users = 0;  // distinct users of the changed and the new late versions
};

enum class PassAction {
  kNone,   // no pass this batch: the affected users alone
  kDefer,  // a backlog: nobody is computed, the pass is (kept) scheduled
  kRun,    // the pass runs (a slice of it) with the affected users
};

struct PassDecision {
  PassAction action = PassAction::kNone;
  PassState pass;  // what the sidecar will hold (before this batch's progress)
};

// Decides the batch's pass:
//  - kDefer when the batch is full (more is pending) and a pass is due (daily, reconcile) or
//    scheduled without progress, unless the scheduled one has waited kMaxBacklogDeferMs:
//    computing now would recompute every user, and again those of each later batch of the
//    backlog, while a pass that begins after the backlog's last change read covers every user
//    affected so far, once. Whatever the number of users the batch affects: a pass recomputes
//    everyone anyway (issue 15: a first run of 978 users, below the old threshold of
//    USERS_PER_CHUNK, read every user twice). `pass` is the scheduled pass (a new one when none
//    was).
//  - kRun when the day changed (the first batch included), the reconcile interval passed, or
//    today's pass is unfinished: `pass` is the one to resume, or a new one.
//  - kNone otherwise: `pass` is the loaded one, unchanged.
PassDecision DecidePass(const CheckpointState& state, const PollSummary& poll,
                        const EngineOptions& options, Instant now);

// The pass whose beginning (its user list, and the expired sweep where there is no TTL index)
// the plan may start beside the poll, before the poll says whether the batch is full: the pass
// DecidePass runs for a batch that is not full, unless the loaded pass is scheduled without
// progress (a backlog is draining: this batch is likely full too, and would defer it). The
// caller also skips it when the list is already in memory. A full batch then discards the list
// it read, at most once per pass: a deferral leaves the pass scheduled.
std::optional<PassState> PassToBeginEarly(const CheckpointState& state,
                                          const EngineOptions& options, Instant now);
// The part of the pass's user list this batch recomputes: after `pass.after`, all of it when
// `finish` (once), else at most RECOMPUTE_USERS_PER_BATCH. `list` is sorted.
struct PassSlice {
  size_t begin = 0;
  size_t count = 0;
  bool completes_pass = true;  // nothing of the list is left after the slice
};
PassSlice SliceOfPass(std::span<const ObjectId> list, const PassState& pass, bool finish,
                      size_t users_per_batch);

// One version read by the poll: its position and user (MAX_BATCH_DOCS of them are held at once).
struct PolledVersion {
  Cursor at;
  std::optional<ObjectId> user;
};

// The versions the next grace window can hold, sorted and unique: the next window starts at
// WatermarkFor(next cursor, now) - grace, so of the versions already seen those after that
// horizon, and this batch's (changed and late) after it.
std::vector<Cursor> NextGraceWindow(const std::vector<Cursor>& seen,
                                    const std::deque<PolledVersion>& changed,
                                    const std::deque<PolledVersion>& late,
                                    const Cursor& next_cursor, const EngineOptions& options,
                                    Instant now);

}  // namespace ha
