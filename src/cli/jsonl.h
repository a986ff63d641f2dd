// Fast line-oriented I/O for JSON-lines commands (`compute`, `seed`): large chunks, no iostreams.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ha::cli {

// Reads a FILE* in large chunks and hands out its lines, without the '\n' and without a '\r'
// before it. The last line needs no '\n'.
class LineReader {
 public:
  explicit LineReader(std::FILE* file, size_t chunk_bytes = size_t{1} << 20);

  // The next line, valid until the next call. Returns false at the end of the input or on a
  // read error (then error() is true).
  bool Next(std::string_view* line);

  // 1-based number of the line last returned.
  int64_t line_number() const { return line_number_; }
  bool error() const { return error_; }

 private:
  bool Fill();

  std::FILE* file_;
  size_t chunk_;
  std::string buf_;
  size_t pos_ = 0;  // start of the unread part of buf_
  bool eof_ = false;
  bool error_ = false;
  int64_t line_number_ = 0;
};

// Collects output in memory and writes it to a FILE* in large blocks.
class BlockWriter {
 public:
  explicit BlockWriter(std::FILE* file, size_t block_bytes = size_t{1} << 20)
      : file_(file), block_(block_bytes) {
    buf_.reserve(block_ + block_ / 4);
  }
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Append here, then call MaybeFlush().
  std::string& buffer() { return buf_; }
  void MaybeFlush() {
    if (buf_.size() >= block_) Flush();
  }
  void Write(std::string_view s) {
    buf_.append(s);
    MaybeFlush();
  }
  // Writes everything buffered and fflush()es. Returns false if any write so far failed.
  bool Flush();
  bool ok() const { return ok_; }

 private:
  std::FILE* file_;
  size_t block_;
  std::string buf_;
  bool ok_ = true;
};

}  // namespace ha::cli
