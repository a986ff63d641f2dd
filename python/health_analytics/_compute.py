"""`compute` for Python: the CLI's offline pipeline (ha::cli::OfflineCompute) through the
native module, with its options as keyword arguments."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import struct
from typing import Any, Iterable, Iterator, Optional, Union

from . import _native

# Keyword argument -> the CLI's variable (engine spec section 4). None keeps the default.
_OPTIONS = {
    "history_days": "HISTORY_DAYS",
    "result_ttl_days": "RESULT_TTL_DAYS",
    "zero_is_missing": "ZERO_IS_MISSING",
    "trend_threshold_percent": "TREND_THRESHOLD_PERCENT",
    "anomaly_z_threshold": "ANOMALY_Z_THRESHOLD",
    "anomaly_min_baseline": "ANOMALY_MIN_BASELINE",
    "anomaly_min_deviation_percent": "ANOMALY_MIN_DEVIATION_PERCENT",
}

METRICS = ("steps", "distance", "calories", "activeMinutes", "heartPoints", "weight",
           "sleepHours", "hydration")

Source = Union[str, bytes, bytearray, memoryview, "os.PathLike[str]", Iterable[Any]]


@dataclasses.dataclass
class ComputeResult:
    """What one `compute` produced.

    analytics_json: the analytics documents as Extended JSON lines, byte for byte what
        `health-analytics compute` writes on stdout for the same input and options.
    dead_letters_json: the dead letters as JSON lines (the CLI's --dead-letters file).
    counts: documents, skipped, duplicates, dead_letters, users, analytics.
    errors: the input documents that could not be parsed (only with errors="skip").
    """

    analytics_json: str
    dead_letters_json: str
    counts: dict
    errors: list

    @property
    def analytics(self) -> list:
        """The analytics documents as dicts (Extended JSON: {"$oid": ...}, {"$date": ...};
        integers stay int and doubles float, as in BSON)."""
        return [json.loads(line) for line in self.analytics_json.splitlines() if line]

    @property
    def dead_letters(self) -> list:
        """The dead letters as dicts: recorded_at, batch_id, doc_id, user_id, updated_at,
        field, reason, value."""
        return [json.loads(line) for line in self.dead_letters_json.splitlines() if line]


def _now_ms(now: Any) -> int:
    if now is None:
        return _native.now_ms()
    if isinstance(now, bool):
        raise TypeError("now: expected an ISO-8601 string, an aware datetime or epoch ms")
    if isinstance(now, int):
        return now
    if isinstance(now, str):
        return _native.parse_instant(now)
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None:
            raise ValueError("now: a naive datetime is ambiguous; give it a timezone "
                             "(datetime.timezone.utc)")
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return (now - epoch) // _dt.timedelta(milliseconds=1)
    raise TypeError(f"now: expected an ISO-8601 string, an aware datetime or epoch ms, "
                    f"not {type(now).__name__}")


def _option_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    raise TypeError(f"{name}: expected a number{' or a bool' if name == 'zero_is_missing' else ''}"
                    f", not {type(value).__name__}")


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        ms = (value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)) // _dt.timedelta(
            milliseconds=1)
        return {"$date": {"$numberLong": str(ms)}}
    raise TypeError(f"cannot write {type(value).__name__} as Extended JSON")


def _bson_stream(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            raise ValueError(f"BSON stream: {len(data) - pos} trailing bytes at offset {pos} "
                             "are not a document")
        (size,) = struct.unpack_from("<i", data, pos)
        if size < 5 or pos + size > len(data):
            raise ValueError(f"BSON stream: document at offset {pos} declares {size} bytes, "
                             f"{len(data) - pos} are left")
        yield data[pos:pos + size]
        pos += size


def _documents(source: Source, what: str) -> Iterator[tuple]:
    """(kind, payload, where) for each document of `source`; kind is "json" or "bson"."""
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        with open(path, "rb") as f:
            data = f.read()
        source = data if path.endswith(".bson") else data.decode("utf-8")
    if isinstance(source, str):
        for n, line in enumerate(source.split("\n"), 1):
            if line.strip(" \t\r"):
                yield "json", line, f"{what} line {n}"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        for n, doc in enumerate(_bson_stream(bytes(source)), 1):
            yield "bson", doc, f"{what} BSON document {n}"
    else:
        try:
            items = iter(source)
        except TypeError:
            raise TypeError(f"{what}: expected Extended JSON lines (str), a BSON stream (bytes), "
                            f"a path or an iterable of documents, not "
                            f"{type(source).__name__}") from None
        for n, item in enumerate(items, 1):
            where = f"{what} document {n}"
            if isinstance(item, str):
                yield "json", item, where
            elif isinstance(item, (bytes, bytearray, memoryview)):
                yield "bson", bytes(item), where
            elif isinstance(item, dict):
                yield "json", json.dumps(item, default=_json_default, allow_nan=False), where
            else:
                raise TypeError(f"{where}: expected str (Extended JSON), bytes (BSON) or dict, "
                                f"not {type(item).__name__}")


def compute(healthmetrics: Source, users: Optional[Source] = None, *, now: Any = None,
            history_days: Optional[int] = None, result_ttl_days: Optional[int] = None,
            zero_is_missing: Optional[bool] = None,
            trend_threshold_percent: Optional[float] = None,
            anomaly_z_threshold: Optional[float] = None,
            anomaly_min_baseline: Optional[int] = None,
            anomaly_min_deviation_percent: Optional[float] = None,
            errors: str = "raise") -> ComputeResult:
    """Computes the analytics of every user in `healthmetrics`, as `health-analytics compute`.

    healthmetrics, users: Extended JSON lines (str), a BSON stream (bytes: documents back to
        back, as mongodump writes them), a path (".bson" is read as BSON, anything else as
        Extended JSON lines), or an iterable whose items are each one document: str (Extended
        JSON), bytes (BSON) or dict (written as Extended JSON; datetimes become $date).
        Without `users` everyone has the default goals.
    now: the clock (today, calculatedAt, expiresAt): an ISO-8601 string, an aware datetime or
        milliseconds since the epoch; default the system clock.
    history_days ... anomaly_min_deviation_percent: the CLI's options of the same name
        (HISTORY_DAYS, ...), validated by the same rules; None keeps the contract's default.
    errors: "raise" (default) raises ValueError naming the first document that is not valid
        Extended JSON or BSON; "skip" skips such documents, as the CLI does, and lists them in
        the result's `errors`.

    Returns a ComputeResult. Raises ValueError for an invalid option or document, TypeError
    for an input of the wrong type.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors: expected 'raise' or 'skip', not {errors!r}")
    local = locals()
    options = {var: _option_text(name, local[name]) for name, var in _OPTIONS.items()
               if local[name] is not None}
    job = _native.Compute(_now_ms(now), options)
    problems = []

    def feed(source: Source, what: str, add_json, add_bson) -> None:
        for kind, payload, where in _documents(source, what):
            try:
                (add_json if kind == "json" else add_bson)(payload)
            except ValueError as e:
                if errors == "raise":
                    raise ValueError(f"{where}: {e}") from None
                problems.append(f"{where}: {e}")

    if users is not None:
        feed(users, "users", job.add_user_json, job.add_user_bson)
    feed(healthmetrics, "healthmetrics", job.add_healthmetric_json, job.add_healthmetric_bson)
    analytics = job.finish()
    return ComputeResult(analytics, job.dead_letters(), dict(job.counts()), problems)


def _plain(value: Any, pd: Any) -> Any:
    """Extended JSON dict -> plain values: $oid -> hex str, $date -> UTC Timestamp."""
    if isinstance(value, dict):
        if len(value) == 1 and "$oid" in value:
            return value["$oid"]
        if len(value) == 1 and "$date" in value:
            return pd.Timestamp(value["$date"])
        return {k: _plain(v, pd) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, pd) for v in value]
    return value


