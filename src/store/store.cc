#include "store/store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <semaphore>
#include <string_view>
#include <thread>
#include <vector>

#include "codec/analytics_doc.h"
#include "codec/user.h"
#include "store/documents.h"

namespace ha {
namespace {

// mongoc_init once per process; mongoc_cleanup is left to process exit (libmongoc allows it).
void InitMongoc() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    // libmongoc's own messages: warnings and worse to stderr, except the one FerretDB causes on
    // every client close ("Couldn't send endSessions"), which is harmless.
    mongoc_log_set_handler(
        [](mongoc_log_level_t level, const char* domain, const char* message, void*) {
          if (level > MONGOC_LOG_LEVEL_WARNING) return;
          if (std::string_view(message).find("endSessions") != std::string_view::npos) return;
          std::fprintf(stderr, "libmongoc %s: %s\n", domain, message);
        },
        nullptr);
  });
}

// Server-selection and network failures are retried by the caller; the rest are errors.
Status FromError(const bson_error_t& e, std::string_view doing) {
  const bool unavailable =
      e.domain == MONGOC_ERROR_SERVER_SELECTION || e.domain == MONGOC_ERROR_STREAM;
  return {unavailable ? StatusCode::kUnavailable : StatusCode::kInternal,
          fmt::format("{}: {} (domain {}, code {})", doing, e.message, e.domain, e.code)};
}

struct CursorDeleter {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;

struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;

struct BulkDeleter {
  void operator()(mongoc_bulk_operation_t* b) const { mongoc_bulk_operation_destroy(b); }
};
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkDeleter>;

// Drains a cursor into `each`; returns the cursor's error, if any.
template <typename F>
Status Drain(mongoc_cursor_t* cursor, std::string_view doing, F&& each) {
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) each(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) return FromError(error, doing);
  return Status::Ok();
}

void AppendOidArray(bson_t* parent, const char* key, std::span<const ObjectId> ids) {
  bson_t arr;
  bson_append_array_begin(parent, key, -1, &arr);
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    const char* k;
    bson_uint32_to_string(static_cast<uint32_t>(i), &k, buf, sizeof buf);
    const bson_oid_t oid = ToOid(ids[i]);
    bson_append_oid(&arr, k, -1, &oid);
  }
  bson_append_array_end(parent, &arr);
}

void AppendVersionProjection(bson_t* opts) {
  bson_t proj;
  bson_append_document_begin(opts, "projection", -1, &proj);
  for (const char* f : {"_id", "userId", "updatedAt", "date", "metrics"})
    bson_append_int32(&proj, f, -1, 1);
  bson_append_document_end(opts, &proj);
}

void AppendSortByCursor(bson_t* opts) {
  bson_t sort;
  bson_append_document_begin(opts, "sort", -1, &sort);
  bson_append_int32(&sort, "updatedAt", -1, 1);
  bson_append_int32(&sort, "_id", -1, 1);
  bson_append_document_end(opts, &sort);
}

// Documents per reply of a read that can return a backlog (the poll, the user list). The
// server's own cap is a 16 MB reply (some servers send the whole result at once); libmongoc
// holds a reply twice while it is read, so these reads ask for bounded replies: memory then
// stays independent of the server and of the result's size, for a round trip per a few MB.
constexpr int32_t kVersionsPerReply = 10'000;  // projected versions: ~300 B each

void AppendBatchSize(bson_t* opts, int32_t n) { bson_append_int32(opts, "batchSize", -1, n); }

// The batch size of a read of one unit's users (ReadHistory, ReadAnalytics): room for the whole
// expected result, `per_user` documents per user, so that it comes in one reply (the server still
// caps a reply at 16 MB; the rest follows by getMore). A unit is bounded (READ_USERS_PER_QUERY
// users), so its reply is too; a getMore is a round trip, and each one costs more than the bytes
// on a server that resumes its query for it (issue 15: a read in batches of 10,000 took 5.5 s
// there, 2.2 s in fewer, larger replies). Measured: docs/PERFORMANCE.md, "Cursor batch sizes".
int32_t UnitBatchSize(size_t users, int64_t per_user) {
  const int64_t n = static_cast<int64_t>(users) * std::max<int64_t>(per_user, 1);
  return static_cast<int32_t>(std::clamp<int64_t>(n, 1, 1'000'000));
}

// {userId: {$ne: null}, $or: [{updatedAt: {$gt: t}}, {updatedAt: t, _id: {$gt: id}}]}
// plus an optional upper bound on updatedAt.
void AppendAfterFilter(bson_t* filter, const Cursor& after, const Instant* upper) {
  bson_t uid, ors, a, b, gt, idgt;
  bson_append_document_begin(filter, "userId", -1, &uid);
  bson_append_null(&uid, "$ne", -1);
  bson_append_document_end(filter, &uid);
  bson_append_array_begin(filter, "$or", -1, &ors);
  bson_append_document_begin(&ors, "0", -1, &a);
  bson_append_document_begin(&a, "updatedAt", -1, &gt);
  bson_append_date_time(&gt, "$gt", -1, after.updated_at);
  bson_append_document_end(&a, &gt);
  bson_append_document_end(&ors, &a);
  bson_append_document_begin(&ors, "1", -1, &b);
  bson_append_date_time(&b, "updatedAt", -1, after.updated_at);
  bson_append_document_begin(&b, "_id", -1, &idgt);
  const bson_oid_t oid = ToOid(after.id);
  bson_append_oid(&idgt, "$gt", -1, &oid);
  bson_append_document_end(&b, &idgt);
  bson_append_document_end(&ors, &b);
  bson_append_array_end(filter, &ors);
  if (upper) {
    bson_t le;
    bson_append_document_begin(filter, "updatedAt", -1, &le);
    bson_append_date_time(&le, "$lte", -1, *upper);
    bson_append_document_end(filter, &le);
  }
}

