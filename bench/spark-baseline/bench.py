#!/usr/bin/env python3
"""Spark baseline vs the engine: start-up, backlog throughput, small-batch latency, peak RSS.

Run through bench/spark-baseline/run (which creates the venv first). See README.md.

Two databases on the same server get the same synthetic data (`health-analytics seed` with the
same --seed and --now): PREFIX_spark for the Spark job, PREFIX_engine for the engine, so neither
sees the other's analytics documents. Each repetition:

  engine: `once` in a fresh checkpoint folder (backlog: every user computed), `once` with nothing
          to do (start-up), then for each small batch: the writer changes the same 1,000
          documents in both databases, `once` (latency). Every `once` under /usr/bin/time -v.
  spark:  job.py (rate source, processingTime trigger, foreachBatch) with the checkpoint file set
          to 1970 so every document is new; batch 0 drains the backlog; after an empty batch the
          writer makes each small change and the batch that picks it up is timed; then the job
          is stopped and started once more with nothing to do (MAX_BATCHES=1). RSS of the python
          driver and its JVM (and any python workers) is summed from /proc every 0.2 s.
"""

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

from pymongo import DeleteOne, InsertOne, MongoClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# ---------------------------------------------------------------------------------------------
# RSS of a process tree, sampled from /proc

def children_map():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2 :].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError):
            pass
    return kids


def rss_of(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError):
        return 0


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


class TreeSampler(threading.Thread):
    def __init__(self, root_pid, period=0.2):
        super().__init__(daemon=True)
        self.root, self.period = root_pid, period
        self.peak, self.peak_parts, self.stop_flag = 0, {}, False
        self.marks = []  # (time, peak so far)

    def run(self):
        while not self.stop_flag:
            kids = children_map()
            pids, todo = [], [self.root]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo.extend(kids.get(p, []))
            parts = {p: rss_of(p) for p in pids}
            total = sum(parts.values())
            if total > self.peak:
                self.peak = total
                self.peak_parts = {f"{comm_of(p)}:{p}": v for p, v in parts.items() if v}
            time.sleep(self.period)


# ---------------------------------------------------------------------------------------------

def time_v(cmd, env, log_path):
    """Run cmd under /usr/bin/time -v; returns (wall seconds, max RSS bytes, exit code)."""
    tv = log_path + ".time"
    t0 = time.time()
    with open(log_path, "ab") as out:
        rc = subprocess.run(["/usr/bin/time", "-v", "-o", tv] + cmd, env=env, stdout=out, stderr=out).returncode
    wall = time.time() - t0
    rss = 0
    with open(tv) as f:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
        if m:
            rss = int(m.group(1)) * 1024
    return wall, rss, rc


def seed_db(engine, uri, db, users, days, seed, now):
    env = dict(os.environ, MONGO_URI=uri, MONGO_DB_NAME=db)
    t0 = time.time()
    subprocess.run([engine, "seed", "--users", str(users), "--days", str(days), "--seed", str(seed), "--now", now], env=env, check=True)
    log(f"seeded {db} in {time.time() - t0:.1f} s")


def pick_docs(client, dbs, ids, n, rng):
    """The documents the writer will change, read before the Spark job runs (reading them while
    it polls would queue behind its collection scans on FerretDB)."""
    pick = rng.sample(ids, min(n, len(ids)))
    vals = {i: (rng.randint(1500, 20000), round(rng.uniform(6.0, 9.0), 2)) for i in pick}
    return {db: list(client[db]["healthmetrics"].find({"_id": {"$in": pick}})) for db in dbs}, vals


def change_docs(client, picked, vals):
    """The writer: the same documents (by _id) get new metrics.steps, metrics.sleepHours and
    updatedAt in every db. Written as delete + insert of the same document (same _id): PyMongo's
    update commands hang FerretDB v1.24.2 here (README)."""
    times = {}
    for db, docs in picked.items():
        coll = client[db]["healthmetrics"]
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        for d in docs:
            s, h = vals[d["_id"]]
            m = d.get("metrics") if isinstance(d.get("metrics"), dict) else {}
            m["steps"], m["sleepHours"] = s, h
            d["metrics"], d["updatedAt"] = m, now
        t0 = time.time()
        # At most 10 deletes per command, as the engine's store: FerretDB v1.24 hangs when update
        # or delete commands hold about 100 statements in all (docs/TEST-SERVERS.md).
        for i in range(0, len(docs), 10):
            coll.bulk_write([DeleteOne({"_id": d["_id"]}) for d in docs[i : i + 10]], ordered=False)
        coll.bulk_write([InsertOne(d) for d in docs], ordered=False)
        times[db] = (t0, time.time())
    return times


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------

