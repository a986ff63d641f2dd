// MongoStore: MongoDB through libmongoc, behind the three interfaces split by who uses them:
// EngineStore (the engine's steps), AdminStore (doctor, indexes) and ToolsStore (seed, demo,
// tests). The only code that includes mongoc.h; it hands its callers plain domain structs
// (decoded by the codec layer).
//
// Every method returns kUnavailable when no server could be selected (the caller retries) and
// another non-OK Status for a server-side error; the message says what was being done. A
// MongoStore holds a libmongoc client pool: each call pops a client (its own connection) for its
// duration, so calls may run on several threads at once (the engine's IO_CONCURRENCY workers
// do); a pooled client waits up to serverSelectionTimeoutMS for a server that is down.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/admin_store.h"
#include "store/engine_store.h"
#include "store/tools_store.h"

namespace ha {

struct StoreOptions {
  std::string uri;                                  // MONGO_URI
  std::string database;                             // MONGO_DB_NAME
  std::string source_collection = "healthmetrics";  // SOURCE_COLLECTION
  std::string analytics_collection = "analytics";   // ANALYTICS_COLLECTION
  std::string users_collection = "users";           // USERS_COLLECTION
  // Server selection timeout used unless the URI sets serverSelectionTimeoutMS.
  int server_selection_timeout_ms = 30000;
  // WRITE_OPS_PER_COMMAND: updates and deletes per bulk write command. 0 (the default) asks
  // the server once (buildInfo): 10 on FerretDB v1 (it hangs on about 100: docs/TEST-SERVERS.md),
  // kWriteOpsPerCommand everywhere else.
  int write_ops_per_command = 0;
  // The commands one WriteAnalytics call may have in flight when it needs several, counted
  // over all calls: each call sends its first command itself, and up to this many - 1 more
  // at once are shared by the calls running together. The engine sets it to IO_CONCURRENCY.
  int write_commands_in_flight = 1;
};

// The most StoreOptions::write_commands_in_flight counts (IO_CONCURRENCY's maximum).
inline constexpr int kMaxWriteCommandsInFlight = 64;

// Updates and deletes per bulk command on servers other than FerretDB v1.
inline constexpr int kWriteOpsPerCommand = 1000;
// Updates and deletes per bulk command on FerretDB v1.
inline constexpr int kFerretDbV1WriteOpsPerCommand = 10;

// The updates and deletes per command for a server by its buildInfo reply: `is_ferretdb` when
// the reply has a `ferretdbVersion` field, `ferretdb_version` its value ("v1.24.2"). 10 for
// FerretDB v1 or a FerretDB whose version does not read as v2 or later; kWriteOpsPerCommand
// otherwise. Never fails.
int WriteOpsPerCommandFor(bool is_ferretdb, std::string_view ferretdb_version);

// One bulk write command of a WriteAnalytics call: its writes [begin, end).
struct WriteCommand {
  size_t begin = 0, end = 0;
  bool operator==(const WriteCommand&) const = default;
};
// `writes` cut, in order, into commands of at most `max_updates` updates and deletes and at most
// max(kWriteOpsPerCommand, max_updates) operations of any kind (inserts are not capped by
// FerretDB v1's 10, but a long run of them is cut too, so that several connections can share
// it). None for no writes.
std::vector<WriteCommand> CutIntoCommands(std::span<const AnalyticsWrite> writes, int max_updates);

class MongoStore final : public EngineStore, public AdminStore, public ToolsStore {
 public:
  // Parses the URI and prepares a client (no network traffic yet). InvalidArgument for a URI
  // libmongoc rejects (the message never contains the password).
  static Result<std::unique_ptr<MongoStore>> Open(const StoreOptions& options);
  ~MongoStore() override;
  MongoStore(const MongoStore&) = delete;
  MongoStore& operator=(const MongoStore&) = delete;

  // EngineStore. The reads that can return a backlog ask for bounded replies (batchSize), so
  // memory does not depend on how much a server sends at once. WriteAnalytics sends unordered
  // bulk writes with the configured write concern ({w: 1, j: true} unless the URI says
  // otherwise), at most StoreOptions::write_ops_per_command updates and deletes per command
  // (by default 10 on FerretDB v1, found by a buildInfo before the first write, and
  // kWriteOpsPerCommand elsewhere).
  Status ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                     const std::function<void(ChangedVersion&&)>& each) override;
  Status ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                              const AnalyticsOptions& options,
                              const std::function<void(ChangedVersion&&)>& window,
                              const std::function<void(ChangedVersion&&)>& changed) override;
  Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                     const AnalyticsOptions& options, HistoryByUser* out) override;
  Status ReadGoals(std::span<const ObjectId> users, GoalsByUser* out) override;
  Status ReadAnalytics(std::span<const ObjectId> users,
                       std::vector<ExistingAnalytics>* out) override;
  Status WriteAnalytics(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) override;
  Status ListUsers(Day from, Day to, std::vector<ObjectId>* out) override;
  Result<int64_t> DeleteExpired(Instant now) override;
  Result<bool> HasTtlIndex() override;
  // Counted by libmongoc's command monitoring: every command that got a reply or failed, and
  // the replies' BSON sizes.
  IoCounts Io() const override;

  // AdminStore.
  Status Ping() override;
  Result<std::string> ServerVersion() override;
  Result<QueryPlan> ExplainQuery(std::string_view kind) override;
  Status CheckIndexes(std::vector<IndexInfo>* out) override;
  Status CreateIndexes(std::vector<std::string>* warnings) override;

  // ToolsStore.
  Status InsertHealthMetrics(std::vector<BsonDoc>& docs) override;
  Status InsertUsers(std::vector<BsonDoc>& docs) override;
  Status UpsertDailyMetrics(const ObjectId& user, Day day,
                            const std::vector<std::pair<std::string, double>>& metrics,
                            Instant now) override;
  Result<std::optional<BsonDoc>> FindAnalytics(const ObjectId& user, Metric metric,
                                               TimeRange range) override;
  Result<std::optional<BsonDoc>> FindAnalyticsById(const ObjectId& id) override;

  // Every analytics document of `user` (at most kMaxUserAnalytics; 24 when the writer has
  // cleaned up, more only while duplicates of the old model remain), whole, sorted by
  // metricType then timeRange (as strings): the status page's per-user view. An empty vector
  // when the user has none.
  static constexpr int kMaxUserAnalytics = 1000;
  Result<std::vector<BsonDoc>> ReadUserAnalytics(const ObjectId& user);

 private:
  struct Impl;
  explicit MongoStore(std::unique_ptr<Impl> impl);
  Result<std::optional<BsonDoc>> FindOneAnalytics(const bson_t* filter);
  Result<int> WriteOpsPerCommand();
  Status InsertMany(const std::string& collection, std::vector<BsonDoc>& docs,
                    std::string_view doing);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ha
