#include "store/store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "docs/analytics_doc.h"
#include "docs/user.h"

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

bson_oid_t ToOid(const ObjectId& id) {
  bson_oid_t oid{};
  std::copy(id.bytes.begin(), id.bytes.end(), oid.bytes);
  return oid;
}

ObjectId FromOid(const bson_oid_t* oid) {
  ObjectId id;
  std::copy(oid->bytes, oid->bytes + 12, id.bytes.begin());
  return id;
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

// Documents per reply of a large read. The server's own cap is a 16 MB reply (some servers
// send the whole result at once); libmongoc holds a reply twice while it is read, so the reads
// that can return a backlog ask for bounded replies: memory then stays independent of the
// server and of the result's size, for a round trip per a few MB.
constexpr int32_t kVersionsPerReply = 10'000;  // projected versions and history: ~300 B each
constexpr int32_t kAnalyticsPerReply = 1'000;  // whole analytics documents: ~2-8 KB each

void AppendBatchSize(bson_t* opts, int32_t n) { bson_append_int32(opts, "batchSize", -1, n); }

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

bool ChangedFromDoc(const bson_t* doc, const AnalyticsOptions& options, ChangedVersion* out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return false;
  out->id = FromOid(bson_iter_oid(&it));
  if (!bson_iter_init_find(&it, doc, "updatedAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) return false;
  out->updated_at = bson_iter_date_time(&it);
  if (bson_iter_init_find(&it, doc, "userId") && BSON_ITER_HOLDS_OID(&it))
    out->user = FromOid(bson_iter_oid(&it));
  DecodeHealthMetric(doc, options, &out->decoded);
  return true;
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

// Whether an index's key document equals the spec's key pattern (order and direction).
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

struct Store::Impl {
  StoreOptions options;
  mongoc_uri_t* uri = nullptr;
  mongoc_client_t* client = nullptr;
  mongoc_write_concern_t* write_concern = nullptr;

  ~Impl() {
    if (write_concern) mongoc_write_concern_destroy(write_concern);
    if (client) mongoc_client_destroy(client);
    if (uri) mongoc_uri_destroy(uri);
  }

  CollectionPtr Coll(const std::string& name) const {
    return CollectionPtr(
        mongoc_client_get_collection(client, options.database.c_str(), name.c_str()));
  }
  CollectionPtr Source() const { return Coll(options.source_collection); }
  CollectionPtr Analytics() const { return Coll(options.analytics_collection); }
  CollectionPtr Users() const { return Coll(options.users_collection); }

  const std::string& RoleName(std::string_view role) const {
    return role == "source" ? options.source_collection : options.analytics_collection;
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  InitMongoc();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
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
  impl->client = mongoc_client_new_from_uri_with_error(impl->uri, &error);
  if (!impl->client)
    return InvalidArgument(fmt::format("MONGO_URI could not be used: {}", error.message));
  mongoc_client_set_error_api(impl->client, MONGOC_ERROR_API_VERSION_2);
  // {w: 1, j: true} unless the URI says otherwise.
  const mongoc_write_concern_t* uri_wc = mongoc_uri_get_write_concern(impl->uri);
  impl->write_concern = mongoc_write_concern_copy(uri_wc);
  if (mongoc_write_concern_is_default(uri_wc)) {
    mongoc_write_concern_set_w(impl->write_concern, 1);
    mongoc_write_concern_set_journal(impl->write_concern, true);
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::Ping() {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_append_int32(&cmd, "ping", -1, 1);
  bson_error_t error;
  const bool ok =
      mongoc_client_command_simple(impl_->client, "admin", &cmd, nullptr, &reply, &error);
  bson_destroy(&cmd);
  bson_destroy(&reply);
  if (!ok) return FromError(error, "ping the database server");
  return Status::Ok();
}

Result<std::string> Store::ServerVersion() {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_append_int32(&cmd, "buildInfo", -1, 1);
  bson_error_t error;
  const bool ok =
      mongoc_client_command_simple(impl_->client, "admin", &cmd, nullptr, &reply, &error);
  bson_destroy(&cmd);
  std::string version;
  if (ok) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
      version = bson_iter_utf8(&it, nullptr);
  }
  bson_destroy(&reply);
  if (!ok) return FromError(error, "read the server version (buildInfo)");
  return version;
}

Status Store::ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                          const std::function<void(ChangedVersion&&)>& each) {
  bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
  AppendAfterFilter(&filter, after, nullptr);
  AppendVersionProjection(&opts);
  AppendSortByCursor(&opts);
  bson_append_int64(&opts, "limit", -1, limit);
  AppendBatchSize(&opts, std::min<int32_t>(kVersionsPerReply, std::max(limit, 1)));
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), &filter, &opts, nullptr));
  bson_destroy(&filter);
  bson_destroy(&opts);
  return Drain(cursor.get(), "read changed healthmetrics documents", [&](const bson_t* doc) {
    ChangedVersion v;
    if (ChangedFromDoc(doc, options, &v)) each(std::move(v));
  });
}

Status Store::ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                                   const AnalyticsOptions& options,
                                   const std::function<void(ChangedVersion&&)>& window,
                                   const std::function<void(ChangedVersion&&)>& changed) {
  if (window_from >= after.updated_at)
    return {StatusCode::kInvalidArgument, "grace window must start before the cursor"};
  // {userId: {$ne: null}, updatedAt: {$gt: window_from}}, no limit: how many versions the
  // window holds is not known before reading them; the cursor is closed (killCursors) once
  // `limit` changed versions are in.
  bson_t filter = BSON_INITIALIZER, uid, gt, opts = BSON_INITIALIZER;
  bson_append_document_begin(&filter, "userId", -1, &uid);
  bson_append_null(&uid, "$ne", -1);
  bson_append_document_end(&filter, &uid);
  bson_append_document_begin(&filter, "updatedAt", -1, &gt);
  bson_append_date_time(&gt, "$gt", -1, window_from);
  bson_append_document_end(&filter, &gt);
  AppendVersionProjection(&opts);
  AppendSortByCursor(&opts);
  AppendBatchSize(&opts, kVersionsPerReply);
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), &filter, &opts, nullptr));
  bson_destroy(&filter);
  bson_destroy(&opts);
  const bson_t* doc;
  int n = 0;
  while (n < limit && mongoc_cursor_next(cursor.get(), &doc)) {
    ChangedVersion v;
    if (!ChangedFromDoc(doc, options, &v)) continue;
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

Status Store::ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                          const AnalyticsOptions& options,
                          std::unordered_map<ObjectId, std::vector<DayRecord>, ObjectIdHash>* out) {
  if (users.empty()) return Status::Ok();
  bson_t filter = BSON_INITIALIZER, uid, date, opts = BSON_INITIALIZER, proj;
  bson_append_document_begin(&filter, "userId", -1, &uid);
  AppendOidArray(&uid, "$in", users);
  bson_append_document_end(&filter, &uid);
  bson_append_document_begin(&filter, "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, StartOf(from));
  bson_append_date_time(&date, "$lt", -1, StartOf(to + 1));
  bson_append_document_end(&filter, &date);
  bson_append_document_begin(&opts, "projection", -1, &proj);
  for (const char* f : {"_id", "userId", "updatedAt", "date", "metrics"})
    bson_append_int32(&proj, f, -1, 1);
  bson_append_document_end(&opts, &proj);
  AppendBatchSize(&opts, kVersionsPerReply);
  auto coll = impl_->Source();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), &filter, &opts, nullptr));
  bson_destroy(&filter);
  bson_destroy(&opts);
  DecodedHealthMetric decoded;
  return Drain(cursor.get(), "read users' healthmetrics history", [&](const bson_t* doc) {
    DecodeHealthMetric(doc, options, &decoded);
    if (!decoded.usable) return;
    (*out)[decoded.user].push_back(decoded.record);
  });
}

