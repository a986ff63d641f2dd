#include "cli/monitoring.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/version.h"

namespace ha::cli {

std::vector<std::pair<std::string, std::string>> ConfigSummary(const Config& c) {
  auto num = [](double v) { return fmt::format("{:g}", v); };
  return {
      {"MONGO_URI", RedactUri(c.mongo_uri)},
      {"MONGO_DB_NAME", c.mongo_db_name},
      {"SOURCE_COLLECTION", c.source_collection},
      {"ANALYTICS_COLLECTION", c.analytics_collection},
      {"USERS_COLLECTION", c.users_collection},
      {"BATCH_INTERVAL_SECONDS", num(c.batch_interval_seconds)},
      {"ADAPTIVE_POLLING", c.adaptive_polling ? "true" : "false"},
      {"CHECKPOINT_LOCATION", c.checkpoint_location},
      {"INITIAL_LOOKBACK_DAYS", std::to_string(c.initial_lookback_days)},
      {"LATE_DATA_GRACE_SECONDS", num(c.late_data_grace_seconds)},
      {"MAX_BATCH_DOCS", std::to_string(c.max_batch_docs)},
      {"HISTORY_DAYS", std::to_string(c.analytics.history_days)},
      {"RESULT_TTL_DAYS", std::to_string(c.result_ttl_days)},
      {"BACKEND_API_URL", c.backend_api_url.empty() ? "unset" : RedactUri(c.backend_api_url)},
      {"SERVICE_TOKEN", c.service_token.empty() ? "unset" : "set (***)"},
      {"LOG_DIRECTORY", c.log_directory},
      {"METRICS_DIRECTORY", c.metrics_directory},
      {"DLQ_DIRECTORY", c.dlq_directory},
      {"HEALTH_CHECK_HOST", c.health_check_host},
      {"HEALTH_CHECK_PORT", std::to_string(c.health_check_port)},
      {"LOG_LEVEL", c.log_level},
      {"LOG_FORMAT", c.log_format},
      {"WORKER_THREADS", std::to_string(c.worker_threads)},
      {"WRITE_OPS_PER_COMMAND",
       c.write_ops_per_command == 0 ? "by server" : std::to_string(c.write_ops_per_command)},
      {"READ_USERS_PER_QUERY", std::to_string(c.read_users_per_query)},
  };
}

EngineMonitoring::EngineMonitoring(EngineEnv& env, bool with_http) : env_(env) {
  const Config& c = env.config;
  MonitorOptions o;
  o.version = kVersion;
  o.interval_seconds = c.batch_interval_seconds;
  o.metrics_directory = c.metrics_directory;
  o.dlq_directory = c.dlq_directory;
  o.config = ConfigSummary(c);
  monitor_ = std::make_unique<Monitor>(std::move(o), NowMillis());
  // Load() only reads; an unreadable checkpoint is reported by the first batch.
  if (auto state = env.checkpoint->Load(); state.ok()) monitor_->SetWatermark(state->watermark);
  WriteTextfile();
  if (with_http && c.health_check_port != 0) {
    http_ = std::make_unique<HttpServer>(*monitor_);
    if (Status st = http_->Start(c.health_check_host, c.health_check_port); st.ok()) {
      spdlog::info("HTTP endpoints on http://{}:{}/ (status page, /health, /metrics)",
                   c.health_check_host, http_->port());
    } else {
      spdlog::warn("{}; the engine runs on without HTTP endpoints", st.message());
      http_.reset();
    }
  }
}

EngineMonitoring::~EngineMonitoring() {
  if (http_) http_->Stop();
}

void EngineMonitoring::OnBatch(const BatchReport& r, double next_interval) {
  monitor_->SetDeadLetterTotals(env_.dead_letters->counts_by_reason());
  monitor_->OnBatch(r, next_interval,
                    r.failed && env_.engine->last_error_code() == StatusCode::kUnavailable);
  WriteTextfile();
}

void EngineMonitoring::WriteTextfile() {
  Status st = monitor_->WriteTextfile(NowMillis());
  if (!st.ok() && !textfile_failing_)
    spdlog::warn("metrics textfile not written: {} (batches go on; warned once until it works)",
                 st.message());
  else if (st.ok() && textfile_failing_)
    spdlog::info("metrics textfile {} written again", monitor_->textfile_path());
  textfile_failing_ = !st.ok();
}

}  // namespace ha::cli
