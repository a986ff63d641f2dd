#include "codec/healthmetric.h"

#include <algorithm>
#include <cstring>

#include "analytics/metrics.h"
#include "codec/ejson.h"

namespace ha {
namespace {

// Dates millions of years away are still Dates (usable, then ignored as future or outside the
// horizon); clamping keeps DayOf within int32 days and away from int64 overflow.
Instant ClampToDayRange(Instant t) {
  constexpr Instant kLimit = StartOf(Day{1} << 30);
  return std::clamp(t, -kLimit, kLimit);
}

void CopyOid(const bson_iter_t* it, ObjectId* id) {
  std::memcpy(id->bytes.data(), bson_iter_oid(it)->bytes, 12);
}

// An id field as the dead-letter log shows it: 24 hex digits for an ObjectId, a string's own
// characters, otherwise the relaxed Extended JSON of the value.
void DescribeId(const bson_iter_t* it, std::string* out) {
  out->clear();
  switch (bson_iter_type(it)) {
    case BSON_TYPE_OID: {
      char hex[25];
      bson_oid_to_string(bson_iter_oid(it), hex);
      out->append(hex, 24);
      return;
    }
    case BSON_TYPE_UTF8: {
      uint32_t len;
      const char* s = bson_iter_utf8(it, &len);
      out->append(s, len);
      return;
    }
    default:
      AppendValueRelaxedJson(it, out);
  }
}

void AddIssue(std::vector<FieldIssue>* issues, std::string_view prefix, std::string_view field,
              std::string_view reason, const bson_iter_t* value) {
  FieldIssue& issue = issues->emplace_back();
  issue.field.reserve(prefix.size() + field.size());
  issue.field.append(prefix).append(field);
  issue.reason = reason;
  if (value != nullptr) {
    AppendValueRelaxedJson(value, &issue.value_json);
  } else {
    issue.value_json = "null";
  }
}

// Which analysed metric (0..7) or wearable field (kMetricCount + 0..2) a key under `metrics`
// names; -1 for anything else.
int MetricSlot(const bson_iter_t* it) {
  const char* key = bson_iter_key(it);
  const uint32_t len = bson_iter_key_len(it);
  const std::string_view k(key, len);
  for (const MetricInfo& info : kMetricInfo)
    if (info.name == k) return static_cast<int>(info.metric);
  for (size_t i = 0; i < kWearableFields.size(); ++i)
    if (kWearableFields[i] == k) return kMetricCount + static_cast<int>(i);
  return -1;
}

void DecodeMetrics(const bson_iter_t* metrics, const AnalyticsOptions& options,
                   DecodedHealthMetric* out) {
  bson_iter_t it;
  if (!bson_iter_recurse(metrics, &it)) return;
  uint32_t seen = 0;  // bit per slot: later repeats of a key are ignored
  while (bson_iter_next(&it)) {
    const int slot = MetricSlot(&it);
    if (slot < 0 || (seen >> slot & 1u) != 0) continue;
    seen |= 1u << slot;
    const bson_type_t type = bson_iter_type(&it);
    if (slot >= kMetricCount) {
      if (type != BSON_TYPE_NULL) {
        AddIssue(&out->issues, "metrics.",
                 kWearableFields[static_cast<size_t>(slot - kMetricCount)], "wearable", &it);
      }
      continue;
    }
    const auto metric = static_cast<Metric>(slot);
    double value;
    switch (type) {
      case BSON_TYPE_INT32:
        value = bson_iter_int32(&it);
        break;
      case BSON_TYPE_INT64:
        value = static_cast<double>(bson_iter_int64(&it));
        break;
      case BSON_TYPE_DOUBLE:
        value = bson_iter_double(&it);
        break;
      case BSON_TYPE_NULL:
        continue;
      default:
        AddIssue(&out->issues, "metrics.", MetricInfoOf(metric).name, "type", &it);
        continue;
    }
    switch (ClassifyValue(metric, value, options)) {
      case ValueClass::kObservation:
        out->record.observed = static_cast<uint8_t>(out->record.observed | 1u << slot);
        out->record.value[static_cast<size_t>(slot)] = value;
        break;
      case ValueClass::kNoData:
        break;
      case ValueClass::kNonFinite:
        AddIssue(&out->issues, "metrics.", MetricInfoOf(metric).name, "non-finite", &it);
        break;
      case ValueClass::kOutOfRange:
        AddIssue(&out->issues, "metrics.", MetricInfoOf(metric).name, "range", &it);
        break;
    }
  }
}

}  // namespace

void DecodeHealthMetric(const bson_t* doc, const AnalyticsOptions& options,
                        DecodedHealthMetric* out) {
  out->skip = false;
  out->usable = false;
  out->doc_id.clear();
  out->user_id.clear();
  out->id_is_object_id = false;
  out->user = ObjectId{};
  out->updated_at.reset();
  out->record = DayRecord{};
  out->issues.clear();

  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) {
    out->skip = true;
    return;
  }
  // One pass over the top level; the first occurrence of a key counts.
  bson_iter_t user_it, date_it, metrics_it;
  bool has_id = false, has_user = false, has_date = false, has_metrics = false, has_updated = false;
  while (bson_iter_next(&it)) {
    const uint32_t len = bson_iter_key_len(&it);
    const char* key = bson_iter_key(&it);
    switch (len) {
      case 3:
        if (!has_id && std::memcmp(key, "_id", 3) == 0) {
          has_id = true;
          DescribeId(&it, &out->doc_id);
          if (BSON_ITER_HOLDS_OID(&it)) {
            CopyOid(&it, &out->record.id);
            out->id_is_object_id = true;
          }
        }
        break;
      case 4:
        if (!has_date && std::memcmp(key, "date", 4) == 0) {
          has_date = true;
          date_it = it;
        }
        break;
      case 6:
        if (!has_user && std::memcmp(key, "userId", 6) == 0) {
          has_user = true;
          user_it = it;
        }
        break;
      case 7:
        if (!has_metrics && std::memcmp(key, "metrics", 7) == 0) {
          has_metrics = true;
          metrics_it = it;
        }
        break;
      case 9:
        if (!has_updated && std::memcmp(key, "updatedAt", 9) == 0) {
          has_updated = true;
          if (BSON_ITER_HOLDS_DATE_TIME(&it)) out->updated_at = bson_iter_date_time(&it);
        }
        break;
      default:
        break;
    }
  }
  out->record.updated_at = out->updated_at;

