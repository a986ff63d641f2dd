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

// Recomputes `users` (distinct) at the context's clock in units of READ_USERS_PER_QUERY users,
// IO_CONCURRENCY units at a time (each on its own thread and, with a MongoStore, its own pooled
// connection), so that one unit's reads and writes overlap another's. A unit is one read each of
// its users' goals, history in the horizon and analytics keys (with their content digests); then
// the kernel on WORKER_THREADS threads; then one unordered write of what changed: updates where
// the content digest differs, inserts for new keys, deletes of duplicates and of metrics with no
// data left. Memory holds at most IO_CONCURRENCY units. A user whose writes are refused is retried
// alone (from a fresh read of its keys) up to write_attempts times, then dead-lettered
// `write-failed` and skipped, so the others progress; metrics whose history overflowed are
// dead-lettered `overflow`. `listener` (may be null) hears OnUserChanged for each user whose
// acknowledged writes changed something visible.
//
// Idempotent: the analytics are recomputed from the history, so a repeated call writes nothing
// new. Adds to `*done` (also the time of a failed unit; with several workers the phases are
// summed over them, so they can add up to more than the call's wall time). Returns the first
// error that stops it (a worker that fails stops the others from taking new units; units in
// flight finish): kUnavailable from the store (nothing is dead-lettered for an outage), another
// store error of a read, or kFailedPrecondition when `*stop` became true before a write (nothing
// of that unit was written). Units already written stay written: a retry is harmless.
//
// Thread safety: keeps no state between calls. With IO_CONCURRENCY > 1 it calls `store` from
// several threads at once (MongoStore and MemoryStore allow it); `dead_letters` and `listener`
// are called from one thread at a time. Calls may run on several threads at once given each its
// own sinks.
Status ProcessUsers(const BatchContext& context, std::span<const ObjectId> users,
                    EngineStore& store, DeadLetterSink& dead_letters, ChangeListener* listener,
                    const std::atomic<bool>* stop, UsersProcessed* done);

}  // namespace ha
