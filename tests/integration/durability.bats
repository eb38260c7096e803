#!/usr/bin/env bats
# Nothing accepted is lost (issue 3): a receiver that is down while 1,000
# records are queued, a receiver killed with SIGKILL again and again in the
# middle of a 1,000-record stream, a sender killed with SIGKILL right after
# submit returned. Every record arrives exactly once and both databases pass
# PRAGMA integrity_check.

load helpers
load net
bats_require_minimum_version 1.5.0 # run --separate-stderr

# submit_all ID TO FILE: submit FILE in one call; ids into FILE.ids, and
# one "queued" line per record on stderr
submit_all() {
    nctl "$1" submit --to "$2" "$3" >"$3.ids" 2>"$3.err" || { cat "$3.err"; return 1; }
    [ "$(wc -l <"$3.ids")" -eq "$(wc -l <"$3")" ] &&
        [ "$(grep -cE "^ketenctl: record [0-9a-f]{32} to $2: queued\$" "$3.err")" -eq "$(wc -l <"$3")" ]
}

# inbox_ids_are ID SENDER IDSFILE: ID's inbox holds exactly the ids in
# IDSFILE from SENDER, each once.
inbox_ids_are() {
    nctl "$1" inbox --json >inbox.json || return 1
    python3 - "$2" "$3" <<'PY'
import collections, json, sys
sender, idsfile = sys.argv[1], sys.argv[2]
rows = json.load(open("inbox.json"))["inbox"]
want = sorted(open(idsfile).read().split())
got = sorted(r["id"] for r in rows if r["sender"] == sender)
dups = [i for i, n in collections.Counter(got).items() if n > 1]
print("inbox rows %d (from %s %d), wanted %d, duplicates %d, missing %d, extra %d" % (
    len(rows), sender, len(got), len(want), len(dups),
    len(set(want) - set(got)), len(set(got) - set(want))))
sys.exit(0 if got == want and len(rows) == len(want) else 1)
PY
}

# db_inbox_rows ID: rows in ID's inbox table, read from the database file
# (fast enough to poll during a stream; the assertions use ketenctl). Never
# creates the file: ketend must be the one to create it, mode 0600.
db_inbox_rows() {
    [ -s "$(node_db "$1")" ] && sqlite3 "$(node_db "$1")" 'SELECT count(*) FROM inbox;' 2>/dev/null
}
db_inbox_above() { local n; n=$(db_inbox_rows "$1") && [ -n "$n" ] && [ "$n" -gt "$2" ]; }

above_or_sender_died() { db_inbox_above gemeente-a "$1" || ! node_running school-a; }

# wait_for_fast SECS CMD...: like wait_for, polling every 10 ms
wait_for_fast() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "gave up: $*" >&2; return 1; }
        sleep 0.01
    done
}

# pending_count ID: queued + sent
pending_count() { nget "$1" status "j['outbox']['queued'] + j['outbox']['sent']"; }

@test "receiver down while 1,000 records are queued: all delivered once it is back" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    gen_records 1000 11 >recs.jsonl
    submit_all school-a gemeente-a recs.jsonl
    [ "$(sort -u recs.jsonl.ids | wc -l)" -eq 1000 ]
    # nothing can be delivered: all 1,000 wait, and keep waiting across retries
    [ "$(pending_count school-a)" = 1000 ]
    sleep 3
    nctl school-a status --json >st.json
    [ "$(jget st.json 'j["outbox"]["queued"] + j["outbox"]["sent"]')" = 1000 ]
    [ "$(jget st.json 'j["outbox"]["delivered"] + j["outbox"]["rejected"]')" = 0 ]
    # the sender restarts too while the receiver is away
    node_restart school-a
    [ "$(pending_count school-a)" = 1000 ]

    node_start gemeente-a
    wait_up 120 "school-a gemeente-a" count_is 1000 outbox_count school-a delivered
    [ "$(outbox_count school-a rejected)" = 0 ]
    [ "$(pending_count school-a)" = 0 ]
    [ "$(inbox_count gemeente-a)" = 1000 ]
    inbox_ids_are gemeente-a school-a recs.jsonl.ids
    [ "$(node_stop school-a)" = 0 ]
    [ "$(node_stop gemeente-a)" = 0 ]
    integrity_ok "$(node_db school-a)"
    integrity_ok "$(node_db gemeente-a)"
    no_bsn_in_logs recs.jsonl
}