struct IndexSpec {
  const char* collection_role;  // "source" or "analytics"
  const char* name;             // used on a fresh database
  std::vector<std::pair<const char*, int>> keys;
  bool unique = false;
  bool ttl = false;
};

const std::vector<IndexSpec>& RecommendedIndexes() {
  static const std::vector<IndexSpec> kIndexes = {
      {"source", "updatedAt_1__id_1", {{"updatedAt", 1}, {"_id", 1}}},
      {"source", "userId_1_updatedAt_1", {{"userId", 1}, {"updatedAt", 1}}},
      {"source", "userId_1_date_1", {{"userId", 1}, {"date", 1}}},
      {"analytics",
       "analytics_user_metric_timerange",
       {{"userId", 1}, {"metricType", 1}, {"timeRange", 1}},
       true},
      {"analytics", "analytics_ttl", {{"expiresAt", 1}}, false, true},
      {"analytics", "analytics_user_calculated", {{"userId", 1}, {"calculatedAt", -1}}},
      {"analytics", "calculatedAt_1", {{"calculatedAt", 1}}},
      {"analytics", "analytics_metric_type", {{"metricType", 1}}},
  };
  return kIndexes;
}

std::string KeyJson(const IndexSpec& s) {
  std::string out = "{";
  for (size_t i = 0; i < s.keys.size(); ++i)
    out += fmt::format("{}{}: {}", i ? ", " : "", s.keys[i].first, s.keys[i].second);
  return out + "}";
}

// Whether an index's key document equals the IndexSpec's key pattern (order and direction).
bool SameKeys(const bson_t* key, const IndexSpec& s) {
  bson_iter_t it;
  if (!bson_iter_init(&it, key)) return false;
  size_t i = 0;
  while (bson_iter_next(&it)) {
    if (i >= s.keys.size() || std::string_view(bson_iter_key(&it)) != s.keys[i].first) return false;
    if (!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_int64(&it) != s.keys[i].second) return false;
    ++i;
  }
  return i == s.keys.size();
}

}  // namespace

// A client popped from the pool for one operation, pushed back when the lease goes (after the
// collections and cursors made from it, which are declared after it).
class ClientLease {
 public:
  explicit ClientLease(mongoc_client_pool_t* pool)
      : pool_(pool), client_(mongoc_client_pool_pop(pool)) {}
  ~ClientLease() { mongoc_client_pool_push(pool_, client_); }
  ClientLease(const ClientLease&) = delete;
  ClientLease& operator=(const ClientLease&) = delete;
  mongoc_client_t* get() const { return client_; }

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

// A collection on a leased client: the client stays out of the pool while it is used.
struct LeasedCollection {
  LeasedCollection(mongoc_client_pool_t* pool, const std::string& db, const std::string& name)
      : lease(pool), coll(mongoc_client_get_collection(lease.get(), db.c_str(), name.c_str())) {}
  mongoc_collection_t* get() const { return coll.get(); }
  ClientLease lease;
  CollectionPtr coll;
};

// The command monitoring's counts, from whichever thread a pooled client ran on.
struct AtomicIo {
  std::atomic<int64_t> commands{0};
  std::atomic<int64_t> bytes_read{0};
};

struct MongoStore::Impl {
  StoreOptions options;
  mongoc_uri_t* uri = nullptr;
  mongoc_client_pool_t* pool = nullptr;
  // {writeConcern: ...}, made once at Open and only read afterwards: mongoc_write_concern_append
  // compiles the write concern on its first use (a write), which concurrent calls would race on.
  ScopedBson write_concern_opts;
  std::atomic<int> write_ops_per_command{0};  // from buildInfo, once known (WriteOpsPerCommand)
  AtomicIo io;
  // Extra commands in flight that the WriteAnalytics calls may add to their own, together
  // (StoreOptions::write_commands_in_flight - 1).
  std::unique_ptr<std::counting_semaphore<kMaxWriteCommandsInFlight>> spare_senders;

  ~Impl() {
    if (pool) mongoc_client_pool_destroy(pool);
    if (uri) mongoc_uri_destroy(uri);
  }

  LeasedCollection Coll(const std::string& name) const {
    return LeasedCollection(pool, options.database, name);
  }
  LeasedCollection Source() const { return Coll(options.source_collection); }
  LeasedCollection Analytics() const { return Coll(options.analytics_collection); }
  LeasedCollection Users() const { return Coll(options.users_collection); }

