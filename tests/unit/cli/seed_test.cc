// `health-analytics seed`, run as a real process, and its output fed to `compute`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.h"

namespace ha::testing {
namespace {

constexpr const char* kArgs = "seed --users 40 --days 30 --now 2025-11-20T10:00:00Z";

TEST(Seed, SameSeedSameBytes) {
  TempDir dir;
  ASSERT_EQ(RunBinary(dir, std::string(kArgs) + " --seed 5 --out a").exit_code, 0);
  ASSERT_EQ(RunBinary(dir, std::string(kArgs) + " --seed 5 --out b").exit_code, 0);
  ASSERT_EQ(RunBinary(dir, std::string(kArgs) + " --seed 6 --out c").exit_code, 0);
  const std::string a = ReadFile(dir / "a/healthmetrics.jsonl");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, ReadFile(dir / "b/healthmetrics.jsonl"));
  EXPECT_EQ(ReadFile(dir / "a/users.jsonl"), ReadFile(dir / "b/users.jsonl"));
  EXPECT_NE(a, ReadFile(dir / "c/healthmetrics.jsonl"));
  EXPECT_EQ(Lines(ReadFile(dir / "a/users.jsonl")).size(), 40u);
}

TEST(Seed, WritesMongoexportStyleLinesThatComputeReads) {
  TempDir dir;
  ASSERT_EQ(RunBinary(dir, std::string(kArgs) + " --out data/nested").exit_code, 0);
  const auto lines = Lines(ReadFile(dir / "data/nested/healthmetrics.jsonl"));
  ASSERT_GT(lines.size(), 400u);
  const auto doc = nlohmann::json::parse(lines[0]);
  EXPECT_TRUE(doc["_id"].contains("$oid"));
  EXPECT_TRUE(doc["userId"].contains("$oid"));
  EXPECT_EQ(doc["date"]["$date"].get<std::string>().substr(10), "T00:00:00.000Z");
  EXPECT_TRUE(doc["metrics"].is_object());
  EXPECT_TRUE(doc["updatedAt"].contains("$date"));

  const RunResult r =
      RunBinary(dir,
                "compute --now 2025-11-20T10:00:00Z --users data/nested/users.jsonl "
                "--dead-letters dl.jsonl",
                dir / "data/nested/healthmetrics.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = Lines(r.out);
  EXPECT_GT(out.size(), 40u * 3);
  EXPECT_EQ(out.size() % 3, 0u);
  for (const auto& line : out) {
    const auto a = nlohmann::json::parse(line);
    EXPECT_GE(a["analytics"]["statistics"]["dataPointsCount"].get<int>(), 1);
  }
}

TEST(Seed, HelpListsEveryOption) {
  TempDir dir;
  const RunResult r = RunBinary(dir, "seed --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--users", "--days", "--seed", "--now", "--out", "--help"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from\n" << r.out;
}

TEST(Seed, UsageErrorsExitTwo) {
  TempDir dir;
  EXPECT_EQ(RunBinary(dir, "seed --days 3 --out x").exit_code, 2);  // --users is required
  EXPECT_EQ(RunBinary(dir, "seed --users -1 --days 3 --out x").exit_code, 2);
  EXPECT_EQ(RunBinary(dir, "seed --users 1 --days 3 --now soon --out x").exit_code, 2);
}

}  // namespace
}  // namespace ha::testing
