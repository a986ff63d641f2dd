#include "observe/batch_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ha {
namespace {

TEST(BatchReportJson, PhasesAreMillisecondsWithMicrosecondPrecision) {
  BatchReport r;
  r.batch_id = 7;
  r.start_time = *ParseInstant("2025-11-20T12:00:00Z");
  r.end_time = r.start_time + 4'321;
  r.clock = r.start_time;
  r.phases = {
      .poll_us = 1'500, .read_us = 2'000'001, .compute_us = 7, .write_us = 0, .commit_us = 812'250};
  const auto j = nlohmann::json::parse(BatchReportJson(r));
  EXPECT_EQ(j["processing_time_ms"], 4'321);
  const auto& p = j["phase_ms"];
  ASSERT_TRUE(p.is_object());
  EXPECT_EQ(p.size(), 5u);
  EXPECT_DOUBLE_EQ(p["poll"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(p["read"].get<double>(), 2000.001);
  EXPECT_DOUBLE_EQ(p["compute"].get<double>(), 0.007);
  EXPECT_DOUBLE_EQ(p["write"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(p["commit"].get<double>(), 812.25);
}

TEST(BatchReportJson, IoIsCommandsAndBytesRead) {
  BatchReport r;
  r.io = {.commands = 12, .bytes_read = 345'678};
  const auto j = nlohmann::json::parse(BatchReportJson(r));
  ASSERT_TRUE(j.contains("io")) << j;
  EXPECT_EQ(j["io"]["commands"], 12);
  EXPECT_EQ(j["io"]["bytes_read"], 345'678);
  EXPECT_EQ(j["io"].size(), 2u);
}

}  // namespace
}  // namespace ha
