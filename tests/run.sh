#!/usr/bin/env bash
# Runs every test suite against one build directory and ends with the single
# line `tests: N passed, M failed` (exit 1 if M > 0).
#
# Every suite speaks TAP: cmocka unit tests (CMOCKA_MESSAGE_OUTPUT=TAP), the
# fuzz corpus replays, the vector scripts and the bats integration tests. A
# suite that exits non-zero without reporting a failed test (a crash, a
# sanitizer abort, a missing plan) counts as one more failure.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
export KETEN_ROOT=$ROOT
export KETENCTL="$ROOT/$BUILD/ketenctl" KETEND="$ROOT/$BUILD/ketend" KETEN_TOOLS="$ROOT/$BUILD/tests/tools"
export CMOCKA_MESSAGE_OUTPUT=TAP
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/keten-tests.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

passed=0
failed=0

run_suite() { # name, command...
    local name=$1 log rc p f
    shift
    log="$LOGDIR/$(echo "$name" | tr '/ ' '__').log"
    timeout 600 "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -cE '^ok ' "$log")
    f=$(grep -cE '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    if ! grep -qE '^1\.\.[0-9]+' "$log" && [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then
        f=$((f + 1))
        echo "not ok - $name ran no test" >>"$log"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
        printf '%-40s %4d passed, %d FAILED\n' "$name" "$p" "$f"
        sed 's/^/    | /' "$log" | tail -n 60
    else
        printf '%-40s %4d passed\n' "$name" "$p"
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite "unit/$(basename "$t")" "$t"
done

for r in "$BUILD"/tests/replay_*; do
    [ -x "$r" ] || continue
    name=${r##*/replay_}
    run_suite "fuzz-replay/$name" "$r" "tests/fuzz/corpus/$name"
done

for v in tests/vectors/*.sh; do
    [ -x "$v" ] || continue
    run_suite "vectors/$(basename "$v" .sh)" "$v"
done

for b in tests/integration/*.bats; do
    [ -f "$b" ] || continue
    run_suite "integration/$(basename "$b" .bats)" bats --tap "$b"
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
