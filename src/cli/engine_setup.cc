#include "cli/engine_setup.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

namespace ha::cli {
namespace {

// LOG_FORMAT=json: one JSON object per line on stdout.
class JsonStdoutSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    nlohmann::ordered_json j;
    j["time"] = FormatInstant(ms);
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["message"] = std::string(msg.payload.data(), msg.payload.size());
    const std::string line =
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

}  // namespace

void SetUpLogging(const Config& config) {
  std::shared_ptr<spdlog::logger> logger;
  if (config.log_format == "json") {
    logger =
        std::make_shared<spdlog::logger>("health-analytics", std::make_shared<JsonStdoutSink>());
  } else {
    logger = std::make_shared<spdlog::logger>("health-analytics",
                                              std::make_shared<spdlog::sinks::stdout_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

StoreOptions StoreOptionsFrom(const Config& c) {
  StoreOptions so;
  so.uri = c.mongo_uri;
  so.database = c.mongo_db_name;
  so.source_collection = c.source_collection;
  so.analytics_collection = c.analytics_collection;
  so.users_collection = c.users_collection;
  so.write_ops_per_command = c.write_ops_per_command;
  so.write_commands_in_flight = c.io_concurrency;
  return so;
}

EngineOptions EngineOptionsFrom(const Config& c) {
  EngineOptions o;
  o.analytics = c.analytics;
  o.initial_lookback_days = c.initial_lookback_days;
  o.late_data_grace_ms = static_cast<int64_t>(c.late_data_grace_seconds * 1000);
  o.max_batch_docs = c.max_batch_docs;
  o.result_ttl_days = c.result_ttl_days;
  o.worker_threads = c.worker_threads;
  o.reconcile_interval_ms = static_cast<int64_t>(c.reconcile_interval_hours * 3'600'000);
  o.users_per_chunk = static_cast<size_t>(c.users_per_chunk);
  o.read_users_per_query = static_cast<size_t>(c.read_users_per_query);
  o.io_concurrency = c.io_concurrency;
  o.recompute_users_per_batch = static_cast<size_t>(c.recompute_users_per_batch);
  return o;
}

Result<std::unique_ptr<EngineComponents>> BuildEngineComponents(const Config& config) {
  auto c = std::make_unique<EngineComponents>();
  c->config = config;
  auto store = MongoStore::Open(StoreOptionsFrom(c->config));
  if (!store.ok()) return store.status();
  c->store = std::move(store).value();
  c->checkpoint = std::make_unique<CheckpointStore>(c->config.checkpoint_location);
  c->dead_letters = std::make_unique<DeadLetterLog>(c->config.dlq_directory);
  // An unusable folder is a configuration error (exit code 2), whatever the file system said.
  if (Status st = c->dead_letters->Open(NowMillis()); !st.ok())
    return InvalidArgument(st.message());
  c->batch_log = std::make_unique<BatchLog>(c->config.log_directory);
  if (Status st = c->batch_log->Open(); !st.ok()) return InvalidArgument(st.message());
  c->engine = std::make_unique<Engine>(*c->store, *c->checkpoint, *c->dead_letters,
                                       EngineOptionsFrom(c->config));
  return c;
}

Result<std::unique_ptr<EventPublisher>> StartEvents(EngineComponents& components,
                                                    MetricsRegistry* metrics) {
  EventPublisherOptions eo;
  eo.backend_api_url = components.config.backend_api_url;
  eo.service_token = components.config.service_token;
  if (metrics) eo.on_result = [metrics](std::string_view r) { metrics->RecordEvent(r); };
  auto publisher = EventPublisher::Create(std::move(eo));
  if (!publisher.ok()) return publisher.status();
  if (*publisher) {
    components.engine->SetChangeListener(publisher->get());
    spdlog::info("backend events: on, to {}", (*publisher)->endpoint_for_logs());
  }
  return std::move(publisher).value();
}

Status CreateIndexesLogged(AdminStore& store) {
  std::vector<std::string> warnings;
  Status st = store.CreateIndexes(&warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (!st.ok()) spdlog::warn("indexes not checked: {}", st.message());
  return st;
}

}  // namespace ha::cli
