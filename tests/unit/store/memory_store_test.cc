// MemoryStore answers the engine's reads as a server does (the filters of MongoStore's queries,
// written out by hand here), so that the engine's unit tests on it mean something.
#include "store/memory_store.h"

#include <gtest/gtest.h>

#include "../engine/engine_fixture.h"

namespace ha::engine_test {
namespace {

const Instant kT = At("2025-11-20T11:00:00Z");
const Day kDay = DayOf(kT);

std::vector<Cursor> Changes(MemoryStore& store, const Cursor& after, int limit) {
  std::vector<Cursor> out;
  EXPECT_TRUE(store
                  .ReadChanges(after, limit, AnalyticsOptions{},
                               [&](ChangedVersion&& v) {
                                 out.push_back({v.updated_at, v.id});
                               })
                  .ok());
  return out;
}

TEST(MemoryStoreTest, ChangesComeStrictlyAfterTheCursorInUpdatedAtThenIdOrderUpToTheLimit) {
  MemoryStore store;
  for (int i : {5, 1, 3})
    ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(i), User(i), kDay, 1, kT).get()));
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(9), User(9), kDay, 1, kT - 1).get()));
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(0), User(0), kDay, 1, kT + 1).get()));
  EXPECT_EQ(Changes(store, Cursor{kT - 1, ObjectId::Min()}, 10),
            (std::vector<Cursor>{
                {kT - 1, Doc(9)}, {kT, Doc(1)}, {kT, Doc(3)}, {kT, Doc(5)}, {kT + 1, Doc(0)}}));
  // (T, d1): the tie d1 is done, d3 and d5 are not.
  EXPECT_EQ(Changes(store, Cursor{kT, Doc(1)}, 2),
            (std::vector<Cursor>{{kT, Doc(3)}, {kT, Doc(5)}}));
}

TEST(MemoryStoreTest, VersionsWithoutAUserOrADateUpdatedAtAreNotPolled) {
  MemoryStore store;
  BsonDoc no_user = Steps(Doc(1), User(1), kDay, 1, kT);
  bson_t* stripped = bson_new();
  bson_copy_to_excluding_noinit(no_user.get(), stripped, "userId", nullptr);
  ASSERT_TRUE(store.PutHealthMetric(stripped));
  bson_destroy(stripped);
  BsonDoc null_user;
  const bson_oid_t id2 = ToOid(Doc(2));
  bson_append_oid(null_user.get(), "_id", -1, &id2);
  bson_append_null(null_user.get(), "userId", -1);
  bson_append_date_time(null_user.get(), "updatedAt", -1, kT);
  ASSERT_TRUE(store.PutHealthMetric(null_user.get()));
  BsonDoc text_user;  // polled (and dead-lettered by the engine): userId is not null
  const bson_oid_t id3 = ToOid(Doc(3));
  bson_append_oid(text_user.get(), "_id", -1, &id3);
  bson_append_utf8(text_user.get(), "userId", -1, "bob", -1);
  bson_append_date_time(text_user.get(), "date", -1, StartOf(kDay));
  bson_append_date_time(text_user.get(), "updatedAt", -1, kT);
  ASSERT_TRUE(store.PutHealthMetric(text_user.get()));
  BsonDoc text_updated;
  const bson_oid_t id4 = ToOid(Doc(4)), u4 = ToOid(User(4));
  bson_append_oid(text_updated.get(), "_id", -1, &id4);
  bson_append_oid(text_updated.get(), "userId", -1, &u4);
  bson_append_utf8(text_updated.get(), "updatedAt", -1, "2025-11-20", -1);
  ASSERT_TRUE(store.PutHealthMetric(text_updated.get()));

  std::vector<ChangedVersion> seen;
  ASSERT_TRUE(store
                  .ReadChanges(Cursor{0, ObjectId::Min()}, 10, AnalyticsOptions{},
                               [&](ChangedVersion&& v) { seen.push_back(std::move(v)); })
                  .ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, Doc(3));
  EXPECT_FALSE(seen[0].user.has_value());
  ASSERT_EQ(seen[0].decoded.issues.size(), 1u);
  EXPECT_EQ(seen[0].decoded.issues[0].field, "userId");
}

