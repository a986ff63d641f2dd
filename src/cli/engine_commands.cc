// run, once, indexes, recompute: the commands that talk to the database.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/monitoring.h"
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

// Exit code for a failed database step: 3 when no server could be selected.
int ExitFor(const Status& st) { return st.code() == StatusCode::kUnavailable ? 3 : 1; }

}  // namespace

int RunEngine(int argc, char** argv) {
  const bool once = std::string_view(argv[0]) == "once";
  CLI::App app(once ? "One batch (after the daily recompute, if due), then exit."
                    : "The daemon: a batch every BATCH_INTERVAL_SECONDS until SIGINT/SIGTERM.",
               once ? "health-analytics once" : "health-analytics run");
  CommonFlags common;
  AddCommonFlags(app, &common, /*with_now=*/true);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageExit(app, e);
  }
  auto env = SetUpEngine(common);
  if (!env.ok()) return ReportSetupError(env.status());
  EngineEnv& e = **env;

  auto lock = CheckpointLock::Acquire(e.config.checkpoint_location);
  if (!lock.ok()) {
    spdlog::error("{}", lock.status().message());
    return lock.status().code() == StatusCode::kAlreadyLocked ? 4 : 2;
  }
  // Metrics, health, the textfile; HTTP endpoints for `run` only.
  EngineMonitoring monitoring(e, /*with_http=*/!once);
  auto events = StartEvents(e, &monitoring.monitor().metrics());
  if (!events.ok()) return ReportSetupError(events.status());
  // Delivery is best effort: on exit, up to 5 s to send what the last batches queued.
  struct FlushEvents {
    EventPublisher* p;
    ~FlushEvents() {
      if (p) p->Shutdown(std::chrono::seconds(5));
    }
  } flush_events{events->get()};

  if (once) {
    if (Status st = e.store->Ping(); !st.ok()) {
      spdlog::error(
          "cannot reach the database: {}; check MONGO_URI ({}) and that the server "
          "is up",
          st.message(), RedactUri(e.config.mongo_uri));
      return ExitFor(st);
    }
    CreateIndexesLogged(*e.store);
    const Instant now = common.now.value_or(NowMillis());
    auto report = e.engine->RunBatch(now, /*finish_recompute=*/true);
    if (!report.ok()) {
      spdlog::error("{}", report.status().message());
      return 2;
    }
    e.batch_log->Append(*report);
    monitoring.OnBatch(*report, 0);
    LogBatch(*report, 0);
    if (report->failed) return e.engine->last_error_code() == StatusCode::kUnavailable ? 3 : 1;
    return 0;
  }

  InstallSignalHandlers();
  e.engine->SetStopFlag(&g_stop);
  spdlog::info("health-analytics {} running: database {} on {}, every {:g} s, checkpoint {}",
               kVersion, e.config.mongo_db_name, RedactUri(e.config.mongo_uri),
               e.config.batch_interval_seconds, e.config.checkpoint_location);
  // Indexes: tried at start-up; an unreachable server is not fatal for `run`.
  if (e.store->Ping().ok()) CreateIndexesLogged(*e.store);

  LoopOptions loop;
  loop.interval_seconds = e.config.batch_interval_seconds;
  loop.adaptive = e.config.adaptive_polling;
  loop.min_interval_seconds = e.config.min_batch_interval_seconds;
  loop.frozen_now = common.now;
  SessionSummary summary;
  summary.started = NowMillis();
  Status st = RunLoop(
      *e.engine, loop, g_stop,
      [&](const BatchReport& r, double next) {
        e.batch_log->Append(r);
        monitoring.OnBatch(r, next);
        LogBatch(r, next);
      },
      &summary);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return 2;
  }
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
  return 0;
}

int RunIndexes(int argc, char** argv) {
  CLI::App app("Create the recommended indexes (engine spec section 6), then exit.",
               "health-analytics indexes");
  CommonFlags common;
  AddCommonFlags(app, &common, /*with_now=*/false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageExit(app, e);
  }
  auto env = SetUpEngine(common);
  if (!env.ok()) return ReportSetupError(env.status());
  EngineEnv& e = **env;
  if (Status st = e.store->Ping(); !st.ok()) {
    spdlog::error("cannot reach the database: {}", st.message());
    return ExitFor(st);
  }
  return CreateIndexesLogged(*e.store) ? 0 : 3;
}

int RunRecompute(int argc, char** argv) {
  CLI::App app(
      "Recompute every user with analytics or data in the horizon (or one user) now. Applies "
      "deletions at once. Does not take the checkpoint lock or move the checkpoint.",
      "health-analytics recompute");
  CommonFlags common;
  AddCommonFlags(app, &common, /*with_now=*/true);
  std::string user_hex;
  app.add_option("--user", user_hex, "recompute only this user (24 hex digits)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageExit(app, e);
  }
  std::optional<ObjectId> user;
  if (!user_hex.empty()) {
    user = ObjectId::FromHex(user_hex);
    if (!user) {
      std::fprintf(stderr, "--user '%s' is not a user id: expected 24 hex digits\n",
                   user_hex.c_str());
      return 2;
    }
  }
  auto env = SetUpEngine(common);
  if (!env.ok()) return ReportSetupError(env.status());
  EngineEnv& e = **env;
  if (Status st = e.store->Ping(); !st.ok()) {
    spdlog::error("cannot reach the database: {}", st.message());
    return ExitFor(st);
  }
  const Instant now = common.now.value_or(NowMillis());
  auto state = e.checkpoint->Load();
  const int64_t batch_id = state.ok() ? state->next_batch_id : 0;
  auto events = StartEvents(e, nullptr);
  if (!events.ok()) return ReportSetupError(events.status());
  UsersProcessed work;
  const Instant started = NowMillis();
  Status st =
      user ? e.engine->RecomputeUsers(std::span<const ObjectId>(&*user, 1), now, batch_id, &work)
           : e.engine->RecomputeAll(now, batch_id, &work);
  if (*events) {
    // recompute has no checkpoint to replay from, and only acknowledged writes were announced:
    // what it changed goes out whether or not it finished.
    (*events)->OnBatchCommitted(batch_id);
    (*events)->Shutdown(std::chrono::seconds(5));
  }
  if (!st.ok()) {
    spdlog::error("recompute failed: {}", st.message());
    return ExitFor(st);
  }
  spdlog::info(
      "recomputed {} users in {} ms: {} inserted, {} updated, {} deleted, {} unchanged, {} dead "
      "letters",
      work.counts.users, NowMillis() - started, work.counts.inserted, work.counts.updated,
      work.counts.deleted, work.counts.unchanged, work.counts.dead_letters);
  return 0;
}

}  // namespace ha::cli
