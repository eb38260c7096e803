# Shared setup for the integration tests: a fresh temporary directory per
# test, the binaries under test from $KETENCTL / $KETEND (set by tests/run.sh),
# and keys generated there (never the example network's).
: "${KETEN_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${KETENCTL:=$KETEN_ROOT/build/ketenctl}"
: "${KETEND:=$KETEN_ROOT/build/ketend}"

setup() {
    T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/keten-it.XXXXXX")
    cd "$T" || return 1
}

teardown() {
    cd / && rm -rf "$T"
}

ctl() { "$KETENCTL" "$@"; }

# keys DIR ID ROLE ...: generate node keys into DIR
keys() {
    local dir=$1
    shift
    while [ $# -ge 2 ]; do
        "$KETENCTL" keygen --id "$1" --role "$2" --out "$dir" >/dev/null || return 1
        shift 2
    done
}

# flip_byte FILE OFFSET: xor one byte with 0x01 in place
flip_byte() {
    local b
    b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# A valid record (synthetic BSN 111222333 passes the elfproef).
record_json() {
    cat <<'JSON'
{"type": "geoorloofd_verzuim",
 "fields": {"leerling_id": "111222333", "begindatum": "2026-09-07", "aanwezigheid_pct": 30,
            "weken_aaneengesloten": 5, "reden": "ziek", "criterium": "geoorloofd_lt50",
            "status": "open", "onderwijssoort": "po"}}
JSON
}
