// The engine's checkpoint: where the next batch resumes, kept in CHECKPOINT_LOCATION
// (docs/OPERATIONS.md, "The checkpoint folder").
//
// Two files, each replaced atomically:
//   last_processed_timestamp.txt  the watermark: one ISO-8601 UTC instant and "\n", the file
//                                 operators read and edit (and the old Spark job wrote).
//   health_analytics_state.json   the sidecar: the exact cursor (updatedAt, _id), the next batch
//                                 id, the watermark text the engine last wrote (and that file's
//                                 mtime), the last day recomputed and the daily-recompute
//                                 progress.
// Spark's own offsets/, commits/ and metadata in the same directory are ignored, and so is
// anything else there.
//
// A commit writes the sidecar first and the watermark last. Load() trusts the sidecar's cursor
// only while the watermark file is exactly the one the engine last wrote; otherwise the file
// wins:
//   - no watermark file, never written one        -> first run: cursor none (now - lookback)
//   - no watermark file, but the engine wrote one -> deleted by an operator: same as first run,
//                                                    batch ids continue
//   - file, no record of the engine writing it    -> resume from it: cursor (TS, ObjectId::Min())
//     (no sidecar: e.g. the old Spark job's file)
//   - file differs from what the engine last wrote (its text, or its mtime: `echo` of the same
//     text, `checkpoint reset`) -> operator edit: cursor (TS, ObjectId::Min()), so documents
//     with updatedAt at or after TS are read again
//   - file is the one the engine last wrote       -> the sidecar's exact cursor
// A commit interrupted between the sidecar and the watermark looks like an operator edit of
// the old value; resuming from it only re-reads documents, which is harmless.
//
// Not thread-safe; one CheckpointStore per process, guarded by CheckpointLock (lock.h) in
// `run` and `once`. `checkpoint reset` (ResetTo) runs without the lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/cursor.h"
#include "core/object_id.h"
#include "core/status.h"
#include "core/time.h"

namespace ha {

// Cursor (core/cursor.h): a position in (updatedAt, _id) order.

// Why Load() chose its cursor; for the batch log, `checkpoint show` and `doctor`.
enum class ResumeFrom {
  kFirstRun,          // no watermark file and the engine never wrote one: cursor none
  kWatermarkDeleted,  // the engine wrote a watermark before but the file is gone: cursor none
  kSidecarCursor,     // the file is the one the engine last wrote: the sidecar's exact cursor
  kWatermarkFile,     // a file the engine has no record of writing: cursor (TS, Min)
  kOperatorEdit,      // the file differs from what the engine last wrote: cursor (TS, Min)
};

// "first-run", "watermark-deleted", "sidecar-cursor", "watermark-file", "operator-edit".
const char* ToString(ResumeFrom r);

// What the watermark file looked like when read. Commit() compares it with the file just before
// replacing it, to detect an operator edit made while the batch ran. Treat as opaque.
struct WatermarkObservation {
  bool exists = false;
  std::string text;  // the file's exact contents ("" when it does not exist)
  int64_t mtime_ns = 0;
  uint64_t inode = 0;

  bool operator==(const WatermarkObservation&) const = default;
};

// The checkpoint as Load() found it.
struct CheckpointState {
  ResumeFrom resume_from = ResumeFrom::kFirstRun;

  // Where to read from; nullopt means "first run": start from now - INITIAL_LOOKBACK_DAYS.
  std::optional<Cursor> cursor;

  // The watermark file's instant; nullopt when there is no file. The grace re-read covers
  // (watermark - LATE_DATA_GRACE_SECONDS, cursor].
  std::optional<Instant> watermark;

  // The watermark file's contents as read (untrimmed; "" when there is no file).
  std::string watermark_text;

  // True when resume_from == kOperatorEdit: the file differs from what the engine last wrote
  // (and the sidecar exists to say what that was).
  bool operator_edited = false;

  // The id of the next batch: the sidecar's, or 0 when there is no sidecar (Spark's numbering).
  int64_t next_batch_id = 0;

  // The last UTC day the daily recompute finished (or started) for; nullopt: never.
  std::optional<Day> last_recompute_day;

  // The engine's daily-recompute progress, stored verbatim ("" when none).
  std::string recompute_progress;

  // The engine's record of the versions it processed in the grace window, stored verbatim (""
  // when none), so that a restart does not take them all for late arrivals.
  std::string grace_window;

  bool sidecar_present = false;

