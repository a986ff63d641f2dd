#!/usr/bin/env python3
"""Correctness cross-check: the Spark job's analytics documents against the engine's.

The same synthetic data (`health-analytics seed`, same --seed and --now) goes into two
databases on one server; the engine runs `once` on one, job.py one batch (checkpoint file set to
1970, so every document is new) on the other; then every (userId, metricType, timeRange) key is
compared: presence, then each value of `analytics`, `historicalData` and `asOfDate`, numbers
with a relative tolerance (default 1e-9) and BSON types (int32 vs double) exactly.
Run through bench/spark-baseline/run crosscheck. Exit 0 when everything matches, 1 otherwise.
"""

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument  # noqa: F401
from pymongo import MongoClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Fields compared; volatile ones (calculatedAt, expiresAt, updatedAt, metadata, detectedAt) are not.
FIELDS = [
    "analytics.rollingAverage", "analytics.trend", "analytics.trendPercentage", "analytics.anomalyDetected",
    "analytics.anomalyDetails.severity", "analytics.anomalyDetails.actualValue", "analytics.anomalyDetails.expectedValue",
    "analytics.anomalyDetails.deviation", "analytics.anomalyDetails.message",
    "analytics.streakDays", "analytics.longestStreak", "analytics.streakStartDate", "analytics.percentile",
    "analytics.comparisonToPrevious.absoluteChange", "analytics.comparisonToPrevious.percentageChange",
    "analytics.comparisonToPrevious.isImprovement",
    "analytics.statistics.standardDeviation", "analytics.statistics.minValue", "analytics.statistics.maxValue",
    "analytics.statistics.medianValue", "analytics.statistics.dataPointsCount",
    "analytics.statistics.completenessPercentage", "historicalData", "asOfDate",
]


def get(d, path):
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return "<absent>"
        d = d[p]
    return d


def same(a, b, tol, stats, field):
    if type(a) is not type(b):  # int (int32) vs float (double) is a type difference
        return False
    if isinstance(a, float):
        if a == b:
            return True
        rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
        stats[field] = max(stats.get(field, 0.0), rel)
        return rel <= tol
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, tol, stats, field) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tol, stats, field) for k in a)
    return a == b


def load(db):
    out, dups = {}, 0
    for d in db["analytics"].find({}):
        k = (str(d["userId"]), d["metricType"], d["timeRange"])
        dups += k in out
        out[k] = d
    return out, dups


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", help="MongoDB URI (default: start a FerretDB with scripts/ferretdb)")
    ap.add_argument("--db-prefix", default="sparkcheck")
    ap.add_argument("--users", type=int, default=60)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--engine", default=os.environ.get("HA_BIN", os.path.join(ROOT, "build/release/health-analytics")))
    ap.add_argument("--work", default="/tmp/spark-baseline-check")
    ap.add_argument("--out", default=os.path.join(HERE, "crosscheck.json"))
    ap.add_argument("--no-seed", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    server = None
    if not a.uri:
        server = os.path.join(a.work, "ferretdb")
        a.uri = subprocess.run([os.path.join(ROOT, "scripts/ferretdb"), "start", server], capture_output=True, text=True, check=True).stdout.strip()
    try:
        return check(a)
    finally:
        if server:
            subprocess.run([os.path.join(ROOT, "scripts/ferretdb"), "stop", server])


def check(a):
    client = MongoClient(a.uri, tz_aware=False)
    sdb, edb = f"{a.db_prefix}_spark", f"{a.db_prefix}_engine"
    env = dict(os.environ, MONGO_URI=a.uri)
    if not a.no_seed:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for db in (sdb, edb):
            client.drop_database(db)
            subprocess.run([a.engine, "seed", "--users", str(a.users), "--days", str(a.days), "--seed", str(a.seed), "--now", now],
                           env=dict(env, MONGO_DB_NAME=db), check=True)
    for db in (sdb, edb):
        client[db].drop_collection("analytics")
    # engine
    eck = os.path.join(a.work, "engine-ck")
    shutil.rmtree(eck, ignore_errors=True)
    subprocess.run([a.engine, "once"], env=dict(env, MONGO_DB_NAME=edb, CHECKPOINT_LOCATION=eck),
                   stdout=open(os.path.join(a.work, "engine.log"), "wb"), stderr=subprocess.STDOUT, check=True)
    # spark: one batch, every document new
    sck = os.path.join(a.work, "spark-ck")
    shutil.rmtree(sck, ignore_errors=True)
    os.makedirs(sck)
    with open(os.path.join(sck, "last_processed_timestamp.txt"), "w") as f:
        f.write("1970-01-01T00:00:00.000Z\n")
    blog = os.path.join(a.work, "spark.jsonl")
    if os.path.exists(blog):
        os.remove(blog)
    subprocess.run([sys.executable, os.path.join(HERE, "job.py")],
                   env=dict(env, MONGO_DB_NAME=sdb, CHECKPOINT_LOCATION=sck, BATCH_INTERVAL_SECONDS="2", MAX_BATCHES="1", BENCH_LOG=blog),
                   stdout=open(os.path.join(a.work, "spark.log"), "wb"), stderr=subprocess.STDOUT, check=True)
    with open(blog) as f:
        b = json.loads(f.readline())
    if "error" in b:
        print(f"spark batch failed: {b['error']}")
        return 1
    s, sd = load(client[sdb])
    e, ed = load(client[edb])
    both = s.keys() & e.keys()
    only_s, only_e = sorted(s.keys() - e.keys()), sorted(e.keys() - s.keys())
    field_mismatch, rel = {}, {}
    bad_keys, examples = 0, []
    for k in sorted(both):
        bad = False
        for fld in FIELDS:
            x, y = get(s[k], fld), get(e[k], fld)
            if not same(x, y, a.tol, rel, fld):
                field_mismatch[fld] = field_mismatch.get(fld, 0) + 1
                bad = True
                if len(examples) < 20:
                    examples.append({"key": k, "field": fld, "spark": repr(x)[:200], "engine": repr(y)[:200]})
        bad_keys += bad
    res = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "users": a.users, "days": a.days, "seed": a.seed, "tolerance": a.tol,
        "healthmetrics_docs": client[sdb]["healthmetrics"].estimated_document_count(),
        "spark_docs": len(s), "engine_docs": len(e), "duplicate_keys": {"spark": sd, "engine": ed},
        "keys_in_both": len(both), "keys_matching": len(both) - bad_keys, "keys_mismatching": bad_keys,
        "only_spark": len(only_s), "only_engine": len(only_e),
        "only_spark_examples": [list(k) for k in only_s[:5]], "only_engine_examples": [list(k) for k in only_e[:5]],
        "mismatches_by_field": field_mismatch,
        "max_relative_difference_by_field": rel,
        "examples": examples,
    }
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(json.dumps({k: v for k, v in res.items() if k not in ("examples",)}, indent=1, default=str))
    for ex in examples[:10]:
        print(ex)
    ok = bad_keys == 0 and not only_s and not only_e
    print("crosscheck:", "all keys and values match" if ok else "MISMATCHES (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
