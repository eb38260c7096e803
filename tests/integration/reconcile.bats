#!/usr/bin/env bats
# Two registries reconciled over the live exchange (issue 6): an SWV and a
# gemeente compare count sets per category, then compare their lists by
# private set intersection; each learns what its partner's policy allows
# (sizes only, or also which of its own pupils the other lacks) and never an
# identifier it did not hold. Refusals (no policy, replayed session, a list
# that does not exist) end the session with a clear reason on both sides,
# and every outcome is audited.

load helpers
load net
load flows
bats_require_minimum_version 1.5.0

SWV_CSV=$BATS_TEST_DIRNAME/../../demo/registry/swv-thuiszitters.csv
GEM_CSV=$BATS_TEST_DIRNAME/../../demo/registry/gemeente-thuiszitters.csv

# rpolicy ID PARTNER RECONCILE-SETTINGS: ID's policy for PARTNER, with no
# record rules, only a reconcile group.
rpolicy() {
    {
        echo "partner = \"$2\";"
        echo "versions = ( { version = 1; valid_from = \"2025-08-01\";"
        echo "  reconcile = { $3 }; } );"
    } | net_policy "$1" "$2"
}

# up SWV-SETTINGS GEMEENTE-SETTINGS: both nodes with their lists imported.
up() {
    net_up swv-a swv gemeente-a gemeente
    rpolicy swv-a gemeente-a "$1"
    rpolicy gemeente-a swv-a "$2"
    start_all swv-a gemeente-a
    nctl2 swv-a registry import --list thuiszitters "$SWV_CSV" >/dev/null
    nctl2 gemeente-a registry import --list thuiszitters "$GEM_CSV" >/dev/null
}

ids() { tail -n +2 "$1" | cut -d, -f1 | sort; }

@test "count sets: both nodes compute the same key and each sees the differences per category" {
    up 'counts = true;' 'counts = true;'
    run nctl2 swv-a reconcile counts --with gemeente-a --list thuiszitters --definition breed \
        --period 2021-10-01 --by onderwijssoort --json
    echo "$output"
    [ "$status" -eq 0 ]
    echo "$output" >out.json
    [ "$(jget out.json 'j["state"]')" = done ]
    [ "$(jget out.json 'j["key"]["definitie"]')" = breed ]
    [ "$(jget out.json 'j["key"]["by"]')" = onderwijssoort ]
    # every bucket: ours is the SWV's own count, theirs the gemeente's
    ours=$(nctl swv-a counts --list thuiszitters --definition breed --period 2021-10-01 \
        --by onderwijssoort --json | jget - '{b["name"]: b["value"] for b in j["buckets"]}')
    theirs=$(nctl gemeente-a counts --list thuiszitters --definition breed --period 2021-10-01 \
        --by onderwijssoort --json | jget - '{b["name"]: b["value"] for b in j["buckets"]}')
    [ "$(jget out.json '{b["bucket"]: b["ours"] for b in j["buckets"]}')" = "$ours" ]
    [ "$(jget out.json '{b["bucket"]: b["theirs"] for b in j["buckets"]}')" = "$theirs" ]
    [ "$(jget out.json 'all(b["diff"] == b["theirs"] - b["ours"] for b in j["buckets"])')" = true ]
    # the gemeente answered on its own and kept the same outcome, mirrored
    wait_for 10 eval '[ "$(nctl2 gemeente-a reconcile list --json | jget - "j[\"sessions\"][0][\"state\"]")" = done ]'
    id=$(jget out.json 'j["id"]')
    nctl2 gemeente-a reconcile show "$id" --json >gem.json
    [ "$(jget gem.json 'j["role"]')" = responder ]
    [ "$(jget gem.json '{b["bucket"]: b["theirs"] for b in j["buckets"]}')" = "$ours" ]
    # audited on both sides, without a pupil
    for n in swv-a gemeente-a; do
        [ "$(sqlite3 "$(node_db $n)" "SELECT count(*) FROM audit WHERE action = 'reconciled'
            AND decision = 'done' AND record_id = X'$id'")" = 1 ]
    done
    # the human view names the key and the buckets
    run nctl2 swv-a reconcile show "$id"
    [[ "${lines[0]}" == "counts of list thuiszitters with gemeente-a: thuiszitters_stand, definitie breed, scope lijst, period 2021-10-01, by onderwijssoort" ]]
}

@test "counts under the partner's threshold are suppressed, never sent" {
    up 'counts = true; suppress_below = 5;' 'counts = true; suppress_below = 5;'
    run nctl2 swv-a reconcile counts --with gemeente-a --list thuiszitters --definition breed \
        --period 2021-10-01 --by brin --json
    [ "$status" -eq 0 ]
    echo "$output" >out.json
    [ "$(jget out.json 'any(b["theirs"] == "suppressed" for b in j["buckets"])')" = true ]
    [ "$(jget out.json 'all(b["diff"] is None for b in j["buckets"] if "suppressed" in (b["ours"], b["theirs"]))')" = true ]
}

