#include "observe/monitor.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/atomic_file.h"

namespace ha {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json IsoOrNull(std::optional<Instant> t) { return t ? Json(FormatInstant(*t)) : Json(nullptr); }

Json TextOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json LagOrNull(std::optional<Instant> watermark, Instant now) {
  return watermark ? Json((now - *watermark) / 1000.0) : Json(nullptr);
}

}  // namespace

std::vector<std::string> TailLines(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lines;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  size_t begin = 0;
  if (start > 0) {  // the first line read is probably cut: skip it
    const size_t nl = text.find('\n');
    begin = nl == std::string::npos ? text.size() : nl + 1;
  }
  while (begin < text.size()) {
    const size_t nl = text.find('\n', begin);
    if (nl == std::string::npos) break;  // a line still being written
    if (nl > begin) lines.emplace_back(text, begin, nl - begin);
    begin = nl + 1;
  }
  if (lines.size() > max_lines)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
  return lines;
}

Monitor::Monitor(MonitorOptions options, Instant started)
    : options_(std::move(options)),
      started_(started),
      metrics_(options_.version, options_.interval_seconds, started),
      health_(started, options_.interval_seconds, options_.health) {}

void Monitor::SetWatermark(std::optional<Instant> watermark) { metrics_.SetWatermark(watermark); }

void Monitor::OnBatch(const BatchReport& report, double next_interval, bool database_unreachable) {
  std::optional<double> interval_seconds;
  if (!report.failed && !report.more_pending && next_interval > 0) interval_seconds = next_interval;
  metrics_.RecordBatch(report);
  if (interval_seconds) metrics_.SetPollingInterval(*interval_seconds);
  std::lock_guard<std::mutex> lock(mu_);
  if (interval_seconds) health_.SetInterval(*interval_seconds);
  health_.RecordBatch(report.failed, report.end_time, report.processing_time_ms(),
                      report.failed && database_unreachable);
  database_unreachable_ = report.failed && database_unreachable;
  BatchPoint p;
  p.batch_id = report.batch_id;
  p.end_time = report.end_time;
  p.duration_ms = report.processing_time_ms();
  p.records = report.records_processed;
  p.users = report.counts.users;
  p.written = report.counts.written();
  p.dead_letters = report.counts.dead_letters;
  p.failed = report.failed;
  history_.push_back(p);
  while (history_.size() > options_.history_size) history_.pop_front();
  last_report_ = report;
}

void Monitor::SetDeadLetterTotals(const std::map<std::string, int64_t>& by_reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [reason, total] : by_reason) {
    int64_t& seen = dead_letters_seen_[reason];
    if (total > seen) metrics_.RecordDeadLetters(reason, total - seen);
    seen = std::max(seen, total);
  }
}

std::string Monitor::textfile_path() const {
  return options_.metrics_directory + "/" + kTextfileName;
}

Status Monitor::WriteTextfile(Instant now) const {
  if (options_.metrics_directory.empty()) return Status::Ok();
  if (const std::error_code ec = CreateDirectories(options_.metrics_directory, kPublicDirMode))
    return IoError("cannot create METRICS_DIRECTORY " + options_.metrics_directory + ": " +
                   ec.message() + "; create it or point METRICS_DIRECTORY at a writable folder");
  return WriteFileAtomically(textfile_path(),
                             metrics_.Render(now, MetricsRegistry::Names::kCurrentAndLegacy));
}

HealthVerdict Monitor::Verdict(Instant now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_.Evaluate(now);
}

HttpReply Monitor::Health(Instant now) const {
  const HealthVerdict v = Verdict(now);
  const MetricsSnapshot m = metrics_.Snapshot();
  std::optional<int64_t> last_batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_report_) last_batch = last_report_->batch_id;
  }
  Json j;
  j["status"] = ToString(v.status);
  j["reason"] = TextOrNull(v.status_reason);
  j["ready"] = v.ready;
  j["timestamp"] = FormatInstant(now);
  j["version"] = options_.version;
  j["uptime_seconds"] = (now - started_) / 1000.0;
  j["last_batch_id"] = last_batch ? Json(*last_batch) : Json(nullptr);
  j["last_success"] = IsoOrNull(m.last_success);
  j["checkpoint_lag_seconds"] = LagOrNull(m.watermark, now);
  return {v.status == HealthStatus::kUnhealthy ? 503 : 200, Dump(j)};
}

