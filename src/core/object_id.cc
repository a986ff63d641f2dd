#include "core/object_id.h"

#include <algorithm>

namespace ha {

std::string ObjectId::ToHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(24, '0');
  for (size_t i = 0; i < 12; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xF];
  }
  return out;
}

std::optional<ObjectId> ObjectId::FromHex(std::string_view hex) {
  if (hex.size() != 24) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  ObjectId id;
  for (size_t i = 0; i < 12; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

void IdCollector::Add(const ObjectId& id) {
  if (!out_->empty() && out_->back() == id) return;
  out_->push_back(id);
  if (out_->size() >= compact_at_) {
    Finish();
    compact_at_ = std::max(compact_at_, 2 * out_->size());
  }
}

void IdCollector::Finish() {
  std::sort(out_->begin(), out_->end());
  out_->erase(std::unique(out_->begin(), out_->end()), out_->end());
}

}  // namespace ha
