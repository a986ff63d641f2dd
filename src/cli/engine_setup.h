// What the engine commands build before they run (the runner, cli/runner.h, calls these):
// logging, the store, the checkpoint, the dead-letter and batch logs, the engine and the events.
#pragma once

#include <memory>
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

namespace ha::cli {

// Sets up spdlog from LOG_LEVEL and LOG_FORMAT (console lines in UTC, or one JSON object per
// line).
void SetUpLogging(const Config& config);

// Everything the engine runs with, built from one validated configuration. The engine borrows
// the others, so it is declared last (destroyed first).
struct EngineComponents {
  Config config;
  std::unique_ptr<MongoStore> store;
  std::unique_ptr<CheckpointStore> checkpoint;
  std::unique_ptr<DeadLetterLog> dead_letters;
  std::unique_ptr<BatchLog> batch_log;
  std::unique_ptr<Engine> engine;
};

// Builds the components from `config` (MONGO_* set). kInvalidArgument when the driver refuses
// MONGO_URI or DLQ_DIRECTORY or LOG_DIRECTORY cannot be created (exit code 2). Nothing connects
// yet: the store selects a server on first use.
Result<std::unique_ptr<EngineComponents>> BuildEngineComponents(const Config& config);

// Creates the recommended indexes and logs each warning. On failure returns the store's status
// (kUnavailable when no server could be selected); the warnings are logged either way.
Status CreateIndexesLogged(AdminStore& store);

// Backend events (analytics spec section 5) when BACKEND_API_URL and SERVICE_TOKEN are both set:
// a publisher listening to the engine, counting outcomes in `metrics` (may be null). Returns
// nullptr when events are off; kInvalidArgument for a malformed URL or token (exit code 2).
// The publisher must outlive the engine's batches; call Shutdown on it before exit.
Result<std::unique_ptr<EventPublisher>> StartEvents(EngineComponents& components,
                                                    MetricsRegistry* metrics);

// The store's options from the configuration.
StoreOptions StoreOptionsFrom(const Config& config);

// The engine's options from the configuration.
EngineOptions EngineOptionsFrom(const Config& config);

}  // namespace ha::cli
