"""The Spark runner: `python -m health_analytics.spark run|once`.

The seed's Structured Streaming loop: a `rate` source, a `processingTime` trigger of
BATCH_INTERVAL_SECONDS, `foreachBatch(process_batch)` and Spark's own `checkpointLocation`
(under CHECKPOINT_LOCATION/spark-stream, beside the engine's checkpoint files). The
configuration is the CLI's: the same variables, read and validated by the same code (flags of
the CLI are not taken; the environment and `.env` are).

process_batch is the driver's batch, made of the engine's own steps (health_analytics._native):
plan (the engine decides the batch's window and the affected users), process users (the users
spread across executors by a hash of userId, each executor running the engine on its own
connection), then, once every task has succeeded, the Delta history append (with DELTA_PATH) and
commit (the driver advances the engine's checkpoint). Nothing here imitates the engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import re
import sys
import uuid
import zlib
from typing import Any, Iterable, Optional

APP_ID = "health-analytics"  # Delta's txnAppId for the history appends


@dataclasses.dataclass(frozen=True)
class RunnerConfig:
    """The CLI's configuration (as health_analytics._native.load_config resolves it) plus the
    runner's own: DELTA_PATH (unset: no Delta history) and SPARK_MASTER (unset: spark-submit's
    or the session's default)."""

    values: dict
    delta_path: Optional[str]
    spark_master: Optional[str]

    @property
    def batch_interval_seconds(self) -> float:
        return float(self.values["BATCH_INTERVAL_SECONDS"])

    @property
    def checkpoint_location(self) -> str:
        return self.values["CHECKPOINT_LOCATION"]

    @property
    def stream_checkpoint(self) -> str:
        """Spark's own checkpoint (offsets, commits), beside the engine's checkpoint files."""
        return os.path.join(self.checkpoint_location, "spark-stream")

    def __repr__(self) -> str:  # never the password in MONGO_URI
        shown = {k: v for k, v in self.values.items() if k != "MONGO_URI"}
        return f"RunnerConfig({shown}, delta_path={self.delta_path!r})"


def load_config(environ: Optional[dict] = None) -> RunnerConfig:
    """Reads the configuration as the CLI does. ValueError (the CLI's message, secrets hidden)
    when a value is invalid or MONGO_URI / MONGO_DB_NAME is unset."""
    from . import _native

    environ = os.environ if environ is None else environ
    values = _native.load_config({})
    return RunnerConfig(values, environ.get("DELTA_PATH") or None,
                        environ.get("SPARK_MASTER") or None)


# --- The engine's steps -------------------------------------------------------------------

# Exit codes, the CLI's (README "Exit codes").
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_SERVER, EXIT_LOCKED = 0, 1, 2, 3, 4

# What an executor needs of the configuration: where the data is (MONGO_URI travels with the
# tasks, as it must; it is never logged).
STORE_KEYS = ("MONGO_URI", "MONGO_DB_NAME", "SOURCE_COLLECTION", "ANALYTICS_COLLECTION",
              "USERS_COLLECTION", "WRITE_OPS_PER_COMMAND")


def exit_code_for(error: BaseException) -> int:
    """The CLI's exit code for an error of the native steps (or of load_config)."""
    from . import _native

    if isinstance(error, _native.LockedError):
        return EXIT_LOCKED
    if isinstance(error, _native.UnavailableError):
        return EXIT_NO_SERVER
    if isinstance(error, ValueError):  # _native.ConfigError is one
        return EXIT_USAGE
    return EXIT_FAILED


def open_driver(config: RunnerConfig) -> Any:
    """The driver's engine: the CLI's configuration, the checkpoint lock (LockedError while
    another runner, Spark or `health-analytics run`, holds CHECKPOINT_LOCATION), the checkpoint,
    the dead-letter log, the batch log and the metrics file, as `health-analytics once` opens
    them. ConfigError (a ValueError) for what the CLI exits 2 on."""
    from . import _native

    del config  # the native side reads the same environment and .env itself
    return _native.Driver({})


