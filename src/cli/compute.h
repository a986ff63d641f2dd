// The `compute` pipeline without its I/O (engine spec section 5): healthmetrics and users
// Extended JSON lines in; analytics documents and dead letters out as JSON lines. RunCompute
// (commands.h) wires it to stdin, stdout and files; the benchmark drives it in memory.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "analytics/kernel.h"
#include "codec/bson_doc.h"
#include "codec/healthmetric.h"
#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"
#include "engine/listener.h"

namespace ha::cli {

struct ComputeOptions {
  AnalyticsOptions analytics;  // HISTORY_DAYS, ZERO_IS_MISSING, thresholds
  int result_ttl_days = 90;    // RESULT_TTL_DAYS
  Instant now = 0;  // the clock: today, calculatedAt/createdAt/updatedAt, dead-letter recorded_at
};

struct ComputeCounts {
  int64_t documents = 0;     // healthmetrics lines parsed
  int64_t skipped = 0;       // of which: userId missing or null (never read)
  int64_t duplicates = 0;    // of which: same (updatedAt, _id) as an earlier line (dropped)
  int64_t dead_letters = 0;  // dead-letter lines produced
  int64_t users = 0;         // users with at least one usable document
  int64_t analytics = 0;     // analytics documents written
};

class OfflineCompute {
 public:
  // Dead-letter JSON lines (each ending in '\n') are appended to *dead_letters as they arise
  // (the caller drains it when it likes); nullptr discards them (they are still counted).
  OfflineCompute(const ComputeOptions& options, std::string* dead_letters);

  // One line of the users file. Later lines for the same _id replace earlier ones; a user whose
  // _id is not an ObjectId is ignored. InvalidArgument when the line is not valid Extended JSON.
  Status AddUserLine(std::string_view line);

  // One healthmetrics line: decoded, its invalid fields dead-lettered, kept if it takes part.
  // A line with the same (updatedAt, _id) as an earlier one is dropped whole (the earlier line
  // wins). InvalidArgument when the line is not valid Extended JSON (nothing is kept).
  Status AddHealthMetricLine(std::string_view line);

  // Computes every user and calls `emit` with blocks of complete analytics JSON lines, ordered
  // by userId (lowercase hex), metricType (ASCII), then 7day, 30day, 90day. Metrics whose
  // computation overflowed are dead-lettered (field metrics.<name>, reason `overflow`). Call
  // once.
  void Finish(const std::function<void(std::string_view)>& emit);

  const ComputeCounts& counts() const { return counts_; }

 private:
  // The (updatedAt, _id) of every document version seen whose _id is an ObjectId: an
  // open-addressing table (no allocation per document; this is on the hot path).
  class VersionSet {
   public:
    // True when the version was not in the set (it is now).
    bool Insert(const ObjectId& id, const std::optional<Instant>& updated_at);

   private:
    struct Slot {
      ObjectId id;
      uint8_t state = 0;  // 0 empty, 1 with updated_at, 2 without
      Instant updated_at = 0;
    };
    void Grow();
    std::vector<Slot> slots_;
    size_t size_ = 0;
  };
  struct Entry {
    uint32_t user;  // index into user_ids_
    DayRecord record;
  };

  bool FirstVersion();
  void RecordDeadLetter(std::string_view doc_id, std::string_view user_id,
                        const std::optional<Instant>& updated_at, std::string_view field,
                        std::string_view reason, std::string_view value_json);

  ComputeOptions options_;
  std::string* dead_letters_;
  DeadLetter letter_;  // reused, to keep the strings' capacity
  BsonDoc doc_;        // parse buffer, reused
  DecodedHealthMetric decoded_;
  std::unordered_map<ObjectId, Goals, ObjectIdHash> goals_;
  std::unordered_map<ObjectId, uint32_t, ObjectIdHash> user_index_;
  std::vector<ObjectId> user_ids_;
  std::vector<Entry> entries_;
  VersionSet versions_;
  std::unordered_set<std::string> string_versions_;  // documents whose _id is no ObjectId
  ComputeCounts counts_;
};

}  // namespace ha::cli
