#!/usr/bin/env python3
"""The seed's PySpark Structured Streaming job, as the design document describes it.

shared/seed/micro-batch-polling-architecture.md, implemented as written:

  rate source (rowsPerSecond=1) -> trigger(processingTime=BATCH_INTERVAL_SECONDS)
  -> foreachBatch(process_batch), with Spark's own checkpointLocation, and in process_batch:
     1. read CHECKPOINT_LOCATION/last_processed_timestamp.txt (default: now - 30 days)
     2. query healthmetrics WHERE updatedAt > last_timestamp AND userId IS NOT NULL
     3. compute the analytics (Spark DataFrame + window functions), write them
     4. save MAX(updatedAt) to last_processed_timestamp.txt (only after a successful batch)

What is computed is the contract in shared/spec/analytics.md (sections 1-4), over each changed
user's history in the horizon (HISTORY_SOURCE=user, the default, what the contract asks), or,
as the old job did, over the changed rows only (HISTORY_SOURCE=batch). See README.md for where
it is exact and where it differs from the engine.

Configuration (environment): MONGO_URI, MONGO_DB_NAME (required), BATCH_INTERVAL_SECONDS (60),
CHECKPOINT_LOCATION (./spark-checkpoints), HISTORY_DAYS (180), ZERO_IS_MISSING (true),
TREND_THRESHOLD_PERCENT (5), ANOMALY_MIN_BASELINE (5), ANOMALY_Z_THRESHOLD (2.0),
ANOMALY_MIN_DEVIATION_PERCENT (5), RESULT_TTL_DAYS (90); for this bench: SPARK_MASTER
(local[2]), SPARK_SHUFFLE_PARTITIONS (4), HISTORY_SOURCE (user|batch), ANALYTICS_NOW (an
ISO-8601 instant used as the batch clock, for cross-checks), BENCH_LOG (a file that gets one
JSON line per batch with its timings), MAX_BATCHES (stop after that many batches; 0 = never), WRITE_MODE
(delete-insert | update, see write_results).
"""

import datetime as dt
import json
import math
import os
import signal
import sys
import time

T_PROCESS = time.time()

from bson import ObjectId  # noqa: E402
from bson.codec_options import CodecOptions, DatetimeConversion  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402
from pymongo import DeleteOne, InsertOne, MongoClient, UpdateOne  # noqa: E402

import pyspark  # noqa: E402
from pyspark.sql import SparkSession, Window  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

DAY_MS = 86_400_000


def env(name, default=None, required=False):
    v = os.environ.get(name)
    if v is None or v == "":
        if required:
            sys.exit(f"job.py: {name} is required")
        return default
    return v


def env_bool(name, default):
    v = env(name)
    if v is None:
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


MONGO_URI = env("MONGO_URI", required=True)
MONGO_DB_NAME = env("MONGO_DB_NAME", required=True)
BATCH_INTERVAL_SECONDS = float(env("BATCH_INTERVAL_SECONDS", "60"))
CHECKPOINT_LOCATION = env("CHECKPOINT_LOCATION", "./spark-checkpoints")
HISTORY_DAYS = max(1, int(env("HISTORY_DAYS", "180")))
ZERO_IS_MISSING = env_bool("ZERO_IS_MISSING", True)
TREND_T = float(env("TREND_THRESHOLD_PERCENT", "5"))
ANOM_MIN_BASELINE = max(2, int(env("ANOMALY_MIN_BASELINE", "5")))
ANOM_Z = float(env("ANOMALY_Z_THRESHOLD", "2.0"))
ANOM_MIN_DEV = float(env("ANOMALY_MIN_DEVIATION_PERCENT", "5"))
RESULT_TTL_DAYS = float(env("RESULT_TTL_DAYS", "90"))
SPARK_MASTER = env("SPARK_MASTER", "local[2]")
SHUFFLE_PARTITIONS = env("SPARK_SHUFFLE_PARTITIONS", "4")
HISTORY_SOURCE = env("HISTORY_SOURCE", "user")
ANALYTICS_NOW = env("ANALYTICS_NOW")
BENCH_LOG = env("BENCH_LOG")
MAX_BATCHES = int(env("MAX_BATCHES", "0"))
WRITE_MODE = env("WRITE_MODE", "delete-insert")

