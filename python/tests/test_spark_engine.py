"""The Spark runner on a real server (FerretDB, started as the C++ harness starts it): its
analytics against `health-analytics once` on the same seeded data (values and BSON types),
switching runners mid-stream on one checkpoint, and the Delta history holding each batch once
when a run is killed between its Delta append and its commit.

The expected documents come from the CLI (an independent route: another process, the C++
engine's own loop), read back with Debian's pymongo in canonical Extended JSON, so an int32
that became a double, or a date that became a string, is a difference."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from health_analytics import spark as runner

pytestmark = pytest.mark.spark

REPO = pathlib.Path(__file__).resolve().parents[2]
T1, T2, T3 = "2025-11-18T12:00:00Z", "2025-11-19T12:00:00Z", "2025-11-20T12:00:00Z"
# Fields that differ by nature between two runs: the ids the server made, the job id that names
# the runner's batch, and how long the work took.
IGNORED = ("_id",)
IGNORED_METADATA = ("sparkJobId", "processingDurationMs")

EXPORT = r"""
import sys
import pymongo
from bson import json_util
uri, db, coll = sys.argv[1:4]
for doc in pymongo.MongoClient(uri)[db][coll].find({}):
    print(json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS))
"""


@pytest.fixture(scope="module")
def binary():
    path = pathlib.Path(os.environ.get("HA_BINARY", REPO / "build/release/health-analytics"))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it or set HA_BINARY")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A FerretDB on a free loopback port (scripts/ferretdb, as tests/integration/harness.cc)."""
    folder = tmp_path_factory.mktemp("ferretdb")
    script = REPO / "scripts" / "ferretdb"
    uri = subprocess.run([str(script), "start", str(folder)], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    yield uri
    subprocess.run([str(script), "stop", str(folder)], check=False, capture_output=True)


def _env(server, db, work, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DELTA_PATH", "SPARK_MASTER", "HA_FAILPOINTS", "HA_SPARK_FAILPOINTS")}
    env.update(MONGO_URI=server, MONGO_DB_NAME=db, CHECKPOINT_LOCATION=str(work / "ckpt"),
               LOG_DIRECTORY=str(work / "logs"), DLQ_DIRECTORY=str(work / "dlq"),
               METRICS_DIRECTORY=str(work / "metrics"), HEALTH_CHECK_PORT="0")
    env.update(extra)
    return env


def _cli(binary, env, *args):
    r = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"health-analytics {' '.join(args)}: {r.stderr}{r.stdout}"


def _seed(binary, env, now, seed, users=12, days=12):
    _cli(binary, env, "seed", "--users", str(users), "--days", str(days), "--seed", str(seed),
         "--now", now)


def _analytics(server, db):
    """The analytics collection, canonical Extended JSON, keyed by (user, metric, range)."""
    out = subprocess.run(["/usr/bin/python3", "-c", EXPORT, server, db, "analytics"],
                         check=True, capture_output=True, text=True).stdout
    docs = {}
    for line in out.splitlines():
        d = json.loads(line)
        for k in IGNORED:
            d.pop(k, None)
        for k in IGNORED_METADATA:
            d.get("metadata", {}).pop(k, None)
        key = (d["userId"]["$oid"], d["metricType"], d["timeRange"])
        assert key not in docs, f"duplicate analytics document {key}"
        docs[key] = d
    return docs


def _batch_log(work):
    lines = []
    for f in sorted((work / "logs").glob("batch_logs_*")):
        lines += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    return lines


def _dead_letters(work):
    out = []
    for f in sorted((work / "dlq").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            d = json.loads(line)
            d.pop("recorded_at")
            out.append(d)
    return sorted(out, key=json.dumps)


def _spark_once(monkeypatch, env, now):
    """`python -m health_analytics.spark once --now` in this process, on the tests' session."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DELTA_PATH", raising=False)
    if "DELTA_PATH" in env:
        monkeypatch.setenv("DELTA_PATH", env["DELTA_PATH"])
    return runner.main(["once", "--now", now])


def test_once_on_spark_equals_the_clis_once(binary, server, tmp_path):
    cli_work, spark_work = tmp_path / "cli", tmp_path / "spark"
    cli_env = _env(server, "cli_once", cli_work)
    spark_env = _env(server, "spark_once", spark_work, DELTA_PATH=str(tmp_path / "delta"),
                     SPARK_MASTER="local[2]", PYSPARK_PYTHON=sys.executable)
    for env in (cli_env, spark_env):  # the same seed: the same documents, invalid values too
        _seed(binary, env, T3, seed=5, users=30, days=20)
    _cli(binary, cli_env, "once", "--now", T3)
    r = subprocess.run([sys.executable, "-m", "health_analytics.spark", "once", "--now", T3],
                       env=spark_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-5000:]

    expected, actual = _analytics(server, "cli_once"), _analytics(server, "spark_once")
    assert len(expected) > 30 * 3
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key] == expected[key], key
    assert _dead_letters(spark_work) == _dead_letters(cli_work)
    assert any(d["reason"] != "missing" for d in _dead_letters(cli_work)), "no invalid values"
    (log,) = _batch_log(spark_work)
    (cli_log,) = _batch_log(cli_work)
    assert log["status"] == "completed" and log["batch_id"] == 0
    for k in ("records_processed", "analytics_inserted", "users_recomputed", "dead_letters",
              "watermark_to"):
        assert log[k] == cli_log[k], k
    # The executors' commands and bytes count too: at least the single process's (the same
    # reads and writes, cut into one or more units per task, and a buildInfo per task).
    assert log["io"]["commands"] >= cli_log["io"]["commands"] > 0
    assert log["io"]["bytes_read"] >= cli_log["io"]["bytes_read"] > 0
    assert (spark_work / "metrics" / "spark_analytics_metrics.prom").exists()
    assert (spark_work / "ckpt" / "last_processed_timestamp.txt").read_text() == \
        (cli_work / "ckpt" / "last_processed_timestamp.txt").read_text()


def test_switching_runners_mid_stream_converges(binary, server, tmp_path, spark, monkeypatch):
    ref_env = _env(server, "switch_ref", tmp_path / "ref")
    work = tmp_path / "mixed"
    mixed_env = _env(server, "switch_mixed", work, DELTA_PATH=str(tmp_path / "delta"))
    steps = [(T1, 11, "spark"), (T2, 12, "cli"), (T3, 13, "spark")]
    for now, seed, who in steps:
        _seed(binary, ref_env, now, seed)
        _cli(binary, ref_env, "once", "--now", now)
        _seed(binary, mixed_env, now, seed)
        if who == "cli":
            _cli(binary, mixed_env, "once", "--now", now)
        else:
            assert _spark_once(monkeypatch, mixed_env, now) == 0
    expected, actual = _analytics(server, "switch_ref"), _analytics(server, "switch_mixed")
    assert actual == expected
    logs = _batch_log(work)
    assert [(x["batch_id"], x["status"]) for x in logs] == [(0, "completed"), (1, "completed"),
                                                           (2, "completed")]
    # The Delta history: the Spark batches (0 and 2), each with what it wrote, once.
    table = spark.read.format("delta").load(str(tmp_path / "delta"))
    per_batch = {r["batchId"]: r["count"] for r in table.groupBy("batchId").count().collect()}
    assert per_batch == {0: logs[0]["analytics_inserted"] + logs[0]["analytics_updated"],
                         2: logs[2]["analytics_inserted"] + logs[2]["analytics_updated"]}
    # A run with nothing new plans batch 3, writes nothing and appends nothing.
    versions = spark.sql(f"DESCRIBE HISTORY delta.`{tmp_path / 'delta'}`").count()
    assert _spark_once(monkeypatch, mixed_env, T3) == 0
    assert spark.sql(f"DESCRIBE HISTORY delta.`{tmp_path / 'delta'}`").count() == versions
    assert _batch_log(work)[-1]["analytics_written"] == 0


def test_killed_between_delta_and_commit_replays_without_duplicates(binary, server, tmp_path,
                                                                    spark):
    work = tmp_path / "killed"
    delta = tmp_path / "delta"
    env = _env(server, "killed", work, DELTA_PATH=str(delta), SPARK_MASTER="local[2]",
               PYSPARK_PYTHON=sys.executable, HA_FAILPOINTS="before-commit:120000")
    _seed(binary, env, T3, seed=21)
    cmd = [sys.executable, "-m", "health_analytics.spark", "once", "--now", T3]
    p = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        for line in p.stderr:
            if "failpoint before-commit" in line or time.monotonic() > deadline:
                break
        assert p.poll() is None, "the runner ended before its commit"
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the runner and its JVM, mid-batch
        p.wait()
    appended = spark.read.format("delta").load(str(delta)).count()
    assert appended > 0
    assert not (work / "ckpt" / "last_processed_timestamp.txt").exists(), "nothing committed"

    del env["HA_FAILPOINTS"]
    r = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-5000:]
    table = spark.read.format("delta").load(str(delta))
    assert table.count() == appended
    assert {r["batchId"] for r in table.select("batchId").distinct().collect()} == {0}
    assert table.select("userId", "metricType", "timeRange").distinct().count() == appended
    logs = _batch_log(work)
    assert logs[-1]["status"] == "completed" and logs[-1]["batch_id"] == 0
    assert logs[-1]["analytics_written"] == 0  # the replay found everything written


def _dead_letter_lines(work):
    """Every line of the dead-letter files, as written (duplicates kept)."""
    return [line for f in sorted((work / "dlq").glob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


def test_task_killed_mid_batch_converges(binary, server, tmp_path):
    """The first attempt of one task writes some of its users, then its Python worker dies
    (os._exit, the runner's HA_SPARK_FAILPOINTS=task-exit:N). Spark retries the task (local[2,4]:
    4 attempts); the batch must commit once, with the analytics, dead letters and watermark of
    `health-analytics once` on the same data, nothing lost or duplicated, no letter twice."""
    cli_work, spark_work = tmp_path / "cli", tmp_path / "spark"
    cli_env = _env(server, "kill_cli", cli_work)
    spark_env = _env(server, "kill_spark", spark_work, SPARK_MASTER="local[2,4]",
                     PYSPARK_PYTHON=sys.executable, HA_SPARK_FAILPOINTS="task-exit:3")
    for env in (cli_env, spark_env):
        _seed(binary, env, T3, seed=7, users=30, days=20)
    _cli(binary, cli_env, "once", "--now", T3)
    r = subprocess.run([sys.executable, "-m", "health_analytics.spark", "once", "--now", T3],
                       env=spark_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-5000:]
    # The failpoint fired once, after its users' writes, and Spark saw the task die and retried.
    fired = [x for x in r.stderr.splitlines() if "failpoint task-exit" in x]
    assert len(fired) == 1, r.stderr[-5000:]
    assert "exits after 3 of" in fired[0] and "(0 documents inserted)" not in fired[0], fired
    assert "Lost task 0.0" in r.stderr, r.stderr[-5000:]

    expected, actual = _analytics(server, "kill_cli"), _analytics(server, "kill_spark")
    assert len(expected) > 30 * 3
    assert actual.keys() == expected.keys()  # nothing lost; _analytics fails on a duplicate key
    for key in expected:
        assert actual[key] == expected[key], key
    # Dead letters: the invalid values of the seed, each written once, as the CLI wrote them.
    letters, cli_letters = _dead_letter_lines(spark_work), _dead_letter_lines(cli_work)
    assert any(json.loads(x)["reason"] != "missing" for x in cli_letters), "no invalid values"
    assert len(letters) == len(cli_letters)
    assert _dead_letters(spark_work) == _dead_letters(cli_work)
    # One batch, committed once; the retry found the killed attempt's documents already written.
    (log,) = _batch_log(spark_work)
    (cli_log,) = _batch_log(cli_work)
    assert log["status"] == "completed" and log["batch_id"] == 0
    for k in ("records_processed", "users_recomputed", "analytics_computed", "dead_letters",
              "watermark_to"):
        assert log[k] == cli_log[k], k
    assert cli_log["analytics_unchanged"] == 0
    assert log["analytics_unchanged"] > 0  # what the dead attempt wrote
    assert log["analytics_inserted"] + log["analytics_unchanged"] == cli_log["analytics_inserted"]
    assert (spark_work / "ckpt" / "last_processed_timestamp.txt").read_text() == \
        (cli_work / "ckpt" / "last_processed_timestamp.txt").read_text()


@pytest.mark.cluster
def test_standalone_cluster_with_spark_submit(binary, server, tmp_path):
    """A standalone master and two workers (1 core, 1 GiB each) on 127.0.0.1, the runner
    submitted with spark-submit (health_analytics/spark_submit.py, Delta from --packages): the
    process-users tasks ran on both workers' executors (the event log), and the analytics, dead
    letters and watermark are `health-analytics once`'s on the same data."""
    import standalone

    cli_work, spark_work = tmp_path / "cli", tmp_path / "spark"
    cli_env = _env(server, "cluster_cli", cli_work)
    spark_env = _env(server, "cluster_spark", spark_work, DELTA_PATH=str(tmp_path / "delta"))
    for env in (cli_env, spark_env):
        _seed(binary, env, T3, seed=9, users=30, days=20)
    _cli(binary, cli_env, "once", "--now", T3)

    events = tmp_path / "events"
    events.mkdir()
    from health_analytics import spark_submit

    with standalone.StandaloneCluster(tmp_path / "cluster", workers=2) as cluster:
        r = cluster.submit(
            [spark_submit.__file__, "once", "--now", T3], env=spark_env,
            packages=[standalone.DELTA_PACKAGE],
            conf={"spark.cores.max": 2, "spark.executor.cores": 1, "spark.executor.memory": "1g",
                  # the first job waits (up to 120 s) for both executors' cores
                  "spark.scheduler.minRegisteredResourcesRatio": 1.0,
                  "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
                  "spark.task.maxFailures": 4, "spark.pyspark.python": sys.executable,
                  "spark.ui.enabled": "false", **standalone.event_log_conf(events)})
        assert r.returncode == 0, r.stderr[-5000:]
        worker_ports = cluster.worker_ui_ports

    # The process-users job's tasks ran on two executors, one on each worker.
    tasks, workers = standalone.tasks_by_executor(events, runner.PROCESS_USERS_JOB)
    assert len(tasks) == 2 and all(n > 0 for n in tasks.values()), tasks
    assert sorted(workers[ex] for ex in tasks) == sorted(worker_ports), (tasks, workers)

    expected, actual = _analytics(server, "cluster_cli"), _analytics(server, "cluster_spark")
    assert len(expected) > 30 * 3
    assert actual == expected
    assert _dead_letters(spark_work) == _dead_letters(cli_work)
    (log,) = _batch_log(spark_work)
    (cli_log,) = _batch_log(cli_work)
    assert log["status"] == "completed"
    for k in ("records_processed", "analytics_inserted", "users_recomputed", "dead_letters",
              "watermark_to"):
        assert log[k] == cli_log[k], k
    # The Delta history: one commit, batch 0, every document the batch wrote.
    commit = [json.loads(x) for x in
              (tmp_path / "delta" / "_delta_log" / f"{0:020d}.json").read_text().splitlines()]
    (txn,) = [a["txn"] for a in commit if "txn" in a]
    (info,) = [a["commitInfo"] for a in commit if "commitInfo" in a]
    assert txn["version"] == 0
    assert int(info["operationMetrics"]["numOutputRows"]) == log["analytics_inserted"]