Status Store::ReadGoals(std::span<const ObjectId> users,
                        std::unordered_map<ObjectId, Goals, ObjectIdHash>* out) {
  for (const ObjectId& u : users) (*out)[u] = DefaultGoals();
  if (users.empty()) return Status::Ok();
  bson_t filter = BSON_INITIALIZER, id, opts = BSON_INITIALIZER, proj;
  bson_append_document_begin(&filter, "_id", -1, &id);
  AppendOidArray(&id, "$in", users);
  bson_append_document_end(&filter, &id);
  bson_append_document_begin(&opts, "projection", -1, &proj);
  bson_append_int32(&proj, "goals", -1, 1);
  bson_append_document_end(&opts, &proj);
  auto coll = impl_->Users();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), &filter, &opts, nullptr));
  bson_destroy(&filter);
  bson_destroy(&opts);
  return Drain(cursor.get(), "read users' goals", [&](const bson_t* doc) {
    ObjectId id;
    Goals goals;
    if (DecodeUser(doc, &id, &goals)) (*out)[id] = goals;
  });
}

Status Store::ReadAnalytics(std::span<const ObjectId> users, std::vector<ExistingAnalytics>* out) {
  if (users.empty()) return Status::Ok();
  bson_t filter = BSON_INITIALIZER, uid;
  bson_append_document_begin(&filter, "userId", -1, &uid);
  AppendOidArray(&uid, "$in", users);
  bson_append_document_end(&filter, &uid);
  bson_t opts = BSON_INITIALIZER;
  AppendBatchSize(&opts, kAnalyticsPerReply);
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), &filter, &opts, nullptr));
  bson_destroy(&filter);
  bson_destroy(&opts);
  return Drain(cursor.get(), "read existing analytics documents", [&](const bson_t* doc) {
    bson_iter_t it;
    ExistingAnalytics e;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return;
    e.id = FromOid(bson_iter_oid(&it));
    if (!bson_iter_init_find(&it, doc, "userId") || !BSON_ITER_HOLDS_OID(&it)) return;
    e.user = FromOid(bson_iter_oid(&it));
    if (!bson_iter_init_find(&it, doc, "metricType") || !BSON_ITER_HOLDS_UTF8(&it)) return;
    auto metric = MetricFromName(bson_iter_utf8(&it, nullptr));
    if (!bson_iter_init_find(&it, doc, "timeRange") || !BSON_ITER_HOLDS_UTF8(&it)) return;
    auto range = RangeFromName(bson_iter_utf8(&it, nullptr));
    if (!metric || !range) return;  // not one of ours: left alone
    e.metric = *metric;
    e.range = *range;
    e.digest = DeterministicDigest(doc);
    out->push_back(e);
  });
}

