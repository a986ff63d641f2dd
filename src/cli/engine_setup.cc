#include "cli/engine_setup.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
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

void AddCommonFlags(CLI::App& app, CommonFlags* common, bool with_now) {
  AddConfigFlags(app, ConfigScope::kFull, &common->flags);
  if (with_now)
    app.add_option("--now", common->now_text,
                   "freeze the batch clock at this instant (ISO-8601; tests and backfills)");
}

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
  o.recompute_users_per_batch = static_cast<size_t>(c.recompute_users_per_batch);
  return o;
}

Result<std::unique_ptr<EngineEnv>> SetUpEngine(CommonFlags& common) {
  auto config = LoadConfig(common.flags, ConfigScope::kFull, /*require_mongo=*/true);
  if (!config.ok()) return config.status();
  if (!common.now_text.empty()) {
    auto now = ParseInstant(common.now_text);
    if (!now.ok()) return InvalidArgument("--now: " + now.status().message());
    common.now = *now;
  }
  auto env = std::make_unique<EngineEnv>();
  env->config = std::move(config).value();
  SetUpLogging(env->config);
  auto store = MongoStore::Open(StoreOptionsFrom(env->config));
  if (!store.ok()) return store.status();
  env->store = std::move(store).value();
  env->checkpoint = std::make_unique<CheckpointStore>(env->config.checkpoint_location);
  env->dead_letters = std::make_unique<DeadLetterLog>(env->config.dlq_directory);
  if (Status st = env->dead_letters->Open(NowMillis()); !st.ok())
    return InvalidArgument(st.message());
  env->batch_log = std::make_unique<BatchLog>(env->config.log_directory);
  if (Status st = env->batch_log->Open(); !st.ok()) return InvalidArgument(st.message());
  env->engine = std::make_unique<Engine>(*env->store, *env->checkpoint, *env->dead_letters,
                                         EngineOptionsFrom(env->config));
  return env;
}

Result<std::unique_ptr<EventPublisher>> StartEvents(EngineEnv& env, MetricsRegistry* metrics) {
  EventPublisherOptions eo;
  eo.backend_api_url = env.config.backend_api_url;
  eo.service_token = env.config.service_token;
  if (metrics) eo.on_result = [metrics](std::string_view r) { metrics->RecordEvent(r); };
  auto publisher = EventPublisher::Create(std::move(eo));
  if (!publisher.ok()) return publisher.status();
  if (*publisher) {
    env.engine->SetChangeListener(publisher->get());
    spdlog::info("backend events: on, to {}", (*publisher)->endpoint_for_logs());
  }
  return std::move(publisher).value();
}

int UsageExit(CLI::App& app, const CLI::ParseError& error) { return app.exit(error) == 0 ? 0 : 2; }

int ReportSetupError(const Status& status) {
  std::fprintf(stderr, "health-analytics: %s\n", status.message().c_str());
  return 2;
}

bool CreateIndexesLogged(AdminStore& store) {
  std::vector<std::string> warnings;
  Status st = store.CreateIndexes(&warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (!st.ok()) {
    spdlog::warn("indexes not checked: {}", st.message());
    return false;
  }
  return true;
}

}  // namespace ha::cli