  const std::string& RoleName(std::string_view role) const {
    return role == "source" ? options.source_collection : options.analytics_collection;
  }
};

MongoStore::MongoStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MongoStore::~MongoStore() = default;

Result<std::unique_ptr<MongoStore>> MongoStore::Open(const StoreOptions& options) {
  InitMongoc();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->spare_senders = std::make_unique<std::counting_semaphore<kMaxWriteCommandsInFlight>>(
      std::clamp(options.write_commands_in_flight, 1, kMaxWriteCommandsInFlight) - 1);
  bson_error_t error;
  impl->uri = mongoc_uri_new_with_error(options.uri.c_str(), &error);
  if (!impl->uri)
    return InvalidArgument(
        fmt::format("MONGO_URI is not a valid MongoDB connection string: {}; expected e.g. "
                    "mongodb://user:password@host:27017/?tls=true",
                    error.message));
  if (!mongoc_uri_has_option(impl->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    mongoc_uri_set_option_as_int32(impl->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                   options.server_selection_timeout_ms);
  if (!mongoc_uri_has_option(impl->uri, MONGOC_URI_APPNAME))
    mongoc_uri_set_appname(impl->uri, "health-analytics");
  impl->pool = mongoc_client_pool_new_with_error(impl->uri, &error);
  if (!impl->pool)
    return InvalidArgument(fmt::format("MONGO_URI could not be used: {}", error.message));
  mongoc_client_pool_set_error_api(impl->pool, MONGOC_ERROR_API_VERSION_2);
  // Command monitoring, for the batch log's io. Only the reply events: a started callback would
  // make libmongoc assemble every command (a bulk write's documents included) into one BSON.
  mongoc_apm_callbacks_t* apm = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_succeeded_cb(apm, [](const mongoc_apm_command_succeeded_t* event) {
    auto* io = static_cast<AtomicIo*>(mongoc_apm_command_succeeded_get_context(event));
    ++io->commands;
    io->bytes_read += mongoc_apm_command_succeeded_get_reply(event)->len;
  });
  mongoc_apm_set_command_failed_cb(apm, [](const mongoc_apm_command_failed_t* event) {
    auto* io = static_cast<AtomicIo*>(mongoc_apm_command_failed_get_context(event));
    ++io->commands;
    if (const bson_t* reply = mongoc_apm_command_failed_get_reply(event))
      io->bytes_read += reply->len;
  });
  mongoc_client_pool_set_apm_callbacks(impl->pool, apm, &impl->io);
  mongoc_apm_callbacks_destroy(apm);
  // {w: 1, j: true} unless the URI says otherwise.
  const mongoc_write_concern_t* uri_wc = mongoc_uri_get_write_concern(impl->uri);
  mongoc_write_concern_t* write_concern = mongoc_write_concern_copy(uri_wc);
  if (mongoc_write_concern_is_default(uri_wc)) {
    mongoc_write_concern_set_w(write_concern, 1);
    mongoc_write_concern_set_journal(write_concern, true);
  }
  mongoc_write_concern_append(write_concern, impl->write_concern_opts.get());
  mongoc_write_concern_destroy(write_concern);
  return std::unique_ptr<MongoStore>(new MongoStore(std::move(impl)));
}

IoCounts MongoStore::Io() const {
  IoCounts io;
  io.commands = impl_->io.commands.load();
  io.bytes_read = impl_->io.bytes_read.load();
  return io;
}

Status MongoStore::Ping() {
  ScopedBson cmd, reply;
  bson_append_int32(cmd.get(), "ping", -1, 1);
  bson_error_t error;
  ClientLease client(impl_->pool);
  const bool ok =
      mongoc_client_command_simple(client.get(), "admin", cmd.get(), nullptr, reply.get(), &error);
  if (!ok) return FromError(error, "ping the database server");
  return Status::Ok();
}

Result<std::string> MongoStore::ServerVersion() {
  ScopedBson cmd, reply;
  bson_append_int32(cmd.get(), "buildInfo", -1, 1);
  bson_error_t error;
  ClientLease client(impl_->pool);
  const bool ok =
      mongoc_client_command_simple(client.get(), "admin", cmd.get(), nullptr, reply.get(), &error);
  std::string version;
  if (ok) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply.get(), "version") && BSON_ITER_HOLDS_UTF8(&it))
      version = bson_iter_utf8(&it, nullptr);
  }
  if (!ok) return FromError(error, "read the server version (buildInfo)");
  return version;
}

Status MongoStore::ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                               const std::function<void(ChangedVersion&&)>& each) {
  ScopedBson filter, opts;
  AppendAfterFilter(filter.get(), after, nullptr);
  AppendVersionProjection(opts.get());
  AppendSortByCursor(opts.get());
  bson_append_int64(opts.get(), "limit", -1, limit);
  AppendBatchSize(opts.get(), std::min<int32_t>(kVersionsPerReply, std::max(limit, 1)));
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  return Drain(cursor.get(), "read changed healthmetrics documents", [&](const bson_t* doc) {
    ChangedVersion v;
    if (DecodeChangedVersion(doc, options, &v)) each(std::move(v));
  });
}

