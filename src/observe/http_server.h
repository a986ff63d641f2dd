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
//   /metrics           Prometheus text format (Content-Type text/plain; version=0.0.4)
//
// Every answer is JSON except / and /metrics; nothing served contains a secret, because the
// Monitor only holds configuration that the caller masked.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "core/time.h"
#include "observe/monitor.h"

namespace httplib {
class Server;
}

namespace ha {

class HttpServer {
 public:
  // Borrows `monitor`, which must outlive the server. `clock` gives the wall clock (ms) used
  // for lag and readiness.
  explicit HttpServer(const Monitor& monitor, std::function<Instant()> clock = NowMillis);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

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
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// The status page: one HTML document with inline CSS, JavaScript and SVG charts that polls
// /health/detailed, /api/batches and /health/dlq every few seconds.
const std::string& StatusPageHtml();

}  // namespace ha