  if (!has_user || BSON_ITER_HOLDS_NULL(&user_it)) {
    out->skip = true;
    return;
  }
  DescribeId(&user_it, &out->user_id);
  bool usable = true;
  if (BSON_ITER_HOLDS_OID(&user_it)) {
    CopyOid(&user_it, &out->user);
  } else {
    AddIssue(&out->issues, "", "userId", "type", &user_it);
    usable = false;
  }
  if (!has_date || BSON_ITER_HOLDS_NULL(&date_it)) {
    AddIssue(&out->issues, "", "date", "missing", nullptr);
    usable = false;
  } else if (!BSON_ITER_HOLDS_DATE_TIME(&date_it)) {
    AddIssue(&out->issues, "", "date", "type", &date_it);
    usable = false;
  } else {
    out->record.day = DayOf(ClampToDayRange(bson_iter_date_time(&date_it)));
  }
  out->usable = usable;
  if (!usable || !has_metrics || BSON_ITER_HOLDS_NULL(&metrics_it)) return;
  if (!BSON_ITER_HOLDS_DOCUMENT(&metrics_it)) {
    AddIssue(&out->issues, "", "metrics", "type", &metrics_it);
    return;
  }
  DecodeMetrics(&metrics_it, options, out);
}

}  // namespace ha
