// best_client: the least I/O one micro-batch of health-analytics needs, issued with the best plan
// found, through libmongoc alone (no code from src/, no decoding, no analytics work).
// bench/e2e/run measures it next to the engine on the same server and data: the engine's time
// over this program's is how far the engine is from what any client of that server could do.
//
// The I/O, and why it is the minimum:
//   poll     the changed documents after the cursor, as the engine must find them: userId !=
//            null, (updatedAt, _id) after the cursor, sorted by (updatedAt, _id), projected to
//            _id userId updatedAt date metrics; pages of --max-batch-docs until a page is short
//            (a backlog is one pass over everything changed, a steady batch one page). No
//            grace re-read and no start-up checks: the engine does those, the limit does not.
//   pass     --daily-pass (a first batch, which the contract makes a daily recompute of
//            everyone in the horizon): beside the poll, on a second client, the users with
//            analytics documents and with healthmetrics dated in the horizon (projected to
//            userId), and where analytics has no TTL index the delete of expired documents;
//            those users join the affected ones.
//   reads    for the affected users (sorted, in lists of --lists-per-query ids per `$in`):
//            goals (users, {_id: {$in}}, projection goals), the history in the horizon
//            (healthmetrics, {userId: {$in}, date: [from, to + 1 day)}, the poll's projection)
//            and the existing analytics KEYS only (analytics, {userId: {$in}}, projection _id
//            userId metricType timeRange metadata.contentDigest).
//   writes   as many as the engine's batch did: with --template FILE (the engine's own analytics
//            documents, raw BSON from --export) every user without analytics gets its template
//            documents inserted (a backlog); --updates-from FILE $sets the documents in FILE (the
//            ones the engine's batch changed, exported with --export-updated-from its batch
//            clock) by _id with their own bodies, calculatedAt the run's clock so that each run
//            really changes them: a steady batch. (--updates N, the older form, $sets the first
//            N documents the key reads return, with the template's bodies; on FerretDB v1 an
//            update's cost grows with the document's place in the collection, so that chose
//            cheaper documents than the engine's.) Unordered bulks of
//            --bulk operations, {w: 1, j: true}; updates at most 10 per command on FerretDB v1 only
//            (buildInfo ferretdbVersion; it hangs on commands of ~100 updates,
//            docs/TEST-SERVERS.md), as the engine does.
// Cursors ask for --batch-size documents per reply (0, the default: the server's own batching).
// The plan: --concurrency K threads, each with its own client popped from one
// mongoc_client_pool_t, take lists from a shared queue. With --pipeline 1 (default) a thread
// reads a list (goals, history, keys) and then writes that list's documents, so one list's
// writes overlap another's reads; with --pipeline 0 every read finishes before the writes.
// Writes that need several commands (bulks of --bulk, or FerretDB v1's 10 updates) are cut at
// command boundaries into K pieces, each sent by its own thread and pooled client, so K commands
// are in flight at once (as the engine's WriteAnalytics does with IO_CONCURRENCY).
// Commands and reply bytes are counted with libmongoc's APM callbacks, as src/store/store.cc
// counts the engine's (the batch log's `io`), so the two can be compared on any server.
//
// Output: one JSON object on stdout (times in seconds, counts, io, this process's CPU).
// Other modes: --export FILE (the analytics collection as raw BSON: the templates) and
// --touch N (the steady-state writer: N random source documents get new steps and updatedAt).
#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Oid = std::array<uint8_t, 12>;
constexpr int64_t kMsPerDay = 86'400'000;

struct Options {
  std::string uri, db;
  std::string source = "healthmetrics", users = "users", analytics = "analytics";
  int64_t after_ms = 0;  // the start cursor's updatedAt (a backlog: now - lookback)
  Oid after_id{};        // the start cursor's _id (all zero: from the start of after_ms)
  int64_t now_ms = 0;
  int max_batch_docs = 100'000;
  int history_days = 180;
  size_t lists = 128;    // user ids per `$in`
  int concurrency = 2;   // threads, each with a pooled client
  size_t bulk = 1000;    // operations per bulk write
  int batch_size = 0;    // the reads' cursor batchSize (0: the server's default)
  bool pipeline = true;  // a list's writes right after its reads, on the same thread
  std::string template_file, export_file;
  int64_t updates = 0;
  std::string updates_file;          // --updates-from: the documents to $set, by _id
  int64_t export_updated_from = -1;  // --export-updated-from MS: only updatedAt >= MS
  bool daily_pass = false;           // --daily-pass: also find the horizon's users (a first batch)
  int64_t touch = 0;                 // --touch N: be the writer (see Touch)
};

