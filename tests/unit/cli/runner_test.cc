// The command runner: one mapping from a Status to the exit code, and each command's set-up
// errors, run as real processes (no server needed: the server address is one nobody listens on).
#include "cli/runner.h"

#include <gtest/gtest.h>

#include <string>

#include "checkpoint/lock.h"
#include "tests/support/process.h"

namespace ha::testing {
namespace {

using cli::ExitCodeFor;

// Port 1 on the loopback: refused at once; the short timeout bounds server selection. The
// binary runs with a clean environment (tests/support/process.h): only these variables.
constexpr const char* kDown =
    "MONGO_URI=mongodb://alice:s3cr3t-pw@127.0.0.1:1/?serverSelectionTimeoutMS=200 "
    "MONGO_DB_NAME=ha_runner_test";

TEST(ExitCodeFor, MapsEachStatusCodeToTheDocumentedExitCode) {
  // README "Exit codes": 0 success, 1 failed work, 2 usage or configuration, 3 no server,
  // 4 checkpoint locked.
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kInternal, "batch 3 failed")), 1);
  EXPECT_EQ(ExitCodeFor(IoError("error writing stdout")), 1);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kFailedPrecondition, "2 checks failed")), 1);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kNotFound, "x")), 1);
  EXPECT_EQ(ExitCodeFor(InvalidArgument("MAX_BATCH_DOCS = 'lots' is invalid")), 2);
  EXPECT_EQ(ExitCodeFor(Unavailable("no suitable servers")), 3);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kAlreadyLocked, "another instance")), 4);
}

TEST(ExitCodeFor, ALockThatCannotBeCreatedIsAConfigurationErrorAndAConflictIsFour) {
  TempDir dir;
  auto held = CheckpointLock::Acquire(dir / "ckpt");
  ASSERT_TRUE(held.ok()) << held.status().message();
  // The helper every lock-taking command uses, `demo` included.
  auto second = cli::AcquireCheckpointLock(dir / "ckpt");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(ExitCodeFor(second.status()), 4);
  WriteFile(dir / "file", "x");  // a file where the folder should be
  auto unusable = cli::AcquireCheckpointLock(dir / "file/ckpt");
  ASSERT_FALSE(unusable.ok());
  EXPECT_EQ(ExitCodeFor(unusable.status()), 2) << unusable.status().message();
}

// The command's first word: "seed --users 1" -> "seed".
std::string Name(const std::string& cmd) { return cmd.substr(0, cmd.find(' ')); }

TEST(Runner, AWrongVariableExits2NamingItForEveryCommand) {
  TempDir dir;
  for (const std::string cmd : {"run", "once", "recompute", "indexes", "doctor", "checkpoint show",
                                "seed --users 1 --days 1", "demo", "compute"}) {
    const RunResult r = RunBinary(dir, cmd, "/dev/null", std::string(kDown) + " HISTORY_DAYS=lots");
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.out << r.err;
    // One message, from the runner: what happened, to what, and what to do.
    EXPECT_NE(r.err.find("health-analytics " + Name(cmd) +
                         ": HISTORY_DAYS = 'lots' is invalid: expected an integer"),
              std::string::npos)
        << cmd << "\n"
        << r.err;
    EXPECT_NE(r.err.find("what to do: correct it"), std::string::npos) << cmd << r.err;
    EXPECT_EQ((r.out + r.err).find("s3cr3t-pw"), std::string::npos) << cmd;
  }
}

TEST(Runner, AMissingMongoUriExits2ForTheDatabaseCommandsOnly) {
  TempDir dir;
  for (const std::string cmd :
       {"run", "once", "recompute", "indexes", "doctor", "seed --users 1 --days 1"}) {
    const RunResult r = RunBinary(dir, cmd, "/dev/null", "MONGO_DB_NAME=x");
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("health-analytics " + Name(cmd) + ": MONGO_URI is not set"),
              std::string::npos)
        << cmd << "\n"
        << r.err;
  }
  // Neither `checkpoint` nor `compute` nor `seed --out` needs the database.
  EXPECT_EQ(RunBinary(dir, "checkpoint show").exit_code, 0);
  EXPECT_EQ(RunBinary(dir, "compute").exit_code, 0);
  const RunResult seed = RunBinary(dir, "seed --users 1 --days 1 --out data");
  EXPECT_EQ(seed.exit_code, 0) << seed.err;
}

