// The engine's batch steps for the Spark runner (health_analytics/spark.py): the driver's
// Driver (plan, then commit or abandon) and the executors' process_users. The steps are the
// engine's own (engine/plan.h, process_users.h, commit.h); this file only moves their inputs
// and outputs across the Python boundary and does what `health-analytics once` does around
// them (the lock, the batch log, the metrics file, the dead-letter log).
#include <bson/bson.h>
#include <fmt/format.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/lock.h"
#include "cli/config.h"
#include "cli/engine_setup.h"
#include "cli/monitoring.h"
#include "cli/runner.h"
#include "core/object_id.h"
#include "core/time.h"
#include "engine/batch_context.h"
#include "engine/commit.h"
#include "engine/plan.h"
#include "engine/process_users.h"
#include "store/store.h"

namespace nb = nanobind;

namespace {

// The Python exceptions, one per exit code of the CLI (spark.py maps them back).
struct ConfigError : std::runtime_error {  // exit 2
  using std::runtime_error::runtime_error;
};
struct UnavailableError : std::runtime_error {  // exit 3
  using std::runtime_error::runtime_error;
};
struct LockedError : std::runtime_error {  // exit 4
  using std::runtime_error::runtime_error;
};
struct BatchError : std::runtime_error {  // exit 1
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Throw(const ha::Status& st, const std::string& prefix = "") {
  const std::string message = prefix + st.message();
  switch (st.code()) {
    case ha::StatusCode::kInvalidArgument:
      throw ConfigError(message);
    case ha::StatusCode::kUnavailable:
      throw UnavailableError(message);
    case ha::StatusCode::kAlreadyLocked:
      throw LockedError(message);
    default:
      throw BatchError(message);
  }
}

using Dict = std::map<std::string, int64_t>;

Dict CountsDict(const ha::WorkCounts& c) {
  return {{"users", c.users},
          {"computed", c.computed},
          {"inserted", c.inserted},
          {"updated", c.updated},
          {"deleted", c.deleted},
          {"unchanged", c.unchanged},
          {"dead_letters", c.dead_letters}};
}

ha::WorkCounts CountsFrom(const Dict& d) {
  auto at = [&d](const char* k) -> int64_t {
    auto it = d.find(k);
    if (it == d.end()) throw nb::value_error(fmt::format("results: counts lack '{}'", k).c_str());
    return it->second;
  };
  return {at("users"),   at("computed"),  at("inserted"),    at("updated"),
          at("deleted"), at("unchanged"), at("dead_letters")};
}

Dict PhasesDict(const ha::BatchPhases& p) {
  Dict d;
  for (const auto& [name, us] : p.Named()) d[std::string(name) + "_us"] = us;
  return d;
}

ha::BatchPhases PhasesFrom(const Dict& d) {
  auto at = [&d](const char* k) -> int64_t {
    auto it = d.find(k);
    return it == d.end() ? 0 : it->second;
  };
  ha::BatchPhases p;
  p.read_us = at("read_us");
  p.compute_us = at("compute_us");
  p.write_us = at("write_us");
  return p;
}

// A dead letter as a dict of plain values, so the driver records exactly what the executor's
// engine produced (no JSON re-encoding of the value).
nb::dict LetterDict(const ha::DeadLetter& l) {
  nb::dict d;
  d["recorded_at"] = l.recorded_at;
  d["batch_id"] = l.batch_id;
  d["doc_id"] = l.doc_id;
  d["user_id"] = l.user_id;
  d["updated_at"] = l.updated_at ? nb::cast(*l.updated_at) : nb::none();
  d["field"] = l.field;
  d["reason"] = l.reason;
  d["value_json"] = l.value_json;
  return d;
}

ha::DeadLetter LetterFrom(nb::handle h) {
  nb::dict d = nb::cast<nb::dict>(h);
  ha::DeadLetter l;
  l.recorded_at = nb::cast<int64_t>(d["recorded_at"]);
  l.batch_id = nb::cast<int64_t>(d["batch_id"]);
  l.doc_id = nb::cast<std::string>(d["doc_id"]);
  l.user_id = nb::cast<std::string>(d["user_id"]);
  if (!d["updated_at"].is_none()) l.updated_at = nb::cast<int64_t>(d["updated_at"]);
  l.field = nb::cast<std::string>(d["field"]);
  l.reason = nb::cast<std::string>(d["reason"]);
  l.value_json = nb::cast<std::string>(d["value_json"]);
  return l;
}

// An executor's dead letters, kept for the driver (which writes them to its log, once).
class CollectedLetters final : public ha::DeadLetterSink {
 public:
  bool Record(const ha::DeadLetter& letter) override {
    letters.push_back(letter);
    return true;
  }
  std::vector<ha::DeadLetter> letters;
};

// The analytics documents the executor's writes changed, as relaxed Extended JSON (the
// AnalyticsChange's fields: every field but _id, createdAt and __v).
class CollectedChanges final : public ha::ChangeListener {
 public:
  void OnUserChanged(const ha::ObjectId&, ha::Instant,
                     std::vector<ha::AnalyticsChange>&& changes) override {
    for (const ha::AnalyticsChange& c : changes) {
      size_t length = 0;
      char* json = bson_as_relaxed_extended_json(c.fields.get(), &length);
      if (json == nullptr) continue;  // libbson writes every type the engine writes
      documents.emplace_back(json, length);
      bson_free(json);
    }
  }
  void OnBatchCommitted(int64_t) override {}
  void OnBatchAbandoned(int64_t) override {}
  std::vector<std::string> documents;
};

// process_users: what an executor runs for its partition's users.
nb::dict ProcessUsersForPython(const std::string& context_json, const nb::list& user_hex_ids,
                               const std::map<std::string, std::string>& store_config) {
  auto context = ha::BatchContextFromJson(context_json);
  if (!context.ok()) throw nb::value_error(context.status().message().c_str());
  std::vector<ha::ObjectId> users;
  for (nb::handle h : user_hex_ids) {
    const std::string hex = nb::cast<std::string>(h);
    auto id = ha::ObjectId::FromHex(hex);
    if (!id)
      throw nb::value_error(fmt::format("'{}' is not a user id (24 hex digits)", hex).c_str());
    users.push_back(*id);
  }
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  ha::StoreOptions so;
  auto get = [&store_config](const char* k, std::string* out) {
    if (auto it = store_config.find(k); it != store_config.end()) *out = it->second;
  };
  get("MONGO_URI", &so.uri);
  get("MONGO_DB_NAME", &so.database);
  get("SOURCE_COLLECTION", &so.source_collection);
  get("ANALYTICS_COLLECTION", &so.analytics_collection);
  get("USERS_COLLECTION", &so.users_collection);
  std::string ops_per_command;
  get("WRITE_OPS_PER_COMMAND", &ops_per_command);
  if (!ops_per_command.empty()) so.write_ops_per_command = std::atoi(ops_per_command.c_str());  // 0: by server
  so.write_commands_in_flight = context->options.io_concurrency;
  if (so.uri.empty() || so.database.empty())
    throw nb::value_error("process_users: the configuration lacks MONGO_URI or MONGO_DB_NAME");
  auto store = ha::MongoStore::Open(so);
  if (!store.ok()) Throw(store.status());

  CollectedLetters letters;
  CollectedChanges changes;
  ha::UsersProcessed done;
  ha::Status st;
  {
    nb::gil_scoped_release release;
    st = ha::ProcessUsers(*context, users, **store, letters, &changes, nullptr, &done);
  }
  if (!st.ok()) Throw(st, "process users: ");
  nb::list dead;
  for (const auto& l : letters.letters) dead.append(LetterDict(l));
  nb::dict out;
  out["counts"] = CountsDict(done.counts);
  out["phases"] = PhasesDict(done.time);
  const ha::IoCounts io = (*store)->Io();  // this call's store: what this task sent and read
  nb::dict io_dict;
  io_dict["commands"] = io.commands;
  io_dict["bytes_read"] = io.bytes_read;
  out["io"] = io_dict;
  out["dead_letters"] = dead;
  out["analytics"] = changes.documents;
  return out;
}

// The driver's side of the runner: what `health-analytics once` builds (configuration, lock,
// engine components, monitoring), with the batch cut into plan and commit.
class Driver {
 public:
  // `flags` are configuration values that win over the environment (as the CLI's flags).
  explicit Driver(const std::map<std::string, std::string>& flags) {
    auto config = ha::cli::LoadConfig(flags, ha::cli::ConfigScope::kFull, /*require_mongo=*/true);
    if (!config.ok()) Throw(config.status());
    ha::cli::SetUpLogging(*config);
    auto lock = ha::cli::AcquireCheckpointLock(config->checkpoint_location);
    if (!lock.ok()) Throw(lock.status());
    lock_.emplace(std::move(lock).value());
    auto built = ha::cli::BuildEngineComponents(*config);
    if (!built.ok()) Throw(built.status());
    components_ = std::move(built).value();
    monitoring_ = std::make_unique<ha::cli::EngineMonitoring>(*components_, /*with_http=*/false);
  }

