// physical_limit: the I/O health-analytics does to drain a backlog (or one steady-state batch),
// through libmongoc alone, with no decoding and no analytics work. bench/e2e/run compares the
// engine's time with this program's, measured against the same server in the same run.
//
// It issues the queries of src/store/store.cc with the same filters, projections, sorts, limits
// and batching, in the order Engine::RunBatch issues them when `health-analytics once` is called
// until nothing is pending (each call a fresh process, so each batch after the first re-reads the
// grace window and treats it as new):
//   per batch   ping; listIndexes of the source and analytics collections (start-up index check);
//               the polling query (userId != null, after the cursor, sorted by (updatedAt, _id),
//               limit MAX_BATCH_DOCS, projection _id userId updatedAt date metrics); from the
//               second batch, with the grace re-read of (watermark - grace, cursor] in the same
//               query (updatedAt > watermark - grace, no limit, closed after MAX_BATCH_DOCS
//               versions past the cursor)
//   first batch the daily recompute's listIndexes (TTL check), deleteMany of expired analytics,
//   (--full-    and the user list (analytics projected to userId; healthmetrics dated in the
//   recompute)  horizon projected to userId); while batches are full and affect at least
//               USERS_PER_CHUNK users, nobody is processed and the recompute waits for the
//               first batch that is not (as the engine leaves a backlog's users to the pass)
//   per chunk   of USERS_PER_CHUNK users (sorted): goals ({_id: {$in}}, projection goals); history
//               ({userId: {$in}, date: [from, to+1)}, same projection as the poll); existing
//               analytics ({userId: {$in}}, whole documents); one unordered bulk write with
//               {w: 1, j: true}
// Writes: with --template FILE (the engine's analytics documents, raw BSON, from --export) each
// user without analytics documents gets its template documents inserted (what the engine's first
// computation inserts); users that already have documents get nothing (the engine finds their
// content unchanged), unless --updates N, which $sets N of the documents just read (body without
// _id, createdAt, __v, calculatedAt moved to now), as the engine updates changed content.
//
// Output: one JSON object on stdout (times in seconds, counts, this process's CPU).
#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Oid = std::array<uint8_t, 12>;
constexpr int64_t kMsPerDay = 86'400'000;

struct Options {
  std::string uri, db;
  std::string source = "healthmetrics", users = "users", analytics = "analytics";
  int64_t after_ms = 0;       // the start cursor's updatedAt (first batch: now - lookback)
  Oid after_id{};             // the start cursor's _id (all zero: from the start of after_ms)
  int64_t watermark_ms = -1;  // the watermark before the first batch (-1: none, first run)
  int64_t now_ms = 0;
  int64_t grace_ms = 10'000;
  int max_batch_docs = 100'000;
  size_t users_per_chunk = 1000;
  int history_days = 180;
  bool full_recompute = false;  // the first batch includes the daily recompute
  int max_batches = 1'000'000;
  std::string template_file, export_file;
  int64_t updates = 0;
  bool grace_not_new = false;  // `run`: versions of the grace window were seen before
  int64_t touch = 0;           // --touch N: be the writer (see Touch)
};

struct Cursor {
  int64_t t = 0;
  Oid id{};
  bool operator<(const Cursor& o) const { return t != o.t ? t < o.t : id < o.id; }
  bool operator>(const Cursor& o) const { return o < *this; }
};

// An owned document (bson_t's alignment attribute does not survive as a template argument).
struct Doc {
  bson_t* p;
};

struct Stats {
  double ping = 0, index_check = 0, poll = 0, list_users = 0, ttl = 0, goals = 0, history = 0,
         analytics_read = 0, write = 0;
  int64_t batches = 0, deferred_batches = 0, polled = 0, grace_docs = 0, listed = 0,
          users_processed = 0, history_docs = 0, analytics_docs = 0, inserted = 0, updated = 0,
          chunks = 0;
};

