#!/usr/bin/env bats
# Node keys as an operator meets them: keygen, key show, unsafe modes.

load helpers

@test "keygen writes a 0600 secret file and a public file" {
    run ctl keygen --id school-a --role school --out k
    [ "$status" -eq 0 ]
    [ -f k/school-a.key ] && [ -f k/school-a.pub ]
    [ "$(stat -c %a k/school-a.key)" = 600 ]
    [ "$(stat -c %a k)" = 700 ]
    [[ "$output" == *"fingerprint"* ]]
}

@test "keygen refuses to overwrite an existing key" {
    keys k school-a school
    cp k/school-a.key before.key
    run ctl keygen --id school-a --role school --out k
    [ "$status" -eq 1 ]
    [[ "$output" == *"k/school-a.key"*"exists"* ]]
    cmp k/school-a.key before.key
}

@test "keygen rejects ids outside [a-z0-9-]{1,64}" {
    for id in School-A 'school_a' 'a b' '' "$(printf 'a%.0s' $(seq 65))" '../x'; do
        run ctl keygen --id "$id" --role school --out k
        [ "$status" -ne 0 ]
        [[ "$output" == *"[a-z0-9-]{1,64}"* ]]
    done
    [ ! -e k ] || [ -z "$(ls -A k)" ]
}

@test "keygen rejects an unknown role" {
    run ctl keygen --id school-a --role ministerie --out k
    [ "$status" -ne 0 ]
    [[ "$output" == *"school, swv or gemeente"* ]]
}

@test "key show prints id, role and fingerprint, never secret bytes" {
    keys k swv-a swv
    run ctl key show k/swv-a.pub
    [ "$status" -eq 0 ]
    [[ "$output" == *"swv-a"* ]]
    [[ "$output" == *"swv"* ]]
    fp=$(echo "$output" | awk '/fingerprint/ {print $NF}')
    [ ${#fp} -eq 32 ]
    run ctl key show k/swv-a.key
    [ "$status" -eq 0 ]
    [[ "$output" == *"(hidden)"* ]]
    [[ "$output" == *"$fp"* ]]
    # No run of the secret file's bytes (as hex or base64) appears in the output.
    sk_hex=$(od -An -tx1 -v -j74 -N32 k/swv-a.key | tr -d ' \n')
    sk_b64=$(dd if=k/swv-a.key bs=1 skip=74 count=32 status=none | base64 -w0)
    [[ "$output" != *"${sk_hex:0:16}"* ]]
    [[ "$output" != *"${sk_b64:0:16}"* ]]
}

@test "a secret key readable by others is refused with the chmod fix" {
    keys k school-a school gemeente-a gemeente
    record_json >r.json
    for mode in 640 604 660 644; do
        chmod "$mode" k/school-a.key
        run ctl record sign --key k/school-a.key --to gemeente-a --out r.signed r.json
        [ "$status" -eq 1 ]
        [[ "$output" == *"k/school-a.key"*"chmod 600 k/school-a.key"* ]]
        [ ! -e r.signed ]
    done
}

@test "a key file of the wrong size is refused" {
    keys k school-a school
    head -c 100 k/school-a.key >short.key && chmod 600 short.key
    run ctl key show short.key
    [ "$status" -eq 1 ]
    [[ "$output" == *"short.key"*"not a keten secret key"* ]]
}

@test "a tampered public key file fails its self-signature" {
    keys k school-a school
    sed 's/^role school$/role gemeente/' k/school-a.pub >bad.pub
    ! cmp -s k/school-a.pub bad.pub
    run ctl key show bad.pub
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.pub"* ]]
}