Status MongoStore::ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                                        const AnalyticsOptions& options,
                                        const std::function<void(ChangedVersion&&)>& window,
                                        const std::function<void(ChangedVersion&&)>& changed) {
  if (window_from >= after.updated_at)
    return {StatusCode::kInvalidArgument, "grace window must start before the cursor"};
  // {userId: {$ne: null}, updatedAt: {$gt: window_from}}, no limit: how many versions the
  // window holds is not known before reading them; the cursor is closed (killCursors) once
  // `limit` changed versions are in.
  ScopedBson filter, opts;
  bson_t uid, gt;
  bson_append_document_begin(filter.get(), "userId", -1, &uid);
  bson_append_null(&uid, "$ne", -1);
  bson_append_document_end(filter.get(), &uid);
  bson_append_document_begin(filter.get(), "updatedAt", -1, &gt);
  bson_append_date_time(&gt, "$gt", -1, window_from);
  bson_append_document_end(filter.get(), &gt);
  AppendVersionProjection(opts.get());
  AppendSortByCursor(opts.get());
  AppendBatchSize(opts.get(), kVersionsPerReply);
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  const bson_t* doc;
  int n = 0;
  while (n < limit && mongoc_cursor_next(cursor.get(), &doc)) {
    ChangedVersion v;
    if (!DecodeChangedVersion(doc, options, &v)) continue;
    if (Cursor{v.updated_at, v.id} <= after) {
      window(std::move(v));
    } else {
      changed(std::move(v));
      ++n;
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return FromError(error, "read changed and recent healthmetrics versions");
  return Status::Ok();
}

Status MongoStore::ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                               const AnalyticsOptions& options, HistoryByUser* out) {
  if (users.empty()) return Status::Ok();
  ScopedBson filter, opts;
  bson_t uid, date, proj;
  bson_append_document_begin(filter.get(), "userId", -1, &uid);
  AppendOidArray(&uid, "$in", users);
  bson_append_document_end(filter.get(), &uid);
  bson_append_document_begin(filter.get(), "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, StartOf(from));
  bson_append_date_time(&date, "$lt", -1, StartOf(to + 1));
  bson_append_document_end(filter.get(), &date);
  bson_append_document_begin(opts.get(), "projection", -1, &proj);
  for (const char* f : {"_id", "userId", "updatedAt", "date", "metrics"})
    bson_append_int32(&proj, f, -1, 1);
  bson_append_document_end(opts.get(), &proj);
  AppendBatchSize(opts.get(), UnitBatchSize(users.size(), int64_t{to} - from + 1));  // a day each
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  DecodedHealthMetric decoded;
  return Drain(cursor.get(), "read users' healthmetrics history", [&](const bson_t* doc) {
    DecodeHealthMetric(doc, options, &decoded);
    if (!decoded.usable) return;
    (*out)[decoded.user].push_back(decoded.record);
  });
}

Status MongoStore::ReadGoals(std::span<const ObjectId> users, GoalsByUser* out) {
  for (const ObjectId& u : users) (*out)[u] = DefaultGoals();
  if (users.empty()) return Status::Ok();
  ScopedBson filter, opts;
  bson_t id, proj;
  bson_append_document_begin(filter.get(), "_id", -1, &id);
  AppendOidArray(&id, "$in", users);
  bson_append_document_end(filter.get(), &id);
  bson_append_document_begin(opts.get(), "projection", -1, &proj);
  bson_append_int32(&proj, "goals", -1, 1);
  bson_append_document_end(opts.get(), &proj);
  auto coll = impl_->Users();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  return Drain(cursor.get(), "read users' goals", [&](const bson_t* doc) {
    ObjectId id;
    Goals goals;
    if (DecodeUser(doc, &id, &goals)) (*out)[id] = goals;
  });
}

Status MongoStore::ReadAnalytics(std::span<const ObjectId> users,
                                 std::vector<ExistingAnalytics>* out) {
  if (users.empty()) return Status::Ok();
  ScopedBson filter;
  bson_t uid;
  bson_append_document_begin(filter.get(), "userId", -1, &uid);
  AppendOidArray(&uid, "$in", users);
  bson_append_document_end(filter.get(), &uid);
  ScopedBson opts;
  bson_t proj;
  bson_append_document_begin(opts.get(), "projection", -1, &proj);
  for (const char* f : {"_id", "userId", "metricType", "timeRange", "metadata.contentDigest"})
    bson_append_int32(&proj, f, -1, 1);
  bson_append_document_end(opts.get(), &proj);
  AppendBatchSize(opts.get(), UnitBatchSize(users.size(), int64_t{kMetricCount} * kRangeCount));
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  return Drain(cursor.get(), "read existing analytics keys", [&](const bson_t* doc) {
    ExistingAnalytics e;
    if (DecodeExistingAnalytics(doc, &e)) out->push_back(e);
  });
}

int WriteOpsPerCommandFor(bool is_ferretdb, std::string_view ferretdb_version) {
  if (!is_ferretdb) return kWriteOpsPerCommand;
  // FerretDB v1.24 (SQLite backend) keeps each update statement's query open until its whole
  // command ends and needs a second pooled connection for the write: the 100-connection pool is
  // exhausted, and the whole server hangs, by one command of about 100 updates, or by a few
  // concurrent ones (a killed engine's command runs on, next to its successor's). 10 keeps even
  // several concurrent commands far from the limit (docs/TEST-SERVERS.md). FerretDB v2 is a
  // different server (on DocumentDB) without that pool.
  std::string_view v = ferretdb_version;
  if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
  int major = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9' && major < 1000; ++i)
    major = major * 10 + (v[i] - '0');
  if (i == 0 || major < 2) return kFerretDbV1WriteOpsPerCommand;
  return kWriteOpsPerCommand;
}

// The server's buildInfo once per client, before its first write: the cap is the only thing
// that differs between servers, and a wrong guess either hangs FerretDB or costs MongoDB a
// round trip per 10 writes.
Result<int> MongoStore::WriteOpsPerCommand() {
  if (impl_->options.write_ops_per_command > 0) return impl_->options.write_ops_per_command;
  if (impl_->write_ops_per_command > 0) return impl_->write_ops_per_command.load();
  ScopedBson cmd, reply;
  bson_append_int32(cmd.get(), "buildInfo", -1, 1);
  bson_error_t error;
  ClientLease client(impl_->pool);
  if (!mongoc_client_command_simple(client.get(), "admin", cmd.get(), nullptr, reply.get(),
                                    &error)) {
    Status st = FromError(error, "read the server's buildInfo (to size write commands)");
    if (st.code() == StatusCode::kUnavailable) return st;
    // A server without buildInfo: the small commands are safe everywhere.
    impl_->write_ops_per_command = kFerretDbV1WriteOpsPerCommand;
    return impl_->write_ops_per_command.load();
  }
  bson_iter_t it;
  const bool is_ferretdb = bson_iter_init_find(&it, reply.get(), "ferretdbVersion");
  const std::string_view version =
      is_ferretdb && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
  impl_->write_ops_per_command = WriteOpsPerCommandFor(is_ferretdb, version);
  return impl_->write_ops_per_command.load();
}

std::vector<WriteCommand> CutIntoCommands(std::span<const AnalyticsWrite> writes, int max_updates) {
  const int max_ops = std::max(kWriteOpsPerCommand, max_updates);
  std::vector<WriteCommand> out;
  WriteCommand c;
  int ops = 0, updates = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    const bool update = writes[i].kind != AnalyticsWrite::Kind::kInsert;
    if (ops == max_ops || (update && updates == max_updates)) {
      c.end = i;
      out.push_back(c);
      c.begin = i;
      ops = updates = 0;
    }
    ++ops;
    updates += update ? 1 : 0;
  }
  c.end = writes.size();
  if (c.end > c.begin) out.push_back(c);
  return out;
}

namespace {

// One unordered bulk write of writes [c.begin, c.end) on `coll` with `write_concern_opts`
// ({writeConcern: ...}); adds what the server acknowledged to `counts`.
Status SendWriteCommand(mongoc_collection_t* coll, const bson_t* write_concern_opts,
                        const std::vector<AnalyticsWrite>& writes, const WriteCommand& c,
                        WriteCounts* counts) {
  ScopedBson opts;
  bson_append_bool(opts.get(), "ordered", -1, false);
  bson_concat(opts.get(), write_concern_opts);
  // Our documents are ours (ASCII strings and keys, no '.' or '$' keys): libmongoc's
  // validation of each inserted and $set document (UTF-8, key names) is skipped. The profile
  // of a backlog showed it at a tenth of our CPU.
  ScopedBson no_validation;
  bson_append_bool(no_validation.get(), "validate", -1, false);
  bson_error_t error;
  BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll, opts.get()));
  for (size_t i = c.begin; i < c.end; ++i) {
    const AnalyticsWrite& w = writes[i];
    ScopedBson selector;
    if (w.kind != AnalyticsWrite::Kind::kInsert) {
      const bson_oid_t oid = ToOid(w.id);
      bson_append_oid(selector.get(), "_id", -1, &oid);
    }
    bool ok = true;
    switch (w.kind) {
      case AnalyticsWrite::Kind::kInsert:
        ok = mongoc_bulk_operation_insert_with_opts(bulk.get(), w.body.get(), no_validation.get(),
                                                    &error);
        break;
      case AnalyticsWrite::Kind::kUpdate: {
        ScopedBson update;
        bson_append_document(update.get(), "$set", -1, w.body.get());
        ok = mongoc_bulk_operation_update_one_with_opts(bulk.get(), selector.get(), update.get(),
                                                        no_validation.get(), &error);
        break;
      }
      case AnalyticsWrite::Kind::kDelete:
        ok =
            mongoc_bulk_operation_remove_one_with_opts(bulk.get(), selector.get(), nullptr, &error);
        break;
    }
    if (!ok) return Internal(fmt::format("prepare analytics bulk write: {}", error.message));
  }
  ScopedBson reply;
  const uint32_t server = mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error);
  bson_iter_t it;
  auto count = [&](const char* field) -> int64_t {
    return bson_iter_init_find(&it, reply.get(), field) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
  };
  counts->inserted += count("nInserted");
  counts->updated += count("nModified");
  counts->deleted += count("nRemoved");
  if (!server) return FromError(error, "write analytics documents");
  return Status::Ok();
}

}  // namespace