[[noreturn]] void Die(const char* what, const bson_error_t& e) {
  std::fprintf(stderr, "physical_limit: %s: %s (domain %u, code %u)\n", what, e.message, e.domain,
               e.code);
  std::exit(1);
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Oid OidOf(const bson_oid_t* o) {
  Oid id;
  std::memcpy(id.data(), o->bytes, 12);
  return id;
}

bson_oid_t ToOid(const Oid& id) {
  bson_oid_t o;
  std::memcpy(o.bytes, id.data(), 12);
  return o;
}

// Same shapes as store.cc.
void AppendOidArray(bson_t* parent, const char* key, const std::vector<Oid>& ids, size_t begin,
                    size_t end) {
  bson_t arr;
  bson_append_array_begin(parent, key, -1, &arr);
  char buf[16];
  for (size_t i = begin; i < end; ++i) {
    const char* k;
    bson_uint32_to_string(static_cast<uint32_t>(i - begin), &k, buf, sizeof buf);
    const bson_oid_t oid = ToOid(ids[i]);
    bson_append_oid(&arr, k, -1, &oid);
  }
  bson_append_array_end(parent, &arr);
}

// The reply sizes src/store/store.cc asks for (kVersionsPerReply, kAnalyticsPerReply).
constexpr int32_t kVersionsPerReply = 10'000;
constexpr int32_t kAnalyticsPerReply = 1'000;
void AppendBatchSize(bson_t* opts, int32_t n) { bson_append_int32(opts, "batchSize", -1, n); }

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

void AppendAfterFilter(bson_t* filter, const Cursor& after, const int64_t* upper) {
  bson_t uid, ors, a, b, gt, idgt;
  bson_append_document_begin(filter, "userId", -1, &uid);
  bson_append_null(&uid, "$ne", -1);
  bson_append_document_end(filter, &uid);
  bson_append_array_begin(filter, "$or", -1, &ors);
  bson_append_document_begin(&ors, "0", -1, &a);
  bson_append_document_begin(&a, "updatedAt", -1, &gt);
  bson_append_date_time(&gt, "$gt", -1, after.t);
  bson_append_document_end(&a, &gt);
  bson_append_document_end(&ors, &a);
  bson_append_document_begin(&ors, "1", -1, &b);
  bson_append_date_time(&b, "updatedAt", -1, after.t);
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

// Drains a find; `each` sees every document.
template <typename F>
void Find(mongoc_collection_t* coll, const bson_t* filter, const bson_t* opts, const char* what,
          F&& each) {
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter, opts, nullptr);
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) {
    if constexpr (std::is_same_v<decltype(each(doc)), bool>) {
      if (!each(doc)) break;  // the caller has what it needs: the cursor is closed
    } else {
      each(doc);
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) Die(what, error);
  mongoc_cursor_destroy(cursor);
}

// The (updatedAt, _id) and userId of a polled version; false when the engine would skip it.
bool VersionOf(const bson_t* doc, Cursor* c, Oid* user, bool* has_user) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return false;
  c->id = OidOf(bson_iter_oid(&it));
  if (!bson_iter_init_find(&it, doc, "updatedAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) return false;
  c->t = bson_iter_date_time(&it);
  *has_user = bson_iter_init_find(&it, doc, "userId") && BSON_ITER_HOLDS_OID(&it);
  if (*has_user) *user = OidOf(bson_iter_oid(&it));
  return true;
}

bool UserOf(const bson_t* doc, Oid* user) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "userId") || !BSON_ITER_HOLDS_OID(&it)) return false;
  *user = OidOf(bson_iter_oid(&it));
  return true;
}

void ListIndexes(mongoc_collection_t* coll) {
  mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) {
  }
  mongoc_cursor_destroy(cursor);  // NamespaceNotFound is fine, as in store.cc
}

Oid ParseOid(const char* hex) {
  if (!bson_oid_is_valid(hex, std::strlen(hex))) {
    std::fprintf(stderr, "physical_limit: not an ObjectId: %s\n", hex);
    std::exit(2);
  }
  bson_oid_t o;
  bson_oid_init_from_string(&o, hex);
  return OidOf(&o);
}

