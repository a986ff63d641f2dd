#include "codec/analytics_doc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/ejson.h"
#include "core/version.h"
#include "test_util.h"

namespace ha {
namespace {

using testing::DateAt;
using testing::DoubleAt;
using testing::StringAt;
using testing::TypeAt;

constexpr Day kToday = 20412;                           // 2025-11-20
constexpr Instant kClock = StartOf(kToday) + 36045123;  // 10:00:45.123Z
const ObjectId kUser = *ObjectId::FromHex("65a1b2c3d4e5f60718293a00");

MetricAnalytics Sample(bool anomaly, bool streak, std::optional<bool> improvement) {
  MetricAnalytics m;
  m.metric = Metric::kSteps;
  m.as_of = kToday - 1;
  m.streak_days = streak ? 3 : 0;
  m.longest_streak = 5;
  if (streak) m.streak_start = kToday - 3;
  for (int i = 0; i < kRangeCount; ++i) {
    RangeAnalytics& r = m.ranges[static_cast<size_t>(i)];
    r.range = static_cast<TimeRange>(i);
    r.rolling_average = 8000.5 + i;
    r.trend = "up";
    r.trend_percentage = 12.25;
    r.anomaly_detected = anomaly;
    if (anomaly) {
      r.anomaly.severity = "high";
      r.anomaly.actual_value = 20000;
      r.anomaly.expected_value = 8000;
      r.anomaly.deviation = 3.5;
      r.anomaly.message = "Steps 150% above average for this period";
    }
    r.percentile = 50;
    r.absolute_change = 1000;
    r.percentage_change = 12.25;
    r.is_improvement = improvement;
    r.standard_deviation = 0;
    r.min_value = 8000;
    r.max_value = 8001;
    r.median_value = 8000;
    r.data_points_count = 2;
    r.completeness_percentage = 100.0 * 2 / kRangeDays[static_cast<size_t>(i)];
    r.historical = {{kToday - 2, 8000}, {kToday - 1, 8001}};
  }
  return m;
}

WriteStamp Stamp() {
  WriteStamp s;
  s.calculated_at = kClock;
  s.result_ttl_days = 90;
  s.spark_job_id = "health-analytics:42";
  s.processing_duration_ms = 17;
  return s;
}

std::vector<std::string> TopLevelKeys(const bson_t* doc) {
  std::vector<std::string> keys;
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) keys.emplace_back(bson_iter_key(&it));
  return keys;
}

TEST(EncodeAnalyticsDocument, HasTheSpecShapeInOrder) {
  BsonDoc doc = EncodeAnalyticsDocument(kUser, Sample(true, true, true), 1, Stamp());
  EXPECT_EQ(TopLevelKeys(doc.get()),
            (std::vector<std::string>{"userId", "metricType", "timeRange", "analytics",
                                      "historicalData", "asOfDate", "calculatedAt", "expiresAt",
                                      "metadata", "createdAt", "updatedAt", "__v"}));
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init_find(&it, doc.get(), "analytics"));
  bson_iter_t a;
  bson_iter_recurse(&it, &a);
  std::vector<std::string> keys;
  while (bson_iter_next(&a)) keys.emplace_back(bson_iter_key(&a));
  EXPECT_EQ(keys, (std::vector<std::string>{"rollingAverage", "trend", "trendPercentage",
                                            "anomalyDetected", "anomalyDetails", "streakDays",
                                            "longestStreak", "streakStartDate", "percentile",
                                            "comparisonToPrevious", "statistics"}));
}