  ~Driver() { Close(); }

  // Releases the lock and the files; the object is spent.
  void Close() {
    monitoring_.reset();
    components_.reset();
    lock_.reset();
  }

  // Like `once`: the server must answer (UnavailableError otherwise); the recommended indexes
  // are created (warnings only).
  void Prepare() {
    auto& e = engine();
    ha::Status st;
    {
      nb::gil_scoped_release release;
      st = e.store->Ping();
      if (st.ok()) (void)ha::cli::CreateIndexesLogged(*e.store);
    }
    if (!st.ok()) Throw(st, "cannot reach the database: ");
  }

  // The plan step. Returns (context JSON, the users as hex, the batch id).
  std::tuple<std::string, std::vector<std::string>, int64_t> Plan(std::optional<int64_t> now,
                                                                  bool finish_recompute) {
    auto& e = engine();
    if (plan_) Abandon("a new plan replaced it");
    report_ = ha::BatchReport{};
    report_.start_time = ha::NowMillis();
    report_.clock = now.value_or(ha::NowMillis());
    io_start_ = e.store->Io();
    auto loaded = e.checkpoint->Load();
    if (!loaded.ok()) {
      if (loaded.status().code() == ha::StatusCode::kInvalidArgument) Throw(loaded.status());
      Fail(loaded.status());
    }
    report_.batch_id = loaded->next_batch_id;
    report_.watermark_from = loaded->watermark;
    plan_ = std::make_unique<ha::BatchPlan>();
    plan_->context = ha::BatchContext{loaded->next_batch_id, report_.clock,
                                      ha::cli::EngineOptionsFrom(e.config)};
    ha::Status planned;
    {
      nb::gil_scoped_release release;
      planned = ha::PlanBatch(*loaded, finish_recompute, *e.store, *e.dead_letters, &memory_,
                              plan_.get());
    }
    report_.records_processed = plan_->records_processed;
    report_.counts += plan_->counts;
    report_.deferred_users = plan_->deferred_users;
    report_.more_pending = plan_->deferred_users > 0;
    report_.phases += plan_->phases;
    if (!planned.ok()) Fail(planned);
    std::vector<std::string> users;
    users.reserve(plan_->users.size());
    for (const auto& u : plan_->users) users.push_back(u.ToHex());
    return {ha::BatchContextToJson(plan_->context), std::move(users), plan_->context.batch_id};
  }

