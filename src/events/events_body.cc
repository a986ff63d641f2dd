#include "events/events_body.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <iterator>

#include "codec/ejson.h"

namespace ha {
namespace {

// Written straight into a string, without a JSON tree: this runs on the engine's thread for
// every changed document (about 1 us each).

void AppendChildren(const bson_iter_t* it, bool array, std::string* out);

template <typename T>
void AppendNumber(T v, std::string* out) {
  char buf[40];
  // Doubles in shortest round-trip form; 40 bytes hold any double or 64-bit integer.
  char* end = fmt::format_to(buf, FMT_COMPILE("{}"), v);
  out->append(buf, end);
}

void AppendValue(const bson_iter_t* it, std::string* out) {
  switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE: {
      const double v = bson_iter_double(it);
      if (std::isfinite(v)) {
        AppendNumber(v, out);
      } else {
        out->append("null");
      }
      return;
    }
    case BSON_TYPE_INT32:
      AppendNumber(bson_iter_int32(it), out);
      return;
    case BSON_TYPE_INT64:
      AppendNumber(bson_iter_int64(it), out);
      return;
    case BSON_TYPE_BOOL:
      out->append(bson_iter_bool(it) ? "true" : "false");
      return;
    case BSON_TYPE_UTF8: {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(it, &len);
      AppendJsonString(std::string_view(s, len), out);
      return;
    }
    case BSON_TYPE_DATE_TIME:
      out->push_back('"');
      out->append(FormatInstant(bson_iter_date_time(it)));
      out->push_back('"');
      return;
    case BSON_TYPE_OID: {
      ObjectId id;
      std::memcpy(id.bytes.data(), bson_iter_oid(it)->bytes, 12);
      out->push_back('"');
      out->append(id.ToHex());
      out->push_back('"');
      return;
    }
    case BSON_TYPE_DOCUMENT:
      AppendChildren(it, false, out);
      return;
    case BSON_TYPE_ARRAY:
      AppendChildren(it, true, out);
      return;
    default:  // null, and types an analytics document never holds
      out->append("null");
      return;
  }
}

void AppendMembers(bson_iter_t* child, bool array, std::string* out) {
  bool first = true;
  while (bson_iter_next(child)) {
    if (!first) out->push_back(',');
    first = false;
    if (!array) {
      AppendJsonString(std::string_view(bson_iter_key(child), bson_iter_key_len(child)), out);
      out->push_back(':');
    }
    AppendValue(child, out);
  }
}

void AppendChildren(const bson_iter_t* it, bool array, std::string* out) {
  out->push_back(array ? '[' : '{');
  bson_iter_t child;
  if (bson_iter_recurse(it, &child)) AppendMembers(&child, array, out);
  out->push_back(array ? ']' : '}');
}

}  // namespace

void AppendPlainJson(const bson_t* doc, std::string* out) {
  out->push_back('{');
  bson_iter_t it;
  if (bson_iter_init(&it, doc)) AppendMembers(&it, false, out);
  out->push_back('}');
}

std::string PlainJson(const bson_t* doc) {
  std::string out;
  AppendPlainJson(doc, &out);
  return out;
}

std::string EventItemJson(const AnalyticsChange& change, Instant calculated_at) {
  std::string out;
  out.reserve(1024);
  out += R"({"metricType":)";
  AppendJsonString(MetricInfoOf(change.metric).name, &out);
  out += R"(,"timeRange":)";
  AppendJsonString(kRangeNames[static_cast<size_t>(change.range)], &out);
  out += R"(,"analytics":)";
  bson_iter_t it;
  if (change.fields.get() != nullptr &&
      bson_iter_init_find(&it, change.fields.get(), "analytics") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    AppendChildren(&it, false, &out);
  } else {
    out += "{}";
  }
  out += R"(,"operationType":)";
  out += change.inserted ? R"("insert")" : R"("update")";
  out += R"(,"calculatedAt":")";
  out += FormatInstant(calculated_at);
  out += R"("})";
  return out;
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
  fmt::format_to(std::back_inserter(out),
                 R"(],"count":{},"batchIndex":{},"totalBatches":{},"documentId":)", items.size(),
                 batch_index, total_batches);
  AppendJsonString(document_id, &out);
  // isBatch and userId are what the React dashboard reads from `data` (it labels an event
  // without isBatch a "single update"): the old job sent both.
  fmt::format_to(std::back_inserter(out), R"(,"timestamp":{},"isBatch":true,"userId":"{}"}}}})",
                 timestamp, user.ToHex());
  return out;
}

}  // namespace ha
