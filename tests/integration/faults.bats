#!/usr/bin/env bats
# Bad input and faults at a receiving node (issue 3): a stranger's CURVE key,
# and a valid partner sending garbage, wrong protocol ids, unknown kinds,
# wrong frame counts, oversized messages, records signed by someone else,
# tampered envelopes, records addressed to another node, expired records and
# replays. Each is rejected (with a signed rejection receipt where the sender
# can be named), logged without personal data, and changes nothing; the node
# keeps serving. The raw peer is tests/tools/ktpeer (see its README).

load helpers
load net

ZERO_REF=00000000000000000000000000000000

# The gemeente runs and knows school-a and swv-a; ktpeer plays school-a (the
# school's own ketend is not running, so nothing else talks to the gemeente).
setup_receiver() {
    net_up school-a school gemeente-a gemeente swv-a swv
    keys "$T/keys" stranger school
    node_start gemeente-a
}

# peer [ktpeer send options]: send to the gemeente as ${AS:-school-a}
peer() {
    "$KTPEER" send --key "$T/keys/${AS:-school-a}.key" --server "$T/keys/gemeente-a.pub" \
        --endpoint "tcp://127.0.0.1:$(node_port gemeente-a)" --timeout-ms "${PEER_TIMEOUT:-3000}" "$@"
}

# valid_env OUT [RECORD-FILE]: a record signed by school-a for the gemeente,
# sealed with ketenctl (OUT.signed is the signed container).
valid_env() {
    local src=${2:-rec.json}
    [ -f "$src" ] || record_json >"$src"
    "$KETENCTL" record sign --key "$T/keys/school-a.key" --to gemeente-a --out "$1.signed" "$src" &&
        "$KETENCTL" record seal --key "$T/keys/school-a.key" --to "$T/keys/gemeente-a.pub" \
            --out "$1" "$1.signed"
}

# expect_rejected CODE: $output (from `run peer ...`) is one signed rejection
# with that code.
expect_rejected() {
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^reply ' <<<"$output")" -eq 1 ]
    grep -qE "^reply kind=receipt status=rejected code=$1 ref=[0-9a-f]{32} digest=[0-9a-f]{64} signed=[0-9a-f]{32}$" <<<"$output"
}

# still_serving: the gemeente is alive, still accepts a valid record from
# school-a, and then holds exactly $1 records.
still_serving() {
    node_running gemeente-a
    valid_env ok.env ok.json
    run peer --payload ok.env
    echo "$output"
    [ "$status" -eq 0 ]
    grep -qE '^reply kind=receipt status=accepted code=ok ref=[0-9a-f]{32}' <<<"$output"
    [ "$(inbox_count gemeente-a)" = "$1" ]
}

# box_prefix PUB: hex of the first 8 bytes of the box key in a .pub file.
box_prefix() {
    python3 -c '
import base64, sys
for line in open(sys.argv[1]):
    if line.startswith("box "):
        print(base64.b64decode(line.split()[1])[:8].hex())' "$1"
}

