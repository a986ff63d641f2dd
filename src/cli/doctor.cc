// doctor: pre-flight checks, each with a verdict and, when it fails, the fix.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "checkpoint/atomic_file.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/runner.h"
#include "store/store.h"

namespace ha::cli {
namespace {

class Report {
 public:
  void Pass(const std::string& what) { std::printf("[ ok ] %s\n", what.c_str()); }
  void Warn(const std::string& what, const std::string& fix) {
    std::printf("[warn] %s\n       fix: %s\n", what.c_str(), fix.c_str());
  }
  void Fail(const std::string& what, const std::string& fix) {
    ++failures_;
    std::printf("[FAIL] %s\n       fix: %s\n", what.c_str(), fix.c_str());
  }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

// Whether the engine can create and write files in `dir` (created if missing).
bool Writable(const std::string& dir, mode_t mode, std::string* why) {
  if (const std::error_code ec = CreateDirectories(dir, mode)) {
    *why = ec.message();
    return false;
  }
  if (access(dir.c_str(), W_OK) != 0) {
    *why = "not writable by this user";
    return false;
  }
  return true;
}

void CheckIndexes(AdminStore& store, Report& r) {
  std::vector<IndexInfo> indexes;
  if (Status st = store.CheckIndexes(&indexes); !st.ok()) {
    r.Fail("indexes: " + st.message(), "check the user's listIndexes permission");
  } else {
    for (const auto& i : indexes) {
      const std::string what = fmt::format("index {} {} on {}", i.name, i.key_json, i.collection);
      if (i.present)
        r.Pass(what);
      else if (i.name == "analytics_ttl")
        r.Warn(what + " is missing (expired documents are then removed by the daily recompute)",
               "`health-analytics indexes` (servers without TTL support, like FerretDB, refuse "
               "it; that is fine)");
      else
        r.Fail(what + " is missing", "run `health-analytics indexes`");
    }
  }
}

void CheckQueryPlans(AdminStore& store, Report& r) {
  for (auto [kind, what] : {std::pair{"poll", "the polling query (updatedAt, _id)"},
                            {"history", "the history read (userId, date)"}}) {
    auto plan = store.ExplainQuery(kind);
    if (!plan.ok())
      r.Warn(fmt::format("{}: explain failed: {}", what, plan.status().message()),
             "check the user's permissions for explain");
    else if (!plan->reported)
      r.Warn(fmt::format("{}: the server's explain does not report a query plan (FerretDB "
                         "does not)",
                         what),
             "nothing to do on FerretDB; on MongoDB this means explain was refused");
    else if (plan->uses_index)
      r.Pass(fmt::format("{} uses an index: {}", what, plan->summary));
    else
      r.Fail(fmt::format("{} scans the collection: {}", what, plan->summary),
             "run `health-analytics indexes`");
  }
}

void CheckCheckpoint(const Config& c, Report& r) {
  CheckpointStore checkpoint(c.checkpoint_location);
  auto state = checkpoint.Load();
  if (!state.ok()) {
    r.Fail("checkpoint: " + state.status().message(), "see the message; docs/OPERATIONS.md");
  } else if (!state->watermark) {
    r.Pass(fmt::format("checkpoint: none yet in {} (the first batch reads the last {} days)",
                       c.checkpoint_location, c.initial_lookback_days));
  } else {
    const double lag = (NowMillis() - *state->watermark) / 1000.0;
    r.Pass(fmt::format("checkpoint: watermark {}, lag {:.0f} s, next batch {}",
                       FormatInstant(*state->watermark), lag, state->next_batch_id));
    if (checkpoint.LooksLikeOldJobLocalTime())
      r.Warn(
          "the watermark has no time zone and no sidecar: probably the old job's file, "
          "written in local time but read as UTC",
          "rewrite it with an explicit Z: `health-analytics checkpoint reset --to <UTC time>`");
  }
  auto lock = CheckpointLock::ProbeLock(c.checkpoint_location);
  if (lock.ok())
    r.Pass(lock->held ? "lock: held by " + lock->holder + " (an engine is running)"
                      : std::string("lock: free"));
}

void CheckFolders(const Config& c, Report& r) {
  // Created with the modes the engine gives them (see checkpoint/atomic_file.h).
  for (auto [name, dir, mode] :
       {std::tuple{"CHECKPOINT_LOCATION", c.checkpoint_location, kPrivateDirMode},
        {"LOG_DIRECTORY", c.log_directory, kPublicDirMode},
        {"METRICS_DIRECTORY", c.metrics_directory, kPublicDirMode},
        {"DLQ_DIRECTORY", c.dlq_directory, kPrivateDirMode}}) {
    std::string why;
    if (Writable(dir, mode, &why))
      r.Pass(fmt::format("{} {} is writable", name, dir));
    else
      r.Fail(fmt::format("{} {}: {}", name, dir, why),
             fmt::format("create it with write access for this user, or set {}", name));
  }
  if (c.health_check_port != 0 && c.health_check_host == "127.0.0.1")
    r.Warn("HTTP endpoints listen on 127.0.0.1 only",
           "container probes need HEALTH_CHECK_HOST=0.0.0.0");
}

Outcome Doctor(CommandContext& ctx) {
  Report r;
  const Config& c = ctx.config;
  r.Pass(fmt::format(
      "configuration: MONGO_URI={} MONGO_DB_NAME={} collections {}/{}/{}, every {:g} s, "
      "checkpoint {}, SERVICE_TOKEN {}",
      RedactUri(c.mongo_uri), c.mongo_db_name, c.source_collection, c.analytics_collection,
      c.users_collection, c.batch_interval_seconds, c.checkpoint_location,
      c.service_token.empty() ? "unset" : "set (***)"));
  auto version = ctx.db().ServerVersion();
  if (!version.ok()) {
    r.Fail("database: " + version.status().message(),
           UnreachableAdvice(version.status().message()));
    // No server (3), or another failure of the checks (1).
    return Outcome::Reported(Status(version.status().code() == StatusCode::kUnavailable
                                        ? StatusCode::kUnavailable
                                        : StatusCode::kInternal,
                                    version.status().message()));
  }
  r.Pass("database: connected, server version " + *version);
  CheckIndexes(ctx.db(), r);
  CheckQueryPlans(ctx.db(), r);
  CheckCheckpoint(c, r);
  CheckFolders(c, r);
  std::printf("%s\n", r.failures() == 0 ? "all checks passed"
                                        : fmt::format("{} check(s) failed", r.failures()).c_str());
  if (r.failures() == 0) return Status::Ok();
  return Outcome::Reported(
      Status(StatusCode::kFailedPrecondition, fmt::format("{} check(s) failed", r.failures())));
}

}  // namespace

int RunDoctor(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "doctor";
  spec.description = "Pre-flight checks: configuration, database, indexes, checkpoint, folders.";
  // A configuration the engine would refuse is reported by the runner like for the engine
  // (exit 2), naming the variable.
  spec.needs = [] { return Needs{.store = true}; };
  spec.work = Doctor;
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
