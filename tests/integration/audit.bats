#!/usr/bin/env bats
# The audit log as a privacy officer meets it (issue 5): `ketenctl audit
# verify --db` on copies of a node database tampered with the sqlite3 shell
# (triggers dropped first, as an attacker would) names the exact entry and
# exits 1; a tail rewritten with recomputed hashes (Python's hashlib) and
# checkpoints signed again passes on its own but is caught by --witness;
# rows of the wrong type are a failure, never a crash; list, export and
# verify through a running ketend; an operator who is not an auditor is
# refused. Logs are built with tests/tools/ktauditfill, without a network.

load helpers
load net

FILL=$KETEN_TOOLS/ktauditfill
T0=1767607200 # 2026-01-05T10:00:00Z
DROP="DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
      DROP TRIGGER audit_checkpoint_no_update; DROP TRIGGER audit_checkpoint_no_delete;"
TRIGGERS="CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"

# a node's log: 12 entries and a checkpoint of entry 12, signed by school-a
log_up() {
    mkdir -p keys && chmod 700 keys
    keys keys school-a school gemeente-a gemeente || return 1
    "$FILL" fill --db n.db --n 12 --key keys/school-a.key --time $T0
}

# tamper SQL: t.db is a copy of n.db with the triggers dropped and SQL run
tamper() {
    cp n.db t.db && sqlite3 t.db "$DROP $1"
}

verify() { ctl audit verify --db "$@"; }

@test "an untouched log verifies, and says what no checkpoint covers yet" {
    log_up
    run verify n.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "audit OK: 12 entries, 1 checkpoint, covered to 12" ]
    "$FILL" fill --db n.db --n 2
    run verify n.db --pub keys/school-a.pub
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "audit OK: 14 entries, 1 checkpoint, covered to 12" ]
    [ "${lines[1]}" = "2 entries after 12 not yet covered by a signed checkpoint" ]
    # without --pub: the chain still, and a note that signatures were not checked
    run verify n.db
    [ "$status" -eq 0 ]
    [[ "$output" == *"checkpoint signatures not checked; give --pub NODE.pub"* ]]
    # verify never wrote anything next to the file
    [ ! -e n.db-wal ] && [ ! -e n.db-shm ]
}

@test "an edited entry is named" {
    log_up
    tamper "UPDATE audit SET decision = 'ok' WHERE seq = 7"
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "audit FAILED at entry 7: hash does not match its contents (edited?)" ]
}

@test "a deleted entry is named" {
    log_up
    tamper "DELETE FROM audit WHERE seq = 5"
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "audit FAILED at entry 5: entry is missing (the log goes on at 6; deleted?)" ]
}

@test "two swapped entries are named at the first" {
    log_up
    tamper "UPDATE audit SET seq = -1 WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = 9;
            UPDATE audit SET seq = 9 WHERE seq = -1"
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "audit FAILED at entry 8: "* ]]
}

@test "an appended entry is named: a made-up hash, and a hash that does not link" {
    log_up
    # no trigger stops an INSERT: an appended row is the easy attack
    cp n.db t.db
    sqlite3 t.db "INSERT INTO audit (seq, time, actor, action, decision, prev_hash, hash)
                  SELECT 13, $T0, 'uid:0', 'sent', 'ok', hash, randomblob(32) FROM audit WHERE seq = 12"
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "audit FAILED at entry 13: hash does not match its contents (edited?)" ]
    # a correct hash of its own contents, linked to entry 11 instead of 12
    cp n.db t.db
    python3 - t.db <<'PY'
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
prev = db.execute("SELECT hash FROM audit WHERE seq = 11").fetchone()[0]
F = lambda x: struct.pack(">I", 0xffffffff) if x is None else struct.pack(">I", len(x)) + x
m = (b"keten/1 audit\0" + prev + struct.pack(">QQ", 13, 1767607200) + F(b"uid:0") + F(b"sent")
     + F(None) * 10 + F(b"ok") + F(None))
db.execute("INSERT INTO audit (seq, time, actor, action, decision, prev_hash, hash) "
           "VALUES (13, 1767607200, 'uid:0', 'sent', 'ok', ?, ?)",
           (prev, hashlib.blake2b(m, digest_size=32).digest()))
db.commit()
PY
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "audit FAILED at entry 13: does not link to the entry before it"* ]]
}

@test "entries removed from the end are caught by the checkpoint" {
    log_up
    tamper "DELETE FROM audit WHERE seq >= 10"
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "audit FAILED at entry 10: entry is missing: checkpoint 12 covers"* ]]
}

@test "a checkpoint signed by another key fails with --pub" {
    log_up
    run verify n.db --pub keys/gemeente-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "audit FAILED at entry 12: checkpoint 12 is not signed by gemeente-a's key" ]
}

