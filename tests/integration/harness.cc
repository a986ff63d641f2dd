#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "codec/ferretdb_compat.h"

namespace ha::testing {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs a shell command and returns its stdout; throws on failure.
std::string Shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
  return Trim(out);
}

std::string Script() { return std::string(HA_SOURCE_DIR) + "/scripts/" + TestServerName(); }

// Settings for scripts/mongo-java-server that suit a test: a heap sized for test data (the
// script's default of 8 GB is for benchmarks; several servers run at once under ctest -j), the
// client compiler alone and one collector thread: less CPU for a small, short-lived server.
// An explicit HA_MJS_HEAP or HA_MJS_JAVA_OPTS in the environment wins.
std::string MongoJavaServerEnv() {
  std::string env;
  if (!std::getenv("HA_MJS_HEAP")) env += "HA_MJS_HEAP=1g ";
  if (!std::getenv("HA_MJS_JAVA_OPTS"))
    env += "HA_MJS_JAVA_OPTS='-XX:TieredStopAtLevel=1 -XX:ParallelGCThreads=1' ";
  return env;
}

void InitMongoc() {
  static bool done = [] {
    mongoc_init();
    return true;
  }();
  (void)done;
}

}  // namespace

ServerKind TestServer() {
  const char* v = std::getenv("HA_TEST_SERVER");
  const std::string s = v ? v : "";
  if (s.empty() || s == "mongo-java-server") return ServerKind::kMongoJavaServer;
  if (s == "ferretdb") return ServerKind::kFerretDb;
  throw std::runtime_error("HA_TEST_SERVER must be ferretdb or mongo-java-server, not '" + s + "'");
}

const char* TestServerName() {
  return TestServer() == ServerKind::kFerretDb ? "ferretdb" : "mongo-java-server";
}

std::string BuildTestServer() {
  const std::string out = Shell(Script() + " build");
  const size_t nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

Server::Server() { Start(); }

Server::Server(ServerTls tls) : tls_(std::move(tls)) { Start(); }

void Server::Start() {
  const bool mjs = TestServer() == ServerKind::kMongoJavaServer;
  std::string env = mjs ? MongoJavaServerEnv() : "";
  if (!tls_.cert_file.empty()) {
    const std::string prefix = mjs ? "HA_MJS_TLS_" : "HA_FERRETDB_TLS_";
    env += prefix + "CERT='" + tls_.cert_file + "' " + prefix + "KEY='" + tls_.key_file + "' " +
           prefix + "CA='" + tls_.ca_file + "' ";
  }
  // The URI is the script's last line (mongo-java-server's build may print its folder first).
  uri_ = Shell(env + Script() + " start " + dir_.path() + " " + port_);
  if (const size_t nl = uri_.rfind('\n'); nl != std::string::npos) uri_ = uri_.substr(nl + 1);
  // mongodb://127.0.0.1:PORT/ or mongodb://127.0.0.1:PORT/?tls=true...
  const size_t colon = uri_.find(':', std::string("mongodb://").size());
  const size_t slash = uri_.find('/', colon);
  port_ = uri_.substr(colon + 1, slash - colon - 1);
}

void Server::Stop() { Shell(Script() + " stop " + dir_.path()); }

Server::~Server() {
  try {
    Stop();
  } catch (...) {
  }
}

std::vector<nlohmann::json> BatchLogLines(const std::string& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().filename().string().rfind("batch_logs_", 0) != 0) continue;
    std::ifstream in(f.path());
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a["batch_id"] < b["batch_id"]; });
  return out;
}

Db::Db(const std::string& uri, std::string name) : name_(std::move(name)) {
  InitMongoc();
  client_ = mongoc_client_new(uri.c_str());
  if (!client_) throw std::runtime_error("bad uri " + uri);
}

Db::~Db() { mongoc_client_destroy(client_); }

void Db::Insert(const std::string& collection, const bson_t* doc) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_error_t error;
  const bool ok = mongoc_collection_insert_one(c, doc, nullptr, nullptr, &error);
  mongoc_collection_destroy(c);
  if (!ok) throw std::runtime_error(std::string("insert failed: ") + error.message);
}

