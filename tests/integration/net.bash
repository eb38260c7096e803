# Multi-node harness for the exchange tests. Load after helpers:
#
#   load helpers
#   load net
#
# Every node lives in $T/ID/ (config node.conf, store ID.db, control socket
# ctl.sock, log ketend.log, policy directory policies/); all keys are in
# $T/keys. Ports are ephemeral, picked on 127.0.0.1. Every wait is bounded;
# teardown stops every ketend this test started, even when the test failed,
# and prints the tail of each node's log on failure.
#
# Policies: ketend enforces them (default deny), so net_conf gives a node one
# policy file per partner it lists, unless the test wrote that file itself
# (net_policy): the open policy (net_policy_open) lets thuiszitter records
# that are not geoorloofd (publieke_taak) and verzuimmeldingen
# (wettelijke_plicht) go both ways with every field, without consent. The
# record generators below make such thuiszitter records. A partner the node
# no longer lists loses its file: ketend refuses a policy for a partner that
# is not configured.
: "${KETEN_TOOLS:=$KETEN_ROOT/build/tests/tools}"
KTPEER=$KETEN_TOOLS/ktpeer

# The plain teardown of helpers.bash, kept so ours can call it last.
eval "helpers_teardown() $(declare -f teardown | tail -n +2)"

teardown() {
    local id
    if [ "${BATS_TEST_COMPLETED:-}" != 1 ] && [ -d "$T" ]; then
        for id in $(net_nodes); do
            echo "--- $id: last lines of ketend.log"
            tail -n 25 "$T/$id/ketend.log" 2>/dev/null
        done
    fi
    net_stop_all
    helpers_teardown
}

# --- small tools ---

# wait_for SECS CMD...: run CMD every 0.1 s until it succeeds; fail after SECS.
wait_for() {
    local secs=$1 deadline
    shift
    deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
    while ! "$@" >/dev/null 2>&1; do
        if [ $(($(date +%s%N) / 1000000)) -ge "$deadline" ]; then
            echo "wait_for: gave up after ${secs}s: $*" >&2
            return 1
        fi
        sleep 0.1
    done
}

# wait_up SECS "NODE..." CMD...: like wait_for, but fails at once (with the
# end of its log) when one of the nodes has died meanwhile.
wait_up() {
    local secs=$1 nodes=$2 deadline id
    shift 2
    deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
    until "$@" >/dev/null 2>&1; do
        for id in $nodes; do
            if ! node_running "$id"; then
                echo "wait_up: $id died (exit $(cat "$T/$id/rc" 2>/dev/null)) while waiting for: $*" >&2
                tail -n 5 "$T/$id/ketend.log" >&2
                return 1
            fi
        done
        if [ $(($(date +%s%N) / 1000000)) -ge "$deadline" ]; then
            echo "wait_up: gave up after ${secs}s: $*" >&2
            return 1
        fi
        sleep 0.1
    done
}

