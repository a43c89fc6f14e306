#!/bin/sh
# pg.sh -- the PostgreSQL benchmark, one command:  sh tests/bench/pg.sh
#
# Starts a throwaway PostgreSQL (tests/bench/pgtmp.py: the e2e suite's
# own, fsync on), Portcullis on SQLite (common.sh's instance) and on
# PostgreSQL, each behind its own nginx, and measures in the same run,
# in BENCH_ROUNDS interleaved rounds (medians; per-round ratios with
# their spread):
#   - intentions/check, agent/connect/authorize and GET intentions/exact
#     on PostgreSQL / the same on SQLite (served from snapshots; target
#     >= 0.9x);
#   - PUT intentions/exact (each a new destination) on PostgreSQL, with
#     BENCH_CONNS writers, / tests/bench/bench_write.c's raw libpq loop
#     (BEGIN; INSERT ...; COMMIT, one row per transaction) with the same
#     number of connections (target >= 0.5x), and / the same loop on one
#     connection, one at a time (what a commit-ordered index costs);
#   - the ceiling: the same PUT load on SQLite with store { sync =
#     "normal" } (no fsync, no lock handed across connections: what
#     the HTTP path and the handler can do on this machine at all), /
#     the raw loop too: below 0.5x, no store change can reach the
#     target here; and PUT on PostgreSQL / PUT on SQLite durable (the
#     default sync "full"), both durable, in the same rounds;
#   - on two nodes sharing one database (ACLs on): the p99 of the
#     cross-node wake-up (write on A, blocking query on B) and of the
#     token-revocation window (delete on A until B refuses), each over
#     the same on one node (tests/bench/cluster_lat.py).
# Prints ratios with the baselines' own figures.  Not part of the tests.
set -eu
cd "$(dirname "$0")/../.."
bench_tmp=pc-bench-pg
. tests/bench/common.sh
make -s -C "$bin" tests/bench/bench_write
SAMPLES=${BENCH_SAMPLES:-50}

# The PostgreSQL server: 3 databases (node, cluster pair, raw loop).
: >"$dir/dsns"	# before the loop reads it: the job opens it when it runs
/usr/bin/python3 tests/bench/pgtmp.py 3 >"$dir/dsns" 2>"$dir/pg.log" &
pgtmp=$!
stop_all() { kill "$pgtmp" 2>/dev/null || true; wait "$pgtmp" 2>/dev/null || true; bench_stop; }
trap stop_all EXIT INT TERM
while [ "$(wc -l <"$dir/dsns")" -lt 3 ]; do
	kill -0 "$pgtmp" || { cat "$dir/pg.log"; exit 1; }
	sleep 0.2
done
dsn_node=$(sed -n 1p "$dir/dsns") dsn_pair=$(sed -n 2p "$dir/dsns") dsn_raw=$(sed -n 3p "$dir/dsns")
store() { printf 'store {\n backend = "postgres"\n dsn = "%s"\n}\n' "$1"; }

sdir=$dir
pdir=$(mktemp -d /tmp/pc-bench-pgnode-XXXXXX)
adir=$(mktemp -d /tmp/pc-bench-pga-XXXXXX)
bdir=$(mktemp -d /tmp/pc-bench-pgb-XXXXXX)
ndir=$(mktemp -d /tmp/pc-bench-pgn-XXXXXX)
bench_dirs="$bench_dirs $pdir $adir $bdir $ndir"
printf 'store {\n sync = "normal"\n}\n' >"$ndir/extra.hcl"
store "$dsn_node" >"$pdir/extra.hcl"
mgmt=$(cat /proc/sys/kernel/random/uuid)
acl=$(printf 'acl {\n enabled = true\n default_policy = "deny"\n tokens { initial_management = "%s" }\n}\n' "$mgmt")
# The two nodes of one database share its seal key (README, "Secrets at rest").
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$dir/pair-seal.key")
seal=$(printf 'seal { key_file = "%s" }\n' "$dir/pair-seal.key")
{ echo 'node_name = "a"'; echo "$acl"; store "$dsn_pair"; echo "$seal"; } >"$adir/extra.hcl"
{ echo 'node_name = "b"'; echo "$acl"; store "$dsn_pair"; echo "$seal"; } >"$bdir/extra.hcl"
surl="http://127.0.0.1:$port"
purl="http://127.0.0.1:$(instance "$pdir" "$pdir/extra.hcl")"
nurl="http://127.0.0.1:$(instance "$ndir" "$ndir/extra.hcl")"
aurl="http://127.0.0.1:$(instance "$adir" "$adir/extra.hcl")"
until curl -sf -H "X-Consul-Token: $mgmt" "$aurl/v1/acl/tokens" >/dev/null; do sleep 0.1; done
burl="http://127.0.0.1:$(instance "$bdir" "$bdir/extra.hcl")"
until curl -sf -H "X-Consul-Token: $mgmt" "$burl/v1/acl/tokens" >/dev/null; do sleep 0.1; done
for u in "$surl" "$purl" "$nurl"; do
	until curl -sf "$u/v1/connect/intentions" >/dev/null; do sleep 0.1; done
	curl -sf -X PUT -d '{"Action":"allow"}' "$u/v1/connect/intentions/exact?source=web&destination=db" >/dev/null
	for i in $(seq 1 50); do
		curl -sf -X PUT -d '{"Action":"deny"}' "$u/v1/connect/intentions/exact?source=s$i&destination=d$i" >/dev/null
	done
done

