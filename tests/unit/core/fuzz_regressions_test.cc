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

}  // namespace
}  // namespace ha
