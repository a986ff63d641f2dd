#include "core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ha {
namespace {

Result<std::string> Fails() { return InvalidArgument("bad --since: expected ISO-8601"); }

TEST(Result, HoldsAValueOrAnError) {
  Result<std::string> good = std::string("abc");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, "abc");
  EXPECT_EQ(good->size(), 3u);
  EXPECT_EQ(std::move(good).value(), "abc");

  const Result<std::string> bad = Fails();
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "bad --since: expected ISO-8601");
}

TEST(Result, FromAnOkStatusIsAnInternalErrorNotAValue) {
  const Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("OK Status"), std::string::npos) << r.status().message();
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

using ResultDeathTest = ::testing::Test;

// Each accessor aborts on an error and says why, with the error's own message.
TEST_F(ResultDeathTest, ValueOnAnErrorAbortsWithTheStatusMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<std::string> bad = Fails();
  const Result<std::string>& cbad = bad;
  EXPECT_DEATH((void)bad.value(), "value accessed on an error .*bad --since: expected ISO-8601");
  EXPECT_DEATH((void)cbad.value(), "bad --since");
  EXPECT_DEATH((void)std::move(bad).value(), "bad --since");
  EXPECT_DEATH((void)*bad, "bad --since");
  EXPECT_DEATH((void)*cbad, "bad --since");
  EXPECT_DEATH((void)bad->size(), "bad --since");
  EXPECT_DEATH((void)cbad->size(), "bad --since");
}

TEST_F(ResultDeathTest, ValueOfAResultBuiltFromOkAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Result<int> r = Status::Ok();
  EXPECT_DEATH((void)*r, "OK Status");
}

}  // namespace
}  // namespace ha