struct Cursor {
  int64_t t = 0;
  Oid id{};
  bool operator<(const Cursor& o) const { return t != o.t ? t < o.t : id < o.id; }
};

// An owned document (bson_t's alignment attribute does not survive as a template argument).
struct Doc {
  bson_t* p;
};

// Commands sent and reply bytes read, from the pool's APM callbacks (every thread's client).
struct Io {
  std::atomic<int64_t> commands{0}, bytes_read{0};
};

[[noreturn]] void Die(const char* what, const bson_error_t& e) {
  std::fprintf(stderr, "best_client: %s: %s (domain %u, code %u)\n", what, e.message, e.domain,
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

void AppendProjection(bson_t* opts, std::initializer_list<const char*> fields) {
  bson_t proj;
  bson_append_document_begin(opts, "projection", -1, &proj);
  for (const char* f : fields) bson_append_int32(&proj, f, -1, 1);
  bson_append_document_end(opts, &proj);
}

void AppendVersionProjection(bson_t* opts) {
  AppendProjection(opts, {"_id", "userId", "updatedAt", "date", "metrics"});
}

void AppendAfterFilter(bson_t* filter, const Cursor& after) {
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
}

// Drains a find; `each` sees every document.
template <typename F>
void Find(mongoc_collection_t* coll, const bson_t* filter, const bson_t* opts, const char* what,
          F&& each) {
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter, opts, nullptr);
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) each(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) Die(what, error);
  mongoc_cursor_destroy(cursor);
}

bool OidField(const bson_t* doc, const char* key, Oid* out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_OID(&it)) return false;
  *out = OidOf(bson_iter_oid(&it));
  return true;
}

// (userId, metricType, timeRange) as one string: the key that matches a template to a document.
bool KeyOf(const bson_t* doc, std::string* key) {
  Oid u;
  bson_iter_t it;
  if (!OidField(doc, "userId", &u)) return false;
  key->assign(reinterpret_cast<const char*>(u.data()), u.size());
  for (const char* f : {"metricType", "timeRange"}) {
    if (!bson_iter_init_find(&it, doc, f) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
    key->push_back('|');
    key->append(bson_iter_utf8(&it, nullptr));
  }
  return true;
}

Oid ParseOid(const char* hex) {
  if (!bson_oid_is_valid(hex, std::strlen(hex))) {
    std::fprintf(stderr, "best_client: not an ObjectId: %s\n", hex);
    std::exit(2);
  }
  bson_oid_t o;
  bson_oid_init_from_string(&o, hex);
  return OidOf(&o);
}

void Usage() {
  std::fprintf(stderr,
               "usage: best_client --uri URI --db DB --now-ms MS --after-ms MS [--after-id HEX]\n"
               "  [--max-batch-docs 100000] [--history-days 180] [--lists-per-query 128]\n"
               "  [--concurrency 2] [--bulk 1000] [--batch-size 0] [--pipeline 1|0]\n"
               "  [--template FILE] [--updates N | --updates-from FILE] [--daily-pass]\n"
               "  [--source healthmetrics] [--users users] [--analytics analytics]\n"
               "or: best_client --uri URI --db DB --export FILE [--export-updated-from MS]\n"
               "      (analytics -> raw BSON; only documents with updatedAt >= MS)\n"
               "or: best_client --uri URI --db DB --touch N   (the steady-state writer)\n");
  std::exit(2);
}

// A positive integer option, or the usage.
int64_t Positive(const char* v) {
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n <= 0) Usage();
  return n;
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
    else if (a == "--now-ms")
      o.now_ms = std::atoll(val());
    else if (a == "--max-batch-docs")
      o.max_batch_docs = static_cast<int>(Positive(val()));
    else if (a == "--history-days")
      o.history_days = static_cast<int>(Positive(val()));
    else if (a == "--lists-per-query")
      o.lists = static_cast<size_t>(Positive(val()));
    else if (a == "--concurrency")
      o.concurrency = static_cast<int>(Positive(val()));
    else if (a == "--bulk")
      o.bulk = static_cast<size_t>(Positive(val()));
    else if (a == "--batch-size")
      o.batch_size = std::atoi(val());
    else if (a == "--pipeline")
      o.pipeline = std::string_view(val()) != "0";
    else if (a == "--template")
      o.template_file = val();
    else if (a == "--export")
      o.export_file = val();
    else if (a == "--updates")
      o.updates = std::atoll(val());
    else if (a == "--updates-from")
      o.updates_file = val();
    else if (a == "--export-updated-from")
      o.export_updated_from = std::atoll(val());
    else if (a == "--daily-pass")
      o.daily_pass = true;
    else if (a == "--touch")
      o.touch = Positive(val());
    else
      Usage();
  }
  if (o.uri.empty() || o.db.empty()) Usage();
  if (o.export_file.empty() && o.touch == 0 && o.now_ms == 0) Usage();
  return o;
}

