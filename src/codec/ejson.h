// MongoDB Extended JSON lines (what mongoexport writes and `compute` reads and writes).
#pragma once

#include <bson/bson.h>

#include <string>
#include <string_view>

#include "codec/bson_doc.h"
#include "core/status.h"

namespace ha {

// Parses one line holding one JSON object in canonical or relaxed Extended JSON v2 (legacy
// forms too, e.g. {"$date": <ms>}). Plain JSON numbers become int32 when they are integers
// that fit, else int64, else double; numbers with a fraction or exponent become doubles.
// $oid, $date, $numberInt, $numberLong, $numberDouble and $numberDecimal are parsed by a fast
// built-in parser; lines with other `$` wrappers ($binary, $timestamp, $regularExpression, ...)
// go through libbson's parser. Leading/trailing whitespace (and a trailing '\r') is allowed.
// Returns InvalidArgument with the byte offset and reason (or libbson's reason) when the line
// is not exactly one valid JSON object, holds invalid UTF-8 or a malformed wrapper.
Result<BsonDoc> ParseExtendedJsonLine(std::string_view line);

// As ParseExtendedJsonLine, into `*out` (which is reinitialised, reusing its storage).
Status ParseExtendedJsonLineInto(std::string_view line, bson_t* out);

// The document as one line of relaxed Extended JSON v2, compact (no spaces, no newline), such
// that a parser (ParseExtendedJsonLine, libbson, PyMongo json_util, mongoimport) reads back the
// same BSON types and values: whole-number doubles keep a ".0" (1.0), doubles print in their
// shortest round-trip form, int64 is written {"$numberLong":"..."} so it stays int64, Dates of
// years 1970..9999 as {"$date":"YYYY-MM-DDTHH:MM:SS.mmmZ"}, others as
// {"$date":{"$numberLong":"..."}}, NaN/Infinity as {"$numberDouble":...}.
std::string ToRelaxedJson(const bson_t* doc);

// Appends ToRelaxedJson(doc) to *out.
void AppendRelaxedJson(const bson_t* doc, std::string* out);

// The value `iter` points at, as relaxed Extended JSON (e.g. "abc" with quotes, 150000,
// {"$numberDouble":"NaN"}, {"$oid":"..."}): for dead-letter values.
std::string ValueToRelaxedJson(const bson_iter_t* iter);

// Appends ValueToRelaxedJson(iter) to *out.
void AppendValueRelaxedJson(const bson_iter_t* iter, std::string* out);

// Appends `s` as a JSON string literal (quotes and escapes; invalid UTF-8 becomes U+FFFD).
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace ha
