#include "store/documents.h"

#include <algorithm>

#include "codec/analytics_doc.h"

namespace ha {

bson_oid_t ToOid(const ObjectId& id) {
  bson_oid_t oid{};
  std::copy(id.bytes.begin(), id.bytes.end(), oid.bytes);
  return oid;
}

ObjectId FromOid(const bson_oid_t* oid) {
  ObjectId id;
  std::copy(oid->bytes, oid->bytes + 12, id.bytes.begin());
  return id;
}

bool DecodeChangedVersion(const bson_t* doc, const AnalyticsOptions& options, ChangedVersion* out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return false;
  out->id = FromOid(bson_iter_oid(&it));
  if (!bson_iter_init_find(&it, doc, "updatedAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) return false;
  out->updated_at = bson_iter_date_time(&it);
  if (bson_iter_init_find(&it, doc, "userId") && BSON_ITER_HOLDS_OID(&it))
    out->user = FromOid(bson_iter_oid(&it));
  DecodeHealthMetric(doc, options, &out->decoded);
  return true;
}

bool DecodeExistingAnalytics(const bson_t* doc, ExistingAnalytics* out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return false;
  out->id = FromOid(bson_iter_oid(&it));
  if (!bson_iter_init_find(&it, doc, "userId") || !BSON_ITER_HOLDS_OID(&it)) return false;
  out->user = FromOid(bson_iter_oid(&it));
  if (!bson_iter_init_find(&it, doc, "metricType") || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  auto metric = MetricFromName(bson_iter_utf8(&it, nullptr));
  if (!bson_iter_init_find(&it, doc, "timeRange") || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  auto range = RangeFromName(bson_iter_utf8(&it, nullptr));
  if (!metric || !range) return false;
  out->metric = *metric;
  out->range = *range;
  out->digest = StoredContentDigest(doc);
  return true;
}

}  // namespace ha
