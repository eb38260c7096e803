#!/usr/bin/env bats
# Records end to end through ketenctl: validation errors a user sees, then
# sign, verify, seal and open, and every way an envelope can be wrong.

load helpers

# check_fails JSON MESSAGE: `record check` rejects JSON with MESSAGE in the error
check_fails() {
    printf '%s\n' "$1" >in.json
    run ctl record check in.json
    [ "$status" -eq 1 ] || { echo "status $status: $output"; return 1; }
    [[ "$output" == *"$2"* ]] || { echo "expected: $2"; echo "got: $output"; return 1; }
}

@test "record check accepts the demo records and prints the canonical size" {
    run ctl record check "$KETEN_ROOT/demo/records/geoorloofd_verzuim.json"
    [ "$status" -eq 0 ]
    [[ "$output" == "record 1: ok geoorloofd_verzuim "* ]]
    run ctl record check "$KETEN_ROOT/demo/records/thuiszitter.jsonl"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | grep -c ': ok thuiszitter')" -ge 2 ]
}

@test "the canonical encoding does not depend on field order" {
    record_json >a.json
    printf '%s\n' '{"fields": {"onderwijssoort": "po", "status": "open", "criterium": "geoorloofd_lt50",
      "reden": "ziek", "weken_aaneengesloten": 5, "aanwezigheid_pct": 30, "begindatum": "2026-09-07",
      "leerling_id": "111222333"}, "type": "geoorloofd_verzuim"}' >b.json
    a=$(ctl record check --cbor a.json)
    b=$(ctl record check --cbor b.json)
    [ -n "$a" ] && [ "$a" = "$b" ]
}

@test "malformed JSON names the line" {
    check_fails '{"type": "thuiszitter", "fields": {' 'in.json:1'
}

@test "an unknown record type is rejected" {
    check_fails '{"type": "medisch_dossier", "fields": {"leerling_id": "111222333"}}' "unknown record type"
}

@test "an unknown field is rejected by name" {
    check_fails '{"type": "thuiszitter", "fields": {"leerling_id": "111222333", "definitie": "breed", "diagnose": "x"}}' \
        "field 'diagnose'"
}

@test "an enum value outside the registry is rejected and not echoed" {
    check_fails '{"type": "geoorloofd_verzuim", "fields": {"leerling_id": "111222333", "begindatum": "2026-09-07", "reden": "griep"}}' \
        "field 'reden': not a code of reden"
    [[ "$output" != *griep* ]]
}

@test "an impossible date is rejected" {
    check_fails '{"type": "geoorloofd_verzuim", "fields": {"leerling_id": "111222333", "begindatum": "2026-02-29"}}' \
        "field 'begindatum'"
}

@test "an invalid BSN is rejected and never echoed" {
    check_fails '{"type": "thuiszitter", "fields": {"leerling_id": "111222334", "definitie": "breed"}}' \
        "field 'leerling_id': neither a valid BSN"
    [[ "$output" != *111222334* ]]
}

@test "a JSON Lines error names the line of the bad record" {
    good='{"type": "thuiszitter", "fields": {"leerling_id": "111222333", "definitie": "breed"}}'
    bad='{"type": "thuiszitter", "fields": {"leerling_id": "111222333", "definitie": "breed", "duur": 3}}'
    printf '%s\n%s\n%s\n' "$good" "$good" "$bad" >in.jsonl
    run ctl record check in.jsonl
    [ "$status" -eq 1 ]
    [[ "$output" == *"in.jsonl:3"*"field 'duur'"* ]]
}

