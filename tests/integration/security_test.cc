// Security of the engine against a real server (issue 5, item 5): TLS to the database end to end
// with a throwaway CA, secrets in no output of any command or endpoint, the HTTP server on
// loopback by default, and nothing the engine creates writable by other users, even under
// umask 000.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "tests/integration/harness.h"

namespace ha::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 2025-11-20T12:00:00Z: the frozen batch clock of these tests.
const Instant kT = StartOf(DaysFromCivil(2025, 11, 20)) + 12 * 3'600'000LL;
constexpr const char* kPassword = "pw-Sec-7Qx3-never-shown";
constexpr const char* kToken = "tok-Sec-9Kd5-never-shown";

// Runs `command` with sh; returns its exit code and fills `out` with stdout and stderr.
int Sh(const std::string& command, std::string* out) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A throwaway PKI made with openssl: a CA, a server certificate for 127.0.0.1 and localhost
// signed by it, and an unrelated CA that signed nothing.
struct Pki {
  std::string ca, other_ca, cert, key;
};

Pki MakePki(const std::string& dir) {
  Pki p{dir + "/ca.pem", dir + "/other-ca.pem", dir + "/server.pem", dir + "/server.key"};
  WriteFile(dir + "/server.ext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  const std::string cmd =
      "cd '" + dir +
      "' && set -e"
      " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ha-test-ca"
      " -keyout ca.key -out ca.pem"
      " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ha-other-ca"
      " -keyout other-ca.key -out other-ca.pem"
      " && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost"
      " -keyout server.key -out server.csr"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
      " -CAcreateserial -days 2 -extfile server.ext -out server.pem";
  std::string out;
  const int rc = Sh(cmd, &out);
  EXPECT_EQ(rc, 0) << out;
  if (rc != 0) throw std::runtime_error("openssl failed: " + out);
  return p;
}

// One day of steps per user, dated at kT's day, plus one document with an invalid field (a
// dead letter).
void InsertData(Db& db) {
  std::string lines;
  for (int i = 0; i < 3; ++i) {
    lines += json{{"userId", {{"$oid", "65a0000000000000000000" + std::to_string(10 + i)}}},
                  {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(DayOf(kT)))}}}}},
                  {"metrics", {{"steps", 5000 + i}, {"sleepHours", 7}}},
                  {"source", "manual"},
                  {"updatedAt", {{"$date", {{"$numberLong", std::to_string(kT - 3'600'000)}}}}}}
                 .dump() +
             "\n";
  }
  lines += json{{"userId", {{"$oid", "65a000000000000000000020"}}},
                {"date", {{"$date", {{"$numberLong", std::to_string(StartOf(DayOf(kT)))}}}}},
                {"metrics", {{"steps", "many"}}},
                {"source", "manual"},
                {"updatedAt", {{"$date", {{"$numberLong", std::to_string(kT - 3'500'000)}}}}}}
               .dump() +
           "\n";
  db.InsertJsonLines("healthmetrics", lines);
}

httplib::Result HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  return client.Get(path);
}

// Every regular file under `dir`, concatenated.
std::string AllFiles(const std::string& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) all += ReadFile(e.path().string());
  return all;
}

// ---------------------------------------------------------------------------------------------
// TLS

