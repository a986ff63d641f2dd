// What `doctor`, `indexes` and the start-up of `run`, `once` and `demo` ask of the database:
// reachability, the server's version, the recommended indexes and how the engine's queries
// would run. MongoStore (store.h) implements it.
//
// Every method returns kUnavailable when no server could be reached and another non-OK
// Status for a server-side error; the message says what was being done.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ha {

// How the server would run one of the engine's queries, from `explain` (queryPlanner).
struct QueryPlan {
  bool reported = false;  // the reply holds a MongoDB-style winningPlan
  bool uses_index = false;
  std::string summary;  // e.g. "IXSCAN updatedAt_1__id_1" or "COLLSCAN"
};

// One recommended index and whether the collection has one with its key pattern.
struct IndexInfo {
  std::string collection;
  std::string name;  // the existing index's name when present, else the one we would create
  std::string key_json;
  bool present = false;
};

class AdminStore {
 public:
  virtual ~AdminStore() = default;

  // Round trip to the server ({ping: 1}).
  virtual Status Ping() = 0;

  // The server's version string (buildInfo).
  virtual Result<std::string> ServerVersion() = 0;

  // How the server would run the polling query (kind "poll") or a history read ("history").
  virtual Result<QueryPlan> ExplainQuery(std::string_view kind) = 0;

  // The recommended indexes (source: {updatedAt, _id} for the poll, {userId, updatedAt},
  // {userId, date} for history reads; analytics: the unique {userId, metricType, timeRange},
  // the TTL {expiresAt}, {userId, calculatedAt: -1}, {calculatedAt}, {metricType}) and whether
  // each is present (by key pattern: any name or options satisfy it), appended to `out`.
  virtual Status CheckIndexes(std::vector<IndexInfo>* out) = 0;

  // Creates the recommended indexes that are missing, each in its own command. Problems
  // (conflicts, unsupported options, permissions) are appended to `warnings`, never fatal.
  // Returns non-OK only when the server cannot be reached.
  virtual Status CreateIndexes(std::vector<std::string>* warnings) = 0;
};

}  // namespace ha