// The analytics documents as raw BSON: all of them (the templates of a backlog), or those with
// updatedAt >= `updated_from` (a steady batch's updates: the engine sets updatedAt to its batch
// clock on the documents it changes, and only on those).
int Export(mongoc_collection_t* analytics, const std::string& file, int64_t updated_from) {
  FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) {
    std::perror(file.c_str());
    return 1;
  }
  bson_t filter = BSON_INITIALIZER, gte;
  if (updated_from >= 0) {
    bson_append_document_begin(&filter, "updatedAt", -1, &gte);
    bson_append_date_time(&gte, "$gte", -1, updated_from);
    bson_append_document_end(&filter, &gte);
  }
  int64_t n = 0;
  Find(analytics, &filter, nullptr, "export analytics", [&](const bson_t* doc) {
    std::fwrite(bson_get_data(doc), 1, doc->len, f);
    ++n;
  });
  bson_destroy(&filter);
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

// The engine's analytics documents: by user (inserted for users without any) and by
// (userId, metricType, timeRange) (the body of an update).
struct Templates {
  std::unordered_map<std::string, std::vector<Doc>> by_user;  // key: the 12 bytes of userId
  std::unordered_map<std::string, Doc> by_key;                // KeyOf (shares by_user's)
  // --updates-from: the documents to $set, by the 12 bytes of _id (their own copies).
  std::unordered_map<std::string, Doc> by_id;
};

// One write: an insert of `doc`, or a $set of `doc`'s body on the document `id`.
struct Op {
  bool insert;
  const bson_t* doc;
  Oid id;
};

// A run's shared state: its inputs, and the counters every thread adds to.
struct Run {
  Run(const Options& opts, const Templates& t) : o(opts), templates(t) {}
  const Options& o;
  const Templates& templates;
  std::vector<Oid> users;  // affected, sorted
  int64_t from = 0, to_excl = 0;
  size_t max_updates = 0;  // per command: 10 on FerretDB v1, else --bulk
  // The updates' calculatedAt: this run's wall clock, so that every run of a sweep changes the
  // documents (a $set of identical values can be a no-op on the server).
  int64_t calculated_at = 0;
  std::atomic<int64_t> updates_left{0};
  std::atomic<int64_t> goals{0}, history_docs{0}, keys{0}, inserted{0}, updated{0}, commands{0};
  std::atomic<int64_t> read_ns{0}, write_ns{0};  // thread time in reads, in writes
  std::mutex mu;
  std::vector<Op> ops;  // --pipeline 0: every list's writes, sent after all the reads
};

void AddNs(std::atomic<int64_t>* to, Clock::time_point since) {
  *to += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count();
}

// Runs fn(client, i) for i in [0, n) on k threads, each with its own pooled client.
template <typename F>
void Parallel(mongoc_client_pool_t* pool, int k, size_t n, F&& fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k && static_cast<size_t>(t) < n; ++t) {
    threads.emplace_back([&] {
      mongoc_client_t* client = mongoc_client_pool_pop(pool);
      for (size_t i; (i = next++) < n;) fn(client, i);
      mongoc_client_pool_push(pool, client);
    });
  }
  for (auto& t : threads) t.join();
}

void AppendBatchSize(const Options& o, bson_t* opts) {
  if (o.batch_size > 0) bson_append_int32(opts, "batchSize", -1, o.batch_size);
}

