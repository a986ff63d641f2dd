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

}  // namespace ha
