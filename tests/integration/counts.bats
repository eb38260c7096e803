#!/usr/bin/env bats
# Registries and counts (issue 6): importing a thuiszitter list through a
# running node (all or nothing, errors naming line and column, re-import
# replaces), the lists overview, count sets that state unit and definition,
# a definition refused for a missing column, retention through the purge
# job, the offline totals check of the published tables (exactly as the
# fixtures' `expected` say), and no BSN in any log line or reply. One SWV
# node on an ephemeral port; its partners are configured but not running.

load helpers

PLANTED=999600011 # the first pupil of demo/registry/swv-thuiszitters.csv

swv_start() {
    mkdir -p keys
    cp "$KETEN_ROOT"/keys-example/*.pub "$KETEN_ROOT"/keys-example/swv-vo-9901.key keys/
    chmod 600 keys/*.key
    cp -r "$KETEN_ROOT/policies" policies
    chmod -R go-w policies
    cat >swv.conf <<'CONF'
node = { id = "swv-vo-9901"; key = "keys/swv-vo-9901.key"; listen = "tcp://127.0.0.1:*";
         store = "swv.db"; control = "swv.sock"; policies = "policies/swv-vo-9901";
         log = "stderr"; };
access = { operators = ( "uid:0" ); auditors = ( "uid:0" ); };
partners = (
  { id = "school-de-linde"; role = "school"; key = "keys/school-de-linde.pub";
    endpoint = "tcp://127.0.0.1:9"; },
  { id = "gemeente-nijmegen"; role = "gemeente"; key = "keys/gemeente-nijmegen.pub";
    endpoint = "tcp://127.0.0.1:9"; }
);
CONF
    sed -i "s/\"uid:0\"/\"uid:$(id -u)\"/g" swv.conf
    "$KETEND" -d -c swv.conf 2>swv.log &
    echo $! >swv.pid
    for _ in $(seq 100); do
        "$KETENCTL" version -s swv.sock 2>/dev/null | grep -q "^ketend .*protocol" && return 0
        sleep 0.1
    done
    cat swv.log
    return 1
}

teardown() {
    [ -f swv.pid ] && kill "$(cat swv.pid)" 2>/dev/null && wait "$(cat swv.pid)" 2>/dev/null
    cd / && rm -rf "$T"
}

sctl() { "$KETENCTL" "$@" -s swv.sock; }

# jget FILE|- EXPR: a Python expression on the parsed JSON `j` (as net.bash)
jget() {
    python3 -c '
import json, sys
src = sys.argv[1]
j = json.load(sys.stdin if src == "-" else open(src))
v = eval(sys.argv[2], {"j": j, "len": len, "sorted": sorted, "set": set, "sum": sum})
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

SWV_CSV="$KETEN_ROOT/demo/registry/swv-thuiszitters.csv"
GEM_CSV="$KETEN_ROOT/demo/registry/gemeente-thuiszitters.csv"

@test "registry import: a list in, the overview without pupils, re-import replaces it" {
    swv_start
    run sctl registry import --list swv-lijst "$SWV_CSV"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "imported list swv-lijst: 32 pupils, expires "* ]]
    run sctl registry list --json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - 'j["lists"][0]["name"]')" = swv-lijst ]
    [ "$(echo "$output" | jget - 'j["lists"][0]["rows"]')" = 32 ]
    [[ "$output" != *"$PLANTED"* ]]
    run sctl registry import --list swv-lijst --retention-days 30 "$GEM_CSV"
    [ "$status" -eq 0 ]
    [[ "$output" == "replaced list swv-lijst: 32 pupils, expires "* ]]
    run sctl registry list
    [ "$status" -eq 0 ]
    [[ "$output" == *"LIST"*"ROWS"*"EXPIRES"* ]]
    [ "$(echo "$output" | grep -c swv-lijst)" -eq 1 ]
}

@test "bad CSV: exact errors naming line and column, and the list is unchanged" {
    swv_start
    sctl registry import --list swv "$SWV_CSV" >/dev/null
    before=$(sctl registry list --json)
    # line 4: a BSN that fails the elfproef; line 6: a date that does not exist
    sed '4s/^[0-9]*/999600012/' "$SWV_CSV" >bad-id.csv
    run sctl registry import --list swv bad-id.csv
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: registry-import: line 4, column 1 (leerling_id): not a BSN or onderwijsnummer (9 digits that pass the elfproef); nothing was imported (malformed)" ]
    sed '6s/,20[0-9][0-9]-[0-9][0-9]-[0-9][0-9],/,2010-02-30,/' "$SWV_CSV" >bad-date.csv
    run sctl registry import --list swv bad-date.csv
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: registry-import: line 6, column 2 (geboortedatum): not a date (YYYY-MM-DD); nothing was imported (malformed)" ]
    # the same pupil twice
    { cat "$SWV_CSV"; sed -n 3p "$SWV_CSV"; } >dup.csv
    run sctl registry import --list swv dup.csv
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: registry-import: lines 3 and 34, column 1 (leerling_id): the same pupil twice; a list holds each pupil once; nothing was imported (malformed)" ]
    # a column that is not one of ours
    sed '1s/verzuim/reden/' "$SWV_CSV" >col.csv
    run sctl registry import --list swv col.csv
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: registry-import: line 1, column 8: not a column of a registry list (see docs/reconcile.md); nothing was imported (malformed)" ]
    [ "$(sctl registry list --json)" = "$before" ]
    # a new list that fails is not created either
    run sctl registry import --list nieuw bad-date.csv
    [ "$status" -eq 1 ]
    [ "$(sctl registry list --json)" = "$before" ]
    run sctl registry import --list "Geen Naam" "$SWV_CSV"
    [ "$status" -eq 2 ]
}

