#!/usr/bin/env bash
# bench/e2e.sh BUILD - keten's end-to-end figures through the real binaries:
# two ketend (a school sending, a gemeente receiving) on 127.0.0.1 ephemeral
# ports, keys generated in a temporary directory under BUILD/bench, driven
# through ketenctl and the control socket. bench/run.sh runs it after the
# ceilings; it can also run on its own.
#
# Prints on stdout, one figure per line (the format bench/run.sh reads):
#   e2e durable_records VALUE records/s ceiling=P    submit to verified receipt, sender's db
#   e2e durable_records_wall VALUE records/s ceiling=P   the same, wall clock around ketenctl
#   e2e receiver_records VALUE records/s ceiling=P   records stored per second at the receiver
#   e2e latency_p50 VALUE ms, e2e latency_p99 VALUE ms   at 10% of durable_records
#   e2e ketend_rss_sender VALUE MiB, e2e ketend_rss_receiver VALUE MiB   peak RSS (VmHWM)
# and info lines for context; progress and diagnostics go to stderr. P is
# pipeline_b16 or pipeline_b16_1024, whichever bucket the records travel in.
#
# Knobs (environment): E2E_RECORDS (5000) records for the throughput run,
# E2E_BATCH (500) records per ketenctl submit, E2E_TIMEOUT (45) seconds to
# wait for all receipts, E2E_LAT_SECONDS (5) and E2E_LAT_MAX (300) for the
# latency run, E2E_FSYNC=1 to count each daemon's fsync and fdatasync calls
# with perf stat (syscall tracepoints; needs perf and root) and report them
# per delivered record,
# E2E_KEEP=1 to keep the directory (databases, logs) for inspection.
#
# Never part of make test or CI. Every wait is bounded; both daemons are
# stopped and the directory removed on exit, also on Ctrl-C.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ROOT=$PWD
CTL=$ROOT/$BUILD/ketenctl
KETEND=$ROOT/$BUILD/ketend
RECORDS=${E2E_RECORDS:-5000}
BATCH=${E2E_BATCH:-500}
TIMEOUT=${E2E_TIMEOUT:-45}
LAT_SECONDS=${E2E_LAT_SECONDS:-5}
LAT_MAX=${E2E_LAT_MAX:-300}
FSYNC=${E2E_FSYNC:-0}

for v in RECORDS BATCH TIMEOUT LAT_SECONDS LAT_MAX; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,6}$ ]]; then
        echo "e2e: E2E_$v must be a positive integer" >&2
        exit 2
    fi
done
for b in "$CTL" "$KETEND"; do
    if [ ! -x "$b" ]; then
        echo "e2e: $b is not built; run: make" >&2
        exit 1
    fi
done
if [ "$FSYNC" = 1 ] && ! command -v perf >/dev/null; then
    echo "e2e: E2E_FSYNC=1 needs perf" >&2
    exit 1
fi

mkdir -p "$BUILD/bench"
DIR=$(mktemp -d "$ROOT/$BUILD/bench/e2e.XXXXXX")
PIDS=()
PERF_PIDS=()
cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${PERF_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do # bounded: 5 s, then SIGKILL
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "e2e: kept $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$DIR"
log() { echo "e2e: $*" >&2; }

# ---- the helper: ports, records, the control-socket client, the databases ----
cat >e2e.py <<'PY'
import base64, json, os, random, socket, sqlite3, subprocess, sys, time

def ports(n):
    socks = [socket.socket() for _ in range(int(n))]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()

def bsn(rng):
    while True:
        d = [rng.randrange(10) for _ in range(8)]
        s = sum(w * x for w, x in zip(range(9, 1, -1), d))
        d9 = s % 11
        if d9 < 10 and any(d + [d9]):
            return "".join(map(str, d + [d9]))

def date(rng, y0, y1):
    return "%04d-%02d-%02d" % (rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28))

