// `health-analytics compute`, run as a real process.
#include <bson/bson.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/process.h"

namespace ha::testing {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kNow = "--now 2025-11-20T10:00:00Z";  // today = 2025-11-20
constexpr const char* kUserA = "65a000000000000000000002";
constexpr const char* kUserB = "65a000000000000000000001";  // sorts before A

int next_id = 0;

// One healthmetrics line (relaxed Extended JSON as mongoexport writes it).
std::string Doc(const std::string& user, const std::string& day, const std::string& metrics,
                const std::string& updated = "", const std::string& id = "") {
  char hex[25];
  std::snprintf(hex, sizeof hex, "6560%020d", ++next_id);
  return R"({"_id":{"$oid":")" + (id.empty() ? std::string(hex) : id) + R"("},"userId":{"$oid":")" +
         user + R"("},"date":{"$date":")" + day + R"(T00:00:00Z"},"metrics":)" + metrics +
         R"(,"source":"manual","updatedAt":{"$date":")" +
         (updated.empty() ? day + "T20:00:00.000Z" : updated) + R"("},"__v":0})";
}

std::vector<Json> ParseOutput(const std::string& out) {
  std::vector<Json> docs;
  for (const std::string& line : Lines(out)) docs.push_back(Json::parse(line));
  return docs;
}

std::string Date(const std::string& day) { return day + "T00:00:00.000Z"; }

TEST(Compute, HandWorkedThreeDaysOfSteps) {
  TempDir dir;
  WriteFile(dir / "in.jsonl", Doc(kUserA, "2025-11-18", R"({"steps":8000})") + "\n" +
                                  Doc(kUserA, "2025-11-19", R"({"steps":10000})") + "\n" +
                                  Doc(kUserA, "2025-11-20", R"({"steps":12000})") + "\n");
  const RunResult r = RunBinary(dir, std::string("compute ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto docs = ParseOutput(r.out);
  ASSERT_EQ(docs.size(), 3u) << r.out;

  const Json& d = docs[0];
  // The section 4 shape, in order, without _id.
  std::vector<std::string> keys;
  for (const auto& [k, v] : d.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"userId", "metricType", "timeRange", "analytics",
                                      "historicalData", "asOfDate", "calculatedAt", "expiresAt",
                                      "metadata", "createdAt", "updatedAt", "__v"}));
  EXPECT_EQ(d["userId"]["$oid"], kUserA);
  EXPECT_EQ(d["metricType"], "steps");
  EXPECT_EQ(d["timeRange"], "7day");
  const Json& a = d["analytics"];
  EXPECT_TRUE(a["rollingAverage"].is_number_float());
  EXPECT_EQ(a["rollingAverage"].get<double>(), 10000.0);
  EXPECT_EQ(a["trend"], "stable");
  EXPECT_EQ(a["trendPercentage"].get<double>(), 0.0);
  EXPECT_EQ(a["anomalyDetected"], false);
  EXPECT_FALSE(a.contains("anomalyDetails"));  // baseline of 2 < ANOMALY_MIN_BASELINE
  // Default goal 10000: the 19th and today meet it.
  EXPECT_EQ(a["streakDays"], 2);
  EXPECT_TRUE(a["streakDays"].is_number_integer());
  EXPECT_EQ(a["longestStreak"], 2);
  EXPECT_EQ(a["streakStartDate"]["$date"], Date("2025-11-19"));
  // x = 12000: two values below it, one equal: 100 * (2 + 0.5) / 3.
  EXPECT_DOUBLE_EQ(a["percentile"].get<double>(), 100.0 * 2.5 / 3);
  EXPECT_EQ(a["comparisonToPrevious"]["absoluteChange"].get<double>(), 0.0);
  EXPECT_EQ(a["comparisonToPrevious"]["percentageChange"].get<double>(), 0.0);
  EXPECT_TRUE(a["comparisonToPrevious"]["isImprovement"].is_null());  // no previous window
  const Json& s = a["statistics"];
  EXPECT_EQ(s["standardDeviation"].get<double>(), 2000.0);  // sqrt((2000^2 + 0 + 2000^2) / 2)
  EXPECT_EQ(s["minValue"].get<double>(), 8000.0);
  EXPECT_EQ(s["maxValue"].get<double>(), 12000.0);
  EXPECT_EQ(s["medianValue"].get<double>(), 10000.0);
  EXPECT_EQ(s["dataPointsCount"], 3);
  EXPECT_TRUE(s["dataPointsCount"].is_number_integer());
  EXPECT_DOUBLE_EQ(s["completenessPercentage"].get<double>(), 100.0 * 3 / 7);
  ASSERT_EQ(d["historicalData"].size(), 3u);
  EXPECT_EQ(d["historicalData"][0]["date"]["$date"], Date("2025-11-18"));
  EXPECT_EQ(d["historicalData"][0]["value"].get<double>(), 8000.0);
  EXPECT_TRUE(d["historicalData"][0]["value"].is_number_float());
  EXPECT_EQ(d["historicalData"][2]["date"]["$date"], Date("2025-11-20"));
  EXPECT_EQ(d["asOfDate"]["$date"], Date("2025-11-20"));
  EXPECT_EQ(d["calculatedAt"]["$date"], "2025-11-20T10:00:00.000Z");
  EXPECT_EQ(d["expiresAt"]["$date"], "2026-02-18T10:00:00.000Z");  // + 90 days
  EXPECT_EQ(d["createdAt"], d["calculatedAt"]);
  EXPECT_EQ(d["updatedAt"], d["calculatedAt"]);
  EXPECT_EQ(d["__v"], 0);
  EXPECT_EQ(d["metadata"]["sparkJobId"], "health-analytics:compute");
  EXPECT_EQ(d["metadata"]["processingDurationMs"], 0);
  EXPECT_EQ(d["metadata"]["dataPointsProcessed"], 3);
  EXPECT_EQ(d["metadata"]["sparkVersion"].get<std::string>().rfind("health-analytics ", 0), 0u);

  EXPECT_EQ(docs[1]["timeRange"], "30day");
  EXPECT_DOUBLE_EQ(docs[1]["analytics"]["statistics"]["completenessPercentage"].get<double>(),
                   10.0);
  EXPECT_EQ(docs[2]["timeRange"], "90day");
  EXPECT_DOUBLE_EQ(docs[2]["analytics"]["statistics"]["completenessPercentage"].get<double>(),
                   100.0 * 3 / 90);
  EXPECT_EQ(docs[2]["analytics"]["streakDays"], 2);  // the same in every range
}

