#!/usr/bin/env bats
# ketenctl register: the AVG art. 30 register of each node of the example
# network, generated from its policies as the privacy officer files it.
# Offline, like policy check: no daemon, no secret key.

load helpers

# The example network as make demo lays it out: demo/*.conf, the example
# keys (public halves only: register must never need a secret key) and
# policies/.
setup_net() {
    mkdir keys
    cp "$KETEN_ROOT"/keys-example/*.pub keys/
    cp "$KETEN_ROOT"/demo/*.conf .
    cp -r "$KETEN_ROOT/policies" policies
    chmod -R go-w policies
}

@test "the SWV's register lists the school as sender of geoorloofd_verzuim on consent, with its retention" {
    setup_net
    run ctl register -c swv.conf --date 2026-03-01
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "# Register van verwerkingsactiviteiten (AVG art. 30)" ]
    [[ "$output" == *'| node | `swv-vo-9901` |'* ]]
    [[ "$output" == *'| rol | samenwerkingsverband passend onderwijs |'* ]]
    [[ "$output" == *'### 3.1 `geoorloofd_verzuim`, doel `melding_geoorloofd`, grondslag `toestemming`'* ]]
    [[ "$output" == *'- **Grondslag:** toestemming (AVG art. 6 lid 1 onder a)'* ]]
    [[ "$output" == *'| ontvangen van | `school-de-linde` | school | 365 dagen | bsn | wet | 1 | 2025-08-01 t/m (open) | `./policies/swv-vo-9901/school-de-linde.conf:16` |'* ]]
    [[ "$output" == *'| `geoorloofd_verzuim` | ontvangen van | `school-de-linde` | 365 dagen |'* ]]
    # belastbaarheid is marked as a health-related code (AVG art. 9)
    [[ "$output" == *'gezondheidsgerelateerde codes (bijzonder persoonsgegeven, AVG art. 9; alleen codes, geen medische details): `belastbaarheid`'* ]]
    [[ "$output" == *'## 5. Doorgifte buiten de EER'* ]]
    [[ "$output" == *'CurveZMQ'* && "$output" == *'Ed25519'* && "$output" == *'crypto-shredding'* ]]
    # the school sends; it receives nothing from the SWV
    run ctl register -c school.conf --date 2026-03-01
    [ "$status" -eq 0 ]
    [[ "$output" == *'| verstrekt aan | `swv-vo-9901` | swv | 365 dagen | bsn | wet | 1 |'* ]]
    [[ "$output" != *'| ontvangen van |'* ]]
}

@test "JSON parses and has the documented keys" {
    setup_net
    run ctl register -c swv.conf --date 2026-03-01 --format json
    [ "$status" -eq 0 ]
    echo "$output" >reg.json
    [ "$(jq -c 'keys' reg.json)" = '["announced","controller","data_subject_categories","date","format_version","policies","processing","register","security_measures","transfers_outside_eea"]' ]
    [ "$(jq -c '.controller | keys' reg.json)" = '["config","node","policies_dir","role"]' ]
    [ "$(jq -c '.processing[0] | keys' reg.json)" = '["avg_article","consent_by","data_categories","data_subjects","doel","grondslag","parties","record_type","special"]' ]
    [ "$(jq -c '.processing[0].parties[0] | keys' reg.json)" = '["direction","fields","file","identifier","line","partner","reference","retention_days","role","toestemming_door","valid_from","valid_until","version"]' ]
    [ "$(jq -c '.policies[0] | keys' reg.json)" = '["file","line","partner","reconcile","reference","role","valid_from","valid_until","version"]' ]
    [ "$(jq -c '.policies[0].reconcile | keys' reg.json)" = '["counts","lists","suppress_below"]' ]
    [ "$(jq -c '.security_measures[0] | keys' reg.json)" = '["code","ref","text"]' ]
    [ "$(jq -c '.announced | keys' reg.json)" = '["policies","processing"]' ]
    [ "$(jq -r '.register, .format_version, .date, .controller.node, .controller.role, .transfers_outside_eea' reg.json | tr '\n' ' ')" = "avg_art30 1 2026-03-01 swv-vo-9901 swv false " ]
    [ "$(jq -c '[.processing[] | select(.record_type == "geoorloofd_verzuim") | {grondslag, avg_article, special, consent_by, p: [.parties[] | {partner, direction, retention_days}]}]' reg.json)" = '[{"grondslag":"toestemming","avg_article":"6(1)(a)","special":true,"consent_by":["wet"],"p":[{"partner":"school-de-linde","direction":"receive","retention_days":365}]}]' ]
    [ "$(jq -c '.data_subject_categories' reg.json)" = '["leerlingen","ouders_verzorgers"]' ]
}

@test "--date before and after the 5a change gives the vrijstelling another basis" {
    setup_net
    run ctl register -c gemeente.conf --date 2026-07-31 --format json
    [ "$status" -eq 0 ]
    echo "$output" >before.json
    run ctl register -c gemeente.conf --date 2026-08-01 --format json
    [ "$status" -eq 0 ]
    echo "$output" >after.json
    q='[.processing[] | select(.record_type == "vrijstelling") | .grondslag, (.parties[] | .version)]'
    [ "$(jq -c "$q" before.json)" = '["toestemming",1]' ]
    [ "$(jq -c "$q" after.json)" = '["wettelijke_plicht",2]' ]
    # before the change the new version is announced, after it nothing is
    [ "$(jq -c '[.announced.policies[] | {partner, version, valid_from}]' before.json)" = '[{"partner":"swv-vo-9901","version":2,"valid_from":"2026-08-01"}]' ]
    [ "$(jq -c "[.announced.processing[] | select(.record_type == \"vrijstelling\") | .grondslag]" before.json)" = '["wettelijke_plicht"]' ]
    [ "$(jq -c '.announced' after.json)" = '{"policies":[],"processing":[]}' ]
    run ctl register -c gemeente.conf --date 2026-08-01
    [[ "$output" == *'### 3.4 `vrijstelling`, doel `overleg_vrijstelling`, grondslag `wettelijke_plicht`'* ]]
    [[ "$output" == *'Geen beleidsversies met een latere ingangsdatum.'* ]]
    # before any version: nothing in force (default deny), everything announced
    run ctl register -c gemeente.conf --date 2025-07-31
    [ "$status" -eq 0 ]
    [[ "$output" == *'Geen: op 2025-07-31 is geen beleidsregel in werking'* ]]
    [[ "$output" == *'## 9. Aangekondigd'* ]]
}

@test "a broken policy: the same FILE:LINE errors as policy check, exit 1, no register" {
    setup_net
    sed -i 's/retention_days = 365;/retention_days = 0;/' policies/swv-vo-9901/school-de-linde.conf
    run ctl policy check -c swv.conf
    [ "$status" -eq 1 ]
    expected=$output
    [[ "$expected" == *"school-de-linde.conf:"* ]]
    run ctl register -c swv.conf -o reg.md
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$expected" ]
    [ ! -e reg.md ]
    [ ! -e reg.md.tmp ]
    run ctl register -c swv.conf --format json
    [ "$status" -eq 1 ]
    [ "$output" = "$expected" ]
}

@test "no personal data, no secret key needed, and the same output every time" {
    setup_net
    [ ! -e keys/swv-vo-9901.key ]
    run ctl register -c swv.conf --date 2026-03-01 -o reg.md
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    ctl register -c swv.conf --date 2026-03-01 >again.md
    cmp reg.md again.md
    ctl register -c swv.conf --date 2026-03-01 --format json -o a.json
    ctl register -c swv.conf --date 2026-03-01 --format json -o b.json
    cmp a.json b.json
    # no pupil at all: no BSN, onderwijsnummer or pseudonym, nothing from the records
    run grep -Eh '[0-9]{9}|ps-[a-z2-7]{26}' reg.md a.json
    [ "$status" -eq 1 ]
    bsns=$(grep -rhoE '"leerling_id": *"[0-9]{9}"' "$KETEN_ROOT/demo" | grep -oE '[0-9]{9}' | sort -u)
    [ -n "$bsns" ]
    for bsn in $bsns; do
        run grep -c "$bsn" reg.md a.json
        [ "$output" = $'reg.md:0\na.json:0' ]
    done
}

@test "usage errors exit 2" {
    setup_net
    run ctl register -c swv.conf --format xml
    [ "$status" -eq 2 ]
    [[ "$output" == *"--format: md or json"* ]]
    run ctl register -c swv.conf --date 2026-02-30
    [ "$status" -eq 2 ]
    [[ "$output" == *"--date: not a real date YYYY-MM-DD"* ]]
    run ctl register extra
    [ "$status" -eq 2 ]
    run ctl register --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: ketenctl register"* ]]
}

@test "comparing registries is in the register: with whom, counts, and what the partner may learn" {
    setup_net
    run ctl register -c swv.conf --date 2026-03-01 --format json
    [ "$status" -eq 0 ]
    echo "$output" >reg.json
    [ "$(jq -c '[.policies[] | select(.partner == "gemeente-nijmegen") | .reconcile]' reg.json)" = '[{"counts":true,"lists":"membership","suppress_below":0}]' ]
    [ "$(jq -c '[.policies[] | select(.partner == "school-de-linde") | .reconcile.lists]' reg.json)" = '["none"]' ]
    run ctl register -c swv.conf --date 2026-03-01
    [[ "$output" == *'| `gemeente-nijmegen` | gemeente | ja | 0 | ja; de partner leert ook welke van zijn eigen leerlingen bij ons ontbreken |'* ]]
}