def engine_rep(a, rep, env, client, ids, rng_seed, work):
    ck = os.path.join(work, f"engine-ck-{rep}")
    shutil.rmtree(ck, ignore_errors=True)
    os.makedirs(ck)
    client[a.engine_db].drop_collection("analytics")
    e = dict(env, MONGO_DB_NAME=a.engine_db, CHECKPOINT_LOCATION=ck)
    lg = os.path.join(work, f"engine-{rep}.log")
    res = {"rep": rep}
    wall, rss, rc = time_v([a.engine, "once"], e, lg)
    res["backlog"] = {"wall": wall, "rss": rss, "rc": rc}
    log(f"engine rep {rep}: backlog once {wall:.2f} s, {rss / 2**20:.0f} MiB, rc {rc}")
    wall, rss, rc = time_v([a.engine, "once"], e, lg)
    res["idle"] = {"wall": wall, "rss": rss, "rc": rc}
    log(f"engine rep {rep}: idle once {wall:.2f} s, {rss / 2**20:.0f} MiB")
    # The engine re-reads the last LATE_DATA_GRACE_SECONDS (10) before its watermark on every
    # batch; seeded data has hundreds of documents there, so also time `once` without that.
    wall, rss, rc = time_v([a.engine, "once"], dict(e, LATE_DATA_GRACE_SECONDS="0"), lg)
    res["idle_nograce"] = {"wall": wall, "rss": rss, "rc": rc}
    log(f"engine rep {rep}: idle once, LATE_DATA_GRACE_SECONDS=0: {wall:.2f} s, {rss / 2**20:.0f} MiB")
    res["small"] = []
    return res, e, lg


def spark_start(a, env, ck, blog, lg, max_batches=0):
    e = dict(env, MONGO_DB_NAME=a.spark_db, CHECKPOINT_LOCATION=ck, BENCH_LOG=blog,
             BATCH_INTERVAL_SECONDS=str(a.interval), MAX_BATCHES=str(max_batches))
    out = open(lg, "ab")
    t0 = time.time()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "job.py")], env=e, stdout=out, stderr=out, start_new_session=True)
    s = TreeSampler(p.pid)
    s.start()
    return p, s, t0


def read_batches(blog):
    try:
        with open(blog) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def wait_for(pred, blog, proc, timeout):
    end = time.time() + timeout
    while time.time() < end:
        for b in read_batches(blog):
            if pred(b):
                return b
        if proc.poll() is not None:
            raise RuntimeError(f"spark job exited with {proc.returncode}")
        time.sleep(0.2)
    raise TimeoutError("spark batch not seen in time")


def spark_one_batch(a, env, ck, blog, slog):
    """One run of the job that stops after its first batch: (batch record + exit time, start, peak RSS)."""
    n0 = len(read_batches(blog))
    proc, sampler, t0 = spark_start(a, env, ck, blog, slog, max_batches=1)
    try:
        proc.wait(timeout=a.timeout)
    finally:
        stop(proc, sampler)
    recs = read_batches(blog)[n0:]
    if not recs:
        raise RuntimeError("spark job ended without a batch")
    rec = dict(recs[0], exit=time.time())
    return rec, t0, sampler.peak


def stop(proc, sampler):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    sampler.stop_flag = True
    sampler.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", help="MongoDB URI (default: start a FerretDB with scripts/ferretdb)")
    ap.add_argument("--db-prefix", default="sparkbench")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--changes", type=int, default=1000, help="documents changed per small batch")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--small-batches", type=int, default=1, help="small batches per repetition")
    ap.add_argument("--interval", type=float, default=5.0, help="Spark BATCH_INTERVAL_SECONDS")
    ap.add_argument("--engine", default=os.environ.get("HA_BIN", os.path.join(ROOT, "build/release/health-analytics")))
    ap.add_argument("--no-seed", action="store_true", help="reuse the two databases as they are")
    ap.add_argument("--work", default="/tmp/spark-baseline-bench")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--resummarize", metavar="RESULTS_JSON", help="print the table of an earlier results file again and exit")
    a = ap.parse_args()
    if a.resummarize:
        with open(a.resummarize) as f:
            old = json.load(f)
        a2 = argparse.Namespace(**old["params"])
        a2.out = a.resummarize
        summarize(a2, old["healthmetrics_docs"], old["reps"], old["load"])
        return
    a.spark_db, a.engine_db = f"{a.db_prefix}_spark", f"{a.db_prefix}_engine"
    os.makedirs(a.work, exist_ok=True)
    started_server = None
    if not a.uri:
        started_server = os.path.join(a.work, "ferretdb")
        a.uri = subprocess.run([os.path.join(ROOT, "scripts/ferretdb"), "start", started_server], capture_output=True, text=True, check=True).stdout.strip()
        log(f"started FerretDB at {a.uri}")
    try:
        run(a)
    finally:
        if started_server:
            subprocess.run([os.path.join(ROOT, "scripts/ferretdb"), "stop", started_server])


