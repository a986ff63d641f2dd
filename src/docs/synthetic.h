// Deterministic, realistic synthetic `users` and `healthmetrics` documents (`seed`).
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <functional>

#include "core/time.h"

namespace ha {

struct SeedOptions {
  int users = 100;    // number of users, >= 0
  int days = 90;      // days of data per user, ending on the UTC day of `now`, >= 0
  uint64_t seed = 1;  // the same seed, users, days and now give byte-identical documents
  Instant now = 0;    // the clock: no createdAt/updatedAt after it
};

// Calls on_user once per user (in user order) and, after each user, on_metric once per
// healthmetrics document of that user (ascending by date). The documents are only valid during
// the call. Users: _id, name, email, goals (absent for some users, partial or odd for others:
// a string, a zero, a negative), createdAt, updatedAt, __v. Healthmetrics: _id, userId, date
// (midnight UTC), metrics {steps, distance, calories, activeMinutes, heartPoints, weight,
// sleepHours, hydration} with a weekly rhythm, missing days and fields, activity zeros, spikes,
// a slow weight drift and a few invalid values (a string, a NaN, an out-of-range value, a
// wearable heartRate), source (googlefit/manual/import), createdAt, updatedAt (a write time
// on or after the day, never after `now`), __v. Deterministic: the same options give the same
// documents on every platform (a fixed PRNG and plain arithmetic only).
void GenerateSeedData(const SeedOptions& options,
                      const std::function<void(const bson_t* user)>& on_user,
                      const std::function<void(const bson_t* metric)>& on_metric);

}  // namespace ha
