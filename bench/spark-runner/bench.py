"""The Spark runner against the single process and the seed's Spark design (README.md).

Each contender gets its own database, seeded with the same data (`health-analytics seed`, same
seed, same clock), and processes the whole backlog once at a fixed clock:

- engine:    `health-analytics once --now T` (one process);
- runner:    `python -m health_analytics.spark once --now T`, SPARK_MASTER=local[2];
- cluster-1: the runner through spark-submit on a standalone cluster of 1 worker (1 core);
- cluster-2: the same with 2 workers (1 core each): the time from 1 to 2 executors;
- baseline:  bench/spark-baseline's job (PySpark 3.5, local[2]), one batch (MAX_BATCHES=1) with
             its timestamp file at 1970 and ANALYTICS_NOW=T.

Reported per contender: the whole command's wall time (process start to exit: JVM start-up,
Delta jars, the batch) and the batch alone (the batch log's processing_time_ms; the baseline's
BENCH_LOG duration). The cluster's own start (master, workers) is not counted. `uptime` is
recorded before each step. Writes results.json in the work folder and prints a table.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python" / "tests"))
import standalone  # noqa: E402

NOW = "2025-11-20T12:00:00Z"


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def seed(a, env, db):
    subprocess.run([a.engine, "seed", "--users", str(a.users), "--days", str(a.days), "--seed",
                    str(a.seed), "--now", NOW], env=dict(env, MONGO_DB_NAME=db), check=True,
                   capture_output=True)


def engine_env(a, db, work):
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DELTA_PATH", "SPARK_MASTER")}
    env.update(MONGO_URI=a.uri, MONGO_DB_NAME=db, CHECKPOINT_LOCATION=str(work / "ckpt"),
               LOG_DIRECTORY=str(work / "logs"), DLQ_DIRECTORY=str(work / "dlq"),
               METRICS_DIRECTORY=str(work / "metrics"), HEALTH_CHECK_PORT="0",
               # every seeded document is new, as for the baseline (its checkpoint at 1970)
               INITIAL_LOOKBACK_DAYS="3650", MAX_BATCH_DOCS="1000000",
               PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    return env


def batch_log(work):
    lines = []
    for f in sorted((work / "logs").glob("batch_logs_*")):
        lines += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    return lines


def timed(cmd, env, cwd, log):
    t0 = time.monotonic()
    with open(log, "w") as out:
        r = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]}... exited {r.returncode}; see {log}")
    return wall


def engine_like(a, name, cmd_for, prepare=None):
    """One contender that writes the engine's batch log: seed, run, read the figures."""
    work = a.work / name
    env = engine_env(a, f"bench_{name}", work)
    seed(a, env, f"bench_{name}")
    load = uptime()
    wall = timed(cmd_for(env), env, work, work / "run.log")
    (log,) = batch_log(work)
    assert log["status"] == "completed", log
    return {"name": name, "wall_s": wall, "batch_s": log["processing_time_ms"] / 1000,
            "records": log["records_processed"], "analytics": log["analytics_written"],
            "uptime_before": load}


def cluster_run(a, workers):
    name = f"cluster-{workers}"
    events = a.work / name / "events"
    events.mkdir(parents=True, exist_ok=True)
    from health_analytics import spark_submit

    with standalone.StandaloneCluster(a.work / name / "cluster", workers=workers) as cluster:
        conf = {"spark.cores.max": workers, "spark.executor.cores": 1,
                "spark.executor.memory": "1g", "spark.scheduler.minRegisteredResourcesRatio": 1.0,
                "spark.scheduler.maxRegisteredResourcesWaitingTime": "60s",
                "spark.pyspark.python": sys.executable, "spark.ui.enabled": "false",
                **standalone.event_log_conf(events)}
        spark_home = standalone.spark_home()

        def cmd(env):
            c = [os.path.join(spark_home, "bin", "spark-submit"), "--master", cluster.url]
            for k, v in conf.items():
                c += ["--conf", f"{k}={v}"]
            return c + [spark_submit.__file__, "once", "--now", NOW]

        r = engine_like(a, name, cmd)
    tasks, _ = standalone.tasks_by_executor(events, "health-analytics process users")
    r["tasks_by_executor"] = tasks
    return r


def baseline_run(a):
    name = "baseline"
    work = a.work / name
    env = engine_env(a, f"bench_{name}", work)
    seed(a, env, f"bench_{name}")
    ck = work / "spark-ck"
    ck.mkdir(parents=True, exist_ok=True)
    (ck / "last_processed_timestamp.txt").write_text("1970-01-01T00:00:00.000Z\n")
    blog = work / "bench.jsonl"
    env.update(CHECKPOINT_LOCATION=str(ck), BENCH_LOG=str(blog), MAX_BATCHES="1",
               ANALYTICS_NOW=NOW, SPARK_MASTER="local[2]")
    for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        env.pop(k)
    load = uptime()
    wall = timed([str(REPO / "bench/spark-baseline/run"), "job"], env, work, work / "run.log")
    (rec,) = [json.loads(x) for x in blog.read_text().splitlines() if x.strip()]
    if "error" in rec:
        raise RuntimeError(f"baseline batch failed: {rec['error']}")
    return {"name": name, "wall_s": wall, "batch_s": rec["duration"], "uptime_before": load,
            "records": rec.get("changed_docs"), "analytics": rec.get("analytics_docs")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--work", type=pathlib.Path, required=True)
    ap.add_argument("--engine", default=str(REPO / "build/release/health-analytics"))
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="engine,runner,cluster-1,cluster-2,baseline")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    runs = {
        "engine": lambda: engine_like(a, "engine", lambda e: [a.engine, "once", "--now", NOW]),
        "runner": lambda: engine_like(a, "runner", lambda e: dict.update(
            e, SPARK_MASTER="local[2]") or [sys.executable, "-m", "health_analytics.spark",
                                            "once", "--now", NOW]),
        "cluster-1": lambda: cluster_run(a, 1),
        "cluster-2": lambda: cluster_run(a, 2),
        "baseline": lambda: baseline_run(a),
    }
    results = []
    for name in a.only.split(","):
        r = runs[name]()
        print(json.dumps(r), flush=True)
        results.append(r)
    out = {"users": a.users, "days": a.days, "seed": a.seed, "now": NOW, "results": results,
           "uptime_after": uptime(), "nproc": os.cpu_count()}
    (a.work / "results.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"{'':12} {'whole command':>14} {'batch':>8}  records  analytics")
    for r in results:
        print(f"{r['name']:12} {r['wall_s']:13.1f}s {r['batch_s']:7.1f}s  {r['records']!s:>7}"
              f"  {r['analytics']!s:>9}")


if __name__ == "__main__":
    main()
