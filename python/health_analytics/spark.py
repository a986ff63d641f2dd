"""The Spark runner (draft): `python -m health_analytics.spark run|once`.

The seed's Structured Streaming loop: a `rate` source, a `processingTime` trigger of
BATCH_INTERVAL_SECONDS, `foreachBatch(process_batch)` and Spark's own `checkpointLocation`
(under CHECKPOINT_LOCATION/spark-stream, beside the engine's checkpoint files). The
configuration is the CLI's: the same variables, read and validated by the same code (flags of
the CLI are not taken; the environment and `.env` are).

process_batch is the driver's batch: plan (the engine decides the batch's window and the
affected users), process users (the users spread across executors by userId, each executor
running the engine on its own connection), commit (the driver advances the engine's checkpoint
once every task has succeeded), then, with DELTA_PATH, the Delta history append. The three
engine steps are placeholders that raise NotImplementedError until they are bound to the
engine's steps (see docs/SPARK.md, "The runner"); nothing here imitates the engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import sys
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


# --- The engine's steps: placeholders until they are bound (issue 16, engine-steps). ---------

def plan_batch(config: RunnerConfig, batch_id: int) -> Any:
    """Driver: takes the checkpoint lock, reads the watermark, polls the changed documents and
    returns the batch's plan (its window and the affected users)."""
    raise NotImplementedError("plan_batch: the engine's plan step is not bound yet "
                              "(docs/SPARK.md, 'The runner')")


def process_users(spark: Any, config: RunnerConfig, plan: Any) -> Any:
    """Executors: the plan's users repartitioned by userId; each partition computes and writes
    its users through the engine on its own connection, and returns what it wrote (analytics
    documents, dead letters, counts)."""
    raise NotImplementedError("process_users: the engine's process-users step is not bound yet "
                              "(docs/SPARK.md, 'The runner')")


def commit_batch(config: RunnerConfig, plan: Any, results: Any) -> None:
    """Driver: after every task has succeeded, advances the engine's checkpoint (watermark,
    sidecar), writes the batch log, dead letters and metrics file as the CLI does."""
    raise NotImplementedError("commit_batch: the engine's commit step is not bound yet "
                              "(docs/SPARK.md, 'The runner')")


def analytics_written(results: Any) -> Iterable[str]:
    """The analytics documents the batch wrote, as Extended JSON lines (from `results`)."""
    raise NotImplementedError("analytics_written: comes with the process-users step")


def make_process_batch(spark: Any, config: RunnerConfig):
    """The foreachBatch function: plan, process users, commit, then the Delta append."""

    def process_batch(batch_df: Any, batch_id: int) -> None:
        del batch_df  # the rate source only ticks; the engine polls MongoDB itself
        plan = plan_batch(config, batch_id)
        results = process_users(spark, config, plan)
        commit_batch(config, plan, results)
        if config.delta_path:
            frame = analytics_frame(spark, analytics_written(results), batch_id)
            append_to_delta(frame, config.delta_path, batch_id)

    return process_batch


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
    parser = argparse.ArgumentParser(prog="python -m health_analytics.spark",
                                     description="The Spark runner (draft; docs/SPARK.md).")
    parser.add_argument("command", choices=["run", "once"],
                        help="run: every BATCH_INTERVAL_SECONDS; once: what is available, then exit")
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ValueError as e:
        print(f"health_analytics.spark: {e}", file=sys.stderr)
        return 2  # the CLI's exit code for a configuration error
    spark = session(config)
    query = start_stream(spark, config, make_process_batch(spark, config), args.command == "once")
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