TS_FILE = os.path.join(CHECKPOINT_LOCATION, "last_processed_timestamp.txt")

# metricType, path, lo, hi, zero-is-no-data, goal field, default goal, higher is better, label
METRICS = [
    ("steps", 0, 100000, True, "stepGoal", 10000.0, True, "Steps"),
    ("distance", 0, 500, True, "distanceGoal", 5.0, True, "Distance"),
    ("calories", 0, 10000, True, "calorieGoal", 2000.0, True, "Calories"),
    ("activeMinutes", 0, 1440, True, None, None, True, "Active minutes"),
    ("heartPoints", 0, 500, True, None, None, True, "Heart points"),
    ("weight", 30, 300, False, None, None, False, "Weight"),
    ("sleepHours", 0, 24, False, "sleepGoal", 8.0, True, "Sleep"),
    ("hydration", 0, 10, False, None, None, True, "Hydration"),
]
METRIC_NAMES = [m[0] for m in METRICS]
RANGES = [("7day", 7), ("30day", 30), ("90day", 90)]

CODEC = CodecOptions(tz_aware=False, datetime_conversion=DatetimeConversion.DATETIME_MS)

DOC_SCHEMA = T.StructType(
    [
        T.StructField("oid", T.StringType(), False),
        T.StructField("userId", T.StringType(), False),
        T.StructField("day", T.IntegerType(), False),
        T.StructField("upd", T.LongType(), True),
    ]
    + [T.StructField(m, T.DoubleType(), True) for m in METRIC_NAMES]
)


def log(msg):
    print(f"[spark-baseline] {dt.datetime.now(dt.timezone.utc).isoformat(timespec='milliseconds')} {msg}", flush=True)


def ms_to_dt(ms):
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)


def iso_ms(ms):
    return ms_to_dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text):
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    d = dt.datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(round(d.timestamp() * 1000))


def load_checkpoint(now_ms):
    """Step 1: the application checkpoint, default NOW - 30 days."""
    try:
        with open(TS_FILE) as f:
            return parse_iso(f.read()), True
    except (OSError, ValueError):
        return now_ms - 30 * DAY_MS, False


def save_checkpoint(ms):
    """Step 4: MAX(updatedAt) of the batch, written atomically."""
    os.makedirs(CHECKPOINT_LOCATION, exist_ok=True)
    tmp = TS_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(iso_ms(ms) + "\n")
    os.replace(tmp, TS_FILE)


def number_or_none(v):
    """A finite-or-not int32/int64/double; anything else (string, bool, Decimal128, object) is
    invalid and becomes None (the engine dead-letters it; this job only skips it)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def doc_row(d):
    """A healthmetrics document -> a row, or None when it takes no part (userId not an
    ObjectId, date not a Date)."""
    uid = d.get("userId")
    date = d.get("date")
    if not isinstance(uid, ObjectId) or not isinstance(date, DatetimeMS):
        return None
    upd = d.get("updatedAt")
    upd = int(upd) if isinstance(upd, DatetimeMS) else None
    m = d.get("metrics")
    vals = [None] * len(METRIC_NAMES)
    if isinstance(m, dict):
        for i, name in enumerate(METRIC_NAMES):
            vals[i] = number_or_none(m.get(name))
    return (str(d["_id"]), str(uid), int(date) // DAY_MS, upd, *vals)


def resolve_goal(goals, field, default):
    if not isinstance(goals, dict):
        return default
    v = goals.get(field)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    v = float(v)
    return v if math.isfinite(v) and v > 0 else default


# ---------------------------------------------------------------------------------------------
# Spark SQL helpers (no Python UDFs: everything runs in the JVM).

def nsum(arr):
    """Kahan-Neumaier compensated sum of a double array, as a Spark SQL expression."""
    return (
        f"aggregate({arr}, named_struct('s', 0D, 'c', 0D), (a, x) -> named_struct("
        f"'s', a.s + x, 'c', a.c + IF(abs(a.s) >= abs(x), (a.s - (a.s + x)) + x, (x - (a.s + x)) + a.s)"
        f"), a -> a.s + a.c)"
    )


def mean_expr(arr):
    """Mean with the contract's rule: a set whose values are all equal has exactly that mean."""
    return (
        f"CASE WHEN size({arr}) = 0 THEN CAST(NULL AS DOUBLE) "
        f"WHEN array_min({arr}) = array_max({arr}) THEN array_min({arr}) "
        f"ELSE {nsum(arr)} / size({arr}) END"
    )


