// `compute --dead-letters` and the engine's dead-letter log write the same line for the same
// letter (one encoder), with the forms of docs/OPERATIONS.md "Dead letters".
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/compute.h"
#include "codec/bson_doc.h"
#include "codec/ejson.h"
#include "codec/healthmetric.h"
#include "observe/dead_letters.h"
#include "tests/support/process.h"

namespace ha::testing {
namespace {

constexpr const char* kNowIso = "2025-11-20T10:00:00Z";
constexpr const char* kUser = "65a000000000000000000002";

// A document with one invalid field of each kind, one whose userId is a string (kept as found),
// and one whose _id is not an ObjectId.
const std::vector<std::string> kDocs = {
    R"({"_id":{"$oid":"6560000000000000000000a1"},"userId":{"$oid":"65a000000000000000000002"},)"
    R"("date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":"abc",)"
    R"("calories":{"$numberDouble":"NaN"},"sleepHours":30,"heartRate":72.5,"weight":70},)"
    R"("updatedAt":{"$date":"2025-11-20T08:00:00.000Z"}})",
    R"({"_id":{"$oid":"6560000000000000000000a2"},"userId":"65a00000000000000000000x",)"
    R"("date":{"$date":"2025-11-20T00:00:00Z"},"metrics":{"steps":1}})",
    R"({"_id":"day-7","userId":{"$oid":"65a000000000000000000002"},"date":"2025-11-19",)"
    R"("metrics":{"steps":1},"updatedAt":{"$date":"2025-11-20T09:00:00.000Z"}})",
};

TEST(DeadLetterEncoder, ComputeAndTheEngineLogWriteTheSameLines) {
  const Instant now = *ParseInstant(kNowIso);
  cli::ComputeOptions options;
  options.now = now;
  std::string from_compute;
  cli::OfflineCompute job(options, &from_compute);
  for (const std::string& doc : kDocs) ASSERT_TRUE(job.AddHealthMetricLine(doc).ok());

  // The engine's path: the decoded version's issues as Engine::DeadLetterVersion builds them
  // (batch 0, recorded at the clock), through the dead-letter log into its file.
  TempDir dir;
  DeadLetterLog log(dir / "dlq");
  ASSERT_TRUE(log.Open(now).ok());
  BsonDoc parsed;
  DecodedHealthMetric decoded;
  for (const std::string& doc : kDocs) {
    ASSERT_TRUE(ParseExtendedJsonLineInto(doc, parsed.get()).ok());
    DecodeHealthMetric(parsed.get(), options.analytics, &decoded);
    for (const FieldIssue& issue : decoded.issues) {
      DeadLetter l;
      l.recorded_at = now;
      l.doc_id = decoded.doc_id;
      l.user_id = decoded.user_id;
      l.updated_at = decoded.updated_at;
      l.field = issue.field;
      l.reason = issue.reason;
      l.value_json = issue.value_json;
      ASSERT_TRUE(log.Record(l));
    }
  }
  const std::string from_engine = ReadFile(dir / "dlq/dead_letters_20251120.jsonl");
  EXPECT_EQ(Lines(from_compute).size(), 6u) << from_compute;
  EXPECT_EQ(from_compute, from_engine);
  // Worked by hand from the forms in docs/OPERATIONS.md: the first and the last letter.
  const auto lines = Lines(from_compute);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0],
            R"({"recorded_at":"2025-11-20T10:00:00.000Z","batch_id":0,)"
            R"("doc_id":"6560000000000000000000a1","user_id":"65a000000000000000000002",)"
            R"("updated_at":"2025-11-20T08:00:00.000Z","field":"metrics.steps","reason":"type",)"
            R"("value":"abc"})");
  EXPECT_EQ(lines[5],
            R"({"recorded_at":"2025-11-20T10:00:00.000Z","batch_id":0,"doc_id":"day-7",)"
            R"("user_id":"65a000000000000000000002","updated_at":"2025-11-20T09:00:00.000Z",)"
            R"("field":"date","reason":"type","value":"2025-11-19"})");
}

TEST(DeadLetterEncoder, AWholeUserLetterHasANullDocId) {
  // An overflow letter as the engine and compute build it: the user's id, no document.
  DeadLetter l;
  l.recorded_at = *ParseInstant(kNowIso);
  l.batch_id = 12;
  l.user_id = kUser;
  l.field = "metrics.steps";
  l.reason = "overflow";
  l.value_json = "null";
  EXPECT_EQ(DeadLetterLog::ToJsonLine(l),
            R"({"recorded_at":"2025-11-20T10:00:00.000Z","batch_id":12,"doc_id":null,)"
            R"("user_id":"65a000000000000000000002","updated_at":null,"field":"metrics.steps",)"
            R"("reason":"overflow","value":null})");
}

TEST(DeadLetterEncoder, InstantsBeyondYear9999AreMillisecondsAndBadValuesAreStrings) {
  DeadLetter l;
  l.recorded_at = *ParseInstant(kNowIso);
  l.doc_id = "6560000000000000000000a1";
  l.user_id = kUser;
  l.updated_at = 253402300800000;  // 10000-01-01T00:00:00Z: no four-digit year
  l.field = "user";
  l.reason = "write-failed";
  l.value_json = "not json";
  EXPECT_EQ(DeadLetterLog::ToJsonLine(l),
            R"({"recorded_at":"2025-11-20T10:00:00.000Z","batch_id":0,)"
            R"("doc_id":"6560000000000000000000a1","user_id":"65a000000000000000000002",)"
            R"("updated_at":253402300800000,"field":"user","reason":"write-failed",)"
            R"("value":"not json"})");
  l.updated_at = 253402300799999;  // the last millisecond of 9999
  EXPECT_NE(DeadLetterLog::ToJsonLine(l).find(R"("updated_at":"9999-12-31T23:59:59.999Z")"),
            std::string::npos);
}

TEST(DeadLetterEncoder, TheLogRemembersWholeUserAndFarFutureLettersAcrossRestarts) {
  TempDir dir;
  const Instant now = *ParseInstant(kNowIso);
  DeadLetter overflow;
  overflow.recorded_at = now;
  overflow.user_id = kUser;
  overflow.field = "metrics.steps";
  overflow.reason = "overflow";
  overflow.value_json = "null";
  DeadLetter far = overflow;
  far.doc_id = "6560000000000000000000a1";
  far.updated_at = 253402300800000;
  far.reason = "type";
  {
    DeadLetterLog log(dir / "dlq");
    ASSERT_TRUE(log.Open(now).ok());
    EXPECT_TRUE(log.Record(overflow));
    EXPECT_TRUE(log.Record(far));
  }
  DeadLetterLog restarted(dir / "dlq");
  ASSERT_TRUE(restarted.Open(now).ok());  // reads a null doc_id and a numeric updated_at
  EXPECT_FALSE(restarted.Record(overflow));
  EXPECT_FALSE(restarted.Record(far));
  DeadLetter other_user = overflow;
  other_user.user_id = "65a000000000000000000001";
  EXPECT_TRUE(restarted.Record(other_user));
}

}  // namespace
}  // namespace ha::testing
