// health_analytics._native: the offline `compute` pipeline (ha::cli::OfflineCompute, the same
// code as `health-analytics compute`) for Python. The Python package (health_analytics/
// _compute.py) is the public surface; this module stays thin: it validates the options with
// the CLI's own rules, feeds lines or BSON documents, and hands back the CLI's JSON lines.
#include <bson/bson.h>
#include <fmt/format.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cli/compute.h"
#include "cli/config.h"
#include "core/time.h"

namespace nb = nanobind;

// The engine's batch steps for the Spark runner (steps.cc).
void BindSteps(nb::module_& m);

namespace {

// One run of the pipeline. Python calls add_* for every input document, then finish() once.
class Compute {
 public:
  // `now` is the clock in milliseconds since the epoch; `options` maps the CLI's variable names
  // (HISTORY_DAYS, ...) to their values as text. ValueError when one fails validation.
  Compute(int64_t now, const std::map<std::string, std::string>& options) {
    auto config = ha::cli::ConfigFromValues(options, ha::cli::ConfigScope::kAnalyticsOnly);
    if (!config.ok()) throw nb::value_error(config.status().message().c_str());
    ha::cli::ComputeOptions o;
    o.analytics = config->analytics;
    o.result_ttl_days = config->result_ttl_days;
    o.now = now;
    job_ = std::make_unique<ha::cli::OfflineCompute>(o, &dead_letters_);
  }

  // One users document as Extended JSON. ValueError when it is not valid Extended JSON.
  void AddUserJson(std::string_view line) { Check(job().AddUserLine(line)); }

  // One healthmetrics document as Extended JSON. ValueError when it is not valid Extended JSON.
  void AddHealthMetricJson(std::string_view line) { Check(job().AddHealthMetricLine(line)); }

  // The same, from one BSON document (its bytes). ValueError when they are not one valid BSON
  // document.
  void AddUserBson(nb::bytes data) { Check(job().AddUserLine(ToJson(data))); }
  void AddHealthMetricBson(nb::bytes data) { Check(job().AddHealthMetricLine(ToJson(data))); }

  // Computes every user; returns the analytics documents as Extended JSON lines, ordered as the
  // CLI orders them. Call once; the object is spent afterwards.
  std::string Finish() {
    std::string out;
    {
      nb::gil_scoped_release release;
      job().Finish([&out](std::string_view block) { out.append(block); });
    }
    finished_ = true;
    return out;
  }

  // The dead letters so far, as JSON lines (the CLI's --dead-letters file).
  const std::string& DeadLetters() const { return dead_letters_; }

  std::map<std::string, int64_t> Counts() const {
    const ha::cli::ComputeCounts& c = job_->counts();
    return {{"documents", c.documents},       {"skipped", c.skipped}, {"duplicates", c.duplicates},
            {"dead_letters", c.dead_letters}, {"users", c.users},     {"analytics", c.analytics}};
  }

 private:
  ha::cli::OfflineCompute& job() {
    if (finished_) throw std::logic_error("finish() was already called on this Compute");
    return *job_;
  }

  static void Check(const ha::Status& s) {
    if (!s.ok()) throw nb::value_error(s.message().c_str());
  }

  // BSON -> canonical Extended JSON, which keeps every BSON type (int32, int64, double, date)
  // for the Extended JSON reader on the other side.
  static std::string ToJson(nb::bytes data) {
    bson_t doc;
    if (!bson_init_static(&doc, static_cast<const uint8_t*>(data.data()), data.size()) ||
        !bson_validate(&doc, BSON_VALIDATE_NONE, nullptr))
      throw nb::value_error(
          "not a valid BSON document (expected the bytes of exactly one document)");
    size_t length = 0;
    char* json = bson_as_canonical_extended_json(&doc, &length);
    if (json == nullptr) throw nb::value_error("BSON document cannot be written as JSON");
    std::string out(json, length);
    bson_free(json);
    return out;
  }