@test "sign, verify, seal and open: the gemeente reads what the school signed" {
    keys k school-a school gemeente-a gemeente
    record_json >r.json
    run ctl record sign --key k/school-a.key --to gemeente-a --out r.signed r.json
    [ "$status" -eq 0 ]
    run ctl record verify --pub k/school-a.pub r.signed
    [ "$status" -eq 0 ]
    [[ "$output" == *"signer: school-a"* ]]
    [[ "$output" == *"to: gemeente-a"* ]]
    [[ "$output" == *"type: geoorloofd_verzuim"* ]]
    [[ "$output" =~ id:\ [0-9a-f]{32} ]]
    [[ "$output" =~ created:\ 20[0-9]{2}-[0-9]{2}-[0-9]{2}T ]]
    [[ "$output" != *111222333* ]]
    run ctl record seal --key k/school-a.key --to k/gemeente-a.pub --out r.sealed r.signed
    [ "$status" -eq 0 ]
    run ctl record open --key k/gemeente-a.key --from k/school-a.pub --out r.opened r.sealed
    [ "$status" -eq 0 ]
    [[ "$output" == *"signer: school-a"* ]]
    cmp r.signed r.opened
}

@test "verify against a different key fails" {
    keys k school-a school school-b school gemeente-a gemeente
    record_json | ctl record sign --key k/school-a.key --to gemeente-a --out r.signed -
    run ctl record verify --pub k/school-b.pub r.signed
    [ "$status" -eq 1 ]
    [[ "$output" == *"signature"* ]]
}

@test "every flipped byte of a signed record is detected" {
    keys k school-a school gemeente-a gemeente
    record_json | ctl record sign --key k/school-a.key --to gemeente-a --out r.signed -
    n=$(stat -c %s r.signed)
    for ((i = 0; i < n; i += 7)); do
        cp r.signed t.signed
        flip_byte t.signed "$i"
        run ctl record verify --pub k/school-a.pub t.signed
        [ "$status" -eq 1 ] || { echo "byte $i accepted"; return 1; }
    done
}

@test "an envelope sealed to another node cannot be opened" {
    keys k school-a school gemeente-a gemeente swv-a swv
    record_json | ctl record sign --key k/school-a.key --to gemeente-a --out r.signed -
    ctl record seal --key k/school-a.key --to k/gemeente-a.pub --out r.sealed r.signed
    run ctl record open --key k/swv-a.key --from k/school-a.pub r.sealed
    [ "$status" -eq 1 ]
    [[ "$output" == *"r.sealed"* ]]
}

@test "a truncated or bit-flipped envelope is refused" {
    keys k school-a school gemeente-a gemeente
    record_json | ctl record sign --key k/school-a.key --to gemeente-a --out r.signed -
    ctl record seal --key k/school-a.key --to k/gemeente-a.pub --out r.sealed r.signed
    n=$(stat -c %s r.sealed)
    for len in 0 1 24 25 40 $((n - 1)); do
        head -c "$len" r.sealed >t.sealed
        run ctl record open --key k/gemeente-a.key --from k/school-a.pub t.sealed
        [ "$status" -eq 1 ] || { echo "length $len accepted"; return 1; }
    done
    for off in 0 1 30 $((n / 2)) $((n - 1)); do
        cp r.sealed t.sealed
        flip_byte t.sealed "$off"
        run ctl record open --key k/gemeente-a.key --from k/school-a.pub t.sealed
        [ "$status" -eq 1 ] || { echo "flip at $off accepted"; return 1; }
    done
}

@test "seal refuses a record signed by someone else or for another recipient" {
    keys k school-a school school-b school gemeente-a gemeente swv-a swv
    record_json | ctl record sign --key k/school-a.key --to gemeente-a --out r.signed -
    run ctl record seal --key k/school-b.key --to k/gemeente-a.pub --out x.sealed r.signed
    [ "$status" -eq 1 ]
    run ctl record seal --key k/school-a.key --to k/swv-a.pub --out x.sealed r.signed
    [ "$status" -eq 1 ]
    [ ! -e x.sealed ]
}

@test "usage errors exit 2 and --help exits 0" {
    run ctl record sign
    [ "$status" -eq 2 ]
    run ctl record sign --help
    [ "$status" -eq 0 ]
    run ctl nonsense
    [ "$status" -eq 2 ]
}
