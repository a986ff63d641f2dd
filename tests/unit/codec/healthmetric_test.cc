#include "codec/healthmetric.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace ha {
namespace {

using testing::FromJson;

constexpr const char* kUser = "65a1b2c3d4e5f60718293a00";
constexpr const char* kId = "65a1b2c3d4e5f60718293a4b";
// 2025-11-20 = day 20412.
constexpr Day kDay = 20412;

// A healthmetrics document with `metrics_json` as its metrics value ("" leaves it out).
std::string Doc(const std::string& metrics_json, const std::string& extra = "") {
  std::string s = std::string(R"({"_id":{"$oid":")") + kId + R"("},"userId":{"$oid":")" + kUser +
                  R"("},"date":{"$date":"2025-11-20T00:00:00Z"},)";
  if (!metrics_json.empty()) s += R"("metrics":)" + metrics_json + ",";
  s += R"("source":"googlefit","updatedAt":{"$date":"2025-11-20T21:14:03.512Z"})";
  s += extra + "}";
  return s;
}

DecodedHealthMetric Decode(const std::string& json, AnalyticsOptions options = {}) {
  BsonDoc doc = FromJson(json);
  DecodedHealthMetric out;
  DecodeHealthMetric(doc.get(), options, &out);
  return out;
}

bool Observed(const DecodedHealthMetric& d, Metric m) {
  return (d.record.observed >> static_cast<int>(m) & 1) != 0;
}
double ValueOf(const DecodedHealthMetric& d, Metric m) {
  return d.record.value[static_cast<size_t>(m)];
}

TEST(DecodeHealthMetric, ReadsIdsDayAndUpdatedAt) {
  const auto d = Decode(Doc(R"({"steps":8432})"));
  EXPECT_FALSE(d.skip);
  EXPECT_TRUE(d.usable);
  EXPECT_EQ(d.doc_id, kId);
  EXPECT_EQ(d.user_id, kUser);
  EXPECT_EQ(d.user.ToHex(), kUser);
  EXPECT_EQ(d.record.id.ToHex(), kId);
  EXPECT_EQ(d.record.day, kDay);
  ASSERT_TRUE(d.updated_at.has_value());
  EXPECT_EQ(*d.updated_at, StartOf(kDay) + 76443512);
  EXPECT_EQ(d.record.updated_at, d.updated_at);
  EXPECT_TRUE(d.issues.empty());
}

TEST(DecodeHealthMetric, Int32Int64AndDoubleAreNumbers) {
  const auto d = Decode(Doc(
      R"({"steps":{"$numberInt":"8432"},"calories":{"$numberLong":"2150"},"distance":{"$numberDouble":"6.12"}})"));
  EXPECT_TRUE(Observed(d, Metric::kSteps));
  EXPECT_TRUE(Observed(d, Metric::kCalories));
  EXPECT_TRUE(Observed(d, Metric::kDistance));
  EXPECT_EQ(ValueOf(d, Metric::kSteps), 8432);
  EXPECT_EQ(ValueOf(d, Metric::kCalories), 2150);
  EXPECT_EQ(ValueOf(d, Metric::kDistance), 6.12);
  EXPECT_FALSE(Observed(d, Metric::kWeight));
  EXPECT_TRUE(d.issues.empty());
}

TEST(DecodeHealthMetric, NullAndMissingAreNoObservationAndNoIssue) {
  const auto d = Decode(Doc(R"({"steps":null,"weight":72.5})"));
  EXPECT_FALSE(Observed(d, Metric::kSteps));
  EXPECT_FALSE(Observed(d, Metric::kDistance));
  EXPECT_TRUE(Observed(d, Metric::kWeight));
  EXPECT_TRUE(d.issues.empty());
}

TEST(DecodeHealthMetric, WrongTypesAreTypeIssuesWithTheirValue) {
  const auto d = Decode(Doc(
      R"({"steps":"abc","distance":true,"calories":{"$numberDecimal":"1.5"},"activeMinutes":{"a":1},"heartPoints":[1],"weight":{"$date":"2025-01-01T00:00:00Z"},"sleepHours":7.5})"));
  ASSERT_EQ(d.issues.size(), 6u);
  const std::pair<const char*, const char*> expected[] = {
      {"metrics.steps", R"("abc")"},
      {"metrics.distance", "true"},
      {"metrics.calories", R"({"$numberDecimal":"1.5"})"},
      {"metrics.activeMinutes", R"({"a":1})"},
      {"metrics.heartPoints", "[1]"},
      {"metrics.weight", R"({"$date":"2025-01-01T00:00:00.000Z"})"},
  };
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(d.issues[i].field, expected[i].first);
    EXPECT_EQ(d.issues[i].reason, "type");
    EXPECT_EQ(d.issues[i].value_json, expected[i].second);
  }
  EXPECT_EQ(d.record.observed, 1u << static_cast<int>(Metric::kSleepHours));
  EXPECT_TRUE(d.usable);  // the rest of the document still counts
}

