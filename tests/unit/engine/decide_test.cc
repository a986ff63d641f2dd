// The plan step's decisions (engine/decide.h), without a store. Expected values come from the
// rules in docs/ARCHITECTURE.md ("One batch", steps 2 and 4), worked by hand.
#include "engine/decide.h"

#include <gtest/gtest.h>

#include "engine_fixture.h"

namespace ha::engine_test {
namespace {

const Instant kNow = At("2025-11-20T12:00:00Z");
const Day kToday = DayOf(kNow);
constexpr Instant kMinute = 60'000;

CheckpointState Loaded(std::optional<Day> last_recompute_day, const PassState& pass) {
  CheckpointState s;
  s.last_recompute_day = last_recompute_day;
  s.recompute_progress = FormatPass(pass);
  return s;
}

TEST(DecideTest, PassProgressRoundTripsThroughTheSidecarText) {
  const PassState p{kToday, kNow - kMinute, User(7), false};
  EXPECT_EQ(ParsePass(FormatPass(p)), p);
  const PassState fresh{kToday, kNow, std::nullopt, false};
  EXPECT_EQ(ParsePass(FormatPass(fresh)), fresh);
}

TEST(DecideTest, PassTextFromOlderVersionsOrHandsIsReadSafely) {
  // Written before "done" existed: an unfinished pass.
  PassState old = ParsePass(R"({"day": 20412, "started": 5, "after": null})");
  EXPECT_EQ(old.day, std::optional<Day>(20412));
  EXPECT_EQ(old.started, 5);
  EXPECT_FALSE(old.done);
  // A day outside Day's range is no day, never a wrapped one.
  EXPECT_EQ(ParsePass(R"({"day": 4294967296, "done": true})").day, std::nullopt);
  EXPECT_EQ(ParsePass(R"({"day": -4294967297, "done": true})").day, std::nullopt);
  // Nothing readable: a finished pass that started at 0, so a new one is due.
  EXPECT_EQ(ParsePass("not json"), (PassState{std::nullopt, 0, std::nullopt, true}));
  EXPECT_EQ(ParsePass(""), (PassState{std::nullopt, 0, std::nullopt, true}));
}

TEST(DecideTest, GraceWindowTextIsSortedUniqueAndBoundedAndAnythingOddIsEmpty) {
  const std::string text = "[[5,\"" + Doc(2).ToHex() + "\"],[3,\"" + Doc(9).ToHex() + "\"],[5,\"" +
                           Doc(2).ToHex() + "\"],[5,\"" + Doc(1).ToHex() + "\"]]";
  EXPECT_EQ(ParseGraceWindow(text), (std::vector<Cursor>{{3, Doc(9)}, {5, Doc(1)}, {5, Doc(2)}}));
  EXPECT_TRUE(ParseGraceWindow("[[5, \"zz\"]]").empty());
  EXPECT_TRUE(ParseGraceWindow("[[5]]").empty());
  EXPECT_TRUE(ParseGraceWindow("{}").empty());

  std::vector<Cursor> many;
  for (int i = 0; i < 5001; ++i) many.push_back({i, Doc(i)});
  EXPECT_EQ(FormatGraceWindow(many), "");
  many.pop_back();
  EXPECT_EQ(ParseGraceWindow(FormatGraceWindow(many)), many);
  EXPECT_EQ(FormatGraceWindow({}), "");
}

TEST(DecideTest, AFirstRunStartsAtTheLookbackAndHasNoGraceWindow) {
  EngineOptions o;
  o.initial_lookback_days = 30;
  CheckpointState first;
  EXPECT_EQ(StartCursor(first, o, kNow), (Cursor{kNow - 30 * kMillisPerDay, ObjectId::Min()}));
  EXPECT_EQ(GraceWindowFrom(first, o), std::nullopt);
  CheckpointState later;
  later.cursor = Cursor{kNow - kMinute, Doc(3)};
  later.watermark = kNow - kMinute;
  EXPECT_EQ(StartCursor(later, o, kNow), (Cursor{kNow - kMinute, Doc(3)}));
  EXPECT_EQ(GraceWindowFrom(later, o), std::optional<Instant>(kNow - kMinute - 10'000));
}

TEST(DecideTest, TheDailyPassRunsWhenTheDayChangedOrItIsUnfinished) {
  EngineOptions o;
  const PollSummary quiet{0, 0};
  // The very first batch: no day recomputed yet.
  PassDecision first = DecidePass(CheckpointState{}, quiet, o, kNow);
  EXPECT_EQ(first.action, PassAction::kRun);
  EXPECT_EQ(first.pass, (PassState{kToday, kNow, std::nullopt, false}));
  // Today's pass finished an hour ago: nothing.
  const PassState done{kToday, kNow - 60 * kMinute, User(9), true};
  PassDecision none = DecidePass(Loaded(kToday, done), quiet, o, kNow);
  EXPECT_EQ(none.action, PassAction::kNone);
  EXPECT_EQ(none.pass, done);
  // Yesterday's: a new pass.
  PassDecision daily = DecidePass(Loaded(kToday - 1, done), quiet, o, kNow);
  EXPECT_EQ(daily.action, PassAction::kRun);
  EXPECT_EQ(daily.pass, (PassState{kToday, kNow, std::nullopt, false}));
  // Today's, unfinished: resumed where it was.
  const PassState half{kToday, kNow - 5 * kMinute, User(4), false};
  PassDecision resumed = DecidePass(Loaded(kToday - 1, half), quiet, o, kNow);
  EXPECT_EQ(resumed.action, PassAction::kRun);
  EXPECT_EQ(resumed.pass, half);
}

TEST(DecideTest, APassIsBegunBesideThePollWhenItWouldRunUnlessABacklogScheduledIt) {
  EngineOptions o;
  const PassState fresh{kToday, kNow, std::nullopt, false};
  // The first batch, and the first of a new day: a new pass.
  EXPECT_EQ(PassToBeginEarly(CheckpointState{}, o, kNow), std::optional<PassState>(fresh));
  const PassState done{kToday, kNow - 60 * kMinute, User(9), true};
  EXPECT_EQ(PassToBeginEarly(Loaded(kToday - 1, done), o, kNow), std::optional<PassState>(fresh));
  // Today's pass is done: none.
  EXPECT_EQ(PassToBeginEarly(Loaded(kToday, done), o, kNow), std::nullopt);
  // Today's, half done (a restart): the pass resumed, its list read again.
  const PassState half{kToday, kNow - 5 * kMinute, User(4), false};
  EXPECT_EQ(PassToBeginEarly(Loaded(kToday - 1, half), o, kNow), std::optional<PassState>(half));
  // Scheduled by a full batch (a backlog draining, so likely full again): none, even once the
  // ten minutes have passed and it will run.
  const PassState scheduled{kToday, kNow - kMaxBacklogDeferMs, std::nullopt, false};
  EXPECT_EQ(PassToBeginEarly(Loaded(kToday - 1, scheduled), o, kNow), std::nullopt);
}

TEST(DecideTest, TheReconcilePassRunsOnceTheIntervalHasPassed) {
  EngineOptions o;
  o.reconcile_interval_ms = 6 * 3'600'000LL;
  const PollSummary quiet{0, 0};
  const PassState recent{kToday, kNow - 6 * 3'600'000LL + 1, User(1), true};
  EXPECT_EQ(DecidePass(Loaded(kToday, recent), quiet, o, kNow).action, PassAction::kNone);
  const PassState old{kToday, kNow - 6 * 3'600'000LL, User(1), true};
  PassDecision d = DecidePass(Loaded(kToday, old), quiet, o, kNow);
  EXPECT_EQ(d.action, PassAction::kRun);
  EXPECT_EQ(d.pass, (PassState{kToday, kNow, std::nullopt, false}));
  o.reconcile_interval_ms = 0;  // only the daily one
  EXPECT_EQ(DecidePass(Loaded(kToday, old), quiet, o, kNow).action, PassAction::kNone);
}

TEST(DecideTest, AFullBatchOfManyUsersDefersThemToTheScheduledPassForAtMostTenMinutes) {
  EngineOptions o;
  o.max_batch_docs = 100;
  o.users_per_chunk = 10;
  const PollSummary full{100, 10};
  const PassState done{kToday - 1, kNow - kMillisPerDay, User(1), true};
  // The day changed: the pass is scheduled and nobody is computed.
  PassDecision first = DecidePass(Loaded(kToday - 1, done), full, o, kNow);
  EXPECT_EQ(first.action, PassAction::kDefer);
  EXPECT_EQ(first.pass, (PassState{kToday, kNow, std::nullopt, false}));
  // Scheduled 9 min 59.999 s ago: still deferred, the schedule kept as it was.
  const PassState scheduled{kToday, kNow - kMaxBacklogDeferMs + 1, std::nullopt, false};
  PassDecision waiting = DecidePass(Loaded(kToday - 1, scheduled), full, o, kNow);
  EXPECT_EQ(waiting.action, PassAction::kDefer);
  EXPECT_EQ(waiting.pass, scheduled);
  // Ten minutes: the pass begins although the batch is full.
  const PassState due{kToday, kNow - kMaxBacklogDeferMs, std::nullopt, false};
  PassDecision begins = DecidePass(Loaded(kToday - 1, due), full, o, kNow);
  EXPECT_EQ(begins.action, PassAction::kRun);
  EXPECT_EQ(begins.pass, due);
  // Not full: no deferral. Full with few users: deferred all the same (the pass would
  // recompute everyone now, and those of the next batches again).
  EXPECT_EQ(DecidePass(Loaded(kToday - 1, done), PollSummary{99, 10}, o, kNow).action,
            PassAction::kRun);
  EXPECT_EQ(DecidePass(Loaded(kToday - 1, done), PollSummary{100, 1}, o, kNow).action,
            PassAction::kDefer);
  // A pass under way has listed its users and done some before this batch's changes: the
  // users it did may be among the ones deferred now, so it is scheduled again from the start.
  const PassState begun{kToday, kNow - kMinute, User(5), false};
  PassDecision again = DecidePass(Loaded(kToday - 1, begun), full, o, kNow);
  EXPECT_EQ(again.action, PassAction::kDefer);
  EXPECT_EQ(again.pass, (PassState{kToday, kNow, std::nullopt, false}));
  // A full batch with no pass due is just a batch.
  const PassState today_done{kToday, kNow - kMinute, User(5), true};
  EXPECT_EQ(DecidePass(Loaded(kToday, today_done), full, o, kNow).action, PassAction::kNone);
}

TEST(DecideTest, ThePassSliceStartsAfterTheLastUserDone) {
  const std::vector<ObjectId> list{User(1), User(2), User(4), User(6), User(8)};
  PassState pass{kToday, kNow, std::nullopt, false};
  PassSlice all = SliceOfPass(list, pass, /*finish=*/false, 2);
  EXPECT_EQ(all.begin, 0u);
  EXPECT_EQ(all.count, 2u);
  EXPECT_FALSE(all.completes_pass);
  pass.after = User(3);  // gone from the list since: the next one after it
  PassSlice after = SliceOfPass(list, pass, false, 2);
  EXPECT_EQ(after.begin, 2u);
  EXPECT_EQ(after.count, 2u);
  EXPECT_FALSE(after.completes_pass);
  PassSlice finish = SliceOfPass(list, pass, /*finish=*/true, 2);
  EXPECT_EQ(finish.count, 3u);
  EXPECT_TRUE(finish.completes_pass);
  pass.after = User(8);
  PassSlice none = SliceOfPass(list, pass, false, 2);
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(none.completes_pass);
}

TEST(DecideTest, TheNextGraceWindowKeepsWhatTheNextWindowCanHold) {
  EngineOptions o;
  o.late_data_grace_ms = 10'000;
  const Instant t = kNow - kMinute;
  // Next cursor at t: the next window is (t - 10 s, ...]; versions at or before t - 10 s go.
  const std::vector<Cursor> seen{{t - 20'000, Doc(1)}, {t - 10'000, Doc(2)}, {t - 9'999, Doc(3)}};
  const std::deque<PolledVersion> changed{{{t - 15'000, Doc(4)}, User(1)}, {{t, Doc(6)}, User(1)}};
  const std::deque<PolledVersion> late{{{t - 5'000, Doc(5)}, User(2)},
                                       {{t - 9'999, Doc(3)}, User(3)}};
  EXPECT_EQ(NextGraceWindow(seen, changed, late, Cursor{t, Doc(6)}, o, kNow),
            (std::vector<Cursor>{{t - 9'999, Doc(3)}, {t - 5'000, Doc(5)}, {t, Doc(6)}}));
  // A writer ahead of the clock: the watermark is the batch start, not the cursor.
  const std::deque<PolledVersion> ahead{{{kNow + kMinute, Doc(7)}, User(1)}};
  EXPECT_EQ(NextGraceWindow({}, ahead, {}, Cursor{kNow + kMinute, Doc(7)}, o, kNow),
            (std::vector<Cursor>{{kNow + kMinute, Doc(7)}}));
  EXPECT_EQ(
      NextGraceWindow({{kNow - 10'000, Doc(8)}}, {}, {}, Cursor{kNow + kMinute, Doc(7)}, o, kNow),
      std::vector<Cursor>{});
}

}  // namespace
}  // namespace ha::engine_test