azlua() {	# azlua FILE URL
	printf 'wrk.method = "POST"\nwrk.body = [[{"Target":"db","ClientCertURI":"spiffe://%s/ns/default/dc/dc1/svc/web"}]]\n' \
	    "$(curl -sf "$2/v1/connect/ca/roots" | jget TrustDomain)" >"$1"
}
azlua "$sdir/az.lua" "$surl"
azlua "$pdir/az.lua" "$purl"
ck="/v1/connect/intentions/check?source=web&destination=db"
ex="/v1/connect/intentions/exact?source=web&destination=db"

# Reads: PostgreSQL and SQLite back to back.
rounds 'measure "$purl$ck"' 'measure "$surl$ck"' \
    'measure "$purl/v1/agent/connect/authorize" "$pdir/az.lua"' \
    'measure "$surl/v1/agent/connect/authorize" "$sdir/az.lua"' \
    'measure "$purl$ex"' 'measure "$surl$ex"'
medians pck sck paz saz pex sex
r_ck=$(printf '%s' "$rows" | ratios 1 3) r_az=$(printf '%s' "$rows" | ratios 5 7) r_ex=$(printf '%s' "$rows" | ratios 9 11)

# Writes: Portcullis on PostgreSQL, the raw loop with as many
# connections, the raw loop on one, the same PUTs on SQLite without
# fsync (the ceiling) and on SQLite durable.
rawloop() { "$bin/tests/bench/bench_write" pg "$dsn_raw" "$DUR" "$1" 2>/dev/null; }
rounds 'measure "$purl/v1/connect/intentions/exact" tests/bench/putnew.lua' \
    'rawloop "$CONNS"' 'rawloop 1' \
    'measure "$nurl/v1/connect/intentions/exact" tests/bench/putnew.lua' \
    'measure "$surl/v1/connect/intentions/exact" tests/bench/putnew.lua'
medians pput raw rawone nput sput
r_raw=$(printf '%s' "$rows" | ratios 1 3) r_one=$(printf '%s' "$rows" | ratios 1 5)
r_ceil=$(printf '%s' "$rows" | ratios 7 3) r_dur=$(printf '%s' "$rows" | ratios 1 9)

# Two nodes on one database, and one node alone, in rounds.
lat() { /usr/bin/python3 tests/bench/cluster_lat.py "$1" "$2" "$3" "$SAMPLES" "$mgmt"; }
rounds 'lat wake "$aurl" "$burl"' 'lat wake "$burl" "$burl"' \
    'lat revoke "$aurl" "$burl"' 'lat revoke "$burl" "$burl"'
medians xwake lwake xrev lrev
r_wake=$(printf '%s' "$rows" | ratios 2 4) r_rev=$(printf '%s' "$rows" | ratios 6 8)

printf '\nPortcullis on PostgreSQL (%s s per point, %s connections, 2 workers x 4 threads per node, %s cores;\nmedians of %s interleaved rounds)\n' "$DUR" "$CONNS" "$(nproc)" "$ROUNDS"
printf '%-44s %10s %9s\n' "" "req/s" "p99 ms"
printf '%-44s %10.0f %9s\n' "intentions/check, PostgreSQL" "$pck_rps" "$pck_p99"
printf '%-44s %10.0f %9s\n' "intentions/check, SQLite (baseline)" "$sck_rps" "$sck_p99"
printf '%-44s %10.0f %9s\n' "authorize, PostgreSQL" "$paz_rps" "$paz_p99"
printf '%-44s %10.0f %9s\n' "authorize, SQLite (baseline)" "$saz_rps" "$saz_p99"
printf '%-44s %10.0f %9s\n' "GET intentions/exact, PostgreSQL" "$pex_rps" "$pex_p99"
printf '%-44s %10.0f %9s\n' "GET intentions/exact, SQLite (baseline)" "$sex_rps" "$sex_p99"
printf '%-44s %10.0f %9s\n' "PUT intentions/exact, PostgreSQL" "$pput_rps" "$pput_p99"
printf '%-44s %10.0f %9s\n' "raw libpq INSERT;COMMIT, $CONNS conns (base)" "$raw_rps" "$raw_p99"
printf '%-44s %10.0f %9s\n' "raw libpq INSERT;COMMIT, 1 conn (base)" "$rawone_rps" "$rawone_p99"
printf '%-44s %10.0f %9s\n' "PUT intentions/exact, SQLite sync normal" "$nput_rps" "$nput_p99"
printf '%-44s %10.0f %9s\n' "PUT intentions/exact, SQLite durable (base)" "$sput_rps" "$sput_p99"
printf '%-44s %10s %9s\n' "" "p50 ms" "p99 ms"
printf '%-44s %10s %9s\n' "wake-up, write on A, blocking on B" "$xwake_rps" "$xwake_p99"
printf '%-44s %10s %9s\n' "wake-up, one node (baseline)" "$lwake_rps" "$lwake_p99"
printf '%-44s %10s %9s\n' "revocation window, delete on A, B refuses" "$xrev_rps" "$xrev_p99"
printf '%-44s %10s %9s\n' "revocation window, one node (baseline)" "$lrev_rps" "$lrev_p99"
row() { set -- "$1" $2; printf '%-44s %6s   (rounds: %s; %s)\n' "$1" "$2" "$3" "$4"; }
row "check PostgreSQL / SQLite" "$r_ck target>=0.9"
row "authorize PostgreSQL / SQLite" "$r_az target>=0.9"
row "exact PostgreSQL / SQLite" "$r_ex target>=0.9"
row "writes / raw loop, $CONNS conns" "$r_raw target>=0.5"
row "writes / raw loop, one at a time" "$r_one ordering"
row "ceiling: SQLite normal PUT / raw loop" "$r_ceil bound-for-0.5"
row "PUT PostgreSQL / PUT SQLite, both durable" "$r_dur -"
row "wake-up p99, cross-node / one node" "$r_wake -"
row "revocation p99, cross-node / one node" "$r_rev -"
