#include "cli/runner.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

namespace ha::cli {
namespace {

// Builds what `needs` asks for, in dependency order, into `ctx`. The first failure is returned
// as it should reach the operator (and the exit code).
Status SetUp(const CommandSpec& spec, const Needs& needs, const FlagValues& flags,
             const std::string& now_text, CommandContext& ctx) {
  const bool engine = needs.engine || needs.monitoring != MonitoringNeed::kNone || needs.events;
  const bool store = needs.store || engine;
  if (spec.config) {
    auto config = LoadConfig(flags, *spec.config, /*require_mongo=*/needs.mongo || store);
    if (!config.ok()) return config.status();
    ctx.config = std::move(config).value();
    // LOG_LEVEL and LOG_FORMAT are read in the full scope only.
    if (*spec.config == ConfigScope::kFull) SetUpLogging(ctx.config);
  }
  if (!now_text.empty()) {
    auto now = ParseInstant(now_text);
    if (!now.ok()) return InvalidArgument("--now: " + now.status().message());
    ctx.now = *now;
  }
  // The lock before anything else touches the folders: a second instance changes nothing.
  if (needs.lock) {
    auto lock = AcquireCheckpointLock(ctx.config.checkpoint_location);
    if (!lock.ok()) return lock.status();
    ctx.lock.emplace(std::move(lock).value());
  }
  if (engine) {
    auto built = BuildEngineComponents(ctx.config);
    if (!built.ok()) return built.status();
    ctx.engine = std::move(built).value();
  } else if (store) {
    auto opened = MongoStore::Open(StoreOptionsFrom(ctx.config));
    if (!opened.ok()) return opened.status();
    ctx.store = std::move(opened).value();
  }
  if (needs.monitoring != MonitoringNeed::kNone)
    ctx.monitoring = std::make_unique<EngineMonitoring>(
        *ctx.engine, needs.monitoring == MonitoringNeed::kMetricsAndHttp);
  if (needs.events) {
    auto events =
        StartEvents(*ctx.engine, ctx.monitoring ? &ctx.monitoring->monitor().metrics() : nullptr);
    if (!events.ok()) return events.status();
    ctx.events = std::move(events).value();
  }
  return Status::Ok();
}

void Report(const CommandSpec& spec, const Status& status) {
  std::fprintf(stderr, "health-analytics %s: %s\n", spec.name.c_str(), status.message().c_str());
  const std::string todo = WhatToDo(status, spec.name);
  if (!todo.empty()) std::fprintf(stderr, "  what to do: %s\n", todo.c_str());
}

}  // namespace

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    case StatusCode::kUnavailable:
      return kExitNoServer;
    case StatusCode::kAlreadyLocked:
      return kExitLocked;
    default:
      return kExitFailed;
  }
}

Result<CheckpointLock> AcquireCheckpointLock(const std::string& dir) {
  auto lock = CheckpointLock::Acquire(dir);
  if (lock.ok() || lock.status().code() == StatusCode::kAlreadyLocked) return lock;
  return InvalidArgument(lock.status().message());  // CHECKPOINT_LOCATION is unusable
}

std::string UnreachableAdvice(std::string_view message) {
  std::string advice = "check that the server is up and reachable from this host, and MONGO_URI";
  // What libmongoc reports when the server closes a plain connection (or does not answer it).
  if (message.find("Failed to read 4 bytes") != std::string_view::npos)
    advice +=
        "; a server that requires TLS closes plain connections like this: then MONGO_URI needs "
        "tls=true (and tlsCAFile=<CA file> for a private CA)";
  return advice;
}

std::string WhatToDo(const Status& status, const std::string& command) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return fmt::format(
          "correct it on the command line, in the environment or in ./.env (`health-analytics "
          "{} --help`; the variables are in docs/OPERATIONS.md)",
          command);
    case StatusCode::kUnavailable:
      return UnreachableAdvice(status.message()) + " (`health-analytics doctor` checks both)";
    case StatusCode::kAlreadyLocked:
      return "one engine per CHECKPOINT_LOCATION: stop the other instance first";
    default:
      return "";
  }
}

int RunCommand(const CommandSpec& spec, int argc, char** argv) {
  CLI::App app(spec.description, "health-analytics " + spec.name);
  FlagValues flags;
  std::string now_text;
  if (!spec.now_help.empty()) app.add_option("--now", now_text, spec.now_help)->type_name("TS");
  if (spec.add_flags) spec.add_flags(app, flags);
  if (spec.config && spec.config_flags) AddConfigFlags(app, *spec.config, &flags);
  if (!spec.footer.empty()) app.footer(spec.footer);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the help or the usage error itself.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  Outcome outcome;
  {
    CommandContext ctx;
    const Needs needs = spec.needs ? spec.needs() : Needs{};
    if (Status st = SetUp(spec, needs, flags, now_text, ctx); !st.ok()) {
      outcome = st;
    } else {
      outcome = spec.work(ctx);
    }
    // Delivery is best effort: up to 5 s to send what the last batches queued.
    if (ctx.events) ctx.events->Shutdown(std::chrono::seconds(5));
  }
  if (!outcome.status.ok() && !outcome.reported) Report(spec, outcome.status);
  return ExitCodeFor(outcome.status);
}

}  // namespace ha::cli