// Goals, history and analytics keys of users [begin, end); appends the list's writes to `ops`.
void ReadList(Run& r, mongoc_client_t* client, size_t begin, size_t end, std::vector<Op>* ops) {
  const Options& o = r.o;
  const auto t0 = Clock::now();
  mongoc_collection_t* users = mongoc_client_get_collection(client, o.db.c_str(), o.users.c_str());
  mongoc_collection_t* source =
      mongoc_client_get_collection(client, o.db.c_str(), o.source.c_str());
  mongoc_collection_t* analytics =
      mongoc_client_get_collection(client, o.db.c_str(), o.analytics.c_str());
  bson_t filter = BSON_INITIALIZER, in, opts = BSON_INITIALIZER;
  bson_append_document_begin(&filter, "_id", -1, &in);
  AppendOidArray(&in, "$in", r.users, begin, end);
  bson_append_document_end(&filter, &in);
  AppendProjection(&opts, {"goals"});
  AppendBatchSize(o, &opts);
  Find(users, &filter, &opts, "goals", [&](const bson_t*) { ++r.goals; });
  bson_reinit(&filter);
  bson_reinit(&opts);
  bson_t date;
  bson_append_document_begin(&filter, "userId", -1, &in);
  AppendOidArray(&in, "$in", r.users, begin, end);
  bson_append_document_end(&filter, &in);
  bson_append_document_begin(&filter, "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, r.from);
  bson_append_date_time(&date, "$lt", -1, r.to_excl);
  bson_append_document_end(&filter, &date);
  AppendVersionProjection(&opts);
  AppendBatchSize(o, &opts);
  Find(source, &filter, &opts, "history", [&](const bson_t*) { ++r.history_docs; });
  bson_reinit(&filter);
  bson_reinit(&opts);
  bson_append_document_begin(&filter, "userId", -1, &in);
  AppendOidArray(&in, "$in", r.users, begin, end);
  bson_append_document_end(&filter, &in);
  AppendProjection(&opts, {"_id", "userId", "metricType", "timeRange", "metadata.contentDigest"});
  AppendBatchSize(o, &opts);
  std::vector<std::string> with_docs;  // users (12 bytes) that have analytics documents
  std::string key;
  Find(analytics, &filter, &opts, "analytics keys", [&](const bson_t* doc) {
    ++r.keys;
    Oid id;
    if (!KeyOf(doc, &key) || !OidField(doc, "_id", &id)) return;
    with_docs.push_back(key.substr(0, 12));
    auto t = r.templates.by_key.find(key);
    if (!r.templates.by_id.empty()) {
      // The same documents as the engine's batch changed, with its bodies: on FerretDB v1 an
      // update's cost grows with the document's place in the collection (docs/PERFORMANCE.md).
      auto u = r.templates.by_id.find(std::string(reinterpret_cast<const char*>(id.data()), 12));
      if (u != r.templates.by_id.end()) ops->push_back({false, u->second.p, id});
    } else if (t != r.templates.by_key.end() && r.updates_left.fetch_sub(1) > 0) {
      ops->push_back({false, t->second.p, id});
    }
  });
  std::sort(with_docs.begin(), with_docs.end());
  for (size_t i = begin; i < end; ++i) {
    const std::string u(reinterpret_cast<const char*>(r.users[i].data()), 12);
    if (std::binary_search(with_docs.begin(), with_docs.end(), u)) continue;
    auto t = r.templates.by_user.find(u);
    if (t == r.templates.by_user.end()) continue;
    for (const Doc& d : t->second) ops->push_back({true, d.p, {}});
  }
  bson_destroy(&filter);
  bson_destroy(&opts);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(source);
  mongoc_collection_destroy(analytics);
  AddNs(&r.read_ns, t0);
}

// The $set of an update: the template's body but _id, createdAt and __v, calculatedAt now.
void AppendSetBody(bson_t* update, const bson_t* doc, int64_t now_ms) {
  bson_t set;
  bson_iter_t it;
  bson_append_document_begin(update, "$set", -1, &set);
  if (bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) {
      std::string_view key = bson_iter_key(&it);
      if (key == "calculatedAt")
        bson_append_date_time(&set, "calculatedAt", -1, now_ms);
      else if (key != "_id" && key != "createdAt" && key != "__v")
        bson_append_iter(&set, nullptr, 0, &it);
    }
  }
  bson_append_document_end(update, &set);
}

