// The interfaces the engine calls while a batch runs; observers implement them (the backend
// events publisher, the dead-letter log). Observers depend on the engine, never the reverse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analytics/metrics.h"
#include "codec/bson_doc.h"
#include "core/object_id.h"
#include "core/time.h"

namespace ha {

// One analytics document a batch inserted or updated (deletions raise no event).
struct AnalyticsChange {
  Metric metric = Metric::kSteps;
  TimeRange range = TimeRange::k7Day;
  bool inserted = false;  // else updated
  BsonDoc fields;         // the fields written ($set body: everything but _id, createdAt, __v)
};

// Receives the users whose analytics changed visibly, for the backend events
// (docs/OPERATIONS.md, "Backend events").
// The engine calls OnUserChanged during a batch, after the user's writes were acknowledged, and
// then exactly one of OnBatchCommitted (the checkpoint was saved: the events may go out) or
// OnBatchAbandoned (the batch failed: it will be replayed, drop what it announced). Called from
// the engine's thread only; implementations must not block (queue and return).
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual void OnUserChanged(const ObjectId& user, Instant calculated_at,
                             std::vector<AnalyticsChange>&& changes) = 0;
  virtual void OnBatchCommitted(int64_t batch_id) = 0;
  virtual void OnBatchAbandoned(int64_t batch_id) = 0;
};

// One invalid field of a document version, or a whole user the engine had to skip: a line of the
// dead-letter log (docs/OPERATIONS.md, "Observability").
struct DeadLetter {
  Instant recorded_at = 0;
  int64_t batch_id = 0;
  std::string doc_id;   // 24-hex, or the value as found ("" for a whole user)
  std::string user_id;  // 24-hex, or the value as found
  std::optional<Instant> updated_at;
  std::string field;       // metrics.<name>, metrics, date, userId; or "user" for whole users
  std::string reason;      // type, non-finite, range, wearable, missing, overflow, write-failed
  std::string value_json;  // relaxed Extended JSON of the value ("null" when none)
};

// Where the engine sends dead letters. Record returns whether the letter was written now (false:
// the same (doc_id, updated_at, field) was written before, so it is not counted again).
// Called from the engine's thread only.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual bool Record(const DeadLetter& letter) = 0;
};

}  // namespace ha
