#!/usr/bin/python3
"""The plain client of issue 15, a cross-check of ha_best_client: the same I/O in pymongo.

The poll of the changed documents after the cursor; for the affected users (lists of 128 per
`$in`, 2 queries in flight): goals, the history in the horizon, the analytics keys (projected);
then the writes in unordered bulks of 500, {w: 1, j: true}: --template's documents inserted for
users without analytics (a backlog), or `$set`s by _id of the documents in --updates-from FILE
(the ones the engine's batch changed, with their bodies: a steady batch; the older --updates N
sets the first N keys read with the template's body instead). Updates are sent 10 per command
on FerretDB v1 only, as the engine does. --daily-pass (a first batch) also lists the users with
analytics documents or healthmetrics in the horizon, after the poll, as the contract's first
batch must.

  bench/e2e/plain_client.py --uri URI --db DB --now-ms MS --after-ms MS [--after-id HEX]
      [--template FILE] [--updates N | --updates-from FILE] [--daily-pass] [--lists 128] [--concurrency 2] [--bulk 500]

Prints one JSON object (total_s, phase_s, counts). pymongo 3.11 (Debian python3-pymongo) or 4.x.
"""
import argparse
import datetime
import json
import threading
import time

import bson
import pymongo
from bson import ObjectId
from pymongo import InsertOne, UpdateOne
from pymongo.write_concern import WriteConcern

DAY_MS = 86_400_000
VERSION_FIELDS = {"_id": 1, "userId": 1, "updatedAt": 1, "date": 1, "metrics": 1}
KEY_FIELDS = {"_id": 1, "userId": 1, "metricType": 1, "timeRange": 1, "metadata.contentDigest": 1}


def dt(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)


def key_of(doc):
    return (doc.get("userId"), doc.get("metricType"), doc.get("timeRange"))