// `ops` in unordered bulks of --bulk operations (at most max_updates updates per command),
// {w: 1, j: true}.
void Write(Run& r, mongoc_client_t* client, const Op* ops, size_t n) {
  if (n == 0) return;
  const auto t0 = Clock::now();
  mongoc_collection_t* coll =
      mongoc_client_get_collection(client, r.o.db.c_str(), r.o.analytics.c_str());
  mongoc_write_concern_t* wc = mongoc_write_concern_new();
  mongoc_write_concern_set_w(wc, 1);
  mongoc_write_concern_set_journal(wc, true);
  bson_t bopts = BSON_INITIALIZER, no_validation = BSON_INITIALIZER;
  bson_append_bool(&bopts, "ordered", -1, false);
  mongoc_write_concern_append(wc, &bopts);
  bson_append_bool(&no_validation, "validate", -1, false);
  bson_error_t error;
  mongoc_bulk_operation_t* bulk = nullptr;
  size_t in_bulk = 0, updates = 0;
  auto flush = [&] {
    if (!bulk) return;
    bson_t reply;
    const uint32_t ok = mongoc_bulk_operation_execute(bulk, &reply, &error);
    bson_destroy(&reply);
    if (!ok) Die("bulk write", error);
    mongoc_bulk_operation_destroy(bulk);
    bulk = nullptr;
    in_bulk = updates = 0;
  };
  for (size_t i = 0; i < n; ++i) {
    if (in_bulk == r.o.bulk || (!ops[i].insert && updates == r.max_updates)) flush();
    if (!bulk) bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &bopts);
    bool ok;
    if (ops[i].insert) {
      ok = mongoc_bulk_operation_insert_with_opts(bulk, ops[i].doc, &no_validation, &error);
      ++r.inserted;
    } else {
      bson_t sel = BSON_INITIALIZER, update = BSON_INITIALIZER;
      const bson_oid_t oid = ToOid(ops[i].id);
      bson_append_oid(&sel, "_id", -1, &oid);
      AppendSetBody(&update, ops[i].doc, r.calculated_at);
      ok = mongoc_bulk_operation_update_one_with_opts(bulk, &sel, &update, &no_validation, &error);
      bson_destroy(&sel);
      bson_destroy(&update);
      ++updates;
      ++r.updated;
    }
    if (!ok) Die("prepare a write", error);
    ++in_bulk;
  }
  flush();
  bson_destroy(&bopts);
  bson_destroy(&no_validation);
  mongoc_write_concern_destroy(wc);
  mongoc_collection_destroy(coll);
  AddNs(&r.write_ns, t0);
}

// `ops` on up to --concurrency connections at once when they need several commands: cut at
// command boundaries into that many pieces, each written by its own thread and pooled client
// (`client`, when not null, writes alone when one command is enough). On FerretDB v1, whose
// commands carry at most 10 updates, one list's 170 updates are 17 commands.
void WriteSpread(Run& r, mongoc_client_pool_t* pool, mongoc_client_t* client,
                 const std::vector<Op>& ops) {
  if (ops.empty()) return;
  std::vector<size_t> starts;  // where each command begins
  size_t in_bulk = 0, updates = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i == 0 || in_bulk == r.o.bulk || (!ops[i].insert && updates == r.max_updates)) {
      starts.push_back(i);
      in_bulk = updates = 0;
    }
    ++in_bulk;
    updates += ops[i].insert ? 0 : 1;
  }
  const size_t k = std::min(static_cast<size_t>(r.o.concurrency), starts.size());
  if (k <= 1 && client) {
    Write(r, client, ops.data(), ops.size());
    return;
  }
  const size_t per = (starts.size() + k - 1) / k;  // commands per piece
  const size_t pieces = (starts.size() + per - 1) / per;
  Parallel(pool, static_cast<int>(pieces), pieces, [&](mongoc_client_t* c, size_t p) {
    const size_t b = starts[p * per];
    const size_t e = (p + 1) * per < starts.size() ? starts[(p + 1) * per] : ops.size();
    Write(r, c, ops.data() + b, e - b);
  });
}

// Updates per command: 10 on FerretDB v1 (buildInfo has ferretdbVersion, major below 2), as
// src/store/store.cc decides; otherwise as many as a bulk holds.
size_t MaxUpdatesPerCommand(mongoc_client_t* client, size_t bulk) {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_append_int32(&cmd, "buildInfo", -1, 1);
  bson_error_t error;
  size_t n = bulk;
  if (!mongoc_client_command_simple(client, "admin", &cmd, nullptr, &reply, &error)) {
    n = 10;  // no buildInfo: small commands are safe everywhere
  } else {
    bson_iter_t it;
    if (bson_iter_init_find(&it, &reply, "ferretdbVersion") && BSON_ITER_HOLDS_UTF8(&it)) {
      const char* v = bson_iter_utf8(&it, nullptr);
      if (*v == 'v') ++v;
      if (std::atoi(v) < 2) n = 10;
    }
  }
  bson_destroy(&cmd);
  bson_destroy(&reply);
  return std::min(n, bulk);
}

