// The plan step: from the checkpoint as loaded, poll the changes and the grace window,
// dead-letter the invalid fields of the polled versions, and decide the batch's users (the
// affected users, the due slice of the full recompute pass, or none for a deferred backlog),
// the next cursor and the grace-window versions the commit will save. The decisions are the
// pure functions of decide.h; this file does the I/O around them.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "core/cursor.h"
#include "core/object_id.h"
#include "core/status.h"
#include "engine/batch_context.h"
#include "engine/batch_report.h"
#include "engine/decide.h"
#include "engine/listener.h"
#include "store/engine_store.h"

namespace ha {

// What the engine remembers from batch to batch in memory (the sidecar keeps what must survive
// a restart). Owned by the engine; the plan step reads and updates it, the commit step sets
// `seen_versions`. Not thread-safe: one batch at a time.
struct EngineMemory {
  // Versions (updatedAt, _id) already processed in the grace window, sorted and unique (a
  // vector: 24 bytes a version against a set's ~70, and a bulk-written batch can put all of its
  // MAX_BATCH_DOCS versions in the window). After a restart it is what the sidecar kept, or
  // empty, so the window is treated as new (harmless).
  std::vector<Cursor> seen_versions;
  std::optional<bool> has_ttl;  // whether the server has the TTL index, once asked
  // The users of the current full recompute pass, listed once per pass (sorted), and the start
  // of the pass they were listed for.
  std::vector<ObjectId> recompute_list;
  std::optional<Instant> recompute_list_started;
};

// A batch's plan: what process-users gets (the users, with the context) and what the commit
// saves.
struct BatchPlan {
  BatchContext context;
  CheckpointState checkpoint;  // as loaded

  // The users to process, sorted and distinct: the affected users merged with `slice`.
  std::vector<ObjectId> users;
  // The pass's users recomputed by this batch (sorted): a view of EngineMemory::recompute_list,
  // valid until the next plan.
  std::span<const ObjectId> slice;
  PassState pass;            // the pass as it stands before this batch's progress
  bool pass_active = false;  // the pass runs in this batch (its slice may be empty)
  bool pass_done = true;     // the slice finishes the pass

  Cursor next_cursor;                     // the last version read, or the start cursor
  std::vector<Cursor> next_grace_window;  // what EngineMemory::seen_versions becomes once committed

  int64_t records_processed = 0;  // versions read (after the cursor, and new ones in the window)
  bool full = false;              // MAX_BATCH_DOCS versions were read after the cursor
  int64_t deferred_users = 0;     // affected users left to the scheduled pass (a backlog)
  WorkCounts counts;              // the polled versions' dead letters
  BatchPhases phases;             // poll; the pass's list (read) and the expired sweep (write)
};

// Plans the batch `plan->context` (its batch id is taken from `state`) at the context's clock
// from `state` (CheckpointStore::Load, by the caller: an unreadable checkpoint must stop the
// engine, which is the caller's decision). `finish_recompute` takes the rest of the pass in
// this batch (`once`). Dead letters of the polled versions are written here (once per
// (doc_id, updatedAt, field): the sink remembers). Updates `memory` (the window's versions
// after an operator edit or a restart, the TTL answer, the pass's list). On failure returns the
// store's error and `plan` holds what was done so far (the poll's counts, phases, dead
// letters); nothing was written but dead letters and, where there is no TTL index, the expired
// analytics documents.
Status PlanBatch(const CheckpointState& state, bool finish_recompute, EngineStore& store,
                 DeadLetterSink& dead_letters, EngineMemory* memory, BatchPlan* plan);

}  // namespace ha
