// `health-analytics seed`: realistic synthetic users and healthmetrics (codec/synthetic.h), written
// as mongoexport-style relaxed Extended JSON lines (--out DIR) or into the database.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/jsonl.h"
#include "cli/runner.h"
#include "cli/seed_sink.h"
#include "codec/ejson.h"
#include "codec/synthetic.h"
#include "core/time.h"

namespace ha::cli {
namespace {

// Streams the generated documents into two JSON-lines files.
class FileSink : public SeedSink {
 public:
  FileSink(std::FILE* users, std::FILE* metrics) : users_(users), metrics_(metrics) {}
  void OnUser(const bson_t* doc) override { Append(doc, &users_); }
  void OnMetric(const bson_t* doc) override {
    Append(doc, &metrics_);
    ++metric_count_;
  }
  bool Flush() {
    const bool users_ok = users_.Flush();  // both are flushed, whatever the first returns
    const bool metrics_ok = metrics_.Flush();
    return users_ok && metrics_ok;
  }
  int64_t metric_count() const { return metric_count_; }

 private:
  static void Append(const bson_t* doc, BlockWriter* w) {
    AppendRelaxedJson(doc, &w->buffer());
    w->buffer().push_back('\n');
    w->MaybeFlush();
  }
  BlockWriter users_, metrics_;
  int64_t metric_count_ = 0;
};

Outcome SeedIntoFiles(const SeedOptions& options, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return InvalidArgument(
        fmt::format("cannot create the folder {}: {} (check --out)", dir, ec.message()));
  const std::string users_path = (std::filesystem::path(dir) / "users.jsonl").string();
  const std::string metrics_path = (std::filesystem::path(dir) / "healthmetrics.jsonl").string();
  using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;
  File users(std::fopen(users_path.c_str(), "wb"), &std::fclose);
  if (users == nullptr)
    return InvalidArgument(
        fmt::format("cannot create {}: {} (check --out)", users_path, std::strerror(errno)));
  File metrics(std::fopen(metrics_path.c_str(), "wb"), &std::fclose);
  if (metrics == nullptr)
    return InvalidArgument(
        fmt::format("cannot create {}: {} (check --out)", metrics_path, std::strerror(errno)));
  FileSink sink(users.get(), metrics.get());
  GenerateSeedData(options, &sink);
  if (!sink.Flush() || std::fclose(users.release()) != 0 || std::fclose(metrics.release()) != 0)
    return IoError(fmt::format("error writing into {}: {}", dir, std::strerror(errno)));
  std::fprintf(stderr, "health-analytics seed: wrote %d users to %s and %lld documents to %s\n",
               options.users, users_path.c_str(), static_cast<long long>(sink.metric_count()),
               metrics_path.c_str());
  return Status::Ok();
}

// Without --out: into SOURCE_COLLECTION and USERS_COLLECTION of the configured database, in
// unordered bulk inserts of 1,000 documents. `updatedAt` is set as the upstream app sets it (the
// write time of each day, never after --now). kUnavailable (exit 3) when no server can be
// selected.
Outcome SeedIntoDatabase(const SeedOptions& options, CommandContext& ctx) {
  const Config& config = ctx.config;
  if (Status st = ctx.db().Ping(); !st.ok())
    return Status(st.code(), "cannot reach the database: " + st.message());
  StoreSeedSink sink(ctx.db());
  GenerateSeedData(options, &sink);
  if (Status st = sink.Finish(); !st.ok())  // a failed write (1), or no server (3)
    return Status(st.code() == StatusCode::kUnavailable ? st.code() : StatusCode::kIo,
                  st.message());
  std::fprintf(stderr,
               "health-analytics seed: inserted %zu users into %s and %lld documents into %s "
               "(database %s)\n",
               sink.ids().size(), config.users_collection.c_str(),
               static_cast<long long>(sink.metric_count()), config.source_collection.c_str(),
               config.mongo_db_name.c_str());
  return Status::Ok();
}

constexpr const char* kSeedFooter = R"(
Users: some without goals, some with partial or odd goals. Healthmetrics: one document per user
per logged day, with a weekly rhythm, missing days and fields, activity zeros, spikes, a slow
weight drift and about 1% invalid values (a string, a NaN, an out-of-range value, a wearable
heartRate), so that `compute --dead-letters` has something to report.

Without --out the documents go into the configured database (MONGO_URI, MONGO_DB_NAME,
SOURCE_COLLECTION, USERS_COLLECTION), in bulk inserts; NaN values are stored as the string
"NaN" there, because FerretDB cannot store NaN (docs/TEST-SERVERS.md).

Exit codes: 0 success; 1 a file or the database could not be written; 2 usage error; 3 no
server could be selected within 30 s.
)";

struct SeedFlags {
  SeedOptions options;
  std::string out_dir;
};

void AddSeedFlags(CLI::App& app, SeedFlags& f) {
  app.add_option("--users", f.options.users, "number of users (required)")
      ->required()
      ->check(CLI::Range(0, 10'000'000))
      ->type_name("N");
  app.add_option("--days", f.options.days, "days of data per user, ending today (required)")
      ->required()
      ->check(CLI::Range(0, 36'500))
      ->type_name("D");
  app.add_option("--seed", f.options.seed,
                 "random seed: the same seed, users, days and --now give the "
                 "same bytes (default 1)")
      ->type_name("S");
  app.add_option("--out", f.out_dir,
                 "write DIR/users.jsonl and DIR/healthmetrics.jsonl (relaxed Extended JSON lines, "
                 "as mongoexport writes them); the folder is created if needed")
      ->type_name("DIR");
}

}  // namespace

int RunSeed(int argc, char** argv) {
  SeedFlags f;
  f.options.seed = 1;
  CommandSpec spec;
  spec.name = "seed";
  spec.description = "Generate realistic synthetic users and healthmetrics documents.";
  spec.footer = kSeedFooter;
  spec.now_help =
      "the clock as an ISO-8601 instant: the last day of data and the latest write time "
      "(default: the system clock)";
  spec.add_flags = [&](CLI::App& app, FlagValues&) { AddSeedFlags(app, f); };
  spec.needs = [&] { return Needs{.store = f.out_dir.empty()}; };
  spec.work = [&](CommandContext& ctx) {
    f.options.now = ctx.NowOrClock();
    return f.out_dir.empty() ? SeedIntoDatabase(f.options, ctx)
                             : SeedIntoFiles(f.options, f.out_dir);
  };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
