#include "cli/monitoring.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "cli/engine_setup.h"
#include "core/version.h"
#include "events/events_body.h"

namespace ha::cli {
namespace {

// The secrets a database error message could repeat: the MONGO_URI password (as written and
// percent-decoded) and SERVICE_TOKEN.
std::vector<std::string> Secrets(const Config& c) {
  std::vector<std::string> out;
  if (!c.service_token.empty()) out.push_back(c.service_token);
  const std::string& uri = c.mongo_uri;
  const size_t scheme = uri.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = uri.rfind('@', std::min(uri.find_first_of("/?", start), uri.size()));
    const size_t colon = uri.find(':', start);
    if (at != std::string::npos && at >= start && colon < at && at > colon + 1) {
      const std::string raw = uri.substr(colon + 1, at - colon - 1);
      out.push_back(raw);
      std::string decoded;
      for (size_t i = 0; i < raw.size(); ++i) {
        auto hex = [&](size_t k) { return std::isxdigit(static_cast<unsigned char>(raw[k])); };
        if (raw[i] == '%' && i + 2 < raw.size() && hex(i + 1) && hex(i + 2)) {
          decoded += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          decoded += raw[i];
        }
      }
      if (decoded != raw) out.push_back(decoded);
    }
  }
  return out;
}

std::string Masked(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets)
    for (size_t pos = 0; (pos = text.find(s, pos)) != std::string::npos; pos += 3)
      text.replace(pos, s.size(), "***");
  return text;
}

}  // namespace

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
      {"IO_CONCURRENCY", std::to_string(c.io_concurrency)},
  };
}

UserAnalyticsLookup UserAnalyticsFromDatabase(const Config& c) {
  StoreOptions options = StoreOptionsFrom(c);
  options.server_selection_timeout_ms = 5000;  // a page waits seconds for its 503, not 30 s
  const std::vector<std::string> secrets = Secrets(c);
  auto opened = MongoStore::Open(options);
  if (!opened.ok()) {
    const Status st(opened.status().code(), Masked(opened.status().message(), secrets));
    return [st](const ObjectId&) -> Result<std::vector<std::string>> { return st; };
  }
  auto store = std::shared_ptr<MongoStore>(std::move(opened).value());
  auto mu = std::make_shared<std::mutex>();
  return [store, mu, secrets](const ObjectId& user) -> Result<std::vector<std::string>> {
    std::lock_guard lock(*mu);
    auto docs = store->ReadUserAnalytics(user);
    if (!docs.ok()) return Status(docs.status().code(), Masked(docs.status().message(), secrets));
    std::vector<std::string> out;
    out.reserve(docs->size());
    for (const BsonDoc& d : *docs) out.push_back(PlainJson(d.get()));
    return out;
  };
}

EngineMonitoring::EngineMonitoring(EngineComponents& components, bool with_http)
    : components_(components) {
  const Config& c = components.config;
  MonitorOptions o;
  o.version = kVersion;
  o.interval_seconds = c.batch_interval_seconds;
  o.metrics_directory = c.metrics_directory;
  o.dlq_directory = c.dlq_directory;
  o.config = ConfigSummary(c);
  monitor_ = std::make_unique<Monitor>(std::move(o), NowMillis());
  // Load() only reads; an unreadable checkpoint is reported by the first batch.
  if (auto state = components.checkpoint->Load(); state.ok())
    monitor_->SetWatermark(state->watermark);
  WriteTextfile();
  if (with_http && c.health_check_port != 0) {
    http_ = std::make_unique<HttpServer>(*monitor_);
    http_->SetUserAnalyticsLookup(UserAnalyticsFromDatabase(c));
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
  monitor_->SetDeadLetterTotals(components_.dead_letters->counts_by_reason());
  monitor_->OnBatch(r, next_interval,
                    r.failed && components_.engine->last_error_code() == StatusCode::kUnavailable);
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
