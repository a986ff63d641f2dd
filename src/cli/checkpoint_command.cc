// checkpoint show | reset (--to TS | --days N): needs no database.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/runner.h"

namespace ha::cli {
namespace {

struct ResetFlags {
  CLI::App* command = nullptr;
  std::string to;
  int days = -1;
};

Outcome Reset(CheckpointStore& store, const ResetFlags& reset) {
  if (reset.to.empty() && reset.days < 0)
    return InvalidArgument("checkpoint reset: give --to TS or --days N");
  Instant ts = 0;
  if (!reset.to.empty()) {
    auto parsed = ParseInstant(reset.to);
    if (!parsed.ok()) return InvalidArgument("checkpoint reset --to: " + parsed.status().message());
    ts = *parsed;
  } else {
    ts = NowMillis() - static_cast<int64_t>(reset.days) * kMillisPerDay;
  }
  // A file that cannot be written is a failure of the work (exit 1), not of the configuration.
  if (Status st = store.ResetTo(ts); !st.ok()) return Status(StatusCode::kIo, st.message());
  std::printf(
      "watermark reset to %s in %s: the next batch re-reads documents updated at or "
      "after it\n",
      FormatInstant(ts).c_str(), store.watermark_path().c_str());
  return Status::Ok();
}

Outcome Show(const CheckpointStore& store) {
  auto state = store.Load();
  if (!state.ok()) return state.status();
  const auto& s = *state;
  std::printf("checkpoint location: %s\n", store.dir().c_str());
  std::printf("watermark:           %s\n",
              s.watermark ? FormatInstant(*s.watermark).c_str() : "none (first run)");
  if (s.watermark)
    std::printf("checkpoint lag:      %.1f s\n", (NowMillis() - *s.watermark) / 1000.0);
  std::printf("resume from:         %s\n", ToString(s.resume_from));
  if (s.cursor)
    std::printf("cursor:              (%s, %s)\n", FormatInstant(s.cursor->updated_at).c_str(),
                s.cursor->id.ToHex().c_str());
  std::printf("next batch id:       %lld\n", static_cast<long long>(s.next_batch_id));
  if (s.last_recompute_day)
    std::printf("last daily recompute: %s\n",
                FormatInstant(StartOf(*s.last_recompute_day)).substr(0, 10).c_str());
  auto probe = CheckpointLock::ProbeLock(store.dir());
  std::printf("lock:                %s\n",
              probe.ok() ? (probe->held ? ("held by " + probe->holder).c_str() : "free")
                         : probe.status().message().c_str());
  return Status::Ok();
}

}  // namespace

int RunCheckpoint(int argc, char** argv) {
  ResetFlags reset;
  CommandSpec spec;
  spec.name = "checkpoint";
  spec.description = "Show or reset the checkpoint in CHECKPOINT_LOCATION.";
  spec.config_flags = false;  // only --checkpoint-location
  spec.add_flags = [&](CLI::App& app, FlagValues& flags) {
    app.require_subcommand(1);
    app.add_option_function<std::string>(
        "--checkpoint-location",
        [&flags](const std::string& v) { flags["CHECKPOINT_LOCATION"] = v; },
        "checkpoint folder (env CHECKPOINT_LOCATION, default ./spark-checkpoints)");
    app.add_subcommand("show", "print the watermark, cursor and batch id");
    reset.command = app.add_subcommand(
        "reset", "rewrite the watermark so the next batch re-reads from that instant");
    auto* to_opt = reset.command->add_option("--to", reset.to,
                                             "an ISO-8601 instant, e.g. 2025-11-13T00:00:00Z");
    auto* days_opt = reset.command->add_option("--days", reset.days, "N days before now")
                         ->check(CLI::NonNegativeNumber);
    to_opt->excludes(days_opt);
  };
  spec.work = [&](CommandContext& ctx) {
    CheckpointStore store(ctx.config.checkpoint_location);
    return reset.command->parsed() ? Reset(store, reset) : Show(store);
  };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
