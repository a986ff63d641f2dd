// Inputs found by the fuzz targets (fuzz/, scripts/fuzz) that once gave a wrong result.
#include <gtest/gtest.h>

#include "core/time.h"

namespace ha {
namespace {

// fuzz_watermark: "+05:" (a colon and no minutes) was read as +05:00, although the grammar
// has no such offset.
TEST(FuzzRegressions, OffsetWithAColonAndNoMinutesIsNotATimestamp) {
  EXPECT_FALSE(ParseInstant("2025-11-20T10:00:45.123-05:\n").ok());
  EXPECT_FALSE(ParseInstant("2025-11-20T10:00:45+05:").ok());
  EXPECT_FALSE(HasExplicitZone("2025-11-20T10:00:45+05:"));
  // The offsets the grammar has still parse.
  const Instant utc = *ParseInstant("2025-11-20T05:00:45Z");
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45+05"), utc);
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45+0500"), utc);
  EXPECT_EQ(*ParseInstant("2025-11-20T10:00:45+05:00"), utc);
}

// fuzz_watermark: an offset moved the first or the last day of the grammar's years out of
// 0000..9999, and FormatInstant wrote the instant back as "-001-12-31T23:00:00.000Z" or
// "10000-01-01T...": `checkpoint reset --to` then left a watermark file the engine refused.
TEST(FuzzRegressions, InstantsOutsideTheFourDigitYearsAreNotTimestamps) {
  EXPECT_FALSE(ParseInstant("0000-01-01T00:00:00+01:00").ok());
  EXPECT_FALSE(ParseInstant("9999-12-31T23:30:00-01:00").ok());
  for (const char* text : {"0000-01-01T00:00:00Z", "0000-01-01T01:00:00+01:00",
                           "9999-12-31T23:59:59.999Z", "9999-12-31T22:59:59.999-01:00"}) {
    auto t = ParseInstant(text);
    ASSERT_TRUE(t.ok()) << text;
    auto again = ParseInstant(FormatInstant(*t));
    ASSERT_TRUE(again.ok()) << text << " -> " << FormatInstant(*t);
    EXPECT_EQ(*again, *t) << text;
  }
}

}  // namespace
}  // namespace ha
