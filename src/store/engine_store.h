// What the engine's steps read from and write to the database: the poll, the users' histories,
// goals and analytics keys, the analytics writes, the recompute's user list and the expired-
// document sweep. MongoStore (store.h) implements it against a server, MemoryStore
// (memory_store.h) in memory for unit tests of the steps.
//
// Every method returns kUnavailable when no server could be reached (the caller retries the
// batch) and another non-OK Status for a server-side error; the message says what was being
// done. Its methods may be called from several threads at once (ProcessUsers' units, and the
// plan's pass list beside the poll, when IO_CONCURRENCY > 1): MongoStore (a client pool) and
// MemoryStore (a mutex) allow it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "analytics/kernel.h"
#include "codec/bson_doc.h"
#include "codec/healthmetric.h"
#include "core/cursor.h"
#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"

namespace ha {

// One document version seen by the poll: what the dead-letter log and the planner need.
struct ChangedVersion {
  ObjectId id;
  Instant updated_at = 0;
  std::optional<ObjectId> user;  // userId when it is an ObjectId
  DecodedHealthMetric decoded;   // userId, date, metrics (the poll's projection), decoded
};

// A key of the analytics collection with what the writer needs to know about the document.
struct ExistingAnalytics {
  ObjectId id;
  ObjectId user;
  Metric metric = Metric::kSteps;
  TimeRange range = TimeRange::k7Day;
  // The stored document's metadata.contentDigest (its DeterministicDigest when written by this
  // engine); std::nullopt for a document without one, which counts as changed.
  std::optional<uint64_t> digest;
};

// One write of the analytics collection.
struct AnalyticsWrite {
  enum class Kind : uint8_t { kInsert, kUpdate, kDelete };
  Kind kind = Kind::kInsert;
  ObjectId user;
  ObjectId id;   // kUpdate, kDelete: the document addressed
  BsonDoc body;  // kInsert: the whole document without _id; kUpdate: the fields to $set
};

// What a write applied, as the server acknowledged it.
struct WriteCounts {
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
};

// What a store has sent and read: commands (round trips, a getMore or a split bulk write's
// each part counting as one) and the bytes of the server's replies.
struct IoCounts {
  int64_t commands = 0;
  int64_t bytes_read = 0;

  IoCounts operator-(const IoCounts& o) const {
    return {commands - o.commands, bytes_read - o.bytes_read};
  }
};

using HistoryByUser = std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash>;
using GoalsByUser = std::unordered_map<ObjectId, Goals, ObjectIdHash>;

class EngineStore {
 public:
  virtual ~EngineStore() = default;

  // Reads up to `limit` source versions strictly after `after` in (updatedAt, _id) order whose
  // userId is not null (nor missing) and whose updatedAt is a Date, projected to _id, userId,
  // updatedAt, date, metrics; each is handed to `each` as it is decoded (the caller keeps what
  // it needs).
  virtual Status ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                             const std::function<void(ChangedVersion&&)>& each) = 0;

  // The grace re-read and the poll in one query (one round trip when quiet): every source
  // version with a non-null userId and updatedAt after `window_from` (exclusive), in
  // (updatedAt, _id) order. Versions at or before `after` (the grace window (window_from,
  // after]) go to `window`; up to `limit` versions after it go to `changed`, and the read stops
  // there. Both are called in that order as the versions are decoded. Requires window_from <
  // after.updated_at (kInvalidArgument otherwise: use ReadChanges, the filter would miss ties
  // after the cursor). Same projection as ReadChanges.
  virtual Status ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                                      const AnalyticsOptions& options,
                                      const std::function<void(ChangedVersion&&)>& window,
                                      const std::function<void(ChangedVersion&&)>& changed) = 0;

  // The users' documents dated in [from, to], decoded; `out` gets one entry per user that has
  // at least one usable document. History reads never dead-letter.
  virtual Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                             const AnalyticsOptions& options, HistoryByUser* out) = 0;

  // Goals of the users: every user of `users` gets an entry (DefaultGoals() for users without a
  // document or a goal).
  virtual Status ReadGoals(std::span<const ObjectId> users, GoalsByUser* out) = 0;

  // The keys of the users' analytics documents with one of the eight metricTypes and three
  // ranges (others are left alone), appended to `out`: read with a projection of _id, userId,
  // metricType, timeRange and metadata.contentDigest, never the whole documents.
  virtual Status ReadAnalytics(std::span<const ObjectId> users,
                               std::vector<ExistingAnalytics>* out) = 0;

  // Applies the writes, unordered: a refused write does not stop the others sent with it
  // (MongoStore sends them in bulk commands of at most 10 updates and deletes, and sends no
  // more commands after a failed one). Inserts get a fresh _id; updates $set the body's fields
  // on the document with that _id; deletes remove it. On failure returns the error, some of the
  // writes may have been applied, and `counts` holds what is known to have been. The bodies may
  // be consumed.
  virtual Status WriteAnalytics(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) = 0;

  // Every user that has a document in the analytics collection, or a source document dated in
  // [from, to]; sorted, without duplicates.
  virtual Status ListUsers(Day from, Day to, std::vector<ObjectId>* out) = 0;

  // Deletes analytics documents whose expiresAt is before `now` (for servers without a TTL
  // index); returns how many.
  virtual Result<int64_t> DeleteExpired(Instant now) = 0;

  // Whether the analytics collection has a TTL index on expiresAt (the server removes expired
  // documents itself).
  virtual Result<bool> HasTtlIndex() = 0;

  // What this store has sent and read since it was opened (the engine logs a batch's
  // difference). Zeros for a store that does not talk to a server.
  virtual IoCounts Io() const { return {}; }
};

}  // namespace ha
