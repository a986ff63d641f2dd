#include "core/time.h"

#include <gtest/gtest.h>

#include "core/object_id.h"

namespace ha {
namespace {

TEST(Time, DayArithmeticAgreesWithKnownDates) {
  // 2025-11-20 is day 20412: (2025-1970)*365 + 14 leap days (1972..2024) = 20089; + 323 (Jan 1 ->
  // Nov 20 in a non-leap year: 31+28+31+30+31+30+31+31+30+31 = 304, +19) = 20412.
  EXPECT_EQ(DaysFromCivil(2025, 11, 20), 20412);
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DayOf(-1), -1);  // 1969-12-31T23:59:59.999Z
  EXPECT_EQ(DayOf(-kMillisPerDay), -1);
  EXPECT_EQ(DayOf(-kMillisPerDay - 1), -2);
  EXPECT_EQ(DayOf(INT64_MIN), static_cast<Day>(INT64_MIN / kMillisPerDay - 1));  // no overflow
  const CivilDate c = CivilFromDays(20412);
  EXPECT_EQ(c.year, 2025);
  EXPECT_EQ(c.month, 11u);
  EXPECT_EQ(c.day, 20u);
}

TEST(Time, FormatsWithMilliseconds) {
  EXPECT_EQ(FormatInstant(StartOf(20412) + 36045123), "2025-11-20T10:00:45.123Z");
  EXPECT_EQ(FormatYmd(StartOf(20412) + 1), "20251120");
}

TEST(Time, ParsesEveryFormOfTheGrammar) {
  const Instant base = StartOf(20412) + 36045000;  // 2025-11-20T10:00:45Z
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45.123Z"), base + 123);
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45Z"), base);
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45"), base);                     // no zone: UTC
  EXPECT_EQ(*ParseInstant("  2025-11-20T10:00:45.1239999Z\n"), base + 123);  // truncated
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45.123456789Z"), base + 123);
  EXPECT_EQ(*ParseInstant("2025-11-20T12:00:45+02:00"), base);
  EXPECT_EQ(*ParseInstant("2025-11-20T05:30:45-04:30"), base);
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45.5"), base + 500);
  EXPECT_EQ(*ParseInstant("2025-11-13T00:00:00\n"), StartOf(20405));
  EXPECT_TRUE(HasExplicitZone("2025-11-20T10:00:45Z"));
  EXPECT_FALSE(HasExplicitZone("2025-11-20T10:00:45"));
}

TEST(Time, RejectsMalformedText) {
  for (const char* bad : {"", "   ", "yesterday", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z",
                          "2025-11-20T25:00:00Z", "2025-11-20T10:00:45.1234567890Z",
                          "2025-11-20T10:00:45Zjunk", "2025-11-20T10:00:45.Z"}) {
    EXPECT_FALSE(ParseInstant(bad).ok()) << bad;
  }
}

TEST(ObjectIdTest, HexRoundTripAndOrder) {
  auto a = ObjectId::FromHex("65a1b2c3d4e5f60718293a4b");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->ToHex(), "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(ObjectId::FromHex("65A1B2C3D4E5F60718293A4B"), a);
  EXPECT_FALSE(ObjectId::FromHex("65a1b2c3d4e5f60718293a4").has_value());
  EXPECT_FALSE(ObjectId::FromHex("65a1b2c3d4e5f60718293a4g").has_value());
  auto b = ObjectId::FromHex("65a1b2c3d4e5f60718293a4c");
  EXPECT_LT(*a, *b);
}

}  // namespace
}  // namespace ha