// The changed documents after the cursor, in pages of --max-batch-docs until a short page; the
// affected users, sorted. Returns the number of documents polled.
int64_t Poll(const Options& o, mongoc_client_t* client, std::vector<Oid>* affected) {
  mongoc_collection_t* source =
      mongoc_client_get_collection(client, o.db.c_str(), o.source.c_str());
  Cursor cursor{o.after_ms, o.after_id};
  int64_t total = 0;
  for (;;) {
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
    AppendAfterFilter(&filter, cursor);
    AppendVersionProjection(&opts);
    bson_append_document_begin(&opts, "sort", -1, &sort);
    bson_append_int32(&sort, "updatedAt", -1, 1);
    bson_append_int32(&sort, "_id", -1, 1);
    bson_append_document_end(&opts, &sort);
    bson_append_int64(&opts, "limit", -1, o.max_batch_docs);
    AppendBatchSize(o, &opts);
    int64_t page = 0;
    Find(source, &filter, &opts, "poll", [&](const bson_t* doc) {
      bson_iter_t it;
      Oid u;
      ++page;
      if (OidField(doc, "_id", &cursor.id) && bson_iter_init_find(&it, doc, "updatedAt") &&
          BSON_ITER_HOLDS_DATE_TIME(&it))
        cursor.t = bson_iter_date_time(&it);
      if (OidField(doc, "userId", &u)) affected->push_back(u);
    });
    bson_destroy(&filter);
    bson_destroy(&opts);
    total += page;
    if (page < o.max_batch_docs) break;
  }
  mongoc_collection_destroy(source);
  std::sort(affected->begin(), affected->end());
  affected->erase(std::unique(affected->begin(), affected->end()), affected->end());
  return total;
}

// Calls each(doc) for every document of a raw BSON file.
template <typename F>
void ReadBsonFile(const std::string& file, const char* what, F&& each) {
  bson_error_t error;
  bson_reader_t* reader = bson_reader_new_from_file(file.c_str(), &error);
  if (!reader) Die(what, error);
  const bson_t* doc;
  bool eof = false;
  while ((doc = bson_reader_read(reader, &eof))) each(doc);
  bson_reader_destroy(reader);
}

Templates LoadTemplates(const std::string& file, const std::string& updates_file) {
  Templates t;
  std::string key;
  if (!file.empty()) {
    ReadBsonFile(file, "open --template", [&](const bson_t* doc) {
      if (!KeyOf(doc, &key)) return;
      bson_t* copy = bson_copy(doc);
      t.by_user[key.substr(0, 12)].push_back({copy});
      t.by_key[key] = {copy};
    });
  }
  if (!updates_file.empty()) {
    ReadBsonFile(updates_file, "open --updates-from", [&](const bson_t* doc) {
      Oid id;
      if (OidField(doc, "_id", &id))
        t.by_id[std::string(reinterpret_cast<const char*>(id.data()), 12)] = {bson_copy(doc)};
    });
  }
  return t;
}

