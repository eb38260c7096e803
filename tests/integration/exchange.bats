#!/usr/bin/env bats
# The live exchange as an operator meets it: a school submits, the gemeente
# and the SWV receive, the school sees its records delivered; the client's
# answers when something is wrong; reload and clean stop.

load helpers
load net
bats_require_minimum_version 1.5.0 # run --separate-stderr

HEX32='^[0-9a-f]{32}$'

# three nodes that all know each other, running
three_nodes() {
    net_up school-a school gemeente-a gemeente swv-a swv
    node_start school-a
    node_start gemeente-a
    node_start swv-a
}

@test "a record submitted at the school is delivered to the gemeente and the SWV" {
    three_nodes
    record_json >rec.json
    run --separate-stderr nctl school-a submit --to gemeente-a --to swv-a rec.json
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    # stdout: one id per record; stderr: one line per copy
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ $HEX32 ]]
    id=${lines[0]}
    [ "${#stderr_lines[@]}" -eq 2 ]
    [ "${stderr_lines[0]}" = "ketenctl: record $id to gemeente-a: queued" ]
    [ "${stderr_lines[1]}" = "ketenctl: record $id to swv-a: queued" ]

    # one outbox row per recipient, both delivered (bounded wait)
    wait_net 20 count_is 2 outbox_count school-a delivered
    nctl school-a outbox --json >out.json
    [ "$(jget out.json "sorted(r['partner'] for r in j['outbox'] if r['id']=='$id')")" = '["gemeente-a", "swv-a"]' ]
    [ "$(jget out.json "sorted(set(r['state'] for r in j['outbox']))")" = '["delivered"]' ]
    [ "$(jget out.json "sorted(set(r['reason'] or '' for r in j['outbox']))")" = '[""]' ]
    [ "$(jget out.json "set(r['type'] for r in j['outbox']) == {'thuiszitter'}")" = true ]
    [ "$(nctl school-a outbox --state delivered --json | jget - 'len(j["outbox"])')" = 2 ]
    [ "$(nctl school-a outbox --state queued --json | jget - 'len(j["outbox"])')" = 0 ]

    # each receiver holds it once, from the school
    for r in gemeente-a swv-a; do
        nctl $r inbox --json >in.json
        [ "$(jget in.json 'len(j["inbox"])')" = 1 ]
        [ "$(jget in.json 'j["inbox"][0]["id"]')" = "$id" ]
        [ "$(jget in.json 'j["inbox"][0]["sender"]')" = school-a ]
        [ "$(jget in.json 'j["inbox"][0]["type"]')" = thuiszitter ]
        [ "$(jget in.json 'j["inbox"][0]["state"]')" = accepted ]
        # the operator sees the fields that arrived
        nctl $r show "$id" --json >show.json
        [ "$(jget show.json 'j["id"]')" = "$id" ]
        [ "$(jget show.json 'j["record"]["type"]')" = thuiszitter ]
        [ "$(jget show.json 'j["record"]["fields"]["leerling_id"]')" = 111222333 ]
        [ "$(jget show.json 'j["record"]["fields"]["begindatum"]')" = 2026-09-07 ]
        [ "$(jget show.json 'j["record"]["fields"]["aanwezigheid_pct"]')" = 30 ]
        # the open policy strips nothing: every field arrived as submitted
        [ "$(jget show.json 'sorted(j["record"]["fields"].items())')" = "$(jget rec.json 'sorted(j["fields"].items())')" ]
        [ "$(jget show.json 'j["inbox"][0]["sender"]')" = school-a ]
        [ "$(jget show.json 'len(j["outbox"])')" = 0 ]
        [ "$(nget $r status 'j["inbox"]["accepted"]')" = 1 ]
    done

    # the sender's show names both recipients and the record
    nctl school-a show "$id" --json >show.json
    [ "$(jget show.json "sorted((r['partner'], r['state']) for r in j['outbox'])")" = '[["gemeente-a", "delivered"], ["swv-a", "delivered"]]' ]
    [ "$(jget show.json 'j["record"]["fields"]["leerling_id"]')" = 111222333 ]

    # status: the node, both partners connected, the counts
    nctl school-a status --json >st.json
    [ "$(jget st.json 'j["node"]["id"]')" = school-a ]
    [ "$(jget st.json 'j["node"]["role"]')" = school ]
    [[ "$(jget st.json 'j["node"]["fingerprint"]')" =~ $HEX32 ]]
    [ "$(jget st.json 'j["node"]["listen"]')" = "tcp://127.0.0.1:$(node_port school-a)" ]
    jget st.json 'j["outbox"]'
    # delivered 2; every other state (held, queued, sent, rejected, ...) 0
    [ "$(jget st.json 'j["outbox"]["delivered"]')" = 2 ]
    [ "$(jget st.json 'sorted(k for k in ("held", "queued", "sent", "rejected") if j["outbox"][k] == 0)')" = '["held", "queued", "rejected", "sent"]' ]
    [ "$(jget st.json 'sum(v for k, v in j["outbox"].items() if k != "delivered")')" = 0 ]
    [ "$(jget st.json 'j["inbox"]["accepted"]')" = 0 ]
    [ "$(jget st.json 'sorted(p["id"] for p in j["partners"])')" = '["gemeente-a", "swv-a"]' ]
    wait_for 10 partner_connected school-a gemeente-a
    wait_for 10 partner_connected school-a swv-a
    nctl school-a status --json >st.json
    [ "$(jget st.json 'all(isinstance(p["last_seen"], int) and p["last_seen"] > 0 for p in j["partners"])')" = true ]
    [ "$(jget st.json '[p["role"] for p in j["partners"] if p["id"]=="swv-a"][0]')" = swv ]
    [ "$(nget school-a partners 'sorted(p["id"] for p in j["partners"])')" = '["gemeente-a", "swv-a"]' ]
    # the partner's fingerprint is the one of its key file
    fp=$("$KETENCTL" key show "$T/keys/gemeente-a.pub" | awk '/fingerprint/ {print $NF; exit}')
    [ -n "$fp" ]
    [ "$(jget st.json '[p["fingerprint"] for p in j["partners"] if p["id"]=="gemeente-a"][0]')" = "$fp" ]

    # the human forms work too
    run nctl school-a outbox
    [ "$status" -eq 0 ]
    [[ "$output" == *"$id"*delivered* ]]
    run nctl gemeente-a inbox
    [ "$status" -eq 0 ]
    [[ "$output" == *"$id"* ]]
    [[ "$output" == *school-a* ]]

    # no personal data in any log line
    no_log_has 111222333
}

