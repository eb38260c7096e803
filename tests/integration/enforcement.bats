#!/usr/bin/env bats
# Policy and consent enforcement on a live network (issue 4), as operators
# meet it through ketenctl on several ketend: fields stripped per partner,
# types refused, fan-out by policy, records held until a matching consent
# (purpose, recipient, type, who consents at which age, the last valid day),
# the receiver's own receive rules, withdrawal purging the record at every
# receiver, policy reloads that fail keeping the old policy, a node that
# will not start on a bad policy, and the raw-file marker search: after a
# withdrawal and the purge job no byte of the pupil is left in any node's
# database, WAL or log.

load helpers
load net
load flows
bats_require_minimum_version 1.5.0 # run --separate-stderr

# ---------------------------------------------------------------------------

@test "a field the school's send rule does not allow is stripped; the SWV never sees it" {
    school_gemeente_swv
    # the school sends thuiszitters to the SWV without oorzaak, and the SWV
    # does not accept oorzaak either: were it not stripped, the record would
    # be rejected at the SWV
    policy school-a swv-a "$(tz_rule "$TZ_NO_OORZAAK")" ""
    policy swv-a school-a "" "$(tz_rule "$TZ_NO_OORZAAK")"
    start_all school-a swv-a gemeente-a
    tz 274839167 '"oorzaak":"schoolgebonden","dagbesteding":"thuisdocent"' >rec.json
    submit school-a --to swv-a --to gemeente-a rec.json
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    id=${lines[0]}
    [[ "$id" =~ $HEX32 ]]
    # the school's operator is told which field stays home, per recipient
    [ "${#stderr_lines[@]}" -eq 2 ]
    [[ "$stderr" == *"ketenctl: record $id to swv-a: queued; not sent, the policy does not allow: oorzaak"* ]]
    [[ "$stderr" == *"ketenctl: record $id to gemeente-a: queued"* ]]
    [[ "$stderr" != *"gemeente-a: queued; not sent"* ]]
    [[ "$stderr" != *schoolgebonden* ]]

    wait_net 20 has_record swv-a "$id"
    wait_net 20 has_record gemeente-a "$id"
    nctl swv-a show "$id" --json >swv.json
    [ "$(jget swv.json '"oorzaak" in j["record"]["fields"]')" = false ]
    # everything else arrived as submitted
    [ "$(jget swv.json 'sorted(j["record"]["fields"].items())')" = \
      "$(jget rec.json 'sorted((k, v) for k, v in j["fields"].items() if k != "oorzaak")')" ]
    # the gemeente's policy allows oorzaak: it got the whole record
    nctl gemeente-a show "$id" --json >gem.json
    [ "$(jget gem.json 'j["record"]["fields"]["oorzaak"]')" = schoolgebonden ]
    [ "$(copy_state school-a "$id" swv-a)" = delivered ]
    # audited by name, never by value
    log_has school-a "record $id to swv-a: queued, fields stripped by policy: oorzaak"
    no_log_has schoolgebonden
    no_log_has 274839167
}

@test "a type without a send rule is refused: exit 1, the reason, nothing queued" {
    school_gemeente_swv
    # the school may send thuiszitters to the gemeente, but no verzuimmelding
    policy school-a gemeente-a "$(tz_rule)" ""
    policy school-a swv-a "$(tz_rule)" ""
    start_all school-a gemeente-a
    vm 583172040 >vm.json
    submit school-a --to gemeente-a vm.json
    [ "$status" -eq 1 ]
    [ "$output" = "" ]
    [ "$stderr" = "ketenctl: submit: record 1: refused: no send rule for verzuimmelding to gemeente-a on $TODAY (ketenctl policy explain) (invalid)" ]
    [ "$(outbox_len school-a)" = 0 ]
    # without --to: no partner has a rule for it
    submit school-a vm.json
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"record 1: no partner's policy has a send rule for verzuimmelding on $TODAY"* ]]
    [ "$(outbox_len school-a)" = 0 ]
    # a refusal fails the whole submission: the good record before it stays too
    { tz 583172040; vm 583172040; } >both.jsonl
    submit school-a --to gemeente-a both.jsonl
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"record 2: refused: no send rule for verzuimmelding to gemeente-a"* ]]
    [ "$output" = "" ]
    [ "$(outbox_len school-a)" = 0 ]
    nctl school-a status --json >st.json
    [ "$(jget st.json 'sum(j["outbox"].values())')" = 0 ]
    # one refused recipient among allowed ones fails it all as well
    submit school-a --to gemeente-a --to swv-a vm.json
    [ "$status" -eq 1 ]
    [ "$(outbox_len school-a)" = 0 ]
    log_has school-a "submit for uid"
    no_log_has 583172040
}

