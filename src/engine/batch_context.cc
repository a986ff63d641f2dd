#include "engine/batch_context.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>

namespace ha {
namespace {

using Json = nlohmann::json;

// Reads `object[key]` into `*out` when present; kInvalidArgument when it has another type or
// does not fit.
template <typename T>
Status ReadField(const Json& object, const char* key, std::string_view where, T* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  auto bad = [&](const char* expected) {
    return InvalidArgument(fmt::format("batch context: {}{} must be {}", where, key, expected));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return bad("true or false");
    *out = it->template get<bool>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) return bad("a number");
    *out = it->template get<T>();
  } else {
    if (!it->is_number_integer()) return bad("an integer");
    if (it->is_number_unsigned()) {
      const uint64_t v = it->template get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return bad("in range");
      *out = static_cast<T>(v);
    } else {
      const int64_t v = it->template get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 &&
           static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
        return bad("in range");
      *out = static_cast<T>(v);
    }
  }
  return Status::Ok();
}

Json AnalyticsToJson(const AnalyticsOptions& a) {
  return {{"history_days", a.history_days},
          {"zero_is_missing", a.zero_is_missing},
          {"trend_threshold_percent", a.trend_threshold_percent},
          {"anomaly_z_threshold", a.anomaly_z_threshold},
          {"anomaly_min_baseline", a.anomaly_min_baseline},
          {"anomaly_min_deviation_percent", a.anomaly_min_deviation_percent}};
}

Status AnalyticsFromJson(const Json& j, AnalyticsOptions* a) {
  constexpr std::string_view w = "options.analytics.";
  for (Status st :
       {ReadField(j, "history_days", w, &a->history_days),
        ReadField(j, "zero_is_missing", w, &a->zero_is_missing),
        ReadField(j, "trend_threshold_percent", w, &a->trend_threshold_percent),
        ReadField(j, "anomaly_z_threshold", w, &a->anomaly_z_threshold),
        ReadField(j, "anomaly_min_baseline", w, &a->anomaly_min_baseline),
        ReadField(j, "anomaly_min_deviation_percent", w, &a->anomaly_min_deviation_percent)})
    if (!st.ok()) return st;
  return Status::Ok();
}

Status OptionsFromJson(const Json& j, EngineOptions* o) {
  constexpr std::string_view w = "options.";
  for (Status st : {ReadField(j, "initial_lookback_days", w, &o->initial_lookback_days),
                    ReadField(j, "late_data_grace_ms", w, &o->late_data_grace_ms),
                    ReadField(j, "max_batch_docs", w, &o->max_batch_docs),
                    ReadField(j, "result_ttl_days", w, &o->result_ttl_days),
                    ReadField(j, "worker_threads", w, &o->worker_threads),
                    ReadField(j, "users_per_chunk", w, &o->users_per_chunk),
                    ReadField(j, "read_users_per_query", w, &o->read_users_per_query),
                    ReadField(j, "io_concurrency", w, &o->io_concurrency),
                    ReadField(j, "write_attempts", w, &o->write_attempts),
                    ReadField(j, "recompute_users_per_batch", w, &o->recompute_users_per_batch),
                    ReadField(j, "reconcile_interval_ms", w, &o->reconcile_interval_ms)})
    if (!st.ok()) return st;
  if (auto it = j.find("analytics"); it != j.end()) {
    if (!it->is_object())
      return InvalidArgument("batch context: options.analytics must be an object");
    return AnalyticsFromJson(*it, &o->analytics);
  }
  return Status::Ok();
}

}  // namespace

std::string BatchContextToJson(const BatchContext& c) {
  const EngineOptions& o = c.options;
  Json options = {{"analytics", AnalyticsToJson(o.analytics)},
                  {"initial_lookback_days", o.initial_lookback_days},
                  {"late_data_grace_ms", o.late_data_grace_ms},
                  {"max_batch_docs", o.max_batch_docs},
                  {"result_ttl_days", o.result_ttl_days},
                  {"worker_threads", o.worker_threads},
                  {"users_per_chunk", o.users_per_chunk},
                  {"read_users_per_query", o.read_users_per_query},
                  {"io_concurrency", o.io_concurrency},
                  {"write_attempts", o.write_attempts},
                  {"recompute_users_per_batch", o.recompute_users_per_batch},
                  {"reconcile_interval_ms", o.reconcile_interval_ms}};
  return Json{{"batch_id", c.batch_id}, {"clock", c.clock}, {"options", std::move(options)}}.dump();
}

Result<BatchContext> BatchContextFromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument("batch context: expected a JSON object");
  for (const char* required : {"batch_id", "clock"})
    if (!j.contains(required))
      return InvalidArgument(fmt::format("batch context: {} is missing", required));
  BatchContext c;
  if (Status st = ReadField(j, "batch_id", "", &c.batch_id); !st.ok()) return st;
  if (Status st = ReadField(j, "clock", "", &c.clock); !st.ok()) return st;
  if (auto it = j.find("options"); it != j.end()) {
    if (!it->is_object()) return InvalidArgument("batch context: options must be an object");
    if (Status st = OptionsFromJson(*it, &c.options); !st.ok()) return st;
  }
  return c;
}

}  // namespace ha