def record(rng):
    f = {
        "leerling_id": bsn(rng),
        "geboortedatum": date(rng, 2008, 2016),
        "woongemeente": rng.choice(["0268", "0363", "0599", "0344"]),
        "brin": rng.choice(["21PA00", "09XY00", "12AB00"]),
        "swv": rng.choice(["VO2506", "PO2506"]),
        "schooljaar": "2023-2024",
        "onderwijssoort": rng.choice(["vo", "vso", "po"]),
        "plicht": "leerplichtig",
        "definitie": rng.choice(["breed", "inspectie", "eerste_dag", "vier_weken", "drie_maanden"]),
        "ingeschreven": rng.random() < 0.8,
        "geoorloofd": False,  # geoorloofd absence is held for consent (docs/policy.md)
        "geschorst": rng.random() < 0.1,
        "begindatum": "2023-%02d-%02d" % (rng.randint(9, 12), rng.randint(1, 28)),
        "peildatum": "2024-01-15",
        "aanwezigheid_pct": rng.randint(0, 40),
        "duur": rng.choice(["korter_dan_4_weken", "4_weken_tot_3_maanden", "3_tot_6_maanden"]),
        "oorzaak": rng.choice(["kindgebonden", "systeemgebonden", "schoolgebonden", "onbekend"]),
        "dagbesteding": rng.choice(["geen", "deels_onderwijs", "thuisdocent", "onbekend"]),
        "wachtlijst": rng.choice(["geen", "jeugdhulp", "so_vso"]),
        "hulpverlening": rng.choice(["geen", "jgz", "toegang", "smw"]),
        "regiehouder": rng.choice(["school", "leerplicht", "swv"]),
        "plan_van_aanpak": rng.random() < 0.5,
        "passend_aanbod": rng.random() < 0.5,
    }
    return {"type": "thuiszitter", "fields": f}

