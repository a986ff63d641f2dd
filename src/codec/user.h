// Decoding one `users` document: its id and its goals (users.goals; a missing or invalid goal
// falls back to the default, and the streak counts days that reach it: docs/ANALYTICS.md).
#pragma once

#include <bson/bson.h>

#include "analytics/kernel.h"
#include "core/object_id.h"

namespace ha {

// The goals of a users document: for each of `goals.stepGoal`, `goals.distanceGoal`,
// `goals.calorieGoal` and `goals.sleepGoal`, a positive finite int32, int64 or double overrides
// the default (DefaultGoals()); anything else (missing, null, 0, negative, NaN, a string, ...)
// keeps the default, as does a missing or non-document `goals`. Never fails.
Goals DecodeGoals(const bson_t* user_doc);

// Reads `_id` into *id and the goals into *goals. Returns false (and leaves *id untouched)
// when `_id` is missing or not an ObjectId: such a user can never match a healthmetrics
// userId. *goals is filled either way.
bool DecodeUser(const bson_t* user_doc, ObjectId* id, Goals* goals);

}  // namespace ha