def run(a):
    env = dict(os.environ, MONGO_URI=a.uri)
    client = MongoClient(a.uri)
    loads = [("start", uptime())]
    if not a.no_seed:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for db in (a.spark_db, a.engine_db):
            client.drop_database(db)
            seed_db(a.engine, a.uri, db, a.users, a.days, a.seed, now)
    ids = sorted(d["_id"] for d in client[a.spark_db]["healthmetrics"].find({}, {"_id": 1}))
    n_docs = len(ids)
    n_docs_engine = client[a.engine_db]["healthmetrics"].estimated_document_count()
    assert n_docs == n_docs_engine, (n_docs, n_docs_engine)
    log(f"{n_docs} healthmetrics documents in each database")
    reps = []
    for rep in range(1, a.reps + 1):
        loads.append((f"rep {rep}", uptime()))
        r = {"rep": rep, "load_before": loadavg()}
        # ---- engine
        eng, e_env, e_log = engine_rep(a, rep, env, client, ids, rep, a.work)
        # ---- spark (backlog, then the small batches, which change both databases)
        ck = os.path.join(a.work, f"spark-ck-{rep}")
        shutil.rmtree(ck, ignore_errors=True)
        os.makedirs(ck)
        with open(os.path.join(ck, "last_processed_timestamp.txt"), "w") as f:
            f.write("1970-01-01T00:00:00.000Z\n")
        client[a.spark_db].drop_collection("analytics")
        blog = os.path.join(a.work, f"spark-{rep}.jsonl")
        if os.path.exists(blog):
            os.remove(blog)
        slog = os.path.join(a.work, f"spark-{rep}.log")
        rng = random.Random(1000 * a.seed + rep)
        picks = [pick_docs(client, [a.spark_db, a.engine_db], ids, a.changes, rng) for _ in range(a.small_batches)]
        sp = {}
        # Each Spark phase is its own run of the job stopped after one batch (MAX_BATCHES=1), so
        # the writer and the engine never share the server with its polling (FerretDB wedged
        # under writes concurrent with the job's collection scans).
        b0, t0, peak = spark_one_batch(a, env, ck, blog, slog)
        if "error" in b0:
            raise RuntimeError(f"spark backlog batch failed: {b0['error']}")
        sp["startup"] = b0["begin"] - t0
        sp["backlog_batch"] = b0
        sp["backlog_duration"] = b0["duration"]
        sp["backlog_end_to_end"] = b0["end"] - t0
        sp["rss_peak"] = peak
        log(f"spark rep {rep}: start-up {sp['startup']:.1f} s, backlog batch {b0['duration']:.1f} s ({b0['changed_docs']} docs), peak {peak / 2**20:.0f} MiB")
        sp["small"] = []
        for k in range(a.small_batches):
            times = change_docs(client, *picks[k])
            w0, w1 = times[a.spark_db]
            bk, tk, peak = spark_one_batch(a, env, ck, blog, slog)
            one = {"batch": bk, "duration": bk["duration"], "startup": bk["begin"] - tk, "writer_seconds": w1 - w0, "rss": peak}
            sp["small"].append(one)
            sp["rss_peak"] = max(sp["rss_peak"], peak)
            log(f"spark rep {rep}: small batch {bk.get('changed_docs')} docs, {bk.get('users')} users: {bk['duration']:.1f} s")
        bi, ti, peak = spark_one_batch(a, env, ck, blog, slog)
        sp["idle"] = {"first_batch_begin": bi["begin"] - ti, "changed_docs": bi.get("changed_docs"), "wall_to_exit": bi["exit"] - ti, "rss": peak}
        log(f"spark rep {rep}: idle run: first batch after {sp['idle']['first_batch_begin']:.1f} s, exit after {sp['idle']['wall_to_exit']:.1f} s")
        # the engine on the same changes
        for k in range(a.small_batches):
            wall, rss, rc = time_v([a.engine, "once"], e_env, e_log)
            eng["small"].append({"wall": wall, "rss": rss, "rc": rc})
            log(f"engine rep {rep}: small once {wall:.2f} s, {rss / 2**20:.0f} MiB")
        r["spark"], r["engine"], r["load_after"] = sp, eng, loadavg()
        reps.append(r)
        summarize(a, n_docs, reps, loads + [(f"after rep {rep}", uptime())])  # partial results as we go
    loads.append(("end", uptime()))
    summarize(a, n_docs, reps, loads)