TEST(Runner, AnUnknownFlagExits2ForEveryCommand) {
  TempDir dir;
  for (const std::string cmd : {"run", "once", "recompute", "indexes", "doctor", "checkpoint show",
                                "seed --users 1 --days 1", "demo", "compute"}) {
    const RunResult r = RunBinary(dir, cmd + " --no-such-flag", "/dev/null", kDown);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << cmd << r.err;
  }
  const RunResult unknown = RunBinary(dir, "nonsense", "/dev/null", kDown);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'nonsense'"), std::string::npos) << unknown.err;
  EXPECT_EQ(RunBinary(dir, "once --help", "/dev/null", kDown).exit_code, 0);
}

TEST(Runner, BadFlagValuesExit2NamingTheFlag) {
  TempDir dir;
  for (const std::string cmd :
       {"once --now yesterday", "recompute --now yesterday",
        "seed --users 1 --days 1 --out d --now yesterday", "compute --now yesterday"}) {
    const RunResult r = RunBinary(dir, cmd, "/dev/null", kDown);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find(": --now: 'yesterday' is not a timestamp"), std::string::npos)
        << cmd << r.err;
  }
  RunResult r = RunBinary(dir, "recompute --user 42", "/dev/null", kDown);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--user '42' is not a user id"), std::string::npos) << r.err;
  r = RunBinary(dir, "checkpoint reset", "/dev/null", kDown);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("give --to TS or --days N"), std::string::npos) << r.err;
  r = RunBinary(dir, "compute --users missing.jsonl", "/dev/null", kDown);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("health-analytics compute: cannot read the users file missing.jsonl"),
            std::string::npos)
      << r.err;
}

TEST(Runner, AnUnreachableServerExits3NamingTheDatabaseWithoutThePassword) {
  TempDir dir;
  for (const std::string cmd :
       {"once", "indexes", "doctor", "recompute", "seed --users 1 --days 1"}) {
    const RunResult r = RunBinary(dir, cmd, "/dev/null", kDown);
    EXPECT_EQ(r.exit_code, 3) << cmd << "\n" << r.out << r.err;
    EXPECT_EQ((r.out + r.err).find("s3cr3t-pw"), std::string::npos) << cmd << r.out << r.err;
    if (Name(cmd) != "doctor") {  // doctor says it in its list of checks
      EXPECT_NE(r.err.find("what to do: check that the server is up"), std::string::npos)
          << cmd << r.err;
    }
  }
}

TEST(Runner, ALockConflictExits4ForRunOnceAndDemo) {
  TempDir dir;
  // This process holds the lock; flock conflicts with any other open of the lock file.
  auto held = CheckpointLock::Acquire(dir / "ckpt");
  ASSERT_TRUE(held.ok()) << held.status().message();
  const std::string env = std::string(kDown) + " CHECKPOINT_LOCATION=ckpt HEALTH_CHECK_PORT=0";
  for (const std::string cmd : {"run", "once", "demo"}) {
    const RunResult r = RunBinary(dir, cmd, "/dev/null", env);
    EXPECT_EQ(r.exit_code, 4) << cmd << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("health-analytics " + cmd + ": another health-analytics instance"),
              std::string::npos)
        << cmd << "\n"
        << r.err;
    EXPECT_NE(r.err.find("what to do: one engine per CHECKPOINT_LOCATION"), std::string::npos)
        << cmd << r.err;
  }
  // A second instance touches nothing: no dead-letter or batch log folder was created.
  EXPECT_FALSE(std::filesystem::exists(dir / "dlq"));
  EXPECT_FALSE(std::filesystem::exists(dir / "logs"));
}

}  // namespace
}  // namespace ha::testing