TEST(TlsTest, OnceWritesAnalyticsOverTlsAndRefusesAServerItCannotTrust) {
  TempDir pki_dir, work;
  const Pki pki = MakePki(pki_dir.path());
  Server server(ServerTls{pki.cert, pki.key, pki.ca});
  ASSERT_NE(server.uri().find("tls=true"), std::string::npos) << server.uri();
  Db db(server.uri(), UniqueDbName("tls"));
  InsertData(db);
  Env env = EngineEnv(server.uri(), db.name(), work.path());
  const std::string base =
      "mongodb://127.0.0.1:" + server.port() + "/?serverSelectionTimeoutMS=3000";
  const std::string watermark = work.path() + "/checkpoint/last_processed_timestamp.txt";

  // Misconfigurations first: each must fail clearly (exit 3, the TLS problem named) and write
  // nothing, neither analytics nor a checkpoint.
  struct Bad {
    std::string uri, expect;
  };
  for (const Bad& bad : {
           Bad{base + "&tls=true", "certificate verify failed"},  // no CA: the system store
           Bad{base + "&tls=true&tlsCAFile=" + pki.other_ca, "certificate verify failed"},
           Bad{base, "MONGO_URI needs tls=true"},  // plain TCP to a TLS-only server
       }) {
    env["MONGO_URI"] = bad.uri;
    RunResult r = RunHa({"once", "--now", FormatInstant(kT)}, env, work.path());
    EXPECT_EQ(r.exit_code, 3) << bad.uri << "\n" << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("cannot reach the database"), std::string::npos)
        << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(bad.expect), std::string::npos) << r.out << r.err;
    EXPECT_FALSE(fs::exists(watermark)) << bad.uri;
  }
  EXPECT_EQ(db.Count("analytics"), 0);

  // The documented URI: tls=true and the CA that signed the server's certificate.
  env["MONGO_URI"] = server.uri();
  RunResult ok = RunHa({"once", "--now", FormatInstant(kT)}, env, work.path());
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_GT(db.Count("analytics"), 0);
  EXPECT_TRUE(fs::exists(watermark));
  // Host name checks are on: localhost is in the certificate too.
  env["MONGO_URI"] = "mongodb://localhost:" + server.port() + "/?tls=true&tlsCAFile=" + pki.ca;
  RunResult by_name = RunHa({"indexes"}, env, work.path());
  EXPECT_EQ(by_name.exit_code, 0) << by_name.out << by_name.err;
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST(SecretsTest, NoCommandLogFileOrEndpointShowsThePasswordOrTheToken) {
  Server server;
  Db db(server.uri(), UniqueDbName("secrets"));
  InsertData(db);
  const std::string hostport = "127.0.0.1:" + server.port();
  const std::string user = std::string("alice:") + kPassword + "@";
  struct Case {
    std::string name, uri;
    int once_exit;  // what `once` must return
  };
  const std::vector<Case> cases = {
      // FerretDB's SQLite backend accepts any PLAIN credentials: the working path.
      {"accepted", "mongodb://" + user + hostport + "/?authMechanism=PLAIN", 0},
      // It refuses SCRAM (the default mechanism): the authentication failure path.
      {"auth-failure", "mongodb://" + user + hostport + "/?serverSelectionTimeoutMS=2000", 1},
      {"unreachable", "mongodb://" + user + "127.0.0.1:1/?serverSelectionTimeoutMS=500", 3},
      // A password given as a URI option, too.
      {"key-password",
       "mongodb://" + user + "127.0.0.1:1/?serverSelectionTimeoutMS=500&" +
           "tlsCertificateKeyFilePassword=" + kPassword,
       3},
      // A URI libmongoc refuses: a configuration error (exit 2) for every command.
      {"malformed", "mongodb://" + user + hostport + "/?tls=maybe", 2},
  };
  TempDir root;
  std::string everything;  // every output and response
  int dirs = 0;
  for (const std::string format : {"text", "json"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name + " " + format);
      const std::string dir = root.path() + "/" + c.name + "-" + format + std::to_string(dirs++);
      fs::create_directories(dir);
      Env env = EngineEnv(c.uri, db.name(), dir);
      env["SERVICE_TOKEN"] = kToken;
      env["BACKEND_API_URL"] = "http://127.0.0.1:9/api";  // nobody answers
      env["LOG_FORMAT"] = format;
      env["LOG_LEVEL"] = "debug";
      for (const std::vector<std::string>& args :
           {std::vector<std::string>{"once", "--now", FormatInstant(kT)},
            {"doctor"},
            {"indexes"}}) {
        RunResult r = RunHa(args, env, dir);
        everything += r.out + r.err;
        // `once` as the case says, and 3 (no server) for every command; a malformed URI is a
        // configuration error (2) for `indexes` (and `doctor`, which is only checked to fail).
        const bool exact =
            args[0] == "once" || c.once_exit == 3 || (c.once_exit == 2 && args[0] == "indexes");
        if (exact) {
          EXPECT_EQ(r.exit_code, c.once_exit) << args[0] << r.out << r.err;
        } else if (c.once_exit != 0) {
          EXPECT_NE(r.exit_code, 0) << args[0] << r.out << r.err;
        }
      }
      // `run` with its endpoints, through at least one batch (completed or failed).
      const int port = FreePort();
      env["HEALTH_CHECK_PORT"] = std::to_string(port);
      const pid_t run = Spawn({"run", "--now", FormatInstant(kT)}, env, dir);
      if (c.once_exit == 2) {  // refused at start-up, before listening
        EXPECT_EQ(Wait(run), 2);
        everything += AllFiles(dir);
        continue;
      }
      EXPECT_TRUE(WaitFor(
          [&] {
            auto r = HttpGet(port, "/health/detailed");
            if (!r) return false;
            const json j = json::parse(r->body, nullptr, false);
            return j.is_object() && j.contains("last_batch") && !j["last_batch"].is_null();
          },
          60))
          << "no batch reported on /health/detailed";
      for (const char* path :
           {"/", "/health", "/health/detailed", "/health/ready", "/health/live", "/health/dlq",
            "/metrics", "/api/batches", "/api/users/65a1b2c3d4e5f60718293a4b/analytics"}) {
        auto r = HttpGet(port, path);
        EXPECT_TRUE(r) << path;
        if (!r) continue;
        everything += r->body;
        for (const auto& [k, v] : r->headers) everything += k + ": " + v + "\n";
      }
      kill(run, SIGTERM);
      EXPECT_EQ(Wait(run), 0);
      // Every file under the folder: stdout/stderr of every command, logs, dead letters,
      // metrics textfile, checkpoint.
      everything += AllFiles(dir);
    }
  }
  EXPECT_EQ(everything.find(kPassword), std::string::npos) << "the MONGO_URI password leaked";
  EXPECT_EQ(everything.find(kToken), std::string::npos) << "SERVICE_TOKEN leaked";
  // The outputs did name the URI, redacted: the check looked at the right text.
  EXPECT_NE(everything.find("alice:***@"), std::string::npos);
  EXPECT_NE(everything.find("\"status\""), std::string::npos);  // and HTTP bodies
}