def sd_expr(arr, mean):
    """Two-pass sample standard deviation (compensated sum of squared deviations)."""
    sq = f"transform({arr}, v -> (v - {mean}) * (v - {mean}))"
    return (
        f"CASE WHEN size({arr}) <= 1 OR array_min({arr}) = array_max({arr}) THEN 0D "
        f"ELSE sqrt({nsum(sq)} / (size({arr}) - 1)) END"
    )


def compute(spark, rows, goal_rows, today):
    """Step 3: the contract's analytics for the users in `rows`. Returns a list of Rows."""
    out, obs = plan(spark, rows, goal_rows, today)
    try:
        return out.collect()
    finally:
        obs.unpersist()


def plan(spark, rows, goal_rows, today):
    """The DataFrame of results (one row per user, metric and range) and the cached obs."""
    horizon0 = today - HISTORY_DAYS + 1
    docs = spark.createDataFrame(rows, DOC_SCHEMA).where(
        (F.col("day") <= today) & (F.col("day") >= horizon0)
    )
    # One document per (user, day): the greatest (updatedAt, _id); a missing updatedAt ranks
    # below every Date. ObjectIds compare as their lower-case hex.
    w_day = Window.partitionBy("userId", "day").orderBy(F.col("upd").desc_nulls_last(), F.col("oid").desc())
    daily = docs.withColumn("rn", F.row_number().over(w_day)).where("rn = 1")

    info = spark.createDataFrame(
        [(m[0], float(m[1]), float(m[2]), bool(m[3] and ZERO_IS_MISSING), m[6], m[7]) for m in METRICS],
        "metric string, lo double, hi double, zeroMissing boolean, higher boolean, label string",
    )
    obs = (
        daily.select(
            "userId",
            "day",
            F.explode(F.array(*[F.struct(F.lit(n).alias("metric"), F.col(n).alias("v")) for n in METRIC_NAMES])).alias("o"),
        )
        .select("userId", "day", "o.metric", "o.v")
        .join(F.broadcast(info), "metric")
        .where(
            F.col("v").isNotNull()
            & ~F.isnan("v")
            & (F.col("v") >= F.col("lo"))
            & (F.col("v") <= F.col("hi"))
            & ~(F.col("zeroMissing") & (F.col("v") == 0))
        )
        .withColumn("v", F.col("v") + F.lit(0.0))  # -0.0 -> 0.0
    )
    # asOf: the latest day with an observation, per (user, metric) -- a window function.
    w_um = Window.partitionBy("userId", "metric")
    obs = obs.withColumn("asOf", F.max("day").over(w_um)).cache()

    ranges = spark.createDataFrame(RANGES, "timeRange string, rangeDays int")  # Spark names are case-insensitive: not N (n is taken)
    grouped = (
        obs.crossJoin(F.broadcast(ranges))
        .where(F.col("asOf") - F.col("day") < 2 * F.col("rangeDays"))
        .groupBy("userId", "metric", "timeRange", "rangeDays", "asOf", "higher", "label")
        .agg(F.sort_array(F.collect_list(F.struct("day", "v"))).alias("pts"))
    )
    # The per-range figures, level by level (one select per level: chained withColumn calls
    # cost an analysis pass each). W, P and the baseline B are arrays of at most 2N values.
    levels = [
        [("W", "filter(pts, p -> p.day > asOf - rangeDays)"),
         ("Pv", "transform(filter(pts, p -> p.day <= asOf - rangeDays), p -> p.v)")],
        [("Wv", "transform(W, p -> p.v)")],
        [("n", "size(Wv)"), ("x", "element_at(Wv, -1)"),
         ("Bv", "IF(size(Wv) >= 2, slice(Wv, 1, greatest(size(Wv) - 1, 1)), array())")],
        [("meanW", mean_expr("Wv")), ("meanP", mean_expr("Pv")), ("meanB", mean_expr("Bv")),
         ("sv", "array_sort(Wv)"), ("minW", "array_min(Wv)"), ("maxW", "array_max(Wv)"), ("hasP", "size(Pv) > 0")],
        [("sdW", sd_expr("Wv", "meanW")), ("sdB", sd_expr("Bv", "meanB")),
         ("median", "(element_at(sv, CAST((n + 1) div 2 AS INT)) + element_at(sv, CAST(n div 2 + 1 AS INT))) / 2"),
         ("percentile", "100D * (size(filter(Wv, v -> v < x)) + 0.5D * size(filter(Wv, v -> v = x))) / n"),
         ("completeness", "100 * n / rangeDays"),
         ("diff", "IF(hasP, meanW - meanP, 0D)")],
        [("noChange", "hasP AND abs(diff) <= 1e-9 * greatest(1D, abs(meanP))"),
         # anomaly: baseline = W without the asOf observation
         ("anomTestable", f"size(Bv) >= {ANOM_MIN_BASELINE} AND array_min(Bv) <> array_max(Bv) AND meanB > 0")],
        [("absChange", "IF(NOT hasP OR noChange, 0D, diff)"),
         ("z", "IF(anomTestable, (x - meanB) / sdB, CAST(NULL AS DOUBLE))"),
         ("p", "IF(anomTestable, CAST(round(100 * abs(x - meanB) / meanB) AS BIGINT), CAST(NULL AS BIGINT))")],
        [("pctChange", "IF(NOT hasP OR noChange OR meanP = 0, 0D, 100 * absChange / meanP)"),
         ("isImprovement", "IF(NOT hasP, CAST(NULL AS BOOLEAN), IF(noChange, false, IF(higher, absChange > 0, absChange < 0)))"),
         ("anomaly", f"coalesce(anomTestable AND abs(z) > {ANOM_Z} AND p >= {ANOM_MIN_DEV}, false)")],
        [("trendPct", "least(greatest(pctChange, -100D), 1000D)")],
        [("trend", f"CASE WHEN trendPct > {TREND_T} THEN 'up' WHEN trendPct < -{TREND_T} THEN 'down' ELSE 'stable' END")],
    ]
    per_range = grouped
    for level in levels:
        per_range = per_range.select("*", *[F.expr(e).alias(name) for name, e in level])
    per_range = per_range.select(
        "userId", "metric", "timeRange", "asOf", "W", "n", "x", "meanW", "sdW", "median", "percentile",
        "completeness", "hasP", "absChange", "pctChange", "isImprovement", "trendPct", "trend",
        "anomaly", "z", "p", "meanB", "label", "minW", "maxW",
    )

    # Streaks: runs of consecutive goal-meeting days (gaps and islands with row_number).
    goals = spark.createDataFrame(goal_rows, "userId string, metric string, goal double")
    met = obs.join(F.broadcast(goals), ["userId", "metric"]).where(F.col("v") >= F.col("goal"))
    w_run = Window.partitionBy("userId", "metric").orderBy("day")
    runs = (
        met.withColumn("grp", F.col("day") - F.row_number().over(w_run))
        .groupBy("userId", "metric", "grp")
        .agg(F.min("day").alias("start"), F.max("day").alias("end"), F.count("*").alias("len"))
    )
    streaks = runs.groupBy("userId", "metric").agg(
        F.max("len").cast("int").alias("longestStreak"),
        F.coalesce(
            F.max(F.when(F.col("end") == today, F.col("len"))),
            F.max(F.when(F.col("end") == today - 1, F.col("len"))),
            F.lit(0),
        ).cast("int").alias("streakDays"),
        F.coalesce(
            F.max(F.when(F.col("end") == today, F.col("start"))),
            F.max(F.when(F.col("end") == today - 1, F.col("start"))),
        ).alias("streakStart"),
    )
    return per_range.join(streaks, ["userId", "metric"], "left"), obs


