"""A small BSON encoder for the tests: Extended JSON (as json.loads gives it) -> BSON bytes.

It is written from the BSON specification (bsonspec.org), independently of libbson, so that a
test feeding its output to `compute` checks the binding's BSON route against the JSON route."""

import datetime as dt
import struct


def _millis(value):
    if isinstance(value, dict):
        return int(value["$numberLong"])
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)


def _element(name, value):
    key = name.encode() + b"\x00"
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "$oid":
            return b"\x07" + key + bytes.fromhex(inner)
        if tag == "$date":
            return b"\x09" + key + struct.pack("<q", _millis(inner))
        if tag == "$numberDouble":
            return b"\x01" + key + struct.pack("<d", float(inner))
        if tag == "$numberLong":
            return b"\x12" + key + struct.pack("<q", int(inner))
        if tag == "$numberInt":
            return b"\x10" + key + struct.pack("<i", int(inner))
    if value is None:
        return b"\x0a" + key
    if isinstance(value, bool):
        return b"\x08" + key + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return b"\x10" + key + struct.pack("<i", value)
        return b"\x12" + key + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + key + struct.pack("<d", value)
    if isinstance(value, str):
        data = value.encode() + b"\x00"
        return b"\x02" + key + struct.pack("<i", len(data)) + data
    if isinstance(value, list):
        return b"\x04" + key + encode({str(i): v for i, v in enumerate(value)})
    if isinstance(value, dict):
        return b"\x03" + key + encode(value)
    raise TypeError(f"no BSON for {type(value).__name__}")


def encode(doc):
    body = b"".join(_element(k, v) for k, v in doc.items()) + b"\x00"
    return struct.pack("<i", len(body) + 4) + body
