// The monitoring of the engine commands (`run`, `once`, `demo`): metrics, health, the
// node_exporter textfile and, for the daemon, the HTTP endpoints, built from the configuration
// in one place so each command adds two lines.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/config.h"
#include "cli/engine_setup.h"
#include "observe/batch_log.h"
#include "observe/http_server.h"
#include "observe/monitor.h"

namespace ha::cli {

// The configuration as shown by /health/detailed: every setting that helps an operator, with the
// password in MONGO_URI (and in BACKEND_API_URL) masked and SERVICE_TOKEN reduced to set/unset.
std::vector<std::pair<std::string, std::string>> ConfigSummary(const Config& config);

// The source of the status page's per-user view (/api/users/<id>/analytics): the user's analytics
// documents read from the configured database by a Store of its own (a libmongoc client serves
// one thread at a time, and the engine's is busy with batches), as the plain JSON the app's API
// serves. A server selection gives up after 5 s unless MONGO_URI sets serverSelectionTimeoutMS.
// Error messages have the MONGO_URI password and SERVICE_TOKEN masked as "***". Thread-safe.
UserAnalyticsLookup UserAnalyticsFromDatabase(const Config& config);

class EngineMonitoring {
 public:
  // Reads the checkpoint's watermark (for the lag before the first batch) and writes the
  // textfile once. With `with_http` and HEALTH_CHECK_PORT != 0, serves the HTTP endpoints on
  // HEALTH_CHECK_HOST:HEALTH_CHECK_PORT, the per-user view included (UserAnalyticsFromDatabase); a
  // failure to listen is logged as a warning and the engine runs on without them (probes then fail,
  // which is what an operator should see). Borrows `components`, which must outlive this object.
  EngineMonitoring(EngineComponents& components, bool with_http);
  ~EngineMonitoring();

  // After each batch, from the loop's on_batch (`next_interval` as the loop passes it): feeds
  // the metrics and the health verdict, and rewrites the textfile (a write failure is logged
  // once until it works again, never fails the batch).
  void OnBatch(const BatchReport& report, double next_interval);

  // For the events worker: monitor().metrics().RecordEvent(result).
  Monitor& monitor() { return *monitor_; }

  // The port served (0 when HTTP is off or could not listen).
  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  void WriteTextfile();

  EngineComponents& components_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<HttpServer> http_;
  bool textfile_failing_ = false;
};

}  // namespace ha::cli