# ---------------------------------------------------------------------------------------------
# Writing: one document per (userId, metricType, timeRange), addressed by _id.

def clean(v):
    return float(v) + 0.0


def analytics_doc(r, now_ms, batch_id, duration_ms):
    now = ms_to_dt(now_ms)
    streak_days = int(r.streakDays or 0)
    a = {
        "rollingAverage": clean(r.meanW),
        "trend": r.trend,
        "trendPercentage": clean(r.trendPct),
        "anomalyDetected": bool(r.anomaly),
    }
    if r.anomaly:
        z = float(r.z)
        a["anomalyDetails"] = {
            "severity": "high" if abs(z) > 3 else ("medium" if abs(z) > 2.5 else "low"),
            "actualValue": clean(r.x),
            "expectedValue": clean(r.meanB),
            "deviation": clean(z),
            "message": f"{r.label} {int(r.p)}% {'above' if r.x > r.meanB else 'below'} average for this period",
            "detectedAt": now,
        }
    a["streakDays"] = streak_days
    a["longestStreak"] = int(r.longestStreak or 0)
    a["streakStartDate"] = ms_to_dt(r.streakStart * DAY_MS) if streak_days > 0 else None
    a["percentile"] = clean(r.percentile)
    a["comparisonToPrevious"] = {
        "absoluteChange": clean(r.absChange),
        "percentageChange": clean(r.pctChange),
        "isImprovement": r.isImprovement,
    }
    a["statistics"] = {
        "standardDeviation": clean(r.sdW),
        "minValue": clean(r.minW),
        "maxValue": clean(r.maxW),
        "medianValue": clean(r.median),
        "dataPointsCount": int(r.n),
        "completenessPercentage": clean(r.completeness),
    }
    doc = {
        "userId": ObjectId(r.userId),
        "metricType": r.metric,
        "timeRange": r.timeRange,
        "analytics": a,
        "historicalData": [{"date": ms_to_dt(p.day * DAY_MS), "value": clean(p.v)} for p in r.W],
        "asOfDate": ms_to_dt(r.asOf * DAY_MS),
        "calculatedAt": now,
        "expiresAt": now + dt.timedelta(days=RESULT_TTL_DAYS),
        "metadata": {
            "sparkJobId": f"spark-baseline:{batch_id}",
            "processingDurationMs": int(duration_ms),
            "dataPointsProcessed": int(r.n),
            "sparkVersion": f"pyspark {pyspark.__version__}",
        },
        "updatedAt": now,
    }
    nums = [doc["analytics"]["rollingAverage"], a["trendPercentage"], a["percentile"]]
    nums += list(a["statistics"].values()) + [a["comparisonToPrevious"]["absoluteChange"], a["comparisonToPrevious"]["percentageChange"]]
    if "anomalyDetails" in a:
        nums += [a["anomalyDetails"]["deviation"], a["anomalyDetails"]["expectedValue"]]
    if not all(math.isfinite(v) for v in nums):
        return None  # the engine dead-letters these as `overflow`; only possible with denormals
    return doc


