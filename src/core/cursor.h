// A position in the (updatedAt, _id) order of the source collection.
#pragma once

#include <compare>

#include "core/object_id.h"
#include "core/time.h"

namespace ha {

// The last document a batch processed. The next batch reads the documents strictly after it.
// With id == ObjectId::Min() it means "everything with updatedAt >= updated_at" (drivers never
// generate the all-zero _id).
struct Cursor {
  Instant updated_at = 0;
  ObjectId id;

  auto operator<=>(const Cursor&) const = default;
  bool operator==(const Cursor&) const = default;
};

}  // namespace ha
