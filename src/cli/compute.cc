// `health-analytics compute`: the kernel without a database (engine spec section 5).
#include "cli/compute.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>

#include "analytics/metrics.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/jsonl.h"
#include "cli/runner.h"
#include "codec/analytics_doc.h"
#include "codec/ejson.h"
#include "codec/user.h"
#include "observe/dead_letters.h"

namespace ha::cli {

OfflineCompute::OfflineCompute(const ComputeOptions& options, std::string* dead_letters)
    : options_(options), dead_letters_(dead_letters) {}

Status OfflineCompute::AddUserLine(std::string_view line) {
  if (Status s = ParseExtendedJsonLineInto(line, doc_.get()); !s.ok()) return s;
  ObjectId id;
  Goals goals;
  if (DecodeUser(doc_.get(), &id, &goals)) goals_[id] = goals;
  return Status::Ok();
}

bool OfflineCompute::VersionSet::Insert(const ObjectId& id,
                                        const std::optional<Instant>& updated_at) {
  if (size_ * 2 >= slots_.size()) Grow();
  const uint8_t state = updated_at ? 1 : 2;
  const Instant t = updated_at.value_or(0);
  const size_t mask = slots_.size() - 1;
  size_t i = (ObjectIdHash{}(id) ^ static_cast<size_t>(t) * 0x9E3779B97F4A7C15ULL) & mask;
  for (;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.state == 0) {
      s = Slot{id, state, t};
      ++size_;
      return true;
    }
    if (s.state == state && s.updated_at == t && s.id == id) return false;
  }
}

void OfflineCompute::VersionSet::Grow() {
  std::vector<Slot> old(std::max<size_t>(1024, slots_.size() * 2));
  old.swap(slots_);
  size_ = 0;
  for (const Slot& s : old) {
    if (s.state == 0) continue;
    Insert(s.id, s.state == 1 ? std::optional<Instant>(s.updated_at) : std::nullopt);
  }
}

bool OfflineCompute::FirstVersion() {
  const DecodedHealthMetric& d = decoded_;
  if (d.id_is_object_id) {
    return versions_.Insert(d.record.id, d.updated_at);
  }
  if (d.doc_id.empty()) return true;  // no _id: no identity to compare
  std::string key = d.doc_id;
  key.push_back('\x1f');
  if (d.updated_at) key += std::to_string(*d.updated_at);
  return string_versions_.insert(std::move(key)).second;
}

Status OfflineCompute::AddHealthMetricLine(std::string_view line) {
  if (Status s = ParseExtendedJsonLineInto(line, doc_.get()); !s.ok()) return s;
  ++counts_.documents;
  DecodeHealthMetric(doc_.get(), options_.analytics, &decoded_);
  if (decoded_.skip) {
    ++counts_.skipped;
    return Status::Ok();
  }
  if (!FirstVersion()) {
    ++counts_.duplicates;
    return Status::Ok();
  }
  for (const FieldIssue& issue : decoded_.issues)
    RecordDeadLetter(decoded_.doc_id, decoded_.user_id, decoded_.updated_at, issue.field,
                     issue.reason, issue.value_json);
  if (!decoded_.usable) return Status::Ok();
  auto [it, inserted] =
      user_index_.try_emplace(decoded_.user, static_cast<uint32_t>(user_ids_.size()));
  if (inserted) user_ids_.push_back(decoded_.user);
  entries_.push_back(Entry{it->second, decoded_.record});
  return Status::Ok();
}

void OfflineCompute::RecordDeadLetter(std::string_view doc_id, std::string_view user_id,
                                      const std::optional<Instant>& updated_at,
                                      std::string_view field, std::string_view reason,
                                      std::string_view value_json) {
  ++counts_.dead_letters;
  if (dead_letters_ == nullptr) return;
  // The engine's encoder, so that both write the same line for the same letter.
  letter_.recorded_at = options_.now;
  letter_.batch_id = 0;
  letter_.doc_id = doc_id;
  letter_.user_id = user_id;
  letter_.updated_at = updated_at;
  letter_.field = field;
  letter_.reason = reason;
  letter_.value_json = value_json;
  DeadLetterLog::AppendJson(letter_, dead_letters_);
  dead_letters_->push_back('\n');
}