def write_results(db, users, results, now_ms, batch_id, t_batch):
    """Upsert by (userId, metricType, timeRange), addressed by _id. WRITE_MODE=update sends
    $set updates; WRITE_MODE=delete-insert (the default) deletes the old document and inserts the
    new one with the same _id, createdAt and __v: PyMongo's update commands hang FerretDB v1.24.2
    here (README), its deletes and inserts do not."""
    coll = db["analytics"]
    existing = {}
    for d in coll.find({"userId": {"$in": [ObjectId(u) for u in users]}},
                       {"userId": 1, "metricType": 1, "timeRange": 1, "createdAt": 1, "__v": 1}):
        existing.setdefault((str(d.get("userId")), d.get("metricType"), d.get("timeRange")), []).append(d)
    updates, deletes, inserts = [], [], []
    seen = set()
    duration_ms = int((time.time() - t_batch) * 1000)
    skipped = 0
    for r in results:
        doc = analytics_doc(r, now_ms, batch_id, duration_ms)
        if doc is None:
            skipped += 1
            continue
        key = (r.userId, r.metric, r.timeRange)
        seen.add(key)
        olds = existing.get(key)
        if olds:
            deletes.extend(DeleteOne({"_id": o["_id"]}) for o in olds[1:])
            if WRITE_MODE == "update":
                updates.append(UpdateOne({"_id": olds[0]["_id"]}, {"$set": doc}))
            else:
                deletes.append(DeleteOne({"_id": olds[0]["_id"]}))
                doc = {"_id": olds[0]["_id"], **doc, "createdAt": olds[0].get("createdAt", doc["calculatedAt"]), "__v": olds[0].get("__v", 0)}
                inserts.append(InsertOne(doc))
        else:
            doc["createdAt"] = doc["calculatedAt"]
            doc["__v"] = 0
            inserts.append(InsertOne(doc))
    for key, olds in existing.items():
        if key not in seen:
            deletes.extend(DeleteOne({"_id": o["_id"]}) for o in olds)
    # Deletes before the inserts that reuse their _id. At most 10 updates or deletes per command,
    # as the engine's store: FerretDB v1.24 hangs when update or delete commands hold about 100
    # statements in all (docs/TEST-SERVERS.md).
    for ops, size in ((updates, 10), (deletes, 10), (inserts, 1000)):
        for i in range(0, len(ops), size):
            coll.bulk_write(ops[i : i + size], ordered=False)
    return len(updates) + len(deletes) + len(inserts), skipped


