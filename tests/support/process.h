// Running the health-analytics binary (HA_BINARY) from tests, with a clean environment: the
// child gets PATH, HOME, LANG, TZ and the sanitizers' options from this process and nothing
// else (no MONGO_* or other settings of the developer's shell), then the variables the test
// gives.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace ha::testing {

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

using Env = std::map<std::string, std::string>;

// Runs the binary with `args` in `cwd`, stdin from `stdin_path` (or /dev/null), and waits.
RunResult RunHa(const std::vector<std::string>& args, const Env& env, const std::string& cwd,
                const std::string& stdin_path = "");

// The same in a command-line form: `args` and `env` ("NAME=value NAME2=value") are split on
// spaces (no quoting), run in `dir`.
RunResult RunBinary(const TempDir& dir, const std::string& args,
                    const std::string& stdin_path = "/dev/null", const std::string& env = "");

// Starts the binary in the background; its output goes to files in `cwd`.
pid_t Spawn(const std::vector<std::string>& args, const Env& env, const std::string& cwd);

// Waits for a spawned child; returns its exit code (128 + signal when killed, -1 when `pid` is
// no child of ours).
int Wait(pid_t pid);

}  // namespace ha::testing
