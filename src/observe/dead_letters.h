// The dead-letter log: DLQ_DIRECTORY/dead_letters_<YYYYMMDD>.jsonl, one JSON line per invalid
// field or failed write (docs/OPERATIONS.md, Observability).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/status.h"
#include "core/time.h"
#include "engine/listener.h"

namespace ha {

// Appends dead letters, never twice for the same (doc_id, updated_at, field). Not thread-safe.
class DeadLetterLog final : public DeadLetterSink {
 public:
  explicit DeadLetterLog(std::string dir) : dir_(std::move(dir)) {}

  // Creates the directory and reads the keys already written to the files of `now`'s UTC day
  // and the day before, so a restart does not write them again. kIo when the directory cannot
  // be created.
  Status Open(Instant now);

  // Appends `letter` unless its key was written before; returns whether it was written.
  // A file that cannot be written is reported once on stderr and the letter is counted anyway.
  bool Record(const DeadLetter& letter) override;

  // Letters written by this process, by reason.
  const std::map<std::string, int64_t>& counts_by_reason() const { return counts_; }
  int64_t total() const { return total_; }

  // One JSON line (no newline) of the log's format.
  static std::string ToJsonLine(const DeadLetter& letter);

 private:
  std::string dir_;
  std::unordered_set<std::string> seen_;
  std::map<std::string, int64_t> counts_;
  int64_t total_ = 0;
  bool warned_ = false;
};

}  // namespace ha