void OfflineCompute::Finish(const std::function<void(std::string_view)>& emit) {
  const size_t n_users = user_ids_.size();
  counts_.users = static_cast<int64_t>(n_users);

  // Group the records by user, keeping input order within a user (counting sort).
  std::vector<uint32_t> start(n_users + 1, 0);
  for (const Entry& e : entries_) ++start[e.user + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<DayRecord> records(entries_.size());
  {
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    for (const Entry& e : entries_) records[next[e.user]++] = e.record;
  }
  entries_.clear();
  entries_.shrink_to_fit();

  std::vector<uint32_t> order(n_users);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return user_ids_[a] < user_ids_[b]; });

  WriteStamp stamp;
  stamp.calculated_at = options_.now;
  stamp.result_ttl_days = options_.result_ttl_days;
  stamp.spark_job_id = "health-analytics:compute";
  stamp.processing_duration_ms = 0;

  const Day today = DayOf(options_.now);
  const Goals defaults = DefaultGoals();
  constexpr size_t kBlock = size_t{1} << 20;
  std::string out;
  out.reserve(kBlock + kBlock / 2);
  bson_t* doc = doc_.get();
  for (uint32_t u : order) {
    const ObjectId& user = user_ids_[u];
    const auto g = goals_.find(user);
    const std::span<const DayRecord> span(records.data() + start[u], start[u + 1] - start[u]);
    const UserAnalytics result =
        ComputeUser(span, g != goals_.end() ? g->second : defaults, today, options_.analytics);

    std::array<const MetricAnalytics*, kMetricCount> by_metric{};
    for (const MetricAnalytics& m : result.metrics) by_metric[static_cast<size_t>(m.metric)] = &m;
    for (Metric metric : kMetricsByName) {
      const MetricAnalytics* m = by_metric[static_cast<size_t>(metric)];
      if (m == nullptr) continue;
      for (int r = 0; r < kRangeCount; ++r) {
        bson_reinit(doc);
        AppendAnalyticsDocument(doc, user, *m, r, stamp);
        AppendRelaxedJson(doc, &out);
        out.push_back('\n');
        ++counts_.analytics;
      }
    }
    if (!result.overflow.empty()) {
      const std::string hex = user.ToHex();
      for (Metric metric : result.overflow) {
        std::string field = "metrics.";
        field += MetricInfoOf(metric).name;
        RecordDeadLetter("", hex, std::nullopt, field, "overflow", "null");
      }
    }
    if (out.size() >= kBlock) {
      emit(out);
      out.clear();
    }
  }
  if (!out.empty()) emit(out);
}

namespace {

constexpr const char* kFooter = R"(
Reads healthmetrics documents as MongoDB Extended JSON lines (canonical or relaxed, as
mongoexport writes them) from stdin and writes one analytics document per line to stdout, in
relaxed Extended JSON with the analytics contract's section 4 shape without _id
(calculatedAt = createdAt = updatedAt = the clock, __v 0, metadata.sparkJobId
"health-analytics:compute"), ordered by userId (lowercase hex), metricType (ASCII), then
7day, 30day, 90day.

Each input line is one document (lines are not merged by _id); of two lines with the same
(updatedAt, _id) the earlier wins; in the users file the later line for an _id wins. Blank
lines are skipped; documents with a missing or null userId are skipped silently. A line that
is not valid JSON is reported on stderr with its line number and skipped.

Analytics settings come from the flags above, then the environment (HISTORY_DAYS, ...), then
./.env. MONGO_* variables are not needed.

Exit codes: 0 success; 1 an unparsable line was skipped (the output is otherwise complete) or
an output could not be written; 2 usage or configuration error.
)";

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// Opens `path` (nullptr in the result when the path is empty or cannot be opened).
File Open(const std::string& path, const char* mode) {
  return {path.empty() ? nullptr : std::fopen(path.c_str(), mode), &std::fclose};
}

struct ComputeFlags {
  std::string users_path, dead_letters_path;
};

// Feeds the non-blank lines of `file` to `add`; a line it refuses is reported on stderr with
// its number and skipped (counted in *bad_lines). `after_line` runs after each line. kIo on a
// read error.
Status FeedLines(std::FILE* file, const std::string& source,
                 const std::function<Status(std::string_view)>& add,
                 const std::function<void()>& after_line, int* bad_lines) {
  LineReader reader(file);
  std::string_view line;
  while (reader.Next(&line)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank
    if (Status s = add(line); !s.ok()) {
      ++*bad_lines;
      std::fprintf(stderr, "health-analytics compute: %s line %lld: %s; line skipped\n",
                   source.c_str(), static_cast<long long>(reader.line_number()),
                   s.message().c_str());
    }
    after_line();
  }
  if (reader.error())
    return IoError(fmt::format("error reading {}: {}", source, std::strerror(errno)));
  return Status::Ok();
}

