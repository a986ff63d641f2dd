// "Unchanged" is decided from metadata.contentDigest, read with the analytics keys: a document
// without it is rewritten once, the same content is left alone, changed content is updated.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/analytics_doc.h"
#include "engine/batch_context.h"
#include "engine/process_users.h"
#include "engine_fixture.h"

namespace ha::engine_test {
namespace {

const Instant kNow = At("2025-11-20T12:00:00Z");
const Day kDay = DayOf(kNow);

class NoLetters : public DeadLetterSink {
 public:
  bool Record(const DeadLetter&) override {
    ++letters;
    return true;
  }
  int letters = 0;
};

// `doc` with metadata.contentDigest removed, or replaced by `digest` when given.
BsonDoc WithDigest(const bson_t* doc, const char* digest) {
  BsonDoc out;
  bson_iter_t it;
  EXPECT_TRUE(bson_iter_init(&it, doc));
  while (bson_iter_next(&it)) {
    if (std::string(bson_iter_key(&it)) != "metadata") {
      bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
      continue;
    }
    bson_t meta;
    bson_iter_t child;
    bson_append_document_begin(out.get(), "metadata", -1, &meta);
    EXPECT_TRUE(bson_iter_recurse(&it, &child));
    while (bson_iter_next(&child))
      if (std::string(bson_iter_key(&child)) != "contentDigest")
        bson_append_iter(&meta, bson_iter_key(&child), -1, &child);
    if (digest) bson_append_utf8(&meta, "contentDigest", -1, digest, -1);
    bson_append_document_end(out.get(), &meta);
  }
  return out;
}

struct Fixture {
  MemoryStore store;
  NoLetters sink;
  std::vector<ObjectId> users{User(1)};

  explicit Fixture(double steps) { Put(steps); }
  void Put(double steps) {
    BsonDoc d = Steps(Doc(1), User(1), kDay, steps, kNow - 3'600'000);
    EXPECT_TRUE(store.PutHealthMetric(d.get()));
  }
  WorkCounts Run(int64_t batch_id) {
    UsersProcessed done;
    EXPECT_TRUE(ProcessUsers(BatchContext{batch_id, kNow, EngineOptions{}}, users, store, sink,
                             nullptr, nullptr, &done)
                    .ok());
    return done.counts;
  }
};

// Every stored document carries the digest of its own visible content, recomputed here from
// the whole document (not from what the writer planned).
void ExpectEachDocumentCarriesItsDigest(const MemoryStore& store) {
  for (const BsonDoc& d : store.AnalyticsDocuments()) {
    const auto stored = StoredContentDigest(d.get());
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(*stored, DeterministicDigest(d.get()));
  }
}

TEST(ContentDigestTest, ADocumentWithoutTheDigestIsRewrittenOnce) {
  Fixture written(4000);
  ASSERT_EQ(written.Run(1).inserted, 3);
  // The same analytics as an engine without the digest left them.
  Fixture old(4000);
  for (const BsonDoc& d : written.store.AnalyticsDocuments())
    ASSERT_TRUE(old.store.PutAnalytics(WithDigest(d.get(), nullptr).get()));
  for (const BsonDoc& d : old.store.AnalyticsDocuments())
    ASSERT_FALSE(StoredContentDigest(d.get()).has_value());

  const WorkCounts first = old.Run(2);
  EXPECT_EQ(first.updated, 3);
  EXPECT_EQ(first.unchanged, 0);
  EXPECT_EQ(first.inserted, 0);
  EXPECT_EQ(old.store.AnalyticsDocuments().size(), 3u);
  ExpectEachDocumentCarriesItsDigest(old.store);

  const WorkCounts second = old.Run(3);
  EXPECT_EQ(second.unchanged, 3);
  EXPECT_EQ(second.written(), 0);
}

TEST(ContentDigestTest, TheSameContentIsLeftAlone) {
  Fixture f(4000);
  ASSERT_EQ(f.Run(1).inserted, 3);
  ExpectEachDocumentCarriesItsDigest(f.store);
  const WorkCounts again = f.Run(2);
  EXPECT_EQ(again.unchanged, 3);
  EXPECT_EQ(again.written(), 0);
  // Not rewritten: the first batch's id is still there.
  auto doc = f.store.FindAnalytics(User(1), Metric::kSteps, TimeRange::k7Day);
  ASSERT_TRUE(doc.has_value());
  bson_iter_t it, found;
  ASSERT_TRUE(bson_iter_init(&it, doc->get()));
  ASSERT_TRUE(bson_iter_find_descendant(&it, "metadata.sparkJobId", &found));
  EXPECT_STREQ(bson_iter_utf8(&found, nullptr), "health-analytics:1");
}

TEST(ContentDigestTest, ChangedContentIsUpdatedWithItsNewDigest) {
  Fixture f(4000);
  ASSERT_EQ(f.Run(1).inserted, 3);
  std::vector<uint64_t> before;
  for (const BsonDoc& d : f.store.AnalyticsDocuments())
    before.push_back(*StoredContentDigest(d.get()));

  f.Put(5000);  // the app edits the day
  const WorkCounts changed = f.Run(2);
  EXPECT_EQ(changed.updated, 3);
  EXPECT_EQ(changed.unchanged, 0);
  ExpectEachDocumentCarriesItsDigest(f.store);
  const std::vector<BsonDoc> after = f.store.AnalyticsDocuments();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i)
    EXPECT_NE(*StoredContentDigest(after[i].get()), before[i]) << i;
}

TEST(ContentDigestTest, AMalformedDigestCountsAsChanged) {
  Fixture written(4000);
  ASSERT_EQ(written.Run(1).inserted, 3);
  Fixture odd(4000);
  for (const BsonDoc& d : written.store.AnalyticsDocuments()) {
    const std::string upper = "0123456789ABCDEF";  // not lowercase hex
    ASSERT_TRUE(odd.store.PutAnalytics(WithDigest(d.get(), upper.c_str()).get()));
  }
  EXPECT_EQ(odd.Run(2).updated, 3);
  ExpectEachDocumentCarriesItsDigest(odd.store);
}

}  // namespace
}  // namespace ha::engine_test