@test "private list comparison, membership: each side learns which of its own pupils the other lacks, and nothing else" {
    up 'lists = "membership";' 'lists = "membership";'
    run nctl2 swv-a reconcile lists --with gemeente-a --list thuiszitters --json
    echo "$output"
    [ "$status" -eq 0 ]
    echo "$output" >out.json
    ids "$SWV_CSV" >swv.ids
    ids "$GEM_CSV" >gem.ids
    [ "$(jget out.json 'j["ours"]')" = "$(wc -l <swv.ids)" ]
    [ "$(jget out.json 'j["theirs"]')" = "$(wc -l <gem.ids)" ]
    [ "$(jget out.json 'j["both"]')" = "$(comm -12 swv.ids gem.ids | wc -l)" ]
    # exactly the SWV's own pupils the gemeente lacks (plain set difference)
    [ "$(jget out.json '"\n".join(sorted(j["missing_at_partner"]))')" = "$(comm -23 swv.ids gem.ids)" ]
    # and the gemeente learned the same about its own list
    id=$(jget out.json 'j["id"]')
    wait_for 10 eval '[ "$(nctl2 gemeente-a reconcile show '"$id"' --json | jget - "j[\"state\"]")" = done ]'
    nctl2 gemeente-a reconcile show "$id" --json >gem.json
    [ "$(jget gem.json '"\n".join(sorted(j["missing_at_partner"]))')" = "$(comm -13 swv.ids gem.ids)" ]
    # no id of the other side's list reached either node's log or result
    for x in $(comm -13 swv.ids gem.ids); do
        ! grep -q "$x" "$(node_log swv-a)"
        ! grep -q "$x" out.json
    done
}

@test "private list comparison, cardinality: a partner whose policy says cardinality learns only the sizes" {
    # the gemeente lets the SWV learn only sizes; the SWV lets the gemeente learn membership
    up 'lists = "membership";' 'lists = "cardinality";'
    run nctl2 swv-a reconcile lists --with gemeente-a --list thuiszitters --json
    [ "$status" -eq 0 ]
    echo "$output" >out.json
    [ "$(jget out.json 'j["mode"]')" = cardinality ]
    [ "$(jget out.json 'j["missing_at_partner"]')" = null ]
    ids "$SWV_CSV" >swv.ids
    ids "$GEM_CSV" >gem.ids
    [ "$(jget out.json 'j["only_ours"]')" = "$(comm -23 swv.ids gem.ids | wc -l)" ]
    [ "$(jget out.json 'j["only_theirs"]')" = "$(comm -13 swv.ids gem.ids | wc -l)" ]
    id=$(jget out.json 'j["id"]')
    wait_for 10 eval '[ "$(nctl2 gemeente-a reconcile show '"$id"' --json | jget - "j[\"state\"]")" = done ]'
    [ "$(nctl2 gemeente-a reconcile show "$id" --json | jget - 'j["mode"]')" = membership ]
}

@test "a partner without a reconcile policy refuses; the initiator is told why" {
    up 'lists = "membership"; counts = true;' 'counts = false;'
    run nctl2 swv-a reconcile lists --with gemeente-a --list thuiszitters
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: denied" ]]
    run nctl2 swv-a reconcile counts --with gemeente-a --list thuiszitters --definition breed --period 2021-10-01
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: denied" ]]
    # our own policy decides before anything is sent
    run nctl2 gemeente-a reconcile counts --with swv-a --list thuiszitters --definition breed --period 2021-10-01
    echo "own policy: $output"
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: permission denied: our policy for swv-a does not allow count comparison (reconcile.counts in its version in force; docs/policy.md)" ]
}

@test "a list the partner does not have ends the session with no_list" {
    up 'lists = "membership";' 'lists = "membership";'
    nctl2 swv-a registry import --list alleen-swv "$SWV_CSV" >/dev/null
    run nctl2 swv-a reconcile lists --with gemeente-a --list alleen-swv
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: no_list" ]]
}

