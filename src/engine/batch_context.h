// What every step of a batch needs to know beyond its inputs: the engine's options and the
// batch's identity and clock. A plain struct with a JSON round trip, so that a step can run in
// another process (a Spark executor receives the context with its users).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analytics/kernel.h"
#include "core/status.h"
#include "core/time.h"

namespace ha {

// Every engine knob, with its default next to it.
struct EngineOptions {
  AnalyticsOptions analytics;
  int initial_lookback_days = 30;       // INITIAL_LOOKBACK_DAYS
  int64_t late_data_grace_ms = 10'000;  // LATE_DATA_GRACE_SECONDS
  int max_batch_docs = 100'000;         // MAX_BATCH_DOCS
  int result_ttl_days = 90;             // RESULT_TTL_DAYS
  int worker_threads = 1;               // WORKER_THREADS
  size_t users_per_chunk = 1000;        // affected users processed together
  // READ_USERS_PER_QUERY: user ids per read of a chunk's history, goals and analytics keys. A
  // server answers one `$in` of a thousand ids several times slower than eight of 128.
  size_t read_users_per_query = 128;
  // IO_CONCURRENCY: units of read_users_per_query users in flight at once (read, compute, write),
  // each on its own pooled connection.
  int io_concurrency = 2;
  int write_attempts = 3;  // per user, before dead-lettering `write-failed`
  // Daily-recompute users handled per batch of `run` before the normal batch (interleaving).
  size_t recompute_users_per_batch = 5000;
  // RECONCILE_INTERVAL_HOURS: a full recompute also when the last one started this long ago
  // (0: only the daily one). Picks up deletions sooner where they are frequent.
  int64_t reconcile_interval_ms = 24 * 3'600'000LL;
};

// The batch a step works for.
struct BatchContext {
  int64_t batch_id = 0;  // the analytics' metadata.sparkJobId and the dead letters' batch_id
  Instant clock = 0;     // the batch clock: today, calculatedAt (`--now` when frozen)
  EngineOptions options;
};

// {"batch_id": n, "clock": ms, "options": {...every EngineOptions field by its name, with
// "analytics": {...}}}. Never fails.
std::string BatchContextToJson(const BatchContext& context);

// The inverse of BatchContextToJson. "batch_id" and "clock" are required; an option that is
// absent keeps its default. kInvalidArgument naming the field for text that is not a JSON
// object, a missing required field, or a field of the wrong type or out of range.
Result<BatchContext> BatchContextFromJson(std::string_view json);

}  // namespace ha