TEST(MemoryStoreTest, TheWindowReadSplitsAtTheCursorAndLimitsOnlyTheChanges) {
  MemoryStore store;
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(i), User(i), kDay, 1, kT + i * 1000).get()));
  std::vector<ObjectId> window, changed;
  ASSERT_TRUE(store
                  .ReadWindowAndChanges(
                      kT, Cursor{kT + 2000, Doc(2)}, 2, AnalyticsOptions{},
                      [&](ChangedVersion&& v) { window.push_back(v.id); },
                      [&](ChangedVersion&& v) { changed.push_back(v.id); })
                  .ok());
  // (T, (T+2 s, d2)]: d1, d2 (d0 is at T itself, excluded); then two after the cursor.
  EXPECT_EQ(window, (std::vector<ObjectId>{Doc(1), Doc(2)}));
  EXPECT_EQ(changed, (std::vector<ObjectId>{Doc(3), Doc(4)}));
  EXPECT_EQ(store
                .ReadWindowAndChanges(
                    kT + 2000, Cursor{kT + 2000, Doc(2)}, 2, AnalyticsOptions{},
                    [](ChangedVersion&&) {}, [](ChangedVersion&&) {})
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(MemoryStoreTest, HistoryIsTheUsersDaysInTheRangeAndGoalsDefaultPerUser) {
  MemoryStore store;
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(1), User(1), kDay - 10, 100, kT).get()));
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(2), User(1), kDay - 11, 200, kT).get()));
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(3), User(1), kDay + 1, 300, kT).get()));
  ASSERT_TRUE(store.PutHealthMetric(Steps(Doc(4), User(2), kDay, 400, kT).get()));
  HistoryByUser history;
  const std::vector<ObjectId> one{User(1)};
  ASSERT_TRUE(store.ReadHistory(one, kDay - 10, kDay, AnalyticsOptions{}, &history).ok());
  ASSERT_EQ(history.size(), 1u);
  ASSERT_EQ(history[User(1)].size(), 1u);
  EXPECT_EQ(history[User(1)][0].day, kDay - 10);

  BsonDoc user;
  const bson_oid_t uid = ToOid(User(1));
  bson_append_oid(user.get(), "_id", -1, &uid);
  bson_t goals;
  bson_append_document_begin(user.get(), "goals", -1, &goals);
  bson_append_int32(&goals, "stepGoal", -1, 6000);
  bson_append_document_end(user.get(), &goals);
  ASSERT_TRUE(store.PutUser(user.get()));
  GoalsByUser found;
  const std::vector<ObjectId> both{User(1), User(2)};
  ASSERT_TRUE(store.ReadGoals(both, &found).ok());
  EXPECT_EQ(found[User(1)].goal[static_cast<int>(Metric::kSteps)], 6000);
  EXPECT_EQ(found[User(2)].goal[static_cast<int>(Metric::kSteps)], 10000);

  std::vector<ObjectId> users;
  ASSERT_TRUE(store.ListUsers(kDay - 10, kDay, &users).ok());
  EXPECT_EQ(users, both);
}

TEST(MemoryStoreTest, WritesInsertUpdateAndDeleteAndARefusedUserLeavesTheOthersApplied) {
  MemoryStore store;
  std::vector<AnalyticsWrite> writes(2);
  for (int i = 0; i < 2; ++i) {
    writes[i].kind = AnalyticsWrite::Kind::kInsert;
    writes[i].user = User(i);
    const bson_oid_t uid = ToOid(User(i));
    bson_append_oid(writes[i].body.get(), "userId", -1, &uid);
    bson_append_utf8(writes[i].body.get(), "metricType", -1, "steps", -1);
    bson_append_utf8(writes[i].body.get(), "timeRange", -1, "7day", -1);
    bson_append_int32(writes[i].body.get(), "v", -1, 1);
  }
  store.RefuseWritesOf(User(0), Internal("refused"));
  WriteCounts counts;
  EXPECT_EQ(store.WriteAnalytics(writes, &counts).code(), StatusCode::kInternal);
  EXPECT_EQ(counts.inserted, 1);
  ASSERT_EQ(store.AnalyticsDocuments().size(), 1u);
  std::vector<ExistingAnalytics> existing;
  const std::vector<ObjectId> users{User(0), User(1)};
  ASSERT_TRUE(store.ReadAnalytics(users, &existing).ok());
  ASSERT_EQ(existing.size(), 1u);
  EXPECT_EQ(existing[0].user, User(1));

  std::vector<AnalyticsWrite> update(1);
  update[0].kind = AnalyticsWrite::Kind::kUpdate;
  update[0].user = User(1);
  update[0].id = existing[0].id;
  bson_append_int32(update[0].body.get(), "v", -1, 2);
  ASSERT_TRUE(store.WriteAnalytics(update, &counts).ok());
  auto doc = store.FindAnalytics(User(1), Metric::kSteps, TimeRange::k7Day);
  ASSERT_TRUE(doc.has_value());
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init_find(&it, doc->get(), "v"));
  EXPECT_EQ(bson_iter_int32(&it), 2);

  std::vector<AnalyticsWrite> del(1);
  del[0].kind = AnalyticsWrite::Kind::kDelete;
  del[0].user = User(1);
  del[0].id = existing[0].id;
  ASSERT_TRUE(store.WriteAnalytics(del, &counts).ok());
  EXPECT_TRUE(store.AnalyticsDocuments().empty());
}

}  // namespace
}  // namespace ha::engine_test
