#include "tests/chaos/writer.h"

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/object_id.h"
#include "core/time.h"

namespace ha::chaos {
namespace {

std::atomic<bool> g_stop{false};
void OnTerm(int) { g_stop.store(true); }

Instant RealNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bson_oid_t ToOid(const ObjectId& id) {
  bson_oid_t oid;
  std::copy(id.bytes.begin(), id.bytes.end(), oid.bytes);
  return oid;
}

// This writer's users for invalid documents: never touched by valid writes or deletes, and
// each (user, date) written exactly once, so every invalid version stays until it is polled.
ObjectId BadUser(int writer, int index) {
  ObjectId id;
  id.bytes[0] = 0xba;
  id.bytes[1] = 0xd0;
  id.bytes[2] = static_cast<uint8_t>(writer);
  id.bytes[10] = static_cast<uint8_t>(index >> 8);
  id.bytes[11] = static_cast<uint8_t>(index);
  return id;
}

class Writer {
 public:
  explicit Writer(const WriterOptions& o) : o_(o), rng_(o.seed) {
    client_ = mongoc_client_new(o.uri.c_str());
    coll_ = mongoc_client_get_collection(client_, o.db.c_str(), "healthmetrics");
    std::ifstream in(o.users_file);
    for (std::string line; std::getline(in, line);) {
      if (auto id = ObjectId::FromHex(line)) users_.push_back(*id);
    }
    log_.open(o.log_file, std::ios::app);
  }
  ~Writer() {
    mongoc_collection_destroy(coll_);
    mongoc_client_destroy(client_);
  }

  int Run() {
    if (users_.empty()) {
      std::fprintf(stderr, "chaos writer: no users in %s\n", o_.users_file.c_str());
      return 2;
    }
    const auto period = std::chrono::duration<double>(1.0 / o_.ops_per_second);
    while (!g_stop.load() && !std::filesystem::exists(o_.stop_file)) {
      const auto start = std::chrono::steady_clock::now();
      const double r = Uniform();
      if (r < o_.invalid_share) {
        Invalid();
      } else if (r < o_.invalid_share + o_.delete_share) {
        Delete();
      } else if (r < o_.invalid_share + o_.delete_share + o_.tie_share) {
        TieBurst();
      } else {
        Upsert(RandomUser(), RandomDay(), Stamp());
      }
      std::this_thread::sleep_until(start + period);
    }
    return 0;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  const ObjectId& RandomUser() { return users_[static_cast<size_t>(Below(int(users_.size())))]; }
  Day Today() const { return DayOf(RealNow()); }
  Day RandomDay() { return Today() - Below(o_.days); }

  // The writer's clock; half the time rounded down to 20 ms, so that parallel writers often
  // stamp the very same millisecond.
  Instant Stamp() {
    Instant t = RealNow() - o_.lag_ms;
    if (Uniform() < 0.5) t -= t % 20;
    return t;
  }

  void Metrics(bson_t* m) {
    // A random subset of the eight metrics, each valid; activity zeros now and then.
    if (Uniform() < 0.8) BSON_APPEND_INT32(m, "steps", Uniform() < 0.1 ? 0 : 2000 + Below(14000));
    if (Uniform() < 0.6) BSON_APPEND_DOUBLE(m, "distance", 0.5 + Below(120) / 10.0);
    if (Uniform() < 0.6) BSON_APPEND_INT32(m, "calories", 1200 + Below(2000));
    if (Uniform() < 0.5) BSON_APPEND_INT32(m, "activeMinutes", Below(120));
    if (Uniform() < 0.4) BSON_APPEND_INT32(m, "heartPoints", Below(60));
    if (Uniform() < 0.3) BSON_APPEND_DOUBLE(m, "weight", 60 + Below(400) / 10.0);
    if (Uniform() < 0.5) BSON_APPEND_DOUBLE(m, "sleepHours", 4 + Below(60) / 10.0);
    if (Uniform() < 0.4) BSON_APPEND_DOUBLE(m, "hydration", Below(40) / 10.0);
  }

  // Upserts by (userId, date) with $set, as the upstream app does. False when the server did
  // not acknowledge (the write may or may not have happened).
  bool UpsertRaw(const bson_t* filter, const bson_t* metrics, Instant updated_at) {
    bson_t update = BSON_INITIALIZER, set, on_insert, opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_DOCUMENT(&set, "metrics", metrics);
    BSON_APPEND_UTF8(&set, "source", "manual");
    BSON_APPEND_DATE_TIME(&set, "updatedAt", updated_at);
    bson_append_document_end(&update, &set);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &on_insert);
    BSON_APPEND_DATE_TIME(&on_insert, "createdAt", updated_at);
    bson_append_document_end(&update, &on_insert);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    bson_error_t error;
    const bool ok = mongoc_collection_update_one(coll_, filter, &update, &opts, nullptr, &error);
    bson_destroy(&update);
    bson_destroy(&opts);
    if (!ok) Backoff();
    return ok;
  }

