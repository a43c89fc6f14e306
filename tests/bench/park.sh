#!/bin/sh
# park.sh -- parked blocking queries at scale (issue #16), one command:
#     sh tests/bench/park.sh
#
# One Portcullis behind nginx, both as contrib/mkconf.sh sizes them for
# BENCH_BLOCKERS (default 50,000) parked queries, and the broadcast
# baseline (tests/bench/bench_broadcast.c: holds requests, answers all
# of them at once on a signal) behind the same nginx.  The same load
# client (tests/bench/parkers.py, spread over processes and source
# addresses: no process may hold more than the host's fd cap) parks N
# requests on each and times the replies after one trigger: for the
# baseline its release request, for Portcullis one intention write.
# In BENCH_ROUNDS interleaved rounds:
#   - release: the last reply and the p99 after the trigger, Portcullis
#     / baseline (target <= 2x);
#   - check p99 while N are parked / check p99 with none parked;
#   - memory per parked query: RSS delta of Portcullis (master +
#     workers) and of nginx's workers, / N;
#   - a write to another table while N are parked: replies it caused
#     and portcullis.blocking.rerun_unchanged's delta (targets 0).
# Then once, BENCH_WAKE (default 3,000) queries on intentions match,
# exact and the leaf endpoint, and writes that do not change their
# answers: replies they caused (target 0), and how many were re-run
# and sent back to waiting (the counter).
set -eu
cd "$(dirname "$0")/../.."
N=${BENCH_BLOCKERS:-50000}
WAKE=${BENCH_WAKE:-3000}
# A client process holds at most 7,500 connections (fd cap, ports).
PROCS=${BENCH_CLIENT_PROCS:-$(( (N + 7499) / 7500 ))}
[ "$PROCS" -ge 2 ] || PROCS=2
export PORTCULLIS_PARKED="$N"
bench_shipped_sizes=1	# common.sh: mkconf's own worker counts
bench_tmp=pc-park
. tests/bench/common.sh
make -s -C "$bin" tests/bench/bench_broadcast
"$bin/tests/bench/bench_broadcast" "$dir/bench-bcast" 4 & bcast=$!
client=""
trap 'kill $bcast $client 2>/dev/null || true; bench_stop' EXIT INT TERM
url="http://127.0.0.1:$port"
until curl -sf "$url/v1/connect/intentions" >/dev/null; do sleep 0.1; done
curl -sf -X PUT -d '{"Action":"allow"}' "$url/v1/connect/intentions/exact?source=web&destination=db" >/dev/null
pc=$(sed -n 1p "$dir/pids") ng=$(sed -n 2p "$dir/pids")
workers=$(sed -n 's/^workers *= *//p' "$dir/portcullis.hcl")
nginx_workers=$(sed -n 's/^worker_processes \(.*\);/\1/p' "$dir/nginx.conf")

# rss_kb PID [self]: VmRSS of PID's children (and of PID with "self").
rss_kb() {
	{ [ -z "${2:-}" ] || echo "$1"; pgrep -P "$1"; } |
	    while read -r p; do sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$p/status" 2>/dev/null; done |
	    awk '{ s += $1 } END { print s + 0 }'
}
# metric NAME: a gauge's value or a counter's count from agent/metrics
# (-1 when the request failed).
metric() {
	curl -sf "$url/v1/agent/metrics" | /usr/bin/python3 -c '
import json, sys
try:
    m = json.load(sys.stdin)
    v = [int(g["Value"]) for g in m["Gauges"] if g["Name"] == sys.argv[1]]
    v += [int(c["Count"]) for c in m["Counters"] if c["Name"] == sys.argv[1]]
    print(v[0] if v else 0)
except Exception:
    print(-1)' "$1"
}
idx() { curl -sf -D - -o /dev/null "$url$1" | tr -d '\r' | sed -n 's/^X-Consul-Index: //Ip'; }
# hold PATHS N: start the client and return once all N are written.
hold() {
	# (ev gone first: the last hold's "sent" must not be read as ours)
	rm -f "$dir/ctl" "$dir/ev"
	mkfifo "$dir/ctl"
	/usr/bin/python3 tests/bench/parkers.py "$url" "$1" "$2" "$PROCS" \
	    <"$dir/ctl" >"$dir/ev" & client=$!
	exec 3>"$dir/ctl"
	until grep -q '^sent' "$dir/ev" 2>/dev/null; do
		kill -0 $client 2>/dev/null || { echo "park: client died" >&2; exit 1; }
		sleep 0.2
	done
}
# wait_parked N: until Portcullis reports N parked (60 s at most).
wait_parked() {
	n=0
	while v=$(metric portcullis.blocking.parked); case $v in ''|*[!0-9-]*) v=-1 ;; esac
	    [ "$v" -lt "$1" ] && [ $n -lt 300 ]; do
		sleep 0.2
		n=$((n + 1))
	done
}
# trigger METHOD URL WINDOW [BODY]: the client's "go"; its result goes
# to $res.  (Not in a $(...): the client is this shell's child.)
trigger() {
	echo "go $*" >&3
	wait $client || echo "park: client exited $?" >&2
	exec 3>&-
	res=$(sed -n 's/^result //p' "$dir/ev")
}
# jf JSON KEY...: the values of KEYs of the JSON object JSON.
jf() { j=$1; shift; /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(str(d[k]) for k in sys.argv[2:]))' "$j" "$@"; }