@test "JSON Lines: one id per record, in order, all delivered; no BSN in any log" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    node_start gemeente-a
    gen_records 25 3 >recs.jsonl
    run --separate-stderr nctl school-a submit --to gemeente-a recs.jsonl
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 25 ]
    printf '%s\n' "${lines[@]}" >ids
    [ "${#stderr_lines[@]}" -eq 25 ]
    [ "$(printf '%s\n' "${stderr_lines[@]}" | grep -cE '^ketenctl: record [0-9a-f]{32} to gemeente-a: queued$')" = 25 ]
    [ "$(grep -cE "$HEX32" ids)" = 25 ]
    [ "$(sort -u ids | wc -l)" = 25 ]
    wait_net 20 count_is 25 outbox_count school-a delivered
    wait_net 10 count_is 25 inbox_count gemeente-a
    nctl gemeente-a inbox --json | jget - 'sorted(r["id"] for r in j["inbox"])' >got
    python3 -c 'import json,sys; print(json.dumps(sorted(open(sys.argv[1]).read().split())))' ids >want
    diff want got
    # record 7 arrived with its own fields
    id7=$(sed -n 7p ids)
    bsn7=$(sed -n 7p recs.jsonl | jget - 'j["fields"]["leerling_id"]')
    [ "$(nctl gemeente-a show "$id7" --json | jget - 'j["record"]["fields"]["leerling_id"]')" = "$bsn7" ]
    no_bsn_in_logs recs.jsonl
}

