// Helpers shared by the libFuzzer targets in this directory (see scripts/fuzz).
#pragma once

#include <bson/bson.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace ha::fuzz {

// Reports a wrong result and aborts, so that libFuzzer saves the input as a crash.
[[noreturn]] inline void Fail(std::string_view what, std::string_view input) {
  std::fprintf(stderr, "\nFUZZ CHECK FAILED: %.*s\ninput (%zu bytes): %.*s\n",
               static_cast<int>(what.size()), what.data(), input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

// The document as canonical Extended JSON, for failure messages.
inline std::string Canonical(const bson_t* doc) {
  size_t len = 0;
  char* s = bson_as_canonical_extended_json(doc, &len);
  std::string out = s != nullptr ? std::string(s, len) : std::string("<not printable>");
  bson_free(s);
  return out;
}

// True when every key and every string value (recursively) is valid UTF-8 (NUL allowed inside
// strings). bson_validate's BSON_VALIDATE_UTF8 does not look at string values in libbson 1.23.
inline bool Utf8Everywhere(bson_iter_t* it) {
  while (bson_iter_next(it)) {
    const char* key = bson_iter_key(it);
    if (!bson_utf8_validate(key, std::strlen(key), false)) return false;
    if (BSON_ITER_HOLDS_UTF8(it)) {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(it, &len);
      if (!bson_utf8_validate(s, len, true)) return false;
    } else if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
      bson_iter_t child;
      if (!bson_iter_recurse(it, &child) || !Utf8Everywhere(&child)) return false;
    }
  }
  return true;
}

// bson_validate, and valid UTF-8 in every key and string.
inline bool ValidBson(const bson_t* doc) {
  size_t offset = 0;
  bson_iter_t it;
  return bson_validate(
             doc,
             static_cast<bson_validate_flags_t>(BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL),
             &offset) &&
         bson_iter_init(&it, doc) && Utf8Everywhere(&it);
}

// Called for two values at the same place that differ; true when the difference is allowed.
using Tolerate = bool (*)(const bson_iter_t* x, const bson_iter_t* y);

// Value equality of two documents: same keys in the same order, same types, same values;
// unlike bson_equal, any NaN equals any NaN (Extended JSON has one "NaN"). Values that
// differ are accepted when `tolerate` (if given) says so.
inline bool SameIterValues(bson_iter_t* x, bson_iter_t* y, Tolerate tolerate) {
  for (;;) {
    const bool nx = bson_iter_next(x), ny = bson_iter_next(y);
    if (nx != ny) return false;
    if (!nx) return true;
    if (std::strcmp(bson_iter_key(x), bson_iter_key(y)) != 0) return false;
    if (bson_iter_type(x) != bson_iter_type(y)) {
      if (tolerate != nullptr && tolerate(x, y)) continue;
      return false;
    }
    switch (bson_iter_type(x)) {
      case BSON_TYPE_DOUBLE: {
        const double a = bson_iter_double(x), b = bson_iter_double(y);
        if (std::isnan(a) && std::isnan(b)) break;
        if (std::memcmp(&a, &b, sizeof a) != 0 && !(tolerate != nullptr && tolerate(x, y)))
          return false;
        break;
      }
      case BSON_TYPE_DOCUMENT:
      case BSON_TYPE_ARRAY: {
        bson_iter_t cx, cy;
        if (!bson_iter_recurse(x, &cx) || !bson_iter_recurse(y, &cy)) return false;
        if (!SameIterValues(&cx, &cy, tolerate)) return false;
        break;
      }
      default: {
        const bson_value_t* vx = bson_iter_value(x);
        const bson_value_t* vy = bson_iter_value(y);
        bson_t dx = BSON_INITIALIZER, dy = BSON_INITIALIZER;
        bson_append_value(&dx, "v", 1, vx);
        bson_append_value(&dy, "v", 1, vy);
        const bool same = bson_equal(&dx, &dy);
        bson_destroy(&dx);
        bson_destroy(&dy);
        if (!same && !(tolerate != nullptr && tolerate(x, y))) return false;
      }
    }
  }
}

inline bool SameDocument(const bson_t* a, const bson_t* b, Tolerate tolerate = nullptr) {
  bson_iter_t x, y;
  if (!bson_iter_init(&x, a) || !bson_iter_init(&y, b)) return false;
  return SameIterValues(&x, &y, tolerate);
}

// True when every value in the document (recursively) has one of the types whose Extended
// JSON text maps back to exactly the same BSON, no key starts with '$' (such a key can read
// back as a type wrapper, {"$date": 1}) and arrays have the keys "0", "1", ... (JSON arrays
// have no keys).
inline bool RoundTrippable(bson_iter_t* it, bool is_array = false) {
  for (uint32_t i = 0; bson_iter_next(it); ++i) {
    if (bson_iter_key(it)[0] == '$') return false;
    if (is_array && std::to_string(i) != bson_iter_key(it)) return false;
    switch (bson_iter_type(it)) {
      case BSON_TYPE_DOCUMENT:
      case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (!bson_iter_recurse(it, &child) ||
            !RoundTrippable(&child, bson_iter_type(it) == BSON_TYPE_ARRAY))
          return false;
        break;
      }
      case BSON_TYPE_DOUBLE:
      case BSON_TYPE_UTF8:
      case BSON_TYPE_OID:
      case BSON_TYPE_BOOL:
      case BSON_TYPE_DATE_TIME:
      case BSON_TYPE_NULL:
      case BSON_TYPE_INT32:
      case BSON_TYPE_INT64:
        break;
      default:
        return false;
    }
  }
  return true;
}

inline bool RoundTrippable(const bson_t* doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && RoundTrippable(&it);
}

}  // namespace ha::fuzz
