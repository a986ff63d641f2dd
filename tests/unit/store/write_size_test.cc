// The size of MongoStore's write commands, chosen from the server's buildInfo reply.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

std::vector<AnalyticsWrite> Writes(const std::string& kinds) {
  std::vector<AnalyticsWrite> out(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i)
    out[i].kind = kinds[i] == 'i'   ? AnalyticsWrite::Kind::kInsert
                  : kinds[i] == 'u' ? AnalyticsWrite::Kind::kUpdate
                                    : AnalyticsWrite::Kind::kDelete;
  return out;
}

TEST(CutIntoCommands, UpdatesAndDeletesCountAgainstTheCapInsertsDoNot) {
  // Cap 2: u u | d i i u | u
  EXPECT_EQ(CutIntoCommands(Writes("uudiiuu"), 2),
            (std::vector<WriteCommand>{{0, 2}, {2, 6}, {6, 7}}));
  EXPECT_EQ(CutIntoCommands(Writes("iii"), 2), (std::vector<WriteCommand>{{0, 3}}));
  EXPECT_TRUE(CutIntoCommands(Writes(""), 10).empty());
}

TEST(CutIntoCommands, AThousandOperationsOfAnyKindAtMost) {
  // 2,217 inserts (a backlog unit on FerretDB, cap 10): 1,000 + 1,000 + 217.
  EXPECT_EQ(CutIntoCommands(Writes(std::string(2217, 'i')), 10),
            (std::vector<WriteCommand>{{0, 1000}, {1000, 2000}, {2000, 2217}}));
  // 999 inserts then 3 updates, cap 1,000: the 1,000th operation closes the first command.
  EXPECT_EQ(CutIntoCommands(Writes(std::string(999, 'i') + "uuu"), 1000),
            (std::vector<WriteCommand>{{0, 1000}, {1000, 1002}}));
  // A larger WRITE_OPS_PER_COMMAND raises both caps.
  EXPECT_EQ(CutIntoCommands(Writes(std::string(2500, 'u')), 2000),
            (std::vector<WriteCommand>{{0, 2000}, {2000, 2500}}));
}

}  // namespace
}  // namespace ha
