#include "codec/ejson.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "test_util.h"

namespace ha {
namespace {

using testing::Canonical;
using testing::FromJson;
using testing::TypeAt;

// Parses with docs/ejson.cc and with libbson; both must give the same BSON.
void ExpectSameAsLibbson(const std::string& line) {
  auto ours = ParseExtendedJsonLine(line);
  ASSERT_TRUE(ours.ok()) << ours.status().message() << " in " << line;
  BsonDoc theirs = FromJson(line);
  EXPECT_TRUE(bson_equal(ours->get(), theirs.get()))
      << line << "\nours:    " << Canonical(ours->get())
      << "\nlibbson: " << Canonical(theirs.get());
}

TEST(ParseExtendedJsonLine, AgreesWithLibbsonOnMongoexportLines) {
  // Relaxed (mongoexport's default since 4.x).
  ExpectSameAsLibbson(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":8432,"distance":6.12,"calories":2150.5,"weight":null},"source":"googlefit","createdAt":{"$date":"2025-11-20T21:14:03.512Z"},"updatedAt":{"$date":"2025-11-20T21:14:03.512Z"},"__v":0})");
  // Canonical (mongoexport --jsonFormat=canonical).
  ExpectSameAsLibbson(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":{"$numberLong":"1763596800000"}},"metrics":{"steps":{"$numberInt":"8432"},"distance":{"$numberDouble":"6.12"},"calories":{"$numberLong":"2150"},"sleepHours":{"$numberDouble":"-Infinity"},"hydration":{"$numberDouble":"NaN"}},"__v":{"$numberInt":"0"}})");
  // Whitespace as mongo shells print it, nested arrays, escapes, unicode, big integers.
  ExpectSameAsLibbson(
      "  { \"a\" : [ 1 , 2.5 , -3e2 , [ ] , { } , { \"b\" : true , \"c\" : false } ] ,\n"
      " \"s\" : \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u00e9\\ud83d\\ude00 \xc3\xa9\" ,"
      " \"i64\" : 2147483648 , \"neg\" : -2147483648 , \"n\" : null , \"z\" : -0.0 } \r");
  ExpectSameAsLibbson(R"({"d":{"$date":{"$numberLong":"-62135596800000"}}})");
  ExpectSameAsLibbson(R"({"d":{"$date":1735689600000}})");  // legacy
  ExpectSameAsLibbson(R"({"x":{"$numberDecimal":"1.50"},"e":{}})");
}

TEST(ParseExtendedJsonLine, TypesPlainNumbersLikeTheDrivers) {
  auto doc = ParseExtendedJsonLine(
      R"({"a":1,"b":2147483648,"c":1.0,"d":1e3,"e":-0,"f":9223372036854775808,"g":5e-324})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(TypeAt(doc->get(), "a"), BSON_TYPE_INT32);
  EXPECT_EQ(TypeAt(doc->get(), "b"), BSON_TYPE_INT64);
  EXPECT_EQ(TypeAt(doc->get(), "c"), BSON_TYPE_DOUBLE);
  EXPECT_EQ(TypeAt(doc->get(), "d"), BSON_TYPE_DOUBLE);
  EXPECT_EQ(TypeAt(doc->get(), "e"), BSON_TYPE_INT32);
  EXPECT_EQ(TypeAt(doc->get(), "f"), BSON_TYPE_DOUBLE);  // beyond int64
  EXPECT_EQ(testing::DoubleAt(doc->get(), "g"), std::numeric_limits<double>::denorm_min());
}

TEST(ParseExtendedJsonLine, AcceptsDateStringsWithOffsets) {
  auto doc = ParseExtendedJsonLine(
      R"({"a":{"$date":"2025-01-01T01:00:00.123+01:00"},"b":{"$date":"2025-01-01T00:00:00.123456Z"}})");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(testing::DateAt(doc->get(), "a"), 1735689600123);
  EXPECT_EQ(testing::DateAt(doc->get(), "b"), 1735689600123);
}

TEST(ParseExtendedJsonLine, HandsOtherWrappersToLibbson) {
  const std::string line =
      R"json({"bin":{"$binary":{"base64":"AQIDBA==","subType":"04"}},"ts":{"$timestamp":{"t":5,"i":6}},"re":{"$regularExpression":{"pattern":"^a","options":"i"}},"min":{"$minKey":1},"max":{"$maxKey":1},"sym":{"$symbol":"s"},"code":{"$code":"f()"},"x":{"$oid":"65a1b2c3d4e5f60718293a4b"}})json";
  ExpectSameAsLibbson(line);
  auto doc = ParseExtendedJsonLine(line);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(TypeAt(doc->get(), "bin"), BSON_TYPE_BINARY);
  EXPECT_EQ(TypeAt(doc->get(), "ts"), BSON_TYPE_TIMESTAMP);
  EXPECT_EQ(TypeAt(doc->get(), "re"), BSON_TYPE_REGEX);
  EXPECT_EQ(TypeAt(doc->get(), "min"), BSON_TYPE_MINKEY);
}

void ExpectError(const std::string& line, const std::string& fragment) {
  auto doc = ParseExtendedJsonLine(line);
  ASSERT_FALSE(doc.ok()) << line;
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(doc.status().message().find(fragment), std::string::npos)
      << "message: " << doc.status().message() << "\nexpected: " << fragment;
}

TEST(ParseExtendedJsonLine, ReportsWhereAndWhyALineIsInvalid) {
  ExpectError(R"({"a":1,})", "byte 8: expected a string key");
  ExpectError(R"({"a" 1})", "byte 6: expected ':'");
  ExpectError(R"({"a":1})"
              "x",
              "unexpected text after the JSON object");
  ExpectError(R"({"a":1} {"b":2})", "unexpected text after the JSON object");
  ExpectError("[1,2]", "each line must be one JSON object");
  ExpectError("", "no JSON object");
  ExpectError("   ", "no JSON object");
  ExpectError(R"({"a":"abc)", "unterminated string");
  ExpectError("{\"a\":\"\xff\"}", "invalid UTF-8");
  ExpectError(R"({"a":"\ud800"})", "surrogate");
  ExpectError(R"({"a":01})", "expected ',' or '}'");
  ExpectError(R"({"a":1.})", "invalid number");
  ExpectError(R"({"a":1e999})", "out of the range");
  ExpectError(R"({"a":tru})", "expected a value");
  ExpectError(R"({"a":{"$oid":"zz"}})", "$oid must be 24 hex digits");
  ExpectError(R"({"a":{"$numberInt":"3000000000"}})", "$numberInt");
  ExpectError(R"({"a":{"$date":"yesterday"}})", "$date");
  ExpectError(R"({"a":{"$binary":"not base64 at all"}})", "libbson");
  ExpectError(std::string(200, '[') + std::string(200, ']'), "each line must be one JSON object");
  std::string deep = R"({"a":)";
  for (int i = 0; i < 150; ++i) deep += R"({"a":)";
  deep += "1" + std::string(151, '}');
  ExpectError(deep, "nesting deeper than 100");
}

TEST(ParseExtendedJsonLineInto, ReusesTheDocument) {
  BsonDoc doc;
  ASSERT_TRUE(ParseExtendedJsonLineInto(R"({"a":1,"b":2})", doc.get()).ok());
  ASSERT_TRUE(ParseExtendedJsonLineInto(R"({"c":3})", doc.get()).ok());
  EXPECT_EQ(ToRelaxedJson(doc.get()), R"({"c":3})");
  EXPECT_FALSE(ParseExtendedJsonLineInto(R"({"c":)", doc.get()).ok());
  EXPECT_EQ(ToRelaxedJson(doc.get()), "{}");
}

// --- Writing -------------------------------------------------------------------------------

std::string One(const std::string& json) {
  BsonDoc doc = FromJson(json);
  return ToRelaxedJson(doc.get());
}

TEST(ToRelaxedJson, WritesCompactRelaxedExtendedJson) {
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"1"}})"), R"({"a":1.0})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"0.1"}})"), R"({"a":0.1})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"-0.0"}})"), R"({"a":-0.0})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"1e20"}})"), R"({"a":1e+20})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"123456.75"}})"), R"({"a":123456.75})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"NaN"}})"), R"({"a":{"$numberDouble":"NaN"}})");
  EXPECT_EQ(One(R"({"a":{"$numberDouble":"-Infinity"}})"),
            R"({"a":{"$numberDouble":"-Infinity"}})");
  EXPECT_EQ(One(R"({"a":{"$numberInt":"-7"}})"), R"({"a":-7})");
  EXPECT_EQ(One(R"({"a":{"$numberLong":"7"}})"), R"({"a":{"$numberLong":"7"}})");
  EXPECT_EQ(One(R"({"a":{"$date":{"$numberLong":"1763596800000"}}})"),
            R"({"a":{"$date":"2025-11-20T00:00:00.000Z"}})");
  EXPECT_EQ(One(R"({"a":{"$date":{"$numberLong":"-1"}}})"),
            R"({"a":{"$date":{"$numberLong":"-1"}}})");
  EXPECT_EQ(One(R"({"a":{"$date":{"$numberLong":"253402300799999"}}})"),
            R"({"a":{"$date":"9999-12-31T23:59:59.999Z"}})");
  EXPECT_EQ(One(R"({"a":{"$date":{"$numberLong":"253402300800000"}}})"),
            R"({"a":{"$date":{"$numberLong":"253402300800000"}}})");
  EXPECT_EQ(One(R"({"a":{"$oid":"65A1B2C3D4E5F60718293A4B"}})"),
            R"({"a":{"$oid":"65a1b2c3d4e5f60718293a4b"}})");
  EXPECT_EQ(One(R"({"a":[1,"x",null,true,{"b":[]}]})"), R"({"a":[1,"x",null,true,{"b":[]}]})");
  EXPECT_EQ(One(R"({"s":"q\"\\\n\t\u0001\u007f\u00e9/"})"),
            "{\"s\":\"q\\\"\\\\\\n\\t\\u0001\x7f\xc3\xa9/\"}");
}