  void Upsert(const ObjectId& user, Day day, Instant updated_at) {
    bson_t filter = BSON_INITIALIZER, metrics = BSON_INITIALIZER;
    const bson_oid_t oid = ToOid(user);
    BSON_APPEND_OID(&filter, "userId", &oid);
    BSON_APPEND_DATE_TIME(&filter, "date", StartOf(day));
    Metrics(&metrics);
    const bool ok = UpsertRaw(&filter, &metrics, updated_at);
    Log({{"op", "upsert"}, {"user", user.ToHex()}, {"ok", ok}});
    bson_destroy(&filter);
    bson_destroy(&metrics);
  }

  void TieBurst() {
    const Instant t = Stamp();
    const int n = 3 + Below(4);
    for (int i = 0; i < n && !g_stop.load(); ++i) Upsert(RandomUser(), RandomDay(), t);
  }

  void Delete() {
    const ObjectId& user = RandomUser();
    bson_t filter = BSON_INITIALIZER;
    const bson_oid_t oid = ToOid(user);
    BSON_APPEND_OID(&filter, "userId", &oid);
    BSON_APPEND_DATE_TIME(&filter, "date", StartOf(RandomDay()));
    bson_error_t error;
    const bool ok = mongoc_collection_delete_one(coll_, &filter, nullptr, nullptr, &error);
    bson_destroy(&filter);
    if (!ok) Backoff();
    // Logged even when unacknowledged: the harness must treat the user as having a deletion.
    Log({{"op", "delete"}, {"user", user.ToHex()}, {"ok", ok}});
  }

  // One invalid document at a fresh key of this writer's own key space, never written again
  // (not even when the write was not acknowledged: it may have happened).
  void Invalid() {
    const int k = invalid_count_++;
    const int kind = k % 7;
    const ObjectId user = BadUser(o_.id, k / o_.days);
    const Day day = Today() - k % o_.days;
    const bson_oid_t oid = ToOid(user);
    bson_t filter = BSON_INITIALIZER, m = BSON_INITIALIZER;
    if (kind == 4) {
      BSON_APPEND_UTF8(&filter, "userId", user.ToHex().c_str());  // a string, not an ObjectId
    } else {
      BSON_APPEND_OID(&filter, "userId", &oid);
    }
    if (kind == 3) {
      const std::string text = "day-" + std::to_string(o_.id) + "-" + std::to_string(k);
      BSON_APPEND_UTF8(&filter, "date", text.c_str());  // a string, not a Date
    } else {
      BSON_APPEND_DATE_TIME(&filter, "date", StartOf(day));
    }
    BSON_APPEND_INT32(&m, "calories", 1500 + Below(500));  // a valid field alongside
    switch (kind) {
      case 0:
        BSON_APPEND_UTF8(&m, "steps", "many");
        break;
      case 1:
        BSON_APPEND_DOUBLE(&m, "weight", 12.5);
        break;
      case 2:
        BSON_APPEND_INT32(&m, "heartPoints", -3);
        BSON_APPEND_INT32(&m, "heartRate", 70);
        break;
      case 5:
        break;  // below: metrics itself is not an object
      case 6:
        BSON_APPEND_BOOL(&m, "sleepHours", true);
        break;
      default:
        break;
    }
    bool ok;
    if (kind == 5) {
      bson_t update = BSON_INITIALIZER, set, opts = BSON_INITIALIZER;
      BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
      BSON_APPEND_UTF8(&set, "metrics", "none");
      BSON_APPEND_DATE_TIME(&set, "updatedAt", Stamp());
      bson_append_document_end(&update, &set);
      BSON_APPEND_BOOL(&opts, "upsert", true);
      bson_error_t error;
      ok = mongoc_collection_update_one(coll_, &filter, &update, &opts, nullptr, &error);
      if (!ok) Backoff();
      bson_destroy(&update);
      bson_destroy(&opts);
    } else {
      ok = UpsertRaw(&filter, &m, Stamp());
    }
    Log({{"op", "invalid"}, {"kind", kind}, {"ok", ok}});
    bson_destroy(&filter);
    bson_destroy(&m);
  }

