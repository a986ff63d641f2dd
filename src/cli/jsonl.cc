#include "cli/jsonl.h"

#include <cstring>

namespace ha::cli {

LineReader::LineReader(std::FILE* file, size_t chunk_bytes) : file_(file), chunk_(chunk_bytes) {
  buf_.reserve(chunk_ * 2);
}

bool LineReader::Fill() {
  if (eof_) return false;
  // Drop what was consumed, keep the partial line.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + chunk_);
  const size_t n = std::fread(buf_.data() + old, 1, chunk_, file_);
  buf_.resize(old + n);
  if (n < chunk_) {
    eof_ = true;
    if (std::ferror(file_)) error_ = true;
  }
  return n > 0;
}

bool LineReader::Next(std::string_view* line) {
  size_t scanned = pos_;
  for (;;) {
    const size_t end = std::string_view(buf_).find('\n', scanned);
    if (end != std::string_view::npos) {
      size_t len = end - pos_;
      if (len > 0 && buf_[pos_ + len - 1] == '\r') --len;
      *line = std::string_view(buf_.data() + pos_, len);
      pos_ = end + 1;
      ++line_number_;
      return true;
    }
    scanned = buf_.size() - pos_;  // relative: Fill() moves the unread part to the front
    if (!Fill()) {
      if (pos_ < buf_.size()) {  // last line without '\n'
        size_t len = buf_.size() - pos_;
        if (buf_[pos_ + len - 1] == '\r') --len;
        *line = std::string_view(buf_.data() + pos_, len);
        pos_ = buf_.size();
        ++line_number_;
        return true;
      }
      return false;
    }
    scanned += pos_;
  }
}

bool BlockWriter::Flush() {
  if (!buf_.empty()) {
    if (std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) ok_ = false;
    buf_.clear();
  }
  if (std::fflush(file_) != 0) ok_ = false;
  return ok_;
}

}  // namespace ha::cli
