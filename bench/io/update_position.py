"""How an update by _id costs with the place of its document in the collection.

  /usr/bin/python3 bench/io/update_position.py URI [DOCS] [REPEATS]

Fills a scratch collection (database `ha_update_position`, dropped at the start and the end)
with DOCS (2,250) analytics-shaped documents of about 4 KB (90 historicalData points), inserted in
_id order, then times REPEATS (5) `$set`s by _id of documents at the first place, a quarter, the
middle and the last place, {w: 1, j: true}, one at a time; then a find_one by _id of the last;
then 20 updates from the middle with only calculatedAt, and 20 with every historicalData value.
On MongoDB (the _id index) all places cost the same. FerretDB v1.24.2 (SQLite) is slower the
later the document: the reason the best client $sets the engine's own documents
(bench/e2e/README.md). pymongo 3.11 (Debian python3-pymongo) or 4.x."""
import datetime
import sys
import time

from bson import ObjectId
from pymongo import MongoClient
from pymongo.write_concern import WriteConcern

uri = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2250
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
client = MongoClient(uri)
client.drop_database("ha_update_position")
coll = client.ha_update_position.get_collection("analytics", write_concern=WriteConcern(w=1, j=True))
day = datetime.datetime(2026, 1, 1)
ids = [ObjectId() for _ in range(n)]  # increasing
for i in range(0, n, 500):
    coll.insert_many([{"_id": ids[j], "userId": ObjectId(), "metricType": "steps", "timeRange": "90day",
                       "analytics": {"rollingAverage": 1.0 * j, "trend": "stable"},
                       "historicalData": [{"date": day + datetime.timedelta(days=k), "value": 1000.0 + k}
                                          for k in range(90)],
                       "calculatedAt": day} for j in range(i, min(n, i + 500))])
print(f"{n} documents")
for label, at in (("first", 0), ("quarter", n // 4), ("middle", n // 2), ("last", n - 1), ("first again", 0)):
    t = time.perf_counter()
    for r in range(repeats):
        coll.update_one({"_id": ids[max(0, at - r)]}, {"$set": {"calculatedAt": datetime.datetime.utcnow()}})
    print(f"update at {label} ({at}): {(time.perf_counter() - t) / repeats * 1000:.1f} ms")
t = time.perf_counter()
for r in range(repeats):
    coll.find_one({"_id": ids[n - 1 - r]})
print(f"find_one of the last: {(time.perf_counter() - t) / repeats * 1000:.1f} ms")
# What the $set carries, at the same places (20 documents from the middle on, each variant its
# own): only calculatedAt, or every historicalData value changed too.
for label, hist in (("calculatedAt only", False), ("every historicalData value too", True)):
    group = ids[n // 2 + (20 if hist else 0):n // 2 + (40 if hist else 20)]
    t = time.perf_counter()
    for i in group:
        body = {"calculatedAt": datetime.datetime.utcnow()}
        if hist:
            body["historicalData"] = [{"date": day + datetime.timedelta(days=k), "value": 2000.0 + k}
                                      for k in range(90)]
        coll.update_one({"_id": i}, {"$set": body})
    print(f"$set of {label}: {(time.perf_counter() - t) / len(group) * 1000:.1f} ms per update")
client.drop_database("ha_update_position")
