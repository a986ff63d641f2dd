// One command runner, in the manner of RocksDB's LDBCommand::Run: each command declares what it
// needs and does only its work; the runner parses the flags, loads and validates the
// configuration, builds what was declared, runs the work, tears everything down in reverse
// order, prints a failure once and maps it to the documented exit code.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "checkpoint/lock.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/monitoring.h"
#include "core/status.h"
#include "core/time.h"
#include "events/events.h"
#include "store/store.h"

namespace CLI {
class App;
}

namespace ha::cli {

// The process exit codes (README "Exit codes", docs/OPERATIONS.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,    // a batch failed, compute skipped a line, a file could not be written
  kExitUsage = 2,     // usage or configuration error
  kExitNoServer = 3,  // no server could be selected (never from `run`, which keeps retrying)
  kExitLocked = 4,    // another instance holds the checkpoint lock
};

// The one mapping from a Status to the exit code: OK 0; kInvalidArgument 2; kUnavailable 3;
// kAlreadyLocked 4; any other code 1.
int ExitCodeFor(const Status& status);

// What a command's work ends with. The runner prints a failed status once, unless `reported`:
// the command has told the operator already in its own output (a failed batch's console line,
// doctor's list of checks, compute's skipped lines).
struct Outcome {
  Outcome(Status s = Status::Ok()) : status(std::move(s)) {}  // NOLINT: implicit by design
  static Outcome Reported(Status s) {
    Outcome o(std::move(s));
    o.reported = true;
    return o;
  }
  Status status;
  bool reported = false;
};

enum class MonitoringNeed {
  kNone,
  kMetrics,         // metrics, health verdict and the textfile (`once`)
  kMetricsAndHttp,  // and the HTTP endpoints on HEALTH_CHECK_HOST:HEALTH_CHECK_PORT (`run`)
};

// What a command needs built before its work runs; asked after its flags are parsed.
struct Needs {
  bool mongo = false;   // MONGO_URI and MONGO_DB_NAME must be set
  bool store = false;   // a Store (implies mongo); it connects on first use
  bool engine = false;  // the EngineComponents (implies store)
  bool lock = false;    // the checkpoint lock, held until the work returns
  MonitoringNeed monitoring = MonitoringNeed::kNone;  // needs engine
  bool events = false;  // backend events when configured (needs engine)
};

// What the runner hands to a command's work. Members are destroyed in reverse order: events
// (after a bounded flush), monitoring, the lock, then the engine and the store.
struct CommandContext {
  Config config;                      // validated; the defaults when the command reads no variable
  std::optional<Instant> now;         // --now when given
  std::unique_ptr<MongoStore> store;  // Needs::store without Needs::engine
  std::unique_ptr<EngineComponents> engine;      // Needs::engine
  std::optional<CheckpointLock> lock;            // Needs::lock
  std::unique_ptr<EngineMonitoring> monitoring;  // Needs::monitoring
  std::unique_ptr<EventPublisher> events;        // Needs::events and events configured

  // The store, whichever of `store` and `engine` holds it.
  MongoStore& db() { return engine ? *engine->store : *store; }
  // --now, or the system clock.
  Instant NowOrClock() const { return now.value_or(NowMillis()); }
};

struct CommandSpec {
  std::string name;         // as typed: "once"; messages start "health-analytics once: "
  std::string description;  // the first line of --help
  std::string footer;       // after the options in --help (may be empty)
  // Which variables the command reads (nullopt: none), and whether each gets its flag.
  std::optional<ConfigScope> config = ConfigScope::kFull;
  bool config_flags = true;
  std::string now_help;  // non-empty: a --now TS flag with this help
  // Adds the command's own flags; it may also set configuration values in `flags` (like a
  // --checkpoint-location without the other configuration flags).
  std::function<void(CLI::App& app, FlagValues& flags)> add_flags;
  std::function<Needs()> needs;  // empty: Needs{}
  std::function<Outcome(CommandContext& ctx)> work;
};

// Parses `argv` (argv[0] is the command's name) and runs `spec`: 0 for --help, 2 for a usage
// error (CLI11's message), else ExitCodeFor of the first failure of the set-up or of the work,
// printed once on stderr as "health-analytics <name>: <what happened>" and a line saying what
// to do.
int RunCommand(const CommandSpec& spec, int argc, char** argv);

// CheckpointLock::Acquire for a command: kAlreadyLocked as it is (exit 4); a folder or lock file
// that cannot be created is a configuration error (kInvalidArgument, exit 2).
Result<CheckpointLock> AcquireCheckpointLock(const std::string& dir);

// What to check when the database cannot be reached, given the error's message: the server and
// MONGO_URI, and tls=true when the message is what a TLS-only server's refusal of a plain
// connection looks like.
std::string UnreachableAdvice(std::string_view message);

// The line saying what to do after a failure with this status's code ("" when there is no
// general advice).
std::string WhatToDo(const Status& status, const std::string& command);

}  // namespace ha::cli