Status MongoStore::WriteAnalytics(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) {
  if (writes.empty()) return Status::Ok();
  auto per_command = WriteOpsPerCommand();
  if (!per_command.ok()) return per_command.status();
  const std::vector<WriteCommand> commands = CutIntoCommands(writes, *per_command);
  // A call that needs several commands sends them on as many connections as the spare senders
  // allow (each its own pooled client): on FerretDB v1, whose cap is 10, a unit's 170 updates
  // are 17 commands, and two at a time take about 20% less time. The first failure stops the
  // senders from taking more commands.
  int extra = 0;
  while (static_cast<size_t>(extra) + 1 < commands.size() && impl_->spare_senders->try_acquire())
    ++extra;
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first = Status::Ok();
  auto send = [&] {
    auto coll = impl_->Analytics();
    for (size_t i; (i = next++) < commands.size();) {
      WriteCounts c;
      Status st =
          SendWriteCommand(coll.get(), impl_->write_concern_opts.get(), writes, commands[i], &c);
      std::lock_guard lock(mu);
      counts->inserted += c.inserted;
      counts->updated += c.updated;
      counts->deleted += c.deleted;
      if (!st.ok() && first.ok()) first = st;
      if (!first.ok()) next = commands.size();
    }
  };
  std::vector<std::thread> senders;
  for (int i = 0; i < extra; ++i) senders.emplace_back(send);
  send();
  for (std::thread& t : senders) t.join();
  impl_->spare_senders->release(extra);
  return first;
}

