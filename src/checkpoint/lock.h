// One writer per checkpoint (engine spec guarantee 6): an exclusive flock(2) on a lock file in
// CHECKPOINT_LOCATION, held by `run` and `once` for their whole life.
//
// The kernel releases the lock when the holder exits or crashes, so a stale lock file never
// blocks a restart. The file is never deleted (deleting it would let two processes lock two
// different files); it holds "pid=N host=H started=TS" of the current holder, for messages.
// flock locks belong to an open file description: a second Acquire in the same process
// conflicts with the first, like one in another process. Linux only; on network file systems
// flock may not be enforced between hosts.
#pragma once

#include <string>
#include <utility>

#include "core/status.h"

namespace ha {

class CheckpointLock {
 public:
  static constexpr const char* kLockFileName = "health_analytics.lock";

  // Creates `dir` if missing, then takes the lock without waiting and records this process in
  // the lock file.
  // On failure returns kAlreadyLocked when another instance holds it, with a message naming the
  // holder (pid, host) and `dir` and saying what to do; kIo when the directory or the lock file
  // cannot be created or opened.
  static Result<CheckpointLock> Acquire(const std::string& dir);

  // For `doctor`: whether some process (this one included) holds the lock on `dir` now; when
  // held, `holder` describes it ("pid 123 on host h, since 2025-...") as far as the file says.
  // A missing directory or lock file is "not held". On failure to probe returns kIo.
  struct Probe {
    bool held = false;
    std::string holder;
  };
  static Result<Probe> ProbeLock(const std::string& dir);

  // ProbeLock(dir)->held, and false when the probe fails.
  static bool IsHeld(const std::string& dir);

  CheckpointLock(CheckpointLock&& other) noexcept;
  CheckpointLock& operator=(CheckpointLock&& other) noexcept;
  CheckpointLock(const CheckpointLock&) = delete;
  CheckpointLock& operator=(const CheckpointLock&) = delete;

  // Releases the lock (closing the file releases it).
  ~CheckpointLock();

  const std::string& path() const { return path_; }

 private:
  CheckpointLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void Release();

  int fd_ = -1;
  std::string path_;
};

}  // namespace ha
