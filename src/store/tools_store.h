// What the tools write and look up: `seed` and `demo` insert users and healthmetrics the way
// the upstream app does, and `demo` and the tests read analytics documents back. MongoStore
// (store.h) implements it.
//
// Every method returns kUnavailable when no server could be reached and another non-OK
// Status for a server-side error; the message says what was being done.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analytics/metrics.h"
#include "codec/bson_doc.h"
#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"

namespace ha {

class ToolsStore {
 public:
  virtual ~ToolsStore() = default;

  // Inserts whole documents into SOURCE_COLLECTION (unordered). The documents may be consumed.
  virtual Status InsertHealthMetrics(std::vector<BsonDoc>& docs) = 0;

  // Inserts whole documents into USERS_COLLECTION (unordered). The documents may be consumed.
  virtual Status InsertUsers(std::vector<BsonDoc>& docs) = 0;

  // Writes one day's metrics the way the upstream app does: an upsert by (userId, date) that
  // sets the given `metrics.<name>` values, `source` and `updatedAt` (= `now`), and `createdAt`
  // and `__v` on insert. `metrics` holds name -> value.
  virtual Status UpsertDailyMetrics(const ObjectId& user, Day day,
                                    const std::vector<std::pair<std::string, double>>& metrics,
                                    Instant now) = 0;

  // The stored analytics document of (user, metric, range), or nullopt.
  virtual Result<std::optional<BsonDoc>> FindAnalytics(const ObjectId& user, Metric metric,
                                                       TimeRange range) = 0;

  // The analytics document with this `_id` (the only lookup FerretDB's SQLite backend serves
  // without a scan), or nullopt.
  virtual Result<std::optional<BsonDoc>> FindAnalyticsById(const ObjectId& id) = 0;
};

}  // namespace ha
