#include "checkpoint/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>

#include "temp_dir.h"

namespace ha {
namespace {

using testing_util::Entries;
using testing_util::Inode;
using testing_util::Mode;
using testing_util::MtimeNs;
using testing_util::Slurp;
using testing_util::TempDir;

// Sets the umask for the scope of one test.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(AtomicFile, WritesAndReplacesContentsLeavingNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "first\n").ok());
  EXPECT_EQ(Slurp(path), "first\n");
  ASSERT_TRUE(WriteFileAtomically(path, "second, longer than the first\n").ok());
  EXPECT_EQ(Slurp(path), "second, longer than the first\n");
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(Slurp(path), "");
  EXPECT_EQ(Entries(dir.path()), std::set<std::string>{"state.txt"});
}

TEST(AtomicFile, ReplacesTheFileRatherThanRewritingItInPlace) {
  // A reader holding the old file keeps seeing the old contents: the new file is a new inode.
  TempDir dir;
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  const ino_t before = Inode(path);
  ASSERT_TRUE(WriteFileAtomically(path, "new").ok());
  EXPECT_NE(Inode(path), before);
}

TEST(AtomicFile, NewFilesAreNeverGroupOrWorldWritableEvenWithAPermissiveUmask) {
  TempDir dir;
  ScopedUmask umask0(0);
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
  EXPECT_EQ(Mode(path), 0644u);
}

TEST(AtomicFile, NewFilesHonourAStricterUmask) {
  TempDir dir;
  ScopedUmask umask077(077);
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
  EXPECT_EQ(Mode(path), 0600u);
}

TEST(AtomicFile, RewriteKeepsAStricterModeAndDropsGroupAndWorldWrite) {
  TempDir dir;
  ScopedUmask umask0(0);
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "y").ok());
  EXPECT_EQ(Mode(path), 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "z").ok());
  EXPECT_EQ(Mode(path), 0644u);
}

TEST(AtomicFile, FailureNamesTheFileAndLeavesNothingBehind) {
  TempDir dir;
  const std::string path = dir / "missing-subdir/state.txt";
  Status s = WriteFileAtomically(path, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_TRUE(Entries(dir.path()).empty());
}

TEST(AtomicFile, ReadFileIfExistsDistinguishesMissingFromEmpty) {
  TempDir dir;
  const std::string path = dir / "state.txt";
  auto missing = ReadFileIfExists(path);
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  auto empty = ReadFileIfExists(path);
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ(**empty, "");

  const std::string big(100'000, 'a');
  ASSERT_TRUE(WriteFileAtomically(path, big).ok());
  auto full = ReadFileIfExists(path);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(**full, big);
}

TEST(AtomicFile, ReadingADirectoryIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir / "subdir";
  std::filesystem::create_directory(path);
  auto r = ReadFileIfExists(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIo);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
}

TEST(AtomicFile, SnapshotReportsMtimeAndInode) {
  TempDir dir;
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "abc").ok());
  auto snap = ReadFileSnapshot(path);
  ASSERT_TRUE(snap.ok());
  ASSERT_TRUE(snap->has_value());
  EXPECT_EQ((*snap)->contents, "abc");
  EXPECT_EQ((*snap)->mtime_ns, MtimeNs(path));
  EXPECT_EQ((*snap)->inode, static_cast<uint64_t>(Inode(path)));
}

TEST(StagedFile, IsInvisibleUntilPublishedAndKeepsItsMtimeAndInode) {
  TempDir dir;
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  auto staged = StagedFile::Create(path, "new");
  ASSERT_TRUE(staged.ok()) << staged.status().message();
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_EQ(Slurp(staged->temp_path()), "new");
  ASSERT_TRUE(staged->Publish().ok());
  EXPECT_EQ(Slurp(path), "new");
  EXPECT_EQ(MtimeNs(path), staged->mtime_ns());
  EXPECT_EQ(static_cast<uint64_t>(Inode(path)), staged->inode());
  EXPECT_EQ(Entries(dir.path()), std::set<std::string>{"state.txt"});
  EXPECT_FALSE(staged->Publish().ok());  // only once
}

TEST(StagedFile, UnpublishedFileIsRemovedAndTheDestinationUntouched) {
  TempDir dir;
  const std::string path = dir / "state.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  std::string temp;
  {
    auto staged = StagedFile::Create(path, "new");
    ASSERT_TRUE(staged.ok());
    temp = staged->temp_path();
    EXPECT_TRUE(std::filesystem::exists(temp));
    StagedFile moved = std::move(*staged);  // ownership of the temp file moves too
    EXPECT_TRUE(std::filesystem::exists(temp));
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_EQ(Entries(dir.path()), std::set<std::string>{"state.txt"});
}

}  // namespace
}  // namespace ha
