// Fuzzes the checkpoint files as CheckpointStore (checkpoint/checkpoint.h) reads them, through a
// temporary CHECKPOINT_LOCATION: the input's first line, newline included, becomes
// last_processed_timestamp.txt and the rest health_analytics_state.json (an input without a
// newline leaves the watermark file out). Checked:
//   - Load() either succeeds or returns InvalidArgument with a message (never another error,
//     never a crash or an exception);
//   - its decision follows checkpoint.h: the cursor is the sidecar's exact one only for
//     "sidecar-cursor", (watermark, lowest id) for a watermark file or an operator edit, none on
//     a first run or after a deletion; the watermark is the file's instant;
//   - SaveProgress() of what Load() returned changes nothing Load() reports, and keeps the
//     fields it does not know;
//   - after a Commit(), Load() resumes from the committed cursor with the committed batch id
//     and recompute progress.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint.h"
#include "fuzz_util.h"

namespace {

namespace fs = std::filesystem;
using ha::fuzz::Fail;

// One directory per process, removed at exit (scripts/fuzz points TMPDIR at a directory of its
// own; /dev/shm keeps the fsyncs of the atomic writes cheap otherwise).
const std::string& Dir() {
  static const std::string* const dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp != nullptr ? tmp : (fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
    auto* path = new std::string(base + "/ha-fuzz-sidecar-XXXXXX");  // outlives the atexit hook
    if (mkdtemp(path->data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(Dir(), ec);
    });
    return path;
  }();
  return *dir;
}

void WriteFile(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) std::abort();
}

bool SameState(const ha::CheckpointState& a, const ha::CheckpointState& b) {
  return a.resume_from == b.resume_from && a.cursor == b.cursor && a.watermark == b.watermark &&
         a.watermark_text == b.watermark_text && a.operator_edited == b.operator_edited &&
         a.next_batch_id == b.next_batch_id && a.last_recompute_day == b.last_recompute_day &&
         a.recompute_progress == b.recompute_progress;
}

std::string Describe(const ha::CheckpointState& s) {
  std::string out = ha::ToString(s.resume_from);
  out += s.cursor
             ? " cursor " + ha::FormatInstant(s.cursor->updated_at) + "/" + s.cursor->id.ToHex()
             : " no cursor";
  out += " batch " + std::to_string(s.next_batch_id) + " day " +
         (s.last_recompute_day ? std::to_string(*s.last_recompute_day) : "none") + " progress '" +
         s.recompute_progress + "'";
  return out;
}

