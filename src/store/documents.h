// Reading the store's documents, shared by MongoStore and MemoryStore so that both decode a
// version or an analytics key the same way.
#pragma once

#include <bson/bson.h>

#include "analytics/kernel.h"
#include "core/object_id.h"
#include "store/engine_store.h"

namespace ha {

bson_oid_t ToOid(const ObjectId& id);
ObjectId FromOid(const bson_oid_t* oid);

// A polled source version: false (skip it) when _id is not an ObjectId or updatedAt not a
// Date; otherwise `out` holds the position, the user (when userId is an ObjectId) and the
// decoded fields with their issues.
bool DecodeChangedVersion(const bson_t* doc, const AnalyticsOptions& options, ChangedVersion* out);

// An analytics document's key and digest: false (not one of ours: left alone) unless _id and
// userId are ObjectIds and metricType and timeRange are names the engine writes.
bool DecodeExistingAnalytics(const bson_t* doc, ExistingAnalytics* out);

}  // namespace ha
