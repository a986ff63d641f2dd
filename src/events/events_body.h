// The JSON of backend events (docs/OPERATIONS.md, Backend events): plain JSON as Mongoose's
// `toJSON` followed by JSON.stringify would write it, never Extended JSON wrappers.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/object_id.h"
#include "core/time.h"
#include "engine/listener.h"

namespace ha {

// `doc` as compact plain JSON, keys in the document's order: Dates as ISO-8601 UTC strings with
// milliseconds ("2025-11-20T10:00:45.123Z"), ObjectIds as 24 lowercase hex digits, int32 and
// int64 as JSON integers, doubles as JSON numbers in shortest round-trip form (8000.0 as 8000,
// as JSON.stringify writes it), non-finite doubles as null (likewise), null, booleans, strings
// (escaped; invalid UTF-8 as U+FFFD), documents and arrays recursively. Types an analytics
// document never holds (binary, regex, decimal128, ...) become null.
std::string PlainJson(const bson_t* doc);

// Appends PlainJson(doc) to *out.
void AppendPlainJson(const bson_t* doc, std::string* out);

// One element of `data.analytics`, serialized: {"metricType", "timeRange", "analytics": the
// change's `analytics` subdocument as PlainJson ({} when absent), "operationType": "insert" or
// "update", "calculatedAt": ISO-8601 of `calculated_at`}.
std::string EventItemJson(const AnalyticsChange& change, Instant calculated_at);

// The request body of one event, serialized: {"userId", "eventType": "analytics:batch_update",
// "data": {"analytics": [items...], "count": items.size(), "batchIndex", "totalBatches",
// "documentId", "timestamp": epoch ms (a JSON integer, not a date string), "isBatch": true,
// "userId": the same 24 hex digits}}. `items` are EventItemJson strings, copied verbatim.
std::string EventBodyJson(const ObjectId& user, std::span<const std::string> items, int batch_index,
                          int total_batches, std::string_view document_id, Instant timestamp);

}  // namespace ha
