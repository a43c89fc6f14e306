#!/bin/sh
# snap.sh -- snapshots under writes (issue #16 item 3), one command:
#   sh tests/bench/snap.sh        (BUILD=dir: another build, e.g. the
#                                  code before a change; BENCH_ROUNDS)
#
# An instance with ACLs on (default deny) holding 50,000 intentions
# (BENCH_IXNS) and 10,000 tokens (BENCH_TOKENS), written straight into
# its store while it is stopped (snapload.py bulk: the set-up is not a
# row).  Then, in BENCH_ROUNDS interleaved rounds, while 0, 5 and 50
# writes/s go on (half intention updates, half token updates, paced by
# snapload.py write):
#   - POST agent/connect/authorize with one of the 10,000 tokens (token
#     resolution, the intention snapshot, the decision);
#   - GET acl/token/self with that token (token resolution alone);
# each as a ratio to the same request with no writes (target >= 0.8x).
# Then the time from a write's reply to the first request answered from
# the new snapshot (an intention toggle seen by authorize; a token's
# Description seen by token/self), under the authorize load, as a ratio
# to the same client's latency for the same request with no write.
# Prints ratios with their rounds' spread and the baselines' figures.
set -eu
cd "$(dirname "$0")/../.."
BENCH_IXNS=${BENCH_IXNS:-50000} BENCH_TOKENS=${BENCH_TOKENS:-10000}
export BENCH_IXNS BENCH_TOKENS
NIXN=$BENCH_IXNS NTOK=$BENCH_TOKENS
PROBES=${BENCH_PROBES:-20}
bench_tmp=pc-bench-snap
mgmt=5ec4e700-0000-4000-8000-00000000aaaa
. tests/bench/common.sh
# common.sh started the instance without ACLs: start it again with them.
stop_instance() {
	for p in $(cat "$dir/pids"); do kill "$p" 2>/dev/null || true; done
	for p in $(cat "$dir/pids"); do
		while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
	done
	: >"$dir/pids"
	rm -f "$dir/portcullis.sock"
}
stop_instance
printf 'acl {\n enabled = true\n default_policy = "deny"\n tokens { initial_management = "%s" }\n}\n' "$mgmt" >"$dir/extra.hcl"
port=$(instance "$dir" "$dir/extra.hcl")
url="http://127.0.0.1:$port"
H="X-Consul-Token: $mgmt"
until curl -sf -H "$H" "$url/v1/acl/tokens" >/dev/null; do sleep 0.1; done
pid=$(curl -sf -X PUT -H "$H" -d '{"Name":"bench","Rules":"service_prefix \"\" { policy = \"write\" }"}' "$url/v1/acl/policy" | jget ID)
curl -sf -X PUT -H "$H" -d '{"Action":"allow"}' "$url/v1/connect/intentions/exact?source=web&destination=db" >/dev/null
curl -sf -X PUT -H "$H" -d '{"Action":"deny"}' "$url/v1/connect/intentions/exact?source=probe&destination=db" >/dev/null
td=$(curl -sf -H "$H" "$url/v1/connect/ca/roots" | jget TrustDomain)
stop_instance
t0=$(date +%s)
/usr/bin/python3 tests/bench/snapload.py bulk "$dir/portcullis.db" "$NIXN" "$NTOK" "$pid"
port=$(instance "$dir" "$dir/extra.hcl")
url="http://127.0.0.1:$port"
until curl -sf -H "$H" "$url/v1/acl/tokens" >/dev/null; do sleep 0.1; done
tok=$(/usr/bin/python3 tests/bench/snapload.py tok 0 1)
nixn=$(curl -sf -H "$H" "$url/v1/connect/intentions" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
nt=$(curl -sf -H "$H" "$url/v1/acl/tokens" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
printf 'loaded %s intentions, %s tokens in %s s (not a row)\n' "$nixn" "$nt" "$(( $(date +%s) - t0 ))"

cat >"$dir/az.lua" <<LUA
wrk.method = "POST"
wrk.headers["X-Consul-Token"] = "$tok"
wrk.body = '{"Target":"db","ClientCertURI":"spiffe://$td/ns/default/dc/dc1/svc/web"}'
LUA
printf 'wrk.headers["X-Consul-Token"] = "%s"\n' "$tok" >"$dir/tok.lua"
# Warm both snapshots in every thread.
curl -sf -X POST -H "X-Consul-Token: $tok" -d "{\"Target\":\"db\",\"ClientCertURI\":\"spiffe://$td/ns/default/dc/dc1/svc/web\"}" "$url/v1/agent/connect/authorize" | grep -q '"Authorized":true'

# under RATE CMD...: run CMD while snapload.py writes RATE/s (0: none);
# prints CMD's "rps p99" and the write rate achieved.
under() {
	rate=$1
	shift
	if [ "$rate" = 0 ]; then
		echo "$("$@") 0"
		return
	fi
	/usr/bin/python3 tests/bench/snapload.py write "$url" "$mgmt" "$rate" "$pid" >"$dir/w.out" &
	w=$!
	sleep 0.5
	m=$("$@")
	kill -TERM $w
	wait $w || true
	echo "$m $(awk '{ printf "%.1f", $1 / $2 }' "$dir/w.out")"
}
az() { measure "$url/v1/agent/connect/authorize" "$dir/az.lua"; }
self() { measure "$url/v1/acl/token/self" "$dir/tok.lua"; }
# A round: six measurements; rows get "rps p99" per measurement (rounds()
# keeps two columns), the achieved write rates go to $dir/rates.
: >"$dir/rates"
um() { set -- $(under "$@"); echo "$3" >>"$dir/rates"; echo "$1 $2"; }
rounds 'um 0 az' 'um 5 az' 'um 50 az' 'um 0 self' 'um 5 self' 'um 50 self'
medians az0 az5 az50 self0 self5 self50

# Write -> visible, under the authorize load.
probes=""
for r in $(seq 1 "$ROUNDS"); do
	wrk -t2 -c"$CONNS" -d"$((DUR * 4))s" -s "$dir/az.lua" "$url/v1/agent/connect/authorize" >/dev/null &
	wk=$!
	sleep 1
	probes="$probes$(/usr/bin/python3 tests/bench/snapload.py probe "$url" "$mgmt" "$PROBES" "$td" "$pid")
"
	kill $wk 2>/dev/null || true
	wait $wk 2>/dev/null || true
done

printf '\nSnapshots under writes (%s intentions, %s tokens, ACLs on; %s s per point, %s connections,\n' "$nixn" "$nt" "$DUR" "$CONNS"
printf '2 workers x 4 threads, %s cores; medians of %s interleaved rounds, spread = the rounds'"'"' min-max)\n' "$(nproc)" "$ROUNDS"
printf 'load: %s\n' "$(uptime)"
printf '%-44s %10s %9s\n' "baseline (no writes)" "req/s" "p99 ms"
printf '%-44s %10.0f %9s\n' "authorize, one token of $NTOK" "$az0_rps" "$az0_p99"
printf '%-44s %10.0f %9s\n' "GET acl/token/self" "$self0_rps" "$self0_p99"
printf '\n%-44s %10s %9s %8s %11s %7s\n' "row" "req/s" "p99 ms" "ratio" "spread" "target"
rrow() {	# rrow NAME RPS P99 COL BASECOL
	set -- "$1" "$2" "$3" $(printf '%s' "$rows" | ratios "$4" "$5")
	printf '%-44s %10.0f %9s %8s %11s %7s\n' "$1" "$2" "$3" "$4" "$5" ">=0.8"
}
rrow "authorize while 5 writes/s" "$az5_rps" "$az5_p99" 3 1
rrow "authorize while 50 writes/s" "$az50_rps" "$az50_p99" 5 1
rrow "token/self while 5 writes/s" "$self5_rps" "$self5_p99" 9 7
rrow "token/self while 50 writes/s" "$self50_rps" "$self50_p99" 11 7
printf 'write rates achieved (per measurement): %s\n' "$(tr '\n' ' ' <"$dir/rates")"
set -- $(printf '%s' "$probes" | med 1) $(printf '%s' "$probes" | med 2) \
    $(printf '%s' "$probes" | med 3) $(printf '%s' "$probes" | med 4)
printf '\n%-44s %9s %9s %8s %11s\n' "write -> first answer from the new snapshot" "ms" "base ms" "ratio" "spread"
printf '%-44s %9s %9s %8s %11s\n' "intention write, seen by authorize" "$1" "$3" "$(ratio "$1" "$3")" "$(printf '%s' "$probes" | ratios 1 3 | cut -d' ' -f2)"
printf '%-44s %9s %9s %8s %11s\n' "token write, seen by token/self" "$2" "$4" "$(ratio "$2" "$4")" "$(printf '%s' "$probes" | ratios 2 4 | cut -d' ' -f2)"
printf '(base: the probe client'"'"'s latency for the same request with no write, same load;\n per round: median of %s writes)\n' "$PROBES"
m=$(curl -sf -H "$H" "$url/v1/agent/metrics" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["Counters"]
n = lambda k: sum(x["Count"] for x in c if x["Name"] == k)
print(n("portcullis.snapshot.rebuilds"), n("portcullis.snapshot.incremental"))')
printf 'snapshot rebuilds: %s (incremental: %s)\n' ${m% *} ${m#* }
