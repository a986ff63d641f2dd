"""The Spark runner's parts: configuration as the CLI reads it, exit codes, the seed's loop, and
the Delta history writer (idempotent per batch). test_spark_engine.py runs it on a server."""

import datetime as dt
import json
import threading

import pytest

import health_analytics as ha
from health_analytics import spark as runner

U = "aaaaaaaaaaaaaaaaaaaaaaaa"
V = "cccccccccccccccccccccccc"


def _doc(n, user, day, steps):
    return json.dumps({"_id": {"$oid": f"bbbbbbbbbbbbbbbbbbbbbb{n:02d}"}, "userId": {"$oid": user},
                       "date": {"$date": f"2025-11-{day:02d}T00:00:00Z"},
                       "updatedAt": {"$date": f"2025-11-{day:02d}T09:00:00Z"},
                       "metrics": {"steps": steps}})


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("MONGO_URI", "MONGO_DB_NAME", "BATCH_INTERVAL_SECONDS", "CHECKPOINT_LOCATION",
                 "DELTA_PATH", "HISTORY_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONGO_URI", "mongodb://app:s3cret@127.0.0.1:27017")
    monkeypatch.setenv("MONGO_DB_NAME", "health")
    return monkeypatch


def test_configuration_is_the_clis(env, tmp_path):
    env.setenv("BATCH_INTERVAL_SECONDS", "2.5")
    env.setenv("CHECKPOINT_LOCATION", str(tmp_path / "cp"))
    env.setenv("DELTA_PATH", str(tmp_path / "delta"))
    c = runner.load_config()
    assert c.batch_interval_seconds == 2.5
    assert c.stream_checkpoint == str(tmp_path / "cp" / "spark-stream")
    assert c.delta_path == str(tmp_path / "delta")
    assert c.values["HISTORY_DAYS"] == "180" and c.values["SOURCE_COLLECTION"] == "healthmetrics"
    assert "s3cret" not in repr(c) and "app:***@" in repr(c)


def test_invalid_configuration_gives_the_clis_message(env):
    env.setenv("BATCH_INTERVAL_SECONDS", "0")
    with pytest.raises(ValueError, match="BATCH_INTERVAL_SECONDS = '0' is invalid"):
        runner.load_config()
    env.delenv("MONGO_URI")
    env.setenv("BATCH_INTERVAL_SECONDS", "1")
    with pytest.raises(ValueError, match="MONGO_URI is not set"):
        runner.load_config()
    assert runner.main(["once"]) == 2


def test_a_held_lock_or_a_bad_value_exits_as_the_cli(env, tmp_path):
    env.setenv("CHECKPOINT_LOCATION", str(tmp_path / "cp"))
    env.setenv("LOG_DIRECTORY", str(tmp_path / "logs"))
    env.setenv("DLQ_DIRECTORY", str(tmp_path / "dlq"))
    env.setenv("METRICS_DIRECTORY", str(tmp_path / "metrics"))
    driver = runner.open_driver(runner.load_config())  # holds CHECKPOINT_LOCATION's lock
    try:
        assert runner.main(["once"]) == 4
    finally:
        driver.close()
    env.setenv("MAX_BATCH_DOCS", "-1")
    assert runner.main(["once"]) == 2


@pytest.mark.spark
def test_the_loop_ticks_foreach_batch_with_sparks_checkpoint(spark, env, tmp_path):
    env.setenv("BATCH_INTERVAL_SECONDS", "1")
    env.setenv("CHECKPOINT_LOCATION", str(tmp_path / "cp"))
    config = runner.load_config()
    ids, two = [], threading.Event()

    def process_batch(df, batch_id):
        ids.append(batch_id)
        if len(ids) >= 2:
            two.set()

    query = runner.start_stream(spark, config, process_batch, once=False)
    try:
        assert two.wait(120), f"fewer than two batches in 120 s: {ids}"
    finally:
        query.stop()
    assert ids[:2] == [0, 1]
    assert (tmp_path / "cp" / "spark-stream" / "commits").is_dir()


@pytest.mark.spark
def test_the_same_batch_appended_twice_is_found_once(spark, tmp_path):
    path = str(tmp_path / "history")
    day1 = [_doc(1, U, 17, 1000), _doc(2, U, 18, 2000), _doc(3, U, 19, 3000), _doc(4, V, 19, 500)]
    first = ha.compute("\n".join(day1), now="2025-11-20T10:00:00Z")
    batch0 = runner.analytics_frame(spark, first.analytics_json.splitlines(), 0)
    runner.append_to_delta(batch0, path, 0)
    runner.append_to_delta(batch0, path, 0)  # the replay of batch 0
    n0 = first.counts["analytics"]
    assert n0 == 6  # two users x steps x three ranges
    assert spark.read.format("delta").load(path).count() == n0

    second = ha.compute("\n".join(day1 + [_doc(5, U, 20, 6000)]), now="2025-11-21T10:00:00Z")
    batch1 = runner.analytics_frame(spark, second.analytics_json.splitlines(), 1)
    runner.append_to_delta(batch1, path, 1)
    runner.append_to_delta(batch1, path, 1)
    runner.append_to_delta(batch0, path, 0)  # a late replay of an older batch: also skipped
    table = spark.read.format("delta").load(path)
    assert table.count() == n0 + second.counts["analytics"]
    days = sorted(r.day for r in table.select("day").distinct().collect())
    assert days == [dt.date(2025, 11, 20), dt.date(2025, 11, 21)]

    # "U's 7-day steps average as it was on day D": the latest row written up to D.
    # On 11-20 the window holds 1000, 2000, 3000; on 11-21 also 6000.
    def as_of(day):
        return spark.sql(
            f"SELECT rollingAverage FROM delta.`{path}` WHERE userId = '{U}' AND "
            f"metricType = 'steps' AND timeRange = '7day' AND day <= DATE'{day}' "
            "ORDER BY calculatedAt DESC LIMIT 1").collect()[0][0]

    assert as_of("2025-11-20") == 2000.0
    assert as_of("2025-11-21") == 3000.0
    assert spark.sql(f"SELECT count(*) FROM delta.`{path}` VERSION AS OF 0").collect()[0][0] == n0
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    assert len(history) == 2, "one commit per batch"


@pytest.mark.spark
def test_once_processes_what_is_available_and_stops(spark, env, tmp_path):
    env.setenv("CHECKPOINT_LOCATION", str(tmp_path / "cp"))
    ids = []
    query = runner.start_stream(spark, runner.load_config(), lambda df, i: ids.append(i),
                                once=True)
    assert query.awaitTermination(120), "an availableNow query stops by itself"
    assert query.exception() is None
    assert ids and ids[0] == 0
