#include "cli/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ha::cli {
namespace {

// Runs each test in a fresh working directory (for .env) with the variables it sets removed
// afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_cwd_ = std::filesystem::current_path();
    char tmpl[] = "/tmp/ha-config-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::filesystem::current_path(dir_);
    for (const char* v : kVars) unsetenv(v);
  }
  void TearDown() override {
    for (const char* v : kVars) unsetenv(v);
    std::filesystem::current_path(old_cwd_);
    std::filesystem::remove_all(dir_);
  }
  void DotEnv(const std::string& text) { std::ofstream(dir_ + "/.env") << text; }

  static constexpr const char* kVars[] = {
      "MONGO_URI",       "MONGO_DB_NAME", "BATCH_INTERVAL_SECONDS", "HISTORY_DAYS",
      "ZERO_IS_MISSING", "LOG_FORMAT",    "ANOMALY_MIN_BASELINE",   "SERVICE_TOKEN"};
  std::filesystem::path old_cwd_;
  std::string dir_;
};

TEST_F(ConfigTest, DefaultsAreTheSpecsTable) {
  auto c = LoadConfig({}, ConfigScope::kFull, /*require_mongo=*/false);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->source_collection, "healthmetrics");
  EXPECT_EQ(c->batch_interval_seconds, 60);
  EXPECT_EQ(c->checkpoint_location, "./spark-checkpoints");
  EXPECT_EQ(c->initial_lookback_days, 30);
  EXPECT_EQ(c->late_data_grace_seconds, 10);
  EXPECT_EQ(c->max_batch_docs, 100000);
  EXPECT_EQ(c->analytics.history_days, 180);
  EXPECT_EQ(c->result_ttl_days, 90);
  EXPECT_TRUE(c->analytics.zero_is_missing);
  EXPECT_EQ(c->analytics.anomaly_z_threshold, 2.0);
  EXPECT_EQ(c->health_check_host, "127.0.0.1");
  EXPECT_EQ(c->health_check_port, 5001);
  EXPECT_GE(c->worker_threads, 1);
}

TEST_F(ConfigTest, FlagBeatsEnvironmentBeatsDotEnv) {
  DotEnv(
      "# comment\nexport HISTORY_DAYS=30\nBATCH_INTERVAL_SECONDS=\"7.5\"\nZERO_IS_MISSING=no # "
      "trailing comment\nMONGO_DB_NAME='fromfile'\n");
  setenv("BATCH_INTERVAL_SECONDS", "12", 1);
  auto c = LoadConfig({{"HISTORY_DAYS", "45"}}, ConfigScope::kFull, false);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->analytics.history_days, 45);    // flag
  EXPECT_EQ(c->batch_interval_seconds, 12);    // environment over .env
  EXPECT_FALSE(c->analytics.zero_is_missing);  // .env, comment stripped
  EXPECT_EQ(c->mongo_db_name, "fromfile");     // .env, quotes stripped
}

TEST_F(ConfigTest, BadValuesNameTheVariable) {
  struct Case {
    const char* var;
    const char* value;
  } cases[] = {{"BATCH_INTERVAL_SECONDS", "0"}, {"BATCH_INTERVAL_SECONDS", "fast"},
               {"HISTORY_DAYS", "0"},           {"ANOMALY_MIN_BASELINE", "1"},
               {"ZERO_IS_MISSING", "maybe"},    {"LOG_FORMAT", "xml"}};
  for (const Case& k : cases) {
    auto c = LoadConfig({{k.var, k.value}}, ConfigScope::kFull, false);
    ASSERT_FALSE(c.ok()) << k.var << "=" << k.value;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(k.var), std::string::npos) << c.status().message();
  }
}

TEST_F(ConfigTest, MissingMongoSettingsAreErrorsOnlyWhenRequired) {
  EXPECT_TRUE(LoadConfig({}, ConfigScope::kFull, false).ok());
  auto c = LoadConfig({}, ConfigScope::kFull, true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("MONGO_URI"), std::string::npos);
}

TEST_F(ConfigTest, SecretsAreNeverEchoedInErrors) {
  // SERVICE_TOKEN cannot be invalid, but MONGO_URI errors must not repeat the value either.
  setenv("SERVICE_TOKEN", "tok-secret", 1);
  auto c = LoadConfig({{"HISTORY_DAYS", "x"}}, ConfigScope::kFull, true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("tok-secret"), std::string::npos);
}

TEST(RedactUri, HidesPasswordsOnly) {
  EXPECT_EQ(RedactUri("mongodb://alice:s3cret@db:27017/x?authSource=admin"),
            "mongodb://alice:***@db:27017/x?authSource=admin");
  EXPECT_EQ(RedactUri("mongodb+srv://bob:p%40ss@cluster.example/"),
            "mongodb+srv://bob:***@cluster.example/");
  EXPECT_EQ(RedactUri("mongodb://db:27017/"), "mongodb://db:27017/");
  EXPECT_EQ(RedactUri("mongodb://u@db/?tlsCertificateKeyFilePassword=hunter2&tls=true"),
            "mongodb://u@db/?tlsCertificateKeyFilePassword=***&tls=true");
}

}  // namespace
}  // namespace ha::cli