@test "a replayed or malicious PSI session is refused: invalid points, duplicates, too many, replay" {
    up 'lists = "membership";' 'lists = "membership";'
    [ -x "$KETEN_TOOLS/ktpsipeer" ] # built by make test-build; never skipped
    gem=$(node_log gemeente-a)
    # psipeer ATTACK: ktpsipeer plays swv-a against gemeente-a; sets $sid.
    # expect LINE: gemeente-a logs exactly LINE within 10 s and is still running.
    psipeer() {
        run "$KETEN_TOOLS/ktpsipeer" "$1" "$T/keys/swv-a.key" "$T/keys/gemeente-a.pub" \
            "tcp://127.0.0.1:$(node_port gemeente-a)"
        echo "$1: $output"
        [ "$status" -eq 0 ]
        [[ "$output" =~ ^session\ ([0-9a-f]{32})$ ]]
        sid=${BASH_REMATCH[1]}
    }
    expect() { wait_up 10 gemeente-a grep -qxF "ketend: $1" "$gem"; }
    state() { nctl2 gemeente-a reconcile show "$sid" --json | jget - 'j["state"] + ": " + j["reason"]'; }

    # a point that is no ristretto255 encoding: the session fails (refusal invalid_points)
    psipeer invalid
    expect "list comparison with swv-a: psi: point 1 is not a canonical ristretto255 encoding"
    expect "reconciliation $sid (lists of list thuiszitters) with swv-a: failed: psi: point 1 is not a canonical ristretto255 encoding"
    [ "$(state)" = "failed: psi: point 1 is not a canonical ristretto255 encoding" ]
    nctl gemeente-a status >/dev/null

    # the same point twice
    psipeer duplicate
    expect "list comparison with swv-a: psi: point 1 repeats point 0"
    [ "$(state)" = "failed: psi: point 1 repeats point 0" ]
    nctl gemeente-a status >/dev/null

    # one more point than any list may hold: refused as it is decoded, no session opened
    psipeer toomany
    expect "psi-request from swv-a ignored: psi message: a set of 100001 points; at most 100000"
    [ "$(sqlite3 "$(node_db gemeente-a)" "SELECT count(*) FROM reconcile_session WHERE id = X'$sid'")" = 0 ]
    nctl gemeente-a status >/dev/null

    # a valid a1, again while its session is open, then (after the initiator
    # ended the session) once more: the session id is answered once
    psipeer replay
    expect "psi-request (a1) from swv-a ignored: not the step its session expects"
    expect "reconciliation $sid (lists of list thuiszitters) with swv-a: failed: swv-a refused: cancelled"
    expect "list comparison from swv-a refused: session replayed"
    [ "$(grep -cxF "ketend: list comparison from swv-a refused: session replayed" "$gem")" = 1 ]
    [ "$(state)" = "failed: swv-a refused: cancelled" ]
    [ "$(sqlite3 "$(node_db gemeente-a)" "SELECT count(*) FROM audit WHERE action = 'reconciled'
        AND record_id = X'$sid'")" = 1 ]
    # the answer went to the real swv-a (which has no such session): one a2, one b1, never a second
    wait_up 10 swv-a grep -qxF "ketend: psi-response (b1) from gemeente-a ignored: no such session" "$(node_log swv-a)"
    [ "$(grep -cxF "ketend: psi-response (a2) from gemeente-a ignored: no such session" "$(node_log swv-a)")" = 1 ]
    [ "$(grep -cxF "ketend: psi-response (b1) from gemeente-a ignored: no such session" "$(node_log swv-a)")" = 1 ]
    nctl gemeente-a status >/dev/null # still serving
    [ "$(nctl2 gemeente-a reconcile list --json | jget - 'len(j["sessions"])')" = 3 ]
}

@test "the responder's policy limits which of its lists a partner may compare with" {
    up 'lists = "membership";' 'lists = "membership"; counts = true; list_names = [ "andere" ];'
    run nctl2 swv-a reconcile lists --with gemeente-a --list thuiszitters
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: denied" ]]
    grep -q "reconciliation from swv-a refused: our policy does not let it compare list thuiszitters" "$(node_log gemeente-a)"
}

@test "the responder's policy bounds the size of a partner's set (max_ids)" {
    up 'lists = "membership";' 'lists = "membership"; max_ids = 10;'
    run nctl2 swv-a reconcile lists --with gemeente-a --list thuiszitters
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: too_big" ]]
    grep -q "list comparison from swv-a refused: a set of 32, its policy allows 10 (reconcile.max_ids)" "$(node_log gemeente-a)"
}

@test "the responder's policy bounds how often a partner may ask (per_day)" {
    up 'counts = true;' 'counts = true; per_day = 1;'
    run nctl2 swv-a reconcile counts --with gemeente-a --list thuiszitters --definition breed --period 2021-10-01
    [ "$status" -eq 0 ]
    run nctl2 swv-a reconcile counts --with gemeente-a --list thuiszitters --definition breed --period 2021-10-01
    [ "$status" -eq 1 ]
    [[ "$output" == *": failed: gemeente-a refused: busy" ]]
    grep -q "reconciliation from swv-a refused: 1 sessions in 24 hours, its policy allows 1 (reconcile.per_day)" "$(node_log gemeente-a)"
}
