// Decoding one `healthmetrics` document into what the kernel needs (its user, UTC day,
// (updatedAt, _id) rank and the valid observations: docs/ANALYTICS.md, "Which days count"),
// collecting every invalid field for the dead-letter log (docs/OPERATIONS.md, Observability).
#pragma once

#include <bson/bson.h>

#include <optional>
#include <string>
#include <vector>

#include "analytics/kernel.h"
#include "core/object_id.h"
#include "core/time.h"

namespace ha {

// One invalid field of a document.
struct FieldIssue {
  std::string field;   // "metrics.steps", "metrics", "date" or "userId"
  std::string reason;  // "type", "non-finite", "range", "wearable"; "missing" for a missing date
  std::string value_json;  // the value in relaxed Extended JSON: "abc" (quoted), 150000,
                           // {"$numberDouble":"NaN"}; "null" for a missing or null date
};

struct DecodedHealthMetric {
  // userId is missing or null: such documents are never read. Nothing else below is meaningful
  // except doc_id, and nothing is to be dead-lettered.
  bool skip = false;
  // userId is an ObjectId and date is a BSON Date: the document takes part (record is filled).
  // When false (and !skip), `issues` holds the offending userId and/or date and metrics were
  // not examined (the document does not take part at all).
  bool usable = false;
  // `_id` / `userId` as 24 lowercase hex digits when an ObjectId; otherwise the value as found:
  // a string's own characters, or the relaxed Extended JSON of any other type; "" when missing.
  std::string doc_id;
  std::string user_id;
  bool id_is_object_id = false;       // `_id` is an ObjectId (then record.id holds it)
  ObjectId user;                      // meaningful when usable
  std::optional<Instant> updated_at;  // `updatedAt` when a Date, else nullopt (no issue)
  DayRecord record;                   // meaningful when usable; id is zero if _id is no ObjectId
  std::vector<FieldIssue> issues;     // in document order: userId, date, then metrics fields
};

// Decodes `doc` into `*out`, reusing out's buffers (no allocation per document beyond issues).
//
// - `metrics.<name>` for the eight metrics: an int32, int64 or double is classified by
//   ClassifyValue (observation, zero-no-data, `non-finite`, `range`); null or missing is no
//   observation and no issue; any other BSON type (string, bool, Decimal128, object, array,
//   Date, ...) is an issue with reason `type`. If a key repeats, the first occurrence counts.
// - `metrics.heartRate|oxygenSaturation|bloodOxygen` present and not null: reason `wearable`
//   (a null wearable field is how some writers spell "absent" and is not reported).
// - `metrics` present, not null and not a document: one issue, field `metrics`, reason `type`.
// - `date` missing or null: field `date`, reason `missing`; any other non-Date: reason `type`.
// - `userId` not an ObjectId (and not null/missing): field `userId`, reason `type`.
// Other fields (`source`, `createdAt`, unknown keys under `metrics`, ...) are ignored.
// Never fails: every outcome is described by skip / usable / issues.
void DecodeHealthMetric(const bson_t* doc, const AnalyticsOptions& options,
                        DecodedHealthMetric* out);

}  // namespace ha