@test "submit via standard input and KETEN_CONTROL" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    node_start gemeente-a
    run --separate-stderr bash -c "record_json() { $(declare -f record_json | tail -n +2); }; record_json | KETEN_CONTROL='$(node_sock school-a)' '$KETENCTL' submit --to gemeente-a -"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ $HEX32 ]]
    [ "$stderr" = "ketenctl: record ${lines[0]} to gemeente-a: queued" ]
    wait_net 20 count_is 1 inbox_count gemeente-a
}

@test "submit to an unknown partner fails naming it, and queues nothing" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    record_json >rec.json
    run nctl school-a submit --to gemeente-zz rec.json
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *gemeente-zz* ]]
    [[ "$output" == "ketenctl: "* ]]
    # a known and an unknown partner together: nothing for either
    run nctl school-a submit --to gemeente-a --to gemeente-zz rec.json
    [ "$status" -eq 1 ]
    [[ "$output" == *gemeente-zz* ]]
    [ "$(nctl school-a outbox --json | jget - 'len(j["outbox"])')" = 0 ]
}

@test "an invalid record is refused and nothing is queued, not even the valid ones" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    gen_records 3 >recs.jsonl
    # record 4 has a BSN that fails the elfproef
    echo '{"type":"thuiszitter","fields":{"leerling_id":"123456789","definitie":"vier_weken","ingeschreven":true,"geoorloofd":false}}' >>recs.jsonl
    run nctl school-a submit --to gemeente-a recs.jsonl
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"record 4"* ]]
    [[ "$output" == *leerling_id* ]]
    [[ "$output" != *123456789* ]]
    [ "$(nctl school-a outbox --json | jget - 'len(j["outbox"])')" = 0 ]
    no_log_has 123456789
}

@test "ketenctl against a stopped node says it is not running and how to start it" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    [ "$(node_stop school-a)" = 0 ]
    sock=$(node_sock school-a)
    for cmd in status outbox inbox partners; do
        run nctl school-a $cmd
        echo "$output"
        [ "$status" -eq 1 ]
        [ "$output" = "ketenctl: ketend is not running (no socket at $sock); start it with: ketend -c /path/to/ketend.conf" ]
    done
    record_json >rec.json
    run nctl school-a submit --to gemeente-a rec.json
    [ "$status" -eq 1 ]
    [[ "$output" == *"ketend is not running (no socket at $sock)"* ]]
    run nctl school-a show 0123456789abcdef0123456789abcdef
    [ "$status" -eq 1 ]
    [[ "$output" == *"ketend is not running"* ]]
}

