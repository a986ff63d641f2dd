"""Shared fixtures. The Spark session is started once per pytest run (it takes seconds)."""

import os
import sys
import time

import pytest


@pytest.fixture(scope="session")
def spark():
    """A local[2] SparkSession with Delta Lake (jars from Maven Central on first use)."""
    pytest.importorskip("pyspark")
    pytest.importorskip("delta")
    from pyspark.sql import SparkSession
    from delta import configure_spark_with_delta_pip

    # The executors' Python must be this one (with health_analytics installed), not `python3`.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.monotonic()
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("health-analytics-tests")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        # Delta rebuilds its log state with 50 partitions by default: minutes on 2 cores.
        .config("spark.databricks.delta.snapshotPartitions", "2")
    )
    session = configure_spark_with_delta_pip(builder).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    elapsed = time.monotonic() - start
    print(f"\nSparkSession {session.version} started in {elapsed:.1f} s", flush=True)
    os.environ.setdefault("HA_TEST_SPARK_START_SECONDS", f"{elapsed:.1f}")
    yield session
    session.stop()