TEST(DecodeHealthMetric, NonFiniteValuesAreIssues) {
  const auto d = Decode(Doc(
      R"({"steps":{"$numberDouble":"NaN"},"distance":{"$numberDouble":"Infinity"},"calories":{"$numberDouble":"-Infinity"}})"));
  ASSERT_EQ(d.issues.size(), 3u);
  EXPECT_EQ(d.issues[0].field, "metrics.steps");
  EXPECT_EQ(d.issues[0].reason, "non-finite");
  EXPECT_EQ(d.issues[0].value_json, R"({"$numberDouble":"NaN"})");
  EXPECT_EQ(d.issues[1].value_json, R"({"$numberDouble":"Infinity"})");
  EXPECT_EQ(d.issues[2].value_json, R"({"$numberDouble":"-Infinity"})");
  EXPECT_EQ(d.record.observed, 0u);
}

TEST(DecodeHealthMetric, OutOfRangeValuesAreRangeIssues) {
  const auto d = Decode(Doc(R"({"steps":150000,"weight":29.9,"sleepHours":24,"hydration":-0.5})"));
  ASSERT_EQ(d.issues.size(), 3u);
  EXPECT_EQ(d.issues[0].field, "metrics.steps");
  EXPECT_EQ(d.issues[0].reason, "range");
  EXPECT_EQ(d.issues[0].value_json, "150000");
  EXPECT_EQ(d.issues[1].field, "metrics.weight");
  EXPECT_EQ(d.issues[1].value_json, "29.9");
  EXPECT_EQ(d.issues[2].field, "metrics.hydration");
  EXPECT_TRUE(Observed(d, Metric::kSleepHours));  // 24 is inside 0..24
}

TEST(DecodeHealthMetric, ZeroFollowsZeroIsMissing) {
  const std::string json = Doc(R"({"steps":0,"weight":0,"sleepHours":0,"hydration":0.0})");
  const auto d = Decode(json);
  EXPECT_FALSE(Observed(d, Metric::kSteps));  // activity zero: no data
  EXPECT_TRUE(Observed(d, Metric::kSleepHours));
  EXPECT_TRUE(Observed(d, Metric::kHydration));
  ASSERT_EQ(d.issues.size(), 1u);  // weight 0 is outside 30..300
  EXPECT_EQ(d.issues[0].field, "metrics.weight");
  EXPECT_EQ(d.issues[0].reason, "range");

  AnalyticsOptions keep_zero;
  keep_zero.zero_is_missing = false;
  const auto k = Decode(json, keep_zero);
  EXPECT_TRUE(Observed(k, Metric::kSteps));
  EXPECT_EQ(ValueOf(k, Metric::kSteps), 0);
}

TEST(DecodeHealthMetric, WearableFieldsAreReportedUnlessNull) {
  const auto d =
      Decode(Doc(R"({"steps":5000,"heartRate":72,"oxygenSaturation":null,"bloodOxygen":"98%"})"));
  ASSERT_EQ(d.issues.size(), 2u);
  EXPECT_EQ(d.issues[0].field, "metrics.heartRate");
  EXPECT_EQ(d.issues[0].reason, "wearable");
  EXPECT_EQ(d.issues[0].value_json, "72");
  EXPECT_EQ(d.issues[1].field, "metrics.bloodOxygen");
  EXPECT_EQ(d.issues[1].reason, "wearable");
  EXPECT_TRUE(Observed(d, Metric::kSteps));
}

TEST(DecodeHealthMetric, UnknownMetricKeysAreIgnoredAndRepeatsCountOnce) {
  const auto d = Decode(Doc(R"({"floors":12,"steps":4000,"steps":"late"})"));
  EXPECT_TRUE(d.issues.empty());
  EXPECT_EQ(ValueOf(d, Metric::kSteps), 4000);
}

TEST(DecodeHealthMetric, MetricsThatIsNotAnObjectIsOneIssue) {
  const auto d = Decode(Doc(R"("steps: 5000")"));
  EXPECT_TRUE(d.usable);
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues[0].field, "metrics");
  EXPECT_EQ(d.issues[0].reason, "type");
  EXPECT_EQ(d.issues[0].value_json, R"("steps: 5000")");
  EXPECT_EQ(d.record.observed, 0u);

  EXPECT_TRUE(Decode(Doc("null")).issues.empty());
  EXPECT_TRUE(Decode(Doc("")).issues.empty());
  EXPECT_EQ(Decode(Doc("[1,2]")).issues.size(), 1u);
}

TEST(DecodeHealthMetric, MissingOrNullUserIdIsSkippedSilently) {
  for (
      const char* json :
      {R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":"bad"}})",
       R"({"userId":null,"date":"not a date","metrics":{"steps":"bad"}})"}) {
    const auto d = Decode(json);
    EXPECT_TRUE(d.skip) << json;
    EXPECT_FALSE(d.usable);
    EXPECT_TRUE(d.issues.empty()) << json;
  }
}

