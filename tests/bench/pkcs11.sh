#!/bin/sh
# pkcs11.sh -- the CA key in a PKCS#11 token: leaf signing through
# SoftHSM against the in-memory key, one command:
#   sh tests/bench/pkcs11.sh [SECONDS [ROUNDS]]
# Makes a throwaway SoftHSM token in a temp dir (SOFTHSM2_CONF), builds
# tests/bench/bench_p11 and prints per-round and median ratios (same
# process, interleaved rounds).  Not part of the test run.
set -eu
cd "$(dirname "$0")/../.."
MODULE=${PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -f "$MODULE" ] || { echo "pkcs11.sh: $MODULE missing: apt-get install softhsm2" >&2; exit 1; }
bin=${top_builddir:-.}
make -s -C "$bin" tests/bench/bench_p11
dir=$(mktemp -d "${TMPDIR:-/tmp}/pc-bench-p11.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
mkdir "$dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --init-token --free --label portcullis-bench --pin 1234 --so-pin 12345678 >/dev/null
printf '1234\n' > "$dir/pin"
"$bin/tests/bench/bench_p11" "$MODULE" "pkcs11:token=portcullis-bench" "$dir/pin" "${1:-2}" "${2:-5}"
