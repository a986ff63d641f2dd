// run, once, indexes, recompute: the commands that talk to the database.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <optional>
#include <span>

#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/monitoring.h"
#include "cli/runner.h"
#include "core/version.h"
#include "engine/engine.h"
#include "engine/loop.h"
#include "observe/batch_log.h"
#include "observe/dead_letters.h"
#include "store/store.h"

namespace ha::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void LogBatch(const BatchReport& r, double next_interval) {
  if (r.failed) {
    spdlog::error("batch {} failed after {} ms: {}; retrying in {:g} s (checkpoint unchanged)",
                  r.batch_id, r.processing_time_ms(), fmt::join(r.errors, "; "), next_interval);
    return;
  }
  spdlog::info(
      "batch {}: {} docs read, {} users recomputed{}{}, {} written ({} inserted, {} updated, {} "
      "deleted, {} unchanged), {} dead letters, watermark {} -> {}, {} ms{}{}",
      r.batch_id, r.records_processed, r.counts.users,
      r.recompute_users ? fmt::format(" ({} by the daily recompute)", r.recompute_users) : "",
      r.deferred_users
          ? fmt::format(" ({} left to the recompute after the backlog)", r.deferred_users)
          : "",
      r.counts.written(), r.counts.inserted, r.counts.updated, r.counts.deleted, r.counts.unchanged,
      r.counts.dead_letters, r.watermark_from ? FormatInstant(*r.watermark_from) : "none",
      r.watermark_to ? FormatInstant(*r.watermark_to) : "none", r.processing_time_ms(),
      r.more_pending ? " (more pending)" : "",
      next_interval > 0 ? fmt::format(", next in {:g} s", next_interval) : "");
}

// A failed database step, keeping its code (kUnavailable: no server could be selected, exit 3).
Status CannotReach(const Status& st, const Config& config) {
  return Status(st.code(),
                fmt::format("cannot reach the database {} at {}: {}", config.mongo_db_name,
                            RedactUri(config.mongo_uri), st.message()));
}

// A batch or a recompute that failed: exit 3 when no server could be selected, else 1.
Status WorkFailed(StatusCode code, std::string message) {
  return Status(code == StatusCode::kUnavailable ? StatusCode::kUnavailable : StatusCode::kInternal,
                std::move(message));
}

constexpr const char* kNowHelp =
    "freeze the batch clock at this instant (ISO-8601; tests and backfills)";

Outcome Once(CommandContext& ctx) {
  EngineComponents& e = *ctx.engine;
  if (Status st = e.store->Ping(); !st.ok()) return CannotReach(st, e.config);
  (void)CreateIndexesLogged(*e.store);  // warnings only; the batch needs no index
  auto report = e.engine->RunBatch(ctx.NowOrClock(), /*finish_recompute=*/true);
  if (!report.ok()) return report.status();
  e.batch_log->Append(*report);
  ctx.monitoring->OnBatch(*report, 0);
  LogBatch(*report, 0);  // says why it failed
  if (report->failed)
    return Outcome::Reported(
        WorkFailed(e.engine->last_error_code(), fmt::format("batch {} failed", report->batch_id)));
  return Status::Ok();
}

void LogSession(const SessionSummary& summary) {
  spdlog::info(
      "stopped after {} batches ({} failed) in {:.1f} s: {} docs read, {} users recomputed, {} "
      "analytics documents written, {} dead letters; watermark {}{}",
      summary.batches, summary.failed_batches, (NowMillis() - summary.started) / 1000.0,
      summary.records_processed, summary.counts.users, summary.counts.written(),
      summary.counts.dead_letters,
      summary.last_watermark ? FormatInstant(*summary.last_watermark) : "unchanged",
      summary.abandoned ? " (the batch in flight was abandoned before writing; the next run "
                          "replays it)"
                        : "");
}

