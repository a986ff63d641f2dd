// What every database command builds before it runs: configuration, logging, the store, the
// checkpoint, the dead-letter and batch logs, and the engine.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "checkpoint/checkpoint.h"
#include "cli/config.h"
#include "core/status.h"
#include "engine/engine.h"
#include "events/events.h"
#include "observe/batch_log.h"
#include "observe/dead_letters.h"
#include "observe/metrics.h"
#include "store/store.h"

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace ha::cli {

struct CommonFlags {
  FlagValues flags;
  std::string now_text;        // --now as given
  std::optional<Instant> now;  // parsed by SetUpEngine
};

// Adds the configuration flags (and --now when `with_now`).
void AddCommonFlags(CLI::App& app, CommonFlags* common, bool with_now);

// Sets up spdlog from LOG_LEVEL and LOG_FORMAT (console lines in UTC, or one JSON object per
// line).
void SetUpLogging(const Config& config);

struct EngineEnv {
  Config config;
  std::unique_ptr<MongoStore> store;
  std::unique_ptr<CheckpointStore> checkpoint;
  std::unique_ptr<DeadLetterLog> dead_letters;
  std::unique_ptr<BatchLog> batch_log;
  std::unique_ptr<Engine> engine;
};

// Loads and validates the configuration (MONGO_* required), parses --now, sets up logging and
// builds everything. kInvalidArgument for a configuration problem (exit code 2).
Result<std::unique_ptr<EngineEnv>> SetUpEngine(CommonFlags& common);

// Prints CLI11's message for a parse error and returns the exit code: 0 for --help, 2 for a
// usage error (an unknown flag, a missing or malformed value).
int UsageExit(CLI::App& app, const CLI::ParseError& error);

// Prints a setup error and returns its exit code (2).
int ReportSetupError(const Status& status);

// Creates the recommended indexes and logs each warning. False when the server is unreachable.
bool CreateIndexesLogged(AdminStore& store);

// Backend events (analytics spec section 5) when BACKEND_API_URL and SERVICE_TOKEN are both set:
// a publisher listening to the engine, counting outcomes in `metrics` (may be null). Returns
// nullptr when events are off; kInvalidArgument for a malformed URL or token (exit code 2).
// The publisher must outlive the engine's batches; call Shutdown on it before exit.
Result<std::unique_ptr<EventPublisher>> StartEvents(EngineEnv& env, MetricsRegistry* metrics);

// The store's options from the configuration.
StoreOptions StoreOptionsFrom(const Config& config);

// The engine's options from the configuration.
EngineOptions EngineOptionsFrom(const Config& config);

}  // namespace ha::cli
