// `health-analytics seed`: realistic synthetic users and healthmetrics (docs/synthetic.h), written
// as mongoexport-style relaxed Extended JSON lines (--out DIR) or into the database.
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
#include "cli/seed_sink.h"
#include "core/time.h"
#include "docs/ejson.h"
#include "docs/synthetic.h"

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

int SeedIntoFiles(const SeedOptions& options, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "health-analytics seed: cannot create the folder %s: %s (check --out)\n",
                 dir.c_str(), ec.message().c_str());
    return 2;
  }
  const std::string users_path = (std::filesystem::path(dir) / "users.jsonl").string();
  const std::string metrics_path = (std::filesystem::path(dir) / "healthmetrics.jsonl").string();
  using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;
  File users(std::fopen(users_path.c_str(), "wb"), &std::fclose);
  if (users == nullptr) {
    std::fprintf(stderr, "health-analytics seed: cannot create %s: %s\n", users_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  File metrics(std::fopen(metrics_path.c_str(), "wb"), &std::fclose);
  if (metrics == nullptr) {
    std::fprintf(stderr, "health-analytics seed: cannot create %s: %s\n", metrics_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  FileSink sink(users.get(), metrics.get());
  GenerateSeedData(options, &sink);
  if (!sink.Flush() || std::fclose(users.release()) != 0 || std::fclose(metrics.release()) != 0) {
    std::fprintf(stderr, "health-analytics seed: error writing into %s: %s\n", dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "health-analytics seed: wrote %d users to %s and %lld documents to %s\n",
               options.users, users_path.c_str(), static_cast<long long>(sink.metric_count()),
               metrics_path.c_str());
  return 0;
}

// Without --out: into SOURCE_COLLECTION and USERS_COLLECTION of the configured database, in
// unordered bulk inserts of 1,000 documents. `updatedAt` is set as the upstream app sets it (the
// write time of each day, never after --now). Exit 3 when no server can be selected.
int SeedIntoDatabase(const SeedOptions& options, const FlagValues& flags) {
  auto config = LoadConfig(flags, ConfigScope::kFull, /*require_mongo=*/true);
  if (!config.ok()) {
    std::fprintf(stderr, "health-analytics seed: %s\n", config.status().message().c_str());
    return 2;
  }
  auto store = Store::Open(StoreOptionsFrom(*config));
  if (!store.ok()) {
    std::fprintf(stderr, "health-analytics seed: %s\n", store.status().message().c_str());
    return 2;
  }
  if (Status st = (*store)->Ping(); !st.ok()) {
    std::fprintf(stderr, "health-analytics seed: cannot reach the database: %s\n",
                 st.message().c_str());
    return st.code() == StatusCode::kUnavailable ? 3 : 1;
  }
  StoreSeedSink sink(**store);
  GenerateSeedData(options, &sink);
  if (Status st = sink.Finish(); !st.ok()) {
    std::fprintf(stderr, "health-analytics seed: %s\n", st.message().c_str());
    return st.code() == StatusCode::kUnavailable ? 3 : 1;
  }
  std::fprintf(stderr,
               "health-analytics seed: inserted %zu users into %s and %lld documents into %s "
               "(database %s)\n",
               sink.ids().size(), config->users_collection.c_str(),
               static_cast<long long>(sink.metric_count()), config->source_collection.c_str(),
               config->mongo_db_name.c_str());
  return 0;
}

}  // namespace

int RunSeed(int argc, char** argv) {
  CLI::App app("Generate realistic synthetic users and healthmetrics documents.",
               "health-analytics seed");
  int users = 0, days = 0;
  uint64_t seed = 1;
  std::string now_text, out_dir;
  app.add_option("--users", users, "number of users (required)")
      ->required()
      ->check(CLI::Range(0, 10'000'000))
      ->type_name("N");
  app.add_option("--days", days, "days of data per user, ending today (required)")
      ->required()
      ->check(CLI::Range(0, 36'500))
      ->type_name("D");
  app.add_option("--seed", seed,
                 "random seed: the same seed, users, days and --now give the "
                 "same bytes (default 1)")
      ->type_name("S");
  app.add_option("--now", now_text,
                 "the clock as an ISO-8601 instant: the last day of data and the latest write "
                 "time (default: the system clock)")
      ->type_name("TS");
  app.add_option("--out", out_dir,
                 "write DIR/users.jsonl and DIR/healthmetrics.jsonl (relaxed Extended JSON lines, "
                 "as mongoexport writes them); the folder is created if needed")
      ->type_name("DIR");
  FlagValues flags;
  AddConfigFlags(app, ConfigScope::kFull, &flags);
  app.footer(R"(
Users: some without goals, some with partial or odd goals. Healthmetrics: one document per user
per logged day, with a weekly rhythm, missing days and fields, activity zeros, spikes, a slow
weight drift and about 1% invalid values (a string, a NaN, an out-of-range value, a wearable
heartRate), so that `compute --dead-letters` has something to report.

Without --out the documents go into the configured database (MONGO_URI, MONGO_DB_NAME,
SOURCE_COLLECTION, USERS_COLLECTION), in bulk inserts; NaN values are stored as the string
"NaN" there, because FerretDB cannot store NaN (docs/TEST-SERVERS.md).

Exit codes: 0 success; 1 a file or the database could not be written; 2 usage error; 3 no
server could be selected within 30 s.
)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  SeedOptions options;
  options.users = users;
  options.days = days;
  options.seed = seed;
  if (now_text.empty()) {
    options.now = NowMillis();
  } else {
    auto now = ParseInstant(now_text);
    if (!now.ok()) {
      std::fprintf(stderr, "health-analytics seed: --now: %s\n", now.status().message().c_str());
      return 2;
    }
    options.now = *now;
  }
  if (out_dir.empty()) return SeedIntoDatabase(options, flags);
  return SeedIntoFiles(options, out_dir);
}

}  // namespace ha::cli
