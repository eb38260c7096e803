#!/usr/bin/env bash
# bench/run.sh BUILD - what `make bench` runs after building: the machine and
# library versions, the raw ceilings (BUILD/bench/ceilings), the end-to-end
# figures from bench/e2e.sh when that script exists and is executable, and a
# final table giving each end-to-end figure as a ratio of its ceiling.
#
# Builds nothing. Never part of `make test` or CI: figures depend on the
# machine and its load, so nothing here compares them with a threshold.
#
# Output lines it understands (one figure per line, fields separated by
# spaces):
#   ceiling NAME VALUE UNIT                      from ceilings
#   e2e NAME VALUE UNIT [ceiling=CEILING_NAME]   from e2e.sh
# An e2e line that names a ceiling gets ratio = VALUE / that ceiling's VALUE.
# Other lines (info ..., progress) are shown as they come.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."

CEILINGS=$BUILD/bench/ceilings
if [ ! -x "$CEILINGS" ]; then
    echo "bench: $CEILINGS is not built; run: make bench" >&2
    exit 1
fi
mkdir -p "$BUILD/bench"
OUT=$(mktemp "$BUILD/bench/run.XXXXXX")
trap 'rm -f "$OUT"' EXIT

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr)"
for lib in libsodium libzmq sqlite3; do
    printf '%s %s  ' "$lib" "$(pkg-config --modversion "$lib" 2>/dev/null || echo '?')"
done
echo
echo

"$CEILINGS" "$BUILD/bench" | tee "$OUT"
if [ -x bench/e2e.sh ]; then
    echo
    bench/e2e.sh "$BUILD" | tee -a "$OUT"
else
    echo
    echo "end-to-end: not measured (bench/e2e.sh does not exist yet)"
fi
if [ -x "$BUILD/bench/psi" ]; then # private list comparison, 100,000 x 100,000
    echo
    "$BUILD/bench/psi" | tee -a "$OUT"
fi

echo
awk '
function show(kind, name, value, unit, ratio) {
    printf "%-8s %-22s %14s %-10s %s\n", kind, name, value, unit, ratio
}
$1 == "ceiling" && NF == 4 {
    ceil[$2] = $3; cunit[$2] = $4
    n++; kind[n] = "ceiling"; name[n] = $2; value[n] = $3; unit[n] = $4; ref[n] = ""
}
$1 == "e2e" && (NF == 4 || NF == 5) {
    n++; kind[n] = "e2e"; name[n] = $2; value[n] = $3; unit[n] = $4; ref[n] = ""
    if (NF == 5 && $5 ~ /^ceiling=/) ref[n] = substr($5, 9)
}
END {
    show("", "figure", "value", "unit", "ratio")
    for (i = 1; i <= n; i++) {
        r = "-"
        if (ref[i] != "") {
            if (!(ref[i] in ceil) || ceil[ref[i]] + 0 == 0)
                r = "? (no ceiling " ref[i] ")"
            else {
                r = sprintf("%.2f of %s", value[i] / ceil[ref[i]], ref[i])
                if (cunit[ref[i]] != unit[i])
                    r = r " (" cunit[ref[i]] ")"
            }
        }
        show(kind[i], name[i], value[i], unit[i], r)
    }
}' "$OUT"