namespace {

// Updates and deletes per bulk command. FerretDB v1.24 (SQLite backend) keeps each update
// statement's query open until its whole command ends and needs a second pooled connection for
// the write: the 100-connection pool is exhausted, and the whole server hangs, by one command of
// about 100 updates, or by a few concurrent ones (a killed engine's command runs on, next to its
// successor's). 10 keeps even several concurrent commands far from the limit
// (docs/TEST-SERVERS.md); MongoDB is indifferent, it only costs round trips.
constexpr int kMaxUpdatesPerCommand = 10;

}  // namespace

Status Store::Write(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) {
  if (writes.empty()) return Status::Ok();
  auto coll = impl_->Analytics();
  bson_t opts = BSON_INITIALIZER;
  bson_append_bool(&opts, "ordered", -1, false);
  mongoc_write_concern_append(impl_->write_concern, &opts);
  bson_error_t error;
  // Executes `bulk` (when it holds anything) and adds its counts.
  auto execute = [&](mongoc_bulk_operation_t* bulk, bool empty) -> Status {
    if (empty) {
      mongoc_bulk_operation_destroy(bulk);
      return Status::Ok();
    }
    bson_t reply;
    const uint32_t server = mongoc_bulk_operation_execute(bulk, &reply, &error);
    bson_iter_t it;
    auto count = [&](const char* field) -> int64_t {
      return bson_iter_init_find(&it, &reply, field) && BSON_ITER_HOLDS_NUMBER(&it)
                 ? bson_iter_as_int64(&it)
                 : 0;
    };
    counts->inserted += count("nInserted");
    counts->updated += count("nModified");
    counts->deleted += count("nRemoved");
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    if (!server) return FromError(error, "write analytics documents");
    return Status::Ok();
  };
  // Our documents are ours (ASCII strings and keys, no '.' or '$' keys): libmongoc's
  // validation of each inserted and $set document (UTF-8, key names) is skipped. The profile
  // of a backlog showed it at a tenth of our CPU.
  bson_t no_validation = BSON_INITIALIZER;
  bson_append_bool(&no_validation, "validate", -1, false);
  mongoc_bulk_operation_t* bulk =
      mongoc_collection_create_bulk_operation_with_opts(coll.get(), &opts);
  bool empty = true;
  int updates = 0;
  for (AnalyticsWrite& w : writes) {
    if (w.kind != AnalyticsWrite::Kind::kInsert && updates == kMaxUpdatesPerCommand) {
      if (Status st = execute(bulk, empty); !st.ok()) {
        bson_destroy(&opts);
        bson_destroy(&no_validation);
        return st;
      }
      bulk = mongoc_collection_create_bulk_operation_with_opts(coll.get(), &opts);
      empty = true;
      updates = 0;
    }
    bson_t selector = BSON_INITIALIZER;
    if (w.kind != AnalyticsWrite::Kind::kInsert) {
      const bson_oid_t oid = ToOid(w.id);
      bson_append_oid(&selector, "_id", -1, &oid);
      ++updates;
    }
    bool ok = true;
    switch (w.kind) {
      case AnalyticsWrite::Kind::kInsert:
        ok = mongoc_bulk_operation_insert_with_opts(bulk, w.body.get(), &no_validation, &error);
        break;
      case AnalyticsWrite::Kind::kUpdate: {
        bson_t update = BSON_INITIALIZER;
        bson_append_document(&update, "$set", -1, w.body.get());
        ok = mongoc_bulk_operation_update_one_with_opts(bulk, &selector, &update, &no_validation,
                                                        &error);
        bson_destroy(&update);
        break;
      }
      case AnalyticsWrite::Kind::kDelete:
        ok = mongoc_bulk_operation_remove_one_with_opts(bulk, &selector, nullptr, &error);
        break;
    }
    bson_destroy(&selector);
    empty = false;
    if (!ok) {
      mongoc_bulk_operation_destroy(bulk);
      bson_destroy(&opts);
      bson_destroy(&no_validation);
      return Internal(fmt::format("prepare analytics bulk write: {}", error.message));
    }
  }
  bson_destroy(&opts);
  bson_destroy(&no_validation);
  return execute(bulk, empty);
}

