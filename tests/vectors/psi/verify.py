#!/usr/bin/env python3
"""Check the PSI vectors with a ristretto255 written from RFC 9496 alone.

Python 3 standard library only: field arithmetic, SQRT_RATIO_M1, decode,
encode and element derivation from RFC 9496 section 4, point addition from
RFC 8032 section 5.1.4, BLAKE2b from hashlib, keten's hash-to-group and
blinding from docs/protocol.md section 12. Nothing here comes from
libsodium or from keten's C code, so agreement with test_psi (which checks
the same files against libsodium and daemon/psi.c) is evidence that both
follow the documents.

    verify.py rfc DIR           RFC 9496 A.1, A.2, A.3 from DIR/rfc9496-*.txt
    verify.py keten FILE        keten's vectors (DIR/keten-psi.txt)
    verify.py generate          prints keten-psi.txt (how it was made)

Prints TAP; exits 0 when every line checks out, 1 otherwise.
"""
import hashlib
import sys

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
# RFC 9496 section 4.1
D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
SQRT_AD_MINUS_ONE = 25063068953384623474111414158702152701244531502492656460079210482610430750235
INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578
ONE_MINUS_D_SQ = 1159843021668779879193775521855586647937357759715417654439879720876111806838
D_MINUS_ONE_SQ = 40440834346308536858101042469323190826248399146238708352240133220865137265952

# the constants are what their names say (a = -1)
assert D == -121665 * pow(121666, P - 2, P) % P
assert SQRT_M1 * SQRT_M1 % P == P - 1
assert SQRT_AD_MINUS_ONE**2 % P == (-D - 1) % P
assert INVSQRT_A_MINUS_D**2 * (-1 - D) % P == 1
assert ONE_MINUS_D_SQ == (1 - D * D) % P
assert D_MINUS_ONE_SQ == (D - 1) ** 2 % P

H2G_DOMAIN = b"keten/1 psi h2g\x00"
IDENTITY = (0, 1, 1, 0)


def is_negative(e):
    return (e % P) & 1 == 1


def ct_abs(e):
    return (-e) % P if is_negative(e) else e % P