void Db::InsertJsonLines(const std::string& collection, const std::string& lines) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  // (bson_t is over-aligned: keep it out of std::vector's template argument.)
  constexpr size_t kPage = 1000;
  auto docs_storage = std::make_unique<bson_t*[]>(kPage);
  size_t count = 0;
  std::istringstream in(lines);
  std::string line;
  bson_error_t error;
  auto flush = [&] {
    if (count == 0) return;
    const bool ok = mongoc_collection_insert_many(c, const_cast<const bson_t**>(docs_storage.get()),
                                                  count, nullptr, nullptr, &error);
    for (size_t i = 0; i < count; ++i) bson_destroy(docs_storage[i]);
    count = 0;
    if (!ok) throw std::runtime_error(std::string("insert_many failed: ") + error.message);
  };
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                     static_cast<ssize_t>(line.size()), &error);
    if (!doc) throw std::runtime_error(std::string("bad json line: ") + error.message);
    if (HasNonFiniteMetric(doc)) {  // FerretDB refuses NaN: see docs/ferretdb_compat.h
      BsonDoc fixed = WithoutNonFiniteMetrics(doc);
      bson_destroy(doc);
      doc = fixed.release();
    }
    docs_storage[count++] = doc;
    if (count == kPage) flush();
  }
  flush();
  mongoc_collection_destroy(c);
}

void Db::UpsertSet(const std::string& collection, const bson_t* filter, const bson_t* set) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_t update = BSON_INITIALIZER, opts = BSON_INITIALIZER;
  bson_append_document(&update, "$set", -1, set);
  bson_append_bool(&opts, "upsert", -1, true);
  bson_error_t error;
  const bool ok = mongoc_collection_update_one(c, filter, &update, &opts, nullptr, &error);
  bson_destroy(&update);
  bson_destroy(&opts);
  mongoc_collection_destroy(c);
  if (!ok) throw std::runtime_error(std::string("upsert failed: ") + error.message);
}

int64_t Db::DeleteMany(const std::string& collection, const bson_t* filter) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_t reply;
  bson_error_t error;
  const bool ok = mongoc_collection_delete_many(c, filter, nullptr, &reply, &error);
  bson_iter_t it;
  int64_t n = 0;
  if (ok && bson_iter_init_find(&it, &reply, "deletedCount")) n = bson_iter_as_int64(&it);
  bson_destroy(&reply);
  mongoc_collection_destroy(c);
  if (!ok) throw std::runtime_error(std::string("delete failed: ") + error.message);
  return n;
}

int64_t Db::Count(const std::string& collection, const bson_t* filter) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_t empty = BSON_INITIALIZER;
  bson_error_t error;
  const int64_t n = mongoc_collection_count_documents(c, filter ? filter : &empty, nullptr, nullptr,
                                                      nullptr, &error);
  mongoc_collection_destroy(c);
  if (n < 0) throw std::runtime_error(std::string("count failed: ") + error.message);
  return n;
}

std::vector<std::string> Db::ExportCanonical(const std::string& collection) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(c, &filter, nullptr, nullptr);
  const bson_t* doc;
  std::vector<std::string> out;
  while (mongoc_cursor_next(cursor, &doc)) {
    char* json = bson_as_canonical_extended_json(doc, nullptr);
    out.emplace_back(json);
    bson_free(json);
  }
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(c);
  if (failed) throw std::runtime_error(std::string("export failed: ") + error.message);
  return out;
}

std::string Db::ExportRelaxed(const std::string& collection) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(c, &filter, nullptr, nullptr);
  const bson_t* doc;
  std::string out;
  while (mongoc_cursor_next(cursor, &doc)) {
    char* json = bson_as_relaxed_extended_json(doc, nullptr);
    out += json;
    out += '\n';
    bson_free(json);
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(c);
  return out;
}

std::vector<std::string> Db::IndexNames(const std::string& collection) {
  mongoc_collection_t* c = mongoc_client_get_collection(client_, name_.c_str(), collection.c_str());
  mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(c, nullptr);
  const bson_t* doc;
  std::vector<std::string> out;
  bson_iter_t it;
  while (mongoc_cursor_next(cursor, &doc))
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
      out.emplace_back(bson_iter_utf8(&it, nullptr));
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(c);
  if (failed) throw std::runtime_error(std::string("listIndexes failed: ") + error.message);
  return out;
}

bool WaitFor(const std::function<bool()>& ok, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ok();
}

std::string UniqueDbName(const std::string& prefix) {
  return prefix + "_" + std::to_string(getpid());
}

Env EngineEnv(const std::string& uri, const std::string& db, const std::string& dir) {
  return {{"MONGO_URI", uri},
          {"MONGO_DB_NAME", db},
          {"CHECKPOINT_LOCATION", dir + "/checkpoint"},
          {"LOG_DIRECTORY", dir + "/logs"},
          {"METRICS_DIRECTORY", dir + "/metrics"},
          {"DLQ_DIRECTORY", dir + "/dlq"},
          {"HEALTH_CHECK_PORT", "0"},
          {"BATCH_INTERVAL_SECONDS", "1"}};
}

}  // namespace ha::testing
