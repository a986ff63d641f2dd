// Integration-test harness: a real MongoDB-compatible server on a free loopback port (FerretDB,
// scripts/ferretdb, or mongo-java-server, scripts/mongo-java-server: HA_TEST_SERVER chooses),
// the real binary run as a child process, and direct libmongoc access to seed and export data.
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

// TempDir, ReadFile, WriteFile (tests/support/temp_dir.h), RunHa, Spawn, Wait, Env, RunResult
// (tests/support/process.h) and FreePort (tests/support/ports.h) are shared with the unit tests.
namespace ha::testing {

// The server the integration tests run against, from HA_TEST_SERVER: `ferretdb` (FerretDB
// v1.24.2, SQLite backend) or `mongo-java-server` (1.47.0, in memory); unset or empty means
// mongo-java-server (docs/TEST-SERVERS.md says why). Any other value throws
// std::runtime_error naming the variable and the accepted values.
enum class ServerKind { kFerretDb, kMongoJavaServer };
ServerKind TestServer();
// "ferretdb" or "mongo-java-server": the value of HA_TEST_SERVER that selects TestServer().
const char* TestServerName();

// Builds the TestServer() (once; cached) and returns what `health-analytics demo` needs to start
// one itself: mongo-java-server's folder (for HA_MJS_HOME) or FerretDB's binary (HA_FERRETDB).
// Throws std::runtime_error when the build fails.
std::string BuildTestServer();

// TLS for a test server (HA_FERRETDB_TLS_* / HA_MJS_TLS_*): PEM files.
struct ServerTls {
  std::string cert_file;  // the server's certificate
  std::string key_file;   // its private key
  std::string ca_file;    // the CA that signed it: put into uri() as tlsCAFile (may be empty)
};

// A test server of kind TestServer() with its data in a temporary directory; stopped with the
// object. Throws std::runtime_error when the server does not start (the script's output says
// why).
class Server {
 public:
  Server();
  // A server that listens with TLS only; uri() is mongodb://127.0.0.1:PORT/?tls=true
  // (&tlsCAFile=...).
  explicit Server(ServerTls tls);
  ~Server();
  const std::string& uri() const { return uri_; }
  const std::string& port() const { return port_; }
  // Stops the server; its data stays in the folder (mongo-java-server saves it at a clean stop).
  void Stop();
  void Start();  // restart after Stop on the same port and data

 private:
  TempDir dir_;
  std::string uri_;
  std::string port_;
  ServerTls tls_;
};

// The batch log's lines in a LOG_DIRECTORY (every batch_logs_<YYYYMMDD>.jsonl), in batch_id
// order.
std::vector<nlohmann::json> BatchLogLines(const std::string& dir);

// A database on the test server, accessed directly with libmongoc.
class Db {
 public:
  Db(const std::string& uri, std::string name);
  ~Db();
  const std::string& name() const { return name_; }

  // Inserts Extended JSON lines (canonical or relaxed) into `collection`.
  void InsertJsonLines(const std::string& collection, const std::string& lines);
  void Insert(const std::string& collection, const bson_t* doc);
  // Upserts by filter with $set.
  void UpsertSet(const std::string& collection, const bson_t* filter, const bson_t* set);
  int64_t DeleteMany(const std::string& collection, const bson_t* filter);
  int64_t Count(const std::string& collection, const bson_t* filter = nullptr);
  // Every document of `collection` as canonical Extended JSON lines (mongoexport's format).
  std::vector<std::string> ExportCanonical(const std::string& collection);
  // Relaxed Extended JSON lines, as `mongoexport` writes by default.
  std::string ExportRelaxed(const std::string& collection);
  // The names of `collection`'s indexes, as listIndexes returns them.
  std::vector<std::string> IndexNames(const std::string& collection);

 private:
  mongoc_client_t* client_;
  std::string name_;
};

// Polls `ok` every 100 ms for up to `seconds`; the last answer of `ok`.
bool WaitFor(const std::function<bool()>& ok, double seconds);

// A unique database name for a test.
std::string UniqueDbName(const std::string& prefix);

// The settings every engine run in a test gets: the server, database, and folders under `dir`.
Env EngineEnv(const std::string& uri, const std::string& db, const std::string& dir);

}  // namespace ha::testing
