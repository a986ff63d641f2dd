// The HTTP endpoints on HEALTH_CHECK_HOST:HEALTH_CHECK_PORT (engine spec section 7), served by
// cpp-httplib on a few background threads:
//
//   /                  the status page (self-contained HTML: no external assets)
//   /health            status healthy|degraded|unhealthy; 503 when unhealthy
//   /health/detailed   the last batch, checkpoint watermark and lag, totals, configuration
//                      (secrets masked); same code as /health
//   /health/ready      200 when a batch completed recently and the database is reachable, 503
//   /health/live       200 while the process serves requests
//   /health/dlq        dead letters by reason and the last entries of the DLQ files
//   /api/batches       the recent batches (the status page's charts)
//   /api/users/<id>/analytics
//                      one user's analytics documents (the status page's per-user view), read
//                      from the database through a lookup the caller provides
//   /metrics           Prometheus text format (Content-Type text/plain; version=0.0.4)
//
// Every answer is JSON except / and /metrics; nothing served contains a secret, because the
// Monitor only holds configuration that the caller masked, and the lookup's documents and
// messages are the caller's to keep clean.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"
#include "observe/monitor.h"

namespace httplib {
class Server;
}

namespace ha {

// The data behind /api/users/<id>/analytics: the analytics documents of the user, each one JSON
// object as the app's API serves it (plain JSON, dates as ISO-8601 strings), in any order; an
// empty vector when the user has none. On failure: kUnavailable when the database cannot be
// reached, another code when the read failed; the message is shown to the caller, so it must
// hold no secret. Called from the server's threads, never two calls at once.
using UserAnalyticsLookup = std::function<Result<std::vector<std::string>>(const ObjectId&)>;

// The answer of /api/users/<id_text>/analytics, always JSON with an "error" on failure:
//   200 {"userId": 24 lowercase hex, "count": n, "documents": [the lookup's objects]};
//   400 when `id_text` is not 24 hexadecimal digits (the answer says what is expected);
//   404 when the user has no analytics documents;
//   503 when the lookup reports kUnavailable (the database is down), 502 for another failure;
//   501 when `lookup` is empty (the process serves no per-user view).
HttpReply UserAnalyticsReply(std::string_view id_text, const UserAnalyticsLookup& lookup);

class HttpServer {
 public:
  // Borrows `monitor`, which must outlive the server. `clock` gives the wall clock (ms) used
  // for lag and readiness.
  explicit HttpServer(const Monitor& monitor, std::function<Instant()> clock = NowMillis);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The source of /api/users/<id>/analytics; without one that endpoint answers 501. Call before
  // Start. One lookup runs at a time: a request arriving meanwhile gets 503 with Retry-After at
  // once, so a slow database never holds more than one of the threads the probes need.
  void SetUserAnalyticsLookup(UserAnalyticsLookup lookup) { lookup_ = std::move(lookup); }

  // Binds `host`:`port` (port 0: any free port) and serves on a background thread. Another
  // process listening on the same port is an error (no SO_REUSEPORT sharing).
  // On failure returns kUnavailable naming the address, the system's reason and the fix.
  Status Start(const std::string& host, int port);

  // The port bound by Start (0 before).
  int port() const { return port_; }

  // Stops serving and joins the threads. Idempotent.
  void Stop();

 private:
  const Monitor& monitor_;
  std::function<Instant()> clock_;
  UserAnalyticsLookup lookup_;
  std::mutex lookup_mu_;  // held while the lookup runs
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// The status page: one HTML document with inline CSS and JavaScript, Chart.js (embedded at build
// time) included, that polls /health/detailed, /api/batches and /health/dlq every few seconds
// and shows one user's analytics (/api/users/<id>/analytics) on request.
const std::string& StatusPageHtml();

}  // namespace ha