// ---------------------------------------------------------------------------------------------
// Loopback by default

// The local addresses (hex, as in /proc/net/tcp[6]) listening on `port`.
std::set<std::string> Listeners(int port) {
  std::set<std::string> out;
  char port_hex[8];
  std::snprintf(port_hex, sizeof port_hex, "%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream in(ReadFile(table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state;
      f >> slot >> local >> remote >> state;
      const size_t colon = local.find(':');
      if (state == "0A" && colon != std::string::npos && local.substr(colon + 1) == port_hex)
        out.insert(local.substr(0, colon));
    }
  }
  return out;
}

TEST(LoopbackTest, RunListensOnLoopbackOnlyUnlessHealthCheckHostSaysOtherwise) {
  Server server;
  TempDir dir;
  Db db(server.uri(), UniqueDbName("loop"));
  Env env = EngineEnv(server.uri(), db.name(), dir.path());
  for (const std::string host : {"", "0.0.0.0"}) {
    SCOPED_TRACE("HEALTH_CHECK_HOST=" + host);
    const int port = FreePort();
    env["HEALTH_CHECK_PORT"] = std::to_string(port);
    if (!host.empty()) env["HEALTH_CHECK_HOST"] = host;
    const pid_t run = Spawn({"run"}, env, dir.path());
    EXPECT_TRUE(WaitFor([&] { return static_cast<bool>(HttpGet(port, "/health/live")); }, 60));
    const std::set<std::string> listeners = Listeners(port);
    const std::set<std::string> expected = {host.empty() ? "0100007F" : "00000000"};
    EXPECT_EQ(listeners, expected) << "127.0.0.1 by default, every IPv4 address for 0.0.0.0";
    kill(run, SIGTERM);
    EXPECT_EQ(Wait(run), 0);
  }
}