def sqrt_ratio_m1(u, v):
    u %= P
    v %= P
    v3 = v * v * v % P
    v7 = v3 * v3 * v % P
    r = (u * v3) * pow(u * v7, (P - 5) // 8, P) % P
    check = v * r * r % P
    correct = check == u
    flipped = check == (-u) % P
    flipped_i = check == (-u * SQRT_M1) % P
    if flipped or flipped_i:
        r = SQRT_M1 * r % P
    return correct or flipped, ct_abs(r)


def decode(b):
    if len(b) != 32:
        return None
    s = int.from_bytes(b, "little")
    if s >= P or is_negative(s):
        return None
    ss = s * s % P
    u1 = (1 - ss) % P
    u2 = (1 + ss) % P
    u2_sqr = u2 * u2 % P
    v = (-(D * u1 * u1) - u2_sqr) % P
    was_square, invsqrt = sqrt_ratio_m1(1, v * u2_sqr)
    den_x = invsqrt * u2 % P
    den_y = invsqrt * den_x * v % P
    x = ct_abs(2 * s * den_x)
    y = u1 * den_y % P
    t = x * y % P
    if not was_square or is_negative(t) or y == 0:
        return None
    return (x, y, 1, t)


def encode(pt):
    x0, y0, z0, t0 = pt
    u1 = (z0 + y0) * (z0 - y0) % P
    u2 = x0 * y0 % P
    _, invsqrt = sqrt_ratio_m1(1, u1 * u2 * u2)
    den1 = invsqrt * u1 % P
    den2 = invsqrt * u2 % P
    z_inv = den1 * den2 * t0 % P
    ix0 = x0 * SQRT_M1 % P
    iy0 = y0 * SQRT_M1 % P
    enchanted_denominator = den1 * INVSQRT_A_MINUS_D % P
    rotate = is_negative(t0 * z_inv)
    x, y = (iy0, ix0) if rotate else (x0, y0)
    den_inv = enchanted_denominator if rotate else den2
    if is_negative(x * z_inv):
        y = -y
    s = ct_abs(den_inv * (z0 - y))
    return s.to_bytes(32, "little")


def add(a, b):  # RFC 8032 section 5.1.4, a = -1
    t1 = (a[1] - a[0]) * (b[1] - b[0]) % P
    t2 = (a[1] + a[0]) * (b[1] + b[0]) % P
    t3 = 2 * a[3] * b[3] * D % P
    t4 = 2 * a[2] * b[2] % P
    e, f, g, h = t2 - t1, t4 - t3, t4 + t3, t2 + t1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(k, pt):
    q = IDENTITY
    while k > 0:
        if k & 1:
            q = add(q, pt)
        pt = add(pt, pt)
        k >>= 1
    return q


def map_one(t):  # RFC 9496 section 4.3.4, MAP
    r = SQRT_M1 * t * t % P
    u = (r + 1) * ONE_MINUS_D_SQ % P
    v = (-1 - r * D) * (r + D) % P
    was_square, s = sqrt_ratio_m1(u, v)
    s_prime = (-ct_abs(s * t)) % P
    s = s if was_square else s_prime
    c = P - 1 if was_square else r
    n = (c * (r - 1) * D_MINUS_ONE_SQ - v) % P
    w0 = 2 * s * v % P
    w1 = n * SQRT_AD_MINUS_ONE % P
    w2 = (1 - s * s) % P
    w3 = (1 + s * s) % P
    return (w0 * w3 % P, w2 * w1 % P, w1 * w3 % P, w0 * w2 % P)


def derive(b64):  # element derivation from 64 bytes; the top bit of each half is masked
    r0 = int.from_bytes(b64[:32], "little") & ((1 << 255) - 1)
    r1 = int.from_bytes(b64[32:], "little") & ((1 << 255) - 1)
    return add(map_one(r0 % P), map_one(r1 % P))


def hash_to_group(ident):
    return derive(hashlib.blake2b(H2G_DOMAIN + ident, digest_size=64).digest())


def blind(k, enc):
    pt = decode(enc)
    assert pt is not None
    return encode(mul(k, pt))


# --- TAP ---------------------------------------------------------------------

N = 0
FAILS = 0


def tap(ok, desc):
    global N, FAILS
    N += 1
    print(("ok %d - %s" if ok else "not ok %d - %s") % (N, desc))
    if not ok:
        FAILS += 1


def lines(path):
    with open(path) as f:
        for raw in f:
            raw = raw.strip()
            if raw and not raw.startswith("#"):
                yield raw.split()


def check_rfc(d):
    base = decode(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
    acc = IDENTITY
    for i, want in lines(d + "/rfc9496-a1-generator.txt"):
        i = int(i)
        ok = encode(acc) == bytes.fromhex(want) and encode(mul(i, base)) == bytes.fromhex(want)
        tap(ok, "A.1 B[%d]: repeated addition and scalar multiplication" % i)
        acc = add(acc, base)
    bad = [bytes.fromhex(h[0]) for h in lines(d + "/rfc9496-a2-invalid.txt")]
    tap(len(bad) == 29 and all(decode(b) is None for b in bad),
        "A.2: all %d invalid encodings are rejected" % len(bad))
    for n, (i, o) in enumerate(lines(d + "/rfc9496-a3-from-hash.txt")):
        tap(encode(derive(bytes.fromhex(i))) == bytes.fromhex(o), "A.3 pair %d" % (n + 1))


def check_keten(path):
    ka = kb = None
    rows = 0
    for f in lines(path):
        if f[0] == "scalar_a":
            ka = int.from_bytes(bytes.fromhex(f[1]), "little")
        elif f[0] == "scalar_b":
            kb = int.from_bytes(bytes.fromhex(f[1]), "little")
        elif f[0] == "id" and len(f) == 5:
            ident = f[1].encode()
            h = encode(hash_to_group(ident))
            ha = blind(ka, h)
            hab = blind(kb, ha)
            ok = (h.hex() == f[2] and ha.hex() == f[3] and hab.hex() == f[4]
                  and blind(ka, blind(kb, h)) == hab)
            tap(ok, "keten H(id), H(id)^a and H(id)^ab for id %d" % (rows + 1))
            rows += 1
        else:
            tap(False, "unknown line in %s" % path)
    tap(rows > 0 and ka and kb and 0 < ka < L and 0 < kb < L, "keten vectors: scalars and rows present")


IDS = ["123456782", "leerling-0001", "a", "zo\u00eb-2024",
       "0123456789012345678901234567890123456789012345678901234567890123"]
SCALAR_A = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f05"
SCALAR_B = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e10a"


def generate():
    ka = int.from_bytes(bytes.fromhex(SCALAR_A), "little")
    kb = int.from_bytes(bytes.fromhex(SCALAR_B), "little")
    print("# keten PSI known answers (docs/protocol.md section 12), made by")
    print("# `verify.py generate`. Scalars little-endian; per id (UTF-8 text):")
    print("# H(id) = from_hash(BLAKE2b-512(\"keten/1 psi h2g\" 0x00 || id)), then")
    print("# H(id)^a, then (H(id)^a)^b. Every value is a 32-byte encoding, hex.")
    print("scalar_a", SCALAR_A)
    print("scalar_b", SCALAR_B)
    for ident in IDS:
        h = encode(hash_to_group(ident.encode()))
        ha = blind(ka, h)
        print("id", ident, h.hex(), ha.hex(), blind(kb, ha).hex())


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "generate":
        generate()
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in ("rfc", "keten"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if sys.argv[1] == "rfc":
            check_rfc(sys.argv[2])
        else:
            check_keten(sys.argv[2])
    except (OSError, ValueError, IndexError, AssertionError, TypeError) as e:
        tap(False, "cannot check %s: %s" % (sys.argv[2], type(e).__name__))
    print("1..%d" % N)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
