#include "tests/support/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace ha::testing {
namespace {

std::vector<std::string> ChildEnv(const Env& env) {
  std::vector<std::string> out;
  for (const char* keep : {"PATH", "HOME", "LANG", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                           "TSAN_OPTIONS", "LSAN_OPTIONS"})
    if (const char* v = std::getenv(keep)) out.push_back(std::string(keep) + "=" + v);
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t StartChild(const std::vector<std::string>& args, const Env& env, const std::string& cwd,
                 const std::string& stdin_path, const std::string& out_path,
                 const std::string& err_path) {
  std::vector<std::string> argv_s = {HA_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = ChildEnv(env);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    const int in = open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

RunResult RunHa(const std::vector<std::string>& args, const Env& env, const std::string& cwd,
                const std::string& stdin_path) {
  static std::atomic<int> counter{0};
  const std::string base = cwd + "/.run" + std::to_string(counter++);
  const pid_t pid = StartChild(args, env, cwd, stdin_path, base + ".out", base + ".err");
  RunResult r;
  r.exit_code = Wait(pid);
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

RunResult RunBinary(const TempDir& dir, const std::string& args, const std::string& stdin_path,
                    const std::string& env) {
  Env vars;
  for (const std::string& w : Words(env)) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("RunBinary env: not NAME=value: " + w);
    vars[w.substr(0, eq)] = w.substr(eq + 1);
  }
  return RunHa(Words(args), vars, dir.path(), stdin_path);
}

pid_t Spawn(const std::vector<std::string>& args, const Env& env, const std::string& cwd) {
  static std::atomic<int> counter{0};
  const std::string base = cwd + "/.spawn" + std::to_string(counter++);
  return StartChild(args, env, cwd, "", base + ".out", base + ".err");
}

int Wait(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;  // not our child, or already reaped
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace ha::testing