Status Store::ListUsers(Day from, Day to, std::vector<ObjectId>* out) {
  // distinct is not used: FerretDB and MongoDB agree on find with a projection, and distinct's
  // one reply document caps the result at 16 MB (about a million users). One document per
  // (user, day) arrives, so the list is deduplicated as it grows: memory stays proportional to
  // the users (at most twice their number, or 1M ids), never to the documents (18M at 100,000
  // users x 180 days).
  IdCollector ids(out);
  auto collect = [&](mongoc_collection_t* coll, const bson_t* filter, const char* doing) {
    bson_t opts = BSON_INITIALIZER, proj;
    bson_append_document_begin(&opts, "projection", -1, &proj);
    bson_append_int32(&proj, "userId", -1, 1);
    bson_append_int32(&proj, "_id", -1, 0);
    bson_append_document_end(&opts, &proj);
    AppendBatchSize(&opts, kVersionsPerReply);
    CursorPtr cursor(mongoc_collection_find_with_opts(coll, filter, &opts, nullptr));
    bson_destroy(&opts);
    return Drain(cursor.get(), doing, [&](const bson_t* doc) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc, "userId") && BSON_ITER_HOLDS_OID(&it))
        ids.Add(FromOid(bson_iter_oid(&it)));
    });
  };
  bson_t empty = BSON_INITIALIZER;
  Status st = collect(impl_->Analytics().get(), &empty, "list users with analytics");
  bson_destroy(&empty);
  if (!st.ok()) return st;
  bson_t filter = BSON_INITIALIZER, date;
  bson_append_document_begin(&filter, "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, StartOf(from));
  bson_append_date_time(&date, "$lt", -1, StartOf(to + 1));
  bson_append_document_end(&filter, &date);
  st = collect(impl_->Source().get(), &filter, "list users with recent healthmetrics");
  bson_destroy(&filter);
  if (!st.ok()) return st;
  ids.Finish();
  return Status::Ok();
}

