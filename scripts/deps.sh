#!/bin/sh
# Installs the Debian packages keten needs (DESIGN.md §12) that are missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -eu

# core, encoding and imports; tests (cmocka, bats, the sqlite3 shell, python3
# for the independent signature check); fuzzing (clang with libFuzzer).
PKGS="pkg-config libsodium-dev libzmq3-dev libsqlite3-dev libconfig-dev libcbor-dev
libjansson-dev libcsv-dev libcmocka-dev bats sqlite3 python3 clang"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