@test "dropped triggers alone are a failure" {
    log_up
    tamper ""
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "audit FAILED: trigger audit_no_update is missing: the log could be changed in place" ]
}

@test "a tail rewritten with recomputed hashes and signed again is caught by the partner's checkpoints" {
    log_up
    # gemeente-a received school-a's checkpoint of entry 12 in a receipt
    run "$FILL" witness --db partner.db --from n.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "witnessed school-a checkpoint 12" ]
    # school-a (who holds its own key) rewrites entry 9, recomputes every
    # hash after it, signs its head again and puts the triggers back
    tamper "DELETE FROM audit_checkpoint"
    python3 - t.db <<'PY'
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE audit SET decision = 'refused', reason = 'rewritten' WHERE seq = 9")
cols = ("seq, time, actor, action, record_id, record_type, fields, subject, doel, grondslag, "
        "consent_id, policy_id, policy_version, counterparty, decision, reason")
F = lambda x: struct.pack(">I", 0xffffffff) if x is None else struct.pack(">I", len(x)) + x
T = lambda s: None if s is None else s.encode()
prev = db.execute("SELECT hash FROM audit WHERE seq = 8").fetchone()[0]
for r in db.execute("SELECT %s FROM audit WHERE seq >= 9 ORDER BY seq" % cols).fetchall():
    seq, tm, actor, action, rid, rtype, fields, subj, doel, gr, cid, pid, pv, cp, dec, reason = r
    m = (b"keten/1 audit\0" + prev + struct.pack(">QQ", seq, tm) + F(T(actor)) + F(T(action))
         + F(rid) + F(T(rtype)) + F(T(fields)) + F(subj) + F(T(doel)) + F(T(gr)) + F(cid)
         + F(T(pid)) + F(None if pv is None else str(pv).encode()) + F(T(cp)) + F(T(dec))
         + F(T(reason)))
    h = hashlib.blake2b(m, digest_size=32).digest()
    db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
    prev = h
db.commit()
PY
    sqlite3 t.db "$TRIGGERS"
    "$FILL" fill --db t.db --n 0 --key keys/school-a.key
    # on its own, the rewritten log is consistent (the hash formula above agrees)
    run verify t.db --pub keys/school-a.pub
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "audit OK: 12 entries, 1 checkpoint, covered to 12" ]
    # the partner saw the old head
    run verify t.db --pub keys/school-a.pub --witness partner.db
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "audit FAILED at entry 12: witness partner.db: entry differs: the witness holds a checkpoint for it, received "* ]]
    # and the untouched log agrees with the partner
    run verify n.db --pub keys/school-a.pub --witness partner.db
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "audit OK: 12 entries, 1 checkpoint, covered to 12; 1 witness checkpoint match" ]
}

@test "rows of the wrong type, NULLs and oversized values are a failure, never a crash" {
    log_up
    # without its constraints (rebuilt by the attacker) any value fits
    rebuild="CREATE TABLE a2 (seq INTEGER PRIMARY KEY, time, actor, action, record_id, record_type,
             fields, subject, doel, grondslag, consent_id, policy_id, policy_version, counterparty,
             decision, reason, prev_hash, hash);
             INSERT INTO a2 SELECT * FROM audit; DROP TABLE audit; ALTER TABLE a2 RENAME TO audit;"
    while IFS='|' read -r seq sql; do
        tamper "$rebuild $sql"
        run verify t.db --pub keys/school-a.pub
        echo "$sql -> $status: $output"
        [ "$status" -eq 1 ]
        [[ "${lines[0]}" == "audit FAILED at entry $seq: "* ]]
    done <<'CASES'
3|UPDATE audit SET time = 'yesterday' WHERE seq = 3
3|UPDATE audit SET time = NULL WHERE seq = 3
4|UPDATE audit SET actor = NULL WHERE seq = 4
4|UPDATE audit SET actor = x'0001' WHERE seq = 4
5|UPDATE audit SET fields = printf('%.99999c', 'a') WHERE seq = 5
5|UPDATE audit SET subject = randomblob(1000000) WHERE seq = 5
6|UPDATE audit SET hash = NULL WHERE seq = 6
6|UPDATE audit SET prev_hash = 'abc' WHERE seq = 6
7|UPDATE audit SET policy_version = 'x' WHERE seq = 7
2|UPDATE audit SET reason = 3.5 WHERE seq = 2
-4|UPDATE audit SET seq = -4 WHERE seq = 1
CASES
}

