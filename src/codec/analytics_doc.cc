#include "codec/analytics_doc.h"

#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "codec/ejson.h"
#include "core/version.h"

namespace ha {
namespace {

bool Put(bson_t* d, std::string_view key, double v) {
  return bson_append_double(d, key.data(), static_cast<int>(key.size()), v);
}
bool PutInt(bson_t* d, std::string_view key, int32_t v) {
  return bson_append_int32(d, key.data(), static_cast<int>(key.size()), v);
}
bool PutStr(bson_t* d, std::string_view key, std::string_view v) {
  return bson_append_utf8(d, key.data(), static_cast<int>(key.size()), v.data(),
                          static_cast<int>(v.size()));
}
bool PutDate(bson_t* d, std::string_view key, Instant v) {
  return bson_append_date_time(d, key.data(), static_cast<int>(key.size()), v);
}
bool PutBool(bson_t* d, std::string_view key, bool v) {
  return bson_append_bool(d, key.data(), static_cast<int>(key.size()), v);
}
bool PutNull(bson_t* d, std::string_view key) {
  return bson_append_null(d, key.data(), static_cast<int>(key.size()));
}

const std::string& SparkVersion() {
  static const std::string v = std::string("health-analytics ") + kVersion;
  return v;
}

void AppendAnalyticsSubdocument(bson_t* out, const MetricAnalytics& m, const RangeAnalytics& r,
                                Instant calculated_at) {
  bson_t a, child;
  BSON_APPEND_DOCUMENT_BEGIN(out, "analytics", &a);
  Put(&a, "rollingAverage", r.rolling_average);
  PutStr(&a, "trend", r.trend);
  Put(&a, "trendPercentage", r.trend_percentage);
  PutBool(&a, "anomalyDetected", r.anomaly_detected);
  if (r.anomaly_detected) {
    BSON_APPEND_DOCUMENT_BEGIN(&a, "anomalyDetails", &child);
    PutStr(&child, "severity", r.anomaly.severity);
    Put(&child, "actualValue", r.anomaly.actual_value);
    Put(&child, "expectedValue", r.anomaly.expected_value);
    Put(&child, "deviation", r.anomaly.deviation);
    PutStr(&child, "message", r.anomaly.message);
    PutDate(&child, "detectedAt", calculated_at);
    bson_append_document_end(&a, &child);
  }
  PutInt(&a, "streakDays", m.streak_days);
  PutInt(&a, "longestStreak", m.longest_streak);
  if (m.streak_start) {
    PutDate(&a, "streakStartDate", StartOf(*m.streak_start));
  } else {
    PutNull(&a, "streakStartDate");
  }
  Put(&a, "percentile", r.percentile);
  BSON_APPEND_DOCUMENT_BEGIN(&a, "comparisonToPrevious", &child);
  Put(&child, "absoluteChange", r.absolute_change);
  Put(&child, "percentageChange", r.percentage_change);
  if (r.is_improvement) {
    PutBool(&child, "isImprovement", *r.is_improvement);
  } else {
    PutNull(&child, "isImprovement");
  }
  bson_append_document_end(&a, &child);
  BSON_APPEND_DOCUMENT_BEGIN(&a, "statistics", &child);
  Put(&child, "standardDeviation", r.standard_deviation);
  Put(&child, "minValue", r.min_value);
  Put(&child, "maxValue", r.max_value);
  Put(&child, "medianValue", r.median_value);
  PutInt(&child, "dataPointsCount", r.data_points_count);
  Put(&child, "completenessPercentage", r.completeness_percentage);
  bson_append_document_end(&a, &child);
  bson_append_document_end(out, &a);
}

void AppendHistoricalData(bson_t* out, const RangeAnalytics& r) {
  bson_t array, point;
  BSON_APPEND_ARRAY_BEGIN(out, "historicalData", &array);
  uint32_t i = 0;
  for (const auto& [day, value] : r.historical) {
    char buf[16];
    const char* key;
    const size_t len = bson_uint32_to_string(i++, &key, buf, sizeof buf);
    bson_append_document_begin(&array, key, static_cast<int>(len), &point);
    PutDate(&point, "date", StartOf(day));
    Put(&point, "value", value);
    bson_append_document_end(&array, &point);
  }
  bson_append_array_end(out, &array);
}

uint64_t AppendFields(bson_t* out, const ObjectId& user, const MetricAnalytics& m, int range_index,
                      const WriteStamp& s, bool whole_document) {
  const RangeAnalytics& r = m.ranges[static_cast<size_t>(range_index)];
  bson_oid_t oid;
  std::memcpy(oid.bytes, user.bytes.data(), 12);
  BSON_APPEND_OID(out, "userId", &oid);
  PutStr(out, "metricType", MetricInfoOf(m.metric).name);
  PutStr(out, "timeRange", kRangeNames[static_cast<size_t>(range_index)]);
  AppendAnalyticsSubdocument(out, m, r, s.calculated_at);
  AppendHistoricalData(out, r);
  PutDate(out, "asOfDate", StartOf(m.as_of));
  PutDate(out, "calculatedAt", s.calculated_at);
  PutDate(out, "expiresAt",
          s.calculated_at + static_cast<Instant>(s.result_ttl_days) * kMillisPerDay);
  // Every covered field is in now (and only ours: `out` started without them).
  const uint64_t digest = DeterministicDigest(out);
  bson_t meta;
  BSON_APPEND_DOCUMENT_BEGIN(out, "metadata", &meta);
  PutStr(&meta, "sparkJobId", s.spark_job_id);
  PutInt(&meta, "processingDurationMs", s.processing_duration_ms);
  PutInt(&meta, "dataPointsProcessed", r.data_points_count);
  PutStr(&meta, "sparkVersion", SparkVersion());
  PutStr(&meta, "contentDigest", ContentDigestHex(digest));
  bson_append_document_end(out, &meta);
  if (whole_document) PutDate(out, "createdAt", s.calculated_at);
  PutDate(out, "updatedAt", s.calculated_at);
  if (whole_document) PutInt(out, "__v", 0);
  return digest;
}

// ---------------------------------------------------------------------------------------------
// Digest: FNV-1a over a canonical byte stream of (marker, key, type, value), finished with a
// 64-bit avalanche so that nearby inputs spread.

class Hasher {
 public:
  void Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001B3ULL;
    }
  }
  void U8(uint8_t v) { Bytes(&v, 1); }
  void U32(uint32_t v) { Bytes(&v, 4); }
  void U64(uint64_t v) { Bytes(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  uint64_t Finish() const {
    uint64_t x = h_;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    x ^= x >> 33;
    return x;
  }

 private:
  uint64_t h_ = 0xCBF29CE484222325ULL;
};

// Where a document sits: only analytics.anomalyDetails.detectedAt is left out of the digest.
enum class Level { kPlain, kAnalytics, kAnomalyDetails };

void HashValue(const bson_iter_t* it, Hasher* h, Level level);

void HashChildren(const bson_iter_t* it, Hasher* h, Level level) {
  bson_iter_t child;
  h->U8('{');
  if (bson_iter_recurse(it, &child)) {
    while (bson_iter_next(&child)) {
      const std::string_view key(bson_iter_key(&child), bson_iter_key_len(&child));
      if (level == Level::kAnomalyDetails && key == "detectedAt") continue;
      h->Str(key);
      HashValue(&child, h,
                level == Level::kAnalytics && key == "anomalyDetails" ? Level::kAnomalyDetails
                                                                      : Level::kPlain);
    }
  }
  h->U8('}');
}

void HashValue(const bson_iter_t* it, Hasher* h, Level level) {
  const bson_type_t type = bson_iter_type(it);
  h->U8(static_cast<uint8_t>(type));
  switch (type) {
    case BSON_TYPE_DOUBLE:
      h->U64(std::bit_cast<uint64_t>(bson_iter_double(it)));
      return;
    case BSON_TYPE_INT32:
      h->U32(static_cast<uint32_t>(bson_iter_int32(it)));
      return;
    case BSON_TYPE_INT64:
      h->U64(static_cast<uint64_t>(bson_iter_int64(it)));
      return;
    case BSON_TYPE_DATE_TIME:
      h->U64(static_cast<uint64_t>(bson_iter_date_time(it)));
      return;
    case BSON_TYPE_BOOL:
      h->U8(bson_iter_bool(it) ? 1 : 0);
      return;
    case BSON_TYPE_NULL:
      return;
    case BSON_TYPE_OID:
      h->Bytes(bson_iter_oid(it)->bytes, 12);
      return;
    case BSON_TYPE_UTF8: {
      uint32_t len;
      const char* s = bson_iter_utf8(it, &len);
      h->Str(std::string_view(s, len));
      return;
    }
    case BSON_TYPE_DOCUMENT:
      HashChildren(it, h, level);
      return;
    case BSON_TYPE_ARRAY:
      HashChildren(it, h, Level::kPlain);
      return;
    default:
      // Types an analytics document never holds: their Extended JSON is canonical enough.
      h->Str(ValueToRelaxedJson(it));
      return;
  }
}

}  // namespace

uint64_t AppendAnalyticsFields(bson_t* out, const ObjectId& user, const MetricAnalytics& m,
                               int range_index, const WriteStamp& s) {
  return AppendFields(out, user, m, range_index, s, false);
}

uint64_t AppendAnalyticsDocument(bson_t* out, const ObjectId& user, const MetricAnalytics& m,
                                 int range_index, const WriteStamp& s) {
  return AppendFields(out, user, m, range_index, s, true);
}

std::string ContentDigestHex(uint64_t digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, digest >>= 4) out[static_cast<size_t>(i)] = kHex[digest & 0xF];
  return out;
}