TEST(EncodeAnalyticsDocument, UsesTheSpecTypesFieldByField) {
  BsonDoc d = EncodeAnalyticsDocument(kUser, Sample(true, true, false), 1, Stamp());
  const bson_t* doc = d.get();
  EXPECT_EQ(TypeAt(doc, "userId"), BSON_TYPE_OID);
  EXPECT_EQ(StringAt(doc, "metricType"), "steps");
  EXPECT_EQ(StringAt(doc, "timeRange"), "30day");
  for (const char* path :
       {"analytics.rollingAverage", "analytics.trendPercentage", "analytics.percentile",
        "analytics.anomalyDetails.actualValue", "analytics.anomalyDetails.expectedValue",
        "analytics.anomalyDetails.deviation", "analytics.comparisonToPrevious.absoluteChange",
        "analytics.comparisonToPrevious.percentageChange", "analytics.statistics.standardDeviation",
        "analytics.statistics.minValue", "analytics.statistics.maxValue",
        "analytics.statistics.medianValue", "analytics.statistics.completenessPercentage",
        "historicalData.0.value", "historicalData.1.value"})
    EXPECT_EQ(TypeAt(doc, path), BSON_TYPE_DOUBLE) << path;
  for (const char* path :
       {"analytics.streakDays", "analytics.longestStreak", "analytics.statistics.dataPointsCount",
        "metadata.processingDurationMs", "metadata.dataPointsProcessed", "__v"})
    EXPECT_EQ(TypeAt(doc, path), BSON_TYPE_INT32) << path;
  for (const char* path :
       {"analytics.anomalyDetails.detectedAt", "analytics.streakStartDate", "historicalData.0.date",
        "asOfDate", "calculatedAt", "expiresAt", "createdAt", "updatedAt"})
    EXPECT_EQ(TypeAt(doc, path), BSON_TYPE_DATE_TIME) << path;
  EXPECT_EQ(TypeAt(doc, "analytics.anomalyDetected"), BSON_TYPE_BOOL);
  EXPECT_EQ(TypeAt(doc, "analytics.comparisonToPrevious.isImprovement"), BSON_TYPE_BOOL);
  EXPECT_EQ(TypeAt(doc, "historicalData"), BSON_TYPE_ARRAY);
  EXPECT_EQ(TypeAt(doc, "_id"), BSON_TYPE_EOD);

  EXPECT_EQ(DoubleAt(doc, "analytics.rollingAverage"), 8001.5);
  EXPECT_EQ(DoubleAt(doc, "analytics.statistics.completenessPercentage"), 100.0 * 2 / 30);
  EXPECT_EQ(DoubleAt(doc, "analytics.statistics.dataPointsCount"), 2);
  EXPECT_EQ(StringAt(doc, "analytics.trend"), "up");
  EXPECT_EQ(StringAt(doc, "analytics.anomalyDetails.severity"), "high");
  EXPECT_EQ(StringAt(doc, "analytics.anomalyDetails.message"),
            "Steps 150% above average for this period");
  EXPECT_EQ(DateAt(doc, "analytics.anomalyDetails.detectedAt"), kClock);
  EXPECT_EQ(DateAt(doc, "analytics.streakStartDate"), StartOf(kToday - 3));
  EXPECT_EQ(DateAt(doc, "historicalData.0.date"), StartOf(kToday - 2));
  EXPECT_EQ(DoubleAt(doc, "historicalData.1.value"), 8001);
  EXPECT_EQ(DateAt(doc, "asOfDate"), StartOf(kToday - 1));
  EXPECT_EQ(DateAt(doc, "calculatedAt"), kClock);
  EXPECT_EQ(DateAt(doc, "createdAt"), kClock);
  EXPECT_EQ(DateAt(doc, "updatedAt"), kClock);
  EXPECT_EQ(DateAt(doc, "expiresAt"), kClock + 90 * kMillisPerDay);
  EXPECT_EQ(StringAt(doc, "metadata.sparkJobId"), "health-analytics:42");
  EXPECT_EQ(StringAt(doc, "metadata.sparkVersion"), std::string("health-analytics ") + kVersion);
  EXPECT_EQ(DoubleAt(doc, "metadata.processingDurationMs"), 17);
}

TEST(EncodeAnalyticsDocument, OmitsAnomalyDetailsAndWritesNulls) {
  BsonDoc d = EncodeAnalyticsDocument(kUser, Sample(false, false, std::nullopt), 0, Stamp());
  const bson_t* doc = d.get();
  EXPECT_EQ(TypeAt(doc, "analytics.anomalyDetails"), BSON_TYPE_EOD);
  bson_iter_t it = testing::IterAt(doc, "analytics.anomalyDetected");
  EXPECT_FALSE(bson_iter_bool(&it));
  EXPECT_EQ(TypeAt(doc, "analytics.comparisonToPrevious.isImprovement"), BSON_TYPE_NULL);
  EXPECT_EQ(TypeAt(doc, "analytics.streakStartDate"), BSON_TYPE_NULL);
  EXPECT_EQ(StringAt(doc, "timeRange"), "7day");
}

TEST(AppendAnalyticsFields, LeavesOutTheInsertOnlyFields) {
  BsonDoc d;
  AppendAnalyticsFields(d.get(), kUser, Sample(false, true, true), 2, Stamp());
  EXPECT_EQ(
      TopLevelKeys(d.get()),
      (std::vector<std::string>{"userId", "metricType", "timeRange", "analytics", "historicalData",
                                "asOfDate", "calculatedAt", "expiresAt", "metadata", "updatedAt"}));
  EXPECT_EQ(StringAt(d.get(), "timeRange"), "90day");
}

