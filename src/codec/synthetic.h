// Deterministic, realistic synthetic `users` and `healthmetrics` documents (`seed`).
#pragma once

#include <bson/bson.h>

#include <cstdint>

#include "core/time.h"

namespace ha {

struct SeedOptions {
  int users = 100;    // number of users, >= 0
  int days = 90;      // days of data per user, ending on the UTC day of `now`, >= 0
  uint64_t seed = 1;  // the same seed, users, days and now give byte-identical documents
  Instant now = 0;    // the clock: no createdAt/updatedAt after it
};

// Receives the generated documents. Each document is valid only during the call.
class SeedSink {
 public:
  virtual ~SeedSink() = default;
  virtual void OnUser(const bson_t* user) = 0;
  virtual void OnMetric(const bson_t* metric) = 0;
};

// Calls sink->OnUser once per user (in user order) and, after each user, sink->OnMetric once per
// healthmetrics document of that user (ascending by date), so that a caller can stream or
// bulk-insert without holding everything in memory. Users: _id, name, email, goals (absent for
// some users, partial or odd for others: a string, a zero, a negative, a null), createdAt,
// updatedAt, __v. About 2% of users never log anything. Healthmetrics: _id, userId, date
// (midnight UTC), metrics {steps, distance, calories, activeMinutes, heartPoints, weight,
// sleepHours, hydration} with a weekly rhythm, missing days (and a few multi-day breaks),
// missing and null fields, activity zeros, spikes, a slow weight drift and about 1% invalid
// values (a string, a NaN, an out-of-range value, a wearable heartRate); numbers typed as the
// upstream Node.js app stores them (int32 when whole, else double); source
// (googlefit/manual/import), createdAt, updatedAt (a write time on the day or, for edits,
// later, never after `now`), __v. Deterministic: the same options give the same documents on
// every platform (a fixed PRNG and plain arithmetic only).
void GenerateSeedData(const SeedOptions& options, SeedSink* sink);

}  // namespace ha
