#include "checkpoint/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/atomic_file.h"
#include "temp_dir.h"

namespace ha {
namespace {

using ::testing::HasSubstr;
using testing_util::Entries;
using testing_util::Mode;
using testing_util::ShellWrite;
using testing_util::Slurp;
using testing_util::TempDir;
using testing_util::WaitForNewMtime;

Instant At(const char* text) {
  auto t = ParseInstant(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

ObjectId Id(const char* hex) { return *ObjectId::FromHex(hex); }

class CheckpointTest : public ::testing::Test {
 protected:
  TempDir tmp_;  // first: the members below are built from it
  // A directory that does not exist yet: CHECKPOINT_LOCATION on a first run.
  std::string dir_ = tmp_ / "spark-checkpoints";
  CheckpointStore store_{dir_};
  std::string wm_path_ = dir_ + "/last_processed_timestamp.txt";
  std::string sidecar_path_ = dir_ + "/health_analytics_state.json";

  CheckpointState MustLoad() {
    auto st = store_.Load();
    EXPECT_TRUE(st.ok()) << st.status().message();
    return st.ok() ? std::move(st).value() : CheckpointState{};
  }

  // A finished batch: Load at the start, Commit at the end.
  CommitOutcome Batch(Cursor cursor, Instant batch_start, int64_t next_batch_id) {
    CheckpointState st = MustLoad();
    return MustCommit(st, cursor, batch_start, next_batch_id);
  }

  CommitOutcome MustCommit(const CheckpointState& st, Cursor cursor, Instant batch_start,
                           int64_t next_batch_id) {
    CommitRequest req;
    req.watermark_seen = st.watermark_seen;
    req.cursor = cursor;
    req.batch_start = batch_start;
    req.next_batch_id = next_batch_id;
    req.last_recompute_day = st.last_recompute_day;
    req.recompute_progress = st.recompute_progress;
    auto out = store_.Commit(req);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : CommitOutcome{};
  }

  nlohmann::json SidecarJson() { return nlohmann::json::parse(Slurp(sidecar_path_)); }
};

const Cursor kC1{At("2025-11-20T10:00:45.123Z"), Id("65a1b2c3d4e5f60718293a4b")};
const Instant kStart1 = At("2025-11-20T10:01:00Z");

// ---- first run and the watermark file's grammar ----

TEST_F(CheckpointTest, FirstRunWithNoDirectoryHasNoCursorAndCreatesNothing) {
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kFirstRun);
  EXPECT_FALSE(st.cursor.has_value());
  EXPECT_FALSE(st.watermark.has_value());
  EXPECT_FALSE(st.sidecar_present);
  EXPECT_FALSE(st.operator_edited);
  EXPECT_EQ(st.next_batch_id, 0);
  EXPECT_FALSE(st.last_recompute_day.has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

struct WatermarkForm {
  const char* text;
  const char* means;  // the same instant, written canonically
};

TEST_F(CheckpointTest, EveryTimestampFormOfTheSpecIsReadFromTheWatermarkFile) {
  const std::vector<WatermarkForm> forms = {
      {"2025-11-20T10:00:45.123Z\n", "2025-11-20T10:00:45.123Z"},  // what the engine writes
      {"2025-11-20T10:00:45.123Z", "2025-11-20T10:00:45.123Z"},    // no trailing newline
      {"2025-11-20T10:00:45Z", "2025-11-20T10:00:45.000Z"},        // 0 fraction digits
      {"2025-11-20T10:00:45.1Z", "2025-11-20T10:00:45.100Z"},
      {"2025-11-20T10:00:45.12Z", "2025-11-20T10:00:45.120Z"},
      {"2025-11-20T10:00:45.1234Z", "2025-11-20T10:00:45.123Z"},  // truncated, not rounded
      {"2025-11-20T10:00:45.12345Z", "2025-11-20T10:00:45.123Z"},
      {"2025-11-20T10:00:45.123456Z", "2025-11-20T10:00:45.123Z"},
      {"2025-11-20T10:00:45.1234567Z", "2025-11-20T10:00:45.123Z"},
      {"2025-11-20T10:00:45.12345678Z", "2025-11-20T10:00:45.123Z"},
      {"2025-11-20T10:00:45.999999999Z", "2025-11-20T10:00:45.999Z"},  // 9 digits
      {"2025-11-20T12:00:45.123+02:00", "2025-11-20T10:00:45.123Z"},
      {"2025-11-20T05:30:45-04:30", "2025-11-20T10:00:45.000Z"},
      {"2025-11-20T10:00:45+00:00", "2025-11-20T10:00:45.000Z"},
      {"2025-11-20T10:00:45", "2025-11-20T10:00:45.000Z"},               // no zone: UTC
      {"2025-11-20T10:00:45.5", "2025-11-20T10:00:45.500Z"},             // no zone, fraction
      {"  2025-11-20T10:00:45.123Z  \n\n", "2025-11-20T10:00:45.123Z"},  // whitespace
      {"\t2025-11-20T10:00:45Z\r\n", "2025-11-20T10:00:45.000Z"},
      {"2025-11-13T00:00:00\n", "2025-11-13T00:00:00.000Z"},  // the seed's `echo ... > file`
  };
  for (const auto& f : forms) {
    SCOPED_TRACE(f.text);
    std::filesystem::create_directories(dir_);
    ShellWrite(wm_path_, f.text);
    CheckpointState st = MustLoad();
    ASSERT_TRUE(st.watermark.has_value());
    EXPECT_EQ(FormatInstant(*st.watermark), f.means);
    EXPECT_EQ(st.resume_from, ResumeFrom::kWatermarkFile);
    ASSERT_TRUE(st.cursor.has_value());
    EXPECT_EQ(*st.cursor, (Cursor{*st.watermark, ObjectId::Min()}));
    EXPECT_EQ(st.watermark_text, f.text);
  }
}

TEST_F(CheckpointTest, EmptyWatermarkFileIsAnErrorNamingTheFileAndTheFix) {
  for (const char* empty : {"", "\n", "   \n\t\n"}) {
    SCOPED_TRACE(::testing::PrintToString(empty));
    std::filesystem::create_directories(dir_);
    ShellWrite(wm_path_, empty);
    auto st = store_.Load();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(st.status().message(), HasSubstr(wm_path_));
    EXPECT_THAT(st.status().message(), HasSubstr("is empty"));
    EXPECT_THAT(st.status().message(), HasSubstr("echo \"2025-11-13T00:00:00Z\" > '" + wm_path_));
    EXPECT_THAT(st.status().message(), HasSubstr("delete the file"));
  }
}

TEST_F(CheckpointTest, UnparsableWatermarkFileIsAnErrorShowingWhatItHolds) {
  for (const char* bad :
       {"yesterday\n", "1732096845", "2025-13-01T00:00:00Z", "2025-11-20T10:00:45.1234567890Z",
        "2025-11-20T10:00:45Z junk", "\x01\x02\xff"}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    std::filesystem::create_directories(dir_);
    ShellWrite(wm_path_, bad);
    auto st = store_.Load();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(st.status().message(), HasSubstr(wm_path_));
    EXPECT_THAT(st.status().message(), HasSubstr("does not hold a timestamp"));
    EXPECT_THAT(st.status().message(), HasSubstr("delete the file"));
  }
  ShellWrite(wm_path_, "yesterday\n");
  EXPECT_THAT(store_.Load().status().message(), HasSubstr("\"yesterday\\n\""));
}

TEST_F(CheckpointTest, UnparsableWatermarkSuggestsTheValueTheEngineLastWrote) {
  Batch(kC1, kStart1, 1);
  ShellWrite(wm_path_, "oops");
  auto st = store_.Load();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("echo \"2025-11-20T10:00:45.123Z\" > '"));
  EXPECT_THAT(st.status().message(), HasSubstr("the value the engine last wrote"));
}

// ---- commit and resume ----

TEST_F(CheckpointTest, CommitCreatesTheDirectoryAndResumesFromTheExactCursor) {
  CommitOutcome out = Batch(kC1, kStart1, 1);
  EXPECT_TRUE(out.watermark_written);
  EXPECT_EQ(out.watermark, kC1.updated_at);
  EXPECT_EQ(Slurp(wm_path_), "2025-11-20T10:00:45.123Z\n");

  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_FALSE(st.operator_edited);
  EXPECT_TRUE(st.sidecar_present);
  ASSERT_TRUE(st.cursor.has_value());
  EXPECT_EQ(*st.cursor, kC1);  // the exact _id: ties split by a batch cut resume exactly
  EXPECT_EQ(st.watermark, kC1.updated_at);
  EXPECT_EQ(st.next_batch_id, 1);
  EXPECT_EQ(st.watermark_seen, out.watermark_seen);
}

TEST_F(CheckpointTest, WatermarkIsTheEarlierOfCursorAndBatchStart) {
  // A writer whose clock runs ahead stamped a document after the batch began: the watermark
  // file must not move into the future, but the cursor keeps the exact position.
  const Cursor ahead{At("2025-11-20T10:05:00Z"), Id("65a1b2c3d4e5f60718293a4c")};
  CommitOutcome out = Batch(ahead, kStart1, 1);
  EXPECT_EQ(out.watermark, kStart1);
  EXPECT_EQ(Slurp(wm_path_), "2025-11-20T10:01:00.000Z\n");
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_EQ(st.watermark, kStart1);
  EXPECT_EQ(st.cursor, ahead);
  EXPECT_EQ(WatermarkFor(5, 7), 5);
  EXPECT_EQ(WatermarkFor(7, 5), 5);
}

TEST_F(CheckpointTest, ConsecutiveBatchesChainWithoutReloading) {
  CommitOutcome first = Batch(kC1, kStart1, 1);
  CommitRequest req;
  req.watermark_seen = first.watermark_seen;
  req.cursor = {At("2025-11-20T10:02:00Z"), Id("65a1b2c3d4e5f60718293a4d")};
  req.batch_start = At("2025-11-20T10:02:30Z");
  req.next_batch_id = 2;
  auto second = store_.Commit(req);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(second->watermark_written);
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_EQ(st.cursor, req.cursor);
  EXPECT_EQ(st.next_batch_id, 2);
}

TEST_F(CheckpointTest, CommitLeavesNoTemporaryFilesAndNothingWorldWritable) {
  Batch(kC1, kStart1, 1);
  Batch(kC1, kStart1 + 60'000, 2);
  EXPECT_EQ(Entries(dir_),
            (std::set<std::string>{"last_processed_timestamp.txt", "health_analytics_state.json"}));
  EXPECT_EQ(Mode(wm_path_) & 0022, 0u);
  EXPECT_EQ(Mode(sidecar_path_) & 0022, 0u);
}

TEST_F(CheckpointTest, SidecarRoundTripsEveryField) {
  CheckpointState st = MustLoad();
  CommitRequest req;
  req.watermark_seen = st.watermark_seen;
  req.cursor = kC1;
  req.batch_start = kStart1;
  req.next_batch_id = 42;
  req.last_recompute_day = DaysFromCivil(2025, 11, 20);
  req.recompute_progress = R"({"day":20412,"after_user":"65a1b2c3d4e5f60718293a4b"})"
                           "\nline 2 \"quoted\" \xc3\xa9";
  req.grace_window = R"([[1763632845123,"65a1b2c3d4e5f60718293a4b"]])";
  ASSERT_TRUE(store_.Commit(req).ok());

  CheckpointState back = MustLoad();
  EXPECT_EQ(back.cursor, req.cursor);
  EXPECT_EQ(back.next_batch_id, 42);
  EXPECT_EQ(back.last_recompute_day, req.last_recompute_day);
  EXPECT_EQ(back.recompute_progress, req.recompute_progress);
  EXPECT_EQ(back.grace_window, req.grace_window);

  nlohmann::json j = SidecarJson();
  EXPECT_EQ(j["format_version"], 1);
  EXPECT_EQ(j["cursor"]["id"], "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(j["cursor"]["updated_at"], "2025-11-20T10:00:45.123Z");  // for people
  EXPECT_EQ(j["last_recompute_date"], "2025-11-20");
  EXPECT_EQ(j["watermark_written"]["text"], "2025-11-20T10:00:45.123Z\n");

  req.watermark_seen = back.watermark_seen;
  req.last_recompute_day.reset();
  req.recompute_progress.clear();
  ASSERT_TRUE(store_.Commit(req).ok());
  back = MustLoad();
  EXPECT_FALSE(back.last_recompute_day.has_value());
  EXPECT_EQ(back.recompute_progress, "");
}

TEST_F(CheckpointTest, UnknownSidecarFieldsSurviveARewrite) {
  Batch(kC1, kStart1, 1);
  nlohmann::json j = SidecarJson();
  j["added_by_a_newer_minor_version"] = {{"x", 1}};
  ShellWrite(sidecar_path_, j.dump());
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kSidecarCursor);
  MustCommit(st, kC1, kStart1 + 1000, 2);
  ASSERT_TRUE(store_.SaveProgress({std::nullopt, "p", std::nullopt}).ok());
  EXPECT_EQ(SidecarJson()["added_by_a_newer_minor_version"]["x"], 1);
}

// ---- operator edits ----

TEST_F(CheckpointTest, OperatorEditMovesTheCursorToTheInstantWithTheLowestId) {
  Batch(kC1, kStart1, 5);
  ShellWrite(wm_path_, "2025-11-13T00:00:00\n");  // the seed's reset recipe
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_TRUE(st.operator_edited);
  EXPECT_EQ(st.watermark, At("2025-11-13T00:00:00Z"));
  EXPECT_EQ(st.cursor, (Cursor{At("2025-11-13T00:00:00Z"), ObjectId::Min()}));
  EXPECT_EQ(st.next_batch_id, 5);  // batch ids continue

  // The next commit consumes the edit: from then on the sidecar's cursor is trusted again.
  const Cursor later{At("2025-11-14T00:00:00Z"), Id("65a1b2c3d4e5f60718293a4e")};
  MustCommit(st, later, kStart1 + 60'000, 6);
  CheckpointState next = MustLoad();
  EXPECT_EQ(next.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_FALSE(next.operator_edited);
  EXPECT_EQ(next.cursor, later);
}

TEST_F(CheckpointTest, RewritingTheSameTextIsStillAnOperatorEdit) {
  // `echo` of exactly what the file holds: the text matches, but the file was rewritten.
  Batch(kC1, kStart1, 1);
  const std::string same = Slurp(wm_path_);
  WaitForNewMtime(wm_path_);
  ShellWrite(wm_path_, same);
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(st.cursor, (Cursor{kC1.updated_at, ObjectId::Min()}));
}

TEST_F(CheckpointTest, ResetToIsSeenAsAnOperatorEditEvenAtTheCurrentWatermark) {
  Batch(kC1, kStart1, 3);
  ASSERT_TRUE(store_.ResetTo(kC1.updated_at).ok());  // same text as the engine wrote
  EXPECT_EQ(Slurp(wm_path_), "2025-11-20T10:00:45.123Z\n");
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(st.cursor, (Cursor{kC1.updated_at, ObjectId::Min()}));

  const Instant days_ago = At("2025-11-10T00:00:00Z");
  ASSERT_TRUE(store_.ResetTo(days_ago).ok());
  st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(st.cursor, (Cursor{days_ago, ObjectId::Min()}));
  EXPECT_EQ(st.next_batch_id, 3);
}

TEST_F(CheckpointTest, ResetToWithoutAnyCheckpointCreatesAWatermarkToResumeFrom) {
  const Instant t = At("2025-11-13T00:00:00Z");
  ASSERT_TRUE(store_.ResetTo(t).ok());
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kWatermarkFile);
  EXPECT_EQ(st.cursor, (Cursor{t, ObjectId::Min()}));
  EXPECT_FALSE(std::filesystem::exists(sidecar_path_));  // reset writes the watermark only
}

TEST_F(CheckpointTest, AnOperatorEditDuringABatchWinsOverTheCommit) {
  Batch(kC1, kStart1, 1);
  CheckpointState st = MustLoad();                // batch 1 starts
  ShellWrite(wm_path_, "2025-11-13T00:00:00\n");  // operator resets while it runs
  const Cursor c2{At("2025-11-20T10:02:00Z"), Id("65a1b2c3d4e5f60718293a4f")};
  CommitOutcome out = MustCommit(st, c2, kStart1 + 60'000, 2);
  EXPECT_FALSE(out.watermark_written);
  EXPECT_EQ(Slurp(wm_path_), "2025-11-13T00:00:00\n");  // the edit is left in place
  EXPECT_EQ(Entries(dir_).size(), 2u);                  // and our staged file is gone

  CheckpointState next = MustLoad();
  EXPECT_EQ(next.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(next.cursor, (Cursor{At("2025-11-13T00:00:00Z"), ObjectId::Min()}));
  EXPECT_EQ(next.next_batch_id, 2);  // the batch itself is still recorded
}

TEST_F(CheckpointTest, AResetToTheSameTextDuringABatchStillWins) {
  Batch(kC1, kStart1, 1);
  CheckpointState st = MustLoad();
  ASSERT_TRUE(store_.ResetTo(kC1.updated_at).ok());  // identical text, new file
  const Cursor c2{At("2025-11-20T10:02:00Z"), Id("65a1b2c3d4e5f60718293a4f")};
  CommitOutcome out = MustCommit(st, c2, kStart1 + 60'000, 2);
  EXPECT_FALSE(out.watermark_written);
  CheckpointState next = MustLoad();
  EXPECT_EQ(next.resume_from, ResumeFrom::kOperatorEdit);
  EXPECT_EQ(next.cursor, (Cursor{kC1.updated_at, ObjectId::Min()}));
}

TEST_F(CheckpointTest, DeletingTheWatermarkDuringABatchWins) {
  Batch(kC1, kStart1, 1);
  CheckpointState st = MustLoad();
  std::filesystem::remove(wm_path_);
  CommitOutcome out = MustCommit(st, kC1, kStart1 + 60'000, 2);
  EXPECT_FALSE(out.watermark_written);
  EXPECT_FALSE(std::filesystem::exists(wm_path_));
  CheckpointState next = MustLoad();
  EXPECT_EQ(next.resume_from, ResumeFrom::kWatermarkDeleted);
  EXPECT_FALSE(next.cursor.has_value());
  EXPECT_EQ(next.next_batch_id, 2);
}

TEST_F(CheckpointTest, DeletedWatermarkMeansFirstRunLookbackWithBatchIdsContinuing) {
  CheckpointState st = MustLoad();
  CommitRequest req;
  req.watermark_seen = st.watermark_seen;
  req.cursor = kC1;
  req.batch_start = kStart1;
  req.next_batch_id = 8;
  req.last_recompute_day = DaysFromCivil(2025, 11, 20);
  ASSERT_TRUE(store_.Commit(req).ok());
  std::filesystem::remove(wm_path_);

  CheckpointState after = MustLoad();
  EXPECT_EQ(after.resume_from, ResumeFrom::kWatermarkDeleted);
  EXPECT_FALSE(after.cursor.has_value());  // the engine starts from now - lookback
  EXPECT_FALSE(after.watermark.has_value());
  EXPECT_EQ(after.next_batch_id, 8);
  EXPECT_EQ(after.last_recompute_day, req.last_recompute_day);

  // The first batch after that writes a fresh watermark, and resumes normally.
  const Cursor lookback{At("2025-10-21T10:01:00Z"), ObjectId::Min()};
  MustCommit(after, lookback, kStart1 + 60'000, 9);
  CheckpointState resumed = MustLoad();
  EXPECT_EQ(resumed.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_EQ(resumed.cursor, lookback);
  EXPECT_EQ(resumed.next_batch_id, 9);
}

// ---- migration from the Spark job ----

TEST_F(CheckpointTest, AWatermarkWithoutSidecarIsResumedFromAndSparkFilesAreIgnored) {
  std::filesystem::create_directories(dir_ + "/offsets");
  std::filesystem::create_directories(dir_ + "/commits");
  ShellWrite(dir_ + "/offsets/0", "v1\n{\"batchWatermarkMs\":0}\n");
  ShellWrite(dir_ + "/metadata", "{\"id\":\"7d6c5e5a-0000-0000-0000-000000000000\"}\n");
  ShellWrite(wm_path_, "2025-11-20T09:55:00\n");
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kWatermarkFile);
  EXPECT_FALSE(st.sidecar_present);
  EXPECT_FALSE(st.operator_edited);
  EXPECT_EQ(st.cursor, (Cursor{At("2025-11-20T09:55:00Z"), ObjectId::Min()}));
  EXPECT_EQ(st.next_batch_id, 0);

  MustCommit(st, kC1, kStart1, 1);
  EXPECT_EQ(Slurp(dir_ + "/metadata"), "{\"id\":\"7d6c5e5a-0000-0000-0000-000000000000\"}\n");
  EXPECT_EQ(MustLoad().resume_from, ResumeFrom::kSidecarCursor);
}

TEST_F(CheckpointTest, DoctorSpotsAZonelessWatermarkWithNoSidecar) {
  EXPECT_FALSE(store_.LooksLikeOldJobLocalTime());  // nothing there
  std::filesystem::create_directories(dir_);
  ShellWrite(wm_path_, "2025-11-20T09:55:00.123456\n");
  EXPECT_TRUE(store_.LooksLikeOldJobLocalTime());
  ShellWrite(wm_path_, "2025-11-20T09:55:00Z\n");
  EXPECT_FALSE(store_.LooksLikeOldJobLocalTime());
  ShellWrite(wm_path_, "2025-11-20T09:55:00+01:00\n");
  EXPECT_FALSE(store_.LooksLikeOldJobLocalTime());
  ShellWrite(wm_path_, "garbage");
  EXPECT_FALSE(store_.LooksLikeOldJobLocalTime());  // Load() reports that one

  // Next to a sidecar, a zone-less file is an operator edit, read as UTC as documented.
  std::filesystem::remove(wm_path_);
  Batch(kC1, kStart1, 1);
  ShellWrite(wm_path_, "2025-11-13T00:00:00\n");
  EXPECT_FALSE(store_.LooksLikeOldJobLocalTime());
}

// ---- the sidecar on its own ----

TEST_F(CheckpointTest, SaveProgressTouchesNeitherTheCursorNorTheWatermark) {
  CommitOutcome out = Batch(kC1, kStart1, 4);
  ASSERT_TRUE(
      store_.SaveProgress({DaysFromCivil(2025, 11, 21), "chunk 3 of 9", std::nullopt}).ok());
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kSidecarCursor);
  EXPECT_EQ(st.cursor, kC1);
  EXPECT_EQ(st.watermark_seen, out.watermark_seen);  // the same file, untouched
  EXPECT_EQ(st.next_batch_id, 4);
  EXPECT_EQ(st.last_recompute_day, DaysFromCivil(2025, 11, 21));
  EXPECT_EQ(st.recompute_progress, "chunk 3 of 9");

  ASSERT_TRUE(store_.SaveProgress({DaysFromCivil(2025, 11, 21), "", 5}).ok());
  st = MustLoad();
  EXPECT_EQ(st.next_batch_id, 5);
  EXPECT_EQ(st.recompute_progress, "");
}

TEST_F(CheckpointTest, SaveProgressBeforeTheFirstCommitIsStillAFirstRun) {
  ASSERT_TRUE(store_.SaveProgress({std::nullopt, "chunk 1", std::nullopt}).ok());
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kFirstRun);
  EXPECT_TRUE(st.sidecar_present);
  EXPECT_FALSE(st.cursor.has_value());
  EXPECT_EQ(st.recompute_progress, "chunk 1");
  EXPECT_FALSE(std::filesystem::exists(wm_path_));
}

TEST_F(CheckpointTest, ACorruptSidecarIsAClearErrorAndDeletingItRecovers) {
  Batch(kC1, kStart1, 1);
  const std::vector<std::string> corrupt = {
      "{\"format_version\": 1, \"cursor\": ",  // truncated
      "",
      "[1, 2]",
      R"({"next_batch_id": 3})",  // no format version: not ours
      R"({"format_version": 1, "cursor": {"updated_at_ms": "soon", "id": "65a1b2c3d4e5f60718293a4b"}})",
      R"({"format_version": 1, "cursor": {"updated_at_ms": 1, "id": "xyz"}})",
      R"({"format_version": 1, "next_batch_id": -4})",
      R"({"format_version": 1, "watermark_written": {"text": 5}})",
      R"({"format_version": 1, "last_recompute_day": "monday"})",
      R"({"format_version": 1, "recompute_progress": {"not": "a string"}})",
  };
  for (const auto& text : corrupt) {
    SCOPED_TRACE(text);
    ShellWrite(sidecar_path_, text);
    auto st = store_.Load();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(st.status().message(), HasSubstr(sidecar_path_));
    EXPECT_THAT(st.status().message(), HasSubstr("is corrupt"));
    EXPECT_THAT(st.status().message(), HasSubstr("Delete it"));
    EXPECT_THAT(st.status().message(), HasSubstr(wm_path_));
    // Writers refuse too, rather than replacing what they cannot read.
    EXPECT_FALSE(store_.SaveProgress({}).ok());
  }
  std::filesystem::remove(sidecar_path_);
  CheckpointState st = MustLoad();
  EXPECT_EQ(st.resume_from, ResumeFrom::kWatermarkFile);
  EXPECT_EQ(st.cursor, (Cursor{kC1.updated_at, ObjectId::Min()}));
}

TEST_F(CheckpointTest, ASidecarFromANewerVersionIsRefused) {
  Batch(kC1, kStart1, 1);
  nlohmann::json j = SidecarJson();
  j["format_version"] = 2;
  ShellWrite(sidecar_path_, j.dump());
  auto st = store_.Load();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("newer"));
  EXPECT_THAT(st.status().message(), HasSubstr(sidecar_path_));
}

TEST_F(CheckpointTest, ACommitThatCannotReadTheSidecarLeavesTheWatermarkAlone) {
  Batch(kC1, kStart1, 1);
  CheckpointState st = MustLoad();
  ShellWrite(sidecar_path_, "not json");
  CommitRequest req;
  req.watermark_seen = st.watermark_seen;
  req.cursor = {At("2025-11-20T10:09:00Z"), Id("65a1b2c3d4e5f60718293a50")};
  req.batch_start = At("2025-11-20T10:10:00Z");
  req.next_batch_id = 2;
  auto out = store_.Commit(req);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr(sidecar_path_));
  EXPECT_EQ(Slurp(wm_path_), "2025-11-20T10:00:45.123Z\n");
  EXPECT_EQ(Entries(dir_).size(), 2u);
}

TEST_F(CheckpointTest, ACheckpointLocationThatIsAFileIsAnErrorNamingIt) {
  ShellWrite(tmp_ / "not-a-dir", "x");
  CheckpointStore store(tmp_ / "not-a-dir");
  Status s = store.ResetTo(kStart1);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(tmp_ / "not-a-dir"));
  EXPECT_THAT(s.message(), HasSubstr("CHECKPOINT_LOCATION"));
  EXPECT_FALSE(store.Load().ok());
}

TEST(ResumeFromTest, HasStableNames) {
  EXPECT_STREQ(ToString(ResumeFrom::kFirstRun), "first-run");
  EXPECT_STREQ(ToString(ResumeFrom::kWatermarkDeleted), "watermark-deleted");
  EXPECT_STREQ(ToString(ResumeFrom::kSidecarCursor), "sidecar-cursor");
  EXPECT_STREQ(ToString(ResumeFrom::kWatermarkFile), "watermark-file");
  EXPECT_STREQ(ToString(ResumeFrom::kOperatorEdit), "operator-edit");
}

}  // namespace
}  // namespace ha
