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

  // The one encoder of a dead letter, used by this log and by `compute --dead-letters`: one JSON
  // object (no newline) with recorded_at, batch_id, doc_id, user_id, updated_at, field, reason,
  // value in that order. doc_id is null when there is no document (whole-user letters, a
  // `compute` line without _id: DeadLetter::doc_id empty); instants are ISO-8601 UTC strings for
  // the years 0000-9999 and milliseconds since the epoch beyond (no ISO-8601 form without a
  // sign); value is value_json as it is (relaxed Extended JSON), "null" when empty, and a JSON
  // string when it is not valid JSON.
  static void AppendJson(const DeadLetter& letter, std::string* out);
  static std::string ToJsonLine(const DeadLetter& letter);

 private:
  std::string dir_;
  std::unordered_set<std::string> seen_;
  std::map<std::string, int64_t> counts_;
  int64_t total_ = 0;
  bool warned_ = false;
};

}  // namespace ha