Result<int64_t> Store::DeleteExpired(Instant now) {
  bson_t filter = BSON_INITIALIZER, lt, opts = BSON_INITIALIZER, reply;
  bson_append_document_begin(&filter, "expiresAt", -1, &lt);
  bson_append_date_time(&lt, "$lt", -1, now);
  bson_append_document_end(&filter, &lt);
  mongoc_write_concern_append(impl_->write_concern, &opts);
  bson_error_t error;
  auto coll = impl_->Analytics();
  const bool ok = mongoc_collection_delete_many(coll.get(), &filter, &opts, &reply, &error);
  int64_t n = 0;
  bson_iter_t it;
  if (ok && bson_iter_init_find(&it, &reply, "deletedCount")) n = bson_iter_as_int64(&it);
  bson_destroy(&filter);
  bson_destroy(&opts);
  bson_destroy(&reply);
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

Status Store::CheckIndexes(std::vector<IndexInfo>* out) {
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

Status Store::UpsertDailyMetrics(const ObjectId& user, Day day,
                                 const std::vector<std::pair<std::string, double>>& metrics,
                                 Instant now) {
  bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, on_insert,
         opts = BSON_INITIALIZER;
  const bson_oid_t oid = ToOid(user);
  bson_append_oid(&filter, "userId", -1, &oid);
  bson_append_date_time(&filter, "date", -1, StartOf(day));
  bson_append_document_begin(&update, "$set", -1, &set);
  for (const auto& [name, value] : metrics)
    bson_append_double(&set, ("metrics." + name).c_str(), -1, value);
  bson_append_utf8(&set, "source", -1, "manual", -1);
  bson_append_date_time(&set, "updatedAt", -1, now);
  bson_append_document_end(&update, &set);
  bson_append_document_begin(&update, "$setOnInsert", -1, &on_insert);
  bson_append_date_time(&on_insert, "createdAt", -1, now);
  bson_append_int32(&on_insert, "__v", -1, 0);
  bson_append_document_end(&update, &on_insert);
  bson_append_bool(&opts, "upsert", -1, true);
  mongoc_write_concern_append(impl_->write_concern, &opts);
  bson_error_t error;
  auto coll = impl_->Source();
  const bool ok =
      mongoc_collection_update_one(coll.get(), &filter, &update, &opts, nullptr, &error);
  bson_destroy(&filter);
  bson_destroy(&update);
  bson_destroy(&opts);
  if (!ok) return FromError(error, "upsert a day of healthmetrics");
  return Status::Ok();
}

Result<std::optional<BsonDoc>> Store::FindOneAnalytics(const bson_t* filter) {
  bson_t opts = BSON_INITIALIZER;
  bson_append_int64(&opts, "limit", -1, 1);
  auto coll = impl_->Analytics();
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter, &opts, nullptr));
  bson_destroy(&opts);
  std::optional<BsonDoc> found;
  Status st = Drain(cursor.get(), "read an analytics document", [&](const bson_t* doc) {
    if (!found) found.emplace(bson_copy(doc));
  });
  if (!st.ok()) return st;
  return found;
}