TEST(Compute, PreviousWindowAndGoalsFromTheUsersFile) {
  TempDir dir;
  WriteFile(dir / "in.jsonl", Doc(kUserB, "2025-11-12", R"({"steps":6000})") + "\n" +
                                  Doc(kUserB, "2025-11-13", R"({"steps":6000})") + "\n" +
                                  Doc(kUserB, "2025-11-19", R"({"steps":9000})") + "\n" +
                                  Doc(kUserB, "2025-11-20", R"({"steps":9000})") + "\n");
  // The later line for an _id wins: stepGoal 9500, which neither day meets (9000 would).
  WriteFile(dir / "users.jsonl",
            std::string(R"({"_id":{"$oid":")") + kUserB + R"("},"goals":{"stepGoal":9000}})" +
                "\n" + R"({"_id":{"$oid":")" + kUserB + R"("},"goals":{"stepGoal":9500}})" + "\n");
  const RunResult r =
      RunBinary(dir, std::string("compute --users users.jsonl ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto docs = ParseOutput(r.out);
  ASSERT_EQ(docs.size(), 3u);
  // 7day: W = {9000, 9000} (19th, 20th); P = days 7..13 = {6000, 6000}.
  const Json& a = docs[0]["analytics"];
  EXPECT_EQ(a["rollingAverage"].get<double>(), 9000.0);
  EXPECT_EQ(a["statistics"]["standardDeviation"].get<double>(), 0.0);
  EXPECT_EQ(a["comparisonToPrevious"]["absoluteChange"].get<double>(), 3000.0);
  EXPECT_EQ(a["comparisonToPrevious"]["percentageChange"].get<double>(), 50.0);
  EXPECT_EQ(a["comparisonToPrevious"]["isImprovement"], true);
  EXPECT_EQ(a["trendPercentage"].get<double>(), 50.0);
  EXPECT_EQ(a["trend"], "up");
  EXPECT_EQ(a["percentile"].get<double>(), 50.0);
  EXPECT_EQ(a["streakDays"], 0);
  EXPECT_EQ(a["longestStreak"], 0);
  EXPECT_TRUE(a["streakStartDate"].is_null());
  // 30day: W = all four days, mean 7500; P (days -59..-30) is empty.
  const Json& b = docs[1]["analytics"];
  EXPECT_EQ(b["rollingAverage"].get<double>(), 7500.0);
  EXPECT_EQ(b["statistics"]["medianValue"].get<double>(), 7500.0);
  EXPECT_TRUE(b["comparisonToPrevious"]["isImprovement"].is_null());
  EXPECT_EQ(b["trend"], "stable");
}

TEST(Compute, OrdersByUserIdThenMetricTypeThenRange) {
  TempDir dir;
  WriteFile(dir / "in.jsonl",
            Doc(kUserA, "2025-11-20", R"({"weight":70.5,"steps":5000,"sleepHours":7})") + "\n" +
                Doc(kUserB, "2025-11-19", R"({"steps":4000,"activeMinutes":30})") + "\n");
  const RunResult r = RunBinary(dir, std::string("compute ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  for (const Json& d : ParseOutput(r.out))
    got.emplace_back(d["userId"]["$oid"], d["metricType"], d["timeRange"]);
  std::vector<std::tuple<std::string, std::string, std::string>> want;
  for (const auto& [user, metric] :
       std::vector<std::pair<std::string, std::string>>{{kUserB, "activeMinutes"},
                                                        {kUserB, "steps"},
                                                        {kUserA, "sleepHours"},
                                                        {kUserA, "steps"},
                                                        {kUserA, "weight"}})
    for (const char* range : {"7day", "30day", "90day"}) want.emplace_back(user, metric, range);
  EXPECT_EQ(got, want);
}

TEST(Compute, OnAnExactTieTheEarlierLineWins) {
  TempDir dir;
  const std::string id = "6560aaaaaaaaaaaaaaaaaaaa";
  const std::string t = "2025-11-20T08:00:00.000Z";
  const std::string first = Doc(kUserA, "2025-11-20", R"({"steps":12000})", t, id);
  const std::string second = Doc(kUserA, "2025-11-20", R"({"steps":5000})", t, id);
  WriteFile(dir / "ab.jsonl", first + "\n" + second + "\n");
  WriteFile(dir / "ba.jsonl", second + "\n" + first + "\n");
  const RunResult ab = RunBinary(dir, std::string("compute ") + kNow, dir / "ab.jsonl");
  const RunResult ba = RunBinary(dir, std::string("compute ") + kNow, dir / "ba.jsonl");
  ASSERT_EQ(ab.exit_code, 0);
  ASSERT_EQ(ba.exit_code, 0);
  EXPECT_EQ(ParseOutput(ab.out)[0]["analytics"]["rollingAverage"].get<double>(), 12000.0);
  EXPECT_EQ(ParseOutput(ba.out)[0]["analytics"]["rollingAverage"].get<double>(), 5000.0);

  // Without a tie the greatest (updatedAt, _id) wins whatever the line order.
  const std::string later = Doc(kUserA, "2025-11-20", R"({"steps":7000})",
                                "2025-11-20T09:00:00.000Z", "6560000000000000000000ff");
  WriteFile(dir / "c.jsonl", later + "\n" + first + "\n");
  const RunResult c = RunBinary(dir, std::string("compute ") + kNow, dir / "c.jsonl");
  EXPECT_EQ(ParseOutput(c.out)[0]["analytics"]["rollingAverage"].get<double>(), 7000.0);
}

TEST(Compute, ABadLineIsReportedAndSkippedTheRestIsComplete) {
  TempDir dir;
  const std::string l1 = Doc(kUserA, "2025-11-19", R"({"steps":8000})");
  const std::string l3 = Doc(kUserB, "2025-11-20", R"({"steps":9000})");
  const std::string l5 = Doc(kUserA, "2025-11-20", R"({"steps":10000})");
  WriteFile(dir / "bad.jsonl", l1 + "\n{\"_id\": oops}\n" + l3 + "\n   \n" + l5 + "\n");
  WriteFile(dir / "good.jsonl", l1 + "\n" + l3 + "\n" + l5);  // no final newline either
  const RunResult bad = RunBinary(dir, std::string("compute ") + kNow, dir / "bad.jsonl");
  const RunResult good = RunBinary(dir, std::string("compute ") + kNow, dir / "good.jsonl");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("stdin line 2:"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find("line 4"), std::string::npos) << "a blank line is not an error";
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(bad.out, good.out);
  EXPECT_EQ(Lines(good.out).size(), 6u);

  WriteFile(dir / "users.jsonl", "\n{\"_id\":\n");
  const RunResult users =
      RunBinary(dir, std::string("compute --users users.jsonl ") + kNow, dir / "good.jsonl");
  EXPECT_EQ(users.exit_code, 1);
  EXPECT_NE(users.err.find("users.jsonl line 2:"), std::string::npos) << users.err;
  EXPECT_EQ(users.out, good.out);
}

TEST(Compute, WritesDeadLettersInTheEngineShape) {
  TempDir dir;
  const std::string id1 = "6560000000000000000000a1", id2 = "6560000000000000000000a2",
                    id3 = "6560000000000000000000a3";
  WriteFile(
      dir / "in.jsonl",
      Doc(kUserA, "2025-11-20",
          R"({"steps":"abc","calories":{"$numberDouble":"NaN"},"sleepHours":30,"heartRate":72,"weight":70})",
          "2025-11-20T08:00:00.000Z", id1) +
          "\n" + R"({"_id":{"$oid":")" + id2 +
          R"("},"userId":"65a000000000000000000002","date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":1}})" +
          "\n" + R"({"_id":{"$oid":")" + id3 + R"("},"userId":{"$oid":")" + kUserA +
          R"("},"date":"2025-11-19","metrics":{"steps":1}})" + "\n" +
          R"({"_id":{"$oid":"6560000000000000000000a4"},"metrics":{"steps":"x"}})" + "\n");
  const RunResult r =
      RunBinary(dir, std::string("compute --dead-letters dl.jsonl ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = Lines(ReadFile(dir / "dl.jsonl"));
  ASSERT_EQ(lines.size(), 6u) << ReadFile(dir / "dl.jsonl");
  std::vector<Json> dl;
  for (const auto& l : lines) dl.push_back(Json::parse(l));
  std::vector<std::string> keys;
  for (const auto& [k, v] : dl[0].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"recorded_at", "batch_id", "doc_id", "user_id",
                                            "updated_at", "field", "reason", "value"}));
  EXPECT_EQ(dl[0]["recorded_at"], "2025-11-20T10:00:00.000Z");
  EXPECT_EQ(dl[0]["batch_id"], 0);
  EXPECT_EQ(dl[0]["doc_id"], id1);
  EXPECT_EQ(dl[0]["user_id"], kUserA);
  EXPECT_EQ(dl[0]["updated_at"], "2025-11-20T08:00:00.000Z");
  const std::vector<std::tuple<std::string, std::string, Json>> want = {
      {"metrics.steps", "type", "abc"},
      {"metrics.calories", "non-finite", Json{{"$numberDouble", "NaN"}}},
      {"metrics.sleepHours", "range", 30},
      {"metrics.heartRate", "wearable", 72},
      {"userId", "type", "65a000000000000000000002"},
      {"date", "type", "2025-11-19"},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(dl[i]["field"], std::get<0>(want[i])) << i;
    EXPECT_EQ(dl[i]["reason"], std::get<1>(want[i])) << i;
    EXPECT_EQ(dl[i]["value"], std::get<2>(want[i])) << i;
  }
  EXPECT_EQ(dl[4]["doc_id"], id2);
  EXPECT_EQ(dl[4]["user_id"], "65a000000000000000000002");  // the string as found
  EXPECT_TRUE(dl[4]["updated_at"].is_null());
  EXPECT_EQ(dl[5]["doc_id"], id3);
  // The valid weight of the first document still counts: weight analytics for user A.
  const auto docs = ParseOutput(r.out);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["metricType"], "weight");
}

