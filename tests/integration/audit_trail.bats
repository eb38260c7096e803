#!/usr/bin/env bats
# What the privacy officer relies on from the audit log on a live network
# (issue 5): every exchange leaves its entries on both sides in the same
# transaction as the action; receipts carry the receiver's signed
# checkpoint, which the sender keeps as a witness; subject access answers
# one pupil's request in one command; a signed record can be exported and
# verified by a third party; no BSN or field value ever reaches an audit
# entry or an export; and a full disk refuses the action with a clear
# error, leaves nothing half-written, and the node recovers.

load helpers
load net
load flows
bats_require_minimum_version 1.5.0 # run --separate-stderr

BSN=123456782
BIRTH=2013-02-27

# audit_rows ID SQL-WHERE: the matching audit rows at ID as
# "action|decision|counterparty|record_type|grondslag|doel|has-consent|policy_version|fields"
audit_rows() {
    sqlite3 "$(node_db "$1")" "SELECT action, decision, coalesce(counterparty, ''),
        coalesce(record_type, ''), coalesce(grondslag, ''), coalesce(doel, ''),
        consent_id IS NOT NULL, coalesce(policy_version, 0), coalesce(fields, '')
        FROM audit WHERE $2 ORDER BY seq"
}
rid() { echo "record_id = X'$1'"; }

consented_flow() {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule)" ""
    policy gemeente-a school-a "" "$(gv_rule)"
    policy school-a swv-a "$(tz_rule)" ""
    policy swv-a school-a "" "$(tz_rule)"
    start_all school-a gemeente-a swv-a
}