@test "submit without --to fans out to exactly the partners with a send rule for the type" {
    net_up school-a school gemeente-a gemeente swv-a swv swv-b swv
    # thuiszitters go to gemeente-a and swv-a; swv-b only gets verzuimmeldingen
    policy school-a swv-b "$(vm_rule)" ""
    start_all school-a gemeente-a swv-a swv-b
    tz 418620933 >rec.json
    submit school-a rec.json
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    id=${lines[0]}
    [ "$(printf '%s\n' "${stderr_lines[@]}" | sort | tr '\n' '|')" = \
      "ketenctl: record $id to gemeente-a: queued|ketenctl: record $id to swv-a: queued|" ]
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    wait_net 20 copy_is school-a "$id" swv-a delivered
    [ "$(nctl school-a show "$id" --json | jget - 'sorted(r["partner"] for r in j["outbox"])')" = '["gemeente-a", "swv-a"]' ]
    has_record gemeente-a "$id"
    has_record swv-a "$id"
    # and a verzuimmelding (fan-out too) goes to all three: everyone has a rule
    vm 418620933 >vm.json
    submit school-a vm.json
    [ "$status" -eq 0 ]
    vid=${lines[0]}
    [ "${#stderr_lines[@]}" -eq 3 ]
    wait_net 20 copy_is school-a "$vid" swv-b delivered
    # swv-b got the verzuimmelding and nothing else
    [ "$(inbox_ids swv-b)" = "[\"$vid\"]" ]
    wait_net 20 has_record gemeente-a "$vid"
    wait_net 20 has_record swv-a "$vid"
}