TEST(EncodeAnalyticsDocument, RelaxedJsonOfAWholeNumberDoubleStaysADouble) {
  BsonDoc d = EncodeAnalyticsDocument(kUser, Sample(false, false, true), 0, Stamp());
  const std::string json = ToRelaxedJson(d.get());
  EXPECT_NE(json.find(R"("percentile":50.0)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("dataPointsCount":2,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("calculatedAt":{"$date":"2025-11-20T10:00:45.123Z"})"), std::string::npos)
      << json;
}

// --- DeterministicDigest -------------------------------------------------------------------

uint64_t DigestOf(const MetricAnalytics& m, int range, const WriteStamp& s) {
  BsonDoc d = EncodeAnalyticsDocument(kUser, m, range, s);
  return DeterministicDigest(d.get());
}

// The same content built another way: the top-level fields copied in reverse order, with an
// _id and an unknown field in between (as an operator's or another writer's document may be).
TEST(DeterministicDigest, EqualForEqualContentInAnyTopLevelOrder) {
  BsonDoc fresh = EncodeAnalyticsDocument(kUser, Sample(true, true, true), 0, Stamp());
  // The keys, not the iterators: bson_iter_t asks for 128-byte alignment, which a vector's
  // elements do not get (UBSan reports the misaligned stores).
  std::vector<std::string> fields;
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init(&it, fresh.get()));
  while (bson_iter_next(&it)) fields.emplace_back(bson_iter_key(&it));
  ASSERT_GE(fields.size(), 6u);
  BsonDoc reordered;
  for (size_t i = fields.size(); i-- > 0;) {
    bson_iter_t field;
    ASSERT_TRUE(bson_iter_init_find(&field, fresh.get(), fields[i].c_str()));
    ASSERT_TRUE(bson_append_iter(reordered.get(), nullptr, 0, &field));
    if (i == fields.size() / 2) {
      BSON_APPEND_UTF8(reordered.get(), "note", "added by hand");
      bson_oid_t id;
      bson_oid_init_from_string(&id, "6560f0c2a1b2c3d4e5f60718");
      BSON_APPEND_OID(reordered.get(), "_id", &id);
    }
  }
  EXPECT_NE(ToRelaxedJson(reordered.get()), ToRelaxedJson(fresh.get()));
  EXPECT_EQ(DeterministicDigest(reordered.get()), DeterministicDigest(fresh.get()));
}

TEST(DeterministicDigest, IgnoresClockMetadataAndInsertFields) {
  WriteStamp later = Stamp();
  later.calculated_at += 86'400'000;  // also moves expiresAt, updatedAt, detectedAt, createdAt
  later.spark_job_id = "health-analytics:43";
  later.processing_duration_ms = 99;
  later.result_ttl_days = 30;
  const MetricAnalytics m = Sample(true, true, true);
  EXPECT_EQ(DigestOf(m, 0, Stamp()), DigestOf(m, 0, later));

  // The $set fields alone digest like the whole document.
  BsonDoc fields;
  AppendAnalyticsFields(fields.get(), kUser, m, 0, later);
  EXPECT_EQ(DeterministicDigest(fields.get()), DigestOf(m, 0, Stamp()));
}

TEST(DeterministicDigest, SameForTheDocumentReadBackFromMongoDB) {
  const MetricAnalytics m = Sample(true, true, true);
  BsonDoc fresh = EncodeAnalyticsDocument(kUser, m, 1, Stamp());
  // As stored: _id first, then the fields in the order they were written (via JSON to be sure
  // nothing depends on the in-memory layout).
  BsonDoc stored;
  bson_oid_t id;
  bson_oid_init_from_string(&id, "6560f0c2a1b2c3d4e5f60718");
  bson_reinit(stored.get());
  BSON_APPEND_OID(stored.get(), "_id", &id);
  bson_concat(stored.get(), fresh.get());
  auto reread = ParseExtendedJsonLine(ToRelaxedJson(stored.get()));
  ASSERT_TRUE(reread.ok()) << reread.status().message();
  EXPECT_EQ(DeterministicDigest(reread->get()), DeterministicDigest(fresh.get()));
}

