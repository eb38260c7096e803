#!/usr/bin/env python3
"""Writes NAME.hex for every NAME.json here: the canonical CBOR of each record,
assembled byte by byte from RFC 8949 (sections 3 and 4.2.1) without any CBOR
library and without keten's C code, so the vectors can catch an encoder bug.

Usage: python3 assemble.py   (run from this directory)
"""
import glob
import json


def head(major, n):
    # shortest argument: 0..23 inline, then 1, 2, 4 or 8 bytes
    if n < 24:
        return bytes([major << 5 | n])
    for ai, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | ai]) + n.to_bytes(width, "big")
    raise ValueError(n)


def text(s):
    b = s.encode("ascii")
    return head(3, len(b)) + b


def value(v):
    if isinstance(v, dict):
        return cbor_map(v.items())
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    return text(v)


def cbor_map(pairs):
    # keys sorted by their encoded bytes: length first, then bytewise
    items = sorted(((text(k), value(v)) for k, v in pairs),
                   key=lambda kv: (len(kv[0]), kv[0]))
    return head(5, len(items)) + b"".join(k + v for k, v in items)


for path in sorted(glob.glob("*.json")):
    rec = json.load(open(path))
    assert sorted(rec) == ["fields", "type"]
    out = cbor_map(rec.items())
    open(path[:-5] + ".hex", "w").write(out.hex() + "\n")
    print(path, len(out), "bytes")