@test "held until a matching consent: another doel, recipient or type, a refusal or a withdrawn consent do not release it" {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule), $(tz_rule)" ""
    policy gemeente-a school-a "" "$(gv_rule), $(tz_rule)"
    policy school-a swv-a "$(gv_rule)" ""
    start_all school-a gemeente-a
    bsn=360591875
    gv $bsn 2014-05-12 >rec.json # 12 years old: the parents consent
    submit school-a --to gemeente-a rec.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [ "$stderr" = "ketenctl: record $id to gemeente-a: held until consent is given" ]
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]
    [ "$(outbox_count school-a held)" = 1 ]

    # granting runs the release at once, so each state below is final
    grant school-a $bsn gemeente-a zorgoverleg geoorloofd_verzuim ouders >/dev/null   # another doel
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]
    grant school-a $bsn swv-a melding_geoorloofd geoorloofd_verzuim ouders >/dev/null  # another recipient
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]
    c_type=$(grant school-a $bsn gemeente-a melding_geoorloofd thuiszitter ouders)      # another type
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]
    withdraw school-a "$c_type"
    grant school-a $bsn gemeente-a melding_geoorloofd geoorloofd_verzuim ouders --niet-akkoord >/dev/null
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]
    # (the refusal is in force for that doel: nothing else can be recorded
    # until it is withdrawn)
    c_no=$(consent school-a list --json | jget - '[c["id"] for c in j["consents"] if c["decision"]=="niet_akkoord"][0]')
    withdraw school-a "$c_no"
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]

    # a withdrawn matching consent never releases: a record submitted after
    # the withdrawal stays held, also when another grant runs the release
    bsn2=274839167
    c_w=$(grant school-a $bsn2 gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    withdraw school-a "$c_w"
    gv $bsn2 2014-05-12 >rec2.json
    submit school-a --to gemeente-a rec2.json
    [ "$status" -eq 0 ]
    id2=${lines[0]}
    [ "$stderr" = "ketenctl: record $id2 to gemeente-a: held until consent is given" ]

    # nothing held went out: a record sent after them arrives alone
    sid=$(sentinel school-a gemeente-a)
    [ "$(inbox_ids gemeente-a)" = "[\"$sid\"]" ]

    # the matching consent releases the first record, and only that one
    grant school-a $bsn gemeente-a melding_geoorloofd geoorloofd_verzuim ouders >/dev/null
    st=$(copy_state school-a "$id" gemeente-a)
    [[ "$st" == queued || "$st" == sent || "$st" == delivered ]]
    [ "$(copy_state school-a "$id2" gemeente-a)" = held ]
    log_has school-a "record $id to gemeente-a: released by consent"
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    [ "$(nctl gemeente-a show "$id" --json | jget - 'j["record"]["fields"]["geboortedatum"]')" = 2014-05-12 ]
    [ "$(inbox_ids gemeente-a)" = "$(python3 -c 'import json,sys; print(json.dumps(sorted(sys.argv[1:])))' "$id" "$sid")" ]
    [ "$(copy_state school-a "$id2" gemeente-a)" = held ]
    no_log_has $bsn
    no_log_has $bsn2
}

@test "age 16 switches who consents: under 'wet' the parents until the day before, the pupil from the birthday" {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule wet)" ""
    policy gemeente-a school-a "" "$(gv_rule wet)"
    # with toestemming_door = ouders_en_leerling, from 16 only both together count
    policy school-a swv-a "$(gv_rule ouders_en_leerling)" ""
    policy swv-a school-a "" "$(gv_rule ouders_en_leerling)"
    start_all school-a gemeente-a swv-a
    b16=$(born_16_years_before "$TODAY")                   # 16 today
    b15=$(born_16_years_before "$(date -d tomorrow +%F)")  # 16 tomorrow
    echo "16 today: born $b16; 16 tomorrow: born $b15"
    old=418620933 young=583172040
    gv $old "$b16" >old.json
    gv $young "$b15" >young.json
    submit school-a --to gemeente-a old.json
    [ "$status" -eq 0 ]
    id_old=${lines[0]}
    submit school-a --to gemeente-a young.json
    [ "$status" -eq 0 ]
    id_young=${lines[0]}
    [ "$(outbox_count school-a held)" = 2 ]

    # 16 today: the parents' consent no longer counts, the pupil's does
    c=$(grant school-a $old gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    [ "$(copy_state school-a "$id_old" gemeente-a)" = held ]
    withdraw school-a "$c"
    # 15 (16 tomorrow): the pupil's own consent does not count yet
    c=$(grant school-a $young gemeente-a melding_geoorloofd geoorloofd_verzuim leerling)
    [ "$(copy_state school-a "$id_young" gemeente-a)" = held ]
    withdraw school-a "$c"
    [ "$(outbox_count school-a held)" = 2 ]

    grant school-a $old gemeente-a melding_geoorloofd geoorloofd_verzuim leerling >/dev/null
    [ "$(copy_state school-a "$id_old" gemeente-a)" != held ]
    [ "$(copy_state school-a "$id_young" gemeente-a)" = held ]
    grant school-a $young gemeente-a melding_geoorloofd geoorloofd_verzuim ouders >/dev/null
    [ "$(copy_state school-a "$id_young" gemeente-a)" != held ]
    wait_net 20 copy_is school-a "$id_old" gemeente-a delivered
    wait_net 20 copy_is school-a "$id_young" gemeente-a delivered

    # ouders_en_leerling rule (to the SWV), pupil of 16: the pupil alone is
    # not enough, both together are
    submit school-a --to swv-a old.json
    [ "$status" -eq 0 ]
    id_swv=${lines[0]}
    c=$(grant school-a $old swv-a melding_geoorloofd geoorloofd_verzuim leerling)
    [ "$(copy_state school-a "$id_swv" swv-a)" = held ]
    withdraw school-a "$c"
    grant school-a $old swv-a melding_geoorloofd geoorloofd_verzuim ouders_en_leerling >/dev/null
    wait_net 20 copy_is school-a "$id_swv" swv-a delivered
    no_log_has $old
    no_log_has $young
}

