#!/usr/bin/env bats
# Signals at the school (issue 7): attendance import (all or nothing, errors
# naming line and column, repeated rows replace), the candidates each rule
# selects with their consent state (switching when the pupil turns 16),
# submit once per episode, and no attendance value in any log line, reply
# to partners or audit entry. One school node on an ephemeral port; its
# partners are configured but not running, so records stay in its outbox.

load helpers

BSN=999900043
BSN2=999900055

school_start() {
    mkdir -p keys
    cp "$KETEN_ROOT"/keys-example/*.pub "$KETEN_ROOT"/keys-example/school-de-linde.key keys/
    chmod 600 keys/*.key
    cp -r "$KETEN_ROOT/policies" policies
    chmod -R go-w policies
    cp "$KETEN_ROOT/demo/signals.conf" signals.conf
    cat >school.conf <<'CONF'
node = { id = "school-de-linde"; key = "keys/school-de-linde.key"; listen = "tcp://127.0.0.1:*";
         store = "school.db"; control = "school.sock"; policies = "policies/school-de-linde";
         log = "stderr"; };
access = { operators = ( "uid:0" ); auditors = ( "uid:0" ); };
partners = (
  { id = "swv-vo-9901"; role = "swv"; key = "keys/swv-vo-9901.pub"; endpoint = "tcp://127.0.0.1:9"; },
  { id = "gemeente-nijmegen"; role = "gemeente"; key = "keys/gemeente-nijmegen.pub";
    endpoint = "tcp://127.0.0.1:9"; }
);
CONF
    sed -i "s/\"uid:0\"/\"uid:$(id -u)\"/g" school.conf
    "$KETEND" -d -c school.conf 2>school.log &
    echo $! >school.pid
    for _ in $(seq 100); do
        "$KETENCTL" version -s school.sock 2>/dev/null | grep -q "^ketend .*protocol" && return 0
        sleep 0.1
    done
    cat school.log
    return 1
}

teardown() {
    [ -f school.pid ] && kill "$(cat school.pid)" 2>/dev/null && wait "$(cat school.pid)" 2>/dev/null
    cd / && rm -rf "$T"
}

sctl() { "$KETENCTL" "$@" -s school.sock; }

# csv ROWS...: the header plus rows
csv() {
    echo "leerlingnummer,leerling_id,geboortedatum,datum,lestijd_min,afwezig_min,code"
    printf '%s\n' "$@"
}

# weeks NUMBER BSN BIRTH ABSENT CODE WEEKS: 5 lesdagen of 300 min per week from 2025-09-01
weeks() {
    python3 - "$@" <<'PY'
import datetime, sys
num, bsn, geb, absent, code, n = sys.argv[1:7]
start = datetime.date(2025, 9, 1)
for w in range(int(n)):
    for d in range(5):
        print(f"{num},{bsn},{geb},{start + datetime.timedelta(days=7*w+d)},300,{absent},{code}")
PY
}

@test "malformed CSV: a clear error naming line and column, and nothing imported" {
    school_start
    csv "L1,$BSN,2013-03-21,2025-09-01,300,0," "L1,$BSN,2013-03-21,2025-09-02,-5,0," >neg.csv
    run sctl attendance import neg.csv
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"line 3, column 5 (lestijd_min): negative; nothing was imported"* ]]
    csv "L1,$BSN,2013-03-21,2025-09-01,300,301,Z" >over.csv
    run sctl attendance import over.csv
    [ "$status" -eq 1 ]
    [[ "$output" == *"line 2, column 6 (afwezig_min): more minutes absent than planned"* ]]
    csv "L1,$BSN,2013-03-21,2025-13-01,300,0," >date.csv
    run sctl attendance import date.csv
    [[ "$output" == *"line 2, column 4 (datum): not a date (YYYY-MM-DD)"* ]]
    printf 'leerlingnummer,leerling_id,datum,lestijd_min,afwezig_min,code\n' >col.csv
    run sctl attendance import col.csv
    [[ "$output" == *"line 1: missing column 'geboortedatum'"* ]]
    run sctl signals --json --date 2025-10-10
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["candidates"]))')" = 0 ]
}

@test "repeated rows replace; the rule selects exactly the pupil over the line" {
    school_start
    { csv; weeks L1 $BSN 2013-03-21 200 Z 5; weeks L2 $BSN2 2012-11-02 150 Z 5; } >a.csv
    run sctl attendance import a.csv
    [ "$status" -eq 0 ]
    [ "$output" = "imported 50 rows for 2 pupils" ]
    run sctl attendance import a.csv # the same again: replaces, never adds up
    [ "$status" -eq 0 ]
    sctl signals --json --date 2025-10-03 >s.json
    python3 - <<'PY'
import json
c = json.load(open("s.json"))["candidates"]
lt50 = [x for x in c if x["rule"] == "geoorloofd_lt50"]
assert [x["pupil"] for x in lt50] == ["L1"], lt50          # L2 is at exactly 50 %
x = lt50[0]
assert x["evidence"] == {"weken_onder": 5, "aanwezigheid_pct": 33}, x
assert x["record"]["type"] == "geoorloofd_verzuim"
assert x["record"]["fields"]["criterium"] == "geoorloofd_lt50"
assert x["state"] == "needs consent of parent"
assert {p["partner"] for p in x["partners"]} == {"gemeente-nijmegen", "swv-vo-9901"}
PY
}

@test "a pupil who turns 16 during the period: the consent state switches to the pupil" {
    school_start
    { csv; weeks L9 $BSN 2009-10-06 200 Z 6; } >a.csv
    sctl attendance import a.csv
    sctl signals --json --date 2025-10-03 >before.json
    sctl signals --json --date 2025-10-10 >after.json
    run python3 -c 'import json; c=json.load(open("before.json"))["candidates"]; print(c[0]["state"])'
    [ "$output" = "needs consent of parent" ]
    run python3 -c 'import json; c=json.load(open("after.json"))["candidates"]; print(c[0]["state"])'
    [ "$output" = "needs consent of pupil (16+)" ]
}

@test "wettelijk verzuim is ready without consent, submitted once, and no attendance value leaks" {
    school_start
    # PLANT4711 and the minutes 241 are planted: they must appear nowhere but the school's own view
    { csv; weeks PLANT4711 $BSN 2013-03-21 241 O 4; } >a.csv
    sctl attendance import a.csv
    run sctl signals --date 2025-09-26
    [ "$status" -eq 0 ]
    [[ "$output" == *"pupil PLANT4711  wettelijk_16u (open)"* ]]
    [[ "$output" == *"minuten=4820 lesweken=4"* ]]
    [[ "$output" == *"gemeente-nijmegen: ready"* ]]
    run sctl signals submit --date 2025-09-26 --json
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json,sys
s = json.load(sys.stdin)["submitted"]
types = sorted((x["rule"], x["type"]) for x in s)
assert ("wettelijk_16u", "verzuimmelding") in types, types
for x in s:
    if x["type"] == "verzuimmelding":
        assert [c["partner"] for c in x["copies"]] == ["gemeente-nijmegen"], x
'
    run sctl signals submit --date 2025-09-26 --json
    [ "$(echo "$output" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["submitted"]))')" = 0 ]
    ! grep -q -e PLANT4711 -e $BSN -e 2013-03-21 school.log
    # the outbox holds the signed records: the verzuimmelding carries totals, never a day's row
    sctl outbox --json >out.json
    for id in $(python3 -c 'import json; print(" ".join(o["id"] for o in json.load(open("out.json"))["outbox"]))'); do
        sctl show "$id" >>shown.txt
    done
    ! grep -q -e PLANT4711 -e 2025-09-02 -e '\b241\b' shown.txt
    # the audit log (if the node keeps one) names no attendance value
    if sctl audit list --json >audit.json 2>/dev/null; then
        ! grep -q -e PLANT4711 -e $BSN -e '\b241\b' audit.json
    fi
}