void PrintSummary(const ComputeCounts& c, bool recorded, int bad_lines) {
  std::fprintf(stderr,
               "health-analytics compute: %lld documents (%lld without userId, %lld repeated), "
               "%lld users, %lld analytics documents, %lld dead letters%s, %d unparsable lines\n",
               static_cast<long long>(c.documents), static_cast<long long>(c.skipped),
               static_cast<long long>(c.duplicates), static_cast<long long>(c.users),
               static_cast<long long>(c.analytics), static_cast<long long>(c.dead_letters),
               !recorded && c.dead_letters > 0 ? " (not recorded: use --dead-letters)" : "",
               bad_lines);
}

Outcome Compute(CommandContext& ctx, const ComputeFlags& flags) {
  ComputeOptions options;
  options.analytics = ctx.config.analytics;
  options.result_ttl_days = ctx.config.result_ttl_days;
  options.now = ctx.NowOrClock();
  auto users_file = Open(flags.users_path, "rb");
  if (!flags.users_path.empty() && users_file == nullptr)
    return InvalidArgument(fmt::format("cannot read the users file {}: {} (check --users)",
                                       flags.users_path, std::strerror(errno)));
  auto dead_file = Open(flags.dead_letters_path, "wb");
  if (!flags.dead_letters_path.empty() && dead_file == nullptr)
    return InvalidArgument(
        fmt::format("cannot create the dead-letter file {}: {} (check --dead-letters)",
                    flags.dead_letters_path, std::strerror(errno)));

  std::string dead_buffer;
  OfflineCompute job(options, dead_file != nullptr ? &dead_buffer : nullptr);
  std::optional<BlockWriter> dead_writer;
  if (dead_file != nullptr) dead_writer.emplace(dead_file.get());
  auto drain_dead = [&](bool force) {
    if (!dead_writer || (!force && dead_buffer.size() < (size_t{1} << 20))) return;
    dead_writer->Write(dead_buffer);
    dead_buffer.clear();
  };
  int bad_lines = 0;
  if (users_file != nullptr) {
    Status st = FeedLines(
        users_file.get(), flags.users_path, [&](std::string_view l) { return job.AddUserLine(l); },
        [] {}, &bad_lines);
    if (!st.ok()) return st;
  }
  Status st = FeedLines(
      stdin, "stdin", [&](std::string_view l) { return job.AddHealthMetricLine(l); },
      [&] { drain_dead(false); }, &bad_lines);
  if (!st.ok()) return st;

  bool written = true;
  job.Finish([&](std::string_view block) {
    if (std::fwrite(block.data(), 1, block.size(), stdout) != block.size()) written = false;
  });
  drain_dead(true);
  if (std::fflush(stdout) != 0) written = false;
  if (!written) st = IoError(fmt::format("error writing stdout: {}", std::strerror(errno)));
  if (dead_writer && !dead_writer->Flush() && st.ok())
    st =
        IoError(fmt::format("error writing {}: {}", flags.dead_letters_path, std::strerror(errno)));
  PrintSummary(job.counts(), dead_file != nullptr, bad_lines);
  if (!st.ok()) return st;
  // Each skipped line was reported above; the output is otherwise complete (exit 1, not 2).
  if (bad_lines > 0)
    return Outcome::Reported(Status(StatusCode::kFailedPrecondition,
                                    fmt::format("{} unparsable lines skipped", bad_lines)));
  return Status::Ok();
}

}  // namespace

int RunCompute(int argc, char** argv) {
  ComputeFlags flags;
  CommandSpec spec;
  spec.name = "compute";
  spec.description =
      "Compute analytics offline: healthmetrics Extended JSON lines on stdin -> analytics "
      "Extended JSON lines on stdout.";
  spec.footer = kFooter;
  spec.config = ConfigScope::kAnalyticsOnly;
  spec.now_help =
      "the clock as an ISO-8601 instant (e.g. 2025-11-20T10:00:00Z); default: the system clock. "
      "Sets today, calculatedAt and expiresAt";
  spec.add_flags = [&](CLI::App& app, FlagValues&) {
    app.add_option("--users", flags.users_path,
                   "users collection as Extended JSON lines (goals under goals.*); without it "
                   "everyone has the default goals")
        ->type_name("FILE");
    app.add_option("--dead-letters", flags.dead_letters_path,
                   "write invalid fields here as JSON lines (recorded_at, batch_id, doc_id, "
                   "user_id, updated_at, field, reason, value); without it they are only counted")
        ->type_name("FILE");
  };
  spec.work = [&](CommandContext& ctx) { return Compute(ctx, flags); };
  return RunCommand(spec, argc, argv);
}

}  // namespace ha::cli