@test "consent expiry is exact: valid until today still releases; ended yesterday never does" {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule)" ""
    policy gemeente-a school-a "" "$(gv_rule)"
    start_all school-a gemeente-a
    last=274839167 ended=360591875
    gv $last 2014-05-12 >last.json
    gv $ended 2014-05-12 >ended.json
    submit school-a --to gemeente-a last.json
    id_last=${lines[0]}
    submit school-a --to gemeente-a ended.json
    id_ended=${lines[0]}
    [ "$(outbox_count school-a held)" = 2 ]

    # a consent that ended yesterday can be recorded (as evidence of what
    # was agreed), is expired from the start and releases nothing
    consent school-a grant --leerling $ended --to gemeente-a --doel melding_geoorloofd \
        --types geoorloofd_verzuim --door ouders --given "$TWO_DAYS_AGO" --until "$YESTERDAY" \
        --ouders-geinformeerd --json >ended-consent.json
    [ "$(jget ended-consent.json 'j["state"]')" = expired ]
    [ "$(copy_state school-a "$id_ended" gemeente-a)" = held ]

    # valid until today: still counts today
    consent school-a grant --leerling $last --to gemeente-a --doel melding_geoorloofd \
        --types geoorloofd_verzuim --door ouders --given "$YESTERDAY" --until "$TODAY" \
        --ouders-geinformeerd --json >last-consent.json
    [ "$(jget last-consent.json 'j["state"]')" = active ]
    wait_net 20 copy_is school-a "$id_last" gemeente-a delivered
    [ "$(copy_state school-a "$id_ended" gemeente-a)" = held ]
    # the purge job does not end it early: today it is still in force
    nctl school-a purge --json >purge.json
    [ "$(jget purge.json 'j["retractions"]')" = 0 ]
    run nctl school-a purge
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "retractions queued:  0" ]
    [ "${#lines[@]}" -eq 6 ]
    [ "${lines[4]}" = "attendance deleted:  0" ]
    [ "$(copy_state school-a "$id_last" gemeente-a)" = delivered ]
    has_record gemeente-a "$id_last"
    [ "$(consent school-a list --leerling $last --json | jget - 'j["consents"][0]["state"]')" = active ]
    [ "$(copy_state school-a "$id_ended" gemeente-a)" = held ]
}