TEST(Compute, ZeroIsMissingAndHistoryDaysAreHonoured) {
  TempDir dir;
  WriteFile(dir / "in.jsonl", Doc(kUserA, "2025-11-10", R"({"steps":3000})") + "\n" +
                                  Doc(kUserA, "2025-11-20", R"({"steps":0})") + "\n");
  RunResult r = RunBinary(dir, std::string("compute ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(ParseOutput(r.out)[0]["asOfDate"]["$date"], Date("2025-11-10"));  // 0 = no data
  r = RunBinary(dir, std::string("compute --zero-is-missing false ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseOutput(r.out)[0]["asOfDate"]["$date"], Date("2025-11-20"));
  EXPECT_EQ(ParseOutput(r.out)[0]["analytics"]["rollingAverage"].get<double>(), 0.0);
  // A 5-day horizon leaves the 10th out, and with it every observation.
  r = RunBinary(dir, std::string("compute --history-days 5 ") + kNow, dir / "in.jsonl");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  // The environment and ./.env work like the flags; a flag beats the environment.
  r = RunBinary(dir, std::string("compute ") + kNow, dir / "in.jsonl", "HISTORY_DAYS=5");
  EXPECT_EQ(r.out, "");
  r = RunBinary(dir, std::string("compute --history-days 180 ") + kNow, dir / "in.jsonl",
                "HISTORY_DAYS=5");
  EXPECT_EQ(Lines(r.out).size(), 3u);
  WriteFile(dir / ".env", "ZERO_IS_MISSING=false\n");
  r = RunBinary(dir, std::string("compute ") + kNow, dir / "in.jsonl");
  EXPECT_EQ(ParseOutput(r.out)[0]["asOfDate"]["$date"], Date("2025-11-20"));
  r = RunBinary(dir, std::string("compute --result-ttl-days 1 ") + kNow, dir / "in.jsonl");
  EXPECT_EQ(ParseOutput(r.out)[0]["expiresAt"]["$date"], "2025-11-21T10:00:00.000Z");
}

TEST(Compute, CanonicalAndRelaxedInputGiveTheSameOutput) {
  TempDir dir;
  std::string relaxed, canonical;
  for (const std::string& line :
       {Doc(kUserA, "2025-11-18", R"({"steps":8000,"distance":5.5,"weight":70.25})"),
        Doc(kUserA, "2025-11-20", R"({"steps":9000,"distance":6,"hydration":1.5})")}) {
    relaxed += line + "\n";
    bson_error_t error;
    bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                   static_cast<ssize_t>(line.size()), &error);
    ASSERT_NE(b, nullptr) << error.message;
    char* c = bson_as_canonical_extended_json(b, nullptr);
    canonical += std::string(c) + "\n";
    bson_free(c);
    bson_destroy(b);
  }
  WriteFile(dir / "relaxed.jsonl", relaxed);
  WriteFile(dir / "canonical.jsonl", canonical);
  const RunResult a = RunBinary(dir, std::string("compute ") + kNow, dir / "relaxed.jsonl");
  const RunResult b = RunBinary(dir, std::string("compute ") + kNow, dir / "canonical.jsonl");
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(Lines(a.out).size(), 12u);
}

TEST(Compute, HelpListsEveryOption) {
  TempDir dir;
  const RunResult r = RunBinary(dir, "compute --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--now", "--users", "--dead-letters", "--history-days", "--zero-is-missing",
        "--result-ttl-days", "--trend-threshold-percent", "--anomaly-z-threshold",
        "--anomaly-min-baseline", "--anomaly-min-deviation-percent", "--help"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from\n" << r.out;
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

TEST(Compute, UsageAndConfigurationErrorsExitTwo) {
  TempDir dir;
  RunResult r = RunBinary(dir, "compute --no-such-flag");
  EXPECT_EQ(r.exit_code, 2);
  r = RunBinary(dir, "compute --history-days 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("HISTORY_DAYS"), std::string::npos) << r.err;
  r = RunBinary(dir, "compute --now yesterday");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--now"), std::string::npos) << r.err;
  r = RunBinary(dir, "compute --users missing.jsonl");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.jsonl"), std::string::npos) << r.err;
}

TEST(Compute, EmptyInputGivesEmptyOutput) {
  TempDir dir;
  const RunResult r = RunBinary(dir, std::string("compute ") + kNow);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace ha::testing