Outcome Run(CommandContext& ctx) {
  EngineComponents& e = *ctx.engine;
  InstallSignalHandlers();
  e.engine->SetStopFlag(&g_stop);
  spdlog::info("health-analytics {} running: database {} on {}, every {:g} s, checkpoint {}",
               kVersion, e.config.mongo_db_name, RedactUri(e.config.mongo_uri),
               e.config.batch_interval_seconds, e.config.checkpoint_location);
  // Indexes: tried at start-up; an unreachable server is not fatal for `run`.
  if (e.store->Ping().ok()) (void)CreateIndexesLogged(*e.store);

  LoopOptions loop;
  loop.interval_seconds = e.config.batch_interval_seconds;
  loop.adaptive = e.config.adaptive_polling;
  loop.min_interval_seconds = e.config.min_batch_interval_seconds;
  loop.frozen_now = ctx.now;
  SessionSummary summary;
  summary.started = NowMillis();
  Status st = RunLoop(
      *e.engine, loop, g_stop,
      [&](const BatchReport& r, double next) {
        e.batch_log->Append(r);
        ctx.monitoring->OnBatch(r, next);
        LogBatch(r, next);
      },
      &summary);
  if (!st.ok()) return st;
  LogSession(summary);
  return Status::Ok();
}

Outcome Indexes(CommandContext& ctx) {
  if (Status st = ctx.db().Ping(); !st.ok()) return CannotReach(st, ctx.config);
  return Outcome::Reported(CreateIndexesLogged(ctx.db()));  // logged with its warnings
}

Outcome Recompute(CommandContext& ctx, const std::string& user_hex) {
  std::optional<ObjectId> user;
  if (!user_hex.empty() && !(user = ObjectId::FromHex(user_hex)))
    return InvalidArgument(
        fmt::format("--user '{}' is not a user id: expected 24 hex digits", user_hex));
  EngineComponents& e = *ctx.engine;
  if (Status st = e.store->Ping(); !st.ok()) return CannotReach(st, e.config);
  const Instant now = ctx.NowOrClock();
  auto state = e.checkpoint->Load();
  const int64_t batch_id = state.ok() ? state->next_batch_id : 0;
  UsersProcessed work;
  const Instant started = NowMillis();
  Status st =
      user ? e.engine->RecomputeUsers(std::span<const ObjectId>(&*user, 1), now, batch_id, &work)
           : e.engine->RecomputeAll(now, batch_id, &work);
  // recompute has no checkpoint to replay from, and only acknowledged writes were announced:
  // what it changed goes out whether or not it finished (the runner flushes the events).
  if (ctx.events) ctx.events->OnBatchCommitted(batch_id);
  if (!st.ok()) return WorkFailed(st.code(), "recompute failed: " + st.message());
  spdlog::info(
      "recomputed {} users in {} ms: {} inserted, {} updated, {} deleted, {} unchanged, {} dead "
      "letters",
      work.counts.users, NowMillis() - started, work.counts.inserted, work.counts.updated,
      work.counts.deleted, work.counts.unchanged, work.counts.dead_letters);
  return Status::Ok();
}

}  // namespace

int RunEngine(int argc, char** argv) {
  const bool once = std::string_view(argv[0]) == "once";
  CommandSpec spec;
  spec.name = once ? "once" : "run";
  spec.description = once
                         ? "One batch (after the daily recompute, if due), then exit."
                         : "The daemon: a batch every BATCH_INTERVAL_SECONDS until SIGINT/SIGTERM.";
  spec.now_help = kNowHelp;
  // Metrics, health, the textfile; HTTP endpoints for `run` only.
  spec.needs = [once] {
    return Needs{.engine = true,
                 .lock = true,
                 .monitoring = once ? MonitoringNeed::kMetrics : MonitoringNeed::kMetricsAndHttp,
                 .events = true};
  };
  spec.work = once ? Once : Run;
  return RunCommand(spec, argc, argv);
}

int RunIndexes(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "indexes";
  spec.description = "Create the recommended indexes (docs/OPERATIONS.md), then exit.";
  spec.needs = [] { return Needs{.store = true}; };
  spec.work = Indexes;
  return RunCommand(spec, argc, argv);
}

int RunRecompute(int argc, char** argv) {
  std::string user_hex;
  CommandSpec spec;
  spec.name = "recompute";
  spec.description =
      "Recompute every user with analytics or data in the horizon (or one user) now. Applies "
      "deletions at once. Does not take the checkpoint lock or move the checkpoint.";
  spec.now_help = kNowHelp;
  spec.add_flags = [&](CLI::App& app, FlagValues&) {
    app.add_option("--user", user_hex, "recompute only this user (24 hex digits)");
  };
  spec.needs = [] { return Needs{.engine = true, .events = true}; };
  spec.work = [&](CommandContext& ctx) { return Recompute(ctx, user_hex); };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