@test "the receiver's own receive rules: a type or a field it does not accept is rejected (denied) and not stored" {
    school_gemeente_swv
    # the school may send verzuimmeldingen and thuiszitters with oorzaak;
    # the gemeente takes thuiszitters without oorzaak, and no verzuimmelding
    policy school-a gemeente-a "$(vm_rule), $(tz_rule)" ""
    policy gemeente-a school-a "" "$(tz_rule "$TZ_NO_OORZAAK")"
    start_all school-a gemeente-a
    vm 418620933 >vm.json
    tz 418620933 '"oorzaak":"kindgebonden"' >tz-oorzaak.json
    tz 418620933 >tz-ok.json
    submit school-a --to gemeente-a vm.json
    [ "$status" -eq 0 ]
    id_vm=${lines[0]}
    submit school-a --to gemeente-a tz-oorzaak.json
    [ "$status" -eq 0 ]
    id_f=${lines[0]}
    submit school-a --to gemeente-a tz-ok.json
    [ "$status" -eq 0 ]
    id_ok=${lines[0]}
    wait_net 20 copy_is school-a "$id_vm" gemeente-a rejected
    wait_net 20 copy_is school-a "$id_f" gemeente-a rejected
    wait_net 20 copy_is school-a "$id_ok" gemeente-a delivered
    [ "$(copy_reason school-a "$id_vm" gemeente-a)" = denied ]
    [ "$(copy_reason school-a "$id_f" gemeente-a)" = denied ]
    [ "$(nctl school-a outbox --state rejected --json | jget - 'sorted((r["id"], r["reason"]) for r in j["outbox"])')" = \
      "$(python3 -c 'import json,sys; print(json.dumps(sorted([[sys.argv[1], "denied"], [sys.argv[2], "denied"]])))' "$id_vm" "$id_f")" ]
    # only the record within its rules is held by the gemeente
    [ "$(inbox_ids gemeente-a)" = "[\"$id_ok\"]" ]
    [ "$(inbox_count gemeente-a)" = 1 ]
    run nctl gemeente-a show "$id_f" --json
    [[ "$output" != *kindgebonden* ]]
    # the log names the reason and the field, never a value
    log_has gemeente-a "record $id_vm from school-a: rejected (denied): no receive rule for verzuimmelding from school-a on $TODAY"
    log_has gemeente-a "record $id_f from school-a: rejected (denied): field 'oorzaak' is not allowed by the receive rule for thuiszitter from 'school-a'"
    no_log_has kindgebonden
    no_log_has 418620933
}

@test "withdrawal retracts a record from both receivers; the school sees retracted, then purged, per recipient" {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule)" ""
    policy gemeente-a school-a "" "$(gv_rule)"
    policy school-a swv-a "$(gv_rule)" ""
    policy swv-a school-a "" "$(gv_rule)"
    start_all school-a gemeente-a swv-a
    bsn=642183508
    gv $bsn 2013-08-30 >rec.json
    submit school-a rec.json # fan-out: both have a rule; both copies held
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [ "${#stderr_lines[@]}" -eq 2 ]
    [[ "$stderr" == *"record $id to gemeente-a: held until consent is given"* ]]
    [[ "$stderr" == *"record $id to swv-a: held until consent is given"* ]]
    c_gem=$(grant school-a $bsn gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    c_swv=$(grant school-a $bsn swv-a melding_geoorloofd geoorloofd_verzuim ouders)
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    wait_net 20 copy_is school-a "$id" swv-a delivered
    has_record gemeente-a "$id"
    has_record swv-a "$id"

    # the SWV is down while both consents are withdrawn: the gemeente
    # confirms at once, the SWV's copy stays retracted until it is back
    [ "$(node_stop swv-a)" = 0 ]
    withdraw school-a "$c_gem"
    withdraw school-a "$c_swv"
    log_has school-a "consent $c_gem ended: 1 retraction queued"
    wait_net 20 copy_is school-a "$id" gemeente-a purged
    wait_net 20 inbox_empty gemeente-a
    [ "$(copy_state school-a "$id" swv-a)" = retracted ]
    nctl school-a outbox --json >out.json
    [ "$(jget out.json "sorted((r['partner'], r['state']) for r in j['outbox'] if r['id']=='$id')")" = \
      '[["gemeente-a", "purged"], ["swv-a", "retracted"]]' ]
    node_start swv-a
    wait_net 30 copy_is school-a "$id" swv-a purged
    wait_net 10 inbox_empty swv-a
    # nothing of the record can be read anywhere any more
    run nctl gemeente-a show "$id" --json
    [[ "$output" != *2013-08-30* ]]
    run nctl swv-a show "$id" --json
    [[ "$output" != *2013-08-30* ]]
    log_has gemeente-a "purged"
    no_log_has $bsn
}

