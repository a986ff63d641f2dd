// The size of MongoStore's write commands, chosen from the server's buildInfo reply.
#include <gtest/gtest.h>

#include "store/store.h"

namespace ha {
namespace {

TEST(WriteOpsPerCommandFor, LargeBulksOnServersOtherThanFerretDb) {
  // MongoDB and mongo-java-server: no ferretdbVersion field in buildInfo.
  EXPECT_EQ(WriteOpsPerCommandFor(false, ""), 1000);
  EXPECT_EQ(kWriteOpsPerCommand, 1000);
}

TEST(WriteOpsPerCommandFor, TenOnFerretDbV1) {
  // What scripts/ferretdb's v1.24.2 answers: {"version": "7.0.42", "ferretdbVersion": "v1.24.2"}.
  EXPECT_EQ(WriteOpsPerCommandFor(true, "v1.24.2"), 10);
  EXPECT_EQ(WriteOpsPerCommandFor(true, "1.0.0"), 10);
}

TEST(WriteOpsPerCommandFor, LargeBulksOnFerretDbV2AndLater) {
  EXPECT_EQ(WriteOpsPerCommandFor(true, "v2.1.0"), 1000);
  EXPECT_EQ(WriteOpsPerCommandFor(true, "v10.0.0"), 1000);
}

TEST(WriteOpsPerCommandFor, TenForAFerretDbOfUnknownVersion) {
  EXPECT_EQ(WriteOpsPerCommandFor(true, ""), 10);
  EXPECT_EQ(WriteOpsPerCommandFor(true, "unknown"), 10);
}

}  // namespace
}  // namespace ha