TEST(DeterministicDigest, DiffersWhenVisibleContentDiffers) {
  const uint64_t base = DigestOf(Sample(true, true, true), 0, Stamp());
  EXPECT_NE(DigestOf(Sample(true, true, true), 1, Stamp()), base);   // timeRange
  EXPECT_NE(DigestOf(Sample(false, true, true), 0, Stamp()), base);  // anomaly
  EXPECT_NE(DigestOf(Sample(true, false, true), 0, Stamp()), base);  // streak
  EXPECT_NE(DigestOf(Sample(true, true, false), 0, Stamp()), base);  // isImprovement
  EXPECT_NE(DigestOf(Sample(true, true, std::nullopt), 0, Stamp()), base);

  MetricAnalytics m = Sample(true, true, true);
  m.ranges[0].rolling_average += 1e-9;
  EXPECT_NE(DigestOf(m, 0, Stamp()), base);
  m = Sample(true, true, true);
  m.ranges[0].historical.back().second = 8002;
  EXPECT_NE(DigestOf(m, 0, Stamp()), base);
  m = Sample(true, true, true);
  m.as_of -= 1;
  EXPECT_NE(DigestOf(m, 0, Stamp()), base);
  m = Sample(true, true, true);
  m.metric = Metric::kDistance;
  EXPECT_NE(DigestOf(m, 0, Stamp()), base);
  m = Sample(true, true, true);
  m.ranges[0].anomaly.message = "Steps 151% above average for this period";
  EXPECT_NE(DigestOf(m, 0, Stamp()), base);

  BsonDoc other_user = EncodeAnalyticsDocument(*ObjectId::FromHex("65a1b2c3d4e5f60718293a01"),
                                               Sample(true, true, true), 0, Stamp());
  EXPECT_NE(DeterministicDigest(other_user.get()), base);
}

TEST(DeterministicDigest, SeesTypeChanges) {
  // The old job stored counts as doubles: a rewrite must fix them.
  BsonDoc as_int = testing::FromJson(R"({"analytics":{"streakDays":3}})");
  BsonDoc as_double = testing::FromJson(R"({"analytics":{"streakDays":3.0}})");
  EXPECT_NE(DeterministicDigest(as_int.get()), DeterministicDigest(as_double.get()));
  BsonDoc nested = testing::FromJson(R"({"analytics":{"a":{"b":1},"c":2}})");
  BsonDoc flat = testing::FromJson(R"({"analytics":{"a":{"b":1,"c":2}}})");
  EXPECT_NE(DeterministicDigest(nested.get()), DeterministicDigest(flat.get()));
}

}  // namespace
}  // namespace ha

// --- metadata.contentDigest ----------------------------------------------------------------

namespace ha {
namespace {

TEST(ContentDigestHex, IsSixteenLowercaseHexDigits) {
  EXPECT_EQ(ContentDigestHex(0x0123456789ABCDEFULL), "0123456789abcdef");
  EXPECT_EQ(ContentDigestHex(1), "0000000000000001");
  EXPECT_EQ(ContentDigestHex(~0ULL), "ffffffffffffffff");
}

TEST(StoredContentDigest, IsTheDigestOfTheEncodedDocument) {
  const MetricAnalytics m = Sample(true, true, true);
  BsonDoc doc;
  const uint64_t returned = AppendAnalyticsDocument(doc.get(), kUser, m, 2, Stamp());
  // Recomputed over the whole document, which the digest does not cover metadata of.
  EXPECT_EQ(returned, DeterministicDigest(doc.get()));
  EXPECT_EQ(StoredContentDigest(doc.get()), returned);
  EXPECT_EQ(StringAt(doc.get(), "metadata.contentDigest"), ContentDigestHex(returned));
  BsonDoc fields;
  EXPECT_EQ(AppendAnalyticsFields(fields.get(), kUser, m, 2, Stamp()), returned);
  EXPECT_EQ(StoredContentDigest(fields.get()), returned);
}

TEST(StoredContentDigest, AbsentOrMalformedIsNone) {
  auto with = [](const char* json) {
    auto d = ParseExtendedJsonLine(json);
    EXPECT_TRUE(d.ok());
    return StoredContentDigest(d->get());
  };
  EXPECT_EQ(with(R"({"metadata": {"contentDigest": "00000000000000ff"}})"), 255u);
  EXPECT_FALSE(with(R"({"metadata": {"sparkJobId": "x"}})").has_value());
  EXPECT_FALSE(with(R"({"other": 1})").has_value());
  EXPECT_FALSE(with(R"({"metadata": {"contentDigest": "00000000000000FF"}})").has_value());
  EXPECT_FALSE(with(R"({"metadata": {"contentDigest": "ff"}})").has_value());
  EXPECT_FALSE(with(R"({"metadata": {"contentDigest": "000000000000000g"}})").has_value());
  EXPECT_FALSE(with(R"({"metadata": {"contentDigest": 255}})").has_value());
}

}  // namespace
}  // namespace ha
