#!/usr/bin/env bash
# Checks the PSI vectors in psi/ with psi/verify.py, a ristretto255 written
# from RFC 9496 in pure Python: the RFC's own Appendix A vectors, then
# keten's hash-to-group and blinding vectors (which test_psi checks against
# libsodium and daemon/psi.c). Every tampered copy must be refused. TAP.
set -u
cd "$(dirname "$0")/psi" || exit 1
PY=${PYTHON:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keten-psi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0
fails=0

expect() { # ok|fail, description, args...
    local want=$1 desc=$2 rc
    shift 2
    "$PY" verify.py "$@" >"$TMP/out" 2>&1
    rc=$?
    n=$((n + 1))
    if { [ "$want" = ok ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 1 ]; }; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc (exit $rc)"
        sed 's/^/# /' "$TMP/out"
        fails=$((fails + 1))
    fi
}

# flip(src, line number, dst): one hex digit of the last field changed
flip() {
    awk -v L="$2" 'NR == L { f = $NF; c = substr(f, 10, 1); c = (c == "0") ? "1" : "0";
        $NF = substr(f, 1, 9) c substr(f, 11) } { print }' "$1" >"$3"
}

expect ok "RFC 9496 A.1-A.3 hold for the independent ristretto255" rfc .
expect ok "keten H(id), H(id)^a, H(id)^ab recomputed independently" keten keten-psi.txt
row=$(grep -n '^id ' keten-psi.txt | head -n 1 | cut -d: -f1)
flip keten-psi.txt "$row" "$TMP/k.txt"
expect fail "a flipped digit in a doubly blinded value is refused" keten "$TMP/k.txt"
awk '$1 == "id" && !done { c = substr($3, 1, 1); $3 = (c == "0" ? "1" : "0") substr($3, 2); done = 1 }
    { print }' keten-psi.txt >"$TMP/h.txt"
expect fail "a changed H(id) is refused" keten "$TMP/h.txt"
sed 's/^scalar_a \(.\)./scalar_a \10/' keten-psi.txt >"$TMP/s.txt"
expect fail "another scalar a is refused" keten "$TMP/s.txt"
mkdir "$TMP/rfc" && cp rfc9496-*.txt "$TMP/rfc/"
flip rfc9496-a3-from-hash.txt 6 "$TMP/rfc/rfc9496-a3-from-hash.txt"
expect fail "a flipped digit in an RFC A.3 output is refused" rfc "$TMP/rfc"

echo "1..$n"
[ "$fails" -eq 0 ]
