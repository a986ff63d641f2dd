// The batch log: LOG_DIRECTORY/batch_logs_<YYYYMMDD>.jsonl, one JSON object per batch.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace ha {

// What one batch did (engine spec section 7).
struct BatchReport {
  int64_t batch_id = 0;
  Instant start_time = 0;  // wall clock
  Instant end_time = 0;
  Instant clock = 0;              // the batch clock (--now when frozen)
  int64_t records_processed = 0;  // versions read by the poll (cursor read + new grace versions)
  int64_t analytics_computed = 0;
  int64_t analytics_written = 0;
  int64_t analytics_inserted = 0;
  int64_t analytics_updated = 0;
  int64_t analytics_deleted = 0;
  int64_t analytics_unchanged = 0;
  int64_t users_recomputed = 0;
  int64_t recompute_users = 0;  // of which by the daily recompute
  // Users affected by a full batch of a backlog and left to the scheduled pass (RunBatch).
  int64_t deferred_users = 0;
  int64_t dead_letters = 0;
  // Where the batch's wall time went, in microseconds (the rest: dead letters, the lock, the
  // engine's own bookkeeping).
  struct Phases {
    int64_t poll_us = 0;     // the changed documents and the grace re-read (one query)
    int64_t read_us = 0;     // the recompute's user list; each chunk's goals, histories, analytics
    int64_t compute_us = 0;  // the analytics and the planned writes (WORKER_THREADS)
    int64_t write_us = 0;    // analytics writes; the expired-document sweep where there is no TTL
    int64_t commit_us = 0;   // the checkpoint commit and the recompute's progress saves

    // (name, microseconds), in the order the batch log and /metrics list them.
    std::array<std::pair<const char*, int64_t>, 5> Named() const {
      return {{{"poll", poll_us},
               {"read", read_us},
               {"compute", compute_us},
               {"write", write_us},
               {"commit", commit_us}}};
    }
    Phases& operator+=(const Phases& o) {
      poll_us += o.poll_us;
      read_us += o.read_us;
      compute_us += o.compute_us;
      write_us += o.write_us;
      commit_us += o.commit_us;
      return *this;
    }
  } phases;
  std::string watermark_from;  // ISO-8601 or "" (none)
  std::string watermark_to;
  bool more_pending = false;  // the read hit MAX_BATCH_DOCS or the daily recompute is unfinished
  double next_interval_seconds = -1;  // the wait before the next batch (set by the loop; -1: none)
  bool failed = false;
  std::vector<std::string> errors;

  int64_t processing_time_ms() const { return end_time - start_time; }
};

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