@test "SIGHUP with a broken policy file: the errors are logged and the old policy stays in force" {
    net_up school-a school gemeente-a gemeente
    policy school-a gemeente-a "$(tz_rule)" ""
    start_all school-a gemeente-a
    # the new file would allow verzuimmeldingen, but one rule has no retention
    cat >"$(node_policies school-a)/gemeente-a.conf.new" <<EOF
partner = "gemeente-a";
versions = (
  { version = 1; valid_from = "2025-08-01";
    send = (
      $(tz_rule),
      { type = "verzuimmelding"; grondslag = "wettelijke_plicht"; doel = "zorgoverleg";
        identifier = "bsn"; fields = [ "leerling_id", "soort" ]; }
    );
  }
);
EOF
    chmod 644 "$(node_policies school-a)/gemeente-a.conf.new"
    cp "$(node_policies school-a)/gemeente-a.conf" good.conf
    mv "$(node_policies school-a)/gemeente-a.conf.new" "$(node_policies school-a)/gemeente-a.conf"
    line=$(grep -n 'type = "verzuimmelding"' "$(node_policies school-a)/gemeente-a.conf" | cut -d: -f1)
    kill -HUP "$(node_pid school-a)"
    wait_for 10 log_has school-a "reload failed: the policies in"
    log_has school-a "gemeente-a.conf:$line: send rule for verzuimmelding: missing required setting 'retention_days'"
    node_running school-a
    # the old policy: thuiszitters go, verzuimmeldingen are still refused
    tz 360591875 >tz.json
    submit school-a --to gemeente-a tz.json
    [ "$status" -eq 0 ]
    wait_net 20 copy_is school-a "${lines[0]}" gemeente-a delivered
    vm 360591875 >vm.json
    submit school-a --to gemeente-a vm.json
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"refused: no send rule for verzuimmelding to gemeente-a"* ]]

    # fixed: the next reload takes it
    policy school-a gemeente-a "$(tz_rule), $(vm_rule)" ""
    kill -HUP "$(node_pid school-a)"
    wait_for 10 log_has school-a "policies loaded: 1 partner, 2 rules"
    submit school-a --to gemeente-a vm.json
    [ "$status" -eq 0 ]
    wait_net 20 copy_is school-a "${lines[0]}" gemeente-a delivered
}

@test "a reload whose policy no longer needs consent releases held records (the 5a law change)" {
    net_up school-a school gemeente-a gemeente
    vs_fields='"leerling_id", "artikel", "besluit"'
    policy school-a gemeente-a \
        "$(rule vrijstelling toestemming overleg_vrijstelling "$vs_fields" 'toestemming_door = "wet";')" ""
    policy gemeente-a school-a "" "$(rule vrijstelling wettelijke_plicht overleg_vrijstelling "$vs_fields")"
    start_all school-a gemeente-a
    echo '{"type":"vrijstelling","fields":{"leerling_id":"360591875","artikel":"art_5a","besluit":"toegekend"}}' >vs.json
    submit school-a --to gemeente-a vs.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    [[ "$stderr" == *"record $id to gemeente-a: held until consent is given"* ]]
    sleep 1
    [ "$(copy_state school-a "$id" gemeente-a)" = held ]

    # the law changed: the new version is statutory, so no consent is needed
    policy school-a gemeente-a "$(rule vrijstelling wettelijke_plicht overleg_vrijstelling "$vs_fields")" ""
    kill -HUP "$(node_pid school-a)"
    wait_for 10 log_has school-a "policies loaded: 1 partner, 1 rule"
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    log_has school-a "record $id to gemeente-a: released (its rule no longer needs consent)"
}

