// What a batch did: the engine's result, which the batch log, the console line and /metrics show
// (docs/OPERATIONS.md, "Observability"). Observers (batch log, metrics,
// status page, console) read it; the engine never depends on them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "store/engine_store.h"

namespace ha {

// What was done to users and their analytics documents: the one counter type of the engine's
// results (a user's plan, a chunk, a batch, a session).
struct WorkCounts {
  int64_t users = 0;         // users whose analytics were recomputed
  int64_t computed = 0;      // analytics documents computed (user x metric x range)
  int64_t inserted = 0;      // of which inserted (new keys)
  int64_t updated = 0;       // updated (content changed)
  int64_t deleted = 0;       // documents deleted (duplicates of a key, metrics with no data left)
  int64_t unchanged = 0;     // computed but equal to the stored document: not written
  int64_t dead_letters = 0;  // dead letters written (field issues, overflow, write-failed)

  int64_t written() const { return inserted + updated + deleted; }
  WorkCounts& operator+=(const WorkCounts& o) {
    users += o.users;
    computed += o.computed;
    inserted += o.inserted;
    updated += o.updated;
    deleted += o.deleted;
    unchanged += o.unchanged;
    dead_letters += o.dead_letters;
    return *this;
  }
  friend bool operator==(const WorkCounts&, const WorkCounts&) = default;
};

// Where a batch's wall time went, in microseconds (the rest: dead letters, the lock, the
// engine's own bookkeeping).
struct BatchPhases {
  int64_t poll_us = 0;     // the changed documents and the grace re-read (one query)
  int64_t read_us = 0;     // the recompute's user list; each chunk's goals, histories, analytics
  int64_t compute_us = 0;  // the analytics and the planned writes (WORKER_THREADS)
  int64_t write_us = 0;    // analytics writes; the expired-document sweep where there is no TTL
  int64_t commit_us = 0;   // the checkpoint commit and the recompute's progress saves

  // (name, microseconds), in the order the batch log and /metrics list them.
  std::array<std::pair<const char*, int64_t>, 5> Named() const {
    return {{{"poll", poll_us},
             {"read", read_us},
             {"compute", compute_us},
             {"write", write_us},
             {"commit", commit_us}}};
  }
  BatchPhases& operator+=(const BatchPhases& o) {
    poll_us += o.poll_us;
    read_us += o.read_us;
    compute_us += o.compute_us;
    write_us += o.write_us;
    commit_us += o.commit_us;
    return *this;
  }
};

// What one batch did.
struct BatchReport {
  using Phases = BatchPhases;

  int64_t batch_id = 0;
  Instant start_time = 0;         // wall clock
  Instant end_time = 0;           //
  Instant clock = 0;              // the batch clock (--now when frozen)
  int64_t records_processed = 0;  // versions read by the poll (cursor read + new grace versions)
  WorkCounts counts;              // users recomputed, documents computed and written, dead letters
  int64_t recompute_users = 0;    // users recomputed by the daily recompute (of counts.users)
  // Users affected by a full batch of a backlog and left to the scheduled pass.
  int64_t deferred_users = 0;
  BatchPhases phases;
  IoCounts io;  // commands sent and reply bytes read during the batch (MongoStore)
  std::optional<Instant> watermark_from;  // the watermark file before the batch (none: first run)
  // After the batch: what the batch wrote, or an operator's edit that won (none: no file, or
  // an edit the engine cannot read, which stops the next batch).
  std::optional<Instant> watermark_to;
  bool more_pending = false;  // the read hit MAX_BATCH_DOCS or the daily recompute is unfinished
  double next_interval_seconds = -1;  // the wait before the next batch (set by the loop; -1: none)
  bool failed = false;
  std::vector<std::string> errors;

  int64_t processing_time_ms() const { return end_time - start_time; }
};

}  // namespace ha