check="$url/v1/connect/intentions/check?source=web&destination=db"
printf 'park: %s queries, %s client processes, %s Portcullis workers, %s nginx workers; %s rounds\n' \
    "$N" "$PROCS" "$workers" "$nginx_workers" "$ROUNDS" >&2
: >"$dir/rows"
# The baseline's turn in a round: N held, then released at once.
baseline() {
	hold /bench/broadcast "$N"
	sleep 5
	trigger GET "$url/bench/broadcast?release" 60; b=$res
	sleep 2	# nginx closes the connections it does not keep
}
for r in $(seq 1 "$ROUNDS"); do
	set -- $(measure "$check"); idle_p99=$2
	# Odd rounds measure Portcullis first: the first round's RSS deltas
	# are taken on fresh processes (freed memory is reused after).
	[ $((r % 2)) -eq 1 ] || baseline
	pc0=$(rss_kb "$pc" self) ng0=$(rss_kb "$ng")
	i=$(idx /v1/connect/intentions)
	hold "/v1/connect/intentions?index=$i&wait=600s" "$N"
	held=$(sed -n 's/^sent //p' "$dir/ev")
	wait_parked "$held"
	parked=$(metric portcullis.blocking.parked)
	pc1=$(rss_kb "$pc" self) ng1=$(rss_kb "$ng")
	set -- $(measure "$check"); busy_p99=$2
	# A write to another table (a new leaf): nothing to answer.
	c0=$(metric portcullis.blocking.rerun_unchanged)
	curl -sf "$url/v1/agent/connect/ca/leaf/other$r" >/dev/null
	sleep 1
	c1=$(metric portcullis.blocking.rerun_unchanged)
	trigger PUT "$url/v1/connect/intentions/exact?source=park$r&destination=parked" 120 '{"Action":"allow"}'
	p=$res
	sleep 2
	[ $((r % 2)) -eq 0 ] || baseline
	echo "b: $b" >&2
	echo "p: $p (parked $parked)" >&2
	echo "$(jf "$b" last_ms p99_ms released) $(jf "$p" last_ms p99_ms released early) $idle_p99 $busy_p99 $pc0 $pc1 $ng0 $ng1 $(jf "$p" held) $((c1 - c0)) $parked" >>"$dir/rows"
done
# rows: 1 b_last 2 b_p99 3 b_rel 4 p_last 5 p_p99 6 p_rel 7 p_early
#       8 idle_p99 9 busy_p99 10 pc0 11 pc1 12 ng0 13 ng1 14 held 15 reruns
#       16 parked (the gauge)
rows=$(cat "$dir/rows")
col() { printf '%s\n' "$rows" | med "$1"; }
spread() { printf '%s\n' "$rows" | awk -v c="$1" '{ print $c }' | sort -g | awk '{ l[NR] = $0 } END { printf "%s-%s", l[1], l[NR] }'; }
mem() { printf '%s\n' "$rows" | awk -v a="$1" -v b="$2" -v n="$3" '{ print ($b - $a) * 1024 / ($n > 0 ? $n : 1) }' | sort -g |
    awk '{ l[NR] = $0 } END { printf "%.0f %.0f-%.0f\n", l[int((NR + 1) / 2)], l[1], l[NR] }'; }

