#include "core/object_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace ha {
namespace {

ObjectId Id(uint32_t n) {
  ObjectId id;
  id.bytes[8] = static_cast<uint8_t>(n >> 24);
  id.bytes[9] = static_cast<uint8_t>(n >> 16);
  id.bytes[10] = static_cast<uint8_t>(n >> 8);
  id.bytes[11] = static_cast<uint8_t>(n);
  return id;
}

TEST(IdCollectorTest, ShuffledRepeatsGiveTheSortedDistinctIdsWithinBoundedMemory) {
  // 500 users x 40 documents each, in random order: 20,000 arrivals.
  std::vector<ObjectId> arrivals;
  for (uint32_t u = 0; u < 500; ++u)
    for (int d = 0; d < 40; ++d) arrivals.push_back(Id(u * 7919));
  std::mt19937 rng(3);
  std::shuffle(arrivals.begin(), arrivals.end(), rng);

  std::vector<ObjectId> out;
  IdCollector ids(&out, /*compact_at=*/1000);
  size_t peak = 0;
  for (const ObjectId& id : arrivals) {
    ids.Add(id);
    peak = std::max(peak, out.size());
  }
  ids.Finish();

  const std::set<ObjectId> expected(arrivals.begin(), arrivals.end());
  EXPECT_EQ(out, std::vector<ObjectId>(expected.begin(), expected.end()));
  // Never more than the threshold (1,000 >= twice the 500 distinct ids), never the 20,000.
  EXPECT_LE(peak, 1000u);
}

TEST(IdCollectorTest, TheThresholdGrowsWhenTheDistinctIdsOutnumberIt) {
  std::vector<ObjectId> out;
  IdCollector ids(&out, /*compact_at=*/10);
  for (uint32_t u = 0; u < 1000; ++u) {
    ids.Add(Id(u));
    ids.Add(Id(u));  // consecutive repeat: dropped at once
  }
  ids.Finish();
  ASSERT_EQ(out.size(), 1000u);
  for (uint32_t u = 0; u < 1000; ++u) EXPECT_EQ(out[u], Id(u));
}

TEST(IdCollectorTest, KeepsWhatTheListAlreadyHeld) {
  std::vector<ObjectId> out{Id(9), Id(3)};
  IdCollector ids(&out);
  ids.Add(Id(3));
  ids.Add(Id(5));
  ids.Finish();
  EXPECT_EQ(out, (std::vector<ObjectId>{Id(3), Id(5), Id(9)}));
}

}  // namespace
}  // namespace ha
