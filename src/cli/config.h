// Configuration: every variable of the engine spec's table (section 4), from command-line flags,
// then the environment, then a `.env` file in the working directory, validated.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analytics/kernel.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace ha::cli {

// Every knob, with its default next to it.
struct Config {
  std::string mongo_uri;                            // MONGO_URI, required by database commands
  std::string mongo_db_name;                        // MONGO_DB_NAME, required by database commands
  std::string source_collection = "healthmetrics";  // SOURCE_COLLECTION
  std::string analytics_collection = "analytics";   // ANALYTICS_COLLECTION
  std::string users_collection = "users";           // USERS_COLLECTION
  double batch_interval_seconds = 60;               // BATCH_INTERVAL_SECONDS, > 0
  std::string checkpoint_location = "./spark-checkpoints";  // CHECKPOINT_LOCATION
  int initial_lookback_days = 30;                           // INITIAL_LOOKBACK_DAYS, >= 0
  double late_data_grace_seconds = 10;                      // LATE_DATA_GRACE_SECONDS, >= 0
  int max_batch_docs = 100000;                              // MAX_BATCH_DOCS, >= 1
  int result_ttl_days = 90;                                 // RESULT_TTL_DAYS, >= 1
  AnalyticsOptions analytics;                   // HISTORY_DAYS, ZERO_IS_MISSING, thresholds
  std::string backend_api_url;                  // BACKEND_API_URL (events only when both set)
  std::string service_token;                    // SERVICE_TOKEN (secret)
  std::string log_directory = "./logs";         // LOG_DIRECTORY
  std::string metrics_directory = "./metrics";  // METRICS_DIRECTORY
  std::string dlq_directory = "./dlq";          // DLQ_DIRECTORY
  std::string health_check_host = "127.0.0.1";  // HEALTH_CHECK_HOST
  int health_check_port = 5001;                 // HEALTH_CHECK_PORT, 0 disables
  std::string log_level = "info";               // LOG_LEVEL: trace|debug|info|warn|error
  std::string log_format = "text";              // LOG_FORMAT: text|json
  int worker_threads = 0;                       // WORKER_THREADS, 0 = number of cores
  bool adaptive_polling = false;                // ADAPTIVE_POLLING
  double min_batch_interval_seconds = 1;        // MIN_BATCH_INTERVAL_SECONDS, > 0
  double reconcile_interval_hours = 24;         // RECONCILE_INTERVAL_HOURS, 0 disables
  int users_per_chunk = 1000;            // USERS_PER_CHUNK: users read/computed/written together
  int recompute_users_per_batch = 5000;  // RECOMPUTE_USERS_PER_BATCH: `run`'s slice of a full pass
  int write_ops_per_command = 0;         // WRITE_OPS_PER_COMMAND, 0 = by server (10 on FerretDB v1)
  int io_concurrency = 2;          // IO_CONCURRENCY: units of READ_USERS_PER_QUERY users in flight
  int read_users_per_query = 128;  // READ_USERS_PER_QUERY: users per unit (one `$in` per read)
};

// Which variables a command reads.
enum class ConfigScope {
  kAnalyticsOnly,  // compute: HISTORY_DAYS, ZERO_IS_MISSING, the thresholds, RESULT_TTL_DAYS
  kFull,           // database commands: everything
};

// Flag values given on the command line, keyed by variable name (MAX_BATCH_DOCS).
using FlagValues = std::map<std::string, std::string>;

// Adds one flag per variable of `scope` (`--batch-interval-seconds` for BATCH_INTERVAL_SECONDS)
// to `app`; values given land in `*flags`.
void AddConfigFlags(CLI::App& app, ConfigScope scope, FlagValues* flags);

// Resolves every variable of `scope`: flag, else environment, else `.env` in the working
// directory, else the default. Validates each; the first problem is returned as InvalidArgument
// with a message naming the variable, the value and what is expected (never echoing secrets).
// With `require_mongo`, a missing MONGO_URI or MONGO_DB_NAME is an error.
Result<Config> LoadConfig(const FlagValues& flags, ConfigScope scope, bool require_mongo);

// As LoadConfig, but from `values` alone (no environment, no `.env`): a variable not in
// `values` keeps its default. For callers that take the options as arguments (the Python
// binding). InvalidArgument for a value that fails validation, or for a name that is not a
// variable of `scope`.
Result<Config> ConfigFromValues(const FlagValues& values, ConfigScope scope);

// MONGO_URI with any password replaced by "***", for logs and `doctor`.
std::string RedactUri(const std::string& uri);

}  // namespace ha::cli
