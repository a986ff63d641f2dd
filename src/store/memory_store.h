// MemoryStore: an EngineStore in memory, for unit tests of the engine's steps. It holds the
// source, users and analytics documents as BSON and answers like MongoStore does against a
// server: the same decoders (store/documents.h, codec/), the same (updatedAt, _id) order and
// cursor filter, the same projections and limits. It can be told to fail a call (an outage, a
// server error) or to refuse the writes of chosen users, and it counts what was asked of it.
//
// Thread-safe: every method takes one mutex, so steps may share it across threads.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/engine_store.h"

namespace ha {

class MemoryStore final : public EngineStore {
 public:
  enum class Op {
    kReadChanges,  // ReadChanges and ReadWindowAndChanges
    kReadHistory,
    kReadGoals,
    kReadAnalytics,
    kWriteAnalytics,
    kListUsers,
    kDeleteExpired,
    kHasTtlIndex,
  };

  // Stores a source document as an application writes it (a second document with the same _id
  // replaces the first, as an update does). `doc` needs an ObjectId _id (a test error otherwise:
  // the document is dropped and false returned).
  bool PutHealthMetric(const bson_t* doc);
  // Stores a users document (same rule for _id).
  bool PutUser(const bson_t* doc);

  // The next `times` calls of `op` fail with `status` before doing anything.
  void FailNext(Op op, Status status, int times = 1);
  // Every write addressed to `user`'s analytics is refused with `status` (the others of the same
  // call are applied, as in an unordered bulk write); std::nullopt accepts them again.
  void RefuseWritesOf(const ObjectId& user, std::optional<Status> status);
  // What HasTtlIndex answers (true unless told otherwise).
  void SetHasTtlIndex(bool has) { has_ttl_ = has; }

  // How many times `op` was called (failed calls included).
  int calls(Op op) const;
  // The users of every ReadHistory call, in call order (a user appears once per recompute).
  std::vector<ObjectId> history_reads() const;
  // The number of users of every call of `op` (kReadHistory, kReadGoals or kReadAnalytics), in
  // call order.
  std::vector<size_t> user_list_sizes(Op op) const;
  // The stored analytics documents, copied, in _id order.
  std::vector<BsonDoc> AnalyticsDocuments() const;
  // The stored analytics document of (user, metric, range), copied; the first by _id if several.
  std::optional<BsonDoc> FindAnalytics(const ObjectId& user, Metric metric, TimeRange range) const;
  // Stores an analytics document as it is (tests of duplicates and of documents left alone).
  bool PutAnalytics(const bson_t* doc);

  // EngineStore.
  Status ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                     const std::function<void(ChangedVersion&&)>& each) override;
  Status ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                              const AnalyticsOptions& options,
                              const std::function<void(ChangedVersion&&)>& window,
                              const std::function<void(ChangedVersion&&)>& changed) override;
  Status ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                     const AnalyticsOptions& options, HistoryByUser* out) override;
  Status ReadGoals(std::span<const ObjectId> users, GoalsByUser* out) override;
  Status ReadAnalytics(std::span<const ObjectId> users,
                       std::vector<ExistingAnalytics>* out) override;
  Status WriteAnalytics(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) override;
  Status ListUsers(Day from, Day to, std::vector<ObjectId>* out) override;
  Result<int64_t> DeleteExpired(Instant now) override;
  Result<bool> HasTtlIndex() override;

 private:
  // Counts the call and consumes an injected failure, if any. Needs mu_.
  Status Enter(Op op);
  // The source versions the poll can see (userId present and not null, updatedAt a Date),
  // projected like the poll, in (updatedAt, _id) order. Needs mu_.
  struct Pollable {
    Cursor at;
    const BsonDoc* doc;
  };
  std::vector<Pollable> PollableVersions() const;

  mutable std::mutex mu_;
  std::map<ObjectId, BsonDoc> source_, users_, analytics_;
  std::map<Op, std::vector<Status>> failures_;
  std::map<Op, int> calls_;
  std::map<ObjectId, Status> refused_;
  std::vector<ObjectId> history_reads_;
  std::map<Op, std::vector<size_t>> list_sizes_;
  bool has_ttl_ = true;
};

}  // namespace ha
