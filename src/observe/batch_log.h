// The batch log: LOG_DIRECTORY/batch_logs_<YYYYMMDD>.jsonl, one JSON object per batch.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "engine/batch_report.h"

namespace ha {

std::string BatchReportJson(const BatchReport& r);

// Appends reports to the day's file; never fails the batch (problems go to stderr once).
class BatchLog {
 public:
  explicit BatchLog(std::string dir) : dir_(std::move(dir)) {}
  Status Open();
  void Append(const BatchReport& report);

 private:
  std::string dir_;
  bool warned_ = false;
};

}  // namespace ha
