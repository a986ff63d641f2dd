// Inputs found by the fuzz targets (fuzz/, scripts/fuzz) that once crashed or gave a wrong
// result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "checkpoint/checkpoint.h"
#include "temp_dir.h"

namespace ha {
namespace {

using ::testing::HasSubstr;

// fuzz_sidecar: a number beyond the range of a double in the sidecar made nlohmann::json throw
// out_of_range, which Load() did not catch: the process terminated instead of reporting a
// corrupt sidecar.
TEST(FuzzRegressions, SidecarWithAHugeNumberIsCorruptNotACrash) {
  testing_util::TempDir tmp;
  CheckpointStore store(tmp.path());
  std::ofstream(store.watermark_path()) << "2025-11-20T10:00:45.123Z\n";
  std::ofstream(store.sidecar_path())
      << R"({"format_version":1,"next_batch_id":1.5e3744077419100})";
  auto st = store.Load();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("is corrupt"));
  EXPECT_THAT(st.status().message(), HasSubstr(store.sidecar_path()));
}

}  // namespace
}  // namespace ha
