"""health_analytics.compute against `health-analytics compute` (the C++ binary, an independent
route through stdin/stdout and files), on seeded data plus hand-written invalid values, ties,
repeats and int64 values; and the binding's own errors."""

import json
import math
import os
import pathlib
import subprocess

import pytest

import health_analytics as ha
from bson_encode import encode

REPO = pathlib.Path(__file__).resolve().parents[2]
NOW = "2025-11-20T10:00:00Z"
U = "aaaaaaaaaaaaaaaaaaaaaaaa"


def _line(doc_id, day, updated, metrics, user=U):
    doc = {"_id": {"$oid": doc_id}, "date": {"$date": f"2025-11-{day:02d}T00:00:00Z"},
           "metrics": metrics, "updatedAt": {"$date": updated}}
    if user is not None:
        doc["userId"] = {"$oid": user}
    return json.dumps(doc)


# Hand-written documents for user U (worked against the analytics spec, section 2).
BAD = _line("bbbbbbbbbbbbbbbbbbbbbb01", 19, "2025-11-19T08:00:00Z",
            {"steps": -5, "distance": {"$numberDouble": "NaN"}, "weight": 25,
             "calories": "lots", "sleepHours": 7.5})
EXTRA = [
    BAD,
    BAD,  # the same (updatedAt, _id) again: dropped whole, no second dead letter
    # a tie on (user, day, updatedAt): the higher _id wins the day
    _line("bbbbbbbbbbbbbbbbbbbbbb02", 18, "2025-11-18T09:00:00Z", {"steps": 5000}),
    _line("bbbbbbbbbbbbbbbbbbbbbb03", 18, "2025-11-18T09:00:00Z", {"steps": 7000}),
    _line("bbbbbbbbbbbbbbbbbbbbbb04", 17, "2025-11-17T09:00:00Z",
          {"steps": {"$numberLong": "8000"}, "weight": 80.5}),
    _line("bbbbbbbbbbbbbbbbbbbbbb05", 16, "2025-11-16T09:00:00Z", {"steps": 6000}, user=None),
]
EXPECTED_DEAD = {("bbbbbbbbbbbbbbbbbbbbbb01", "metrics.steps", "range"),
                 ("bbbbbbbbbbbbbbbbbbbbbb01", "metrics.distance", "non-finite"),
                 ("bbbbbbbbbbbbbbbbbbbbbb01", "metrics.weight", "range"),
                 ("bbbbbbbbbbbbbbbbbbbbbb01", "metrics.calories", "type")}


@pytest.fixture(scope="module")
def binary():
    path = pathlib.Path(os.environ.get("HA_BINARY", REPO / "build/release/health-analytics"))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it (cmake --build build/release --target "
                    "health-analytics) or set HA_BINARY")
    return path


