#include "codec/ferretdb_compat.h"

#include <cmath>
#include <string_view>

namespace ha {
namespace {

bool NonFinite(const bson_iter_t* it) {
  return BSON_ITER_HOLDS_DOUBLE(it) && !std::isfinite(bson_iter_double(it));
}

}  // namespace

bool HasNonFiniteMetric(const bson_t* doc) {
  bson_iter_t it, sub;
  if (!bson_iter_init_find(&it, doc, "metrics") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
      !bson_iter_recurse(&it, &sub))
    return false;
  while (bson_iter_next(&sub))
    if (NonFinite(&sub)) return true;
  return false;
}

BsonDoc WithoutNonFiniteMetrics(const bson_t* doc) {
  BsonDoc out;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return BsonDoc(bson_copy(doc));
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    bson_iter_t sub;
    if (key != "metrics" || !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &sub)) {
      bson_append_iter(out.get(), nullptr, 0, &it);
      continue;
    }
    bson_t metrics;
    bson_append_document_begin(out.get(), "metrics", -1, &metrics);
    while (bson_iter_next(&sub)) {
      if (!NonFinite(&sub)) {
        bson_append_iter(&metrics, nullptr, 0, &sub);
        continue;
      }
      const double v = bson_iter_double(&sub);
      bson_append_utf8(&metrics, bson_iter_key(&sub), -1,
                       std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"), -1);
    }
    bson_append_document_end(out.get(), &metrics);
  }
  return out;
}

}  // namespace ha