@test "a held record released by consent leaves submitted, held, consent, released, delivered at the school and received at the gemeente" {
    consented_flow
    gv $BSN $BIRTH >gv.json
    submit school-a --to gemeente-a gv.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    c=$(grant school-a $BSN gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    wait_net 20 copy_is school-a "$id" gemeente-a delivered

    run audit_rows school-a "$(rid "$id")"
    echo "$output"
    [[ "${lines[0]}" == submitted\|accepted\|\|geoorloofd_verzuim\|toestemming\|melding_geoorloofd\|0\|1\|* ]]
    [[ "${lines[1]}" == held\|held\|gemeente-a\|geoorloofd_verzuim\|toestemming\|melding_geoorloofd\|0\|1\|* ]]
    [[ "${lines[2]}" == released\|queued\|gemeente-a\|geoorloofd_verzuim\|toestemming\|melding_geoorloofd\|1\|1\|* ]]
    [[ "${lines[3]}" == delivered\|accepted\|gemeente-a\|geoorloofd_verzuim\|\|\|1\|0\|* ]]
    [ "${#lines[@]}" = 4 ]
    # the consent decision, by the operator, names the pupil by pseudonym only
    run sqlite3 "$(node_db school-a)" "SELECT action, decision, actor, counterparty, doel,
        length(subject) FROM audit WHERE consent_id = X'$c' AND record_id IS NULL"
    [ "$output" = "consent_granted|akkoord|uid:$(id -u)|gemeente-a|melding_geoorloofd|32" ]
    # the same record, received, at the gemeente: basis and fields from its own rule
    run audit_rows gemeente-a "$(rid "$id")"
    echo "$output"
    [[ "$output" == received\|accepted\|school-a\|geoorloofd_verzuim\|toestemming\|melding_geoorloofd\|0\|1\|*leerling_id* ]]
    # the node's own key and its partners' keys are on record from the start
    [ "$(sqlite3 "$(node_db school-a)" "SELECT action || ' ' || counterparty FROM audit
        WHERE action IN ('key_changed', 'partner_added') ORDER BY seq")" = \
        "$(printf 'key_changed school-a\npartner_added gemeente-a\npartner_added swv-a')" ]
    # the actor of a partner's action is the partner's key fingerprint
    fp=$("$KETENCTL" key show "$T/keys/school-a.pub" | sed -n 's/^fingerprint:[[:space:]]*//p' | head -1)
    [ -n "$fp" ]
    [ "$(sqlite3 "$(node_db gemeente-a)" "SELECT actor FROM audit WHERE $(rid "$id")")" = "$fp" ]
}

@test "a withdrawal leaves retracted and the recipient's confirmed purge at the school, and purged at the gemeente" {
    consented_flow
    gv $BSN $BIRTH >gv.json
    submit school-a --to gemeente-a gv.json
    id=${lines[0]}
    c=$(grant school-a $BSN gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    withdraw school-a "$c"
    wait_net 20 copy_is school-a "$id" gemeente-a purged
    run audit_rows school-a "$(rid "$id") AND action IN ('retracted', 'purged')"
    echo "$output"
    [[ "${lines[0]}" == retracted\|queued\|gemeente-a\|geoorloofd_verzuim\|* ]]
    [[ "${lines[1]}" == purged\|purged_by_recipient\|gemeente-a\|geoorloofd_verzuim\|* ]]
    [ "${#lines[@]}" = 2 ]
    run sqlite3 "$(node_db school-a)" "SELECT action, decision FROM audit WHERE consent_id = X'$c'
        AND record_id IS NULL ORDER BY seq"
    [ "$output" = "$(printf 'consent_granted|akkoord\nconsent_withdrawn|akkoord')" ]
    run audit_rows gemeente-a "$(rid "$id") AND action = 'purged'"
    [[ "$output" == purged\|purged\|school-a\|geoorloofd_verzuim\|* ]]
}

@test "a stripped field and a refused type are audited with field names and the rule, never values" {
    school_gemeente_swv
    policy school-a swv-a "$(tz_rule "$TZ_NO_OORZAAK")" ""
    policy swv-a school-a "" "$(tz_rule "$TZ_NO_OORZAAK")"
    start_all school-a swv-a gemeente-a
    tz $BSN '"oorzaak":"schoolgebonden"' >tz.json
    submit school-a --to swv-a tz.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    run audit_rows school-a "$(rid "$id") AND action = 'stripped'"
    [ "$output" = "stripped|stripped|swv-a|thuiszitter|publieke_taak|zorgoverleg|0|1|oorzaak" ]
    # a verzuimmelding has no rule to the SWV: refused, and the refusal is audited
    vm $BSN >vm.json
    submit school-a --to swv-a vm.json
    [ "$status" -ne 0 ]
    run sqlite3 "$(node_db school-a)" "SELECT action, decision, counterparty, record_type, reason
        FROM audit WHERE action = 'refused'"
    echo "$output"
    [[ "$output" == "refused|refused|swv-a|verzuimmelding|refused: no send rule for verzuimmelding to swv-a"* ]]
    # no value of either record anywhere in the audit table, or in its export
    run sqlite3 "$(node_db school-a)" "SELECT * FROM audit"
    [[ "$output" != *"$BSN"* && "$output" != *schoolgebonden* && "$output" != *2026-09-07* ]]
    for fmt in csv json; do
        run nctl2 school-a audit export --format $fmt
        [ "$status" -eq 0 ]
        [[ "$output" == *refused* && "$output" != *"$BSN"* && "$output" != *schoolgebonden* ]]
    done
}

@test "receipts carry the receiver's signed checkpoint; the sender keeps it and verify --witness checks it" {
    consented_flow
    tz $BSN >tz.json
    submit school-a --to swv-a tz.json
    id=${lines[0]}
    wait_net 20 copy_is school-a "$id" swv-a delivered
    fp=$("$KETENCTL" key show "$T/keys/swv-a.pub" | sed -n 's/^fingerprint:[[:space:]]*//p' | head -1)
    [ "$(sqlite3 "$(node_db school-a)" "SELECT count(*) FROM audit_witness
        WHERE partner = 'swv-a' OR fingerprint = '$fp'")" -ge 1 ]
    for n in school-a swv-a gemeente-a; do node_stop $n >/dev/null; done
    run "$KETENCTL" audit verify --db "$(node_db swv-a)" --pub "$T/keys/swv-a.pub" \
        --witness "$(node_db school-a)"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"audit OK"* ]]
    # a witness that never saw a checkpoint of this node proves nothing: it fails
    run "$KETENCTL" audit verify --db "$(node_db swv-a)" --pub "$T/keys/swv-a.pub" \
        --witness "$(node_db gemeente-a)"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"the witness database holds no checkpoint of node swv-a"* ]]
}

@test "subject show answers an auditor with everything about one pupil, audits the request, and exports a file for the parents" {
    consented_flow
    gv $BSN $BIRTH >gv.json
    submit school-a --to gemeente-a gv.json
    id=${lines[0]}
    grant school-a $BSN gemeente-a melding_geoorloofd geoorloofd_verzuim ouders >/dev/null
    wait_net 20 copy_is school-a "$id" gemeente-a delivered

    run nctl2 school-a subject show --leerling $BSN --json
    [ "$status" -eq 0 ]
    echo "$output" >show.json
    [ "$(jget show.json 'len(j["sent"])')" = 1 ]
    [ "$(jget show.json 'j["sent"][0]["record"]["fields"]["leerling_id"]')" = $BSN ]
    [ "$(jget show.json 'len(j["consents"])')" = 1 ]
    [ "$(jget show.json '[e["action"] for e in j["exchanges"] if e["record"]=="'"$id"'"]')" = \
        '["submitted", "held", "released", "delivered"]' ]
    [ "$(jget show.json 'j["exchanges"][-1]["action"]')" = subject_access ]
    run nctl2 gemeente-a subject show --leerling $BSN --json
    [ "$(echo "$output" | jget - 'j["received"][0]["from"]')" = school-a ]

    run nctl2 school-a subject show --leerling $BSN --export "$T/inzage.md"
    [ "$status" -eq 0 ]
    [ "$(stat -c %a "$T/inzage.md")" = 600 ]
    grep -q "Inzage in gegevens" "$T/inzage.md"
    grep -q "geoorloofd_verzuim" "$T/inzage.md"
    # the access itself is in the log, twice now, with no pupil number
    [ "$(sqlite3 "$(node_db school-a)" "SELECT count(*) FROM audit WHERE action = 'subject_access'
        AND length(subject) = 32 AND actor = 'uid:$(id -u)'")" = 2 ]
    # an id that is not a BSN or onderwijsnummer is refused, naming the rule
    run nctl2 school-a subject show --leerling 123456789
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: subject-show: leerling: not a BSN or onderwijsnummer (9 digits that pass the elfproef) (invalid)" ]
}

