// Seeding a database: the synthetic data (docs/synthetic.h) bulk-inserted through the store.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/bson_doc.h"
#include "codec/ferretdb_compat.h"
#include "codec/synthetic.h"
#include "core/object_id.h"
#include "core/status.h"
#include "store/tools_store.h"

namespace ha::cli {

// Users go to USERS_COLLECTION, healthmetrics to SOURCE_COLLECTION, in bulk inserts of 1,000.
// Non-finite metric values are stored as strings (FerretDB refuses NaN: docs/TEST-SERVERS.md).
class StoreSeedSink : public SeedSink {
 public:
  explicit StoreSeedSink(ToolsStore& store) : store_(store) {}
  void OnUser(const bson_t* user) override {
    users_.emplace_back(bson_copy(user));
    bson_iter_t it;
    if (bson_iter_init_find(&it, user, "_id") && BSON_ITER_HOLDS_OID(&it)) {
      ObjectId id;
      std::copy(bson_iter_oid(&it)->bytes, bson_iter_oid(&it)->bytes + 12, id.bytes.begin());
      ids_.push_back(id);
    }
    if (users_.size() >= 1000) Flush(true);
  }
  void OnMetric(const bson_t* metric) override {
    metrics_.push_back(HasNonFiniteMetric(metric) ? WithoutNonFiniteMetrics(metric)
                                                  : BsonDoc(bson_copy(metric)));
    ++metric_count_;
    if (metrics_.size() >= 1000) Flush(false);
  }
  Status Finish() {
    Flush(true);
    Flush(false);
    return status_;
  }
  const std::vector<ObjectId>& ids() const { return ids_; }
  int64_t metric_count() const { return metric_count_; }

 private:
  void Flush(bool users) {
    auto& docs = users ? users_ : metrics_;
    if (status_.ok()) status_ = users ? store_.InsertUsers(docs) : store_.InsertHealthMetrics(docs);
    docs.clear();
  }
  ToolsStore& store_;
  std::vector<BsonDoc> users_, metrics_;
  std::vector<ObjectId> ids_;
  int64_t metric_count_ = 0;
  Status status_;
};

}  // namespace ha::cli
