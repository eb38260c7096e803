#!/usr/bin/env bash
# The example network: a school, an SWV and a gemeente leerplicht office.
# Checks the three node configurations; shows one record signed and sealed
# by the school, opened and verified by the gemeente, and refused by the SWV
# it was not sealed to; then starts the three nodes on loopback, submits
# records at the school and shows them delivered at the SWV and the gemeente
# with signed receipts back at the school; ends with the privacy officer's
# views (audit list, a subject access export), the SWV and the gemeente
# reconciling their thuiszitter lists by counts and privately by list, and
# every node's audit log verified, live and offline. Everything runs in BUILD/demo; the
# keys are the example network's (keys-example/), never for real use.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
CTL=$PWD/$BUILD/ketenctl
KETEND=$PWD/$BUILD/ketend
RUN=$PWD/$BUILD/demo
ROOT=$PWD

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { # print the command as a user would type it, then run it
    printf '$ %s\n' "$*" | sed -e "s|$CTL|ketenctl|" -e "s|$KETEND|ketend|" -e "s|$ROOT/||g"
    "$@"
}

rm -rf "$RUN"
mkdir -p "$RUN/keys"
cp keys-example/*.pub keys-example/*.key "$RUN/keys/"
chmod 600 "$RUN"/keys/*.key # git does not keep file modes; keten refuses readable secrets
cp demo/*.conf "$RUN/"
cp -r policies "$RUN/policies"
chmod -R go-w "$RUN/policies" # as for the keys: keten refuses policies others can change
cd "$RUN"

step "The three nodes of the example network"
for n in school-de-linde swv-vo-9901 gemeente-nijmegen; do
    show "$CTL" key show "keys/$n.pub"
done

step "Each node's configuration passes ketend -n"
for c in school swv gemeente; do
    show "$KETEND" -n -c "$c.conf"
done

step "The school validates a record: no free text, a valid BSN, codes from the registry"
show "$CTL" record check --cbor "$ROOT/demo/records/geoorloofd_verzuim.json"

step "The school signs it for the gemeente and seals it so only the gemeente can read it"
show "$CTL" record sign --key keys/school-de-linde.key --to gemeente-nijmegen \
    --out record.signed "$ROOT/demo/records/geoorloofd_verzuim.json"
show "$CTL" record seal --key keys/school-de-linde.key --to keys/gemeente-nijmegen.pub \
    --out record.sealed record.signed
printf 'sealed envelope: %s bytes (padded to a size bucket)\n' "$(wc -c <record.sealed)"

step "The gemeente opens the envelope and verifies the school's signature"
show "$CTL" record open --key keys/gemeente-nijmegen.key --from keys/school-de-linde.pub \
    --out record.opened record.sealed

step "An auditor verifies the signed record later, with only the school's public key"
show "$CTL" record verify --pub keys/school-de-linde.pub record.opened

step "The SWV cannot open an envelope sealed to the gemeente"
if show "$CTL" record open --key keys/swv-vo-9901.key --from keys/school-de-linde.pub record.sealed; then
    echo "demo: the SWV opened an envelope that was not sealed to it" >&2
    exit 1
fi
echo "(refused, as it should be)"

step "A tampered envelope is refused"
cp record.sealed record.tampered
byte=$(od -An -tu1 -j60 -N1 record.tampered | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of=record.tampered bs=1 seek=60 conv=notrunc status=none
cmp -s record.sealed record.tampered && { echo "demo: tampering failed" >&2; exit 1; }
if show "$CTL" record open --key keys/gemeente-nijmegen.key --from keys/school-de-linde.pub record.tampered; then
    echo "demo: a tampered envelope was accepted" >&2
    exit 1
fi
echo "(refused, as it should be)"

step "Start the three nodes (ketend, on 127.0.0.1)"
PIDS=()
stop_nodes() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap stop_nodes EXIT
# wait_state ID PARTNER STATE: bounded wait until the school's copy is in STATE
wait_state() {
    for _ in $(seq 100); do
        "$CTL" outbox -s school.sock --json |
            python3 -c "import json,sys; r=[o for o in json.load(sys.stdin)['outbox'] if o['id']=='$1' and o['partner']=='$2']; sys.exit(0 if r and r[0]['state']=='$3' else 1)" &&
            return 0
        sleep 0.1
    done
    echo "demo: record $1 to $2 did not become $3" >&2
    return 1
}
for c in school swv gemeente; do
    "$KETEND" -c "$c.conf" 2>"$c.log" &
    PIDS+=($!)
done
for c in school swv gemeente; do # bounded wait for each control socket
    for _ in $(seq 50); do
        "$CTL" version -s "$c.sock" 2>/dev/null | grep -q '^ketend .*protocol' && break
        sleep 0.1
    done
done
show "$CTL" partners -s school.sock

step "Policies decide what goes where: geoorloofd verzuim needs consent, and the SWV gets fewer fields"
show "$CTL" policy explain -c school.conf --to gemeente-nijmegen --type geoorloofd_verzuim
show "$CTL" policy explain -c school.conf --to swv-vo-9901 --type geoorloofd_verzuim || true

step "The school submits thuiszitters once; keten fans them out to every partner whose policy allows them"
show "$CTL" submit -s school.sock "$ROOT/demo/records/thuiszitter.jsonl"

step "A type without a rule is refused: verzuimmeldingen go to leerplicht, never to the SWV"
if show "$CTL" submit -s school.sock --to swv-vo-9901 "$ROOT/demo/records/verzuimmelding.json"; then
    echo "demo: a verzuimmelding went to the SWV" >&2
    exit 1
fi
echo "(refused, nothing queued)"
show "$CTL" submit -s school.sock "$ROOT/demo/records/verzuimmelding.json"

step "Geoorloofd verzuim of a 13-year-old is held for both recipients: no consent yet"
show "$CTL" submit -s school.sock "$ROOT/demo/records/geoorloofd_verzuim.json" | tee gv.txt
GV=$(grep -m1 -E '^[0-9a-f]{32}$' gv.txt)
show "$CTL" outbox -s school.sock --state held

step "The parents consent to the melding at leerplicht; that copy is released, the SWV's stays held"
show "$CTL" consent grant -s school.sock --leerling 999900043 --to gemeente-nijmegen \
    --doel melding_geoorloofd --types geoorloofd_verzuim --door ouders --until 2027-07-31 \
    --evidence formulier-2024-017 --ouders-geinformeerd | tee consent-gemeente.txt
wait_state "$GV" gemeente-nijmegen delivered
show "$CTL" show -s school.sock "$GV"

step "They consent for the SWV too; the SWV receives the record without the fields its policy leaves out"
show "$CTL" consent grant -s school.sock --leerling 999900043 --to swv-vo-9901 \
    --doel melding_geoorloofd --types geoorloofd_verzuim --door ouders --until 2027-07-31 \
    --evidence formulier-2024-017 --ouders-geinformeerd | tee consent-swv.txt
wait_state "$GV" swv-vo-9901 delivered
show "$CTL" show -s swv.sock "$GV"

step "The parents withdraw both consents; both receivers purge the record and confirm with a signed receipt"
for f in consent-gemeente.txt consent-swv.txt; do
    show "$CTL" consent withdraw -s school.sock "$(grep -m1 -oE '[0-9a-f]{32}' "$f")"
done
wait_state "$GV" gemeente-nijmegen purged
wait_state "$GV" swv-vo-9901 purged
show "$CTL" outbox -s school.sock
show "$CTL" inbox -s gemeente.sock
show "$CTL" inbox -s swv.sock

step "Signals: the school imports its attendance export; the raw rows never leave the school"
show "$CTL" attendance import -s school.sock "$ROOT/demo/attendance.csv"
show "$CTL" signals -s school.sock --date 2025-10-10

step "The parents of pupil L1001 consent to the melding at leerplicht; signals submit sends only what may go"
show "$CTL" consent grant -s school.sock --leerling 999900043 --to gemeente-nijmegen \
    --doel melding_geoorloofd --types geoorloofd_verzuim --door ouders --until 2027-07-31 \
    --evidence formulier-2025-031 --ouders-geinformeerd >/dev/null
show "$CTL" signals submit -s school.sock --date 2025-10-10 | tee signals.txt
SIG=$(grep -m1 -E '^[0-9a-f]{32}  pupil L1001 .*gemeente-nijmegen queued' signals.txt | cut -c1-32)
wait_state "$SIG" gemeente-nijmegen delivered
echo "Leaving the school: only L1001's record, to leerplicht; the rest waits for consent"
"$CTL" outbox -s school.sock --json | python3 -c "
import json,sys
ids={l[:32]:l.split()[2] for l in open('signals.txt') if l[:32].isalnum() and len(l)>40}
for o in json.load(sys.stdin)['outbox']:
    if o['id'] in ids: print('  %s  pupil %s  %-18s %s' % (o['id'], ids[o['id']], o['partner'], o['state']))"
show "$CTL" signals submit -s school.sock --date 2025-10-10

step "The SWV and the gemeente each import their own thuiszitter list (never sent anywhere)"
show "$CTL" registry import -s swv.sock --list thuiszitters "$ROOT/demo/registry/swv-thuiszitters.csv"
show "$CTL" registry import -s gemeente.sock --list thuiszitters "$ROOT/demo/registry/gemeente-thuiszitters.csv"

step "They compare counts per onderwijssoort under one definition and peildatum: signed count vectors"
show "$CTL" reconcile counts -s swv.sock --with gemeente-nijmegen --list thuiszitters \
    --definition breed --period 2021-10-01 --by onderwijssoort

echo "(Equal counts in every category, yet that does not mean the same children: see the lists.)"

step "Then their lists, privately (PSI over ristretto255): each learns which of its own pupils the other lacks"
show "$CTL" reconcile lists -s swv.sock --with gemeente-nijmegen --list thuiszitters | tee psi.txt
PSI=$("$CTL" reconcile list -s gemeente.sock --json | python3 -c "import json,sys; print(json.load(sys.stdin)['sessions'][0]['id'])")
echo "and at the gemeente, the same comparison seen from its side:"
show "$CTL" reconcile show -s gemeente.sock "$PSI"

step "The privacy officer lists what the school decided about geoorloofd verzuim for the SWV"
show "$CTL" audit list -s school.sock --type geoorloofd_verzuim --partner swv-vo-9901 | head -n 12
echo "  ..."

step "A subject access request: everything the school holds about pupil 999900043, for the parents"
show "$CTL" subject show -s school.sock --leerling 999900043 --export inzage-999900043.md
sed -n '1,12p' inzage-999900043.md | sed 's/^/  /'
echo "  ..."

step "Each node's audit log verifies: every entry chained, every checkpoint signed"
for n in school swv gemeente; do
    show "$CTL" audit verify -s "$n.sock"
done

step "Stop the nodes (SIGTERM: finish the batch in hand, commit, exit)"
stop_nodes
trap - EXIT
echo "stopped"

step "Offline, on the stopped node's database: the gemeente's log, witnessed by the school's copy of its checkpoints"
show "$CTL" audit verify --db gemeente.db --pub keys/gemeente-nijmegen.pub --witness school.db
echo
echo "The node logs hold ids, node ids and codes only:"
sed 's/^/  /' gemeente.log | grep -E 'record|ready|purge' | head -n 8

printf '\ndemo: done. Files are in %s\n' "${RUN#"$ROOT"/}"