TEST(DecodeHealthMetric, HexStringUserIdIsUnusable) {
  const auto d = Decode(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"userId":"65a1b2c3d4e5f60718293a00","date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":"bad"}})");
  EXPECT_FALSE(d.skip);
  EXPECT_FALSE(d.usable);
  EXPECT_EQ(d.user_id, "65a1b2c3d4e5f60718293a00");  // the string as found
  ASSERT_EQ(d.issues.size(), 1u);                    // metrics are not examined
  EXPECT_EQ(d.issues[0].field, "userId");
  EXPECT_EQ(d.issues[0].reason, "type");
  EXPECT_EQ(d.issues[0].value_json, R"("65a1b2c3d4e5f60718293a00")");
}

TEST(DecodeHealthMetric, NonStringNonObjectIdIdsAreShownAsExtendedJson) {
  const auto d =
      Decode(R"({"_id":42,"userId":{"$numberLong":"7"},"date":{"$date":"2025-11-20T00:00:00Z"}})");
  EXPECT_EQ(d.doc_id, "42");
  EXPECT_EQ(d.user_id, R"({"$numberLong":"7"})");
  EXPECT_EQ(d.record.id, ObjectId{});
  EXPECT_FALSE(d.usable);
}

TEST(DecodeHealthMetric, StringDateIsATypeIssue) {
  const auto d = Decode(
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":"2025-11-20","metrics":{"steps":5000}})");
  EXPECT_FALSE(d.usable);
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues[0].field, "date");
  EXPECT_EQ(d.issues[0].reason, "type");
  EXPECT_EQ(d.issues[0].value_json, R"("2025-11-20")");
}

TEST(DecodeHealthMetric, MissingDateIsAMissingIssue) {
  for (const char* date : {"", R"(,"date":null)"}) {
    const auto d = Decode(std::string(R"({"userId":{"$oid":"65a1b2c3d4e5f60718293a00"})") + date +
                          R"(,"metrics":{"steps":5000}})");
    EXPECT_FALSE(d.usable);
    ASSERT_EQ(d.issues.size(), 1u);
    EXPECT_EQ(d.issues[0].field, "date");
    EXPECT_EQ(d.issues[0].reason, "missing");
    EXPECT_EQ(d.issues[0].value_json, "null");
    EXPECT_EQ(d.doc_id, "");  // no _id
  }
}

TEST(DecodeHealthMetric, BadUserIdAndBadDateAreBothReported) {
  const auto d = Decode(R"({"userId":true,"date":5})");
  ASSERT_EQ(d.issues.size(), 2u);
  EXPECT_EQ(d.issues[0].field, "userId");
  EXPECT_EQ(d.issues[1].field, "date");
}

TEST(DecodeHealthMetric, MissingOrNonDateUpdatedAtIsNullopt) {
  const std::string base =
      R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":"2025-11-20T08:00:00Z"})";
  auto d = Decode(base + "}");
  EXPECT_TRUE(d.usable);
  EXPECT_FALSE(d.updated_at.has_value());
  EXPECT_FALSE(d.record.updated_at.has_value());
  EXPECT_EQ(d.record.day, kDay);  // a date that is not midnight still belongs to its day
  d = Decode(base + R"(,"updatedAt":"2025-11-20T10:00:00Z"})");
  EXPECT_FALSE(d.updated_at.has_value());
  EXPECT_TRUE(d.issues.empty());
}

TEST(DecodeHealthMetric, DateBeforeTheEpochUsesFloorDays) {
  const auto d = Decode(
      R"({"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":{"$numberLong":"-1"}}})");
  EXPECT_EQ(d.record.day, -1);
}

TEST(DecodeHealthMetric, ExtremeDatesStayFarAwayWithoutOverflow) {
  const auto past = Decode(
      R"({"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":{"$numberLong":"-9223372036854775808"}},"updatedAt":{"$date":{"$numberLong":"9223372036854775807"}}})");
  EXPECT_TRUE(past.usable);
  EXPECT_LT(past.record.day, -1'000'000'000);
  EXPECT_EQ(*past.updated_at, INT64_MAX);
  const auto future = Decode(
      R"({"userId":{"$oid":"65a1b2c3d4e5f60718293a00"},"date":{"$date":{"$numberLong":"9223372036854775807"}}})");
  EXPECT_GT(future.record.day, 1'000'000'000);
}

TEST(DecodeHealthMetric, ReusesTheOutputAcrossDocuments) {
  DecodedHealthMetric out;
  BsonDoc bad = FromJson(Doc(R"({"steps":"x","weight":70})"));
  BsonDoc good = FromJson(Doc(R"({"steps":1234})"));
  DecodeHealthMetric(bad.get(), {}, &out);
  EXPECT_EQ(out.issues.size(), 1u);
  DecodeHealthMetric(good.get(), {}, &out);
  EXPECT_TRUE(out.issues.empty());
  EXPECT_EQ(out.record.observed, 1u);  // weight from the previous document is gone
  EXPECT_EQ(out.doc_id, kId);
}

}  // namespace
}  // namespace ha