@pytest.fixture(scope="module")
def data(binary, tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    subprocess.run([binary, "seed", "--users", "25", "--days", "100", "--seed", "7",
                    "--now", NOW, "--out", folder], check=True, capture_output=True)
    metrics = (folder / "healthmetrics.jsonl").read_text() + "\n".join(EXTRA) + "\n"
    (folder / "healthmetrics.jsonl").write_text(metrics)
    return folder


def run_cli(binary, folder, *flags):
    dead = folder / "cli_dead_letters.jsonl"
    out = subprocess.run(
        [binary, "compute", "--now", NOW, "--users", folder / "users.jsonl",
         "--dead-letters", dead, *flags],
        input=(folder / "healthmetrics.jsonl").read_bytes(), capture_output=True, check=True)
    return out.stdout.decode(), dead.read_text()


def test_the_same_documents_and_dead_letters_as_the_cli(binary, data):
    cli_out, cli_dead = run_cli(binary, data)
    r = ha.compute((data / "healthmetrics.jsonl").read_text(), data / "users.jsonl", now=NOW)
    assert cli_out.count("\n") > 25 * 8, "the seed gives every user analytics"
    assert r.analytics_json == cli_out
    assert r.dead_letters_json == cli_dead
    assert r.counts["analytics"] == cli_out.count("\n")
    assert r.counts["duplicates"] == 1 and r.counts["skipped"] == 1


def test_options_are_the_clis_options(binary, data):
    cli_out, _ = run_cli(binary, data, "--history-days", "45", "--zero-is-missing", "false",
                         "--trend-threshold-percent", "2.5", "--anomaly-z-threshold", "1.5",
                         "--anomaly-min-baseline", "3", "--anomaly-min-deviation-percent", "1",
                         "--result-ttl-days", "7")
    r = ha.compute((data / "healthmetrics.jsonl").read_text(), data / "users.jsonl", now=NOW,
                   history_days=45, zero_is_missing=False, trend_threshold_percent=2.5,
                   anomaly_z_threshold=1.5, anomaly_min_baseline=3,
                   anomaly_min_deviation_percent=1, result_ttl_days=7)
    assert r.analytics_json == cli_out
    default = ha.compute((data / "healthmetrics.jsonl").read_text(), data / "users.jsonl",
                         now=NOW)
    assert default.analytics_json != cli_out, "the options changed something"
    # RESULT_TTL_DAYS = 7: expiresAt is now + 7 days
    assert all(d["expiresAt"] == {"$date": "2025-11-27T10:00:00.000Z"} for d in r.analytics)


def test_bson_input_gives_the_same_documents_as_json(binary, data):
    cli_out, cli_dead = run_cli(binary, data)
    lines = [json.loads(l) for l in (data / "healthmetrics.jsonl").read_text().splitlines()]
    users = [json.loads(l) for l in (data / "users.jsonl").read_text().splitlines()]
    stream = b"".join(encode(d) for d in lines)
    r = ha.compute(stream, [encode(u) for u in users], now=NOW)
    assert r.analytics_json == cli_out
    assert r.dead_letters_json == cli_dead


def test_values_and_types(binary, data):
    cli_out, _ = run_cli(binary, data)
    docs = ha.compute((data / "healthmetrics.jsonl").read_text(), data / "users.jsonl",
                      now=NOW).analytics
    assert docs == [json.loads(l) for l in cli_out.splitlines()]
    mine = [d for d in docs if d["userId"] == {"$oid": U}]
    steps7 = next(d for d in mine if d["metricType"] == "steps" and d["timeRange"] == "7day")
    # Days 17 (int64 8000) and 18 (the tie: _id ...03 wins, 7000); day 19's -5 is invalid.
    assert [h["value"] for h in steps7["historicalData"]] == [8000.0, 7000.0]
    assert steps7["analytics"]["rollingAverage"] == 7500.0
    assert isinstance(steps7["analytics"]["rollingAverage"], float)  # BSON double
    assert isinstance(steps7["analytics"]["statistics"]["dataPointsCount"], int)  # int32
    assert steps7["asOfDate"] == {"$date": "2025-11-18T00:00:00.000Z"}
    sleep = next(d for d in mine if d["metricType"] == "sleepHours" and d["timeRange"] == "7day")
    assert sleep["analytics"]["rollingAverage"] == 7.5  # day 19's valid field still counts


def test_dead_letters_come_back(data):
    r = ha.compute((data / "healthmetrics.jsonl").read_text(), data / "users.jsonl", now=NOW)
    mine = {(d["doc_id"], d["field"], d["reason"]) for d in r.dead_letters if d["user_id"] == U}
    assert mine == EXPECTED_DEAD
    nan = next(d for d in r.dead_letters if d["field"] == "metrics.distance"
               and d["user_id"] == U)
    assert nan["updated_at"] == "2025-11-19T08:00:00.000Z"
    assert nan["recorded_at"] == "2025-11-20T10:00:00.000Z"  # the clock given as `now`


def test_an_invalid_document_is_a_value_error_naming_it():
    good = _line("bbbbbbbbbbbbbbbbbbbbbb04", 17, "2025-11-17T09:00:00Z", {"steps": 8000})
    with pytest.raises(ValueError, match=r"healthmetrics line 2: .*"):
        ha.compute(good + "\n{\"_id\": \n", now=NOW)
    with pytest.raises(ValueError, match=r"users line 1"):
        ha.compute(good, "not json", now=NOW)
    r = ha.compute(good + "\n{oops\n", now=NOW, errors="skip")
    assert len(r.errors) == 1 and r.errors[0].startswith("healthmetrics line 2: ")
    assert r.counts["documents"] == 1 and r.counts["analytics"] == 3  # steps only: 7day, 30day, 90day


def test_invalid_bson_is_a_value_error():
    doc = encode({"_id": {"$oid": "bbbbbbbbbbbbbbbbbbbbbb04"}, "userId": {"$oid": U}})
    with pytest.raises(ValueError, match=r"offset 0 declares \d+ bytes"):
        ha.compute(doc[:-3], now=NOW)
    corrupt = doc[:4] + b"\x7f" + doc[5:]  # an element type that BSON does not have
    with pytest.raises(ValueError, match="BSON document 1: not a valid BSON document"):
        ha.compute(corrupt, now=NOW)


@pytest.mark.parametrize("kwargs, message", [
    ({"history_days": 0}, "HISTORY_DAYS = '0' is invalid: expected an integer from 1"),
    ({"anomaly_z_threshold": 0.0}, "ANOMALY_Z_THRESHOLD = '0.0' is invalid"),
    ({"anomaly_min_baseline": 1}, "ANOMALY_MIN_BASELINE = '1' is invalid"),
    ({"trend_threshold_percent": -1}, "TREND_THRESHOLD_PERCENT = '-1' is invalid"),
    ({"history_days": 2.5}, "HISTORY_DAYS = '2.5' is invalid"),
    ({"now": "yesterday"}, "yesterday"),
    ({"errors": "ignore"}, "errors: expected 'raise' or 'skip'"),
])
def test_invalid_options_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ha.compute("", **kwargs)


def test_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="zero_is_missing: expected a number or a bool"):
        ha.compute("", zero_is_missing="yes")
    with pytest.raises(TypeError, match="healthmetrics: expected Extended JSON lines"):
        ha.compute(42)
    with pytest.raises(TypeError, match="healthmetrics document 1: expected str"):
        ha.compute([3.5])


