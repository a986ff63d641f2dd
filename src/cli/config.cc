#include "cli/config.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

namespace ha::cli {
namespace {

// One variable: its name, whether compute reads it, whether it is secret, and how it is applied.
struct Setting {
  const char* name;
  bool analytics;  // part of ConfigScope::kAnalyticsOnly
  bool secret;
  const char* help;
  std::function<Status(const std::string& value, Config& c)> apply;
};

std::string FlagName(std::string_view var) {
  std::string flag = "--";
  for (char ch : var) flag += ch == '_' ? '-' : static_cast<char>(std::tolower(ch));
  return flag;
}

std::string Shown(const Setting& s, const std::string& value) {
  return s.secret ? std::string("(hidden)") : "'" + value + "'";
}

Status Bad(const Setting& s, const std::string& value, std::string_view expected) {
  return InvalidArgument(
      fmt::format("{} = {} is invalid: expected {}", s.name, Shown(s, value), expected));
}

std::optional<double> ParseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<long long> ParseInteger(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string text) {
  for (char& ch : text) ch = static_cast<char>(std::tolower(ch));
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return std::nullopt;
}

// Setting factories: each validates and stores into one Config field.
template <typename F>
Setting Str(const char* name, bool analytics, const char* help, F field, bool secret = false,
            bool non_empty = false) {
  return {name, analytics, secret, help, [field, non_empty, name](const std::string& v, Config& c) {
            if (non_empty && v.empty())
              return InvalidArgument(fmt::format("{} is empty: expected a value", name));
            c.*field = v;
            return Status::Ok();
          }};
}

Setting Int(const char* name, bool analytics, const char* help, std::function<int&(Config&)> field,
            long long min, long long max) {
  Setting s{name, analytics, false, help, nullptr};
  s.apply = [s, field, min, max](const std::string& v, Config& c) {
    auto n = ParseInteger(v);
    if (!n || *n < min || *n > max)
      return Bad(s, v, fmt::format("an integer from {} to {}", min, max));
    field(c) = static_cast<int>(*n);
    return Status::Ok();
  };
  return s;
}

// A number that must be >= min (or > min when `exclusive`).
Setting Num(const char* name, bool analytics, const char* help,
            std::function<double&(Config&)> field, double min, bool exclusive) {
  Setting s{name, analytics, false, help, nullptr};
  s.apply = [s, field, min, exclusive](const std::string& v, Config& c) {
    auto n = ParseNumber(v);
    if (!n || (exclusive ? *n <= min : *n < min))
      return Bad(s, v, fmt::format("a number {} {}", exclusive ? ">" : ">=", min));
    field(c) = *n;
    return Status::Ok();
  };
  return s;
}

Setting Bool(const char* name, bool analytics, const char* help,
             std::function<bool&(Config&)> field) {
  Setting s{name, analytics, false, help, nullptr};
  s.apply = [s, field](const std::string& v, Config& c) {
    auto b = ParseBool(v);
    if (!b) return Bad(s, v, "true/false, 1/0 or yes/no");
    field(c) = *b;
    return Status::Ok();
  };
  return s;
}

Setting OneOf(const char* name, const char* help, std::string Config::*field,
              std::vector<std::string> allowed) {
  Setting s{name, false, false, help, nullptr};
  s.apply = [s, field, allowed](const std::string& v, Config& c) {
    std::string lower = v;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
    for (const auto& a : allowed)
      if (a == lower) {
        c.*field = lower;
        return Status::Ok();
      }
    return Bad(s, v, fmt::format("one of {}", fmt::join(allowed, ", ")));
  };
  return s;
}

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings = [] {
    std::vector<Setting> v;
    v.push_back(Str("MONGO_URI", false, "MongoDB connection URI (required)", &Config::mongo_uri,
                    /*secret=*/true));
    v.push_back(Str("MONGO_DB_NAME", false, "database name (required)", &Config::mongo_db_name));
    v.push_back(Str("SOURCE_COLLECTION", false, "daily metrics collection (healthmetrics)",
                    &Config::source_collection, false, true));
    v.push_back(Str("ANALYTICS_COLLECTION", false, "output collection (analytics)",
                    &Config::analytics_collection, false, true));
    v.push_back(Str("USERS_COLLECTION", false, "users collection with goals (users)",
                    &Config::users_collection, false, true));
    v.push_back(Num(
        "BATCH_INTERVAL_SECONDS", false, "polling interval in seconds (60)",
        [](Config& c) -> double& { return c.batch_interval_seconds; }, 0, true));
    v.push_back(Str("CHECKPOINT_LOCATION", false, "checkpoint folder (./spark-checkpoints)",
                    &Config::checkpoint_location, false, true));
    v.push_back(Int(
        "INITIAL_LOOKBACK_DAYS", false, "first-run lookback in days (30)",
        [](Config& c) -> int& { return c.initial_lookback_days; }, 0, 36500));
    v.push_back(Num(
        "LATE_DATA_GRACE_SECONDS", false, "late-write grace in seconds (10)",
        [](Config& c) -> double& { return c.late_data_grace_seconds; }, 0, false));
    v.push_back(Int(
        "MAX_BATCH_DOCS", false, "changed documents per batch at most (100000)",
        [](Config& c) -> int& { return c.max_batch_docs; }, 1, 100'000'000));
    v.push_back(Int(
        "HISTORY_DAYS", true, "horizon in days (180)",
        [](Config& c) -> int& { return c.analytics.history_days; }, 1, 36500));
    v.push_back(Int(
        "RESULT_TTL_DAYS", true, "days until analytics documents expire (90)",
        [](Config& c) -> int& { return c.result_ttl_days; }, 1, 36500));
    v.push_back(Bool("ZERO_IS_MISSING", true, "0 in activity metrics means no data (true)",
                     [](Config& c) -> bool& { return c.analytics.zero_is_missing; }));
    v.push_back(Num(
        "TREND_THRESHOLD_PERCENT", true, "trend threshold T in percent (5)",
        [](Config& c) -> double& { return c.analytics.trend_threshold_percent; }, 0, false));
    v.push_back(Num(
        "ANOMALY_Z_THRESHOLD", true, "anomaly z-score threshold Z (2.0)",
        [](Config& c) -> double& { return c.analytics.anomaly_z_threshold; }, 0, true));
    v.push_back(Int(
        "ANOMALY_MIN_BASELINE", true, "minimum anomaly baseline size (5)",
        [](Config& c) -> int& { return c.analytics.anomaly_min_baseline; }, 2, 36500));
    v.push_back(Num(
        "ANOMALY_MIN_DEVIATION_PERCENT", true, "minimum deviation in percent for an anomaly (5)",
        [](Config& c) -> double& { return c.analytics.anomaly_min_deviation_percent; }, 0, false));
    v.push_back(Str("BACKEND_API_URL", false, "backend base URL for events (unset)",
                    &Config::backend_api_url));
    v.push_back(Str("SERVICE_TOKEN", false, "bearer token for events (unset)",
                    &Config::service_token, /*secret=*/true));
    v.push_back(Str("LOG_DIRECTORY", false, "batch logs folder (./logs)", &Config::log_directory,
                    false, true));
    v.push_back(Str("METRICS_DIRECTORY", false, "Prometheus textfile folder (./metrics)",
                    &Config::metrics_directory, false, true));
    v.push_back(Str("DLQ_DIRECTORY", false, "dead-letter folder (./dlq)", &Config::dlq_directory,
                    false, true));
    v.push_back(Str("HEALTH_CHECK_HOST", false, "HTTP bind address (127.0.0.1)",
                    &Config::health_check_host, false, true));
    v.push_back(Int(
        "HEALTH_CHECK_PORT", false, "HTTP port, 0 disables (5001)",
        [](Config& c) -> int& { return c.health_check_port; }, 0, 65535));
    v.push_back(OneOf("LOG_LEVEL", "trace, debug, info, warn or error (info)", &Config::log_level,
                      {"trace", "debug", "info", "warn", "error"}));
    v.push_back(OneOf("LOG_FORMAT", "text or json (text)", &Config::log_format, {"text", "json"}));
    v.push_back(Int(
        "WORKER_THREADS", false, "threads computing users (number of cores)",
        [](Config& c) -> int& { return c.worker_threads; }, 1, 1024));
    v.push_back(Bool("ADAPTIVE_POLLING", false, "shorten the interval while busy (false)",
                     [](Config& c) -> bool& { return c.adaptive_polling; }));
    v.push_back(Num(
        "MIN_BATCH_INTERVAL_SECONDS", false, "shortest adaptive interval (1)",
        [](Config& c) -> double& { return c.min_batch_interval_seconds; }, 0, true));
    v.push_back(Num(
        "RECONCILE_INTERVAL_HOURS", false,
        "full recompute every N hours besides the daily one, 0 disables (24)",
        [](Config& c) -> double& { return c.reconcile_interval_hours; }, 0, false));
    v.push_back(Int(
        "USERS_PER_CHUNK", false, "users read, computed and written together (1000)",
        [](Config& c) -> int& { return c.users_per_chunk; }, 1, 1'000'000));
    v.push_back(Int(
        "RECOMPUTE_USERS_PER_BATCH", false,
        "users of a full recompute pass per batch of `run` (5000)",
        [](Config& c) -> int& { return c.recompute_users_per_batch; }, 1, 100'000'000));
    v.push_back(Int(
        "WRITE_OPS_PER_COMMAND", false,
        "updates and deletes per bulk write command, 0 = by server: 10 on FerretDB v1, 1000 "
        "elsewhere (0)",
        [](Config& c) -> int& { return c.write_ops_per_command; }, 0, 100'000));
    v.push_back(Int(
        "READ_USERS_PER_QUERY", false,
        "users per unit of work: one query each for their goals, history and analytics (128)",
        [](Config& c) -> int& { return c.read_users_per_query; }, 1, 1'000'000));
    v.push_back(Int(
        "IO_CONCURRENCY", false,
        "units of READ_USERS_PER_QUERY users read, computed and written at once, each on its own "
        "connection (2)",
        [](Config& c) -> int& { return c.io_concurrency; }, 1, 64));
    return v;
  }();
  return kSettings;
}

bool InScope(const Setting& s, ConfigScope scope) {
  return scope == ConfigScope::kFull || s.analytics;
}

std::string Unquote(std::string v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  size_t b = 0;
  while (b < v.size() && std::isspace(static_cast<unsigned char>(v[b]))) ++b;
  v = v.substr(b);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    return v.substr(1, v.size() - 2);
  // An unquoted value ends at " #" (a trailing comment).
  if (auto hash = v.find(" #"); hash != std::string::npos) {
    v = v.substr(0, hash);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  }
  return v;
}

// `.env` in the working directory: KEY=value lines, optional `export `, quotes, # comments.
std::map<std::string, std::string> ReadDotEnv() {
  std::map<std::string, std::string> out;
  std::ifstream in(".env");
  std::string line;
  while (std::getline(in, line)) {
    size_t b = 0;
    while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
    std::string_view l(line);
    l.remove_prefix(b);
    if (l.empty() || l.front() == '#') continue;
    if (l.starts_with("export ")) l.remove_prefix(7);
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(l.substr(0, eq));
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    out[key] = Unquote(std::string(l.substr(eq + 1)));
  }
  return out;
}

}  // namespace

void AddConfigFlags(CLI::App& app, ConfigScope scope, FlagValues* flags) {
  for (const Setting& s : Settings()) {
    if (!InScope(s, scope)) continue;
    const std::string name = s.name;
    app.add_option_function<std::string>(
           FlagName(name), [flags, name](const std::string& v) { (*flags)[name] = v; },
           fmt::format("{} (env {})", s.help, name))
        ->type_name("VALUE");
  }
}

Result<Config> LoadConfig(const FlagValues& flags, ConfigScope scope, bool require_mongo) {
  Config config;
  const auto dotenv = ReadDotEnv();
  for (const Setting& s : Settings()) {
    if (!InScope(s, scope)) continue;
    std::optional<std::string> value;
    if (auto f = flags.find(s.name); f != flags.end()) {
      value = f->second;
    } else if (const char* e = std::getenv(s.name)) {
      value = e;
    } else if (auto d = dotenv.find(s.name); d != dotenv.end()) {
      value = d->second;
    }
    if (!value) continue;
    if (Status st = s.apply(*value, config); !st.ok()) return st;
  }
  if (require_mongo) {
    if (config.mongo_uri.empty())
      return InvalidArgument(
          "MONGO_URI is not set: expected a MongoDB connection string such as "
          "mongodb://localhost:27017 (environment, .env or --mongo-uri)");
    if (config.mongo_db_name.empty())
      return InvalidArgument(
          "MONGO_DB_NAME is not set: expected the database holding the healthmetrics "
          "collection (environment, .env or --mongo-db-name)");
  }
  if (config.worker_threads == 0)
    config.worker_threads = std::max(1u, std::thread::hardware_concurrency());
  if (config.adaptive_polling && config.min_batch_interval_seconds > config.batch_interval_seconds)
    return InvalidArgument(fmt::format(
        "MIN_BATCH_INTERVAL_SECONDS = {} is invalid: expected at most BATCH_INTERVAL_SECONDS ({})",
        config.min_batch_interval_seconds, config.batch_interval_seconds));
  return config;
}

Result<Config> ConfigFromValues(const FlagValues& values, ConfigScope scope) {
  Config config;
  size_t used = 0;
  for (const Setting& s : Settings()) {
    if (!InScope(s, scope)) continue;
    auto v = values.find(s.name);
    if (v == values.end()) continue;
    ++used;
    if (Status st = s.apply(v->second, config); !st.ok()) return st;
  }
  if (used != values.size())
    for (const auto& entry : values) {
      const std::string& name = entry.first;  // not a structured binding: lambdas capture it
      if (std::none_of(Settings().begin(), Settings().end(),
                       [&](const Setting& s) { return InScope(s, scope) && name == s.name; }))
        return InvalidArgument(fmt::format("{} is not an option here", name));
    }
  if (config.worker_threads == 0)
    config.worker_threads = std::max(1u, std::thread::hardware_concurrency());
  return config;
}

std::string RedactUri(const std::string& uri) {
  // mongodb://user:password@host/db?opts -> mongodb://user:***@host/db?opts; a password given
  // as a URI option (tlsCertificateKeyFilePassword=...) is masked the same way.
  std::string out = uri;
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t authority_end = std::min(out.find_first_of("/?", start), out.size());
    const size_t at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)
        out = out.substr(0, colon + 1) + "***" + out.substr(at);
    }
  }
  for (size_t pos = 0; (pos = out.find("assword=", pos)) != std::string::npos;) {
    const size_t value = pos + 8;
    const size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
    pos = value + 3;
  }
  return out;
}

}  // namespace ha::cli
