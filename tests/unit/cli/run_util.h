// Running the real binary (HA_BINARY) from tests, in a private temporary folder.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ha::testing {

// A fresh folder under $TMPDIR, removed at the end of the test. Commands run inside it, so a
// .env in the repository cannot leak into them.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ha-cli-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  std::string line;
  while (std::getline(s, line)) lines.push_back(line);
  return lines;
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `HA_BINARY <args>` in `dir` with stdin from `stdin_path` (or /dev/null), the analytics
// variables of the environment cleared, then `env` ("NAME=value ...") set.
inline RunResult RunBinary(const TempDir& dir, const std::string& args,
                           const std::string& stdin_path = "/dev/null",
                           const std::string& env = "") {
  const std::string out = dir / ".stdout", err = dir / ".stderr";
  const std::string cmd =
      "cd '" + dir.path().string() +
      "' && env -u HISTORY_DAYS -u ZERO_IS_MISSING -u RESULT_TTL_DAYS -u TREND_THRESHOLD_PERCENT "
      "-u ANOMALY_Z_THRESHOLD -u ANOMALY_MIN_BASELINE -u ANOMALY_MIN_DEVIATION_PERCENT " +
      env + " '" + std::string(HA_BINARY) + "' " + args + " < '" + stdin_path + "' > '" + out +
      "' 2> '" + err + "'";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace ha::testing
