#include "observe/dead_letters.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ha {
namespace {

std::vector<nlohmann::json> Lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(DeadLetterLog, WritesEachKeyOnceEvenAcrossRestarts) {
  char tmpl[] = "/tmp/ha-dlq-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const Instant now = *ParseInstant("2025-11-20T10:00:00Z");
  DeadLetter l;
  l.recorded_at = now;
  l.batch_id = 3;
  l.doc_id = "65a1b2c3d4e5f60718293a4b";
  l.user_id = "65a1b2c3d4e5f60718293a4c";
  l.updated_at = now - 1000;
  l.field = "metrics.steps";
  l.reason = "type";
  l.value_json = "\"abc\"";
  {
    DeadLetterLog log(dir);
    ASSERT_TRUE(log.Open(now).ok());
    EXPECT_TRUE(log.Record(l));
    EXPECT_FALSE(log.Record(l));  // same (doc_id, updated_at, field)
    DeadLetter other = l;
    other.field = "metrics.weight";
    other.reason = "range";
    other.value_json = "500";
    EXPECT_TRUE(log.Record(other));
    EXPECT_EQ(log.total(), 2);
    EXPECT_EQ(log.counts_by_reason().at("range"), 1);
  }
  {
    DeadLetterLog restarted(dir);
    ASSERT_TRUE(restarted.Open(now + 3'600'000).ok());
    EXPECT_FALSE(restarted.Record(l));  // remembered from the file
    DeadLetter newer = l;
    newer.updated_at = now;  // a new version of the document: a new letter
    EXPECT_TRUE(restarted.Record(newer));
  }
  const auto lines = Lines(dir + "/dead_letters_20251120.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["doc_id"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(lines[0]["updated_at"], "2025-11-20T09:59:59.000Z");
  EXPECT_EQ(lines[0]["value"], "abc");
  EXPECT_EQ(lines[1]["value"], 500);
  EXPECT_EQ(lines[0]["batch_id"], 3);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ha