void Usage() {
  std::fprintf(stderr,
               "usage: physical_limit --uri URI --db DB --now-ms MS --after-ms MS\n"
               "  [--after-id HEX] [--watermark-ms MS] [--grace-ms 10000] [--max-batch-docs "
               "100000]\n"
               "  [--users-per-chunk 1000] [--history-days 180] [--full-recompute]\n"
               "  [--template FILE] [--updates N] [--grace-not-new] [--max-batches N]\n"
               "  [--source healthmetrics] [--users users] [--analytics analytics]\n"
               "or: physical_limit --uri URI --db DB --export FILE   (analytics -> raw BSON)\n"
               "or: physical_limit --uri URI --db DB --touch N   (the steady-state writer)\n");
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--uri")
      o.uri = val();
    else if (a == "--db")
      o.db = val();
    else if (a == "--source")
      o.source = val();
    else if (a == "--users")
      o.users = val();
    else if (a == "--analytics")
      o.analytics = val();
    else if (a == "--after-ms")
      o.after_ms = std::atoll(val());
    else if (a == "--after-id")
      o.after_id = ParseOid(val());
    else if (a == "--watermark-ms")
      o.watermark_ms = std::atoll(val());
    else if (a == "--now-ms")
      o.now_ms = std::atoll(val());
    else if (a == "--grace-ms")
      o.grace_ms = std::atoll(val());
    else if (a == "--max-batch-docs")
      o.max_batch_docs = std::atoi(val());
    else if (a == "--users-per-chunk")
      o.users_per_chunk = std::strtoul(val(), nullptr, 10);
    else if (a == "--history-days")
      o.history_days = std::atoi(val());
    else if (a == "--full-recompute")
      o.full_recompute = true;
    else if (a == "--max-batches")
      o.max_batches = std::atoi(val());
    else if (a == "--template")
      o.template_file = val();
    else if (a == "--export")
      o.export_file = val();
    else if (a == "--updates")
      o.updates = std::atoll(val());
    else if (a == "--grace-not-new")
      o.grace_not_new = true;
    else if (a == "--touch")
      o.touch = std::atoll(val());
    else
      Usage();
  }
  if (o.uri.empty() || o.db.empty()) Usage();
  if (o.export_file.empty() && o.touch == 0 && o.now_ms == 0) Usage();
  return o;
}

int Export(mongoc_collection_t* analytics, const std::string& file) {
  FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) {
    std::perror(file.c_str());
    return 1;
  }
  bson_t empty = BSON_INITIALIZER;
  int64_t n = 0;
  Find(analytics, &empty, nullptr, "export analytics", [&](const bson_t* doc) {
    std::fwrite(bson_get_data(doc), 1, doc->len, f);
    ++n;
  });
  std::fclose(f);
  std::printf("{\"exported\": %lld}\n", static_cast<long long>(n));
  return 0;
}