  void Backoff() { std::this_thread::sleep_for(std::chrono::milliseconds(200)); }

  void Log(const nlohmann::json& j) {
    log_ << j.dump() << '\n';
    log_.flush();
  }

  WriterOptions o_;
  std::mt19937_64 rng_;
  mongoc_client_t* client_ = nullptr;
  mongoc_collection_t* coll_ = nullptr;
  std::vector<ObjectId> users_;
  std::ofstream log_;
  int invalid_count_ = 0;
};

}  // namespace

bool ParseWriterArgs(const std::vector<std::string>& args, WriterOptions* o, std::string* error) {
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    const std::string& v = args[i + 1];
    try {
      if (k == "--uri")
        o->uri = v;
      else if (k == "--db")
        o->db = v;
      else if (k == "--id")
        o->id = std::stoi(v);
      else if (k == "--users-file")
        o->users_file = v;
      else if (k == "--days")
        o->days = std::stoi(v);
      else if (k == "--lag-ms")
        o->lag_ms = std::stoll(v);
      else if (k == "--ops-per-second")
        o->ops_per_second = std::stod(v);
      else if (k == "--delete-share")
        o->delete_share = std::stod(v);
      else if (k == "--invalid-share")
        o->invalid_share = std::stod(v);
      else if (k == "--tie-share")
        o->tie_share = std::stod(v);
      else if (k == "--seed")
        o->seed = std::stoull(v);
      else if (k == "--stop-file")
        o->stop_file = v;
      else if (k == "--log-file")
        o->log_file = v;
      else {
        *error = "unknown writer option " + k;
        return false;
      }
    } catch (const std::exception&) {
      *error = "bad value for " + k + ": " + v;
      return false;
    }
  }
  if (args.size() % 2 != 0 || o->uri.empty() || o->db.empty() || o->stop_file.empty() ||
      o->days < 1 || o->ops_per_second <= 0) {
    *error = "writer needs --uri, --db, --stop-file, --days >= 1, --ops-per-second > 0";
    return false;
  }
  return true;
}

std::vector<std::string> WriterArgs(const WriterOptions& o) {
  return {"--uri",
          o.uri,
          "--db",
          o.db,
          "--id",
          std::to_string(o.id),
          "--users-file",
          o.users_file,
          "--days",
          std::to_string(o.days),
          "--lag-ms",
          std::to_string(o.lag_ms),
          "--ops-per-second",
          std::to_string(o.ops_per_second),
          "--delete-share",
          std::to_string(o.delete_share),
          "--invalid-share",
          std::to_string(o.invalid_share),
          "--tie-share",
          std::to_string(o.tie_share),
          "--seed",
          std::to_string(o.seed),
          "--stop-file",
          o.stop_file,
          "--log-file",
          o.log_file};
}

int RunWriter(const WriterOptions& o) {
  mongoc_init();
  signal(SIGTERM, OnTerm);
  int rc;
  {
    Writer w(o);
    rc = w.Run();
  }
  mongoc_cleanup();
  return rc;
}

}  // namespace ha::chaos