// ---------------------------------------------------------------------------------------------
// File modes

// Paths under `dir` (itself included) that are group- or world-writable, with their modes.
std::vector<std::string> WritableByOthers(const std::string& dir) {
  std::vector<std::string> out;
  auto check = [&](const fs::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
      out.push_back(p.string() + " " + mode);
    }
  };
  check(dir);
  for (const auto& e : fs::recursive_directory_iterator(dir)) check(e.path());
  return out;
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(FileModesTest, NothingTheEngineCreatesIsWritableByOthersEvenUnderUmask000) {
  Server server;
  TempDir dir;
  Db db(server.uri(), UniqueDbName("modes"));
  InsertData(db);
  Env env = EngineEnv(server.uri(), db.name(), dir.path() + "/state");
  env["HEALTH_CHECK_PORT"] = std::to_string(FreePort());
  const std::string state = dir.path() + "/state";

  // The children inherit the umask across fork and exec.
  const mode_t saved = umask(0);
  RunResult doctor = RunHa({"doctor"}, env, dir.path());  // creates the folders first
  RunResult once = RunHa({"once", "--now", FormatInstant(kT)}, env, dir.path());
  const pid_t run = Spawn({"run"}, env, dir.path());
  umask(saved);
  EXPECT_NE(doctor.exit_code, 2) << doctor.out << doctor.err;
  ASSERT_EQ(once.exit_code, 0) << once.out << once.err;
  auto batch_log_lines = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(state + "/logs")) {
      std::istringstream in(ReadFile(e.path().string()));
      for (std::string line; std::getline(in, line);) ++n;
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return batch_log_lines() >= 2; }, 60)) << "run logged no batch";
  kill(run, SIGTERM);
  EXPECT_EQ(Wait(run), 0);

  // Everything the engine writes is there, so the check below covers it.
  for (const std::string& f : {state + "/checkpoint/last_processed_timestamp.txt",
                               state + "/checkpoint/health_analytics.lock",
                               state + "/metrics/spark_analytics_metrics.prom"})
    EXPECT_TRUE(fs::exists(f)) << f;
  std::string log_file;
  for (const auto& e : fs::directory_iterator(state + "/logs")) log_file = e.path().string();
  ASSERT_FALSE(log_file.empty()) << "no batch log";
  EXPECT_GE(std::distance(fs::directory_iterator(state + "/checkpoint"), fs::directory_iterator()),
            3)
      << "watermark, sidecar and lock";
  std::string dead_letter_file;
  for (const auto& e : fs::directory_iterator(state + "/dlq")) dead_letter_file = e.path().string();
  ASSERT_FALSE(dead_letter_file.empty()) << "no dead-letter file";

  EXPECT_EQ(WritableByOthers(state), std::vector<std::string>{});
  // The modes chosen (docs/OPERATIONS.md): private where other users have no business.
  EXPECT_EQ(Mode(state + "/checkpoint"), 0750u);
  EXPECT_EQ(Mode(state + "/dlq"), 0750u);
  EXPECT_EQ(Mode(dead_letter_file), 0640u);
  EXPECT_EQ(Mode(state + "/logs"), 0755u);
  EXPECT_EQ(Mode(log_file), 0644u);
  EXPECT_EQ(Mode(state + "/metrics"), 0755u);
  EXPECT_EQ(Mode(state + "/metrics/spark_analytics_metrics.prom"), 0644u);
  EXPECT_EQ(Mode(state + "/checkpoint/last_processed_timestamp.txt"), 0644u);
}

}  // namespace
}  // namespace ha::testing
