#include "observe/events_body.h"

#include <cmath>
#include <cstring>

#include "docs/ejson.h"

namespace ha {
namespace {

using Json = nlohmann::ordered_json;

Json ChildrenJson(const bson_iter_t* it, bool array);

Json ValueJson(const bson_iter_t* it) {
  switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE: {
      const double v = bson_iter_double(it);
      return std::isfinite(v) ? Json(v) : Json(nullptr);
    }
    case BSON_TYPE_INT32:
      return Json(bson_iter_int32(it));
    case BSON_TYPE_INT64:
      return Json(bson_iter_int64(it));
    case BSON_TYPE_BOOL:
      return Json(bson_iter_bool(it));
    case BSON_TYPE_UTF8: {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(it, &len);
      return Json(std::string(s, len));
    }
    case BSON_TYPE_DATE_TIME:
      return Json(FormatInstant(bson_iter_date_time(it)));
    case BSON_TYPE_OID: {
      ObjectId id;
      std::memcpy(id.bytes.data(), bson_iter_oid(it)->bytes, 12);
      return Json(id.ToHex());
    }
    case BSON_TYPE_DOCUMENT:
      return ChildrenJson(it, false);
    case BSON_TYPE_ARRAY:
      return ChildrenJson(it, true);
    default:  // null, and types an analytics document never holds
      return Json(nullptr);
  }
}

Json ChildrenJson(const bson_iter_t* it, bool array) {
  Json out = array ? Json::array() : Json::object();
  bson_iter_t child;
  if (!bson_iter_recurse(it, &child)) return out;
  while (bson_iter_next(&child)) {
    if (array) {
      out.push_back(ValueJson(&child));
    } else {
      out[std::string(bson_iter_key(&child), bson_iter_key_len(&child))] = ValueJson(&child);
    }
  }
  return out;
}

std::string Dump(const Json& j) {
  // Strings in analytics documents are ASCII; replace rather than throw should one not be UTF-8.
  return j.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
}

}  // namespace

nlohmann::ordered_json PlainJson(const bson_t* doc) {
  Json out = Json::object();
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return out;
  while (bson_iter_next(&it))
    out[std::string(bson_iter_key(&it), bson_iter_key_len(&it))] = ValueJson(&it);
  return out;
}

std::string EventItemJson(const AnalyticsChange& change, Instant calculated_at) {
  Json item = Json::object();
  item["metricType"] = std::string(InfoOf(change.metric).name);
  item["timeRange"] = std::string(kRangeNames[static_cast<size_t>(change.range)]);
  Json analytics = Json::object();
  bson_iter_t it;
  if (change.fields.get() != nullptr &&
      bson_iter_init_find(&it, change.fields.get(), "analytics") && BSON_ITER_HOLDS_DOCUMENT(&it))
    analytics = ChildrenJson(&it, false);
  item["analytics"] = std::move(analytics);
  item["operationType"] = change.inserted ? "insert" : "update";
  item["calculatedAt"] = FormatInstant(calculated_at);
  return Dump(item);
}

std::string EventBodyJson(const ObjectId& user, std::span<const std::string> items, int batch_index,
                          int total_batches, std::string_view document_id, Instant timestamp) {
  size_t size = 256 + document_id.size();
  for (const std::string& i : items) size += i.size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"userId":")";
  out += user.ToHex();
  out += R"(","eventType":"analytics:batch_update","data":{"analytics":[)";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
  }
  out += R"(],"count":)";
  out += std::to_string(items.size());
  out += R"(,"batchIndex":)";
  out += std::to_string(batch_index);
  out += R"(,"totalBatches":)";
  out += std::to_string(total_batches);
  out += R"(,"documentId":)";
  AppendJsonString(document_id, &out);
  out += R"(,"timestamp":)";
  out += std::to_string(timestamp);
  out += "}}";
  return out;
}

}  // namespace ha