# wait_net SECS CMD...: wait_up over every node running now.
wait_net() {
    local secs=$1 id up=""
    shift
    for id in $(net_nodes); do node_running "$id" && up="$up $id"; done
    wait_up "$secs" "$up" "$@"
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# jget FILE|- EXPR: evaluate a Python expression on the parsed JSON `j`;
# prints strings bare, everything else as JSON.
jget() {
    python3 -c '
import json, sys
src = sys.argv[1]
j = json.load(sys.stdin if src == "-" else open(src))
v = eval(sys.argv[2], {"j": j, "len": len, "sorted": sorted, "set": set, "sum": sum})
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# Every field of each type the open policy lets through (docs/records.md);
# not mas_route, which is leerplicht's own (gemeente nodes only).
NET_PUPIL_FIELDS='"leerling_id", "geboortedatum", "woongemeente", "brin", "swv", "schooljaar",
    "onderwijssoort", "plicht", "startkwalificatie"'
NET_THUISZITTER_FIELDS='"definitie", "ingeschreven", "geoorloofd", "geschorst",
    "vrijstelling_artikel", "begindatum", "einddatum", "peildatum", "aanwezigheid_pct", "duur",
    "oorzaak", "dagbesteding", "wachtlijst", "hulpverlening", "regiehouder", "plan_van_aanpak",
    "passend_aanbod", "eerste_contact", "eerste_gesprek", "doelen_gesteld", "voor_criterium",
    "uitstroom"'
NET_VERZUIMMELDING_FIELDS='"melddatum", "soort", "reden", "periode_start", "periode_eind",
    "minuten", "te_laat", "criterium", "afhandeling"'

# A valid thuiszitter record that the open policy lets go without consent:
# not geoorloofd, enrolled; synthetic BSN 111222333 (passes the elfproef).
# Replaces helpers.bash's geoorloofd_verzuim, which no policy lets out
# without consent.
record_json() {
    cat <<'JSON'
{"type": "thuiszitter",
 "fields": {"leerling_id": "111222333", "definitie": "vier_weken", "ingeschreven": true,
            "geoorloofd": false, "begindatum": "2026-09-07", "aanwezigheid_pct": 30,
            "duur": "4_weken_tot_3_maanden", "regiehouder": "school", "onderwijssoort": "po"}}
JSON
}

# gen_records N [SEED]: N distinct valid thuiszitter records as JSON Lines
# (not geoorloofd, enrolled: the open policy needs no consent for them), each
# with its own BSN (elfproef) and start date.
gen_records() {
    python3 - "$1" "${2:-1}" <<'PY'
import datetime, json, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
w = [9, 8, 7, 6, 5, 4, 3, 2]
k, out = seed * 7919 + 10000000, 0
start = datetime.date(2026, 1, 5)
while out < n:
    k += 1
    d = [int(c) for c in "%08d" % (k % 100000000)]
    r = sum(a * b for a, b in zip(w, d)) % 11
    if r > 9:
        continue
    bsn = "".join(map(str, d)) + str(r)
    if bsn == "000000000":
        continue
    rec = {"type": "thuiszitter",
           "fields": {"leerling_id": bsn, "definitie": "vier_weken",
                      "ingeschreven": True, "geoorloofd": False,
                      "begindatum": (start + datetime.timedelta(days=out % 300)).isoformat(),
                      "aanwezigheid_pct": out % 50, "duur": "4_weken_tot_3_maanden",
                      "oorzaak": "onbekend", "regiehouder": "school", "onderwijssoort": "po"}}
    print(json.dumps(rec, separators=(",", ":")))
    out += 1
PY
}

# --- nodes ---

net_nodes() { cat "$T/.nodes" 2>/dev/null; }

# node_add ID ROLE: keys for a new node and a free port.
node_add() {
    mkdir -p "$T/keys" "$T/$1/policies" || return 1
    chmod 700 "$T/keys"
    keys "$T/keys" "$1" "$2" || return 1
    echo "$2" >"$T/$1/role"
    free_port >"$T/$1/port"
    : >"$T/$1/partners"
    echo "$1" >>"$T/.nodes"
}

node_port() { cat "$T/$1/port"; }
node_sock() { echo "$T/$1/ctl.sock"; }
node_db() { echo "$T/$1/$1.db"; }
node_log() { echo "$T/$1/ketend.log"; }
node_policies() { echo "$T/$1/policies"; }
node_pid() { cat "$T/$1/pid" 2>/dev/null; }

# net_partner A B: A lists B as a partner (one direction).
net_partner() {
    grep -qx "$2" "$T/$1/partners" || echo "$2" >>"$T/$1/partners"
}
# net_unpartner A B: A no longer lists B.
net_unpartner() {
    grep -vx "$2" "$T/$1/partners" >"$T/$1/partners.new" || true
    mv "$T/$1/partners.new" "$T/$1/partners"
}
# net_link A B: A and B list each other.
net_link() { net_partner "$1" "$2" && net_partner "$2" "$1"; }

# net_policy ID PARTNER: ID's policy for PARTNER is standard input (a
# libconfig policy file, docs/policy.md). net_conf keeps it.
net_policy() {
    local f
    f="$(node_policies "$1")/$2.conf"
    mkdir -p "$(node_policies "$1")" || return 1
    cat >"$f" || return 1
    chmod 644 "$f"
}

# net_policy_open ID PARTNER: the open policy (see the top of this file).
net_policy_open() {
    local rules
    rules="
      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";
        identifier = \"bsn\"; retention_days = 365;
        fields = [ $NET_PUPIL_FIELDS, $NET_THUISZITTER_FIELDS ]; },
      { type = \"verzuimmelding\"; grondslag = \"wettelijke_plicht\"; doel = \"zorgoverleg\";
        identifier = \"bsn\"; retention_days = 365;
        fields = [ $NET_PUPIL_FIELDS, $NET_VERZUIMMELDING_FIELDS ]; }"
    net_policy "$1" "$2" <<EOF
# net.bash: the open policy of $1 for $2 (both ways, every field)
partner = "$2";
versions = (
  { version = 1; valid_from = "2025-08-01"; reference = "net.bash open policy";
    send = ($rules
    );
    receive = ($rules
    );
  }
);
EOF
}

# net_policies ID: ID's policy directory follows its partners: a partner
# without a file gets the open policy; the file of a partner ID no longer
# lists is removed.
net_policies() {
    local id=$1 dir p f
    dir=$(node_policies "$id")
    mkdir -p "$dir" && chmod 755 "$dir" || return 1
    for f in "$dir"/*.conf; do
        [ -e "$f" ] || continue
        p=$(basename "$f" .conf)
        grep -qx -- "$p" "$T/$id/partners" || rm -f "$f"
    done
    while read -r p; do
        [ -n "$p" ] || continue
        [ -e "$dir/$p.conf" ] || net_policy_open "$id" "$p" || return 1
    done <"$T/$id/partners"
}

# net_conf ID [EXTRA NODE SETTINGS]: (re)write ID's config from its partners,
# and its policy directory (net_policies).
net_conf() {
    local id=$1 p first=1
    {
        echo "node = {"
        echo "  id = \"$id\";"
        echo "  key = \"../keys/$id.key\";"
        echo "  listen = \"tcp://127.0.0.1:$(node_port "$id")\";"
        echo "  store = \"$id.db\";"
        echo "  control = \"ctl.sock\";"
        echo "  policies = \"policies\";"
        echo "  retry_max = ${NET_RETRY_MAX:-2};"
        echo "  max_message_age = ${NET_MAX_AGE:-3600};"
        echo "  $2"
        echo "};"
        echo "access = { operators = ( \"uid:$(id -u)\" ); auditors = ( \"uid:$(id -u)\" ); };"
        echo "partners = ("
        while read -r p; do
            [ -n "$p" ] || continue
            [ $first = 1 ] || echo "  ,"
            first=0
            echo "  { id = \"$p\"; role = \"$(cat "$T/$p/role")\"; key = \"../keys/$p.pub\";"
            echo "    endpoint = \"tcp://127.0.0.1:$(node_port "$p")\"; }"
        done <"$T/$id/partners"
        echo ");"
    } >"$T/$id/node.conf"
    chmod 644 "$T/$id/node.conf"
    net_policies "$id"
}

# net_up ID ROLE ID ROLE ...: add the nodes, link every pair, write configs.
net_up() {
    local ids=() a b
    while [ $# -ge 2 ]; do
        node_add "$1" "$2" || return 1
        ids+=("$1")
        shift 2
    done
    for a in "${ids[@]}"; do
        for b in "${ids[@]}"; do
            [ "$a" = "$b" ] || net_partner "$a" "$b"
        done
    done
    for a in "${ids[@]}"; do net_conf "$a"; done
}

# node_ready ID: the control socket answers with a ketend version.
node_ready() {
    "$KETENCTL" version -s "$(node_sock "$1")" 2>/dev/null | grep -qE '^ketend +[0-9]'
}

# node_start_bg ID: start ketend without waiting for it to be ready.
node_start_bg() {
    local id=$1 dir=$T/$1
    rm -f "$dir/rc" "$dir/pid"
    (
        set +e # bats runs with errexit: a killed ketend must still leave rc
        cd "$dir" || exit 1
        "$KETEND" -c "$dir/node.conf" -d 2>>"$dir/ketend.log" </dev/null >/dev/null &
        echo $! >"$dir/pid"
        echo $! >>"$T/.pids"
        wait $!
        echo $? >"$dir/rc"
    ) >/dev/null 2>&1 3>&- &
    wait_for 5 test -s "$dir/pid"
}

# node_start ID: start ketend in the background (log appended to ID's
# ketend.log) and wait until it answers on its control socket. The wrapper
# records ketend's pid, and its exit status in ID/rc when it ends.
node_start() {
    node_start_bg "$1" || return 1
    if ! wait_for 15 node_ready "$1"; then
        echo "node_start: $1 did not come up; its log:" >&2
        tail -n 30 "$T/$1/ketend.log" >&2
        return 1
    fi
}

node_running() { [ -n "$(node_pid "$1")" ] && [ ! -e "$T/$1/rc" ]; }

# node_wait_exit ID SECS: wait for ID's ketend to end; prints its exit status.
node_wait_exit() {
    wait_for "$2" test -e "$T/$1/rc" || return 1
    cat "$T/$1/rc"
}

# node_stop ID: SIGTERM; SIGKILL after 10 s. Prints the exit status.
node_stop() {
    local pid
    pid=$(node_pid "$1")
    [ -n "$pid" ] || return 1
    [ -e "$T/$1/rc" ] && { cat "$T/$1/rc"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    if ! node_wait_exit "$1" 10; then
        kill -KILL "$pid" 2>/dev/null
        node_wait_exit "$1" 5
        echo "node_stop: $1 ignored SIGTERM for 10 s" >&2
        return 1
    fi
}

# node_kill ID: SIGKILL, and wait until it is gone.
node_kill() {
    local pid
    pid=$(node_pid "$1")
    [ -n "$pid" ] || return 1
    kill -KILL "$pid" 2>/dev/null
    node_wait_exit "$1" 5 >/dev/null
}

node_restart() { node_stop "$1" >/dev/null && node_start "$1"; }

# net_stop_all: every ketend this test started: SIGTERM, SIGKILL after 5 s.
net_stop_all() {
    local pid deadline alive
    [ -f "$T/.pids" ] || return 0
    for pid in $(cat "$T/.pids"); do kill -TERM "$pid" 2>/dev/null; done
    deadline=$(($(date +%s) + 5))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        alive=0
        for pid in $(cat "$T/.pids"); do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in $(cat "$T/.pids"); do kill -KILL "$pid" 2>/dev/null; done
    rm -f "$T/.pids"
}

# --- asking a node ---

# nctl ID CMD ARGS...: ketenctl CMD -s ID's socket ARGS
nctl() {
    local id=$1 cmd=$2
    shift 2
    "$KETENCTL" "$cmd" -s "$(node_sock "$id")" "$@"
}

# nget ID CMD EXPR: ketenctl CMD --json at ID, then jget EXPR.
nget() {
    nctl "$1" "$2" --json | jget - "$3"
}

# outbox_count ID STATE / inbox_count ID
outbox_count() { nget "$1" status "j['outbox']['$2']"; }
inbox_count() { nget "$1" status "j['inbox']['accepted']"; }

# count_is N CMD...: the output of CMD is N (for wait_for).
count_is() {
    local n=$1 v
    shift
    v=$("$@" 2>/dev/null) || return 1
    [ "$v" = "$n" ]
}

# partner_connected ID PARTNER
partner_connected() {
    [ "$(nget "$1" status "[p['connected'] for p in j['partners'] if p['id']=='$2'][0]")" = true ]
}

# --- logs ---

# log_has ID FIXED-STRING: ID's log contains it.
log_has() { grep -qF -- "$2" "$(node_log "$1")"; }

# no_log_has FIXED-STRING: no node's log contains it (prints offenders).
no_log_has() {
    local id bad=0
    for id in $(net_nodes); do
        [ -f "$(node_log "$id")" ] || continue
        if grep -nF -- "$1" "$(node_log "$id")"; then
            echo "found in $id's log" >&2
            bad=1
        fi
    done
    return $bad
}

# no_bsn_in_logs FILE: none of the BSNs in JSON Lines FILE is in any log.
no_bsn_in_logs() {
    local bsns bad=0 id
    bsns=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.loads(line)["fields"]["leerling_id"])' "$1")
    for id in $(net_nodes); do
        [ -f "$(node_log "$id")" ] || continue
        if grep -nFf <(echo "$bsns") "$(node_log "$id")"; then
            echo "a BSN is in $id's log" >&2
            bad=1
        fi
    done
    return $bad
}

# integrity_ok DB: sqlite3 PRAGMA integrity_check prints exactly "ok".
integrity_ok() {
    local out
    out=$(sqlite3 "$1" 'PRAGMA integrity_check;' 2>&1)
    echo "$1: $out"
    [ "$out" = ok ]
}
