// FerretDB v1 cannot store NaN or infinities (its wire layer refuses the whole message:
// "NaN is not supported"); MongoDB can. Sample data meant for a FerretDB server passes through
// here first: a non-finite `metrics.<name>` double becomes the string "NaN", "Infinity" or
// "-Infinity", which is still an invalid value for the engine (dead-lettered with reason `type`
// instead of `non-finite`). Used only by `seed` / `demo` into a database and the test harness;
// the engine's own handling of NaN is covered by the decoder's unit tests.
#pragma once

#include <bson/bson.h>

#include "codec/bson_doc.h"

namespace ha {

// Whether `doc` has a non-finite double directly under `metrics`.
bool HasNonFiniteMetric(const bson_t* doc);

// A copy of `doc` with every non-finite double directly under `metrics` replaced by a string.
BsonDoc WithoutNonFiniteMetrics(const bson_t* doc);

}  // namespace ha
