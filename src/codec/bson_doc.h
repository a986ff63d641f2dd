// BsonDoc: sole owner of one heap-allocated bson_t. Movable, not copyable.
// ScopedBson: owner of one bson_t in place (a command, filter, options or reply built for one
// call), destroyed with its scope.
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

// A bson_t that lives in the enclosing scope: initialised empty, destroyed at the end of the
// scope. Also the right target for libmongoc's `reply` out-parameters, which libmongoc
// (re)initialises on success and failure alike: the empty initial document owns no memory, so
// nothing leaks when it is overwritten. Neither copyable nor movable (a bson_t may point into
// itself).
class ScopedBson {
 public:
  ScopedBson() { bson_init(&doc_); }
  ScopedBson(const ScopedBson&) = delete;
  ScopedBson& operator=(const ScopedBson&) = delete;
  ~ScopedBson() { bson_destroy(&doc_); }

  bson_t* get() { return &doc_; }
  const bson_t* get() const { return &doc_; }

 private:
  bson_t doc_;
};

}  // namespace ha