def test_now_as_datetime_and_epoch_ms_agree():
    import datetime as dt
    line = _line("bbbbbbbbbbbbbbbbbbbbbb04", 17, "2025-11-17T09:00:00Z", {"steps": 8000})
    a = ha.compute(line, now=NOW).analytics_json
    b = ha.compute(line, now=dt.datetime(2025, 11, 20, 10, tzinfo=dt.timezone.utc)).analytics_json
    c = ha.compute(line, now=1763632800000).analytics_json
    assert a == b == c
    with pytest.raises(ValueError, match="naive datetime"):
        ha.compute(line, now=dt.datetime(2025, 11, 20, 10))


def test_compute_frame_matches_the_cli(binary, data):
    pd = pytest.importorskip("pandas")
    cli_out, _ = run_cli(binary, data)
    cli = [json.loads(l) for l in cli_out.splitlines()]

    def frame(path):
        rows = []
        for line in path.read_text().splitlines():
            d = json.loads(line)
            row = {"_id": d["_id"]["$oid"], "userId": d.get("userId", {}).get("$oid"),
                   "date": pd.Timestamp(d["date"]["$date"]),
                   "updatedAt": pd.Timestamp(d["updatedAt"]["$date"])}
            row["metrics"] = d["metrics"]
            rows.append(row)
        return pd.DataFrame(rows)

    hm = frame(data / "healthmetrics.jsonl")
    users = pd.DataFrame([{"_id": json.loads(l)["_id"]["$oid"], "goals": json.loads(l).get("goals")}
                          for l in (data / "users.jsonl").read_text().splitlines()])
    out, dead = ha.compute_frame(hm, users, now=NOW, with_dead_letters=True)
    assert len(out) == len(cli)
    assert list(out["userId"]) == [d["userId"]["$oid"] for d in cli]
    assert list(out["metricType"]) == [d["metricType"] for d in cli]
    for got, want in zip(out["rollingAverage"], (d["analytics"]["rollingAverage"] for d in cli)):
        assert (got is None or (isinstance(got, float) and math.isnan(got))) if want is None \
            else got == want
    assert out["asOfDate"].iloc[0] == pd.Timestamp(cli[0]["asOfDate"]["$date"])
    assert {(d, f, r) for d, f, r, u in zip(dead["doc_id"], dead["field"], dead["reason"],
                                            dead["user_id"]) if u == U} == EXPECTED_DEAD


def test_compute_frame_with_a_column_per_metric():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({
        "_id": ["bbbbbbbbbbbbbbbbbbbbbb11", "bbbbbbbbbbbbbbbbbbbbbb12"],
        "userId": [U, U],
        "date": pd.to_datetime(["2025-11-18", "2025-11-19"]),
        "updatedAt": pd.to_datetime(["2025-11-18T09:00:00Z", "2025-11-19T09:00:00Z"]),
        "steps": [4000, 6000],
        "weight": [float("nan"), 70.0],  # NaN in a column: no value that day, not an error
    })
    out, dead = ha.compute_frame(frame, now=NOW, with_dead_letters=True)
    assert dead.empty
    row = out[(out["metricType"] == "steps") & (out["timeRange"] == "7day")].iloc[0]
    assert row["rollingAverage"] == 5000.0 and row["statistics.dataPointsCount"] == 2
    weight = out[(out["metricType"] == "weight") & (out["timeRange"] == "7day")].iloc[0]
    assert weight["statistics.dataPointsCount"] == 1 and weight["rollingAverage"] == 70.0


def test_python_m_health_analytics_compute_mirrors_the_cli(binary, data, tmp_path):
    import sys
    cli_out, cli_dead = run_cli(binary, data, "--history-days", "60")
    dead = tmp_path / "dead.jsonl"
    out = subprocess.run(
        [sys.executable, "-m", "health_analytics", "compute", "--now", NOW, "--users",
         data / "users.jsonl", "--dead-letters", dead, "--history-days", "60"],
        input=(data / "healthmetrics.jsonl").read_bytes(), capture_output=True, check=True,
        cwd=tmp_path)
    assert out.stdout.decode() == cli_out
    assert dead.read_text() == cli_dead
    bad = subprocess.run([sys.executable, "-m", "health_analytics", "compute",
                          "--history-days", "0"], input=b"", capture_output=True, cwd=tmp_path)
    assert bad.returncode == 2 and b"HISTORY_DAYS = '0' is invalid" in bad.stderr