// The daily pass's share of a first batch, which the contract makes part of it (spec/engine.md:
// "the very first batch ... computes everyone in the horizon"): the users with analytics
// documents and those with healthmetrics dated in the horizon, projected to userId; and, where
// the analytics collection has no TTL index, the delete of its expired documents. Appends the
// users (unsorted, repeated) to `users`.
void DailyPass(const Run& r, mongoc_client_t* client, std::vector<Oid>* users) {
  const Options& o = r.o;
  mongoc_collection_t* analytics =
      mongoc_client_get_collection(client, o.db.c_str(), o.analytics.c_str());
  mongoc_collection_t* source =
      mongoc_client_get_collection(client, o.db.c_str(), o.source.c_str());
  bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, date;
  bson_append_document_begin(&opts, "projection", -1, &proj);
  bson_append_int32(&proj, "userId", -1, 1);
  bson_append_int32(&proj, "_id", -1, 0);
  bson_append_document_end(&opts, &proj);
  AppendBatchSize(o, &opts);
  auto add = [&](const bson_t* doc) {
    Oid u;
    if (OidField(doc, "userId", &u)) users->push_back(u);
  };
  Find(analytics, &filter, &opts, "list users with analytics", add);
  bson_append_document_begin(&filter, "date", -1, &date);
  bson_append_date_time(&date, "$gte", -1, r.from);
  bson_append_date_time(&date, "$lt", -1, r.to_excl);
  bson_append_document_end(&filter, &date);
  Find(source, &filter, &opts, "list users with recent healthmetrics", add);
  bool ttl = false;
  mongoc_cursor_t* indexes = mongoc_collection_find_indexes_with_opts(analytics, nullptr);
  const bson_t* index;
  bson_iter_t it;
  while (mongoc_cursor_next(indexes, &index))
    ttl = ttl || bson_iter_init_find(&it, index, "expireAfterSeconds");
  mongoc_cursor_destroy(indexes);  // no collection yet (a first run) is no TTL index either
  if (!ttl) {
    bson_t expired = BSON_INITIALIZER, lt, dopts = BSON_INITIALIZER, wc;
    bson_append_document_begin(&expired, "expiresAt", -1, &lt);
    bson_append_date_time(&lt, "$lt", -1, o.now_ms);
    bson_append_document_end(&expired, &lt);
    bson_append_document_begin(&dopts, "writeConcern", -1, &wc);
    bson_append_int32(&wc, "w", -1, 1);
    bson_append_bool(&wc, "j", -1, true);
    bson_append_document_end(&dopts, &wc);
    bson_error_t error;
    if (!mongoc_collection_delete_many(analytics, &expired, &dopts, nullptr, &error))
      Die("delete expired analytics", error);
    bson_destroy(&expired);
    bson_destroy(&dopts);
  }
  bson_destroy(&filter);
  bson_destroy(&opts);
  mongoc_collection_destroy(analytics);
  mongoc_collection_destroy(source);
}

double Secs(const timeval& a, const timeval& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) +
         static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
}

