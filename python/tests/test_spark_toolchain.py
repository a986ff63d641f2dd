"""The pinned Spark + Delta toolchain does what the runner relies on (issue 16, step 1):
a rate stream under a processingTime trigger feeding foreachBatch with Spark's own checkpoint,
and delta-spark's idempotent append keyed by txnAppId/txnVersion."""

import os
import threading
import time

import pytest

pytestmark = pytest.mark.spark


def test_rate_stream_with_processing_time_trigger_feeds_foreach_batch(spark, tmp_path):
    seen = []
    enough = threading.Event()

    def process_batch(df, batch_id):
        seen.append((batch_id, df.count()))
        if sum(1 for _, n in seen if n > 0) >= 2:
            enough.set()

    checkpoint = tmp_path / "checkpoint"
    query = (
        spark.readStream.format("rate").option("rowsPerSecond", 10).load()
        .writeStream.trigger(processingTime="1 second")
        .foreachBatch(process_batch)
        .option("checkpointLocation", str(checkpoint))
        .start()
    )
    try:
        assert enough.wait(120), f"fewer than two non-empty batches in 120 s: {seen}"
    finally:
        query.stop()
    ids = [batch_id for batch_id, _ in seen]
    assert ids == list(range(len(ids))), "foreachBatch ids run 0, 1, 2, ... without gaps"
    # Spark keeps its own progress under checkpointLocation: an offsets and a commits log.
    assert os.listdir(checkpoint / "offsets") and os.listdir(checkpoint / "commits")


def test_delta_append_with_the_same_txn_version_is_written_once(spark, tmp_path):
    table = str(tmp_path / "delta")
    rows = spark.createDataFrame([("u1", 1.0), ("u2", 2.0)], "userId string, value double")

    def append(version):
        (rows.write.format("delta").mode("append")
         .option("txnAppId", "toolchain-test").option("txnVersion", version).save(table))

    append(7)
    append(7)  # a replay of the same batch: Delta skips it
    assert spark.read.format("delta").load(table).count() == 2
    append(6)  # an older version of the same application: also skipped
    assert spark.read.format("delta").load(table).count() == 2
    append(8)  # the next batch is appended
    assert spark.read.format("delta").load(table).count() == 4
    history = spark.sql(f"DESCRIBE HISTORY delta.`{table}`").collect()
    assert len(history) == 2, "two commits: version 7 and version 8"
