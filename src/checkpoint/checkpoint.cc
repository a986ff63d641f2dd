#include "checkpoint/checkpoint.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "checkpoint/atomic_file.h"
#include "core/failpoint.h"

namespace ha {
namespace {

using nlohmann::json;

// Sidecar keys. The ISO copies next to the numbers are for people reading the file; only the
// numbers are read back.
constexpr const char* kFormatVersionKey = "format_version";
constexpr const char* kNoteKey = "_note";
constexpr const char* kNextBatchIdKey = "next_batch_id";
constexpr const char* kCursorKey = "cursor";
constexpr const char* kCursorMsKey = "updated_at_ms";
constexpr const char* kCursorIsoKey = "updated_at";
constexpr const char* kCursorIdKey = "id";
constexpr const char* kWatermarkWrittenKey = "watermark_written";
constexpr const char* kWrittenTextKey = "text";
constexpr const char* kWrittenMtimeKey = "mtime_ns";
constexpr const char* kRecomputeDayKey = "last_recompute_day";
constexpr const char* kRecomputeDateKey = "last_recompute_date";
constexpr const char* kRecomputeProgressKey = "recompute_progress";
constexpr const char* kGraceWindowKey = "grace_window_versions";

constexpr const char* kNote =
    "Written by health-analytics. To move the checkpoint, edit last_processed_timestamp.txt or "
    "run `health-analytics checkpoint reset`, not this file; the ISO copies here are not read.";

// What the engine last wrote to the watermark file.
struct WrittenWatermark {
  std::string text;
  std::optional<int64_t> mtime_ns;  // absent in hand-written sidecars: compare the text only
};

// The sidecar, decoded. `doc` keeps the whole object so that fields a newer version added
// survive a rewrite by this one.
struct Sidecar {
  json doc = json::object();
  int64_t next_batch_id = 0;
  std::optional<Cursor> cursor;
  std::optional<WrittenWatermark> watermark_written;
  std::optional<Day> last_recompute_day;
  std::string recompute_progress;
  std::string grace_window;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// `s` quoted for a message: control and non-ASCII bytes escaped, long text cut.
std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMax ? "\"..." : "\"";
  return out;
}

std::string Join(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string DayText(Day d) { return FormatInstant(StartOf(d)).substr(0, 10); }

// Reads an int64 that must fit; false when `v` is not such a number.
bool GetInt64(const json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  return false;
}

class SidecarCodec {
 public:
  SidecarCodec(std::string sidecar_path, std::string watermark_path)
      : path_(std::move(sidecar_path)), watermark_path_(std::move(watermark_path)) {}

  // nullopt when the file does not exist.
  Result<std::optional<Sidecar>> Read() const {
    auto raw = ReadFileIfExists(path_);
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) return std::optional<Sidecar>();
    Sidecar s;
    try {
      s.doc = json::parse(**raw);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
      return Corrupt(fmt::format("it is not valid JSON ({})", e.what()));
    }
    if (!s.doc.is_object()) return Corrupt("it is not a JSON object");

    const auto version = s.doc.find(kFormatVersionKey);
    int64_t v = 0;
    if (version == s.doc.end() || !GetInt64(*version, v) || v < 1) {
      return Corrupt(fmt::format("it has no valid \"{}\"", kFormatVersionKey));
    }
    if (v > CheckpointStore::kFormatVersion) {
      return InvalidArgument(fmt::format(
          "checkpoint sidecar {} has format_version {}, written by a newer health-analytics "
          "(this one reads up to {}); run the newer version, or delete the file to resume from "
          "the watermark file {} alone",
          path_, v, CheckpointStore::kFormatVersion, watermark_path_));
    }

    if (auto it = s.doc.find(kNextBatchIdKey); it != s.doc.end()) {
      if (!GetInt64(*it, s.next_batch_id) || s.next_batch_id < 0) {
        return Corrupt(fmt::format("\"{}\" is not a non-negative integer", kNextBatchIdKey));
      }
    }
    if (auto it = s.doc.find(kCursorKey); it != s.doc.end() && !it->is_null()) {
      Cursor c;
      const json& o = *it;
      if (!o.is_object() || !o.contains(kCursorMsKey) || !GetInt64(o[kCursorMsKey], c.updated_at)) {
        return Corrupt(
            fmt::format("\"{}.{}\" is missing or not an integer", kCursorKey, kCursorMsKey));
      }
      std::optional<ObjectId> id;
      if (o.contains(kCursorIdKey) && o[kCursorIdKey].is_string()) {
        id = ObjectId::FromHex(o[kCursorIdKey].get<std::string>());
      }
      if (!id) {
        return Corrupt(
            fmt::format("\"{}.{}\" is missing or not 24 hex digits", kCursorKey, kCursorIdKey));
      }
      c.id = *id;
      s.cursor = c;
    }
    if (auto it = s.doc.find(kWatermarkWrittenKey); it != s.doc.end() && !it->is_null()) {
      const json& o = *it;
      if (!o.is_object() || !o.contains(kWrittenTextKey) || !o[kWrittenTextKey].is_string()) {
        return Corrupt(fmt::format("\"{}.{}\" is missing or not a string", kWatermarkWrittenKey,
                                   kWrittenTextKey));
      }
      WrittenWatermark w{o[kWrittenTextKey].get<std::string>(), std::nullopt};
      if (auto m = o.find(kWrittenMtimeKey); m != o.end() && !m->is_null()) {
        int64_t ns = 0;
        if (!GetInt64(*m, ns)) {
          return Corrupt(
              fmt::format("\"{}.{}\" is not an integer", kWatermarkWrittenKey, kWrittenMtimeKey));
        }
        w.mtime_ns = ns;
      }
      s.watermark_written = std::move(w);
    }
    if (auto it = s.doc.find(kRecomputeDayKey); it != s.doc.end() && !it->is_null()) {
      int64_t d = 0;
      if (!GetInt64(*it, d) || d < std::numeric_limits<Day>::min() ||
          d > std::numeric_limits<Day>::max()) {
        return Corrupt(fmt::format("\"{}\" is not a day number", kRecomputeDayKey));
      }
      s.last_recompute_day = static_cast<Day>(d);
    }
    if (auto it = s.doc.find(kRecomputeProgressKey); it != s.doc.end() && !it->is_null()) {
      if (!it->is_string()) {
        return Corrupt(fmt::format("\"{}\" is not a string", kRecomputeProgressKey));
      }
      s.recompute_progress = it->get<std::string>();
    }
    if (auto it = s.doc.find(kGraceWindowKey); it != s.doc.end() && !it->is_null()) {
      if (!it->is_string()) return Corrupt(fmt::format("\"{}\" is not a string", kGraceWindowKey));
      s.grace_window = it->get<std::string>();
    }
    return std::optional<Sidecar>(std::move(s));
  }

  Status Write(Sidecar s) const {
    json& d = s.doc;
    d[kFormatVersionKey] = CheckpointStore::kFormatVersion;
    d[kNoteKey] = kNote;
    d[kNextBatchIdKey] = s.next_batch_id;
    if (s.cursor) {
      d[kCursorKey] = {{kCursorMsKey, s.cursor->updated_at},
                       {kCursorIsoKey, FormatInstant(s.cursor->updated_at)},
                       {kCursorIdKey, s.cursor->id.ToHex()}};
    } else {
      d[kCursorKey] = nullptr;
    }
    if (s.watermark_written) {
      d[kWatermarkWrittenKey] = {{kWrittenTextKey, s.watermark_written->text}};
      if (s.watermark_written->mtime_ns) {
        d[kWatermarkWrittenKey][kWrittenMtimeKey] = *s.watermark_written->mtime_ns;
      }
    } else {
      d[kWatermarkWrittenKey] = nullptr;
    }
    if (s.last_recompute_day) {
      d[kRecomputeDayKey] = *s.last_recompute_day;
      d[kRecomputeDateKey] = DayText(*s.last_recompute_day);
    } else {
      d[kRecomputeDayKey] = nullptr;
      d.erase(kRecomputeDateKey);
    }
    d[kRecomputeProgressKey] = s.recompute_progress;
    d[kGraceWindowKey] = s.grace_window;
    std::string text;
    try {
      text = d.dump(2) + "\n";
    } catch (const json::exception& e) {
      return InvalidArgument(fmt::format(
          "could not encode checkpoint sidecar {} ({}); the recompute progress must be UTF-8 "
          "text",
          path_, e.what()));
    }
    return WriteFileAtomically(path_, text);
  }

 private:
  Status Corrupt(std::string_view what) const {
    return InvalidArgument(fmt::format(
        "checkpoint sidecar {} is corrupt: {}. Delete it (rm '{}') to recover: the watermark file "
        "{} alone is enough to resume; documents from the watermark on are read again, batch ids "
        "restart at 0 and the daily recompute runs again",
        path_, what, path_, watermark_path_));
  }

  std::string path_;
  std::string watermark_path_;
};

WatermarkObservation Observe(const std::optional<FileSnapshot>& snap) {
  WatermarkObservation o;
  if (snap) {
    o.exists = true;
    o.text = snap->contents;
    o.mtime_ns = snap->mtime_ns;
    o.inode = snap->inode;
  }
  return o;
}

}  // namespace

const char* ToString(ResumeFrom r) {
  switch (r) {
    case ResumeFrom::kFirstRun:
      return "first-run";
    case ResumeFrom::kWatermarkDeleted:
      return "watermark-deleted";
    case ResumeFrom::kSidecarCursor:
      return "sidecar-cursor";
    case ResumeFrom::kWatermarkFile:
      return "watermark-file";
    case ResumeFrom::kOperatorEdit:
      return "operator-edit";
  }
  return "unknown";
}

CheckpointStore::CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

std::string CheckpointStore::watermark_path() const { return Join(dir_, kWatermarkFileName); }

std::string CheckpointStore::sidecar_path() const { return Join(dir_, kSidecarFileName); }

namespace {

Status EnsureDirectory(const std::string& dir) {
  std::error_code ec = CreateDirectories(dir, kPrivateDirMode);
  if (ec || !std::filesystem::is_directory(dir, ec)) {
    return IoError(fmt::format(
        "could not create checkpoint directory {} (CHECKPOINT_LOCATION): {}; create it, or point "
        "CHECKPOINT_LOCATION at a directory this user can write",
        dir, ec ? ec.message() : "a file with that name is in the way"));
  }
  return Status::Ok();
}

// The error for an empty or unparsable watermark file: never fall back to the lookback silently.
Status BadWatermark(const std::string& path, std::string_view text,
                    const std::optional<Sidecar>& sidecar) {
  const std::string problem =
      Trim(text).empty() ? "is empty"
                         : fmt::format(
                               "does not hold a timestamp: {} (expected ISO-8601 UTC such as "
                               "2025-11-20T10:00:45.123Z)",
                               Quoted(text));
  std::string example = "2025-11-13T00:00:00Z";
  std::string hint = "the instant to re-read from";
  if (sidecar && sidecar->watermark_written &&
      ParseInstant(sidecar->watermark_written->text).ok()) {
    example = std::string(Trim(sidecar->watermark_written->text));
    hint = "the value the engine last wrote";
  }
  return InvalidArgument(fmt::format(
      "watermark file {} {}. Fix it: write {}, e.g. echo \"{}\" > '{}', or delete the file to "
      "start again from the first-run lookback (now - INITIAL_LOOKBACK_DAYS)",
      path, problem, hint, example, path));
}

}  // namespace

Result<CheckpointState> CheckpointStore::Load() const {
  const std::string wpath = watermark_path();
  auto file = ReadFileSnapshot(wpath);
  if (!file.ok()) return file.status();
  auto sidecar = SidecarCodec(sidecar_path(), wpath).Read();
  if (!sidecar.ok()) return sidecar.status();

  CheckpointState st;
  if (const auto& s = *sidecar) {
    st.sidecar_present = true;
    st.next_batch_id = s->next_batch_id;
    st.last_recompute_day = s->last_recompute_day;
    st.recompute_progress = s->recompute_progress;
    st.grace_window = s->grace_window;
  }
  st.watermark_seen = Observe(*file);
  const bool engine_wrote_one = *sidecar && (*sidecar)->watermark_written.has_value();

  if (!file->has_value()) {
    st.resume_from = engine_wrote_one ? ResumeFrom::kWatermarkDeleted : ResumeFrom::kFirstRun;
    return st;
  }

  st.watermark_text = (*file)->contents;
  auto ts = ParseInstant(st.watermark_text);
  if (Trim(st.watermark_text).empty() || !ts.ok()) {
    return BadWatermark(wpath, st.watermark_text, *sidecar);
  }
  st.watermark = *ts;
  const Cursor from_file{*ts, ObjectId::Min()};

  if (!engine_wrote_one) {
    st.resume_from = ResumeFrom::kWatermarkFile;
    st.cursor = from_file;
    return st;
  }
  const WrittenWatermark& written = *(*sidecar)->watermark_written;
  const bool edited = Trim(written.text) != Trim(st.watermark_text) ||
                      (written.mtime_ns && *written.mtime_ns != (*file)->mtime_ns);
  if (edited) {
    st.resume_from = ResumeFrom::kOperatorEdit;
    st.operator_edited = true;
    st.cursor = from_file;
  } else if ((*sidecar)->cursor) {
    st.resume_from = ResumeFrom::kSidecarCursor;
    st.cursor = (*sidecar)->cursor;
  } else {
    // A sidecar that recorded a watermark but no cursor (edited by hand): trust the file.
    st.resume_from = ResumeFrom::kWatermarkFile;
    st.cursor = from_file;
  }
  return st;
}

Result<CommitOutcome> CheckpointStore::Commit(const CommitRequest& request) {
  if (Status s = EnsureDirectory(dir_); !s.ok()) return s;
  const std::string wpath = watermark_path();
  const SidecarCodec codec(sidecar_path(), wpath);
  auto existing = codec.Read();
  if (!existing.ok()) return existing.status();

  CommitOutcome out;
  out.watermark = WatermarkFor(request.cursor.updated_at, request.batch_start);
  const std::string text = FormatInstant(out.watermark) + "\n";

  // The new watermark is written and fsynced before the sidecar, so the sidecar can record the
  // mtime the file will have; it becomes visible only after the sidecar is durable.
  auto staged = StagedFile::Create(wpath, text);
  if (!staged.ok()) return staged.status();
  Failpoint("watermark-staged");

  Sidecar s = existing->has_value() ? std::move(**existing) : Sidecar{};
  s.next_batch_id = request.next_batch_id;
  s.cursor = request.cursor;
  s.watermark_written = WrittenWatermark{text, staged->mtime_ns()};
  s.last_recompute_day = request.last_recompute_day;
  s.recompute_progress = request.recompute_progress;
  s.grace_window = request.grace_window;
  if (Status st = codec.Write(std::move(s)); !st.ok()) return st;
  Failpoint("sidecar-written");

  // Just before replacing the watermark: did an operator change it since the batch began? Then
  // their edit wins. The sidecar now names a watermark that never reached the file, so the next
  // Load() sees the difference and honours the edit (or the deletion).
  auto now = ReadFileSnapshot(wpath);
  if (!now.ok()) return now.status();
  const WatermarkObservation current = Observe(*now);
  if (current != request.watermark_seen) {
    out.watermark_written = false;
    out.watermark_seen = current;
    return out;  // `staged` removes its temporary file
  }
  if (Status st = staged->Publish(); !st.ok()) return st;
  out.watermark_written = true;
  out.watermark_seen = WatermarkObservation{true, text, staged->mtime_ns(), staged->inode()};
  return out;
}

Status CheckpointStore::SaveProgress(const ProgressUpdate& update) {
  if (Status s = EnsureDirectory(dir_); !s.ok()) return s;
  const SidecarCodec codec(sidecar_path(), watermark_path());
  auto existing = codec.Read();
  if (!existing.ok()) return existing.status();
  Sidecar s = existing->has_value() ? std::move(**existing) : Sidecar{};
  s.last_recompute_day = update.last_recompute_day;
  s.recompute_progress = update.recompute_progress;
  if (update.next_batch_id) s.next_batch_id = *update.next_batch_id;
  return codec.Write(std::move(s));
}

Status CheckpointStore::ResetTo(Instant ts) {
  if (Status s = EnsureDirectory(dir_); !s.ok()) return s;
  return WriteFileAtomically(watermark_path(), FormatInstant(ts) + "\n");
}

bool CheckpointStore::LooksLikeOldJobLocalTime() const {
  auto text = ReadFileIfExists(watermark_path());
  if (!text.ok() || !text->has_value()) return false;
  if (!ParseInstant(**text).ok() || HasExplicitZone(**text)) return false;
  auto sidecar = SidecarCodec(sidecar_path(), watermark_path()).Read();
  if (!sidecar.ok()) return false;
  return !sidecar->has_value() || !(*sidecar)->watermark_written.has_value();
}

}  // namespace ha
