// Fuzzes ParseExtendedJsonLine (docs/ejson.h), the fast mongoexport-line parser of `compute`:
//   - never crashes, and what it accepts is valid BSON (UTF-8 strings, no NUL in keys);
//   - where libbson's own parser (bson_new_from_json) also accepts the line, both give the same
//     document (the fast parser accepts more: date strings in any form of the timestamp grammar,
//     integers beyond int64 as doubles; libbson accepts trailing text, so only lines both accept
//     are compared);
//   - ToRelaxedJson of the result parses back to the same document (any NaN equals any NaN).
#include <bson/bson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/ejson.h"
#include "fuzz_util.h"

namespace {

// Differences from libbson that docs/ejson.h promises:
//   - a plain integer beyond int64 is a double (as PyMongo and mongoimport read it); libbson
//     wraps it around into an int32 or int64.
bool AllowedDifference(const bson_iter_t* ours, const bson_iter_t* theirs) {
  if (BSON_ITER_HOLDS_DOUBLE(ours) &&
      (BSON_ITER_HOLDS_INT32(theirs) || BSON_ITER_HOLDS_INT64(theirs)))
    return std::fabs(bson_iter_double(ours)) >= 9223372036854775808.0;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto ours = ha::ParseExtendedJsonLine(line);
  if (!ours.ok()) return 0;
  const bson_t* doc = ours->get();

  if (!ha::fuzz::ValidBson(doc)) ha::fuzz::Fail("the parsed document is not valid BSON", line);

  bson_error_t error;
  bson_t* theirs = bson_new_from_json(data, static_cast<ssize_t>(size), &error);
  if (theirs != nullptr) {
    const bool same = ha::fuzz::SameDocument(doc, theirs, AllowedDifference);
    const std::string detail =
        "ours:    " + ha::fuzz::Canonical(doc) + "\nlibbson: " + ha::fuzz::Canonical(theirs);
    bson_destroy(theirs);
    if (!same) ha::fuzz::Fail("ParseExtendedJsonLine and libbson disagree\n" + detail, line);
  }

  const std::string relaxed = ha::ToRelaxedJson(doc);
  auto again = ha::ParseExtendedJsonLine(relaxed);
  if (!again.ok())
    ha::fuzz::Fail(
        "ToRelaxedJson output does not parse: " + again.status().message() + "\n" + relaxed, line);
  if (!ha::fuzz::SameDocument(doc, again->get()))
    ha::fuzz::Fail("ToRelaxedJson does not round-trip\nwritten: " + relaxed, line);
  return 0;
}