@test "counts: unit and definition stated, explicit onbekend and niet_te_koppelen" {
    swv_start
    sctl registry import --list swv "$SWV_CSV" >/dev/null
    run sctl counts --list swv --definition inspectie --period 2021-2022 --by onderwijssoort --json
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - 'j["key"]["eenheid"]')" = thuiszitters_geweest ]
    [ "$(echo "$output" | jget - 'j["key"]["definitie"]')" = inspectie ]
    [ "$(echo "$output" | jget - 'sorted(b["name"] for b in j["buckets"])')" = \
      '["geen_onderwijs", "mbo", "niet_te_koppelen", "onbekend", "po", "pro", "sbo", "so", "vo", "vso"]' ]
    total=$(echo "$output" | jget - 'j["total"]')
    [ "$total" = "$(echo "$output" | jget - 'sum(b["value"] for b in j["buckets"])')" ]
    [ "$total" -gt 0 ]
    [[ "$output" != *"$PLANTED"* ]]
    run sctl counts --list swv --definition breed --period 2021-10-01 --by brin
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"unit        thuiszitters_stand"* ]]
    [[ "$output" == *"definition  breed"* ]]
    [[ "$output" == *"peildatum   2021-10-01"* ]]
    [[ "$output" == *"niet_te_koppelen"* ]]
    # a wider definition never counts fewer
    narrow=$(sctl counts --list swv --definition inspectie --period 2021-10-01 --json | jget - 'j["total"]')
    wide=$(sctl counts --list swv --definition breed --period 2021-10-01 --json | jget - 'j["total"]')
    [ "$wide" -ge "$narrow" ]
    # suppression: no value between 1 and the threshold is shown
    run sctl counts --list swv --definition breed --period 2021-2022 --by onderwijssoort --threshold 5 --json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - '[b["value"] for b in j["buckets"] if b["value"] is not None and 0 < b["value"] < 5]')" = "[]" ]
    run sctl counts --list swv --definition smal --period 2021-2022
    [ "$status" -eq 1 ]
    [[ "$output" == *"unknown definition; one of inspectie"* ]]
    run sctl counts --list geen --definition breed --period 2021-2022
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: counts: no list 'geen' (import it with: ketenctl registry import --list geen FILE) (not_found)" ]
}

@test "counts: a definition that needs a missing column is refused, saying which" {
    swv_start
    python3 - "$SWV_CSV" <<'PY' >smal.csv
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
cols = [c for c in r[0] if c not in ("belastbaarheid", "aanwezigheid_pct")]
w = csv.DictWriter(sys.stdout, cols, extrasaction="ignore", lineterminator="\n")
w.writeheader()
w.writerows(r)
PY
    sctl registry import --list smal smal.csv >/dev/null
    run sctl counts --list smal --definition vier_weken --period 2021-2022
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: counts: definition vier_weken needs column belastbaarheid (ill but able to attend), which this list does not have; import the list with that column (not_found)" ]
    run sctl counts --list smal --definition nul_procent --period 2021-2022
    [ "$status" -eq 1 ]
    [[ "$output" == *"needs column aanwezigheid_pct"* ]]
    run sctl counts --list smal --definition inspectie --period 2021-2022
    [ "$status" -eq 0 ]
}

@test "retention: the purge job deletes an expired list" {
    swv_start
    sctl registry import --list oud --date 2020-01-01 --retention-days 1 "$SWV_CSV" >/dev/null
    sctl registry import --list nieuw "$GEM_CSV" >/dev/null
    [ "$(sctl registry list --json | jget - 'len(j["lists"])')" = 2 ]
    run sctl purge
    [ "$status" -eq 0 ]
    [ "$(sctl registry list --json | jget - '[l["name"] for l in j["lists"]]')" = '["nieuw"]' ]
    run sctl counts --list oud --definition breed --period 2021-2022
    [ "$status" -eq 1 ]
}

