#include "store/memory_store.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "codec/healthmetric.h"
#include "codec/user.h"
#include "store/documents.h"

namespace ha {
namespace {

std::optional<ObjectId> OidField(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_OID(&it))
    return FromOid(bson_iter_oid(&it));
  return std::nullopt;
}

// A Date field; other types never match a comparison with a Date on a server.
std::optional<Instant> DateField(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
    return bson_iter_date_time(&it);
  return std::nullopt;
}

// {field: {$ne: null}}: present and not null.
bool NotNull(const bson_t* doc, const char* key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
}

// The document's top-level `fields` only, in the document's order (a find's projection).
BsonDoc Project(const bson_t* doc, std::initializer_list<std::string_view> fields) {
  BsonDoc out;
  bson_iter_t it;
  if (bson_iter_init(&it, doc))
    while (bson_iter_next(&it))
      if (std::find(fields.begin(), fields.end(), bson_iter_key(&it)) != fields.end())
        bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
  return out;
}

// MongoStore's projection of analytics keys: _id, userId, metricType, timeRange and
// metadata.contentDigest (as {metadata: {contentDigest}} when present).
BsonDoc ProjectAnalyticsKey(const bson_t* doc) {
  BsonDoc out = Project(doc, {"_id", "userId", "metricType", "timeRange"});
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc) &&
      bson_iter_find_descendant(&it, "metadata.contentDigest", &found)) {
    bson_t meta;
    bson_append_document_begin(out.get(), "metadata", -1, &meta);
    bson_append_iter(&meta, "contentDigest", -1, &found);
    bson_append_document_end(out.get(), &meta);
  }
  return out;
}

// `doc` with the fields of `set` replaced where present and appended where not ($set).
BsonDoc ApplySet(const bson_t* doc, const bson_t* set) {
  BsonDoc out;
  std::set<std::string> done;
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) {
      const char* key = bson_iter_key(&it);
      const bool replaced = bson_iter_init_find(&found, set, key);
      bson_append_iter(out.get(), key, -1, replaced ? &found : &it);
      if (replaced) done.insert(key);
    }
  }
  if (bson_iter_init(&it, set))
    while (bson_iter_next(&it))
      if (!done.count(bson_iter_key(&it))) bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
  return out;
}

bool Put(std::map<ObjectId, BsonDoc>* into, const bson_t* doc) {
  auto id = OidField(doc, "_id");
  if (!id) return false;
  (*into)[*id] = BsonDoc(bson_copy(doc));
  return true;
}

bool Contains(std::span<const ObjectId> users, const std::optional<ObjectId>& user) {
  return user && std::find(users.begin(), users.end(), *user) != users.end();
}

}  // namespace

bool MemoryStore::PutHealthMetric(const bson_t* doc) {
  std::lock_guard lock(mu_);
  return Put(&source_, doc);
}

bool MemoryStore::PutUser(const bson_t* doc) {
  std::lock_guard lock(mu_);
  return Put(&users_, doc);
}

bool MemoryStore::PutAnalytics(const bson_t* doc) {
  std::lock_guard lock(mu_);
  return Put(&analytics_, doc);
}

void MemoryStore::FailNext(Op op, Status status, int times) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < times; ++i) failures_[op].push_back(status);
}

void MemoryStore::RefuseWritesOf(const ObjectId& user, std::optional<Status> status) {
  std::lock_guard lock(mu_);
  if (status) {
    refused_[user] = *status;
  } else {
    refused_.erase(user);
  }
}

int MemoryStore::calls(Op op) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<ObjectId> MemoryStore::history_reads() const {
  std::lock_guard lock(mu_);
  return history_reads_;
}

std::vector<size_t> MemoryStore::user_list_sizes(Op op) const {
  std::lock_guard lock(mu_);
  auto it = list_sizes_.find(op);
  return it == list_sizes_.end() ? std::vector<size_t>{} : it->second;
}

std::vector<BsonDoc> MemoryStore::AnalyticsDocuments() const {
  std::lock_guard lock(mu_);
  std::vector<BsonDoc> out;
  for (const auto& [id, doc] : analytics_) out.emplace_back(bson_copy(doc.get()));
  return out;
}

std::optional<BsonDoc> MemoryStore::FindAnalytics(const ObjectId& user, Metric metric,
                                                  TimeRange range) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, doc] : analytics_) {
    ExistingAnalytics e;
    if (DecodeExistingAnalytics(doc.get(), &e) && e.user == user && e.metric == metric &&
        e.range == range)
      return BsonDoc(bson_copy(doc.get()));
  }
  return std::nullopt;
}

Status MemoryStore::Enter(Op op) {
  ++calls_[op];
  auto it = failures_.find(op);
  if (it == failures_.end() || it->second.empty()) return Status::Ok();
  Status st = it->second.front();
  it->second.erase(it->second.begin());
  return st;
}

std::vector<MemoryStore::Pollable> MemoryStore::PollableVersions() const {
  std::vector<Pollable> out;
  for (const auto& [id, doc] : source_) {
    auto updated = DateField(doc.get(), "updatedAt");
    if (updated && NotNull(doc.get(), "userId")) out.push_back({Cursor{*updated, id}, &doc});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  return out;
}

Status MemoryStore::ReadChanges(const Cursor& after, int limit, const AnalyticsOptions& options,
                                const std::function<void(ChangedVersion&&)>& each) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kReadChanges); !st.ok()) return st;
  int n = 0;
  for (const auto& [at, doc] : PollableVersions()) {
    if (n >= limit) break;
    if (at <= after) continue;
    ++n;
    ChangedVersion v;
    BsonDoc projected = Project(doc->get(), {"_id", "userId", "updatedAt", "date", "metrics"});
    if (DecodeChangedVersion(projected.get(), options, &v)) each(std::move(v));
  }
  return Status::Ok();
}