// The steady-state writer: N random source documents get a new metrics.steps and updatedAt (now),
// by _id, in one unordered bulk write. Prints the instant written. The whole `metrics` object is
// $set, in commands of at most 50 updates (FerretDB v1.24.2 hangs on a command of about 100
// updates, docs/TEST-SERVERS.md).
int Touch(mongoc_collection_t* source, int64_t n) {
  std::vector<Oid> ids;
  std::map<Oid, Doc> metrics;
  bson_t empty = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
  bson_append_document_begin(&opts, "projection", -1, &proj);
  bson_append_int32(&proj, "_id", -1, 1);
  bson_append_int32(&proj, "metrics", -1, 1);
  bson_append_document_end(&opts, &proj);
  Find(source, &empty, &opts, "list _ids", [&](const bson_t* doc) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) return;
    const Oid id = OidOf(bson_iter_oid(&it));
    if (!bson_iter_init_find(&it, doc, "metrics") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return;
    uint32_t len;
    const uint8_t* data;
    bson_iter_document(&it, &len, &data);
    ids.push_back(id);
    metrics[id] = {bson_new_from_data(data, len)};
  });
  bson_destroy(&opts);
  uint64_t x = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) | 1;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (size_t i = 0; i < ids.size() && static_cast<int64_t>(i) < n; ++i)
    std::swap(ids[i], ids[i + next() % (ids.size() - i)]);
  ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(n)));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  mongoc_write_concern_t* wc = mongoc_write_concern_new();
  mongoc_write_concern_set_w(wc, 1);
  mongoc_write_concern_set_journal(wc, true);
  bson_t bopts = BSON_INITIALIZER;
  bson_append_bool(&bopts, "ordered", -1, false);
  mongoc_write_concern_append(wc, &bopts);
  mongoc_bulk_operation_t* bulk = mongoc_collection_create_bulk_operation_with_opts(source, &bopts);
  bson_error_t error;
  size_t in_bulk = 0;
  for (const Oid& id : ids) {
    if (in_bulk == 10) {  // FerretDB hangs on update commands of ~100 statements (TEST-SERVERS.md)
      bson_t r;
      if (!mongoc_bulk_operation_execute(bulk, &r, &error)) Die("touch", error);
      bson_destroy(&r);
      mongoc_bulk_operation_destroy(bulk);
      bulk = mongoc_collection_create_bulk_operation_with_opts(source, &bopts);
      in_bulk = 0;
    }
    ++in_bulk;
    bson_t sel = BSON_INITIALIZER, upd = BSON_INITIALIZER, set;
    const bson_oid_t oid = ToOid(id);
    bson_append_oid(&sel, "_id", -1, &oid);
    bson_append_document_begin(&upd, "$set", -1, &set);
    bson_t m, *old = metrics[id].p;
    bson_append_document_begin(&set, "metrics", -1, &m);
    bson_iter_t it;
    if (bson_iter_init(&it, old))
      while (bson_iter_next(&it))
        if (std::string_view(bson_iter_key(&it)) != "steps") bson_append_iter(&m, nullptr, 0, &it);
    bson_append_int32(&m, "steps", -1, static_cast<int32_t>(1000 + next() % 19000));
    bson_append_document_end(&set, &m);
    bson_append_date_time(&set, "updatedAt", -1, now);
    bson_append_document_end(&upd, &set);
    if (!mongoc_bulk_operation_update_one_with_opts(bulk, &sel, &upd, nullptr, &error))
      Die("prepare touch", error);
    bson_destroy(&sel);
    bson_destroy(&upd);
  }
  bson_t reply;
  if (in_bulk > 0 && !mongoc_bulk_operation_execute(bulk, &reply, &error)) Die("touch", error);
  if (in_bulk > 0) bson_destroy(&reply);
  mongoc_bulk_operation_destroy(bulk);
  bson_destroy(&bopts);
  mongoc_write_concern_destroy(wc);
  for (auto& [id, d] : metrics) bson_destroy(d.p);
  std::printf("{\"touched\": %zu, \"now_ms\": %lld}\n", ids.size(), static_cast<long long>(now));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  mongoc_init();
  mongoc_log_set_handler(nullptr, nullptr);  // FerretDB's endSessions warning on close
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(o.uri.c_str(), &error);
  if (!uri) Die("parse --uri", error);
  mongoc_uri_set_appname(uri, "physical_limit");
  mongoc_client_t* client = mongoc_client_new_from_uri_with_error(uri, &error);
  if (!client) Die("client", error);
  mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
  mongoc_collection_t* source =
      mongoc_client_get_collection(client, o.db.c_str(), o.source.c_str());
  mongoc_collection_t* users_coll =
      mongoc_client_get_collection(client, o.db.c_str(), o.users.c_str());
  mongoc_collection_t* analytics =
      mongoc_client_get_collection(client, o.db.c_str(), o.analytics.c_str());
  if (!o.export_file.empty()) return Export(analytics, o.export_file);
  if (o.touch > 0) return Touch(source, o.touch);

  // The documents to insert, by user (not timed).
  std::map<Oid, std::vector<Doc>> templates;
  if (!o.template_file.empty()) {
    bson_reader_t* reader = bson_reader_new_from_file(o.template_file.c_str(), &error);
    if (!reader) Die("open --template", error);
    const bson_t* doc;
    bool eof = false;
    while ((doc = bson_reader_read(reader, &eof))) {
      Oid u;
      if (UserOf(doc, &u)) templates[u].push_back({bson_copy(doc)});
    }
    bson_reader_destroy(reader);
  }

  mongoc_write_concern_t* wc = mongoc_write_concern_new();
  mongoc_write_concern_set_w(wc, 1);
  mongoc_write_concern_set_journal(wc, true);

  Stats s;
  rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  const auto start = Clock::now();
  Cursor cursor{o.after_ms, o.after_id};
  int64_t watermark = o.watermark_ms;
  const int64_t today_start = o.now_ms - o.now_ms % kMsPerDay;
  const int64_t from = today_start - static_cast<int64_t>(o.history_days - 1) * kMsPerDay;
  const int64_t to_excl = today_start + kMsPerDay;
  int64_t updates_left = o.updates;
  bool pass_pending = o.full_recompute;

  for (int batch = 0; batch < o.max_batches; ++batch) {
    ++s.batches;
    // Start-up of `once`: ping and the index check (listIndexes of both collections).
    auto t = Clock::now();
    {
      bson_t cmd = BSON_INITIALIZER, reply;
      bson_append_int32(&cmd, "ping", -1, 1);
      if (!mongoc_client_command_simple(client, "admin", &cmd, nullptr, &reply, &error))
        Die("ping", error);
      bson_destroy(&cmd);
      bson_destroy(&reply);
    }
    s.ping += Since(t);
    t = Clock::now();
    ListIndexes(source);
    ListIndexes(analytics);
    s.index_check += Since(t);

    // The poll, and the grace re-read behind the cursor in the same query when there is a
    // window (a fresh `once` treats every version in the window as new).
    std::vector<Oid> affected;
    Cursor last = cursor;
    int64_t polled = 0;
    t = Clock::now();
    if (watermark >= 0 && watermark - o.grace_ms < cursor.t) {
      bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, uid, gt;
      bson_append_document_begin(&filter, "userId", -1, &uid);
      bson_append_null(&uid, "$ne", -1);
      bson_append_document_end(&filter, &uid);
      bson_append_document_begin(&filter, "updatedAt", -1, &gt);
      bson_append_date_time(&gt, "$gt", -1, watermark - o.grace_ms);
      bson_append_document_end(&filter, &gt);
      AppendVersionProjection(&opts);
      AppendSortByCursor(&opts);
      AppendBatchSize(&opts, kVersionsPerReply);
      Find(source, &filter, &opts, "poll with the grace re-read", [&](const bson_t* doc) {
        Cursor c;
        Oid u;
        bool has_user;
        if (!VersionOf(doc, &c, &u, &has_user)) return true;
        if (!(cursor < c)) {
          ++s.grace_docs;
          if (has_user && !o.grace_not_new) affected.push_back(u);
          return true;
        }
        ++polled;
        last = c;
        if (has_user) affected.push_back(u);
        return polled < o.max_batch_docs;
      });
      bson_destroy(&filter);
      bson_destroy(&opts);
    } else {
      bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
      AppendAfterFilter(&filter, cursor, nullptr);
      AppendVersionProjection(&opts);
      AppendSortByCursor(&opts);
      bson_append_int64(&opts, "limit", -1, o.max_batch_docs);
      AppendBatchSize(&opts,
                      std::min<int32_t>(kVersionsPerReply, std::max<int32_t>(o.max_batch_docs, 1)));
      Find(source, &filter, &opts, "poll", [&](const bson_t* doc) {
        Cursor c;
        Oid u;
        bool has_user;
        if (!VersionOf(doc, &c, &u, &has_user)) return;
        ++polled;
        last = c;
        if (has_user) affected.push_back(u);
      });
      bson_destroy(&filter);
      bson_destroy(&opts);
    }
    s.poll += Since(t);
    s.polled += polled;
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());

    // The daily recompute: TTL check, expired deletes, the user list. A full batch of a backlog
    // that affects at least a chunk of users leaves them to it, and it waits for the first batch
    // that is not full (Engine::RunBatch).
    std::vector<Oid> users;
    const bool defer =
        pass_pending && polled >= o.max_batch_docs && affected.size() >= o.users_per_chunk;
    if (defer) {
      ++s.deferred_batches;
    } else if (pass_pending) {
      pass_pending = false;
      t = Clock::now();
      ListIndexes(analytics);
      {
        bson_t filter = BSON_INITIALIZER, lt, opts = BSON_INITIALIZER, reply;
        bson_append_document_begin(&filter, "expiresAt", -1, &lt);
        bson_append_date_time(&lt, "$lt", -1, o.now_ms);
        bson_append_document_end(&filter, &lt);
        mongoc_write_concern_append(wc, &opts);
        if (!mongoc_collection_delete_many(analytics, &filter, &opts, &reply, &error))
          Die("delete expired", error);
        bson_destroy(&filter);
        bson_destroy(&opts);
        bson_destroy(&reply);
      }
      s.ttl += Since(t);
      t = Clock::now();
      std::vector<Oid> listed;
      bson_t opts = BSON_INITIALIZER, proj;
      bson_append_document_begin(&opts, "projection", -1, &proj);
      bson_append_int32(&proj, "userId", -1, 1);
      bson_append_int32(&proj, "_id", -1, 0);
      bson_append_document_end(&opts, &proj);
      AppendBatchSize(&opts, kVersionsPerReply);
      auto collect = [&](const bson_t* doc) {
        Oid u;
        if (UserOf(doc, &u)) listed.push_back(u);
      };
      bson_t empty = BSON_INITIALIZER;
      Find(analytics, &empty, &opts, "list users with analytics", collect);
      bson_t filter = BSON_INITIALIZER, date;
      bson_append_document_begin(&filter, "date", -1, &date);
      bson_append_date_time(&date, "$gte", -1, from);
      bson_append_date_time(&date, "$lt", -1, to_excl);
      bson_append_document_end(&filter, &date);
      Find(source, &filter, &opts, "list users with recent healthmetrics", collect);
      bson_destroy(&filter);
      bson_destroy(&opts);
      std::sort(listed.begin(), listed.end());
      listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
      s.list_users += Since(t);
      s.listed += static_cast<int64_t>(listed.size());
      std::set_union(listed.begin(), listed.end(), affected.begin(), affected.end(),
                     std::back_inserter(users));
    } else {
      users = std::move(affected);
    }
    s.users_processed += static_cast<int64_t>(users.size());

    // Chunks: goals, history, existing analytics, one bulk write.
    for (size_t i = 0; i < users.size(); i += o.users_per_chunk) {
      const size_t end = std::min(users.size(), i + o.users_per_chunk);
      ++s.chunks;
      t = Clock::now();
      {
        bson_t filter = BSON_INITIALIZER, id, opts = BSON_INITIALIZER, proj;
        bson_append_document_begin(&filter, "_id", -1, &id);
        AppendOidArray(&id, "$in", users, i, end);
        bson_append_document_end(&filter, &id);
        bson_append_document_begin(&opts, "projection", -1, &proj);
        bson_append_int32(&proj, "goals", -1, 1);
        bson_append_document_end(&opts, &proj);
        Find(users_coll, &filter, &opts, "goals", [](const bson_t*) {});
        bson_destroy(&filter);
        bson_destroy(&opts);
      }
      s.goals += Since(t);
      t = Clock::now();
      {
        bson_t filter = BSON_INITIALIZER, uid, date, opts = BSON_INITIALIZER;
        bson_append_document_begin(&filter, "userId", -1, &uid);
        AppendOidArray(&uid, "$in", users, i, end);
        bson_append_document_end(&filter, &uid);
        bson_append_document_begin(&filter, "date", -1, &date);
        bson_append_date_time(&date, "$gte", -1, from);
        bson_append_date_time(&date, "$lt", -1, to_excl);
        bson_append_document_end(&filter, &date);
        AppendVersionProjection(&opts);
        AppendBatchSize(&opts, kVersionsPerReply);
        Find(source, &filter, &opts, "history", [&](const bson_t*) { ++s.history_docs; });
        bson_destroy(&filter);
        bson_destroy(&opts);
      }
      s.history += Since(t);
      t = Clock::now();
      std::set<Oid> with_docs;
      std::vector<Doc> existing;  // kept only when updates are due
      {
        bson_t filter = BSON_INITIALIZER, uid;
        bson_append_document_begin(&filter, "userId", -1, &uid);
        AppendOidArray(&uid, "$in", users, i, end);
        bson_append_document_end(&filter, &uid);
        bson_t opts = BSON_INITIALIZER;
        AppendBatchSize(&opts, kAnalyticsPerReply);
        Find(analytics, &filter, &opts, "existing analytics", [&](const bson_t* doc) {
          ++s.analytics_docs;
          Oid u;
          if (UserOf(doc, &u)) with_docs.insert(u);
          if (updates_left > static_cast<int64_t>(existing.size()))
            existing.push_back({bson_copy(doc)});
        });
        bson_destroy(&filter);
        bson_destroy(&opts);
      }
      s.analytics_read += Since(t);

      t = Clock::now();
      bson_t bopts = BSON_INITIALIZER;
      bson_append_bool(&bopts, "ordered", -1, false);
      mongoc_write_concern_append(wc, &bopts);
      mongoc_bulk_operation_t* bulk =
          mongoc_collection_create_bulk_operation_with_opts(analytics, &bopts);
      int64_t ops = 0;
      int in_command = 0;  // updates in `bulk`: at most 10 per command, as src/store/store.cc
      auto flush = [&] {
        if (ops > 0) {
          bson_t reply;
          const uint32_t ok = mongoc_bulk_operation_execute(bulk, &reply, &error);
          bson_destroy(&reply);
          if (!ok) Die("bulk write", error);
        }
        mongoc_bulk_operation_destroy(bulk);
        bulk = mongoc_collection_create_bulk_operation_with_opts(analytics, &bopts);
        ops = 0;
        in_command = 0;
      };
      for (size_t k = i; k < end; ++k) {
        if (with_docs.count(users[k])) continue;
        auto it = templates.find(users[k]);
        if (it == templates.end()) continue;
        for (const Doc& doc : it->second) {
          if (!mongoc_bulk_operation_insert_with_opts(bulk, doc.p, nullptr, &error))
            Die("prepare insert", error);
          ++ops;
          ++s.inserted;
        }
      }
      for (const Doc& d : existing) {
        const bson_t* doc = d.p;
        if (updates_left <= 0) break;
        bson_t selector = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
        bson_iter_t it;
        bson_append_document_begin(&update, "$set", -1, &set);
        if (bson_iter_init(&it, doc)) {
          while (bson_iter_next(&it)) {
            std::string_view key = bson_iter_key(&it);
            if (key == "_id") {
              bson_append_iter(&selector, "_id", -1, &it);
            } else if (key == "calculatedAt") {
              bson_append_date_time(&set, "calculatedAt", -1, o.now_ms);
            } else if (key != "createdAt" && key != "__v") {
              bson_append_iter(&set, nullptr, 0, &it);
            }
          }
        }
        bson_append_document_end(&update, &set);
        if (in_command == 10) flush();
        if (!mongoc_bulk_operation_update_one_with_opts(bulk, &selector, &update, nullptr, &error))
          Die("prepare update", error);
        bson_destroy(&selector);
        bson_destroy(&update);
        ++ops;
        ++in_command;
        ++s.updated;
        --updates_left;
      }
      for (const Doc& d : existing) bson_destroy(d.p);
      flush();
      mongoc_bulk_operation_destroy(bulk);
      bson_destroy(&bopts);
      s.write += Since(t);
    }

    // Commit (in the engine: two small files written atomically): the cursor and the watermark.
    if (polled > 0) cursor = last;
    const int64_t batch_clock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    watermark = std::min(cursor.t, batch_clock_ms);
    if (polled < o.max_batch_docs) break;
  }
  const double total = Since(start);
  rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  auto secs = [](const timeval& a, const timeval& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) + (b.tv_usec - a.tv_usec) / 1e6;
  };
  std::printf(
      "{\"total_s\": %.3f, \"user_cpu_s\": %.3f, \"sys_cpu_s\": %.3f, \"batches\": %lld, "
      "\"deferred_batches\": %lld, \"chunks\": %lld, \"polled\": %lld, \"grace_docs\": %lld, "
      "\"listed_users\": %lld, "
      "\"users_processed\": %lld, \"history_docs\": %lld, \"analytics_docs_read\": %lld, "
      "\"inserted\": %lld, \"updated\": %lld, \"phase_s\": {\"ping\": %.3f, \"index_check\": "
      "%.3f, \"poll\": %.3f, \"ttl\": %.3f, \"list_users\": %.3f, \"goals\": "
      "%.3f, \"history\": %.3f, \"analytics_read\": %.3f, \"write\": %.3f}}\n",
      total, secs(ru0.ru_utime, ru1.ru_utime), secs(ru0.ru_stime, ru1.ru_stime),
      static_cast<long long>(s.batches), static_cast<long long>(s.deferred_batches),
      static_cast<long long>(s.chunks), static_cast<long long>(s.polled),
      static_cast<long long>(s.grace_docs), static_cast<long long>(s.listed),
      static_cast<long long>(s.users_processed), static_cast<long long>(s.history_docs),
      static_cast<long long>(s.analytics_docs), static_cast<long long>(s.inserted),
      static_cast<long long>(s.updated), s.ping, s.index_check, s.poll, s.ttl, s.list_users,
      s.goals, s.history, s.analytics_read, s.write);
  for (auto& [u, docs] : templates)
    for (const Doc& d : docs) bson_destroy(d.p);
  mongoc_write_concern_destroy(wc);
  mongoc_collection_destroy(source);
  mongoc_collection_destroy(users_coll);
  mongoc_collection_destroy(analytics);
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return 0;
}
