// BsonDoc: sole owner of one heap-allocated bson_t. Movable, not copyable.
#pragma once

#include <bson/bson.h>

#include <utility>

namespace ha {

class BsonDoc {
 public:
  // An empty document.
  BsonDoc() : doc_(bson_new()) {}

  // Adopts `doc` (from bson_new, bson_new_from_json, bson_copy, ...); it is destroyed with this
  // object. `doc` must not be nullptr.
  explicit BsonDoc(bson_t* doc) : doc_(doc) {}

  BsonDoc(BsonDoc&& other) noexcept : doc_(std::exchange(other.doc_, nullptr)) {}
  BsonDoc& operator=(BsonDoc&& other) noexcept {
    if (this != &other) {
      Reset();
      doc_ = std::exchange(other.doc_, nullptr);
    }
    return *this;
  }
  BsonDoc(const BsonDoc&) = delete;
  BsonDoc& operator=(const BsonDoc&) = delete;
  ~BsonDoc() { Reset(); }

  // The document; nullptr only after release() or after being moved from.
  bson_t* get() { return doc_; }
  const bson_t* get() const { return doc_; }

  // Gives up ownership: the caller must bson_destroy() the result.
  bson_t* release() { return std::exchange(doc_, nullptr); }

 private:
  void Reset() {
    if (doc_ != nullptr) bson_destroy(doc_);
    doc_ = nullptr;
  }

  bson_t* doc_;
};

}  // namespace ha