std::optional<uint64_t> StoredContentDigest(const bson_t* analytics_doc) {
  bson_iter_t it, found;
  if (!bson_iter_init(&it, analytics_doc) ||
      !bson_iter_find_descendant(&it, "metadata.contentDigest", &found) ||
      !BSON_ITER_HOLDS_UTF8(&found))
    return std::nullopt;
  uint32_t len;
  const char* text = bson_iter_utf8(&found, &len);
  if (len != 16) return std::nullopt;
  uint64_t v = 0;
  for (uint32_t i = 0; i < len; ++i) {
    const char c = text[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

BsonDoc EncodeAnalyticsDocument(const ObjectId& user, const MetricAnalytics& m, int range_index,
                                const WriteStamp& s) {
  BsonDoc doc;
  AppendAnalyticsDocument(doc.get(), user, m, range_index, s);
  return doc;
}

uint64_t DeterministicDigest(const bson_t* analytics_doc) {
  static constexpr std::string_view kCovered[] = {"userId",    "metricType",     "timeRange",
                                                  "analytics", "historicalData", "asOfDate"};
  Hasher h;
  for (std::string_view name : kCovered) {
    bson_iter_t it;
    h.Str(name);
    bool found = false;
    if (bson_iter_init(&it, analytics_doc)) {
      while (bson_iter_next(&it)) {
        if (bson_iter_key_len(&it) == name.size() &&
            std::memcmp(bson_iter_key(&it), name.data(), name.size()) == 0) {
          found = true;
          break;
        }
      }
    }
    if (!found) {
      h.U8(0);  // absent differs from every type (BSON types are >= 1)
      continue;
    }
    HashValue(&it, &h, name == "analytics" ? Level::kAnalytics : Level::kPlain);
  }
  return h.Finish();
}

}  // namespace ha
