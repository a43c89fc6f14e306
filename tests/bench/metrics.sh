#!/bin/sh
# metrics.sh -- what counting costs:  sh tests/bench/metrics.sh
# (run.sh ends by calling it).
#
# Two fresh instances set up alike (ACLs on, default deny, a token with
# service:write on db, the same 51 intentions), the second with
# telemetry { disable = true }.  POST agent/connect/authorize on each,
# in BENCH_ROUNDS interleaved rounds, each round on-off-off-on so that
# neither side always runs first or last; the row is the median of the
# per-round ratios (sum of the two "on" req/s over the two "off").
# With metrics on, every authorize bumps the request counter and its
# two timers (per route and overall), the consul.acl.ResolveToken timer
# and the authorize allowed counter.  Target: on/off >= 0.97 (<= 3 %).
# Then tests/bench/bench_metrics.c: the same instrumentation in-process,
# as a share of what one authorize costs the machine.
set -eu
cd "$(dirname "$0")/../.."
bench_tmp=pc-bench-metrics
. tests/bench/common.sh


mgmt=$(cat /proc/sys/kernel/random/uuid)
ondir=$(mktemp -d /tmp/pc-bench-mon-XXXXXX)
offdir=$(mktemp -d /tmp/pc-bench-moff-XXXXXX)
bench_dirs="$bench_dirs $ondir $offdir"
acl=$(printf 'acl {\n enabled = true\n default_policy = "deny"\n tokens { initial_management = "%s" }\n}\n' "$mgmt")
printf '%s\n' "$acl" >"$ondir/extra.hcl"
printf '%s\ntelemetry { disable = true }\n' "$acl" >"$offdir/extra.hcl"
onurl="http://127.0.0.1:$(instance "$ondir" "$ondir/extra.hcl")"
offurl="http://127.0.0.1:$(instance "$offdir" "$offdir/extra.hcl")"
for u in "$onurl" "$offurl"; do
	until curl -sf -H "X-Consul-Token: $mgmt" "$u/v1/acl/tokens" >/dev/null; do sleep 0.1; done
	curl -sf -X PUT -H "X-Consul-Token: $mgmt" -d '{"Action":"allow"}' "$u/v1/connect/intentions/exact?source=web&destination=db" >/dev/null
	for i in $(seq 1 50); do
		curl -sf -X PUT -H "X-Consul-Token: $mgmt" -d '{"Action":"deny"}' "$u/v1/connect/intentions/exact?source=s$i&destination=d$i" >/dev/null
	done
done
# lua FILE URL: the authorize request with a service:write token of URL.
lua() {
	pid=$(curl -sf -X PUT -H "X-Consul-Token: $mgmt" -d '{"Name":"bench","Rules":"service \"db\" { policy = \"write\" }"}' "$2/v1/acl/policy" | jget ID)
	tok=$(curl -sf -X PUT -H "X-Consul-Token: $mgmt" -d "{\"Policies\":[{\"ID\":\"$pid\"}]}" "$2/v1/acl/token" | jget SecretID)
	td=$(curl -sf "$2/v1/connect/ca/roots" -H "X-Consul-Token: $tok" | jget TrustDomain)
	{
		echo 'wrk.method = "POST"'
		printf 'wrk.body = [[{"Target":"db","ClientCertURI":"spiffe://%s/ns/default/dc/dc1/svc/web"}]]\n' "$td"
		printf 'wrk.headers["X-Consul-Token"] = "%s"\n' "$tok"
	} >"$1"
	curl -sf -X POST -H "X-Consul-Token: $tok" --data-binary @- "$2/v1/agent/connect/authorize" <<EOF | grep -q '"Authorized":true'
{"Target":"db","ClientCertURI":"spiffe://$td/ns/default/dc/dc1/svc/web"}
EOF
}
lua "$ondir/az.lua" "$onurl"
lua "$offdir/az.lua" "$offurl"
# The "off" side really counts nothing; the "on" side does.
curl -sf -H "X-Consul-Token: $mgmt" "$offurl/v1/agent/metrics" | grep -q '"portcullis.http.requests"' &&
    { echo "metrics.sh: the telemetry-off instance counted requests" >&2; exit 1; }
curl -sf -H "X-Consul-Token: $mgmt" "$onurl/v1/agent/metrics" | grep -q '"portcullis.http.requests"'

rounds 'measure "$onurl/v1/agent/connect/authorize" "$ondir/az.lua"' \
    'measure "$offurl/v1/agent/connect/authorize" "$offdir/az.lua"' \
    'measure "$offurl/v1/agent/connect/authorize" "$offdir/az.lua"' \
    'measure "$onurl/v1/agent/connect/authorize" "$ondir/az.lua"'
medians on1 off1 off2 on2
per=$(printf '%s' "$rows" | awk '{ print (($3 + $5) > 0 ? ($1 + $7) / ($3 + $5) : 0) }' |
    sort -g | awk '{ l[NR] = $0 } END { printf "%.3f %.3f-%.3f\n", l[int((NR + 1) / 2)], l[1], l[NR] }')
printf '\nMetrics cost on authorize (ACLs on; same run, %s rounds on-off-off-on, %s s per point, %s connections)\n' "$ROUNDS" "$DUR" "$CONNS"
printf '%-42s %10s %9s\n' "" "req/s" "p99 ms"
printf '%-42s %10.0f %9s\n' "authorize, metrics on (1st)" "$on1_rps" "$on1_p99"
printf '%-42s %10.0f %9s\n' "authorize, metrics on (4th)" "$on2_rps" "$on2_p99"
printf '%-42s %10.0f %9s\n' "authorize, telemetry disabled (2nd)" "$off1_rps" "$off1_p99"
printf '%-42s %10.0f %9s\n' "authorize, telemetry disabled (3rd)" "$off2_rps" "$off2_p99"
set -- $per
printf 'authorize metrics on/off throughput ratio: %s per round, median (rounds: %s; target >= 0.97)\n' "$1" "$2"
# The same cost measured in-process, which host noise moves far less:
# the CPU time the instrumentation of one authorize takes, against the
# CPU time one authorize costs the machine at the "off" rate.
make -s -C "$bin" tests/bench/bench_metrics
ns=$("$bin/tests/bench/bench_metrics" 2000000 4)
awk -v ns="$ns" -v rps="$(printf '%s\n%s\n' "$off1_rps" "$off2_rps" | sort -g | tail -1)" -v cores="$(nproc)" 'BEGIN {
	per = cores * 1e9 / rps
	printf "in-process: %d ns of CPU per authorize for metrics (4 threads, one shard) = %.2f%% of the %.0f ns one authorize costs %d cores at the off rate\n", ns, 100 * ns / per, per, cores
}'