Status MongoStore::ListUsers(Day from, Day to, std::vector<ObjectId>* out) {
  // distinct is not used: FerretDB and MongoDB agree on find with a projection, and distinct's
  // one reply document caps the result at 16 MB (about a million users). One document per
  // (user, day) arrives, so the list is deduplicated as it grows: memory stays proportional to
  // the users (at most twice their number, or 1M ids), never to the documents (18M at 100,000
  // users x 180 days).
  IdCollector ids(out);
  auto collect = [&](mongoc_collection_t* coll, const bson_t* filter, const char* doing) {
    ScopedBson opts;
    bson_t proj;
    bson_append_document_begin(opts.get(), "projection", -1, &proj);
    bson_append_int32(&proj, "userId", -1, 1);
    bson_append_int32(&proj, "_id", -1, 0);
    bson_append_document_end(opts.get(), &proj);
    AppendBatchSize(opts.get(), kVersionsPerReply);
    CursorPtr cursor(mongoc_collection_find_with_opts(coll, filter, opts.get(), nullptr));
    return Drain(cursor.get(), doing, [&](const bson_t* doc) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc, "userId") && BSON_ITER_HOLDS_OID(&it))
        ids.Add(FromOid(bson_iter_oid(&it)));
    });
  };
  ScopedBson empty;
  Status st = collect(impl_->Analytics().get(), empty.get(), "list users with analytics");
  if (!st.ok()) return st;
  ScopedBson filter;
  bson_t date;
  bson_append_document_begin(filter.get(), "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, StartOf(from));
  bson_append_date_time(&date, "$lt", -1, StartOf(to + 1));
  bson_append_document_end(filter.get(), &date);
  st = collect(impl_->Source().get(), filter.get(), "list users with recent healthmetrics");
  if (!st.ok()) return st;
  ids.Finish();
  return Status::Ok();
}

Result<int64_t> MongoStore::DeleteExpired(Instant now) {
  ScopedBson filter, opts, reply;
  bson_t lt;
  bson_append_document_begin(filter.get(), "expiresAt", -1, &lt);
  bson_append_date_time(&lt, "$lt", -1, now);
  bson_append_document_end(filter.get(), &lt);
  bson_concat(opts.get(), impl_->write_concern_opts.get());
  bson_error_t error;
  auto coll = impl_->Analytics();
  const bool ok =
      mongoc_collection_delete_many(coll.get(), filter.get(), opts.get(), reply.get(), &error);
  int64_t n = 0;
  bson_iter_t it;
  if (ok && bson_iter_init_find(&it, reply.get(), "deletedCount")) n = bson_iter_as_int64(&it);
  if (!ok) return FromError(error, "delete expired analytics documents");
  return n;
}

namespace {

// Reads the indexes of a collection: (name, key document) pairs. A missing collection has none.
Status ListIndexes(mongoc_collection_t* coll, std::vector<std::pair<std::string, BsonDoc>>* out) {
  CursorPtr cursor(mongoc_collection_find_indexes_with_opts(coll, nullptr));
  const bson_t* doc;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    bson_iter_t it;
    std::string name;
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
      name = bson_iter_utf8(&it, nullptr);
    if (bson_iter_init_find(&it, doc, "key") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len;
      const uint8_t* data;
      bson_iter_document(&it, &len, &data);
      out->emplace_back(name, BsonDoc(bson_new_from_data(data, len)));
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) {
    // NamespaceNotFound (26): the collection does not exist yet.
    if (error.code == 26) return Status::Ok();
    return FromError(error, "list indexes");
  }
  return Status::Ok();
}

}  // namespace

Status MongoStore::CheckIndexes(std::vector<IndexInfo>* out) {
  for (const char* role : {"source", "analytics"}) {
    auto coll = impl_->Coll(impl_->RoleName(role));
    std::vector<std::pair<std::string, BsonDoc>> existing;
    if (Status st = ListIndexes(coll.get(), &existing); !st.ok()) return st;
    for (const IndexSpec& s : RecommendedIndexes()) {
      if (std::string_view(s.collection_role) != role) continue;
      IndexInfo info{impl_->RoleName(role), s.name, KeyJson(s), false};
      for (auto& [name, key] : existing)
        if (SameKeys(key.get(), s)) {
          info.present = true;
          info.name = name;
        }
      out->push_back(info);
    }
  }
  return Status::Ok();
}

