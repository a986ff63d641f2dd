// A MongoDB ObjectId as 12 raw bytes, ordered as MongoDB orders them (bytewise).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ha {

struct ObjectId {
  std::array<uint8_t, 12> bytes{};

  auto operator<=>(const ObjectId&) const = default;
  bool operator==(const ObjectId&) const = default;

  // 24 lowercase hex digits.
  std::string ToHex() const;

  // Parses 24 hex digits (either case); nullopt for anything else.
  static std::optional<ObjectId> FromHex(std::string_view hex);

  // The lowest possible id (all zero bytes), used to resume "at or after" an instant.
  static ObjectId Min() { return {}; }

  // The highest possible id (all 0xff bytes), used to resume "strictly after" an instant.
  static ObjectId Max() {
    ObjectId id;
    id.bytes.fill(0xff);
    return id;
  }
};

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const noexcept {
    uint64_t a;
    uint32_t b;
    std::memcpy(&a, id.bytes.data(), 8);
    std::memcpy(&b, id.bytes.data() + 8, 4);
    return std::hash<uint64_t>{}(a * 0x9E3779B97F4A7C15ULL ^ b);
  }
};

// Collects ids that arrive with repeats (one per document) into a sorted set whose memory
// follows the distinct ids, not the arrivals: a repeat of the last id is dropped at once, and
// the list is sorted and deduplicated whenever it reaches the threshold, which then becomes at
// least twice the distinct count. Finish() leaves the ids sorted and unique.
class IdCollector {
 public:
  explicit IdCollector(std::vector<ObjectId>* out, size_t compact_at = size_t{1} << 20)
      : out_(out), compact_at_(compact_at) {}
  void Add(const ObjectId& id);
  void Finish();

 private:
  std::vector<ObjectId>* out_;
  size_t compact_at_;
};

}  // namespace ha