  // Pass to CommitRequest::watermark_seen at the end of the batch.
  WatermarkObservation watermark_seen;
};

// Everything a finished batch saves. The watermark written is WatermarkFor(cursor.updated_at,
// batch_start), computed by Commit().
struct CommitRequest {
  // From the Load() at the start of this batch (or the previous CommitOutcome when the caller
  // did not reload). Any difference from the file at commit time is an operator edit, which wins.
  WatermarkObservation watermark_seen;

  // The last document the batch processed in (updatedAt, _id) order; when it read nothing, the
  // cursor it started from (on the first run: (now - lookback, ObjectId::Min())).
  Cursor cursor;

  // When the batch started, by the engine's clock (--now when frozen).
  Instant batch_start = 0;

  int64_t next_batch_id = 0;
  std::optional<Day> last_recompute_day;
  std::string recompute_progress;
  std::string grace_window;
};

struct CommitOutcome {
  // What the watermark file says now (if written) or would have said.
  Instant watermark = 0;

  // False when an operator changed (or deleted) the watermark file while the batch ran: their
  // edit was left in place and the next Load() honours it. The sidecar was still saved.
  bool watermark_written = false;

  // The watermark file as it is after the commit; a caller that does not Load() before its next
  // batch passes this as that batch's CommitRequest::watermark_seen.
  WatermarkObservation watermark_seen;
};

// The sidecar-only update used between daily-recompute chunks.
struct ProgressUpdate {
  std::optional<Day> last_recompute_day;
  std::string recompute_progress;
  std::optional<int64_t> next_batch_id;  // nullopt keeps the stored value
};

// The watermark a batch writes: min(cursor's updatedAt, batch start), so a writer whose clock
// runs ahead of the engine's cannot push the watermark into the future.
constexpr Instant WatermarkFor(Instant cursor_updated_at, Instant batch_start) {
  return cursor_updated_at < batch_start ? cursor_updated_at : batch_start;
}

class CheckpointStore {
 public:
  static constexpr const char* kWatermarkFileName = "last_processed_timestamp.txt";
  static constexpr const char* kSidecarFileName = "health_analytics_state.json";
  static constexpr int kFormatVersion = 1;

  // `dir` is CHECKPOINT_LOCATION. Nothing is touched until a method is called.
  explicit CheckpointStore(std::string dir);

  // Reads the watermark file and the sidecar and decides where to resume (see the top of this
  // file). A missing directory or missing files are a first run, not an error; Load() never
  // creates anything.
  // Errors, each naming the file and the fix:
  //   kInvalidArgument  the watermark file is empty or not a timestamp (the engine must stop:
  //                     it never falls back to the lookback silently); the sidecar is not
  //                     valid JSON, has a malformed field, or comes from a newer version.
  //   kIo               a file cannot be read.
  Result<CheckpointState> Load() const;

  // Saves a finished batch: creates the directory if missing, writes the sidecar (keeping
  // fields it does not know), then re-reads the watermark file and, unless it differs from
  // request.watermark_seen, replaces it with FormatInstant(watermark) + "\n". Both writes are
  // atomic. Call only after the batch's outputs are durably written.
  // On failure returns kIo (or kInvalidArgument for a sidecar that became corrupt) naming the
  // file; the watermark is then untouched and the next Load() resumes from before this batch
  // (or, if only the watermark write failed, from the old watermark), which is harmless.
  Result<CommitOutcome> Commit(const CommitRequest& request);

  // Saves the daily-recompute progress (and optionally the next batch id) in the sidecar,
  // keeping the cursor and everything else; the watermark file is not touched. Creates the
  // directory and the sidecar if missing.
  // On failure returns kIo, or kInvalidArgument for a corrupt sidecar, naming the file.
  Status SaveProgress(const ProgressUpdate& update);

  // `checkpoint reset --to/--days`: replaces the watermark file with FormatInstant(ts) + "\n",
  // atomically, creating the directory if missing. The next Load() sees it as an operator edit
  // (or, without a sidecar, as a watermark to resume from) and re-reads from ts. Does not take
  // the lock: a running engine notices the new file (by text or mtime) at its next commit or
  // load. Only the watermark file is written.
  // On failure returns kIo naming the file.
  Status ResetTo(Instant ts);

  // For `doctor`: true when the watermark file exists, parses, has no zone (no 'Z' or offset)
  // and the engine has no record of writing it (no sidecar, or a sidecar without a written
  // watermark): probably the old job's file, written in the host's local time but read as UTC.
  // False otherwise, including when the files cannot be read (Load() reports that).
  bool LooksLikeOldJobLocalTime() const;

  const std::string& dir() const { return dir_; }
  std::string watermark_path() const;
  std::string sidecar_path() const;

 private:
  std::string dir_;
};

}  // namespace ha
