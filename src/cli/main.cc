#include "cli/main.h"

#include <cstdio>
#include <string_view>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/version.h"

namespace ha::cli {
namespace {

constexpr const char* kUsage =
    R"(health-analytics: per-user health analytics from MongoDB, in micro-batches

usage: health-analytics [COMMAND] [OPTIONS]

commands:
  run          the daemon: poll, compute, write, every BATCH_INTERVAL_SECONDS (default)
  once         one batch (after the daily recompute, if due), then exit
  compute      offline: healthmetrics Extended JSON lines on stdin -> analytics on stdout
  checkpoint   show | reset (--to TS | --days N)
  indexes      create the recommended indexes, then exit
  recompute    recompute everyone (or --user ID) now
  seed         realistic synthetic data (--users N --days D [--seed S]) to files or the database
  demo         the embedded default: a local server, sample data and the live engine
  doctor       pre-flight checks, each with a verdict and a fix
  version      print the version

Run `health-analytics COMMAND --help` for a command's options. Configuration comes from
flags, then the environment, then ./.env (see docs/OPERATIONS.md).
)";

}  // namespace

int Main(int argc, char** argv) {
  const std::string_view cmd = argc > 1 ? std::string_view(argv[1]) : std::string_view("run");
  // The command sees argv shifted by one: argv[0] is the command's own name.
  int sub_argc = argc > 1 ? argc - 1 : 1;
  char* run_argv[] = {const_cast<char*>("run"), nullptr};
  char** sub_argv = argc > 1 ? argv + 1 : run_argv;
  if (cmd == "version" || cmd == "--version") {
    std::printf("health-analytics %s\n", kVersion);
    return kExitOk;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (cmd == "compute") return RunCompute(sub_argc, sub_argv);
  if (cmd == "seed") return RunSeed(sub_argc, sub_argv);
  if (cmd == "run" || cmd == "once") return RunEngine(sub_argc, sub_argv);
  if (cmd == "checkpoint") return RunCheckpoint(sub_argc, sub_argv);
  if (cmd == "indexes") return RunIndexes(sub_argc, sub_argv);
  if (cmd == "recompute") return RunRecompute(sub_argc, sub_argv);
  if (cmd == "demo") return RunDemo(sub_argc, sub_argv);
  if (cmd == "doctor") return RunDoctor(sub_argc, sub_argv);
  if (!cmd.empty() && cmd.front() == '-') return RunEngine(argc, argv);  // `run` with flags
  std::fprintf(stderr, "health-analytics: unknown command '%.*s'\n\n%s",
               static_cast<int>(cmd.size()), cmd.data(), kUsage);
  return kExitUsage;
}

}  // namespace ha::cli
