#!/usr/bin/env python3
"""Verify a keten signed record from docs/protocol.md alone.

Python 3 standard library only: Ed25519 verification written from RFC 8032
section 6 (integer arithmetic, SHA-512 from hashlib) and a small decoder for
the CBOR of RFC 8949. Nothing here comes from keten's C code.

    independent_verify.py SIGNED PUB [INPUTS]

SIGNED  the signed container, as hex (one line) or raw bytes
PUB     the signer's .pub file (its self-signature is checked too)
INPUTS  optional key/value file (tests/vectors/envelope/inputs.txt): the
        keys are derived again from the seeds, and every payload field and
        the fingerprint are compared with the expected values

Prints the payload fields; exits 0 when everything checks out, 1 when the
input is refused, 2 on a usage error or a crash of this script.
"""
import base64
import datetime
import hashlib
import sys

# --- Ed25519, RFC 8032 section 6 -------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _add(a, b):
    t1 = (a[1] - a[0]) * (b[1] - b[0]) % P
    t2 = (a[1] + a[0]) * (b[1] + b[0]) % P
    t3 = 2 * a[3] * b[3] * D % P
    t4 = 2 * a[2] * b[2] % P
    e, f, g, h = t2 - t1, t4 - t3, t4 + t3, t2 + t1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _compress(pt):
    zinv = pow(pt[2], P - 2, P)
    x, y = pt[0] * zinv % P, pt[1] * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def ed25519_verify(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % L
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


def ed25519_public(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return _compress(_mul(a, G))


# --- X25519, RFC 7748 section 5 (only to re-derive the vector's box keys) ---


def x25519_base(k):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        kt = (k >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        c, dd = x3 + z3, x3 - z3
        da, cb = dd * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return int.to_bytes(x2 * pow(z2, P - 2, P) % P, 32, "little")


# --- CBOR, RFC 8949 (definite lengths; the subset keten uses) ---------------


class Malformed(Exception):
    pass


def cbor_decode(buf, pos=0, depth=0):
    """Returns (item, next position). Maps keep their keys in order."""
    if depth > 16 or pos >= len(buf):
        raise Malformed("truncated or too deep")
    ib = buf[pos]
    major, ai = ib >> 5, ib & 31
    pos += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None}
        if ai not in simple:
            raise Malformed("unsupported simple value")
        return simple[ai], pos
    if ai < 24:
        arg = ai
    elif ai <= 27:
        n = 1 << (ai - 24)
        if pos + n > len(buf):
            raise Malformed("truncated head")
        arg = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
        shortest = 0 if arg < 24 else 1 if arg < 2**8 else 2 if arg < 2**16 else 4 if arg < 2**32 else 8
        if shortest != n:
            raise Malformed("integer or length not in its shortest form")
    else:
        raise Malformed("indefinite length or reserved value")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if pos + arg > len(buf):
            raise Malformed("truncated string")
        raw = bytes(buf[pos:pos + arg])
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = cbor_decode(buf, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        pairs = []
        for _ in range(arg):
            k, pos = cbor_decode(buf, pos, depth + 1)
            v, pos = cbor_decode(buf, pos, depth + 1)
            pairs.append((k, v))
        return pairs, pos
    raise Malformed("tags are not used")


def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 2 ** (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor_text(s):
    b = s.encode()
    return cbor_head(3, len(b)) + b


def decode_one(buf):
    item, end = cbor_decode(buf)
    if end != len(buf):
        raise Malformed("bytes after the item")
    return item


# --- keten, as docs/protocol.md specifies it --------------------------------

SIGN_DOMAIN = b"keten-sign-v1\x00"
PUB_DOMAIN = b"keten-pub-v1\x00"
FP_DOMAIN = b"keten-fingerprint-v1"
BOX_DOMAIN = b"keten-x25519-v1"
PAYLOAD_KEYS = ["v", "kind", "id", "from", "to", "created", "body"]
KINDS = {"record", "receipt", "retract", "counts", "psi-request", "psi-response", "ping"}
ROLES = {"school", "swv", "gemeente"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def valid_id(s):
    return 1 <= len(s) <= 64 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in s)


def read_pub(path):
    with open(path, "rb") as f:
        text = f.read().decode("ascii")
    lines = text.split("\n")
    if lines[-1] != "" or len(lines) != 7 or lines[0] != "keten-pub 1":
        fail(f"{path}: not a version 1 keten public key of 6 lines")
    fields = {}
    for line, key in zip(lines[1:6], ["id", "role", "sign", "box", "sig"]):
        k, sep, v = line.partition(" ")
        if k != key or not sep:
            fail(f"{path}: expected '{key} ...'")
        fields[k] = v
    if not valid_id(fields["id"]) or fields["role"] not in ROLES:
        fail(f"{path}: bad id or role")
    keys = {}
    for k, n in (("sign", 32), ("box", 32), ("sig", 64)):
        raw = base64.b64decode(fields[k], validate=True)
        if len(raw) != n or base64.b64encode(raw).decode() != fields[k]:
            fail(f"{path}: '{k}' is not {n} bytes of canonical base64")
        keys[k] = raw
    idb, roleb = fields["id"].encode(), fields["role"].encode()
    msg = (PUB_DOMAIN + bytes([len(idb)]) + idb + bytes([len(roleb)]) + roleb
           + keys["sign"] + keys["box"])
    if not ed25519_verify(keys["sign"], msg, keys["sig"]):
        fail(f"{path}: self-signature does not verify")
    fp = hashlib.blake2b(FP_DOMAIN + keys["sign"] + keys["box"], digest_size=32).digest()[:16]
    return fields["id"], fields["role"], keys["sign"], keys["box"], fp.hex()


def read_signed(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("ascii").strip()
        if text and all(c in "0123456789abcdef" for c in text):
            return bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        pass
    return data


def check_payload(payload):
    pairs = decode_one(payload)
    if not isinstance(pairs, list) or len(pairs) != 7:
        fail("payload is not a map of 7 entries")
    keys = [k for k, _ in pairs]
    if sorted(keys) != sorted(PAYLOAD_KEYS):
        fail(f"payload keys are {keys}")
    if keys != sorted(keys, key=cbor_text):
        fail("payload keys are not in deterministic order (sorted by encoded bytes)")
    f = dict(pairs)
    if f["v"] != 1:
        fail("payload v is not 1")
    if f["kind"] not in KINDS:
        fail("unknown kind")
    if not isinstance(f["id"], bytes) or len(f["id"]) != 16:
        fail("id is not a 16-byte byte string")
    for k in ("from", "to"):
        if not isinstance(f[k], str) or not valid_id(f[k]):
            fail(f"'{k}' is not a node id")
    if not isinstance(f["created"], int) or f["created"] < 0:
        fail("created is not an unsigned integer")
    return f


def body_bytes(payload):
    """The encoded body item, located by walking the map."""
    pos = 1
    for _ in range(7):
        key, pos = cbor_decode(payload, pos)
        start = pos
        _, pos = cbor_decode(payload, pos)
        if key == "body":
            return payload[start:pos]
    raise Malformed("no body")


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__)
        return 2
    signer_id, signer_role, sign_pk, box_pk, fp = read_pub(argv[2])
    data = read_signed(argv[1])
    try:
        container = decode_one(data)
        if (not isinstance(container, list) or len(container) != 2
                or not isinstance(container[0], bytes) or not isinstance(container[1], bytes)
                or len(container[1]) != 64):
            fail("not a signed container [bstr payload, bstr(64) signature]")
        payload, sig = container
        if not ed25519_verify(sign_pk, SIGN_DOMAIN + payload, sig):
            fail(f"signature does not verify with the key of {signer_id}")
        f = check_payload(payload)
        body = body_bytes(payload)
    except (Malformed, UnicodeDecodeError) as e:
        fail(f"malformed CBOR: {e}")
    if f["from"] != signer_id:
        fail(f"payload says from {f['from']} but the signer is {signer_id}")
    created = datetime.datetime.fromtimestamp(f["created"], datetime.timezone.utc)
    print(f"signer:  {signer_id} ({signer_role}, fingerprint {fp})")
    print(f"kind:    {f['kind']}")
    print(f"id:      {f['id'].hex()}")
    print(f"from:    {f['from']}")
    print(f"to:      {f['to']}")
    print(f"created: {created.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    print(f"body:    {body.hex()}")
    if len(argv) == 4:
        exp = {}
        with open(argv[3]) as fh:
            for line in fh:
                if line.strip() and not line.startswith("#"):
                    k, _, v = line.strip().partition(" ")
                    exp[k] = v
        seed = bytes.fromhex(exp["sender_seed"])
        box_sk = hashlib.blake2b(BOX_DOMAIN, key=seed, digest_size=32).digest()
        checks = [
            ("sign key derived from the seed", ed25519_public(seed), sign_pk),
            ("box key derived from the seed", x25519_base(box_sk), box_pk),
            ("fingerprint", exp["sender_fingerprint"], fp),
            ("signer id", exp["sender_id"], signer_id),
            ("signer role", exp["sender_role"], signer_role),
            ("kind", exp["kind"], f["kind"]),
            ("id", exp["id"], f["id"].hex()),
            ("to", exp["recipient_id"], f["to"]),
            ("created", int(exp["created"]), f["created"]),
            ("body", exp["body"], body.hex()),
        ]
        for name, want, got in checks:
            if want != got:
                fail(f"{name} differs from the inputs")
        print("inputs:  all fields and keys match")
    print("OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SystemExit:
        raise
    except Exception as e:  # a bug here, not a verdict on the input: exit 2
        print(f"ERROR: {type(e).__name__}: {e}")
        sys.exit(2)
