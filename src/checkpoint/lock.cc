#include "checkpoint/lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "checkpoint/atomic_file.h"
#include "core/time.h"

namespace ha {
namespace {

std::string LockPath(const std::string& dir) {
  return (std::filesystem::path(dir) / CheckpointLock::kLockFileName).string();
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[512];
  off_t off = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() > 4096) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

// "pid 123 on host h, since 2025-11-20T10:00:45.123Z" from "pid=123 host=h started=...".
std::string DescribeHolder(const std::string& contents) {
  std::string pid, host, started;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t end = contents.find_first_of(" \n", pos);
    if (end == std::string::npos) end = contents.size();
    const std::string field = contents.substr(pos, end - pos);
    if (field.rfind("pid=", 0) == 0) pid = field.substr(4);
    if (field.rfind("host=", 0) == 0) host = field.substr(5);
    if (field.rfind("started=", 0) == 0) started = field.substr(8);
    pos = end + 1;
  }
  if (pid.empty()) return "pid unknown";
  std::string out = "pid " + pid;
  if (!host.empty()) out += " on host " + host;
  if (!started.empty()) out += ", since " + started;
  return out;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// flock(2) retried on EINTR; returns 0 or errno.
int TryLock(int fd, int op) {
  for (;;) {
    if (::flock(fd, op | LOCK_NB) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

}  // namespace

Result<CheckpointLock> CheckpointLock::Acquire(const std::string& dir) {
  const std::error_code ec = CreateDirectories(dir, kPrivateDirMode);
  const std::string path = LockPath(dir);
  if (ec) {
    return IoError(fmt::format(
        "could not create checkpoint directory {} (CHECKPOINT_LOCATION) for the lock file: {}; "
        "create it, or point CHECKPOINT_LOCATION at a directory this user can write",
        dir, ec.message()));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kPublicFileMode);
  if (fd < 0) {
    return IoError(fmt::format(
        "could not open lock file {}: {}; check that this user can write to {} (or remove a "
        "lock file left there by another user when no instance is running)",
        path, std::strerror(errno), dir));
  }
  if (const int err = TryLock(fd, LOCK_EX); err != 0) {
    const std::string holder = DescribeHolder(ReadAll(fd));
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(StatusCode::kAlreadyLocked,
                    fmt::format("another health-analytics instance ({}) is using checkpoint "
                                "location {} (lock file {}); stop it, or give this instance its "
                                "own CHECKPOINT_LOCATION",
                                holder, dir, path));
    }
    return IoError(
        fmt::format("could not lock {}: {}; the checkpoint directory must be on a "
                    "local file system that supports flock",
                    path, std::strerror(err)));
  }
  // Record who holds it, for the message another instance prints. Best effort: the lock itself
  // is what matters.
  const std::string who = fmt::format("pid={} host={} started={}\n", ::getpid(), HostName(),
                                      FormatInstant(NowMillis()));
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, who.data(), who.size(), 0);
  }
  return CheckpointLock(fd, path);
}

Result<CheckpointLock::Probe> CheckpointLock::ProbeLock(const std::string& dir) {
  const std::string path = LockPath(dir);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Probe{};
    return IoError(
        fmt::format("could not open lock file {} to check it: {}; check its "
                    "permissions",
                    path, std::strerror(errno)));
  }
  Probe probe;
  const int err = TryLock(fd, LOCK_SH);
  if (err == 0) {
    ::flock(fd, LOCK_UN);
  } else if (err == EWOULDBLOCK) {
    probe.held = true;
    probe.holder = DescribeHolder(ReadAll(fd));
  } else {
    ::close(fd);
    return IoError(fmt::format("could not check lock file {}: {}", path, std::strerror(err)));
  }
  ::close(fd);
  return probe;
}

bool CheckpointLock::IsHeld(const std::string& dir) {
  auto probe = ProbeLock(dir);
  return probe.ok() && probe->held;
}

CheckpointLock::CheckpointLock(CheckpointLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

CheckpointLock& CheckpointLock::operator=(CheckpointLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

CheckpointLock::~CheckpointLock() { Release(); }

void CheckpointLock::Release() {
  if (fd_ >= 0) {
    ::close(fd_);  // releases the flock; the file stays (see lock.h)
    fd_ = -1;
  }
}

}  // namespace ha