// The batch: poll, then the lists K at a time (reads and writes), timed; prints the JSON.
void BestClient(const Options& o, mongoc_client_pool_t* pool, const Io& io) {
  const Templates templates = LoadTemplates(o.template_file, o.updates_file);
  Run r(o, templates);
  const int64_t today_start = o.now_ms - o.now_ms % kMsPerDay;
  r.from = today_start - static_cast<int64_t>(o.history_days - 1) * kMsPerDay;
  r.to_excl = today_start + kMsPerDay;
  r.updates_left = o.updates;
  r.calculated_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  const auto start = Clock::now();
  // --daily-pass: the pass's user list and expired delete beside the poll, on a second client.
  std::vector<Oid> pass_users;
  std::thread pass;
  if (o.daily_pass) {
    pass = std::thread([&] {
      mongoc_client_t* c = mongoc_client_pool_pop(pool);
      DailyPass(r, c, &pass_users);
      mongoc_client_pool_push(pool, c);
    });
  }
  mongoc_client_t* client = mongoc_client_pool_pop(pool);
  r.max_updates = MaxUpdatesPerCommand(client, o.bulk);
  const int64_t polled = Poll(o, client, &r.users);
  mongoc_client_pool_push(pool, client);
  if (pass.joinable()) {
    pass.join();
    r.users.insert(r.users.end(), pass_users.begin(), pass_users.end());
    std::sort(r.users.begin(), r.users.end());
    r.users.erase(std::unique(r.users.begin(), r.users.end()), r.users.end());
  }
  const double poll_s = Since(start);
  const size_t lists = (r.users.size() + o.lists - 1) / o.lists;
  auto range = [&](size_t i) {
    return std::pair{i * o.lists, std::min(r.users.size(), (i + 1) * o.lists)};
  };
  // Wall times: `lists` is everything after the poll; with --pipeline 0 it is `read` + `write`
  // (with --pipeline 1 they overlap: thread_s has each thread's time in each).
  double read_wall = 0, write_wall = 0;
  const auto t0_lists = Clock::now();
  auto t = t0_lists;
  if (o.pipeline) {
    Parallel(pool, o.concurrency, lists, [&](mongoc_client_t* c, size_t i) {
      std::vector<Op> ops;
      auto [b, e] = range(i);
      ReadList(r, c, b, e, &ops);
      WriteSpread(r, pool, c, ops);
    });
  } else {
    Parallel(pool, o.concurrency, lists, [&](mongoc_client_t* c, size_t i) {
      std::vector<Op> ops;
      auto [b, e] = range(i);
      ReadList(r, c, b, e, &ops);
      std::lock_guard lock(r.mu);
      r.ops.insert(r.ops.end(), ops.begin(), ops.end());
    });
    read_wall = Since(t);
    t = Clock::now();
    WriteSpread(r, pool, nullptr, r.ops);
    write_wall = Since(t);
  }
  const double lists_wall = Since(t0_lists);
  const double total = Since(start);
  getrusage(RUSAGE_SELF, &ru1);
  std::printf(
      "{\"total_s\": %.3f, \"user_cpu_s\": %.3f, \"sys_cpu_s\": %.3f, \"lists_per_query\": %zu, "
      "\"concurrency\": %d, \"bulk\": %zu, \"updates_per_command\": %zu, \"pipeline\": %s, "
      "\"daily_pass\": %s, \"batch_size\": %d, \"polled\": %lld, \"users\": %zu, \"lists\": %zu, "
      "\"goals\": %lld, "
      "\"history_docs\": %lld, \"keys_read\": %lld, \"inserted\": %lld, \"updated\": %lld, "
      "\"io\": {\"commands\": %lld, \"bytes_read\": %lld}, \"phase_s\": {\"poll\": %.3f, "
      "\"lists\": %.3f, \"read\": %.3f, \"write\": %.3f}, \"thread_s\": {\"read\": %.3f, "
      "\"write\": %.3f}}\n",
      total, Secs(ru0.ru_utime, ru1.ru_utime), Secs(ru0.ru_stime, ru1.ru_stime), o.lists,
      o.concurrency, o.bulk, r.max_updates, o.pipeline ? "true" : "false",
      o.daily_pass ? "true" : "false", o.batch_size, static_cast<long long>(polled), r.users.size(),
      lists, static_cast<long long>(r.goals), static_cast<long long>(r.history_docs),
      static_cast<long long>(r.keys), static_cast<long long>(r.inserted),
      static_cast<long long>(r.updated), static_cast<long long>(io.commands.load()),
      static_cast<long long>(io.bytes_read.load()), poll_s, lists_wall, read_wall, write_wall,
      static_cast<double>(r.read_ns) / 1e9, static_cast<double>(r.write_ns) / 1e9);
  for (auto& [u, docs] : templates.by_user)
    for (const Doc& d : docs) bson_destroy(d.p);
  for (auto& [id, d] : templates.by_id) bson_destroy(d.p);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  mongoc_init();
  mongoc_log_set_handler(nullptr, nullptr);  // FerretDB's endSessions warning on close
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(o.uri.c_str(), &error);
  if (!uri) Die("parse --uri", error);
  mongoc_uri_set_appname(uri, "best_client");
  if (!o.export_file.empty() || o.touch > 0) {
    mongoc_client_t* client = mongoc_client_new_from_uri_with_error(uri, &error);
    if (!client) Die("client", error);
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    const std::string& name = o.export_file.empty() ? o.source : o.analytics;
    mongoc_collection_t* coll = mongoc_client_get_collection(client, o.db.c_str(), name.c_str());
    const int rc = o.export_file.empty() ? Touch(coll, o.touch)
                                         : Export(coll, o.export_file, o.export_updated_from);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
  }
  mongoc_client_pool_t* pool = mongoc_client_pool_new(uri);
  if (!pool) Die("client pool", error);
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  Io io;
  mongoc_apm_callbacks_t* apm = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_succeeded_cb(apm, [](const mongoc_apm_command_succeeded_t* e) {
    auto* io = static_cast<Io*>(mongoc_apm_command_succeeded_get_context(e));
    ++io->commands;
    io->bytes_read += mongoc_apm_command_succeeded_get_reply(e)->len;
  });
  mongoc_apm_set_command_failed_cb(apm, [](const mongoc_apm_command_failed_t* e) {
    auto* io = static_cast<Io*>(mongoc_apm_command_failed_get_context(e));
    ++io->commands;
    if (const bson_t* reply = mongoc_apm_command_failed_get_reply(e)) io->bytes_read += reply->len;
  });
  mongoc_client_pool_set_apm_callbacks(pool, apm, &io);
  mongoc_apm_callbacks_destroy(apm);
  BestClient(o, pool, io);
  mongoc_client_pool_destroy(pool);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return 0;
}
