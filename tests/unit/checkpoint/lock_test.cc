#include "checkpoint/lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "temp_dir.h"

namespace ha {
namespace {

using ::testing::HasSubstr;
using testing_util::Slurp;
using testing_util::TempDir;

TEST(CheckpointLock, AcquireCreatesTheDirectoryAndRecordsThisProcess) {
  TempDir tmp;
  const std::string dir = tmp / "nested/spark-checkpoints";
  auto lock = CheckpointLock::Acquire(dir);
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  EXPECT_EQ(lock->path(), dir + "/health_analytics.lock");
  EXPECT_THAT(Slurp(lock->path()), HasSubstr("pid=" + std::to_string(::getpid()) + " "));
}

TEST(CheckpointLock, ASecondAcquireInTheSameProcessFailsWithAClearMessage) {
  TempDir tmp;
  auto first = CheckpointLock::Acquire(tmp.path());
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = CheckpointLock::Acquire(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyLocked);
  const std::string& m = second.status().message();
  EXPECT_THAT(m, HasSubstr("another health-analytics instance (pid " + std::to_string(::getpid())));
  EXPECT_THAT(m, HasSubstr(tmp.path()));
  EXPECT_THAT(m, HasSubstr("give this instance its own CHECKPOINT_LOCATION"));
}

TEST(CheckpointLock, IsReleasedOnDestructionAndTheFileStays) {
  TempDir tmp;
  {
    auto lock = CheckpointLock::Acquire(tmp.path());
    ASSERT_TRUE(lock.ok());
    EXPECT_TRUE(CheckpointLock::IsHeld(tmp.path()));
  }
  EXPECT_FALSE(CheckpointLock::IsHeld(tmp.path()));
  EXPECT_TRUE(std::filesystem::exists(tmp / "health_analytics.lock"));
  auto again = CheckpointLock::Acquire(tmp.path());
  EXPECT_TRUE(again.ok()) << again.status().message();
}

TEST(CheckpointLock, MovingTransfersOwnership) {
  TempDir tmp;
  auto acquired = CheckpointLock::Acquire(tmp.path());
  ASSERT_TRUE(acquired.ok());
  std::optional<CheckpointLock> holder;
  {
    CheckpointLock moved = std::move(acquired).value();
    holder.emplace(std::move(moved));
  }  // the moved-from object is gone; the lock must still be held
  EXPECT_TRUE(CheckpointLock::IsHeld(tmp.path()));

  TempDir other;
  auto second = CheckpointLock::Acquire(other.path());
  ASSERT_TRUE(second.ok());
  *holder = std::move(second).value();  // move-assign releases the first directory's lock
  EXPECT_FALSE(CheckpointLock::IsHeld(tmp.path()));
  EXPECT_TRUE(CheckpointLock::IsHeld(other.path()));
  holder.reset();
  EXPECT_FALSE(CheckpointLock::IsHeld(other.path()));
}

TEST(CheckpointLock, ProbeDescribesTheHolder) {
  TempDir tmp;
  auto none = CheckpointLock::ProbeLock(tmp / "does-not-exist");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->held);

  auto lock = CheckpointLock::Acquire(tmp.path());
  ASSERT_TRUE(lock.ok());
  auto probe = CheckpointLock::ProbeLock(tmp.path());
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  EXPECT_TRUE(probe->held);
  EXPECT_THAT(probe->holder, HasSubstr("pid " + std::to_string(::getpid()) + " on host "));
  // Probing must not take the lock away from its holder.
  EXPECT_EQ(CheckpointLock::Acquire(tmp.path()).status().code(), StatusCode::kAlreadyLocked);
}

TEST(CheckpointLock, AnotherProcessCannotAcquireWhileThisOneHoldsIt) {
  TempDir tmp;
  auto lock = CheckpointLock::Acquire(tmp.path());
  ASSERT_TRUE(lock.ok());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto attempt = CheckpointLock::Acquire(tmp.path());
    if (attempt.ok()) ::_exit(1);
    if (attempt.status().code() != StatusCode::kAlreadyLocked) ::_exit(2);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the child got the lock; 2: another error";
}

TEST(CheckpointLock, ALockHeldByAnotherProcessIsFreedWhenThatProcessDies) {
  TempDir tmp;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto lock = CheckpointLock::Acquire(tmp.path());
    const char c = lock.ok() ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    for (;;) ::pause();  // hold it until killed
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');

  auto attempt = CheckpointLock::Acquire(tmp.path());
  EXPECT_FALSE(attempt.ok());
  EXPECT_EQ(attempt.status().code(), StatusCode::kAlreadyLocked);
  EXPECT_THAT(attempt.status().message(), HasSubstr("(pid " + std::to_string(child) + " on host"));

  ::kill(child, SIGKILL);  // a crash: no destructor runs, the kernel drops the lock
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto after = CheckpointLock::Acquire(tmp.path());
  EXPECT_TRUE(after.ok()) << after.status().message();
}

}  // namespace
}  // namespace ha