  std::string dead_letters_;
  std::unique_ptr<ha::cli::OfflineCompute> job_;
  bool finished_ = false;
};

// ISO-8601 instant -> milliseconds since the epoch, with the CLI's parser (--now).
int64_t ParseInstant(std::string_view text) {
  auto t = ha::ParseInstant(text);
  if (!t.ok()) throw nb::value_error(t.status().message().c_str());
  return *t;
}

// The runner's configuration, resolved exactly as the CLI resolves it (LoadConfig: flags, then
// the environment, then `.env` in the working directory), as a dict of the variables' names.
// ValueError with the CLI's message (secrets hidden) when a value is invalid or MONGO_URI /
// MONGO_DB_NAME is missing.
std::map<std::string, std::string> LoadConfig(const std::map<std::string, std::string>& flags) {
  auto c = ha::cli::LoadConfig(flags, ha::cli::ConfigScope::kFull, /*require_mongo=*/true);
  if (!c.ok()) throw nb::value_error(c.status().message().c_str());
  auto num = [](double v) { return fmt::format("{}", v); };
  const ha::AnalyticsOptions& a = c->analytics;
  return {{"MONGO_URI", c->mongo_uri},
          {"MONGO_URI_REDACTED", ha::cli::RedactUri(c->mongo_uri)},
          {"MONGO_DB_NAME", c->mongo_db_name},
          {"SOURCE_COLLECTION", c->source_collection},
          {"ANALYTICS_COLLECTION", c->analytics_collection},
          {"USERS_COLLECTION", c->users_collection},
          {"WRITE_OPS_PER_COMMAND", std::to_string(c->write_ops_per_command)},
          {"BATCH_INTERVAL_SECONDS", num(c->batch_interval_seconds)},
          {"CHECKPOINT_LOCATION", c->checkpoint_location},
          {"MAX_BATCH_DOCS", std::to_string(c->max_batch_docs)},
          {"HISTORY_DAYS", std::to_string(a.history_days)},
          {"RESULT_TTL_DAYS", std::to_string(c->result_ttl_days)},
          {"ZERO_IS_MISSING", a.zero_is_missing ? "true" : "false"},
          {"TREND_THRESHOLD_PERCENT", num(a.trend_threshold_percent)},
          {"ANOMALY_Z_THRESHOLD", num(a.anomaly_z_threshold)},
          {"ANOMALY_MIN_BASELINE", std::to_string(a.anomaly_min_baseline)},
          {"ANOMALY_MIN_DEVIATION_PERCENT", num(a.anomaly_min_deviation_percent)},
          {"LOG_DIRECTORY", c->log_directory},
          {"METRICS_DIRECTORY", c->metrics_directory},
          {"DLQ_DIRECTORY", c->dlq_directory},
          {"LOG_LEVEL", c->log_level}};
}

}  // namespace

NB_MODULE(_native, m) {
  m.doc() = "The native core of health_analytics (see health_analytics.compute).";
  nb::class_<Compute>(m, "Compute")
      .def(nb::init<int64_t, const std::map<std::string, std::string>&>(), nb::arg("now_ms"),
           nb::arg("options"))
      .def("add_user_json", &Compute::AddUserJson)
      .def("add_healthmetric_json", &Compute::AddHealthMetricJson)
      .def("add_user_bson", &Compute::AddUserBson)
      .def("add_healthmetric_bson", &Compute::AddHealthMetricBson)
      .def("finish", &Compute::Finish)
      .def("dead_letters", &Compute::DeadLetters)
      .def("counts", &Compute::Counts);
  m.def("parse_instant", &ParseInstant, nb::arg("text"),
        "ISO-8601 instant -> milliseconds since the epoch (ValueError when invalid).");
  m.def("load_config", &LoadConfig, nb::arg("flags"),
        "The CLI's configuration (flags, environment, .env), validated; ValueError if invalid.");
  m.def("now_ms", &ha::NowMillis, "The system clock in milliseconds since the epoch.");
  BindSteps(m);
}
