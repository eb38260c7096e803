#!/usr/bin/env bash
# Checks the envelope known-answer vector with independent_verify.py (pure
# Python, written from docs/protocol.md, RFC 8032 and RFC 8949): the good
# vector must verify, every tampered copy must be refused. Prints TAP.
set -u
cd "$(dirname "$0")" || exit 1
V=envelope
PY=${PYTHON:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keten-vec.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0
fails=0

expect() { # ok|fail, description, args...
    local want=$1 desc=$2 rc
    shift 2
    "$PY" independent_verify.py "$@" >"$TMP/out" 2>&1
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

# flip(file, hex offset in characters): copies the hex vector with one nibble changed
flip() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import sys
src, pos, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
h = open(src).read().strip()
c = "0" if h[pos] != "0" else "1"
open(dst, "w").write(h[:pos] + c + h[pos + 1:] + "\n")
PY
}

SIGNED=$V/signed.hex
LEN=$(tr -d '\n' <"$SIGNED" | wc -c)

expect ok "good vector verifies, keys re-derived from the seeds, all fields match" \
    "$SIGNED" $V/sender.pub $V/inputs.txt
flip "$SIGNED" 60 "$TMP/payload.hex"
expect fail "a flipped byte in the payload is refused" "$TMP/payload.hex" $V/sender.pub
flip "$SIGNED" $((LEN - 10)) "$TMP/sig.hex"
expect fail "a flipped byte in the signature is refused" "$TMP/sig.hex" $V/sender.pub
flip "$SIGNED" 130 "$TMP/body.hex"
expect fail "a flipped byte in the body is refused" "$TMP/body.hex" $V/sender.pub
head -c $((LEN - 2)) "$SIGNED" >"$TMP/short.hex"
expect fail "a truncated container is refused" "$TMP/short.hex" $V/sender.pub
expect fail "the wrong signer's key is refused" "$SIGNED" $V/recipient.pub
sed 's/^id school-a$/id school-b/' $V/sender.pub >"$TMP/renamed.pub"
expect fail "a .pub with an altered id is refused (self-signature)" "$SIGNED" "$TMP/renamed.pub"

echo "1..$n"
[ "$fails" -eq 0 ]
