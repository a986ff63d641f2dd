#include "observe/batch_log.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "checkpoint/atomic_file.h"

namespace ha {

std::string BatchReportJson(const BatchReport& r) {
  nlohmann::ordered_json j;
  j["batch_id"] = r.batch_id;
  j["start_time"] = FormatInstant(r.start_time);
  j["end_time"] = FormatInstant(r.end_time);
  j["batch_clock"] = FormatInstant(r.clock);
  j["processing_time_ms"] = r.processing_time_ms();
  j["records_processed"] = r.records_processed;
  j["analytics_computed"] = r.counts.computed;
  j["analytics_written"] = r.counts.written();
  j["analytics_inserted"] = r.counts.inserted;
  j["analytics_updated"] = r.counts.updated;
  j["analytics_deleted"] = r.counts.deleted;
  j["analytics_unchanged"] = r.counts.unchanged;
  j["users_recomputed"] = r.counts.users;
  j["recompute_users"] = r.recompute_users;
  j["deferred_users"] = r.deferred_users;
  j["dead_letters"] = r.counts.dead_letters;
  // Milliseconds with microsecond precision.
  auto& phase_ms = j["phase_ms"] = nlohmann::ordered_json::object();
  for (const auto& [name, us] : r.phases.Named()) phase_ms[name] = static_cast<double>(us) / 1000.0;
  j["io"] = {{"commands", r.io.commands}, {"bytes_read", r.io.bytes_read}};
  auto instant = [](const std::optional<Instant>& t) {
    return t ? nlohmann::ordered_json(FormatInstant(*t)) : nlohmann::ordered_json(nullptr);
  };
  j["watermark_from"] = instant(r.watermark_from);
  j["watermark_to"] = instant(r.watermark_to);
  j["more_pending"] = r.more_pending;
  if (r.next_interval_seconds >= 0) j["next_interval_seconds"] = r.next_interval_seconds;
  j["status"] = r.failed ? "failed" : "completed";
  if (r.failed) j["errors"] = r.errors;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status BatchLog::Open() {
  if (const std::error_code ec = CreateDirectories(dir_, kPublicDirMode))
    return IoError("cannot create LOG_DIRECTORY " + dir_ + ": " + ec.message() +
                   "; create it or point LOG_DIRECTORY at a writable folder");
  return Status::Ok();
}

void BatchLog::Append(const BatchReport& report) {
  const Status st = AppendToFile(dir_ + "/batch_logs_" + FormatYmd(report.start_time) + ".jsonl",
                                 BatchReportJson(report) + '\n', kPublicFileMode);
  if (!st.ok() && !warned_) {
    warned_ = true;
    std::fprintf(stderr, "health-analytics: cannot append to the batch log: %s\n",
                 st.message().c_str());
  }
}

}  // namespace ha