Result<std::optional<BsonDoc>> Store::FindAnalytics(const ObjectId& user, Metric metric,
                                                    TimeRange range) {
  bson_t filter = BSON_INITIALIZER;
  const bson_oid_t oid = ToOid(user);
  bson_append_oid(&filter, "userId", -1, &oid);
  bson_append_utf8(&filter, "metricType", -1, InfoOf(metric).name.data(),
                   static_cast<int>(InfoOf(metric).name.size()));
  const std::string_view r = kRangeNames[static_cast<int>(range)];
  bson_append_utf8(&filter, "timeRange", -1, r.data(), static_cast<int>(r.size()));
  auto found = FindOneAnalytics(&filter);
  bson_destroy(&filter);
  return found;
}

Result<std::optional<BsonDoc>> Store::FindAnalyticsById(const ObjectId& id) {
  bson_t filter = BSON_INITIALIZER;
  const bson_oid_t oid = ToOid(id);
  bson_append_oid(&filter, "_id", -1, &oid);
  auto found = FindOneAnalytics(&filter);
  bson_destroy(&filter);
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

Result<Store::QueryPlan> Store::ExplainQuery(std::string_view kind) {
  bson_t cmd = BSON_INITIALIZER, find, filter, opts_sort;
  bson_append_document_begin(&cmd, "explain", -1, &find);
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
  bson_append_document_end(&cmd, &find);
  bson_append_utf8(&cmd, "verbosity", -1, "queryPlanner", -1);
  bson_t reply;
  bson_error_t error;
  const bool ok = mongoc_client_command_simple(impl_->client, impl_->options.database.c_str(), &cmd,
                                               nullptr, &reply, &error);
  bson_destroy(&cmd);
  QueryPlan plan;
  if (ok) {
    bson_iter_t it, winning;
    if (bson_iter_init(&it, &reply) &&
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
  bson_destroy(&reply);
  if (!ok) return FromError(error, "explain a query");
  return plan;
}

Result<bool> Store::HasTtlIndex() {
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

Status Store::CreateIndexes(std::vector<std::string>* warnings) {
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
      bson_t cmd = BSON_INITIALIZER, indexes, index, key, reply;
      bson_append_utf8(&cmd, "createIndexes", -1, coll_name.c_str(), -1);
      bson_append_array_begin(&cmd, "indexes", -1, &indexes);
      bson_append_document_begin(&indexes, "0", -1, &index);
      bson_append_document_begin(&index, "key", -1, &key);
      for (auto& [field, dir] : s.keys) bson_append_int32(&key, field, -1, dir);
      bson_append_document_end(&index, &key);
      bson_append_utf8(&index, "name", -1, s.name, -1);
      if (s.unique) bson_append_bool(&index, "unique", -1, true);
      if (s.ttl) bson_append_int32(&index, "expireAfterSeconds", -1, 0);
      bson_append_document_end(&indexes, &index);
      bson_append_array_end(&cmd, &indexes);
      bson_error_t error;
      const bool ok = mongoc_client_command_simple(impl_->client, impl_->options.database.c_str(),
                                                   &cmd, nullptr, &reply, &error);
      bson_destroy(&cmd);
      bson_destroy(&reply);
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

Status Store::InsertMany(bool users, std::vector<BsonDoc>& docs) {
  if (docs.empty()) return Status::Ok();
  auto coll = users ? impl_->Users() : impl_->Source();
  auto ptrs = std::make_unique<const bson_t*[]>(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) ptrs[i] = docs[i].get();
  bson_t opts = BSON_INITIALIZER, reply;
  bson_append_bool(&opts, "ordered", -1, false);
  mongoc_write_concern_append(impl_->write_concern, &opts);
  bson_error_t error;
  const bool ok =
      mongoc_collection_insert_many(coll.get(), ptrs.get(), docs.size(), &opts, &reply, &error);
  bson_destroy(&opts);
  bson_destroy(&reply);
  if (!ok) return FromError(error, users ? "insert users" : "insert healthmetrics documents");
  return Status::Ok();
}

}  // namespace ha