# The wake-up rows: match, exact and leaf queries, and writes that do
# not change their answers.
curl -sf -X PUT -d '{"Action":"allow"}' "$url/v1/connect/intentions/exact?source=pweb&destination=pdb" >/dev/null
curl -sf "$url/v1/agent/connect/ca/leaf/pweb" >/dev/null
mi=$(idx "/v1/connect/intentions/match?by=destination&name=pdb")
ei=$(idx "/v1/connect/intentions/exact?source=pweb&destination=pdb")
li=$(idx "/v1/agent/connect/ca/leaf/pweb")
hold "/v1/connect/intentions/match?by=destination&name=pdb&index=$mi&wait=600s|/v1/connect/intentions/exact?source=pweb&destination=pdb&index=$ei&wait=600s|/v1/agent/connect/ca/leaf/pweb?index=$li&wait=600s" "$WAKE"
wait_parked "$(sed -n 's/^sent //p' "$dir/ev")"
wparked=$(metric portcullis.blocking.parked)
c0=$(metric portcullis.blocking.rerun_unchanged)
curl -sf -X PUT -d '{"Action":"deny"}' "$url/v1/connect/intentions/exact?source=pweb&destination=other" >/dev/null
curl -sf "$url/v1/agent/connect/ca/leaf/pother" >/dev/null
sleep 1
c1=$(metric portcullis.blocking.rerun_unchanged)
# Then a write that does change match and exact (not the leaf).
trigger PUT "$url/v1/connect/intentions/exact?source=pweb&destination=pdb" 5 '{"Action":"deny"}'
w=$res
echo "w: $w" >&2

printf '\nParked blocking queries (%s asked, %s interleaved rounds: medians, rounds'"'"' spread; %s cores, load %s)\n' \
    "$N" "$ROUNDS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'config: %s Portcullis workers, %s nginx workers x %s connections (contrib/mkconf.sh), %s client processes\n' \
    "$workers" "$nginx_workers" "$(sed -n 's/.*worker_connections \(.*\);/\1/p' "$dir/nginx.conf")" "$PROCS"
printf '%-44s %12s %14s %22s %8s\n' "row" "median" "rounds" "baseline (median)" "target"
set -- $(printf '%s\n' "$rows" | ratios 4 1)
printf '%-44s %11sx %14s %19s ms %8s\n' "release, last reply / broadcast" "$1" "$2" "$(col 1)" "<= 2"
printf '%-44s %11s  %14s\n' "  Portcullis last reply (ms)" "$(col 4)" "$(spread 4)"
set -- $(printf '%s\n' "$rows" | ratios 5 2)
printf '%-44s %11sx %14s %19s ms %8s\n' "release, p99 / broadcast p99" "$1" "$2" "$(col 2)" "<= 2"
printf '%-44s %11s  %14s\n' "  Portcullis p99 (ms)" "$(col 5)" "$(spread 5)"
printf '%-44s %11s  %14s %22s\n' "  replies after the write / parked" "$(col 6)" "$(spread 6)" "$(col 16) parked"
set -- $(printf '%s\n' "$rows" | ratios 9 8)
printf '%-44s %11sx %14s %19s ms %8s\n' "check p99, N parked / none parked" "$1" "$2" "$(col 8)" "~1"
printf '%-44s %11s  %14s\n' "  check p99 with N parked (ms)" "$(col 9)" "$(spread 9)"
first=$(printf '%s\n' "$rows" | head -1 | awk '{ n = ($14 > 0 ? $14 : 1); printf "%.0f %.0f", ($11 - $10) * 1024 / n, ($13 - $12) * 1024 / n }')
set -- $(mem 10 11 14)
printf '%-44s %11s  %14s %22s\n' "Portcullis RSS per parked query (bytes)" "${first% *}" "(1st round)" "later rounds: $1"
set -- $(mem 12 13 14)
printf '%-44s %11s  %14s %22s\n' "nginx RSS per parked query (bytes)" "${first#* }" "(1st round)" "later rounds: $1"
printf '%-44s %11s  %14s %22s %8s\n' "other-table write: replies it caused" "$(col 7)" "$(spread 7)" "" "0"
printf '%-44s %11s  %14s %22s %8s\n' "other-table write: re-runs (counter)" "$(col 15)" "$(spread 15)" "" "0"
printf '%-44s %11s  %14s %22s %8s\n' "match/exact/leaf, unchanged: replies" "$(jf "$w" early)" "(once)" "$wparked parked" "0"
printf '%-44s %11s  %14s %22s\n' "  re-run and sent back to waiting (counter)" "$((c1 - c0))" "(once)" ""
# (request i of a client process asks path i mod 3: the leaf is the third)
wexp=$(awk -v n="$WAKE" -v p="$PROCS" 'BEGIN { for (i = 0; i < p; i++) { s = int(n / p) + (i < n % p); l += int(s / 3) } print n - l }')
printf '%-44s %11s  %14s %22s\n' "  then a changing write: match+exact released" "$(jf "$w" released)" "(once)" "$wexp expected"
