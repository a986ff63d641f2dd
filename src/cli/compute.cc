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
#include "codec/analytics_doc.h"
#include "codec/ejson.h"
#include "codec/user.h"

namespace ha::cli {

OfflineCompute::OfflineCompute(const ComputeOptions& options, std::string* dead_letters)
    : options_(options), dead_letters_(dead_letters), recorded_at_(FormatInstant(options.now)) {}

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
    DeadLetter(decoded_.doc_id, decoded_.user_id, decoded_.updated_at, issue.field, issue.reason,
               issue.value_json);
  if (!decoded_.usable) return Status::Ok();
  auto [it, inserted] =
      user_index_.try_emplace(decoded_.user, static_cast<uint32_t>(user_ids_.size()));
  if (inserted) user_ids_.push_back(decoded_.user);
  entries_.push_back(Entry{it->second, decoded_.record});
  return Status::Ok();
}

void OfflineCompute::DeadLetter(std::string_view doc_id, std::string_view user_id,
                                const std::optional<Instant>& updated_at, std::string_view field,
                                std::string_view reason, std::string_view value_json) {
  ++counts_.dead_letters;
  if (dead_letters_ == nullptr) return;
  std::string& out = *dead_letters_;
  out += R"({"recorded_at":")";
  out += recorded_at_;
  out += R"(","batch_id":0,"doc_id":)";
  if (doc_id.empty()) {
    out += "null";
  } else {
    AppendJsonString(doc_id, &out);
  }
  out += R"(,"user_id":)";
  if (user_id.empty()) {
    out += "null";
  } else {
    AppendJsonString(user_id, &out);
  }
  out += R"(,"updated_at":)";
  // ISO-8601 for years 0000..9999; beyond, the milliseconds since the epoch as a number.
  constexpr Instant kYear0 = -62167219200000, kYear10000 = 253402300800000;
  if (updated_at && *updated_at >= kYear0 && *updated_at < kYear10000) {
    out += '"';
    out += FormatInstant(*updated_at);
    out += '"';
  } else if (updated_at) {
    out += std::to_string(*updated_at);
  } else {
    out += "null";
  }
  out += R"(,"field":)";
  AppendJsonString(field, &out);
  out += R"(,"reason":)";
  AppendJsonString(reason, &out);
  out += R"(,"value":)";
  out += value_json.empty() ? std::string_view("null") : value_json;
  out += "}\n";
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
        DeadLetter("", hex, std::nullopt, field, "overflow", "null");
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

}  // namespace

int RunCompute(int argc, char** argv) {
  CLI::App app(
      "Compute analytics offline: healthmetrics Extended JSON lines on stdin -> "
      "analytics Extended JSON lines on stdout.",
      "health-analytics compute");
  std::string now_text, users_path, dead_letters_path;
  app.add_option("--now", now_text,
                 "the clock as an ISO-8601 instant (e.g. 2025-11-20T10:00:00Z); default: the "
                 "system clock. Sets today, calculatedAt and expiresAt")
      ->type_name("TS");
  app.add_option("--users", users_path,
                 "users collection as Extended JSON lines (goals under goals.*); without it "
                 "everyone has the default goals")
      ->type_name("FILE");
  app.add_option("--dead-letters", dead_letters_path,
                 "write invalid fields here as JSON lines (recorded_at, batch_id, doc_id, "
                 "user_id, updated_at, field, reason, value); without it they are only counted")
      ->type_name("FILE");
  FlagValues flags;
  AddConfigFlags(app, ConfigScope::kAnalyticsOnly, &flags);
  app.footer(kFooter);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto config = LoadConfig(flags, ConfigScope::kAnalyticsOnly, false);
  if (!config.ok()) {
    std::fprintf(stderr, "health-analytics compute: %s\n", config.status().message().c_str());
    return 2;
  }
  ComputeOptions options;
  options.analytics = config->analytics;
  options.result_ttl_days = config->result_ttl_days;
  if (now_text.empty()) {
    options.now = NowMillis();
  } else {
    auto now = ParseInstant(now_text);
    if (!now.ok()) {
      std::fprintf(stderr, "health-analytics compute: --now: %s\n", now.status().message().c_str());
      return 2;
    }
    options.now = *now;
  }

  auto users_file = Open(users_path, "rb");
  if (!users_path.empty() && users_file == nullptr) {
    std::fprintf(stderr,
                 "health-analytics compute: cannot read the users file %s: %s (check --users)\n",
                 users_path.c_str(), std::strerror(errno));
    return 2;
  }
  auto dead_file = Open(dead_letters_path, "wb");
  if (!dead_letters_path.empty() && dead_file == nullptr) {
    std::fprintf(stderr,
                 "health-analytics compute: cannot create the dead-letter file %s: %s (check "
                 "--dead-letters)\n",
                 dead_letters_path.c_str(), std::strerror(errno));
    return 2;
  }

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
  auto report = [&](const char* source, int64_t line, const Status& s) {
    ++bad_lines;
    std::fprintf(stderr, "health-analytics compute: %s line %lld: %s; line skipped\n", source,
                 static_cast<long long>(line), s.message().c_str());
  };
  auto blank = [](std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
  };

  if (users_file != nullptr) {
    LineReader reader(users_file.get());
    std::string_view line;
    while (reader.Next(&line)) {
      if (blank(line)) continue;
      if (Status s = job.AddUserLine(line); !s.ok())
        report(users_path.c_str(), reader.line_number(), s);
    }
    if (reader.error()) {
      std::fprintf(stderr, "health-analytics compute: error reading %s: %s\n", users_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }

  {
    LineReader reader(stdin);
    std::string_view line;
    while (reader.Next(&line)) {
      if (blank(line)) continue;
      if (Status s = job.AddHealthMetricLine(line); !s.ok())
        report("stdin", reader.line_number(), s);
      drain_dead(false);
    }
    if (reader.error()) {
      std::fprintf(stderr, "health-analytics compute: error reading stdin: %s\n",
                   std::strerror(errno));
      return 1;
    }
  }

  bool ok = true;
  job.Finish([&](std::string_view block) {
    if (std::fwrite(block.data(), 1, block.size(), stdout) != block.size()) ok = false;
  });
  drain_dead(true);
  if (std::fflush(stdout) != 0) ok = false;
  if (!ok)
    std::fprintf(stderr, "health-analytics compute: error writing stdout: %s\n",
                 std::strerror(errno));
  if (dead_writer && !dead_writer->Flush()) {
    std::fprintf(stderr, "health-analytics compute: error writing %s: %s\n",
                 dead_letters_path.c_str(), std::strerror(errno));
    ok = false;
  }
  const ComputeCounts& c = job.counts();
  std::fprintf(
      stderr,
      "health-analytics compute: %lld documents (%lld without userId, %lld repeated), "
      "%lld users, %lld analytics documents, %lld dead letters%s, %d unparsable lines\n",
      static_cast<long long>(c.documents), static_cast<long long>(c.skipped),
      static_cast<long long>(c.duplicates), static_cast<long long>(c.users),
      static_cast<long long>(c.analytics), static_cast<long long>(c.dead_letters),
      dead_file == nullptr && c.dead_letters > 0 ? " (not recorded: use --dead-letters)" : "",
      bad_lines);
  return ok && bad_lines == 0 ? 0 : 1;
}

}  // namespace ha::cli
