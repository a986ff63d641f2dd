// Crash-safe small-file writes and reads for the checkpoint directory.
//
// A write goes to a temporary file in the destination's directory, is fsynced, renamed over the
// destination and the directory is fsynced, so after a crash the destination holds either the
// old or the new contents, never a mix. Files are created 0644 (less if the umask says so); a
// rewrite keeps an existing file's mode when it is stricter, and never leaves a file group- or
// world-writable. Linux (POSIX) only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/status.h"

namespace ha {

// Replaces `path` with `contents` atomically (temporary file, fsync, rename, fsync of the
// directory). The directory must exist.
// On failure returns kIo naming the file, the step that failed and the system error; the
// destination is untouched and the temporary file is removed.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Modes of what the engine creates (see docs/OPERATIONS.md, "TLS and credentials"). Passed to
// open(2)/mkdir(2) explicitly, so the umask can only take permissions away: even under umask 000
// nothing the engine creates is group- or world-writable.
inline constexpr mode_t kPublicDirMode = 0755;  // logs, metrics (node_exporter reads them)
inline constexpr mode_t kPublicFileMode = 0644;
inline constexpr mode_t kPrivateDirMode = 0750;  // checkpoint (the lock), dead letters (user data)
inline constexpr mode_t kPrivateFileMode = 0640;

// Creates `dir` and its missing parents, like `mkdir -p`, each new directory with `mode` (less
// if the umask says so). Directories that exist keep their mode.
// Returns the system error (empty on success); ENOTDIR when a file is in the way.
std::error_code CreateDirectories(const std::string& dir, mode_t mode);

// Appends `data` to `path` with one write(2) in O_APPEND mode, creating the file with `mode`
// (less if the umask says so) when it does not exist. Not fsynced: for logs.
// On failure returns kIo naming the file and the system error.
Status AppendToFile(const std::string& path, std::string_view data, mode_t mode);

// The contents of `path`, or nullopt when it does not exist.
// On failure (permissions, a directory in the way, ...) returns kIo naming the file.
Result<std::optional<std::string>> ReadFileIfExists(const std::string& path);

// A file's contents together with the stat fields that tell one version of it from another.
// Two snapshots with equal contents but a different mtime or inode mean the file was rewritten.
struct FileSnapshot {
  std::string contents;
  int64_t mtime_ns = 0;  // st_mtim in nanoseconds since the epoch
  uint64_t inode = 0;
};

// Like ReadFileIfExists, plus the file's mtime and inode (read from the same open file).
Result<std::optional<FileSnapshot>> ReadFileSnapshot(const std::string& path);

// The first half of WriteFileAtomically, for callers that must do something between writing
// the new contents durably and making them visible (the checkpoint re-reads the watermark file
// just before replacing it). Non-copyable, movable.
//
//   auto staged = StagedFile::Create(path, text);   // temp file written and fsynced
//   ...                                            // e.g. check nobody changed `path`
//   Status s = staged->Publish();                  // rename + directory fsync
//
// Destroying a StagedFile that was not published removes its temporary file.
class StagedFile {
 public:
  // Writes `contents` to a new temporary file next to `path` and fsyncs it.
  // On failure returns kIo naming `path`; no temporary file is left behind.
  static Result<StagedFile> Create(const std::string& path, std::string_view contents);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  // Renames the temporary file over the destination and fsyncs the directory. Call once.
  // On failure returns kIo naming the destination; the temporary file is removed. If only the
  // directory fsync fails, the new contents are visible but may not survive a power loss.
  Status Publish();

  // Removes the temporary file now (the destructor does the same).
  void Discard();

  // The mtime and inode the destination will have once published (rename keeps both).
  int64_t mtime_ns() const { return mtime_ns_; }
  uint64_t inode() const { return inode_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  StagedFile(std::string path, std::string temp_path, int64_t mtime_ns, uint64_t inode)
      : path_(std::move(path)),
        temp_path_(std::move(temp_path)),
        mtime_ns_(mtime_ns),
        inode_(inode) {}

  std::string path_;
  std::string temp_path_;  // empty once published, discarded or moved from
  int64_t mtime_ns_ = 0;
  uint64_t inode_ = 0;
};

// fsyncs the directory `dir` so that renames and creations in it are durable.
// On failure returns kIo naming the directory.
Status SyncDirectory(const std::string& dir);

}  // namespace ha