# A crash test's failpoint (not an operator setting): HA_SPARK_FAILPOINTS="task-exit:N", read
# on the driver and shipped with the tasks, makes the first attempt of the batch's partition-0
# task process its first N users (written to MongoDB), then end its Python worker with
# os._exit(1), as a killed executor process would. Spark retries the task (spark.task.maxFailures;
# `local[n,4]` for a local master), and the retry must converge.
TASK_FAILPOINT = "HA_SPARK_FAILPOINTS"


def _task_exit_after() -> Optional[int]:
    """N of HA_SPARK_FAILPOINTS="task-exit:N", None when unset; ValueError when malformed."""
    value = os.environ.get(TASK_FAILPOINT)
    if not value:
        return None
    m = re.fullmatch(r"task-exit:(\d+)", value.strip())
    if not m:
        raise ValueError(f'{TASK_FAILPOINT} must be "task-exit:N", not {value!r}')
    return int(m.group(1))


def _exit_mid_task(context_json: str, users: list, store_config: dict, exit_after: int) -> None:
    """The task-exit failpoint: on the first attempt of partition 0, processes the first
    `exit_after` users, then ends the Python worker without a result."""
    from pyspark import TaskContext

    from health_analytics import _native

    task = TaskContext.get()
    if task is None or task.partitionId() != 0 or task.attemptNumber() != 0:
        return
    done = _native.process_users(context_json, users[:exit_after], store_config)
    sys.stderr.write(f"failpoint task-exit: partition 0 attempt 0 exits after "
                     f"{len(users[:exit_after])} of {len(users)} users "
                     f"({done['counts']['inserted']} documents inserted)\n")
    sys.stderr.flush()
    os._exit(1)


def _process_partition(context_json: str, store_config: dict, exit_after: Optional[int] = None):
    """The executors' function: one call of the engine's ProcessUsers for the partition's users,
    on the executor's own connection. Yields one result (counts, phases, dead letters, the
    analytics documents written); raises when the engine fails, which fails the task."""

    def run(rows):
        from health_analytics import _native

        users = [user for user, _ in rows]
        if users and exit_after is not None:
            _exit_mid_task(context_json, users, store_config, exit_after)
        if users:
            yield _native.process_users(context_json, users, store_config)

    return run


def _partition_of(user_hex: str) -> int:
    return zlib.crc32(user_hex.encode("ascii"))


PROCESS_USERS_JOB = "health-analytics process users"


def process_users(spark: Any, config: RunnerConfig, context_json: str, users: list) -> list:
    """Executors: the users partitioned by a hash of userId (so a user's work is never split),
    each partition processed by the engine's process-users step; returns every partition's
    result once all tasks have succeeded (collect raises if one failed after Spark's retries)."""
    if not users:
        return []
    sc = spark.sparkContext
    n = max(1, min(len(users), sc.defaultParallelism))
    store_config = {k: config.values[k] for k in STORE_KEYS}
    rdd = (sc.parallelize([(u, None) for u in users], n)
           .partitionBy(n, _partition_of)
           .mapPartitions(_process_partition(context_json, store_config, _task_exit_after())))
    # Names the job in Spark's UI and event log (the cluster test finds its tasks by it).
    sc.setJobDescription(f"{PROCESS_USERS_JOB}: {len(users)} users in {n} tasks")
    try:
        return rdd.collect()
    finally:
        sc.setJobDescription(None)


def analytics_written(results: Any) -> Iterable[str]:
    """The analytics documents the batch wrote (inserted or updated), as Extended JSON lines."""
    for r in results:
        yield from r["analytics"]