TEST(ToRelaxedJson, ReplacesInvalidUtf8) {
  BsonDoc doc;
  bson_append_utf8(doc.get(), "s", 1,
                   "a\xff"
                   "b",
                   3);
  EXPECT_EQ(ToRelaxedJson(doc.get()),
            "{\"s\":\"a\xEF\xBF\xBD"
            "b\"}");
}

// Every BSON type: our writer's output must read back (with our parser and with libbson) as
// the same BSON, types included.
TEST(ToRelaxedJson, RoundTripsEveryType) {
  BsonDoc doc;
  bson_t* d = doc.get();
  BSON_APPEND_DOUBLE(d, "d0", 1.0);
  BSON_APPEND_DOUBLE(d, "d1", 0.1);
  BSON_APPEND_DOUBLE(d, "d2", 1e300);
  BSON_APPEND_DOUBLE(d, "d3", -2.5e-310);
  BSON_APPEND_DOUBLE(d, "d4", 123456789012345680.0);
  BSON_APPEND_DOUBLE(d, "d5", -0.0);
  BSON_APPEND_DOUBLE(d, "d6", std::numeric_limits<double>::quiet_NaN());
  BSON_APPEND_DOUBLE(d, "d7", std::numeric_limits<double>::infinity());
  BSON_APPEND_DOUBLE(d, "d8", 1.0 / 3);
  BSON_APPEND_INT32(d, "i32", -5);
  BSON_APPEND_INT64(d, "i64", 5);
  BSON_APPEND_INT64(d, "i64big", INT64_MIN);
  BSON_APPEND_DATE_TIME(d, "t", 1763596800123);
  BSON_APPEND_DATE_TIME(d, "t0", 0);
  BSON_APPEND_DATE_TIME(d, "tneg", -86400000);
  BSON_APPEND_DATE_TIME(d, "tfar", 300000000000000);
  BSON_APPEND_NULL(d, "n");
  BSON_APPEND_BOOL(d, "b", false);
  BSON_APPEND_UTF8(d, "s", "a\"b\n\x01 \xc3\xa9 \xf0\x9f\x98\x80");
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "0123456789abcdef01234567");
  BSON_APPEND_OID(d, "o", &oid);
  bson_decimal128_t dec;
  bson_decimal128_from_string("-1.50E+3", &dec);
  BSON_APPEND_DECIMAL128(d, "dec", &dec);
  const uint8_t bytes[] = {1, 2, 3, 4, 5};
  BSON_APPEND_BINARY(d, "bin", BSON_SUBTYPE_UUID, bytes, 5);
  BSON_APPEND_BINARY(d, "bin2", BSON_SUBTYPE_BINARY, bytes, 4);
  BSON_APPEND_REGEX(d, "re", "^a\"b", "im");
  BSON_APPEND_TIMESTAMP(d, "ts", 7, 9);
  BSON_APPEND_MINKEY(d, "min");
  BSON_APPEND_MAXKEY(d, "max");
  BSON_APPEND_CODE(d, "code", "function() {}");
  BSON_APPEND_SYMBOL(d, "sym", "sym");
  BSON_APPEND_UNDEFINED(d, "u");
  bson_t child, inner;
  BSON_APPEND_DOCUMENT_BEGIN(d, "sub", &child);
  BSON_APPEND_INT32(&child, "x", 1);
  BSON_APPEND_ARRAY_BEGIN(&child, "empty", &inner);
  bson_append_array_end(&child, &inner);
  bson_append_document_end(d, &child);
  bson_t array;
  BSON_APPEND_ARRAY_BEGIN(d, "arr", &array);
  BSON_APPEND_DOUBLE(&array, "0", 2.0);
  BSON_APPEND_UTF8(&array, "1", "x");
  bson_append_array_end(d, &array);

  const std::string json = ToRelaxedJson(d);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  auto ours = ParseExtendedJsonLine(json);
  ASSERT_TRUE(ours.ok()) << ours.status().message() << "\n" << json;
  EXPECT_TRUE(bson_equal(ours->get(), d)) << json << "\n" << Canonical(ours->get());
  BsonDoc theirs = FromJson(json);
  EXPECT_TRUE(bson_equal(theirs.get(), d)) << json << "\n" << Canonical(theirs.get());
  // Spot checks of the types a reader must not lose.
  EXPECT_EQ(TypeAt(ours->get(), "d0"), BSON_TYPE_DOUBLE);
  EXPECT_EQ(TypeAt(ours->get(), "i64"), BSON_TYPE_INT64);
  EXPECT_EQ(TypeAt(ours->get(), "t"), BSON_TYPE_DATE_TIME);
  EXPECT_EQ(TypeAt(ours->get(), "arr.0"), BSON_TYPE_DOUBLE);
}

TEST(ValueToRelaxedJson, WritesOneValue) {
  BsonDoc doc = FromJson(
      R"({"s":"abc","n":{"$numberDouble":"NaN"},"i":150000,"o":{"$oid":"65a1b2c3d4e5f60718293a4b"},"x":{"a":[1]}})");
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init(&it, doc.get()));
  const char* expected[] = {R"("abc")", R"({"$numberDouble":"NaN"})", "150000",
                            R"({"$oid":"65a1b2c3d4e5f60718293a4b"})", R"({"a":[1]})"};
  for (const char* e : expected) {
    ASSERT_TRUE(bson_iter_next(&it));
    EXPECT_EQ(ValueToRelaxedJson(&it), e);
  }
}

}  // namespace
}  // namespace ha