@test "a planted BSN never reaches a log line or an error" {
    swv_start
    sctl registry import --list swv "$SWV_CSV" >/dev/null
    sed "2s/,vo,/,havo,/" "$SWV_CSV" >bad.csv
    run sctl registry import --list swv bad.csv
    [ "$status" -eq 1 ]
    [[ "$output" != *"$PLANTED"* ]]
    sctl counts --list swv --definition breed --period 2021-2022 --by woongemeente >/dev/null
    kill "$(cat swv.pid)" && wait "$(cat swv.pid)" 2>/dev/null || true
    rm -f swv.pid
    grep -q "registry import: list swv, 32 pupils" swv.log
    ! grep -q "$PLANTED" swv.log
    # nor the store file in the clear
    ! grep -qa "$PLANTED" swv.db
}

@test "counts check: every fixture table exactly as its expected says" {
    run "$KETENCTL" counts check --json "$KETEN_ROOT/tests/fixtures/seed-counts.json"
    [ "$status" -eq 0 ]
    echo "$output" >got.json
    python3 - "$KETEN_ROOT/tests/fixtures/seed-counts.json" got.json <<'PY'
import json, sys
exp, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert set(got) == {t["id"] for t in exp}, "tables"
for t in exp:
    assert set(got[t["id"]]) == set(t["expected"]), t["id"]
    for col, e in t["expected"].items():
        g = got[t["id"]][col]
        for k in ("sum", "stated", "status", "diff"):
            assert e.get(k) == g.get(k), (t["id"], col, k, e.get(k), g.get(k))
assert got["nij_thuiszitters_by_soort"]["2017-2018"]["likely_excluded"] == ["Geen onderwijssoort bekend"]
assert got["alphen_leerplicht_incidenten_by_soort"]["2014/2015"]["likely_excluded"] == ["absoluut verzuim"]
assert "likely_excluded" not in got["nij_thuiszitters_2020_2021_duur"]["2020-2021"]
PY
    run "$KETENCTL" counts check "$KETEN_ROOT/tests/fixtures/seed-counts.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2017-2018    sum    128  stated    110  mismatch (diff -18)"* ]]
    [[ "$output" == *"the total likely leaves out row 'Geen onderwijssoort bekend' (18)"* ]]
}

@test "counts check: the hermetic fixture equals the shared one" {
    shared="$KETEN_ROOT/../shared/fixtures/seed-counts.json"
    [ -f "$shared" ] || skip "no $shared"
    cmp "$KETEN_ROOT/tests/fixtures/seed-counts.json" "$shared"
}

@test "counts check: flows balance within a year and across years" {
    cat >flows.json <<'JSON'
[{"id": "alphen_thuiszitters", "unit": "thuiszitters", "cols": ["2014/2015", "2015/2016"],
  "rows": {"thuiszitters": [8, 4]}, "total": null,
  "flows": {"begin": [2, 1], "new": [6, 3], "exits": [6, 4], "end": [2, 0]}},
 {"id": "scheef", "unit": "thuiszitters", "cols": ["2020-2021"],
  "rows": {"a": [3]}, "total": {"Totaal": [3]},
  "flows": {"begin": [1], "new": [5], "exits": [2], "end": [3]}}]
JSON
    run "$KETENCTL" counts check --json flows.json
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - 'j["alphen_thuiszitters"]["2014/2015"]["flows"]["status"]')" = ok ]
    [ "$(echo "$output" | jget - 'j["alphen_thuiszitters"]["2015/2016"]["flows"]["status"]')" = ok ]
    [ "$(echo "$output" | jget - 'j["alphen_thuiszitters"]["2015/2016"]["flows"]["carry"]')" = \
      '{"diff": -1, "from": "2014/2015", "status": "mismatch"}' ]
    [ "$(echo "$output" | jget - 'j["scheef"]["2020-2021"]["flows"]')" = \
      '{"diff": -1, "expected_end": 4, "status": "mismatch"}' ]
    [ "$(echo "$output" | jget - 'j["scheef"]["2020-2021"]["status"]')" = ok ]
    echo '[{"id": "x", "unit": "u", "cols": ["a"], "rows": {"r": ["7"]}, "total": null}]' >bad.json
    run "$KETENCTL" counts check bad.json
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: table 1 (x): rows: row 1: an array of 1 whole numbers (one per column)" ]
}