@test "ketend refuses to start on an invalid policy, with the same file:line errors as policy check" {
    net_up school-a school gemeente-a gemeente
    dir=$(node_policies school-a)
    policy school-a gemeente-a "$(rule geoorloofd_verzuim publieke_taak melding_geoorloofd '"leerling_id", "begindatum", "criterium"')" ""
    line=$(grep -n 'type = "geoorloofd_verzuim"' "$dir/gemeente-a.conf" | cut -d: -f1)
    [ -n "$line" ]
    run "$KETENCTL" policy check -c "$T/school-a/node.conf" "$dir"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$dir/gemeente-a.conf:$line: send rule for geoorloofd_verzuim: geoorloofd_verzuim may only be exchanged on grondslag toestemming (DOMAIN.md §8 rule 2)"* ]]
    [[ "$output" != *"policies OK"* ]]

    cd "$T/school-a"
    run timeout 20 "$KETEND" -c "$T/school-a/node.conf" -d
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"gemeente-a.conf:$line: send rule for geoorloofd_verzuim: geoorloofd_verzuim may only be exchanged on grondslag toestemming (DOMAIN.md §8 rule 2)"* ]]
    # it never listened: no control socket was left
    [ ! -e "$(node_sock school-a)" ]
    # every error policy check names, ketend names too
    "$KETENCTL" policy check -c "$T/school-a/node.conf" "$dir" 2>&1 | grep -oE 'gemeente-a\.conf:[0-9]+: .*' >check.err || true
    [ -s check.err ]
    while read -r e; do [[ "$output" == *"$e"* ]]; done <check.err

    # a policy file group-writable: refused too
    policy school-a gemeente-a "$(tz_rule)" ""
    chmod g+w "$dir/gemeente-a.conf"
    run timeout 20 "$KETEND" -c "$T/school-a/node.conf" -d
    [ "$status" -eq 1 ]
    [[ "$output" == *"gemeente-a.conf: policy file is writable by group or others"* ]]
    chmod g-w "$dir/gemeente-a.conf"
    node_start school-a
}

# --- the marker search ---

MARKER_BSN=739204518           # elfproef; used by no other test
MARKER_DATES="2013-02-27 2026-03-17 2026-06-09 2026-04-21" # geboorte, begin, eind, peil

# subject_hex KEYFILE BSN: the node's subject pseudonym of BSN (protocol.md
# §9), computed from the node's X25519 secret (bytes 106..137 of ID.key).
subject_hex() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
secret = open(sys.argv[1], "rb").read()[106:138]
kp = hashlib.blake2b(b"keten-subject-v1", key=secret, digest_size=32).digest()
print(hashlib.blake2b(sys.argv[2].encode(), key=kp, digest_size=32).hexdigest())
PY
}

# hits FILE... -- NEEDLE...: prints "FILE: NEEDLE" for every needle found in a
# file's raw bytes (a needle is ASCII text, or hex:HEX for raw bytes).
hits() {
    python3 - "$@" <<'PY'
import os, sys
args = sys.argv[1:]
sep = args.index("--")
files, needles = args[:sep], args[sep + 1:]
for f in files:
    if not os.path.exists(f):
        continue
    data = open(f, "rb").read()
    for n in needles:
        b = bytes.fromhex(n[4:]) if n.startswith("hex:") else n.encode()
        if b in data:
            print("%s: %s (%d)" % (f, n, data.count(b)))
PY
}

node_files() { # ID: its database, WAL and log
    echo "$(node_db "$1")" "$(node_db "$1")-wal" "$(node_db "$1")-shm" "$(node_log "$1")"
}