  // The commit step, after every task of the plan succeeded: records the executors' dead
  // letters (the log skips those written before), saves the checkpoint, writes the batch log
  // and the metrics file. Returns the batch's summary.
  nb::dict Commit(int64_t batch_id, const nb::list& results) {
    auto& e = engine();
    CheckPlan(batch_id);
    ha::IoCounts executor_io;
    for (nb::handle r : results) {
      nb::dict d = nb::cast<nb::dict>(r);
      ha::WorkCounts counts = CountsFrom(nb::cast<Dict>(d["counts"]));
      counts.dead_letters = 0;  // counted below: what the driver's log wrote
      for (nb::handle l : nb::cast<nb::list>(d["dead_letters"]))
        if (e.dead_letters->Record(LetterFrom(l))) ++counts.dead_letters;
      report_.counts += counts;
      report_.phases += PhasesFrom(nb::cast<Dict>(d["phases"]));
      if (d.contains("io")) {  // the executors' commands and bytes, added to the driver's
        nb::dict io = nb::cast<nb::dict>(d["io"]);
        executor_io.commands += nb::cast<int64_t>(io["commands"]);
        executor_io.bytes_read += nb::cast<int64_t>(io["bytes_read"]);
      }
    }
    report_.recompute_users = static_cast<int64_t>(plan_->slice.size());
    plan_->users = {};
    ha::Status st;
    {
      nb::gil_scoped_release release;
      st = ha::CommitBatch(*plan_, *e.checkpoint, nullptr, &memory_, &report_);
    }
    if (!st.ok()) Fail(st);
    plan_.reset();
    const ha::IoCounts driver_io = e.store->Io() - io_start_;
    report_.io.commands = driver_io.commands + executor_io.commands;
    report_.io.bytes_read = driver_io.bytes_read + executor_io.bytes_read;
    report_.end_time = ha::NowMillis();
    Publish();
    nb::dict out;
    out["batch_id"] = report_.batch_id;
    out["records_processed"] = report_.records_processed;
    out["counts"] = CountsDict(report_.counts);
    out["watermark_to"] =
        report_.watermark_to ? nb::cast(ha::FormatInstant(*report_.watermark_to)) : nb::none();
    out["more_pending"] = report_.more_pending;
    return out;
  }