def summarize(a, n_docs, reps, loads):
    S = lambda f: med([f(r) for r in reps])  # noqa: E731
    Sm = lambda f: med([x for r in reps for x in f(r)])  # noqa: E731
    fig = {
        "startup_s": (S(lambda r: r["spark"]["startup"]), S(lambda r: r["engine"].get("idle_nograce", r["engine"]["idle"])["wall"])),
        "startup_idle_restart_s": (S(lambda r: r["spark"]["idle"]["first_batch_begin"]), None),
        "idle_run_wall_s": (S(lambda r: r["spark"]["idle"]["wall_to_exit"]), S(lambda r: r["engine"]["idle"]["wall"])),
        "idle_run_nograce_wall_s": (S(lambda r: r["spark"]["idle"]["wall_to_exit"]), S(lambda r: r["engine"].get("idle_nograce", {}).get("wall"))),
        "backlog_docs_per_s": (S(lambda r: n_docs / r["spark"]["backlog_duration"]), S(lambda r: n_docs / r["engine"]["backlog"]["wall"])),
        "backlog_s": (S(lambda r: r["spark"]["backlog_duration"]), S(lambda r: r["engine"]["backlog"]["wall"])),
        "backlog_incl_startup_s": (S(lambda r: r["spark"]["backlog_end_to_end"]), S(lambda r: r["engine"]["backlog"]["wall"])),
        "small_batch_s": (Sm(lambda r: [x["duration"] for x in r["spark"]["small"]]), Sm(lambda r: [x["wall"] for x in r["engine"]["small"]])),
        "peak_rss_mib": (S(lambda r: r["spark"]["rss_peak"] / 2**20), S(lambda r: max([r["engine"]["backlog"]["rss"], r["engine"]["idle"]["rss"]] + [x["rss"] for x in r["engine"]["small"]]) / 2**20)),
    }
    out = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "cpu": cpu_model()},
        "params": {k: v for k, v in vars(a).items()},
        "healthmetrics_docs": n_docs,
        "load": loads,
        "figures_median": fig,
        "reps": reps,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1, default=str)
    print(table(a, n_docs, fig, len(reps)))
    print(f"\nload: " + " | ".join(f"{k}: {v}" for k, v in loads))
    print(f"results: {a.out}")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def table(a, n_docs, fig, nreps):
    def fmt(v, unit):
        if v is None:
            return "-"
        if unit == "docs/s":
            return f"{v:,.0f} docs/s"
        if unit == "MiB":
            return f"{v:,.0f} MiB"
        return f"{v:.2f} s"

    rows = [
        ("start-up (Spark: process start to first batch begin; engine: `once` with nothing new and LATE_DATA_GRACE_SECONDS=0, whole run)", "startup_s", "s", "lower"),
        ("start-up, then one empty batch, to exit (engine: default 10 s late-data grace re-read)", "idle_run_wall_s", "s", "lower"),
        ("the same, engine with LATE_DATA_GRACE_SECONDS=0", "idle_run_nograce_wall_s", "s", "lower"),
        (f"backlog throughput ({a.users} users x {a.days} days, {n_docs:,} documents, all new)", "backlog_docs_per_s", "docs/s", "higher"),
        ("backlog: time to drain (Spark: batch 0 alone; engine: whole `once`)", "backlog_s", "s", "lower"),
        ("backlog including start-up", "backlog_incl_startup_s", "s", "lower"),
        (f"small batch: {a.changes} changed documents (Spark: the batch; engine: whole `once`)", "small_batch_s", "s", "lower"),
        ("peak RSS (Spark: python driver + JVM; engine: max over its runs)", "peak_rss_mib", "MiB", "lower"),
    ]
    lines = [f"| medians of {nreps} runs | Spark 3.5 local[2] (seed design) | engine | engine advantage (Spark/engine for times and memory, engine/Spark for throughput) |", "|---|---|---|---|"]
    for label, key, unit, better in rows:
        s, e = fig[key]
        ratio = "-"
        if s is not None and e:
            ratio = f"{s / e:.1f}x" if better == "lower" else f"{e / s:.1f}x"
        lines.append(f"| {label} | {fmt(s, unit)} | {fmt(e, unit)} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
