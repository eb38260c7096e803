# flows.bash - policies, records and consent as the multi-node tests use
# them through ketenctl: rule and policy writers, record makers, submit,
# grant and withdraw, and questions about an outbox copy's state. Loaded
# after net.bash.

HEX32='^[0-9a-f]{32}$'
TODAY=$(date +%F)
YESTERDAY=$(date -d yesterday +%F)
TWO_DAYS_AGO=$(date -d '2 days ago' +%F)

# Field lists (docs/records.md); net.bash has the pupil and thuiszitter ones.
TZ_ALL="$NET_PUPIL_FIELDS, $NET_THUISZITTER_FIELDS"
TZ_NO_OORZAAK=${TZ_ALL/\"oorzaak\", /}
GV_ALL="$NET_PUPIL_FIELDS, \"begindatum\", \"einddatum\", \"peildatum\", \"aanwezigheid_pct\",
    \"weken_aaneengesloten\", \"reden\", \"ziekmeldingen\", \"criterium\", \"oorzaak\",
    \"dagbesteding\", \"wachtlijst\", \"hulpverlening\", \"belastbaarheid\", \"regiehouder\",
    \"status\", \"afsluitreden\""
VM_ALL="$NET_PUPIL_FIELDS, $NET_VERZUIMMELDING_FIELDS"

# --- policies ---

# rule TYPE GRONDSLAG DOEL FIELDS [MORE SETTINGS]: one rule of a policy file.
rule() {
    printf '{ type = "%s"; grondslag = "%s"; doel = "%s"; identifier = "bsn";\n' "$1" "$2" "$3"
    printf '  retention_days = 365; %s\n  fields = [ %s ]; }' "${5:-}" "$4"
}
tz_rule() { rule thuiszitter publieke_taak zorgoverleg "${1:-$TZ_ALL}"; }
vm_rule() { rule verzuimmelding wettelijke_plicht zorgoverleg "$VM_ALL"; }
gv_rule() { # [DOOR]
    rule geoorloofd_verzuim toestemming melding_geoorloofd "$GV_ALL" \
        "toestemming_door = \"${1:-wet}\";"
}

# policy ID PARTNER SEND-RULES RECEIVE-RULES: ID's policy for PARTNER, one
# version in force since 2025-08-01; a rule list may be empty (no such
# direction) and holds rules joined by commas.
policy() {
    {
        echo "partner = \"$2\";"
        echo "versions = ("
        echo "  { version = 1; valid_from = \"2025-08-01\"; reference = \"enforcement.bats\";"
        [ -z "$3" ] || printf '    send = (\n%s\n    );\n' "$3"
        [ -z "$4" ] || printf '    receive = (\n%s\n    );\n' "$4"
        echo "  }"
        echo ");"
    } | net_policy "$1" "$2"
}

# --- records ---

# tz BSN [EXTRA-JSON-FIELDS]: a thuiszitter that needs no consent.
tz() {
    echo "{\"type\":\"thuiszitter\",\"fields\":{\"leerling_id\":\"$1\",\"definitie\":\"vier_weken\",\"ingeschreven\":true,\"geoorloofd\":false,\"begindatum\":\"2026-09-07\",\"aanwezigheid_pct\":20${2:+,$2}}}"
}
# gv BSN GEBOORTEDATUM [EXTRA-JSON-FIELDS]: a geoorloofd_verzuim (consent only).
gv() {
    echo "{\"type\":\"geoorloofd_verzuim\",\"fields\":{\"leerling_id\":\"$1\",\"geboortedatum\":\"$2\",\"begindatum\":\"2026-09-14\",\"aanwezigheid_pct\":40,\"reden\":\"ziek\",\"status\":\"open\"${3:+,$3}}}"
}
# vm BSN: a verzuimmelding.
vm() {
    echo "{\"type\":\"verzuimmelding\",\"fields\":{\"leerling_id\":\"$1\",\"soort\":\"wettelijk\",\"melddatum\":\"2026-10-05\",\"minuten\":960}}"
}

# born_16_years_before DATE: the birth date of a pupil who turns 16 on DATE
# (29 February, in a year without it, becomes 28 February: that pupil is 16
# on 1 March, so on DATE they are still 15 — never used that way here).
born_16_years_before() {
    python3 -c '
import datetime, sys
d = datetime.date.fromisoformat(sys.argv[1])
try:
    print(d.replace(year=d.year - 16).isoformat())
except ValueError:
    print(d.replace(year=d.year - 16, day=28).isoformat())' "$1"
}

# --- asking the nodes ---

# submit ID ARGS...: `ketenctl submit` at ID with stdout and stderr apart
# (run --separate-stderr): ids in $output, one line per copy in $stderr.
submit() {
    local id=$1
    shift
    run --separate-stderr nctl "$id" submit "$@"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

# nctl2 ID GROUP SUB ARGS...: a two-word ketenctl command at ID's socket.
nctl2() {
    local id=$1 group=$2 sub=$3
    shift 3
    "$KETENCTL" "$group" "$sub" -s "$(node_sock "$id")" "$@"
}

# consent ID SUB ARGS...: ketenctl consent SUB at ID's socket
consent() {
    local id=$1 sub=$2
    shift 2
    "$KETENCTL" consent "$sub" -s "$(node_sock "$id")" "$@"
}

# grant ID BSN TO DOEL TYPES DOOR [MORE OPTIONS]: a consent at ID; prints its id.
grant() {
    local id=$1 bsn=$2 to=$3 doel=$4 types=$5 door=$6
    shift 6
    consent "$id" grant --leerling "$bsn" --to "$to" --doel "$doel" --types "$types" \
        --door "$door" --until 2099-07-31 --ouders-geinformeerd --json "$@" | jget - 'j["id"]'
}
withdraw() { consent "$1" withdraw "$2" >/dev/null; }

# copy_state ID RECORD PARTNER: the state of ID's outbox copy of RECORD for PARTNER.
copy_state() {
    nctl "$1" show "$2" --json | jget - "[r['state'] for r in j['outbox'] if r['partner']=='$3'][0]"
}
copy_is() { [ "$(copy_state "$1" "$2" "$3")" = "$4" ]; }
copy_reason() {
    nctl "$1" show "$2" --json | jget - "[r['reason'] for r in j['outbox'] if r['partner']=='$3'][0]"
}
# inbox_ids ID: the record ids in ID's inbox, sorted, as JSON.
inbox_ids() { nctl "$1" inbox --json | jget - 'sorted(r["id"] for r in j["inbox"])'; }
has_record() { [ "$(nctl "$1" inbox --json | jget - "'$2' in [r['id'] for r in j['inbox']]")" = true ]; }
inbox_empty() { [ "$(nctl "$1" inbox --json | jget - 'len(j["inbox"])')" = 0 ]; }
outbox_len() { nctl "$1" outbox --json | jget - 'len(j["outbox"])'; }

# sentinel ID TO: a thuiszitter from ID to TO, waited for until delivered, so
# everything ID could have sent to TO before it has had its chance.
sentinel() {
    local sid
    tz 642183508 >sentinel.json
    sid=$(nctl "$1" submit --to "$2" sentinel.json 2>/dev/null) || return 1
    wait_net 20 copy_is "$1" "$sid" "$2" delivered || return 1
    echo "$sid"
}

# --- the network ---

# school_gemeente_swv: three nodes linked in pairs, open policies, not started.
school_gemeente_swv() {
    net_up school-a school gemeente-a gemeente swv-a swv
}

start_all() {
    local id
    for id in "$@"; do node_start "$id" || return 1; done
}