@test "verify names what is wrong with a file that is not a node database" {
    log_up
    run verify missing.db
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: audit verify: missing.db: No such file or directory" ]
    echo "not a database" >text.db
    run verify text.db
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: audit verify: text.db: not a keten database (not an SQLite file)" ]
    sqlite3 other.db "CREATE TABLE x (a)"
    run verify other.db
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: audit verify: other.db: not a keten database (no application id)" ]
    cp n.db old.db
    sqlite3 old.db "PRAGMA user_version = 2"
    run verify old.db
    [ "$status" -eq 1 ]
    [[ "$output" == "ketenctl: audit verify: old.db: database schema version 2 is older than this keten's"* ]]
    # usage
    run ctl audit verify --db n.db --witness partner.db
    [ "$status" -eq 2 ]
    [[ "$output" == *"--witness needs --pub"* ]]
    run ctl audit verify --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: ketenctl audit verify"* ]]
}

# --- through a running ketend ---

# a school node whose database already holds 450 entries
node_up() {
    net_up school-a school gemeente-a gemeente swv-a swv
    "$FILL" fill --db "$(node_db school-a)" --n 450 --time $T0 || return 1
    node_start school-a
    if actl list --until 2000-01-01 2>&1 | grep -q 'does not know the command'; then
        skip "ketend does not register the audit commands"
    fi
}

actl() {
    local sub=$1
    shift
    "$KETENCTL" audit "$sub" -s "$(node_sock school-a)" "$@"
}

@test "audit list filters and pages; export writes every entry as CSV and JSON" {
    node_up
    run actl list --json
    [ "$status" -eq 0 ]
    total=$(echo "$output" | jget - 'len(j["entries"])')
    [ "$total" -ge 450 ] # ketend adds its own entries (policies loaded, ...)
    [ "$(echo "$output" | jget - '[e["seq"] for e in j["entries"]] == list(range(1, len(j["entries"]) + 1))')" = true ]
    [ "$(echo "$output" | jget - 'len(j["entries"][0]["hash"])')" = 64 ]
    # filters
    run actl list --json --partner swv-a --until 2026-01-05T10:00:59Z
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - 'sorted(set(e["counterparty"] for e in j["entries"]))')" = '["swv-a"]' ]
    [ "$(echo "$output" | jget - 'len(j["entries"])')" = 30 ]
    run actl list --json --action refused --decision refused --type thuiszitter
    [ "$(echo "$output" | jget - 'len(j["entries"])')" -gt 0 ]
    [ "$(echo "$output" | jget - 'set(e["action"] + e["record_type"] for e in j["entries"]) == {"refusedthuiszitter"}')" = true ]
    run actl list --since 2027-01-01
    [ "$status" -eq 0 ]
    [[ "$output" == *"(none)"* ]]
    # a pupil is matched on this node's pseudonym; the id never comes back
    run actl list --leerling 111222333
    [ "$status" -eq 0 ]
    [[ "$output" != *111222333* ]]
    # and the lookup of one pupil is itself a subject access, in the log
    total=$((total + 1))
    [ "$(sqlite3 "$(node_db school-a)" "SELECT action || ' ' || decision FROM audit WHERE seq = $total")" = "subject_access listed" ]
    run actl list --leerling 123456789
    [ "$status" -eq 1 ]
    [[ "$output" == *"leerling: not a BSN or onderwijsnummer"* ]]
    [[ "$output" != *123456789* ]]
    run actl list --since yesterday
    [ "$status" -eq 2 ]
    # export pages through all of it
    run actl export --format csv -o log.csv
    [ "$status" -eq 0 ]
    [ "$(stat -c %a log.csv)" = 600 ]
    [ "$(head -n 1 log.csv | tr -d '\r')" = "seq,time,at,actor,action,record_id,record_type,fields,subject,doel,grondslag,consent_id,policy_id,policy_version,counterparty,decision,reason,prev_hash,hash" ]
    [ "$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(len(r), r[6]["reason"], r[0]["fields"])' log.csv)" = "$total no send rule for thuiszitter leerling_id,begindatum,duur" ]
    run actl export --format json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jget - 'len(j)')" = "$total" ]
    [ "$(echo "$output" | jget - 'j[449]["seq"]')" = 450 ]
    run actl export
    [ "$status" -eq 2 ]
}

@test "audit verify asks the running node" {
    node_up
    run actl verify
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "audit OK: "* ]]
    run actl verify --json
    [ "$(echo "$output" | jget - 'j["intact"]')" = true ]
}

@test "an operator who is not an auditor is refused the audit log" {
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
    run as_nobody status -s "$(node_sock school-a)"
    echo "$output"
    [ "$status" -eq 0 ] # an operator indeed
    run as_nobody audit list -s "$(node_sock school-a)"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "ketenctl: permission denied: audit-list needs the auditor role (your uid 65534 and group 65534 are not in access.auditors)" ]
    run as_nobody audit verify -s "$(node_sock school-a)"
    [ "$status" -eq 1 ]
    [[ "$output" == *"audit-verify needs the auditor role"* ]]
    run as_nobody audit export --format csv -s "$(node_sock school-a)"
    [ "$status" -eq 1 ]
}
