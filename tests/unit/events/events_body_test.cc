#include "events/events_body.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "sample_changes.h"

namespace ha {
namespace {

using nlohmann::json;
using testing::Change;
using testing::kCalculatedAt;
using testing::SampleSteps;
using testing::SampleWeight;
using testing::UserId;

TEST(PlainJson, WritesWhatMongooseToJsonWrites) {
  BsonDoc doc;
  bson_t* d = doc.get();
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "65a1b2c3d4e5f60718293a4b");
  BSON_APPEND_OID(d, "id", &oid);
  BSON_APPEND_DATE_TIME(d, "at", kCalculatedAt);
  BSON_APPEND_DATE_TIME(d, "before1970", -1);
  BSON_APPEND_DOUBLE(d, "whole", 8000.0);
  BSON_APPEND_DOUBLE(d, "fraction", 0.1);
  BSON_APPEND_DOUBLE(d, "nan", std::nan(""));
  BSON_APPEND_DOUBLE(d, "inf", std::numeric_limits<double>::infinity());
  BSON_APPEND_INT32(d, "int32", -7);
  BSON_APPEND_INT64(d, "int64", int64_t{1} << 40);
  BSON_APPEND_NULL(d, "null");
  BSON_APPEND_BOOL(d, "bool", true);
  BSON_APPEND_UTF8(d, "text", "a \"quoted\" line\n");
  bson_t child, point;
  BSON_APPEND_ARRAY_BEGIN(d, "array", &child);
  BSON_APPEND_DOCUMENT_BEGIN(&child, "0", &point);
  BSON_APPEND_DATE_TIME(&point, "date", 0);
  BSON_APPEND_DOUBLE(&point, "value", 1.5);
  bson_append_document_end(&child, &point);
  bson_append_array_end(d, &child);

  const std::string text = PlainJson(d);
  const json j = json::parse(text);
  EXPECT_EQ(j["id"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(j["at"], "2025-11-20T10:00:45.123Z");
  EXPECT_EQ(j["before1970"], "1969-12-31T23:59:59.999Z");
  ASSERT_TRUE(j["whole"].is_number());
  EXPECT_EQ(j["whole"].get<double>(), 8000.0);
  EXPECT_EQ(j["fraction"].get<double>(), 0.1);  // shortest round trip, exact
  EXPECT_NE(text.find(R"("whole":8000,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("fraction":0.1,)"), std::string::npos) << text;
  EXPECT_TRUE(j["nan"].is_null());
  EXPECT_TRUE(j["inf"].is_null());
  EXPECT_EQ(j["int32"], -7);
  EXPECT_EQ(j["int64"].get<int64_t>(), int64_t{1} << 40);
  EXPECT_TRUE(j["null"].is_null());
  EXPECT_EQ(j["bool"], true);
  EXPECT_EQ(j["text"], "a \"quoted\" line\n");
  EXPECT_EQ(j["array"], json::parse(R"([{"date":"1970-01-01T00:00:00.000Z","value":1.5}])"));
  EXPECT_EQ(text.find('$'), std::string::npos) << text;
  // Keys stay in the document's order.
  EXPECT_LT(text.find("\"id\""), text.find("\"at\""));
  EXPECT_LT(text.find("\"at\""), text.find("\"array\""));
}

TEST(EventItemJson, HoldsTheAnalyticsSubdocumentOnly) {
  const ObjectId user = UserId(1);
  const json item = json::parse(EventItemJson(Change(user, SampleSteps(), 0, true), kCalculatedAt));
  ASSERT_TRUE(item.is_object());
  EXPECT_EQ(item.size(), 5u) << item.dump();
  EXPECT_EQ(item["metricType"], "steps");
  EXPECT_EQ(item["timeRange"], "7day");
  EXPECT_EQ(item["operationType"], "insert");
  EXPECT_EQ(item["calculatedAt"], "2025-11-20T10:00:45.123Z");
  const json& a = item["analytics"];
  EXPECT_EQ(a["rollingAverage"].get<double>(), 8000.0);
  EXPECT_EQ(a["trend"], "up");
  EXPECT_EQ(a["anomalyDetected"], true);
  EXPECT_EQ(a["anomalyDetails"]["severity"], "high");
  EXPECT_EQ(a["anomalyDetails"]["expectedValue"].get<double>(), 6666.666666666667);
  EXPECT_EQ(a["anomalyDetails"]["detectedAt"], "2025-11-20T10:00:45.123Z");
  EXPECT_EQ(a["streakDays"], 3);
  EXPECT_TRUE(a["streakDays"].is_number_integer());
  EXPECT_EQ(a["longestStreak"], 10);
  EXPECT_EQ(a["streakStartDate"], "2025-11-18T00:00:00.000Z");
  EXPECT_EQ(a["percentile"].get<double>(), 92.857142857142861);
  EXPECT_EQ(a["comparisonToPrevious"]["isImprovement"], true);
  EXPECT_EQ(a["statistics"]["dataPointsCount"], 7);
  EXPECT_EQ(a["statistics"]["standardDeviation"].get<double>(), 3162.2776601683795);

  const json updated =
      json::parse(EventItemJson(Change(user, SampleWeight(), 2, false), kCalculatedAt));
  EXPECT_EQ(updated["metricType"], "weight");
  EXPECT_EQ(updated["timeRange"], "90day");
  EXPECT_EQ(updated["operationType"], "update");
  EXPECT_FALSE(updated["analytics"].contains("anomalyDetails"));
  EXPECT_EQ(updated["analytics"]["anomalyDetected"], false);
  EXPECT_TRUE(updated["analytics"]["streakStartDate"].is_null());
}

TEST(EventBodyJson, IsTheSpecShape) {
  const std::vector<std::string> items = {R"({"a":1})", R"({"b":2})"};
  const std::string text = EventBodyJson(UserId(3), items, 2, 3, "doc-\"id\"", 1763632845999);
  const json j = json::parse(text);
  EXPECT_EQ(j["userId"], UserId(3).ToHex());
  EXPECT_EQ(j["eventType"], "analytics:batch_update");
  EXPECT_EQ(j["data"]["analytics"], json::parse(R"([{"a":1},{"b":2}])"));
  EXPECT_EQ(j["data"]["count"], 2);
  EXPECT_EQ(j["data"]["batchIndex"], 2);
  EXPECT_EQ(j["data"]["totalBatches"], 3);
  EXPECT_EQ(j["data"]["documentId"], "doc-\"id\"");
  EXPECT_EQ(j["data"]["timestamp"].get<int64_t>(), 1763632845999);
  ASSERT_TRUE(j["data"]["timestamp"].is_number_integer()) << "epoch ms, not a date string";
  // The two fields the React dashboard reads from `data`.
  EXPECT_EQ(j["data"]["isBatch"], true);
  EXPECT_EQ(j["data"]["userId"], "65a1b2c3d4e5f60718290003");
  EXPECT_EQ(j.size(), 3u);
  EXPECT_EQ(j["data"].size(), 8u);
}

}  // namespace
}  // namespace ha