Status MemoryStore::ReadWindowAndChanges(Instant window_from, const Cursor& after, int limit,
                                         const AnalyticsOptions& options,
                                         const std::function<void(ChangedVersion&&)>& window,
                                         const std::function<void(ChangedVersion&&)>& changed) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kReadChanges); !st.ok()) return st;
  if (window_from >= after.updated_at)
    return {StatusCode::kInvalidArgument, "grace window must start before the cursor"};
  int n = 0;
  for (const auto& [at, doc] : PollableVersions()) {
    if (n >= limit) break;
    if (at.updated_at <= window_from) continue;
    ChangedVersion v;
    BsonDoc projected = Project(doc->get(), {"_id", "userId", "updatedAt", "date", "metrics"});
    if (!DecodeChangedVersion(projected.get(), options, &v)) continue;
    if (at <= after) {
      window(std::move(v));
    } else {
      changed(std::move(v));
      ++n;
    }
  }
  return Status::Ok();
}

Status MemoryStore::ReadHistory(std::span<const ObjectId> users, Day from, Day to,
                                const AnalyticsOptions& options, HistoryByUser* out) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kReadHistory); !st.ok()) return st;
  list_sizes_[Op::kReadHistory].push_back(users.size());
  history_reads_.insert(history_reads_.end(), users.begin(), users.end());
  DecodedHealthMetric decoded;
  for (const auto& [id, doc] : source_) {
    auto date = DateField(doc.get(), "date");
    if (!Contains(users, OidField(doc.get(), "userId")) || !date || *date < StartOf(from) ||
        *date >= StartOf(to + 1))
      continue;
    BsonDoc projected = Project(doc.get(), {"_id", "userId", "updatedAt", "date", "metrics"});
    DecodeHealthMetric(projected.get(), options, &decoded);
    if (decoded.usable) (*out)[decoded.user].push_back(decoded.record);
  }
  return Status::Ok();
}

Status MemoryStore::ReadGoals(std::span<const ObjectId> users, GoalsByUser* out) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kReadGoals); !st.ok()) return st;
  list_sizes_[Op::kReadGoals].push_back(users.size());
  for (const ObjectId& u : users) (*out)[u] = DefaultGoals();
  for (const auto& [id, doc] : users_) {
    if (!Contains(users, id)) continue;
    BsonDoc projected = Project(doc.get(), {"_id", "goals"});
    ObjectId decoded_id;
    Goals goals;
    if (DecodeUser(projected.get(), &decoded_id, &goals)) (*out)[decoded_id] = goals;
  }
  return Status::Ok();
}

Status MemoryStore::ReadAnalytics(std::span<const ObjectId> users,
                                  std::vector<ExistingAnalytics>* out) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kReadAnalytics); !st.ok()) return st;
  list_sizes_[Op::kReadAnalytics].push_back(users.size());
  for (const auto& [id, doc] : analytics_) {
    if (!Contains(users, OidField(doc.get(), "userId"))) continue;
    ExistingAnalytics e;
    if (DecodeExistingAnalytics(ProjectAnalyticsKey(doc.get()).get(), &e)) out->push_back(e);
  }
  return Status::Ok();
}

Status MemoryStore::WriteAnalytics(std::vector<AnalyticsWrite>& writes, WriteCounts* counts) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kWriteAnalytics); !st.ok()) return st;
  Status first_refusal;
  for (AnalyticsWrite& w : writes) {
    if (auto r = refused_.find(w.user); r != refused_.end()) {
      if (first_refusal.ok()) first_refusal = r->second;
      continue;
    }
    switch (w.kind) {
      case AnalyticsWrite::Kind::kInsert: {
        bson_oid_t oid;
        bson_oid_init(&oid, nullptr);
        BsonDoc doc;
        bson_append_oid(doc.get(), "_id", -1, &oid);
        bson_concat(doc.get(), w.body.get());
        analytics_[FromOid(&oid)] = std::move(doc);
        ++counts->inserted;
        break;
      }
      case AnalyticsWrite::Kind::kUpdate:
        if (auto it = analytics_.find(w.id); it != analytics_.end()) {
          it->second = ApplySet(it->second.get(), w.body.get());
          ++counts->updated;
        }
        break;
      case AnalyticsWrite::Kind::kDelete:
        counts->deleted += static_cast<int64_t>(analytics_.erase(w.id));
        break;
    }
  }
  return first_refusal;
}

Status MemoryStore::ListUsers(Day from, Day to, std::vector<ObjectId>* out) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kListUsers); !st.ok()) return st;
  std::set<ObjectId> users;
  for (const auto& [id, doc] : analytics_)
    if (auto u = OidField(doc.get(), "userId")) users.insert(*u);
  for (const auto& [id, doc] : source_) {
    auto u = OidField(doc.get(), "userId");
    auto date = DateField(doc.get(), "date");
    if (u && date && *date >= StartOf(from) && *date < StartOf(to + 1)) users.insert(*u);
  }
  out->assign(users.begin(), users.end());
  return Status::Ok();
}

Result<int64_t> MemoryStore::DeleteExpired(Instant now) {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kDeleteExpired); !st.ok()) return st;
  int64_t n = 0;
  for (auto it = analytics_.begin(); it != analytics_.end();) {
    auto expires = DateField(it->second.get(), "expiresAt");
    if (expires && *expires < now) {
      it = analytics_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

Result<bool> MemoryStore::HasTtlIndex() {
  std::lock_guard lock(mu_);
  if (Status st = Enter(Op::kHasTtlIndex); !st.ok()) return st;
  return has_ttl_;
}

}  // namespace ha