@test "receiver killed with SIGKILL again and again during a 1,000-record stream: each record exactly once" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    gen_records 1000 23 >recs.jsonl
    # queued while the receiver is down, so the stream starts when it comes up
    submit_all school-a gemeente-a recs.jsonl
    mid=0 prev=0
    for target in 60 220 400 580 760; do
        node_start_bg gemeente-a
        # kill the moment it holds more than `target` records: the stream is
        # fast (about a second for all), so poll the database itself
        wait_for_fast 20 above_or_sender_died "$target"
        node_running school-a || { tail -n 3 "$(node_log school-a)"; false; }
        node_kill gemeente-a
        n=$(db_inbox_rows gemeente-a)
        echo "killed holding $n of 1000 (previous round $prev)"
        if [ "$n" -gt "$prev" ] && [ "$n" -lt 1000 ]; then mid=$((mid + 1)); fi
        prev=$n
        # crash-consistent after every kill
        integrity_ok "$(node_db gemeente-a)"
        # the sender survives its partner's crashes
        node_running school-a
    done
    # at least three of the kills hit the receiver in mid-stream
    echo "kills in mid-stream: $mid"
    [ "$mid" -ge 3 ]

    node_start gemeente-a
    wait_up 120 "school-a gemeente-a" count_is 1000 outbox_count school-a delivered
    [ "$(outbox_count school-a rejected)" = 0 ]
    [ "$(inbox_count gemeente-a)" = 1000 ]
    inbox_ids_are gemeente-a school-a recs.jsonl.ids
    [ "$(node_stop school-a)" = 0 ]
    [ "$(node_stop gemeente-a)" = 0 ]
    integrity_ok "$(node_db school-a)"
    integrity_ok "$(node_db gemeente-a)"
    no_bsn_in_logs recs.jsonl
}

@test "sender killed with SIGKILL right after submit returned: delivered after restart" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    record_json >rec.json
    # the receiver is down: the record cannot have left before the kill
    run --separate-stderr nctl school-a submit --to gemeente-a rec.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [[ "$id" =~ ^[0-9a-f]{32}$ ]]
    node_kill school-a
    [ "$(cat "$T/school-a/rc")" -eq 137 ]
    integrity_ok "$(node_db school-a)"
    node_start school-a
    st=$(nctl school-a show "$id" --json | jget - 'j["outbox"][0]["state"]')
    [[ "$st" == queued || "$st" == sent ]]
    node_start gemeente-a
    wait_net 30 count_is 1 outbox_count school-a delivered
    [ "$(nctl school-a show "$id" --json | jget - 'j["outbox"][0]["state"]')" = delivered ]
    [ "$(nctl gemeente-a inbox --json | jget - '[r["id"] for r in j["inbox"]]')" = "[\"$id\"]" ]
}

@test "sender killed with SIGKILL in mid-stream: after restart each record arrives exactly once" {
    net_up school-a school gemeente-a gemeente
    node_start school-a
    node_start gemeente-a
    wait_for 10 partner_connected school-a gemeente-a
    gen_records 1000 37 >recs.jsonl
    submit_all school-a gemeente-a recs.jsonl
    # the sender dies in the middle of the stream
    wait_for_fast 20 db_inbox_above gemeente-a 300
    n=$(db_inbox_rows gemeente-a)
    node_kill school-a
    echo "the receiver held $n records when the sender was killed"
    [ "$n" -lt 1000 ]
    integrity_ok "$(node_db school-a)"
    node_start school-a
    wait_up 120 "school-a gemeente-a" count_is 1000 outbox_count school-a delivered
    [ "$(inbox_count gemeente-a)" = 1000 ]
    inbox_ids_are gemeente-a school-a recs.jsonl.ids
    [ "$(node_stop school-a)" = 0 ]
    [ "$(node_stop gemeente-a)" = 0 ]
    integrity_ok "$(node_db school-a)"
    integrity_ok "$(node_db gemeente-a)"
}
