#!/usr/bin/env bats
# ketenctl policy check / explain as a privacy officer meets them: OK with a
# count, or every error with file and line; what a rule does on a date.

load helpers

setup_example() {
    cp -r "$KETEN_ROOT/policies" policies
    chmod -R go-w policies
}

@test "the example policies of every demo node pass" {
    setup_example
    for n in school-de-linde swv-vo-9901 gemeente-nijmegen; do
        run ctl policy check "policies/$n"
        echo "$output"
        [ "$status" -eq 0 ]
    done
    run ctl policy check policies/school-de-linde
    [ "$output" = "policies OK: 2 partners, 4 rules" ]
    run ctl policy check policies/swv-vo-9901
    [ "$output" = "policies OK: 2 partners, 8 rules" ]
}

@test "check with -c uses the node's policy directory and partner roles" {
    setup_example
    keys k school-de-linde school swv-vo-9901 swv gemeente-nijmegen gemeente
    cat >node.conf <<CONF
node = { id = "school-de-linde"; key = "k/school-de-linde.key"; listen = "tcp://127.0.0.1:*";
         store = "s.db"; control = "s.sock"; policies = "policies/school-de-linde"; };
partners = (
  { id = "swv-vo-9901"; role = "swv"; key = "k/swv-vo-9901.pub"; endpoint = "tcp://127.0.0.1:1"; },
  { id = "gemeente-nijmegen"; role = "gemeente"; key = "k/gemeente-nijmegen.pub";
    endpoint = "tcp://127.0.0.1:2"; }
);
CONF
    run ctl policy check -c node.conf
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "policies OK: 2 partners, 4 rules" ]
    # mas_route may go to the gemeente, never to the SWV: the configuration says which is which
    sed -i 's/"minuten", "te_laat", "criterium" \]/"minuten", "te_laat", "criterium", "mas_route" ]/' \
        policies/school-de-linde/gemeente-nijmegen.conf
    run ctl policy check -c node.conf
    [ "$status" -eq 0 ]
    sed 's/gemeente-nijmegen/swv-vo-9901/' policies/school-de-linde/gemeente-nijmegen.conf \
        >policies/school-de-linde/swv-vo-9901.conf
    run ctl policy check -c node.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"swv-vo-9901.conf:"*": send rule for verzuimmelding: field 'mas_route' is enforcement data and may only go between gemeenten (DOMAIN.md §8 rule 12); partner 'swv-vo-9901' is a swv" ]]
    [ "${#lines[@]}" -eq 1 ]
}

@test "a broken policy: every error as FILE:LINE: message, exit 1" {
    mkdir p
    cat >p/swv-a.conf <<'POL'
partner = "swv-b";
versions = (
  { version = 1; valid_from = "2025-08-01";
    send = (
      { type = "geoorloofd_verzuim"; grondslag = "publieke_taak"; doel = "melding_geoorloofd";
        identifier = "bsn";
        fields = [ "begindatum", "naam" ]; }
    );
  }
);
POL
    run ctl policy check p
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "p/swv-a.conf:1: 'partner' must equal the file name: 'swv-a'" ]
    [ "${lines[1]}" = "p/swv-a.conf:5: send rule for geoorloofd_verzuim: missing required setting 'retention_days'" ]
    [ "${lines[2]}" = "p/swv-a.conf:5: send rule for geoorloofd_verzuim: geoorloofd_verzuim may only be exchanged on grondslag toestemming (DOMAIN.md §8 rule 2)" ]
    [ "${lines[3]}" = "p/swv-a.conf:7: send rule for geoorloofd_verzuim: 'fields': unknown field 'naam' for record type geoorloofd_verzuim" ]
    [ "${lines[4]}" = "p/swv-a.conf:7: send rule for geoorloofd_verzuim: 'fields' must include 'leerling_id': a record without a pupil id cannot be exchanged" ]
    [ "${#lines[@]}" -eq 5 ]
}

@test "a policy file others can write is refused" {
    setup_example
    chmod g+w policies/school-de-linde/swv-vo-9901.conf
    run ctl policy check policies/school-de-linde
    [ "$status" -eq 1 ]
    [ "$output" = "policies/school-de-linde/swv-vo-9901.conf: policy file is writable by group or others; run: chmod go-w policies/school-de-linde/swv-vo-9901.conf" ]
}

@test "no policy directory: no policies, and a note" {
    run ctl policy check nope
    [ "$status" -eq 0 ]
    [[ "$output" == *"nope does not exist"* ]]
    [[ "$output" == *"policies OK: 0 partners, 0 rules"* ]]
}

@test "explain: the fields that go to the SWV and those stripped" {
    setup_example
    run ctl policy explain --dir policies/school-de-linde --to swv-vo-9901 \
        --type geoorloofd_verzuim --date 2026-11-23
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "send geoorloofd_verzuim to 'swv-vo-9901' on 2026-11-23: allowed under version 1" ]
    [[ "$output" == *"grondslag:        toestemming (consent, AVG art. 6(1)(a))"* ]]
    [[ "$output" == *"fields stripped:  geboortedatum, woongemeente, plicht,"* ]]
    [[ "$output" == *"criterium"* ]]
}

@test "explain: a type without a rule is refused (default deny), exit 1" {
    setup_example
    run ctl policy explain --dir policies/school-de-linde --to swv-vo-9901 \
        --type verzuimmelding --date 2026-11-23
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "send verzuimmelding to 'swv-vo-9901' on 2026-11-23: refused (default deny)" ]
    [[ "${lines[1]}" == *"has no send rule for verzuimmelding" ]]
}

@test "explain: the 5a law change picks the version by date" {
    setup_example
    run ctl policy explain --dir policies/gemeente-nijmegen --to swv-vo-9901 --type vrijstelling \
        --date 2026-07-31
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"allowed under version 1" ]]
    [[ "$output" == *"grondslag:        toestemming"* ]]
    run ctl policy explain --dir policies/gemeente-nijmegen --to swv-vo-9901 --type vrijstelling \
        --date 2026-08-01
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"allowed under version 2" ]]
    [[ "$output" == *"grondslag:        wettelijke_plicht"* ]]
    run ctl policy explain --dir policies/gemeente-nijmegen --to swv-vo-9901 --type vrijstelling \
        --date 2025-07-31
    [ "$status" -eq 1 ]
    [[ "$output" == *"no version of the policy for 'swv-vo-9901' is in force on 2025-07-31"* ]]
}

@test "explain: the receive side, and usage errors" {
    setup_example
    run ctl policy explain --dir policies/swv-vo-9901 --from school-de-linde --type thuiszitter \
        --date 2026-01-01
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "receive thuiszitter from 'school-de-linde' on 2026-01-01: accepted under version 1" ]]
    [[ "$output" == *"fields rejected:"* ]]
    run ctl policy explain --dir policies/swv-vo-9901 --type thuiszitter
    [ "$status" -eq 2 ]
    run ctl policy explain --dir policies/swv-vo-9901 --to a --from b --type thuiszitter
    [ "$status" -eq 2 ]
    run ctl policy explain --dir policies/swv-vo-9901 --to school-de-linde --type afwezig
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown record type; known: geoorloofd_verzuim thuiszitter verzuimmelding vrijstelling"* ]]
    run ctl policy explain --dir policies/swv-vo-9901 --to school-de-linde --type thuiszitter --date 2026-02-30
    [ "$status" -eq 2 ]
}