Status MongoStore::UpsertDailyMetrics(const ObjectId& user, Day day,
                                      const std::vector<std::pair<std::string, double>>& metrics,
                                      Instant now) {
  ScopedBson filter, update, opts;
  bson_t set, on_insert;
  const bson_oid_t oid = ToOid(user);
  bson_append_oid(filter.get(), "userId", -1, &oid);
  bson_append_date_time(filter.get(), "date", -1, StartOf(day));
  bson_append_document_begin(update.get(), "$set", -1, &set);
  for (const auto& [name, value] : metrics)
    bson_append_double(&set, ("metrics." + name).c_str(), -1, value);
  bson_append_utf8(&set, "source", -1, "manual", -1);
  bson_append_date_time(&set, "updatedAt", -1, now);
  bson_append_document_end(update.get(), &set);
  bson_append_document_begin(update.get(), "$setOnInsert", -1, &on_insert);
  bson_append_date_time(&on_insert, "createdAt", -1, now);
  bson_append_int32(&on_insert, "__v", -1, 0);
  bson_append_document_end(update.get(), &on_insert);
  bson_append_bool(opts.get(), "upsert", -1, true);
  bson_concat(opts.get(), impl_->write_concern_opts.get());
  bson_error_t error;
  auto coll = impl_->Source();
  const bool ok = mongoc_collection_update_one(coll.get(), filter.get(), update.get(), opts.get(),
                                               nullptr, &error);
  if (!ok) return FromError(error, "upsert a day of healthmetrics");
  return Status::Ok();
}

Result<std::optional<BsonDoc>> MongoStore::FindOneAnalytics(const bson_t* filter) {
  ScopedBson opts;
  bson_append_int64(opts.get(), "limit", -1, 1);
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter, opts.get(), nullptr));
  std::optional<BsonDoc> found;
  Status st = Drain(cursor.get(), "read an analytics document", [&](const bson_t* doc) {
    if (!found) found.emplace(bson_copy(doc));
  });
  if (!st.ok()) return st;
  return found;
}

Result<std::optional<BsonDoc>> MongoStore::FindAnalytics(const ObjectId& user, Metric metric,
                                                         TimeRange range) {
  ScopedBson filter;
  const bson_oid_t oid = ToOid(user);
  bson_append_oid(filter.get(), "userId", -1, &oid);
  bson_append_utf8(filter.get(), "metricType", -1, MetricInfoOf(metric).name.data(),
                   static_cast<int>(MetricInfoOf(metric).name.size()));
  const std::string_view r = kRangeNames[static_cast<int>(range)];
  bson_append_utf8(filter.get(), "timeRange", -1, r.data(), static_cast<int>(r.size()));
  auto found = FindOneAnalytics(filter.get());
  return found;
}

Result<std::optional<BsonDoc>> MongoStore::FindAnalyticsById(const ObjectId& id) {
  ScopedBson filter;
  const bson_oid_t oid = ToOid(id);
  bson_append_oid(filter.get(), "_id", -1, &oid);
  auto found = FindOneAnalytics(filter.get());
  return found;
}

namespace {

// Walks a plan tree: records every stage and index name found.
void WalkPlan(bson_iter_t* it, std::vector<std::string>* stages,
              std::vector<std::string>* indexes) {
  while (bson_iter_next(it)) {
    const std::string_view key = bson_iter_key(it);
    if (key == "stage" && BSON_ITER_HOLDS_UTF8(it))
      stages->emplace_back(bson_iter_utf8(it, nullptr));
    if (key == "indexName" && BSON_ITER_HOLDS_UTF8(it))
      indexes->emplace_back(bson_iter_utf8(it, nullptr));
    bson_iter_t child;
    if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
        bson_iter_recurse(it, &child))
      WalkPlan(&child, stages, indexes);
  }
}

}  // namespace

Result<QueryPlan> MongoStore::ExplainQuery(std::string_view kind) {
  ScopedBson cmd;
  bson_t find, filter, opts_sort;
  bson_append_document_begin(cmd.get(), "explain", -1, &find);
  bson_append_utf8(&find, "find", -1, impl_->options.source_collection.c_str(), -1);
  bson_append_document_begin(&find, "filter", -1, &filter);
  const Instant now = NowMillis();
  if (kind == "poll") {
    AppendAfterFilter(&filter, Cursor{now, ObjectId::Min()}, nullptr);
    bson_append_document_end(&find, &filter);
    bson_append_document_begin(&find, "sort", -1, &opts_sort);
    bson_append_int32(&opts_sort, "updatedAt", -1, 1);
    bson_append_int32(&opts_sort, "_id", -1, 1);
    bson_append_document_end(&find, &opts_sort);
  } else {
    const ObjectId some_user;
    bson_t uid, date;
    bson_append_document_begin(&filter, "userId", -1, &uid);
    AppendOidArray(&uid, "$in", std::span<const ObjectId>(&some_user, 1));
    bson_append_document_end(&filter, &uid);
    bson_append_document_begin(&filter, "date", -1, &date);
    bson_append_date_time(&date, "$gte", -1, now - 180 * kMillisPerDay);
    bson_append_date_time(&date, "$lt", -1, now);
    bson_append_document_end(&filter, &date);
    bson_append_document_end(&find, &filter);
  }
  bson_append_int64(&find, "limit", -1, 1);
  bson_append_document_end(cmd.get(), &find);
  bson_append_utf8(cmd.get(), "verbosity", -1, "queryPlanner", -1);
  ScopedBson reply;
  bson_error_t error;
  ClientLease client(impl_->pool);
  const bool ok = mongoc_client_command_simple(client.get(), impl_->options.database.c_str(),
                                               cmd.get(), nullptr, reply.get(), &error);
  QueryPlan plan;
  if (ok) {
    bson_iter_t it, winning;
    if (bson_iter_init(&it, reply.get()) &&
        bson_iter_find_descendant(&it, "queryPlanner.winningPlan", &winning) &&
        BSON_ITER_HOLDS_DOCUMENT(&winning)) {
      plan.reported = true;
      bson_iter_t child;
      std::vector<std::string> stages, indexes;
      if (bson_iter_recurse(&winning, &child)) WalkPlan(&child, &stages, &indexes);
      plan.uses_index = std::find(stages.begin(), stages.end(), "IXSCAN") != stages.end();
      plan.summary = stages.empty() ? "no stages" : fmt::format("{}", fmt::join(stages, " <- "));
      if (!indexes.empty()) plan.summary += " on " + indexes.front();
    }
  }
  if (!ok) return FromError(error, "explain a query");
  return plan;
}