@test "subject show is for auditors only: an operator is refused with the role it needs" {
    command -v setpriv >/dev/null || skip "no setpriv"
    [ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
    node_add school-a school
    net_conf school-a
    sed -i 's/^access = .*/access = { operators = ( "uid:65534" ); auditors = ( "uid:0" ); };/' \
        "$T/school-a/node.conf"
    node_start school-a
    chmod 755 "$T" "$T/school-a"
    chmod 666 "$(node_sock school-a)"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$KETENCTL" "$@"; }
    run as_nobody subject show --leerling $BSN -s "$(node_sock school-a)"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: permission denied: subject-show needs the auditor role (your uid 65534 and group 65534 are not in access.auditors)" ]
    [ "$(sqlite3 "$(node_db school-a)" "SELECT count(*) FROM audit WHERE action = 'subject_access'")" = 0 ]
    # the same caller may export a signed record: operators and auditors both
    run as_nobody record export 00000000000000000000000000000000 -s "$(node_sock school-a)"
    [ "$output" = "ketenctl: record-export: no record 00000000000000000000000000000000 on this node (not_found)" ]
}

@test "record export writes the record as the sender signed it; record verify checks it with the sender's key" {
    consented_flow
    tz $BSN >tz.json
    submit school-a --to swv-a tz.json
    id=${lines[0]}
    wait_net 20 copy_is school-a "$id" swv-a delivered
    run nctl2 swv-a record export "$id" -o "$T/signed.bin"
    echo "$output"
    [ "$status" -eq 0 ]
    run "$KETENCTL" record verify --pub "$T/keys/school-a.pub" "$T/signed.bin"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"$id"* ]]
    # signed by the school, so the SWV's key does not verify it
    run "$KETENCTL" record verify --pub "$T/keys/swv-a.pub" "$T/signed.bin"
    [ "$status" -ne 0 ]
    [ "$(sqlite3 "$(node_db swv-a)" "SELECT action || ' ' || counterparty FROM audit
        WHERE action = 'exported'")" = "exported school-a" ]
    run nctl2 swv-a record export 00000000000000000000000000000000
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: record-export: no record 00000000000000000000000000000000 on this node (not_found)" ]
}

@test "disk full while writing an audit entry: the submission is refused, nothing is half-written, the node recovers" {
    command -v prlimit >/dev/null || skip "prlimit not installed"
    school_gemeente_swv
    policy school-a swv-a "$(tz_rule)" ""
    policy swv-a school-a "" "$(tz_rule)"
    start_all school-a swv-a gemeente-a
    tz $BSN >tz.json
    submit school-a --to swv-a tz.json
    [ "$status" -eq 0 ]
    db=$(node_db school-a)
    pid=$(node_pid school-a)
    before=$(sqlite3 "$db" "SELECT count(*) FROM outbox")
    # no file of the node may grow any more (the WAL is where commits go)
    size=$(stat -c %s "$db-wal")
    prlimit --pid "$pid" --fsize=$((size)):
    failed=0
    for i in 1 2 3 4 5 6 7 8; do
        run --separate-stderr nctl school-a submit --to swv-a tz.json
        if [ "$status" -ne 0 ]; then failed=1; break; fi
    done
    echo "stderr: $stderr"
    [ $failed = 1 ]
    [[ "$stderr" == *"nothing was changed (is the disk full, or a file size limit reached? free space and try again)"* ]]
    kill -0 "$pid" # still running
    prlimit --pid "$pid" --fsize=unlimited:
    # what was refused left no row; the node accepts again, and the log verifies
    n=$(sqlite3 "$db" "SELECT count(*) FROM outbox")
    [ "$(sqlite3 "$db" "SELECT count(DISTINCT record_id) FROM audit WHERE action = 'submitted'")" = "$n" ]
    submit school-a --to swv-a tz.json
    [ "$status" -eq 0 ]
    [ "$(sqlite3 "$db" "SELECT count(*) FROM outbox")" = $((n + 1)) ]
    run nctl2 school-a audit verify
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$n" -ge "$before" ]
}
