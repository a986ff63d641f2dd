// MongoDB through libmongoc: the changed-document reader, the history and goals readers, the
// analytics writer and index creation. The only code that includes mongoc.h; it hands the
// engine plain domain structs (decoded by the docs layer).
//
// Every method returns Unavailable when no server could be selected (the caller retries) and
// another non-OK Status for a server-side error; the message says what was being done.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "analytics/kernel.h"
#include "core/cursor.h"
#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"
#include "docs/bson_doc.h"
#include "docs/healthmetric.h"

namespace ha {

struct StoreOptions {
  std::string uri;                                  // MONGO_URI
  std::string database;                             // MONGO_DB_NAME
  std::string source_collection = "healthmetrics";  // SOURCE_COLLECTION
  std::string analytics_collection = "analytics";   // ANALYTICS_COLLECTION
  std::string users_collection = "users";           // USERS_COLLECTION
  // Server selection timeout used unless the URI sets serverSelectionTimeoutMS.
  int server_selection_timeout_ms = 30000;
};

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
  uint64_t digest = 0;  // DeterministicDigest of the stored document
};

// One write of the analytics collection.
struct AnalyticsWrite {
  enum class Kind : uint8_t { kInsert, kUpdate, kDelete };
  Kind kind = Kind::kInsert;
  ObjectId user;
  ObjectId id;   // kUpdate, kDelete: the document addressed
  BsonDoc body;  // kInsert: the whole document; kUpdate: the fields to $set
};

struct WriteCounts {
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
};

class Store {
 public:
  // Parses the URI and prepares a client (no network traffic yet). InvalidArgument for a URI
  // libmongoc rejects (the message never contains the password).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Round trip to the server ({ping: 1}).
  Status Ping();
  // The server's version string (buildInfo).
  Result<std::string> ServerVersion();

  // Reads up to `limit` source documents after `after` in (updatedAt, _id) order whose userId
  // is not null, with the projection _id, userId, updatedAt, date, metrics; each is handed to
  // `each` as it is decoded (the caller keeps what it needs).
  Status ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                     const std::function<void(ChangedVersion&&)>& each);

  // The grace re-read and the poll in one query (one round trip when quiet): every source
  // version with a non-null userId and updatedAt after `window_from` (exclusive), in
  // (updatedAt, _id) order. Versions at or before `after` (the grace window (window_from,
  // after]) go to `window`; up to `limit` versions after it go to `changed`, and the query
  // stops there. Both are called in that order as the versions are decoded. Requires window_from <
  // after.updated_at (otherwise use ReadChanges: the filter would miss ties after the cursor). Same
  // projection as ReadChanges.
  Status ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                              const AnalyticsOptions& options,
                              const std::function<void(ChangedVersion&&)>& window,
                              const std::function<void(ChangedVersion&&)>& changed);

  // The users' documents dated in [from, to], decoded; `out` gets one entry per user that has
  // at least one usable document. History reads never dead-letter.
  Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                     const AnalyticsOptions& options,
                     std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash>* out);

  // Goals of the users (DefaultGoals() for users without a document or a goal).
  Status ReadGoals(std::span<const ObjectId> users,
                   std::unordered_map<ObjectId, Goals, ObjectIdHash>* out);

  // The analytics documents of the users with one of the eight metricTypes and three ranges.
  Status ReadAnalytics(std::span<const ObjectId> users, std::vector<ExistingAnalytics>* out);

  // Executes the writes as unordered bulk writes with the configured write concern, at most
  // 10 updates and deletes per command (FerretDB hangs on about 100: docs/TEST-SERVERS.md). On
  // failure returns the error and leaves `counts` with what is known to have been applied.
  Status Write(std::vector<AnalyticsWrite>& writes, WriteCounts* counts);

  // Every user that has a document in the analytics collection, or a source document dated in
  // [from, to]; sorted, without duplicates.
  Status ListUsers(Day from, Day to, std::vector<ObjectId>* out);

  // Deletes analytics documents whose expiresAt is before `now` (for servers without TTL).
  Result<int64_t> DeleteExpired(Instant now);

  // Creates the recommended indexes (engine spec section 6), each in its own command. Problems
  // (conflicts, unsupported options, permissions) are appended to `warnings`, never fatal.
  // Returns non-OK only when the server cannot be reached.
  Status CreateIndexes(std::vector<std::string>* warnings);

  // Inserts documents into the source (`users` = false) or users collection (unordered).
  Status InsertMany(bool users, std::vector<BsonDoc>& docs);

  // Writes one day's metrics the way the upstream app does: an upsert by (userId, date) that
  // sets the given `metrics.<name>` values, `source` and `updatedAt` (= `now`), and `createdAt`
  // and `__v` on insert. `metrics` holds name -> value.
  Status UpsertDailyMetrics(const ObjectId& user, Day day,
                            const std::vector<std::pair<std::string, double>>& metrics,
                            Instant now);

  // The stored analytics document of (user, metric, range), or nullopt.
  Result<std::optional<BsonDoc>> FindAnalytics(const ObjectId& user, Metric metric,
                                               TimeRange range);

  // The analytics document with this `_id` (the only lookup FerretDB's SQLite backend serves
  // without a scan), or nullopt.
  Result<std::optional<BsonDoc>> FindAnalyticsById(const ObjectId& id);

  // How the server would run the polling query (kind "poll") or a history read ("history"),
  // from `explain` (queryPlanner): whether the plan reports an index scan, and what it says.
  struct QueryPlan {
    bool reported = false;  // the reply holds a MongoDB-style winningPlan
    bool uses_index = false;
    std::string summary;  // e.g. "IXSCAN updatedAt_1__id_1" or "COLLSCAN"
  };
  Result<QueryPlan> ExplainQuery(std::string_view kind);

  // Whether the analytics collection has a TTL index on expiresAt.
  Result<bool> HasTtlIndex();

  struct IndexInfo {
    std::string collection;
    std::string name;
    std::string key_json;
    bool present = false;
  };
  // The recommended indexes and whether each is present (by key pattern), for `doctor`.
  Status CheckIndexes(std::vector<IndexInfo>* out);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  Result<std::optional<BsonDoc>> FindOneAnalytics(const bson_t* filter);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ha