  // A task failed (after Spark's retries): the batch is logged as failed and the checkpoint
  // stays where it was, so the next plan replays it.
  void Abandon(const std::string& why) {
    if (!plan_) return;
    plan_.reset();
    report_.failed = true;
    report_.errors.push_back(why);
    report_.end_time = ha::NowMillis();
    Publish();
  }

 private:
  ha::cli::EngineComponents& engine() {
    if (!components_) throw std::logic_error("the Driver is closed");
    return *components_;
  }

  void CheckPlan(int64_t batch_id) {
    if (!plan_ || plan_->context.batch_id != batch_id)
      throw nb::value_error(fmt::format("no plan in flight for batch {}", batch_id).c_str());
  }

  // The batch log line, the metrics file and the console line, as `once` writes them.
  void Publish() {
    components_->batch_log->Append(report_);
    monitoring_->OnBatch(report_, 0);
    if (report_.failed) {
      spdlog::error("batch {} failed after {} ms: {} (checkpoint unchanged)", report_.batch_id,
                    report_.processing_time_ms(), fmt::join(report_.errors, "; "));
      return;
    }
    const ha::WorkCounts& c = report_.counts;
    spdlog::info(
        "batch {}: {} docs read, {} users recomputed, {} written ({} inserted, {} updated, {} "
        "deleted, {} unchanged), {} dead letters, watermark {} -> {}, {} ms",
        report_.batch_id, report_.records_processed, c.users, c.written(), c.inserted, c.updated,
        c.deleted, c.unchanged, c.dead_letters,
        report_.watermark_from ? ha::FormatInstant(*report_.watermark_from) : "none",
        report_.watermark_to ? ha::FormatInstant(*report_.watermark_to) : "none",
        report_.processing_time_ms());
  }

  // Fails the batch in flight (or the load before it) and raises.
  [[noreturn]] void Fail(const ha::Status& st) {
    plan_ = std::make_unique<ha::BatchPlan>();  // so Abandon logs it
    Abandon(st.message());
    Throw(st, fmt::format("batch {} failed: ", report_.batch_id));
  }

  std::optional<ha::CheckpointLock> lock_;
  std::unique_ptr<ha::cli::EngineComponents> components_;
  std::unique_ptr<ha::cli::EngineMonitoring> monitoring_;
  ha::EngineMemory memory_;
  std::unique_ptr<ha::BatchPlan> plan_;
  ha::BatchReport report_;
  ha::IoCounts io_start_;  // the driver's store before the plan
};

}  // namespace

void BindSteps(nb::module_& m) {
  nb::exception<ConfigError>(m, "ConfigError", PyExc_ValueError);
  nb::exception<UnavailableError>(m, "UnavailableError", PyExc_RuntimeError);
  nb::exception<LockedError>(m, "LockedError", PyExc_RuntimeError);
  nb::exception<BatchError>(m, "BatchError", PyExc_RuntimeError);
  nb::class_<Driver>(m, "Driver")
      .def(nb::init<const std::map<std::string, std::string>&>(),
           nb::arg("flags") = std::map<std::string, std::string>{})
      .def("prepare", &Driver::Prepare)
      .def("plan", &Driver::Plan, nb::arg("now_ms") = nb::none(),
           nb::arg("finish_recompute") = false)
      .def("commit", &Driver::Commit, nb::arg("batch_id"), nb::arg("results"))
      .def("abandon", &Driver::Abandon, nb::arg("why"))
      .def("close", &Driver::Close);
  m.def("process_users", &ProcessUsersForPython, nb::arg("context_json"), nb::arg("user_hex_ids"),
        nb::arg("store_config"),
        "Executors: ProcessUsers for these users with the driver's context; returns counts, "
        "phases, dead letters (dicts) and the analytics documents written (relaxed Extended "
        "JSON).");
}