@test "marker: after withdrawal and the purge job, no node's database, WAL or log holds a byte of the pupil" {
    school_gemeente_swv
    policy school-a gemeente-a "$(gv_rule)" ""
    policy gemeente-a school-a "" "$(gv_rule)"
    policy school-a swv-a "$(gv_rule)" ""
    policy swv-a school-a "" "$(gv_rule)"
    start_all school-a gemeente-a swv-a
    set -- $MARKER_DATES
    gv $MARKER_BSN "$1" "\"einddatum\":\"$3\",\"peildatum\":\"$4\"" |
        sed "s/\"begindatum\":\"[0-9-]*\"/\"begindatum\":\"$2\"/" >marker.json
    [ "$(jget marker.json 'j["fields"]["begindatum"]')" = "$2" ]
    needles=("$MARKER_BSN" $MARKER_DATES)
    # the search finds what is there (the input file holds every marker)
    [ "$(hits marker.json -- "${needles[@]}" | wc -l)" = 5 ]

    submit school-a marker.json
    [ "$status" -eq 0 ]
    id=${lines[0]}
    c1=$(grant school-a $MARKER_BSN gemeente-a melding_geoorloofd geoorloofd_verzuim ouders)
    c2=$(grant school-a $MARKER_BSN swv-a melding_geoorloofd geoorloofd_verzuim ouders)
    wait_net 20 copy_is school-a "$id" gemeente-a delivered
    wait_net 20 copy_is school-a "$id" swv-a delivered
    [ "$(nctl swv-a show "$id" --json | jget - 'j["record"]["fields"]["peildatum"]')" = "$4" ]
    # delivered and readable, yet never in a log line
    no_log_has $MARKER_BSN
    # the receivers know the pupil (by their own pseudonym, never the BSN)
    for n in gemeente-a swv-a; do
        s=$(subject_hex "$T/keys/$n.key" $MARKER_BSN)
        echo "$n: subject $s"
        [ -n "$(hits $(node_files $n) -- "hex:$s")" ]
    done

    withdraw school-a "$c1"
    withdraw school-a "$c2"
    wait_net 20 copy_is school-a "$id" gemeente-a purged
    wait_net 20 copy_is school-a "$id" swv-a purged
    inbox_empty gemeente-a
    inbox_empty swv-a
    for n in school-a gemeente-a swv-a; do
        nctl $n purge --json >purge-$n.json
        cat purge-$n.json
        # a second run finds nothing left to do
        [ "$(nctl $n purge --json | jget - 'j["inbox"] + j["outbox"] + j["subjects"] + j["retractions"]')" = 0 ]
    done
    # the receivers forgot the pupil's key: nothing of theirs remains
    for n in gemeente-a swv-a; do
        [ "$(jget purge-$n.json 'j["subjects"]')" = 1 ]
    done

    # while running (after the purge's WAL truncation) and after a clean stop
    files=()
    for n in school-a gemeente-a swv-a; do files+=($(node_files $n)); done
    found=$(hits "${files[@]}" -- "${needles[@]}")
    echo "running: ${found:-no hits}"
    [ -z "$found" ]
    # The pseudonym stays in one place only: the append-only audit log, which
    # must still account for the exchange (docs/audit.md). Everywhere else it
    # is gone: a backup with the audit table dropped holds no byte of it.
    for n in gemeente-a swv-a; do
        s=$(subject_hex "$T/keys/$n.key" $MARKER_BSN)
        [ "$(sqlite3 "$(node_db $n)" "SELECT count(*) FROM audit WHERE subject = X'$s'")" -gt 0 ]
        sqlite3 "$(node_db $n)" ".backup $T/$n-noaudit.db"
        sqlite3 "$T/$n-noaudit.db" "PRAGMA journal_mode = DELETE; DROP TABLE audit; VACUUM;" >/dev/null
        found=$(hits "$T/$n-noaudit.db" "$(node_log $n)" -- "hex:$s")
        echo "$n pseudonym outside the audit log: ${found:-no hits}"
        [ -z "$found" ]
    done
    for n in school-a gemeente-a swv-a; do [ "$(node_stop $n)" = 0 ]; done
    ls -l "$T"/*/*.db*
    found=$(hits "${files[@]}" -- "${needles[@]}")
    echo "stopped: ${found:-no hits}"
    [ -z "$found" ]
    for n in school-a gemeente-a swv-a; do integrity_ok "$(node_db $n)"; done
}
