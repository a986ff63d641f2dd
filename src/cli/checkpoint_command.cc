// checkpoint show | reset (--to TS | --days N): needs no database.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"

namespace ha::cli {

int RunCheckpoint(int argc, char** argv) {
  CLI::App app("Show or reset the checkpoint in CHECKPOINT_LOCATION.",
               "health-analytics checkpoint");
  app.require_subcommand(1);
  std::string location;
  app.add_option("--checkpoint-location", location,
                 "checkpoint folder (env CHECKPOINT_LOCATION, default ./spark-checkpoints)");
  CLI::App* show = app.add_subcommand("show", "print the watermark, cursor and batch id");
  CLI::App* reset = app.add_subcommand(
      "reset", "rewrite the watermark so the next batch re-reads from that instant");
  std::string to;
  int days = -1;
  auto* to_opt = reset->add_option("--to", to, "an ISO-8601 instant, e.g. 2025-11-13T00:00:00Z");
  auto* days_opt =
      reset->add_option("--days", days, "N days before now")->check(CLI::NonNegativeNumber);
  to_opt->excludes(days_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageExit(app, e);
  }
  FlagValues flags;
  if (!location.empty()) flags["CHECKPOINT_LOCATION"] = location;
  auto config = LoadConfig(flags, ConfigScope::kFull, /*require_mongo=*/false);
  if (!config.ok()) {
    std::fprintf(stderr, "health-analytics: %s\n", config.status().message().c_str());
    return 2;
  }
  CheckpointStore store(config->checkpoint_location);

  if (reset->parsed()) {
    if (to.empty() && days < 0) {
      std::fprintf(stderr, "checkpoint reset: give --to TS or --days N\n");
      return 2;
    }
    Instant ts = 0;
    if (!to.empty()) {
      auto parsed = ParseInstant(to);
      if (!parsed.ok()) {
        std::fprintf(stderr, "checkpoint reset --to: %s\n", parsed.status().message().c_str());
        return 2;
      }
      ts = *parsed;
    } else {
      ts = NowMillis() - static_cast<int64_t>(days) * kMillisPerDay;
    }
    if (Status st = store.ResetTo(ts); !st.ok()) {
      std::fprintf(stderr, "health-analytics: %s\n", st.message().c_str());
      return 1;
    }
    std::printf(
        "watermark reset to %s in %s: the next batch re-reads documents updated at or "
        "after it\n",
        FormatInstant(ts).c_str(), store.watermark_path().c_str());
    return 0;
  }

  (void)show;
  auto state = store.Load();
  if (!state.ok()) {
    std::fprintf(stderr, "health-analytics: %s\n", state.status().message().c_str());
    return 2;
  }
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
  return 0;
}

}  // namespace ha::cli
