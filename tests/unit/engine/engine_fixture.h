// An engine on a MemoryStore, with a real checkpoint and dead-letter log in a scratch directory,
// and helpers to write healthmetrics the way the app does.
#pragma once

#include <bson/bson.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "codec/bson_doc.h"
#include "core/object_id.h"
#include "core/time.h"
#include "engine/engine.h"
#include "observe/dead_letters.h"
#include "store/documents.h"
#include "store/memory_store.h"
#include "tests/support/temp_dir.h"

namespace ha::engine_test {

// An id whose last byte is `n` and first byte `tag` (users 'a', documents 'd'), so that the
// (updatedAt, _id) order of a test is visible in its ids.
inline ObjectId Id(char tag, int n) {
  ObjectId id;
  id.bytes[0] = static_cast<uint8_t>(tag);
  id.bytes[10] = static_cast<uint8_t>(n / 256);
  id.bytes[11] = static_cast<uint8_t>(n % 256);
  return id;
}
inline ObjectId User(int n) { return Id('a', n); }
inline ObjectId Doc(int n) { return Id('d', n); }

inline Instant At(const char* iso) {
  auto t = ParseInstant(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return t.ok() ? *t : 0;
}

// A healthmetrics document: {_id, userId, date, metrics: {steps}, source, updatedAt}.
inline BsonDoc Steps(const ObjectId& doc, const ObjectId& user, Day day, double steps,
                     Instant updated_at) {
  BsonDoc d;
  const bson_oid_t id = ToOid(doc), uid = ToOid(user);
  bson_append_oid(d.get(), "_id", -1, &id);
  bson_append_oid(d.get(), "userId", -1, &uid);
  bson_append_date_time(d.get(), "date", -1, StartOf(day));
  bson_t metrics;
  bson_append_document_begin(d.get(), "metrics", -1, &metrics);
  bson_append_double(&metrics, "steps", -1, steps);
  bson_append_document_end(d.get(), &metrics);
  bson_append_utf8(d.get(), "source", -1, "manual", -1);
  bson_append_date_time(d.get(), "updatedAt", -1, updated_at);
  return d;
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An EngineStore that passes every call to a MemoryStore: tests derive from it and override the
// calls they watch or hold.
class DelegatingStore : public EngineStore {
 public:
  explicit DelegatingStore(MemoryStore& inner) : inner_(inner) {}
  Status ReadChanges(const Cursor& a, int l, const AnalyticsOptions& o,
                     const std::function<void(ChangedVersion&&)>& e) override {
    return inner_.ReadChanges(a, l, o, e);
  }
  Status ReadWindowAndChanges(Instant f, const Cursor& a, int l, const AnalyticsOptions& o,
                              const std::function<void(ChangedVersion&&)>& w,
                              const std::function<void(ChangedVersion&&)>& c) override {
    return inner_.ReadWindowAndChanges(f, a, l, o, w, c);
  }
  Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                     const AnalyticsOptions& options, HistoryByUser* out) override {
    return inner_.ReadHistory(users, from, to, options, out);
  }
  Status ReadGoals(std::span<const ObjectId> u, GoalsByUser* out) override {
    return inner_.ReadGoals(u, out);
  }
  Status ReadAnalytics(std::span<const ObjectId> u, std::vector<ExistingAnalytics>* out) override {
    return inner_.ReadAnalytics(u, out);
  }
  Status WriteAnalytics(std::vector<AnalyticsWrite>& w, WriteCounts* c) override {
    return inner_.WriteAnalytics(w, c);
  }
  Status ListUsers(Day f, Day t, std::vector<ObjectId>* out) override {
    return inner_.ListUsers(f, t, out);
  }
  Result<int64_t> DeleteExpired(Instant now) override { return inner_.DeleteExpired(now); }
  Result<bool> HasTtlIndex() override { return inner_.HasTtlIndex(); }
  IoCounts Io() const override { return inner_.Io(); }

 protected:
  MemoryStore& inner_;
};

// Records what the engine announces.
class RecordingListener : public ChangeListener {
 public:
  void OnUserChanged(const ObjectId& user, Instant, std::vector<AnalyticsChange>&&) override {
    changed.push_back(user);
  }
  void OnBatchCommitted(int64_t batch_id) override { committed.push_back(batch_id); }
  void OnBatchAbandoned(int64_t batch_id) override { abandoned.push_back(batch_id); }
  std::vector<ObjectId> changed;
  std::vector<int64_t> committed, abandoned;
};

class EngineFixture : public ::testing::Test {
 protected:
  EngineFixture() : checkpoint_(dir_ / "checkpoint") { Restart(); }

  // A new process: a new engine (no memory) and a new dead-letter log (which reads back the
  // letters already written), on the same store and checkpoint directory.
  void Restart() {
    engine_.reset();
    dead_letters_ = std::make_unique<DeadLetterLog>(dir_ / "dlq");
    ASSERT_TRUE(dead_letters_->Open(NowMillis()).ok());
    engine_ = std::make_unique<Engine>(store_, checkpoint_, *dead_letters_, options_);
    engine_->SetChangeListener(&listener_);
  }

  BatchReport Batch(Instant now) {
    auto r = engine_->RunBatch(now, /*finish_recompute=*/false);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : BatchReport{};
  }

  void Put(const BsonDoc& doc) { ASSERT_TRUE(store_.PutHealthMetric(doc.get())); }

  // How many times each user's history was read (once per recompute).
  int Recomputed(const ObjectId& user) const {
    int n = 0;
    for (const ObjectId& u : store_.history_reads()) n += u == user;
    return n;
  }

  // Every line of the dead-letter files.
  std::vector<std::string> DeadLetterLines() const {
    std::vector<std::string> lines;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "dlq", ec)) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
  }

  CheckpointState Checkpoint() const {
    auto s = checkpoint_.Load();
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : CheckpointState{};
  }

  ha::testing::TempDir dir_;
  EngineOptions options_;
  MemoryStore store_;
  CheckpointStore checkpoint_;
  std::unique_ptr<DeadLetterLog> dead_letters_;
  RecordingListener listener_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace ha::engine_test
