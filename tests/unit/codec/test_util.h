// Helpers shared by the docs tests.
#pragma once

#include <bson/bson.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "codec/bson_doc.h"

namespace ha::testing {

// A document from Extended JSON, parsed by libbson itself (independent of docs/ejson.cc).
inline BsonDoc FromJson(std::string_view json) {
  bson_error_t error;
  bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                                   static_cast<ssize_t>(json.size()), &error);
  EXPECT_NE(doc, nullptr) << error.message << " in " << json;
  return doc != nullptr ? BsonDoc(doc) : BsonDoc();
}

// The type of the value at a dotted path ("analytics.statistics.dataPointsCount"), or EOD.
inline bson_type_t TypeAt(const bson_t* doc, const char* path) {
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found))
    return BSON_TYPE_EOD;
  return bson_iter_type(&found);
}

inline bson_iter_t IterAt(const bson_t* doc, const char* path) {
  bson_iter_t it, found;
  EXPECT_TRUE(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found)) << path;
  return found;
}

inline double DoubleAt(const bson_t* doc, const char* path) {
  bson_iter_t it = IterAt(doc, path);
  return bson_iter_as_double(&it);
}

inline int64_t DateAt(const bson_t* doc, const char* path) {
  bson_iter_t it = IterAt(doc, path);
  return bson_iter_date_time(&it);
}

inline std::string StringAt(const bson_t* doc, const char* path) {
  bson_iter_t it = IterAt(doc, path);
  uint32_t len = 0;
  const char* s = bson_iter_utf8(&it, &len);
  return s != nullptr ? std::string(s, len) : std::string();
}

inline std::string Canonical(const bson_t* doc) {
  size_t len;
  char* s = bson_as_canonical_extended_json(doc, &len);
  std::string out(s, len);
  bson_free(s);
  return out;
}

}  // namespace ha::testing