def parallel(k, items, fn):
    """fn(item) for every item, k threads taking items from a shared queue."""
    items = list(items)
    lock = threading.Lock()
    def worker():
        while True:
            with lock:
                if not items:
                    return
                item = items.pop(0)
            fn(item)
    threads = [threading.Thread(target=worker) for _ in range(min(k, len(items)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--now-ms", type=int, required=True)
    p.add_argument("--after-ms", type=int, required=True)
    p.add_argument("--after-id", default="0" * 24)
    p.add_argument("--template")
    p.add_argument("--updates", type=int, default=0)
    p.add_argument("--updates-from")
    p.add_argument("--daily-pass", action="store_true")
    p.add_argument("--history-days", type=int, default=180)
    p.add_argument("--max-batch-docs", type=int, default=100_000)
    p.add_argument("--lists", type=int, default=128)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--bulk", type=int, default=500)
    a = p.parse_args()

    by_user, by_key = {}, {}
    if a.template:
        with open(a.template, "rb") as f:
            for doc in bson.decode_file_iter(f):
                by_user.setdefault(doc.get("userId"), []).append(doc)
                by_key[key_of(doc)] = doc
    by_id = {}
    if a.updates_from:
        with open(a.updates_from, "rb") as f:
            by_id = {doc["_id"]: doc for doc in bson.decode_file_iter(f)}

    client = pymongo.MongoClient(a.uri, maxPoolSize=a.concurrency + 1, tz_aware=True)
    db = client[a.db]
    wc = WriteConcern(w=1, j=True)
    analytics_w = db.get_collection("analytics", write_concern=wc)
    start = time.monotonic()
    info = db.client.admin.command("buildInfo")
    v = str(info.get("ferretdbVersion", "")).lstrip("v")
    per_command = 10 if "ferretdbVersion" in info and (not v[:1].isdigit() or int(v.split(".")[0]) < 2) else a.bulk

    # The poll: pages after the cursor until a short page.
    cur_t, cur_id = a.after_ms, ObjectId(a.after_id)
    users, polled = set(), 0
    while True:
        page = 0
        for d in db.healthmetrics.find(
                {"userId": {"$ne": None}, "$or": [{"updatedAt": {"$gt": dt(cur_t)}},
                                                   {"updatedAt": dt(cur_t), "_id": {"$gt": cur_id}}]},
                VERSION_FIELDS, sort=[("updatedAt", 1), ("_id", 1)], limit=a.max_batch_docs):
            page += 1
            cur_id = d["_id"]
            cur_t = int(d["updatedAt"].timestamp() * 1000)
            if isinstance(d.get("userId"), ObjectId):
                users.add(d["userId"])
        polled += page
        if page < a.max_batch_docs:
            break
    today = a.now_ms - a.now_ms % DAY_MS
    lo, hi = dt(today - (a.history_days - 1) * DAY_MS), dt(today + DAY_MS)
    if a.daily_pass:
        users |= {d["userId"] for d in db.analytics.find({}, {"userId": 1, "_id": 0})
                  if isinstance(d.get("userId"), ObjectId)}
        users |= {d["userId"] for d in db.healthmetrics.find({"date": {"$gte": lo, "$lt": hi}},
                                                             {"userId": 1, "_id": 0})
                  if isinstance(d.get("userId"), ObjectId)}
        if not any("expireAfterSeconds" in i for i in analytics_w.list_indexes()):
            analytics_w.delete_many({"expiresAt": {"$lt": dt(a.now_ms)}})
    poll_s = time.monotonic() - start

    users = sorted(users)
    lists = [users[i:i + a.lists] for i in range(0, len(users), a.lists)]
    counts = {"goals": 0, "history_docs": 0, "keys_read": 0}
    ops, lock = [], threading.Lock()
    left = [a.updates]

    def read(ids):
        n_goals = sum(1 for _ in db.users.find({"_id": {"$in": ids}}, {"goals": 1}))
        n_hist = sum(1 for _ in db.healthmetrics.find(
            {"userId": {"$in": ids}, "date": {"$gte": lo, "$lt": hi}}, VERSION_FIELDS))
        keys = list(db.analytics.find({"userId": {"$in": ids}}, KEY_FIELDS))
        mine = []
        have = {k["userId"] for k in keys}
        for k in keys:
            t = by_id.get(k["_id"]) if by_id else by_key.get(key_of(k))
            if t is None:
                continue
            with lock:
                if not by_id and left[0] <= 0:
                    break
                left[0] -= 1
            body = {f: x for f, x in t.items() if f not in ("_id", "createdAt", "__v")}
            body["calculatedAt"] = dt(a.now_ms)
            mine.append(UpdateOne({"_id": k["_id"]}, {"$set": body}))
        for u in ids:
            if u not in have:
                mine += [InsertOne(d) for d in by_user.get(u, [])]
        with lock:
            counts["goals"] += n_goals
            counts["history_docs"] += n_hist
            counts["keys_read"] += len(keys)
            ops.extend(mine)

    t = time.monotonic()
    parallel(a.concurrency, lists, read)
    read_s = time.monotonic() - t
    t = time.monotonic()
    chunks, cur, updates = [], [], 0
    for op in ops:
        if len(cur) == a.bulk or (isinstance(op, UpdateOne) and updates == per_command):
            chunks.append(cur)
            cur, updates = [], 0
        cur.append(op)
        updates += isinstance(op, UpdateOne)
    if cur:
        chunks.append(cur)
    parallel(a.concurrency, chunks, lambda c: analytics_w.bulk_write(c, ordered=False))
    write_s = time.monotonic() - t
    total = time.monotonic() - start
    print(json.dumps({"total_s": round(total, 3), "lists_per_query": a.lists,
                      "concurrency": a.concurrency, "bulk": a.bulk, "updates_per_command": per_command,
                      "polled": polled, "users": len(users), **counts,
                      "inserted": sum(isinstance(o, InsertOne) for o in ops),
                      "updated": sum(isinstance(o, UpdateOne) for o in ops),
                      "phase_s": {"poll": round(poll_s, 3), "read": round(read_s, 3),
                                  "write": round(write_s, 3)}}))


if __name__ == "__main__":
    main()