def delta_app_id(config: RunnerConfig) -> str:
    """Delta's txnAppId for this checkpoint location: made once and kept in
    CHECKPOINT_LOCATION/delta_app_id, so it follows the checkpoint (not its path)."""
    path = os.path.join(config.checkpoint_location, "delta_app_id")
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = f"{APP_ID}-{uuid.uuid4().hex}"
    os.makedirs(config.checkpoint_location, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return value


def _short(error: BaseException) -> str:
    """One line for the batch log: the engine's own message when a task raised one, else the
    last Python exception line of the task's traceback, else the first line."""
    text = str(error)
    found = None
    for line in text.splitlines():
        m = re.match(r"\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)", line)
        if m and (found is None or m.group(1) in _OUR_ERRORS or found[0] not in _OUR_ERRORS):
            found = (m.group(1), m.group(2))
    if found:
        return f"{found[0]}: {found[1]}"[:1000]
    return text.splitlines()[0][:1000] if text else type(error).__name__


_OUR_ERRORS = ("UnavailableError", "BatchError", "ConfigError", "LockedError")


class BatchRunner:
    """The foreachBatch function and what it keeps between batches: the driver's engine, the
    exit code of `once`, the summaries of the batches (for tests and the console)."""

    def __init__(self, spark: Any, config: RunnerConfig, driver: Any, once: bool,
                 now_ms: Optional[int] = None):
        self.spark, self.config, self.driver, self.once = spark, config, driver, once
        self.now_ms = now_ms
        self.exit_code = EXIT_OK
        self.summaries: list = []

    def __call__(self, batch_df: Any, batch_id: int) -> None:
        del batch_df, batch_id  # the rate source only ticks; the engine polls MongoDB itself
        from . import _native

        try:
            context_json, users, engine_batch = self.driver.plan(self.now_ms, self.once)
        except _native.ConfigError:  # an unreadable checkpoint stops the runner, as the CLI
            self.exit_code = EXIT_USAGE
            raise
        except Exception as e:  # logged and written to the batch log by the driver
            self.exit_code = exit_code_for(e)
            return  # `run` retries at the next tick from the same checkpoint
        try:
            results = process_users(self.spark, self.config, context_json, users)
            if self.config.delta_path:
                documents = list(analytics_written(results))
                if documents:
                    frame = analytics_frame(self.spark, documents, engine_batch)
                    append_to_delta(frame, self.config.delta_path, engine_batch,
                                    delta_app_id(self.config))
        except Exception as e:  # a task failed after Spark's retries, or the Delta append
            self.driver.abandon(_short(e))
            self.exit_code = EXIT_NO_SERVER if "UnavailableError" in str(e) else EXIT_FAILED
            return
        try:
            self.summaries.append(self.driver.commit(engine_batch, results))
            self.exit_code = EXIT_OK
        except Exception as e:
            self.exit_code = exit_code_for(e)


def make_process_batch(spark: Any, config: RunnerConfig, driver: Any = None, once: bool = False,
                       now_ms: Optional[int] = None) -> BatchRunner:
    """The foreachBatch function: plan (driver), process users (executors), then, once every
    task has succeeded, the Delta append (with DELTA_PATH) and the commit (driver)."""
    return BatchRunner(spark, config, driver if driver is not None else open_driver(config),
                       once, now_ms)


# --- Delta Lake history -------------------------------------------------------------------

DELTA_SCHEMA = (
    "day date, batchId long, userId string, metricType string, timeRange string, "
    "asOfDate timestamp, calculatedAt timestamp, rollingAverage double, trend string, "
    "anomalyDetected boolean, dataPointsCount int, document string"
)


def _instant(value: Any) -> Optional[_dt.datetime]:
    if not isinstance(value, dict) or "$date" not in value:
        return None
    text = value["$date"]
    if isinstance(text, dict):  # canonical form: {"$numberLong": ms}
        return _dt.datetime.fromtimestamp(int(text["$numberLong"]) / 1000, _dt.timezone.utc)
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def analytics_frame(spark: Any, documents: Iterable[str], batch_id: int) -> Any:
    """The batch's analytics documents (Extended JSON lines) as rows of the Delta table: `day`
    is the UTC day of calculatedAt (the day the batch wrote them, the partition), a few figures
    as columns for plain queries, and the whole document as Extended JSON in `document`."""
    rows = []
    for line in documents:
        if not line.strip():
            continue
        d = json.loads(line)
        a = d.get("analytics") or {}
        calculated = _instant(d.get("calculatedAt"))
        rows.append((
            calculated.date() if calculated else None, batch_id, d["userId"]["$oid"],
            d["metricType"], d["timeRange"], _instant(d.get("asOfDate")), calculated,
            a.get("rollingAverage"), a.get("trend"), a.get("anomalyDetected"),
            (a.get("statistics") or {}).get("dataPointsCount"), line.rstrip("\n"),
        ))
    return spark.createDataFrame(rows, DELTA_SCHEMA)


def append_to_delta(frame: Any, path: str, batch_id: int, app_id: str = APP_ID) -> None:
    """Appends `frame` to the Delta table at `path`, partitioned by day. Idempotent per batch:
    Delta records (txnAppId, txnVersion) = (app_id, batch_id) in the same commit and skips an
    append whose version it has already seen for that app id, so a replayed batch (a retried
    foreachBatch after a crash) adds nothing twice. Batch ids must only grow, as Spark's do."""
    (frame.write.format("delta").mode("append").partitionBy("day")
     .option("txnAppId", app_id).option("txnVersion", batch_id).save(path))


# --- The loop -----------------------------------------------------------------------------

def session(config: RunnerConfig, app_name: str = "health-analytics") -> Any:
    """A SparkSession with Delta Lake (jars via delta-spark's pip helper), UTC as its clock."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    # The executors' Python must be the one with this package (the driver's, unless set).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if config.spark_master:
        builder = builder.master(config.spark_master)
    builder = (builder
               .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
               .config("spark.sql.catalog.spark_catalog",
                       "org.apache.spark.sql.delta.catalog.DeltaCatalog")
               .config("spark.sql.session.timeZone", "UTC"))
    return configure_spark_with_delta_pip(builder).getOrCreate()


def start_stream(spark: Any, config: RunnerConfig, process_batch: Any, once: bool) -> Any:
    """The seed's loop: rate source -> trigger -> foreachBatch, Spark's checkpointLocation.
    `once` processes what is available and stops (availableNow)."""
    ticks = spark.readStream.format("rate").option("rowsPerSecond", 1).load()
    writer = (ticks.writeStream.foreachBatch(process_batch)
              .option("checkpointLocation", config.stream_checkpoint))
    if once:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{config.batch_interval_seconds} seconds")
    return writer.start()


def main(argv: Optional[list] = None) -> int:
    """The runner's command line; returns the CLI's exit code (0 done, 1 a batch failed, 2 a
    configuration error, 3 no server (`once`), 4 the checkpoint is locked)."""
    parser = argparse.ArgumentParser(prog="python -m health_analytics.spark",
                                     description="The Spark runner (docs/SPARK.md).")
    parser.add_argument("command", choices=["run", "once"],
                        help="run: every BATCH_INTERVAL_SECONDS; once: what is available, then exit")
    parser.add_argument("--now", metavar="TS",
                        help="freeze the batch clock at this instant (ISO-8601; tests and "
                             "backfills)")
    args = parser.parse_args(argv)
    once = args.command == "once"
    try:
        config = load_config()
        from . import _native

        now_ms = _native.parse_instant(args.now) if args.now else None
        driver = open_driver(config)
    except Exception as e:  # noqa: BLE001 - every failure maps to the CLI's exit code
        print(f"health_analytics.spark {args.command}: {e}", file=sys.stderr)
        return exit_code_for(e)
    runner = None
    try:
        try:
            driver.prepare()
        except Exception as e:  # noqa: BLE001
            if once:  # `once` needs the server now; `run` waits for it, batch after batch
                print(f"health_analytics.spark once: {e}", file=sys.stderr)
                return exit_code_for(e)
        spark = session(config)
        runner = make_process_batch(spark, config, driver, once, now_ms)
        query = start_stream(spark, config, runner, once)
        try:
            query.awaitTermination()
        except KeyboardInterrupt:
            query.stop()
        except Exception as e:  # noqa: BLE001 - the batch function raised (ConfigError)
            print(f"health_analytics.spark {args.command}: {_short(e)}", file=sys.stderr)
            return runner.exit_code or EXIT_FAILED
        return runner.exit_code if once else EXIT_OK
    finally:
        driver.close()  # the lock goes now, not when py4j lets go of the batch function
        if runner is not None:
            runner.driver = None


if __name__ == "__main__":
    sys.exit(main())