# ---------------------------------------------------------------------------------------------

class Job:
    def __init__(self, spark):
        self.spark = spark
        # a bounded socket wait: a server that stops answering fails the batch (retried next trigger)
        self.client = MongoClient(MONGO_URI, socketTimeoutMS=int(float(env("MONGO_SOCKET_TIMEOUT_SECONDS", "300")) * 1000))
        self.db = self.client.get_database(MONGO_DB_NAME, codec_options=CODEC)
        self.batches = 0
        self.query = None

    def process_batch(self, batch_df, batch_id):
        t0 = time.time()
        rec = {"batch_id": batch_id, "begin": t0, "since_process_start": t0 - T_PROCESS}
        try:
            now_ms = parse_iso(ANALYTICS_NOW) if ANALYTICS_NOW else int(t0 * 1000)
            today = now_ms // DAY_MS
            # 1. Load checkpoint
            last_ms, found = load_checkpoint(now_ms)
            rec["checkpoint"] = iso_ms(last_ms)
            # 2. Query MongoDB: WHERE updatedAt > last_timestamp AND userId IS NOT NULL
            hm = self.db["healthmetrics"]
            flt = {"updatedAt": {"$gt": ms_to_dt(last_ms)}, "userId": {"$ne": None}}
            if HISTORY_SOURCE == "batch":
                changed = list(hm.find(flt, {"_id": 1, "userId": 1, "date": 1, "updatedAt": 1, "metrics": 1}))
            else:
                changed = list(hm.find(flt, {"userId": 1, "updatedAt": 1}))
            t1 = time.time()
            rec["changed_docs"] = len(changed)
            rec["t_query_changed"] = t1 - t0
            if not changed:
                rec["end"] = time.time()
                self.finish(rec)
                return
            max_upd = max((int(d["updatedAt"]) for d in changed if isinstance(d.get("updatedAt"), DatetimeMS)), default=None)
            users = sorted({str(d["userId"]) for d in changed if isinstance(d.get("userId"), ObjectId)})
            rec["users"] = len(users)
            # The affected users' history in the horizon (the contract computes over it).
            if HISTORY_SOURCE == "batch":
                hist = changed
            else:
                hist = list(
                    hm.find(
                        {"userId": {"$in": [ObjectId(u) for u in users]}, "date": {"$gte": ms_to_dt((today - HISTORY_DAYS + 1) * DAY_MS)}},
                        {"_id": 1, "userId": 1, "date": 1, "updatedAt": 1, "metrics": 1},
                    )
                )
            rows = [r for r in map(doc_row, hist) if r is not None]
            goal_rows = []
            udocs = {str(u["_id"]): u.get("goals") for u in self.db["users"].find({"_id": {"$in": [ObjectId(u) for u in users]}}, {"goals": 1})}
            for u in users:
                g = udocs.get(u)
                for m in METRICS:
                    if m[4]:
                        goal_rows.append((u, m[0], resolve_goal(g, m[4], m[5])))
            t2 = time.time()
            rec["history_docs"] = len(rows)
            rec["t_query_history"] = t2 - t1
            # 3. Process batch
            results = compute(self.spark, rows, goal_rows, today) if rows else []
            t3 = time.time()
            rec["t_spark"] = t3 - t2
            rec["analytics_docs"] = len(results)
            n_ops, skipped = write_results(self.db, users, results, now_ms, batch_id, t0)
            t4 = time.time()
            rec["t_write"] = t4 - t3
            rec["write_ops"] = n_ops
            rec["overflow_skipped"] = skipped
            # 4. Update checkpoint (only after success)
            if max_upd is not None:
                save_checkpoint(max_upd)
                rec["new_checkpoint"] = iso_ms(max_upd)
            rec["end"] = time.time()
            self.finish(rec)
        except Exception as e:  # the design: log, do not move the checkpoint, retry next batch
            rec["error"] = f"{type(e).__name__}: {e}"[:3000]
            rec["end"] = time.time()
            log(f"Error in batch {batch_id}: {e!r}")
            self.finish(rec)

    def finish(self, rec):
        rec["duration"] = rec["end"] - rec["begin"]
        log(
            f"batch {rec['batch_id']}: {rec.get('changed_docs', 0)} changed, {rec.get('users', 0)} users, "
            f"{rec.get('history_docs', 0)} docs read, {rec.get('analytics_docs', 0)} analytics, {rec['duration']:.3f} s"
        )
        if BENCH_LOG:
            with open(BENCH_LOG, "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.batches += 1
        if MAX_BATCHES and self.batches >= MAX_BATCHES and self.query is not None:
            # stop from another thread: stopping inside foreachBatch would wait for itself
            import threading

            threading.Thread(target=self.query.stop, daemon=True).start()


def main():
    spark = (
        SparkSession.builder.master(SPARK_MASTER)
        .appName("health-analytics-spark-baseline")
        .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    log(f"Spark {spark.version} master {SPARK_MASTER}, interval {BATCH_INTERVAL_SECONDS} s, checkpoint {CHECKPOINT_LOCATION}, history {HISTORY_SOURCE}")
    job = Job(spark)
    polling_stream = spark.readStream.format("rate").option("rowsPerSecond", 1).load()
    interval = f"{BATCH_INTERVAL_SECONDS:g} seconds"
    query = (
        polling_stream.writeStream.foreachBatch(job.process_batch)
        .trigger(processingTime=interval)
        .option("checkpointLocation", CHECKPOINT_LOCATION)
        .start()
    )
    job.query = query

    def on_term(signum, frame):
        log(f"signal {signum}: stopping")
        query.stop()

    signal.signal(signal.SIGTERM, on_term)
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    spark.stop()


if __name__ == "__main__":
    main()
