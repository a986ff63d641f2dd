// File helpers for the checkpoint tests that act like an operator's shell (`echo ... > file`
// rewrites the same inode in place); the scratch folder is the shared one of tests/support.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"

namespace ha::testing_util {

// The shared scratch folder (tests/support/temp_dir.h).
using ha::testing::TempDir;

// Writes like `echo text > path`: truncates and rewrites the existing file (same inode).
inline void ShellWrite(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  ASSERT_TRUE(out.good()) << "could not write " << path;
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

inline int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

inline ino_t Inode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

inline mode_t Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

// Waits until the file system clock has moved past `path`'s mtime (its granularity is a
// scheduler tick), so that a rewrite gets a different mtime, as it would in real life.
inline void WaitForNewMtime(const std::string& path) {
  const int64_t before = MtimeNs(path);
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::string probe = path + ".mtime-probe";
    ShellWrite(probe, "x");
    const int64_t now = MtimeNs(probe);
    std::filesystem::remove(probe);
    if (now != before) return;
  }
  ADD_FAILURE() << "file system clock did not advance";
}

}  // namespace ha::testing_util