@test "a stranger's CURVE key is refused by ZAP, logged with its key, and leaves no trace" {
    setup_receiver
    valid_env rec.env
    AS=stranger run peer --payload rec.env
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" == *"handshake refused status=400"* ]]
    [[ "$output" == *"no reply"* ]]
    [[ "$output" != *"reply kind"* ]]
    pfx=$(box_prefix "$T/keys/stranger.pub")
    [ ${#pfx} -eq 16 ]
    wait_for 5 log_has gemeente-a "refused a CURVE handshake from 127.0.0.1: box key $pfx... is not a partner"
    # no state: nothing received, no partner added, the key nowhere in the store
    [ "$(inbox_count gemeente-a)" = 0 ]
    [ "$(nget gemeente-a partners 'sorted(p["id"] for p in j["partners"])')" = '["school-a", "swv-a"]' ]
    fullhex=$(python3 -c '
import base64, sys
for line in open(sys.argv[1]):
    if line.startswith("box "):
        print(base64.b64decode(line.split()[1]).hex())' "$T/keys/stranger.pub")
    ! sqlite3 "$(node_db gemeente-a)" .dump | grep -qi "$fullhex"
    ! grep -q stranger "$(node_log gemeente-a)"
    # the same envelope from the partner it belongs to is accepted
    still_serving 1
}

@test "garbage payloads from a partner get signed rejections and change nothing" {
    setup_receiver
    # text garbage: the first byte is no envelope version
    printf 'this is not an envelope at all' >garbage.txt
    run peer --payload garbage.txt
    expect_rejected version
    [[ "$output" == *"ref=$ZERO_REF"* ]]
    # version byte right, random rest, a bucket size: does not decrypt
    { printf '\001'; head -c 511 /dev/urandom; } >garbage512
    [[ "$output" == *"digest=$(b2sum -l 256 garbage.txt | cut -d' ' -f1) "* ]]
    run peer --payload garbage512
    expect_rejected auth
    [[ "$output" == *"digest=$(b2sum -l 256 garbage512 | cut -d' ' -f1) "* ]]
    # version byte right, not a bucket size
    { printf '\001'; head -c 999 /dev/urandom; } >garbage1000
    run peer --payload garbage1000
    expect_rejected malformed
    [ "$(inbox_count gemeente-a)" = 0 ]
    log_has gemeente-a "from school-a rejected"
    still_serving 1
}

@test "a wrong protocol id, an unknown kind, a wrong frame count or an empty payload: malformed" {
    setup_receiver
    valid_env rec.env
    run peer --proto KETEN/2 --payload rec.env
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "malformed message from partner school-a: unknown protocol id"
    run peer --kind bogus --payload rec.env
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "malformed message from partner school-a: unknown kind"
    run peer --kind RECORD --payload rec.env
    expect_rejected malformed
    run peer --frames 2 --payload rec.env
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "too few frames"
    run peer --frames 4 --payload rec.env
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "too many frames"
    run peer --frames 1 --payload rec.env
    expect_rejected malformed
    run peer --empty
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "empty payload"
    # none of these stored the (valid) envelope they carried
    [ "$(inbox_count gemeente-a)" = 0 ]
    still_serving 1
}

@test "a reconciliation frame carrying a record is malformed; receipts and pings are not answered" {
    setup_receiver
    valid_env rec.env
    run peer --kind counts --payload rec.env
    expect_rejected malformed
    wait_for 5 log_has gemeente-a "counts message from school-a rejected (malformed): envelope of kind record to gemeente-a"
    # a receipt is never answered (two nodes cannot loop), only logged
    PEER_TIMEOUT=1500 run peer --kind receipt --payload rec.env
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" != *"reply kind"* ]]
    wait_for 5 log_has gemeente-a "receipt message from school-a on the listening socket ignored"
    PEER_TIMEOUT=1500 run peer --kind ping --empty
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" != *"reply kind"* ]]
    [ "$(inbox_count gemeente-a)" = 0 ]
    still_serving 1
}

@test "oversized messages: over 64 KiB is rejected; over the frame limit is cut off; both keep serving" {
    setup_receiver
    # larger than the largest envelope, still under ZMQ_MAXMSGSIZE on the wire
    run peer --size 65540
    echo "$output"
    [ "$status" -eq 0 ]
    grep -qE '^reply kind=receipt status=rejected code=(too_big|malformed) ' <<<"$output"
    wait_for 5 log_has gemeente-a "payload too large"
    # far over ZMQ_MAXMSGSIZE (65,536 + 64): libzmq drops the connection
    # before the daemon sees anything, so there is no one to answer
    PEER_TIMEOUT=2000 run peer --size 70000
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" == *"no reply"* ]]
    [[ "$output" != *"reply kind"* ]]
    PEER_TIMEOUT=2000 run peer --size 1048576
    [ "$status" -eq 3 ]
    [ "$(inbox_count gemeente-a)" = 0 ]
    still_serving 1
}

@test "a record signed by someone else, on a partner's connection, is rejected (auth)" {
    setup_receiver
    record_json >rec.json
    # signed by swv-a (also a partner of the gemeente), sealed by school-a and
    # sent on school-a's connection: the signer is not the ZAP user id
    "$KETENCTL" record sign --key "$T/keys/swv-a.key" --to gemeente-a --out swv.signed rec.json
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed swv.signed --out swv.env
    run peer --payload swv.env
    expect_rejected auth
    # signed by a stranger
    "$KETENCTL" record sign --key "$T/keys/stranger.key" --to gemeente-a --out str.signed rec.json
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed str.signed --out str.env
    run peer --payload str.env
    expect_rejected auth
    # a valid swv-a envelope, sent on school-a's connection
    "$KETENCTL" record seal --key "$T/keys/swv-a.key" --to "$T/keys/gemeente-a.pub" \
        --out swv-own.env swv.signed
    run peer --payload swv-own.env
    expect_rejected auth
    [ "$(inbox_count gemeente-a)" = 0 ]
    log_has gemeente-a "from school-a rejected (auth)"
    still_serving 1
    no_log_has 111222333
}

@test "a tampered envelope is rejected (auth); a wrong version byte (version)" {
    setup_receiver
    valid_env rec.env
    for off in 30 100 300 511; do
        run peer --payload rec.env --flip $off
        expect_rejected auth
        [[ "$output" == *"ref=$ZERO_REF"* ]]
    done
    # the nonce
    run peer --payload rec.env --flip 5
    expect_rejected auth
    run peer --payload rec.env --flip 0
    expect_rejected version
    [ "$(inbox_count gemeente-a)" = 0 ]
    # the untouched envelope is still good: nothing about it was remembered
    run peer --payload rec.env
    echo "$output"
    grep -qE '^reply kind=receipt status=accepted code=ok ' <<<"$output"
    [ "$(inbox_count gemeente-a)" = 1 ]
}

@test "a record addressed to another node is rejected (auth)" {
    setup_receiver
    record_json >rec.json
    "$KETENCTL" record sign --key "$T/keys/school-a.key" --to swv-a --out other.signed rec.json
    # ketenctl refuses to seal it to the wrong node ...
    run "$KETENCTL" record seal --key "$T/keys/school-a.key" --to "$T/keys/gemeente-a.pub" \
        --out x.env other.signed
    [ "$status" -ne 0 ]
    # ... so it is sealed by hand
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed other.signed --out other.env
    run peer --payload other.env
    expect_rejected auth
    [ "$(inbox_count gemeente-a)" = 0 ]
    still_serving 1
}

@test "a record older than max_message_age is rejected as expired and not stored" {
    setup_receiver
    valid_env rec.env
    gen_records 1 9 >ok-src.json
    "$KETENCTL" record sign --key "$T/keys/school-a.key" --to gemeente-a --out ok-src.signed ok-src.json
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed rec.env.signed --resign "$T/keys/school-a.key" \
        --created $(($(date +%s) - 7200)) --out old.env
    run peer --payload old.env
    expect_rejected expired
    # the receipt names the record
    ref=$(grep -oE 'ref=[0-9a-f]{32}' <<<"$output" | cut -d= -f2)
    [ "$ref" != "$ZERO_REF" ]
    [ "$(inbox_count gemeente-a)" = 0 ]
    run nctl gemeente-a show "$ref" --json
    [ "$status" -ne 0 ]
    # beyond the allowed clock skew (300 s) in the future: expired too
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed rec.env.signed --resign "$T/keys/school-a.key" \
        --created $(($(date +%s) + 3600)) --out future.env
    run peer --payload future.env
    expect_rejected expired
    # within the age limit it is fine
    "$KTPEER" craft --seal-from "$T/keys/school-a.key" --seal-to "$T/keys/gemeente-a.pub" \
        --signed ok-src.signed --resign "$T/keys/school-a.key" \
        --created $(($(date +%s) - 1800)) --out recent.env
    run peer --payload recent.env
    echo "$output"
    grep -q 'status=accepted code=ok' <<<"$output"
    [ "$(inbox_count gemeente-a)" = 1 ]
    still_serving 2
}

@test "a replayed frame is re-acknowledged with the identical receipt and stored once" {
    setup_receiver
    valid_env rec.env
    run peer --payload rec.env --repeat 3
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^reply kind=receipt status=accepted code=ok ' <<<"$output")" -eq 3 ]
    [ "$(grep -oE 'signed=[0-9a-f]+' <<<"$output" | sort -u | wc -l)" -eq 1 ]
    first=$(grep -oE 'signed=[0-9a-f]+' <<<"$output" | head -n1)
    ref=$(grep -oE 'ref=[0-9a-f]{32}' <<<"$output" | head -n1 | cut -d= -f2)
    [ "$ref" != "$ZERO_REF" ]
    # the receipt names the record and the exact signed bytes it got
    [ "$ref" = "$(nctl gemeente-a inbox --json | jget - 'j["inbox"][0]["id"]')" ]
    dg=$(b2sum -l 256 rec.env.signed | cut -d' ' -f1)
    [ "$(grep -c "digest=$dg " <<<"$output")" -eq 3 ]
    # later, on a new connection, and sealed again (another nonce): the same
    "$KETENCTL" record seal --key "$T/keys/school-a.key" --to "$T/keys/gemeente-a.pub" \
        --out again.env rec.env.signed
    ! cmp -s rec.env again.env
    run peer --payload again.env
    echo "$output"
    [[ "$output" == *"status=accepted code=ok ref=$ref digest=$dg $first"* ]]
    # and after a restart of the receiver
    node_restart gemeente-a
    run peer --payload rec.env
    echo "$output"
    [[ "$output" == *"status=accepted code=ok ref=$ref digest=$dg $first"* ]]
    [ "$(inbox_count gemeente-a)" = 1 ]
    [ "$(nctl gemeente-a inbox --json | jget - '[r["id"] for r in j["inbox"]]')" = "[\"$ref\"]" ]
}

@test "after a burst of bad input the node still exchanges normally, in both directions" {
    setup_receiver
    node_start school-a
    valid_env rec.env
    for i in 1 2 3; do
        peer --proto XXX --payload rec.env >/dev/null
        peer --size 600 >/dev/null
        peer --payload rec.env --flip 200 >/dev/null
    done
    AS=stranger peer --payload rec.env >/dev/null || true
    record_json >r.json
    run nctl school-a submit --to gemeente-a r.json
    [ "$status" -eq 0 ]
    wait_net 20 count_is 1 outbox_count school-a delivered
    run nctl gemeente-a submit --to school-a r.json
    [ "$status" -eq 0 ]
    wait_net 20 count_is 1 outbox_count gemeente-a delivered
    [ "$(inbox_count school-a)" = 1 ]
    [ "$(inbox_count gemeente-a)" = 1 ]
    no_log_has 111222333
}
