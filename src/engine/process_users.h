// The process-users step: for any set of users, read their history, goals and existing
// analytics; compute; write what changed; dead-letter what cannot be written. The batch, the
// daily pass, `once` and `recompute` call it; another runner (a Spark executor) can call it
// with the context it was given (batch_context.h).
#pragma once

#include <atomic>
#include <span>

#include "core/object_id.h"
#include "core/status.h"
#include "engine/batch_context.h"
#include "engine/batch_report.h"
#include "engine/listener.h"
#include "store/engine_store.h"

namespace ha {

// What processing some users did, and where its time went (read, compute and write).
struct UsersProcessed {
  WorkCounts counts;
  BatchPhases time;
};

// Recomputes `users` (distinct) at the context's clock, USERS_PER_CHUNK at a time: one read of
// a chunk's goals, history in the horizon and analytics keys; then the kernel on WORKER_THREADS
// threads and one unordered write per slice of 128 users, with updates only where the visible
// content changed, inserts for new keys and deletes of duplicates and of metrics with no data
// left. A user whose writes are refused is retried alone (from a fresh read of its keys) up to
// write_attempts times, then dead-lettered `write-failed` and skipped, so the others progress;
// metrics whose history overflowed are dead-lettered `overflow`. `listener` (may be null) hears
// OnUserChanged for each user whose acknowledged writes changed something visible.
//
// Idempotent: the analytics are recomputed from the history, so a repeated call writes nothing
// new. Adds to `*done` (also the time of a failed chunk). Returns the first error that stops it:
// kUnavailable from the store (nothing is dead-lettered for an outage), another store error of
// a read, or kFailedPrecondition when `*stop` became true before a write (nothing of that slice
// was written). Users of earlier chunks or slices stay written: a retry is harmless.
//
// Thread safety: keeps no state between calls, so calls may run on any threads at once given
// each its own `store` (a MongoStore is one libmongoc client) and a `dead_letters` and
// `listener` that accept concurrent calls (the engine's own, observe/ and events/, are called
// from one thread at a time).
Status ProcessUsers(const BatchContext& context, std::span<const ObjectId> users,
                    EngineStore& store, DeadLetterSink& dead_letters, ChangeListener* listener,
                    const std::atomic<bool>* stop, UsersProcessed* done);

}  // namespace ha
