#!/usr/bin/env bash
# The example network: a school, an SWV and a gemeente leerplicht office.
# Checks the three node configurations; shows one record signed and sealed
# by the school, opened and verified by the gemeente, and refused by the SWV
# it was not sealed to; then starts the three nodes on loopback, submits
# records at the school and shows them delivered at the SWV and the gemeente
# with signed receipts back at the school. Everything runs in BUILD/demo; the
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

step "The school submits once for the SWV and the gemeente; submit returns once it is on disk"
show "$CTL" submit -s school.sock --to swv-vo-9901 --to gemeente-nijmegen \
    "$ROOT/demo/records/thuiszitter.jsonl" | tee ids.txt
for _ in $(seq 100); do # bounded wait for the receipts
    "$CTL" outbox -s school.sock --state delivered | grep -c delivered >delivered.txt || true
    [ "$(cat delivered.txt)" -ge 6 ] && break
    sleep 0.1
done

step "Signed receipts came back: the school's outbox shows every copy delivered"
show "$CTL" outbox -s school.sock

step "The SWV and the gemeente each hold the records, sent by the school"
show "$CTL" inbox -s swv.sock
show "$CTL" inbox -s gemeente.sock

step "The gemeente's operator reads one record"
show "$CTL" show -s gemeente.sock "$(grep -m1 -E '^[0-9a-f]{32}$' ids.txt)"

step "Stop the nodes (SIGTERM: finish the batch in hand, commit, exit)"
stop_nodes
trap - EXIT
echo "stopped"
echo
echo "The node logs hold ids, node ids and codes only:"
sed 's/^/  /' gemeente.log | grep -E 'record|ready' | head -n 5

printf '\ndemo: done. Files are in %s\n' "${RUN#"$ROOT"/}"