HttpReply Monitor::Detailed(Instant now) const {
  const HealthVerdict v = Verdict(now);
  const MetricsSnapshot m = metrics_.Snapshot();
  Json j;
  j["status"] = ToString(v.status);
  j["reason"] = TextOrNull(v.status_reason);
  j["ready"] = v.ready;
  j["ready_reason"] = TextOrNull(v.ready_reason);
  j["timestamp"] = FormatInstant(now);
  j["version"] = options_.version;
  j["started_at"] = FormatInstant(started_);
  j["uptime_seconds"] = (now - started_) / 1000.0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    j["engine"] = {{"batches_completed", m.batches_completed},
                   {"batches_failed", m.batches_failed},
                   {"consecutive_failures", health_.consecutive_failures()},
                   {"polling_interval_seconds", m.polling_interval_seconds},
                   {"ready_window_seconds", v.ready_window_seconds},
                   {"database_reachable", !database_unreachable_},
                   {"last_success", IsoOrNull(m.last_success)}};
    j["last_batch"] = last_report_ ? Json::parse(BatchReportJson(*last_report_)) : Json(nullptr);
  }
  j["checkpoint"] = {{"watermark", IsoOrNull(m.watermark)},
                     {"lag_seconds", LagOrNull(m.watermark, now)}};
  int64_t dead = 0;
  for (const auto& [reason, n] : m.dead_letters_by_reason) dead += n;
  j["totals"] = {{"documents_read", m.documents_read},
                 {"users_recomputed", m.counts.users},
                 {"analytics_inserted", m.counts.inserted},
                 {"analytics_updated", m.counts.updated},
                 {"analytics_deleted", m.counts.deleted},
                 {"analytics_unchanged", m.counts.unchanged},
                 {"dead_letters", dead},
                 {"events", m.events_by_result}};
  Json config = Json::object();
  for (const auto& [name, value] : options_.config) config[name] = value;
  j["config"] = std::move(config);
  return {v.status == HealthStatus::kUnhealthy ? 503 : 200, Dump(j)};
}

HttpReply Monitor::Ready(Instant now) const {
  const HealthVerdict v = Verdict(now);
  const MetricsSnapshot m = metrics_.Snapshot();
  Json j;
  j["ready"] = v.ready;
  j["reason"] = TextOrNull(v.ready_reason);
  j["timestamp"] = FormatInstant(now);
  j["last_success"] = IsoOrNull(m.last_success);
  j["window_seconds"] = v.ready_window_seconds;
  return {v.ready ? 200 : 503, Dump(j)};
}

HttpReply Monitor::Live(Instant now) const {
  Json j;
  j["status"] = "alive";
  j["timestamp"] = FormatInstant(now);
  j["uptime_seconds"] = (now - started_) / 1000.0;
  return {200, Dump(j)};
}

HttpReply Monitor::DeadLetters(Instant now) const {
  const MetricsSnapshot m = metrics_.Snapshot();
  Json by_reason = Json::object();
  int64_t total = 0;
  for (const auto& [reason, n] : m.dead_letters_by_reason) {
    if (n == 0) continue;
    by_reason[reason] = n;
    total += n;
  }
  Json recent = Json::array();
  if (!options_.dlq_directory.empty()) {
    // Today's file, then yesterday's (UTC), newest entries first.
    for (Instant day : {now, now - kMillisPerDay}) {
      if (recent.size() >= options_.dlq_recent) break;
      const std::string path =
          options_.dlq_directory + "/dead_letters_" + FormatYmd(day) + ".jsonl";
      auto lines = TailLines(path, options_.dlq_recent - recent.size());
      for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
        Json entry = Json::parse(*it, nullptr, /*allow_exceptions=*/false);
        if (!entry.is_discarded()) recent.push_back(std::move(entry));
      }
    }
  }
  Json j;
  j["timestamp"] = FormatInstant(now);
  j["total_since_start"] = total;
  j["by_reason"] = std::move(by_reason);
  j["directory"] = options_.dlq_directory;
  j["recent"] = std::move(recent);
  return {200, Dump(j)};
}

HttpReply Monitor::Batches() const {
  Json list = Json::array();
  std::lock_guard<std::mutex> lock(mu_);
  for (const BatchPoint& p : history_)
    list.push_back({{"batch_id", p.batch_id},
                    {"end_time", FormatInstant(p.end_time)},
                    {"duration_ms", p.duration_ms},
                    {"records", p.records},
                    {"users", p.users},
                    {"written", p.written},
                    {"dead_letters", p.dead_letters},
                    {"status", p.failed ? "failed" : "completed"}});
  Json j;
  j["batches"] = std::move(list);
  return {200, Dump(j)};
}

std::string Monitor::MetricsText(Instant now) const { return metrics_.Render(now); }

}  // namespace ha