def gen(n, batch, prefix, seed):
    rng = random.Random(int(seed))
    n, batch = int(n), int(batch)
    files = []
    for i in range(0, n, batch):
        name = "%s%04d.jsonl" % (prefix, i // batch)
        with open(name, "w") as fh:
            for _ in range(min(batch, n - i)):
                fh.write(json.dumps(record(rng)) + "\n")
        files.append(name)
    print(" ".join(files))

class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""
    def call(self, req):
        req["v"] = 1
        self.s.sendall(json.dumps(req).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise SystemExit("e2e: ketend closed the control socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        rep = json.loads(line)
        if not rep.get("ok"):
            raise SystemExit("e2e: %s: %s" % (req["cmd"], rep.get("error")))
        return rep

def wait_connected(timeout, *socks):
    end = time.monotonic() + float(timeout)
    for path in socks:
        c = Ctl(path)
        while not all(p["connected"] for p in c.call({"cmd": "partners"})["partners"]):
            if time.monotonic() > end:
                raise SystemExit("e2e: the nodes did not connect within %s s" % timeout)
            time.sleep(0.05)

def db(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)

def throughput(ctl, sock, to, n, timeout, *files):
    """Submits the files back to back with ketenctl, waits for n delivered."""
    n = int(n)
    c = Ctl(sock)
    base = c.call({"cmd": "status"})["outbox"]["delivered"]
    t0 = time.monotonic()
    for f in files:
        r = subprocess.run([ctl, "submit", "-s", sock, "--to", to, f],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:  # its per-record lines only matter then
            sys.stderr.write(r.stderr.decode(errors="replace")[-4000:])
            raise SystemExit("e2e: ketenctl submit %s failed" % f)
    t_sub = time.monotonic() - t0
    end = t0 + float(timeout)
    while True:
        ob = c.call({"cmd": "status"})["outbox"]
        if ob["delivered"] - base >= n or ob["rejected"] or time.monotonic() > end:
            break
        time.sleep(0.02)
    t1 = time.monotonic() - t0
    done = ob["delivered"] - base
    print("%d %.3f %.3f %d" % (done, t_sub, t1, ob["rejected"]))

def dbrates(sender_db, receiver_db):
    s = db(sender_db).execute(
        "SELECT count(*), min(created), max(updated), sum(attempts), max(attempts)"
        " FROM outbox WHERE state = 'delivered'").fetchone()
    r = db(receiver_db).execute(
        "SELECT count(*), min(received), max(received) FROM inbox WHERE state = 'accepted'"
    ).fetchone()
    print(" ".join(str(x) for x in s + r))

def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, -(-len(xs) * p // 100) - 1))  # nearest rank
    return xs[int(k)]

def latency(sock, to, rate, count, cbor_file, sender_db, timeout):
    """One record per submit request, paced at rate/s on one connection."""
    rate, count = float(rate), int(count)
    recs = [base64.b64encode(bytes.fromhex(l.strip())).decode()
            for l in open(cbor_file) if l.strip() and not l.startswith("record ")]
    c = Ctl(sock)
    ids, rtt, late = [], [], 0
    t0 = time.monotonic()
    for i in range(count):
        due = t0 + i / rate
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        elif now - due > 1.0 / rate:
            late += 1
        a = time.monotonic()
        ids.append(c.call({"cmd": "submit", "to": [to], "records": [recs[i % len(recs)]]})["ids"][0])
        rtt.append((time.monotonic() - a) * 1000)
    took = time.monotonic() - t0
    q = "SELECT updated - created FROM outbox WHERE state = 'delivered' AND id IN (%s)" % \
        ",".join("x'%s'" % i for i in ids)
    end = time.monotonic() + float(timeout)
    con = db(sender_db)
    while True:
        lat = [r[0] for r in con.execute(q)]
        if len(lat) == len(ids) or time.monotonic() > end:
            break
        time.sleep(0.05)
    if len(lat) < len(ids):
        print("e2e: latency: only %d of %d delivered within %s s" % (len(lat), len(ids), timeout),
              file=sys.stderr)
    print("%d %.3f %d %d %d %.2f %.2f %d" % (len(ids), took, len(lat), pct(lat, 50), pct(lat, 99),
                                          pct(rtt, 50), pct(rtt, 99), late))

getattr(sys.modules[__name__], sys.argv[1])(*sys.argv[2:])
PY
py() { python3 "$DIR/e2e.py" "$@"; }

# ---- two nodes ----
PORTS=$(py ports 2)
read -r PORT_S PORT_G <<<"$PORTS"
mkdir -m 700 keys
mkdir policies-school policies-gemeente
policy() { # FILE PARTNER DIRECTION: thuiszitter without consent, every field the records carry
    cat >"$1" <<EOF
partner = "$2";
versions = (
  {
    version = 1;
    valid_from = "2020-01-01";
    reference = "keten bench/e2e.sh";
    $3 = (
      {
        type = "thuiszitter";
        grondslag = "publieke_taak";
        doel = "lijstvergelijking";
        identifier = "bsn";
        retention_days = 730;
        fields = [ "leerling_id", "geboortedatum", "woongemeente", "brin", "swv", "schooljaar",
                   "onderwijssoort", "plicht", "definitie", "ingeschreven", "geoorloofd",
                   "geschorst", "begindatum", "peildatum", "aanwezigheid_pct", "duur", "oorzaak",
                   "dagbesteding", "wachtlijst", "hulpverlening", "regiehouder",
                   "plan_van_aanpak", "passend_aanbod" ];
      }
    );
  }
);
EOF
}
policy policies-school/gemeente-e2e.conf gemeente-e2e send
policy policies-gemeente/school-e2e.conf school-e2e receive
"$CTL" keygen --id school-e2e --role school --out keys >/dev/null
"$CTL" keygen --id gemeente-e2e --role gemeente --out keys >/dev/null
UID_=$(id -u)
conf() { # NAME ID PORT PEER_ID PEER_ROLE PEER_PORT
    cat >"$1.conf" <<EOF
node = {
  id = "$2";
  key = "keys/$2.key";
  listen = "tcp://127.0.0.1:$3";
  store = "$1.db";
  control = "$1.sock";
  policies = "policies-$1";
  log = "stderr";
  retry_max = 5;
};
access = {
  operators = ( "uid:$UID_" );
  auditors = ( "uid:$UID_" );
};
partners = (
  {
    id = "$4";
    role = "$5";
    key = "keys/$4.pub";
    endpoint = "tcp://127.0.0.1:$6";
  }
);
EOF
    "$KETEND" -n -c "$1.conf" 2>/dev/null || { "$KETEND" -n -c "$1.conf"; exit 1; }
}
conf school school-e2e "$PORT_S" gemeente-e2e gemeente "$PORT_G"
conf gemeente gemeente-e2e "$PORT_G" school-e2e school "$PORT_S"

start() { # NAME
    "$KETEND" -c "$1.conf" 2>"$1.log" &
    PIDS+=($!)
}
start school
start gemeente
for s in school gemeente; do # bounded wait for each control socket
    for _ in $(seq 100); do [ -S "$s.sock" ] && break; sleep 0.05; done
    [ -S "$s.sock" ] || { log "$s did not start:"; cat "$s.log" >&2; exit 1; }
done
py wait_connected 10 school.sock gemeente.sock
PID_S=${PIDS[0]}
PID_G=${PIDS[1]}
if [ "$FSYNC" = 1 ]; then # counts fsync and fdatasync calls from here on
    for s in school gemeente; do
        [ $s = school ] && p=$PID_S || p=$PID_G
        perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$p" \
            -o "$s.fsync" 2>"$s.perf.log" &
        PERF_PIDS+=($!)
    done
    sleep 0.5 # perf attaches
fi

# ---- records, and the bucket they travel in ----
FILES=$(py gen "$RECORDS" "$BATCH" rec- 1)
py gen 50 50 lat- 2 >/dev/null
"$CTL" record check --cbor lat-0000.jsonl >lat.cbor
head -n 1 rec-0000.jsonl >one.json
"$CTL" record sign --key keys/school-e2e.key --to gemeente-e2e --out one.signed one.json
"$CTL" record seal --key keys/school-e2e.key --to keys/gemeente-e2e.pub --out one.sealed \
    one.signed
ENV_BYTES=$(wc -c <one.sealed)
if [ "$ENV_BYTES" -le 512 ]; then P=pipeline_b16; else P=pipeline_b16_1024; fi
echo "info e2e_records $RECORDS thuiszitter records, $BATCH per submit, signed $(wc -c <one.signed) bytes, envelope $ENV_BYTES bytes"

# ---- 1. durable throughput ----
log "submitting $RECORDS records in batches of $BATCH, waiting for their receipts (at most ${TIMEOUT} s)"
# shellcheck disable=SC2086 # FILES is a list of generated names
OUT=$(py throughput "$CTL" school.sock gemeente-e2e "$RECORDS" "$TIMEOUT" $FILES)
read -r DONE T_SUB T_ALL REJ <<<"$OUT"
if [ "$REJ" != 0 ]; then
    log "$REJ records were rejected; see the logs"
    E2E_KEEP=1
    exit 1
fi
[ "$DONE" -lt "$RECORDS" ] && log "only $DONE of $RECORDS delivered within ${TIMEOUT} s; rates are over those"
OUT=$(py dbrates school.db gemeente.db)
read -r S_N S_MIN S_MAX S_ATT S_MAXATT R_N R_MIN R_MAX <<<"$OUT"
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f", (ms > 0 ? n * 1000 / ms : 0) }'; }
DURABLE=$(rate "$S_N" $((S_MAX - S_MIN)))
echo "e2e durable_records $DURABLE records/s ceiling=$P"
echo "e2e durable_records_wall $(rate "$DONE" "$(awk -v t="$T_ALL" 'BEGIN { print t * 1000 }')") records/s ceiling=$P"
echo "e2e receiver_records $(rate "$R_N" $((R_MAX - R_MIN))) records/s ceiling=$P"
echo "info e2e_throughput $S_N delivered in $((S_MAX - S_MIN)) ms (submits took ${T_SUB} s of ${T_ALL} s wall); $S_ATT send attempts, at most $S_MAXATT for one record"

# ---- 2. latency at 10% of that load ----
LAT_RATE=$(awk -v r="$DURABLE" 'BEGIN { r = r / 10; printf "%.1f", r < 1 ? 1 : r }')
LAT_N=$(awk -v r="$LAT_RATE" -v s="$LAT_SECONDS" -v m="$LAT_MAX" \
    'BEGIN { n = int(r * s); if (n > m) n = m; if (n < 10) n = 10; print n }')
log "latency: $LAT_N single-record submits at $LAT_RATE/s"
OUT=$(py latency school.sock gemeente-e2e "$LAT_RATE" "$LAT_N" lat.cbor school.db "$TIMEOUT")
read -r L_N L_T L_DONE P50 P99 RTT50 RTT99 LATE <<<"$OUT"
echo "e2e latency_p50 $P50 ms"
echo "e2e latency_p99 $P99 ms"
echo "info e2e_latency $L_DONE of $L_N records at $LAT_RATE/s over ${L_T} s, one submit request each on one control connection ($LATE sent late); submit reply p50 $RTT50 ms, p99 $RTT99 ms"

# ---- 3. memory ----
hwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
echo "e2e ketend_rss_sender $(hwm "$PID_S") MiB"
echo "e2e ketend_rss_receiver $(hwm "$PID_G") MiB"

if [ "$FSYNC" = 1 ]; then
    for p in "${PERF_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${PERF_PIDS[@]}"; do # bounded
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    PERF_PIDS=()
    TOTAL=$((S_N + L_DONE))
    for s in school gemeente; do
        awk -F, -v who="$s" -v n="$TOTAL" '$3 ~ /sys_enter_f(data)?sync/ { c[$3] = $1 + 0 }
            END { f = c["syscalls:sys_enter_fsync"]; d = c["syscalls:sys_enter_fdatasync"];
            printf "info e2e_fsyncs %s: %d fsync + %d fdatasync for %d delivered records, %.3f per record\n",
            who, f, d, n, (f + d) / n }' "$s.fsync"
    done
fi