// The sidecar's cursor read independently (nlohmann), when it is well formed.
std::optional<ha::Cursor> SidecarCursor(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto c = j.find("cursor");
  if (c == j.end() || !c->is_object()) return std::nullopt;
  auto ms = c->find("updated_at_ms");
  auto id = c->find("id");
  if (ms == c->end() || id == c->end() || !ms->is_number_integer() || !id->is_string())
    return std::nullopt;
  auto oid = ha::ObjectId::FromHex(id->get<std::string>());
  if (!oid) return std::nullopt;
  return ha::Cursor{ms->get<int64_t>(), *oid};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string& dir = Dir();
  ha::CheckpointStore store(dir);
  const size_t newline = input.find('\n');
  std::error_code ec;
  fs::remove(store.watermark_path(), ec);
  fs::remove(store.sidecar_path(), ec);
  std::string_view sidecar = input;
  if (newline != std::string_view::npos) {
    WriteFile(store.watermark_path(), input.substr(0, newline + 1));
    sidecar = input.substr(newline + 1);
  }
  if (!sidecar.empty()) WriteFile(store.sidecar_path(), sidecar);

  auto loaded = ha::CheckpointStore(dir).Load();
  if (!loaded.ok()) {
    if (loaded.status().code() != ha::StatusCode::kInvalidArgument ||
        loaded.status().message().empty())
      Fail("Load() failed other than with InvalidArgument: " + loaded.status().message(), input);
    return 0;
  }
  const ha::CheckpointState st = *loaded;

  // The decision.
  const bool has_file = newline != std::string_view::npos;
  if (st.watermark.has_value() != has_file) Fail("watermark present without a file", input);
  if (has_file) {
    auto ts = ha::ParseInstant(input.substr(0, newline + 1));
    if (!ts.ok() || *ts != *st.watermark) Fail("the watermark is not the file's instant", input);
  }
  switch (st.resume_from) {
    case ha::ResumeFrom::kFirstRun:
    case ha::ResumeFrom::kWatermarkDeleted:
      if (st.cursor || has_file) Fail("a first run with a cursor or a file", input);
      break;
    case ha::ResumeFrom::kWatermarkFile:
    case ha::ResumeFrom::kOperatorEdit:
      if (!st.cursor || *st.cursor != ha::Cursor{*st.watermark, ha::ObjectId::Min()})
        Fail("resuming from the file, not at (watermark, lowest id)", input);
      if (st.operator_edited != (st.resume_from == ha::ResumeFrom::kOperatorEdit))
        Fail("operator_edited and resume_from disagree", input);
      break;
    case ha::ResumeFrom::kSidecarCursor: {
      const auto expected = SidecarCursor(sidecar);
      if (!st.sidecar_present || !expected || st.cursor != expected)
        Fail("resuming from a cursor that is not the sidecar's", input);
      break;
    }
  }

  // A progress save that changes nothing changes nothing (but creates a missing sidecar), and
  // keeps unknown fields.
  ha::ProgressUpdate same;
  same.last_recompute_day = st.last_recompute_day;
  same.recompute_progress = st.recompute_progress;
  same.next_batch_id = st.next_batch_id;
  if (auto s = store.SaveProgress(same); !s.ok())
    Fail("SaveProgress failed: " + s.message(), input);
  auto reloaded = ha::CheckpointStore(dir).Load();
  if (!reloaded.ok())
    Fail("Load() after SaveProgress failed: " + reloaded.status().message(), input);
  if (!SameState(st, *reloaded))
    Fail("SaveProgress changed the state\nbefore: " + Describe(st) +
             "\nafter:  " + Describe(*reloaded),
         input);
  if (st.sidecar_present) {
    auto before = nlohmann::json::parse(sidecar, nullptr, false);
    std::ifstream in(store.sidecar_path());
    auto after = nlohmann::json::parse(in, nullptr, false);
    if (before.is_object() && after.is_object())
      for (auto& [key, value] : before.items())
        if (key != "last_recompute_date" && !after.contains(key))  // derived from the day
          Fail("SaveProgress dropped the field \"" + key + "\"", input);
  }

  // A commit is what the next Load() resumes from.
  ha::CommitRequest request;
  request.watermark_seen = st.watermark_seen;
  constexpr ha::Instant kBatchStart = 1763633045123;  // 2025-11-20T10:04:05.123Z
  request.cursor = st.cursor.value_or(ha::Cursor{kBatchStart - 86'400'000, ha::ObjectId::Min()});
  if (request.cursor.updated_at < 0 || request.cursor.updated_at > kBatchStart)
    request.cursor.updated_at = kBatchStart - 1;  // FormatInstant needs years 0000..9999
  request.batch_start = kBatchStart;
  request.next_batch_id = st.next_batch_id + 1;
  request.last_recompute_day = st.last_recompute_day;
  request.recompute_progress = st.recompute_progress;
  auto committed = store.Commit(request);
  if (!committed.ok()) Fail("Commit failed: " + committed.status().message(), input);
  if (!committed->watermark_written) Fail("Commit saw an edit nobody made", input);
  auto after_commit = ha::CheckpointStore(dir).Load();
  if (!after_commit.ok())
    Fail("Load() after Commit failed: " + after_commit.status().message(), input);
  if (after_commit->resume_from != ha::ResumeFrom::kSidecarCursor ||
      after_commit->cursor != request.cursor ||
      after_commit->next_batch_id != request.next_batch_id ||
      after_commit->last_recompute_day != request.last_recompute_day ||
      after_commit->recompute_progress != request.recompute_progress ||
      after_commit->watermark != ha::WatermarkFor(request.cursor.updated_at, kBatchStart))
    Fail("Load() after Commit does not resume from the commit: " + Describe(*after_commit), input);
  return 0;
}