Result<bool> MongoStore::HasTtlIndex() {
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_indexes_with_opts(coll.get(), nullptr));
  const bson_t* doc;
  bool ttl = false;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "expireAfterSeconds")) ttl = true;
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error) && error.code != 26)
    return FromError(error, "list analytics indexes");
  return ttl;
}

Status MongoStore::CreateIndexes(std::vector<std::string>* warnings) {
  for (const char* role : {"source", "analytics"}) {
    const std::string& coll_name = impl_->RoleName(role);
    auto coll = impl_->Coll(coll_name);
    std::vector<std::pair<std::string, BsonDoc>> existing;
    if (Status st = ListIndexes(coll.get(), &existing); !st.ok()) {
      if (st.code() == StatusCode::kUnavailable) return st;
      warnings->push_back(
          fmt::format("could not list the indexes of {}: {}", coll_name, st.message()));
    }
    for (const IndexSpec& s : RecommendedIndexes()) {
      if (std::string_view(s.collection_role) != role) continue;
      bool present = false;
      for (auto& [name, key] : existing) present = present || SameKeys(key.get(), s);
      if (present) continue;  // an index with the same key pattern satisfies it, whatever else
      ScopedBson cmd, reply;
      bson_t indexes, index, key;
      bson_append_utf8(cmd.get(), "createIndexes", -1, coll_name.c_str(), -1);
      bson_append_array_begin(cmd.get(), "indexes", -1, &indexes);
      bson_append_document_begin(&indexes, "0", -1, &index);
      bson_append_document_begin(&index, "key", -1, &key);
      for (auto& [field, dir] : s.keys) bson_append_int32(&key, field, -1, dir);
      bson_append_document_end(&index, &key);
      bson_append_utf8(&index, "name", -1, s.name, -1);
      if (s.unique) bson_append_bool(&index, "unique", -1, true);
      if (s.ttl) bson_append_int32(&index, "expireAfterSeconds", -1, 0);
      bson_append_document_end(&indexes, &index);
      bson_append_array_end(cmd.get(), &indexes);
      bson_error_t error;
      ClientLease client(impl_->pool);
      const bool ok = mongoc_client_command_simple(client.get(), impl_->options.database.c_str(),
                                                   cmd.get(), nullptr, reply.get(), &error);
      if (!ok) {
        Status st = FromError(error, "create index");
        if (st.code() == StatusCode::kUnavailable) return st;
        warnings->push_back(fmt::format(
            "index {} {} on {} was not created: {}{}", s.name, KeyJson(s), coll_name, error.message,
            s.ttl      ? " (without a TTL index, expired analytics documents are removed by the "
                         "daily recompute instead)"
            : s.unique ? " (the writer still keeps one document per key; remove "
                         "duplicate keys or the old non-unique index to get it)"
                       : ""));
      }
    }
  }
  return Status::Ok();
}

Status MongoStore::InsertMany(const std::string& collection, std::vector<BsonDoc>& docs,
                              std::string_view doing) {
  if (docs.empty()) return Status::Ok();
  auto coll = impl_->Coll(collection);
  auto ptrs = std::make_unique<const bson_t*[]>(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) ptrs[i] = docs[i].get();
  ScopedBson opts, reply;
  bson_append_bool(opts.get(), "ordered", -1, false);
  bson_concat(opts.get(), impl_->write_concern_opts.get());
  bson_error_t error;
  if (!mongoc_collection_insert_many(coll.get(), ptrs.get(), docs.size(), opts.get(), reply.get(),
                                     &error))
    return FromError(error, doing);
  return Status::Ok();
}

Status MongoStore::InsertHealthMetrics(std::vector<BsonDoc>& docs) {
  return InsertMany(impl_->options.source_collection, docs, "insert healthmetrics documents");
}

Status MongoStore::InsertUsers(std::vector<BsonDoc>& docs) {
  return InsertMany(impl_->options.users_collection, docs, "insert users");
}

Result<std::vector<BsonDoc>> MongoStore::ReadUserAnalytics(const ObjectId& user) {
  ScopedBson filter, opts;
  bson_t sort;
  const bson_oid_t oid = ToOid(user);
  bson_append_oid(filter.get(), "userId", -1, &oid);
  bson_append_document_begin(opts.get(), "sort", -1, &sort);
  bson_append_int32(&sort, "metricType", -1, 1);
  bson_append_int32(&sort, "timeRange", -1, 1);
  bson_append_document_end(opts.get(), &sort);
  bson_append_int64(opts.get(), "limit", -1, kMaxUserAnalytics);
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  std::vector<BsonDoc> out;
  Status st = Drain(cursor.get(), "read the user's analytics documents",
                    [&](const bson_t* doc) { out.emplace_back(bson_copy(doc)); });
  if (!st.ok()) return st;
  return out;
}

}  // namespace ha
