"""Cursor batch sizes for a unit's reads: every user in units of 128, each unit's history
(projected, horizon range) and analytics keys, at several batchSize values; round trips and time."""
import sys, time, datetime as dt
from pymongo import MongoClient, monitoring

class Count(monitoring.CommandListener):
    n = 0; bytes = 0
    def started(self, e): pass
    def succeeded(self, e): Count.n += 1
    def failed(self, e): Count.n += 1

uri, db_name = sys.argv[1], sys.argv[2]
client = MongoClient(uri, event_listeners=[Count()])
db = client[db_name]
users = sorted(d["_id"] for d in db.users.find({}, {"_id": 1}))
now = dt.datetime.utcnow()
frm = dt.datetime(now.year, now.month, now.day) - dt.timedelta(days=179)
proj = {"_id": 1, "userId": 1, "updatedAt": 1, "date": 1, "metrics": 1}
keys = {"_id": 1, "userId": 1, "metricType": 1, "timeRange": 1, "metadata.contentDigest": 1}
def run(bs):
    Count.n = 0; t = time.perf_counter(); docs = 0
    for i in range(0, len(users), 128):
        unit = users[i:i + 128]
        kw = {} if bs is None else {"batch_size": bs}
        docs += sum(1 for _ in db.healthmetrics.find({"userId": {"$in": unit}, "date": {"$gte": frm}}, proj, **kw))
        docs += sum(1 for _ in db.analytics.find({"userId": {"$in": unit}}, keys, **kw))
    return time.perf_counter() - t, Count.n, docs
for rep in range(3):
    for bs in (None, 1000, 10000, 100000):
        s, n, docs = run(bs)
        print(f"batchSize={bs!s:>7} rep={rep} {s:6.2f} s {n:3d} commands {docs} docs", flush=True)
