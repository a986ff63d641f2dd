#include "checkpoint/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace ha {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string DirOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Closes `fd` on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// write(2) until everything is written; returns 0 or an errno value.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// A name no other writer (thread or process) will pick: pid, a per-process counter and a random
// number, so a crashed writer's leftovers never collide with a new one.
std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}/.{}.tmp-{}-{}-{:08x}", DirOf(path), BaseOf(path), ::getpid(),
                     counter.fetch_add(1), static_cast<uint32_t>(rng()));
}

std::string WriteFailure(const std::string& path, std::string_view step, int err) {
  return fmt::format(
      "could not write {} ({}: {}); check that {} exists, is writable by this user and that the "
      "file system is not full or read-only",
      path, step, ErrnoText(err), DirOf(path));
}

}  // namespace

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return IoError(
        fmt::format("could not open directory {} to fsync it: {}; check that it exists "
                    "and is readable by this user",
                    dir, ErrnoText(errno)));
  }
  FdCloser closer(fd);
  if (::fsync(fd) != 0) {
    return IoError(
        fmt::format("could not fsync directory {}: {}; the last file written there may "
                    "not survive a power loss; check the file system",
                    dir, ErrnoText(errno)));
  }
  return Status::Ok();
}

std::error_code CreateDirectories(const std::string& dir, mode_t mode) {
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) == 0) {
    if (!dir.empty() && !S_ISDIR(st.st_mode))
      return std::make_error_code(std::errc::not_a_directory);
    return {};
  }
  std::string parent = dir;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  parent = DirOf(parent);
  if (parent != "." && parent != "/" && parent != dir) {
    if (std::error_code ec = CreateDirectories(parent, mode)) return ec;
  }
  if (::mkdir(dir.c_str(), mode) != 0) {
    const int err = errno;
    // Created meanwhile by someone else: fine if it is a directory.
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return std::error_code(err, std::generic_category());
  }
  return {};
}

Status AppendToFile(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) return IoError(WriteFailure(path, "opening it for appending", errno));
  FdCloser closer(fd);
  if (const int err = WriteAll(fd, data); err != 0)
    return IoError(WriteFailure(path, "appending", err));
  return Status::Ok();
}

Result<StagedFile> StagedFile::Create(const std::string& path, std::string_view contents) {
  // 0644 for a new file (the umask may take more away); an existing file keeps a stricter mode
  // but never keeps group or world write permission.
  mode_t mode = kPublicFileMode;
  struct stat existing {};
  const bool has_existing = ::stat(path.c_str(), &existing) == 0;
  if (has_existing) mode = existing.st_mode & kPublicFileMode;

  const std::string temp = TempPathFor(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kPublicFileMode);
  if (fd < 0) return IoError(WriteFailure(path, "creating temporary file " + temp, errno));
  FdCloser closer(fd);

  auto fail = [&](std::string_view step, int err) -> Status {
    ::unlink(temp.c_str());
    return IoError(WriteFailure(path, step, err));
  };
  if (has_existing && ::fchmod(fd, mode) != 0) return fail("setting the file mode", errno);
  if (const int err = WriteAll(fd, contents); err != 0) return fail("writing", err);
  if (::fsync(fd) != 0) return fail("fsync", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail("fstat", errno);
  return StagedFile(path, temp, MtimeNs(st), static_cast<uint64_t>(st.st_ino));
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::exchange(other.temp_path_, std::string())),
      mtime_ns_(other.mtime_ns_),
      inode_(other.inode_) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    Discard();
    path_ = std::move(other.path_);
    temp_path_ = std::exchange(other.temp_path_, std::string());
    mtime_ns_ = other.mtime_ns_;
    inode_ = other.inode_;
  }
  return *this;
}

StagedFile::~StagedFile() { Discard(); }

void StagedFile::Discard() {
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

Status StagedFile::Publish() {
  if (temp_path_.empty()) {
    return Internal(fmt::format("StagedFile for {} published twice or after Discard", path_));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    Discard();
    return IoError(WriteFailure(path_, "renaming the temporary file over it", err));
  }
  temp_path_.clear();
  return SyncDirectory(DirOf(path_));
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  auto staged = StagedFile::Create(path, contents);
  if (!staged.ok()) return staged.status();
  return staged->Publish();
}

Result<std::optional<FileSnapshot>> ReadFileSnapshot(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<FileSnapshot>();
    return IoError(fmt::format("could not open {} for reading: {}; check its permissions", path,
                               ErrnoText(errno)));
  }
  FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return IoError(fmt::format("could not stat {}: {}", path, ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return IoError(fmt::format("{} is not a regular file; move it out of the way", path));
  }
  FileSnapshot snap;
  snap.mtime_ns = MtimeNs(st);
  snap.inode = static_cast<uint64_t>(st.st_ino);
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(fmt::format("could not read {}: {}; check the file and its permissions", path,
                                 ErrnoText(errno)));
    }
    if (n == 0) break;
    snap.contents.append(buf, static_cast<size_t>(n));
  }
  return std::optional<FileSnapshot>(std::move(snap));
}

Result<std::optional<std::string>> ReadFileIfExists(const std::string& path) {
  auto snap = ReadFileSnapshot(path);
  if (!snap.ok()) return snap.status();
  if (!snap->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move((*snap)->contents));
}

}  // namespace ha