@test "SIGHUP without a partner: its records stay queued and its messages are refused at once" {
    net_up school-a school gemeente-a gemeente swv-a swv
    node_start school-a
    node_start gemeente-a
    node_start swv-a
    wait_for 10 partner_connected school-a gemeente-a
    # the gemeente stops listening to the school and is reloaded
    net_unpartner gemeente-a school-a
    net_conf gemeente-a
    kill -HUP "$(node_pid gemeente-a)"
    wait_for 10 log_has gemeente-a "configuration reloaded"
    [ "$(nget gemeente-a partners 'sorted(p["id"] for p in j["partners"])')" = '["swv-a"]' ]

    # a message from the removed partner on its old key: refused at the door,
    # even on a connection that was admitted before (ktpeer opens a new one)
    record_json >rec.json
    "$KETENCTL" record sign --key "$T/keys/school-a.key" --to gemeente-a --out rec.signed rec.json
    "$KETENCTL" record seal --key "$T/keys/school-a.key" --to "$T/keys/gemeente-a.pub" --out rec.env rec.signed
    run "$KTPEER" send --key "$T/keys/school-a.key" --server "$T/keys/gemeente-a.pub" \
        --endpoint "tcp://127.0.0.1:$(node_port gemeente-a)" --payload rec.env --timeout-ms 2000
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" == *"handshake refused status=400"* ]]
    [[ "$output" == *"no reply"* ]]
    wait_for 5 log_has gemeente-a "is not a partner"

    # the school's records to the gemeente stay queued (or sent, waiting for
    # a receipt); the same record reaches the SWV
    run --separate-stderr nctl school-a submit --to gemeente-a --to swv-a rec.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [[ "$id" =~ $HEX32 ]]
    wait_net 20 count_is 1 outbox_count school-a delivered
    sleep 3 # several retries (retry_max = 2 s)
    nctl school-a show "$id" --json >show.json
    [ "$(jget show.json "[r['state'] for r in j['outbox'] if r['partner']=='swv-a'][0]")" = delivered ]
    st=$(jget show.json "[r['state'] for r in j['outbox'] if r['partner']=='gemeente-a'][0]")
    [[ "$st" == queued || "$st" == sent ]]
    [ "$(inbox_count gemeente-a)" = 0 ]
    # what still arrives on the school's connection admitted before the
    # reload is dropped, and says so
    log_has gemeente-a "dropped a message from school-a: no longer a partner with that key"

    # the partner comes back: the queued record is delivered without a restart
    net_partner gemeente-a school-a
    net_conf gemeente-a
    kill -HUP "$(node_pid gemeente-a)"
    wait_net 45 count_is 2 outbox_count school-a delivered
    [ "$(inbox_count gemeente-a)" = 1 ]
}

@test "SIGHUP at the sender removing a partner keeps its records queued" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    node_stop gemeente-a >/dev/null 2>&1 || true
    record_json >rec.json
    run --separate-stderr nctl school-a submit --to gemeente-a rec.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [[ "$id" =~ $HEX32 ]]
    net_unpartner school-a gemeente-a
    net_conf school-a
    kill -HUP "$(node_pid school-a)"
    wait_for 10 log_has school-a "configuration reloaded"
    [ "$(nget school-a partners 'len(j["partners"])')" = 0 ]
    # still there, still pending
    st=$(nctl school-a show "$id" --json | jget - 'j["outbox"][0]["state"]')
    [[ "$st" == queued || "$st" == sent ]]
    # and new submissions to it are refused
    run nctl school-a submit --to gemeente-a rec.json
    [ "$status" -eq 1 ]
    [[ "$output" == *gemeente-a* ]]
    # put back and the gemeente started: delivered
    net_partner school-a gemeente-a
    net_conf school-a
    kill -HUP "$(node_pid school-a)"
    node_start gemeente-a
    wait_net 30 count_is 1 outbox_count school-a delivered
    [ "$(inbox_count gemeente-a)" = 1 ]
}

@test "SIGTERM stops cleanly with exit 0 and loses nothing" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    node_start gemeente-a
    gen_records 50 5 >recs.jsonl
    run nctl school-a submit --to gemeente-a recs.jsonl
    [ "$status" -eq 0 ]
    # stop both while the exchange may be in flight
    [ "$(node_stop school-a)" = 0 ]
    [ "$(node_stop gemeente-a)" = 0 ]
    log_has school-a "shutting down"
    [ ! -e "$(node_sock school-a)" ]
    integrity_ok "$(node_db school-a)"
    integrity_ok "$(node_db gemeente-a)"
    node_start gemeente-a
    node_start school-a
    wait_net 30 count_is 50 outbox_count school-a delivered
    wait_net 10 count_is 50 inbox_count gemeente-a
    [ "$(nctl gemeente-a inbox --json | jget - 'len(set(r["id"] for r in j["inbox"]))')" = 50 ]
    no_bsn_in_logs recs.jsonl
}