def _row_document(row: dict, pd: Any) -> dict:
    def value(v: Any) -> Any:
        if isinstance(v, pd.Timestamp):
            v = v.tz_localize("UTC") if v.tzinfo is None else v.tz_convert("UTC")
            return {"$date": {"$numberLong": str(v.value // 1_000_000)}}
        if isinstance(v, str) and len(v) == 24 and all(c in "0123456789abcdefABCDEF" for c in v):
            return {"$oid": v.lower()}
        if hasattr(v, "item"):  # numpy scalars
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return {"$numberDouble": "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")}
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return v

    doc = {}
    for key, v in row.items():
        if key in METRICS:
            continue
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            continue  # a missing cell is a missing field
        doc[key] = value(v)
    flat = {m: row[m] for m in METRICS if m in row}
    if flat:
        metrics = dict(doc.get("metrics", {}))
        for m, v in flat.items():
            if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
                continue  # in a column per metric, NaN is how pandas spells "no value"
            metrics[m] = value(v)
        doc["metrics"] = metrics
    return doc


def compute_frame(healthmetrics: Any, users: Any = None, *, with_dead_letters: bool = False,
                  **options: Any) -> Any:
    """`compute` for pandas: a DataFrame of healthmetrics in, a DataFrame of analytics out.

    healthmetrics: one row per document with columns _id and userId (24-hex strings), date and
        updatedAt (datetimes; naive ones are UTC), and either a `metrics` column of dicts or a
        column per metric (steps, distance, ...). A missing cell (None, NaN, NaT) is a missing
        field; in a `metrics` dict, NaN is a value (and so a dead letter: non-finite).
    users: a DataFrame with _id and a `goals` column of dicts, or anything `compute` takes.
    options: the keyword arguments of `compute` (now, history_days, ...).

    Returns one row per analytics document, ordered as the CLI orders them: userId, metricType,
    timeRange, the figures (rollingAverage, trend, ..., statistics.*, comparisonToPrevious.*),
    historicalData (a list of {date, value}), asOfDate, calculatedAt, expiresAt, ...; ObjectIds
    as hex strings and dates as UTC Timestamps. With with_dead_letters=True, returns
    (analytics, dead_letters) DataFrames.
    """
    import pandas as pd

    def rows(frame: Any) -> Iterator[dict]:
        for row in frame.to_dict(orient="records"):
            yield _row_document(row, pd)

    if isinstance(users, pd.DataFrame):
        users = rows(users)
    if isinstance(healthmetrics, pd.DataFrame):
        healthmetrics = rows(healthmetrics)
    result = compute(healthmetrics, users, **options)
    docs = [_plain(d, pd) for d in result.analytics]
    for d in docs:  # the figures at the top level: rollingAverage, not analytics.rollingAverage
        d.update(d.pop("analytics", {}))
    frame = pd.json_normalize(docs, max_level=1) if docs else pd.DataFrame()
    if "historicalData" in frame:
        frame["historicalData"] = [d.get("historicalData") for d in docs]
    if not with_dead_letters:
        return frame
    return frame, pd.DataFrame([_plain(d, pd) for d in result.dead_letters])
