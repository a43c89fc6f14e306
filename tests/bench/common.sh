# common.sh -- the set-up the bench scripts share; sourced (". tests/bench/common.sh")
# from the top of the source tree, under "set -eu", with bench_tmp set
# to the temporary dir's name prefix.
#
# Builds fcgi_hello, raises the fd limit, makes $dir, starts Portcullis
# and nginx there on a free $port (instance()) and the trivial libfcgi
# responder ($hello), and traps the clean-up of every dir in bench_dirs
# (add a dir given to instance() there).  Sets bin, DUR, CONNS, dir,
# port, hello, bench_dirs, ROUNDS; defines instance(), ratio(), med(),
# ratios(), rounds(), medians().
#
# BUILD=dir uses an existing (out-of-tree) build instead of setup.sh's.
if [ -n "${BUILD:-}" ]; then
	bin=$BUILD
else
	sh contrib/setup.sh >/dev/null
	bin=.
fi
make -s -C "$bin" tests/bench/fcgi_hello
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# contrib/mkconf.sh sizes its worker counts for 50,000 parked queries
# under the host's fd cap (4 Portcullis and 7 nginx workers at 20,000);
# the throughput rows keep the 2 + 2 they have always been measured
# with, unless the script sets bench_shipped_sizes (park.sh).
if [ -z "${bench_shipped_sizes:-}" ]; then
	export PORTCULLIS_WORKERS="${PORTCULLIS_WORKERS:-2}"
	export PORTCULLIS_NGINX_WORKERS="${PORTCULLIS_NGINX_WORKERS:-2}"
fi
DUR=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}

# instance DIR [EXTRA_HCL]: start Portcullis and nginx in DIR on a free
# port (contrib/mkconf.sh); prints the port.  Their pids go to DIR/pids
# for bench_stop().
instance() {
	p=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	sh contrib/mkconf.sh "$1" "$p" ${2:+"$2"} >/dev/null
	# (stdout away from the $(...) that called us, or it never ends)
	"$bin/src/portcullis" -c "$1/portcullis.hcl" >/dev/null \
	    2>"$1/portcullis.log" &
	pc=$!
	echo $pc >>"$1/pids"
	while [ ! -S "$1/portcullis.sock" ]; do
		kill -0 $pc 2>/dev/null || {
			echo "bench: portcullis in $1 did not start:" >&2
			tail -3 "$1/portcullis.log" >&2
			exit 1
		}
		sleep 0.05
	done
	nginx -p "$1/nginx" -c "$1/nginx.conf" -e "$1/nginx/error.log" \
	    >/dev/null 2>&1 &
	echo $! >>"$1/pids"
	echo "$p"
}
# Stop every instance in bench_dirs and fcgi_hello (which ignores
# SIGTERM while blocked in accept: KILL), then remove the dirs.  The
# instances were started in $(...), so they are not our children to
# wait for: their pids are watched (5 s at most).
bench_stop() {
	for d in $bench_dirs; do
		kill $(cat "$d/pids" 2>/dev/null) 2>/dev/null || true
	done
	[ -z "${hello:-}" ] || kill -9 "$hello" 2>/dev/null || true
	wait 2>/dev/null
	for d in $bench_dirs; do
		for p in $(cat "$d/pids" 2>/dev/null); do
			n=0
			while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do
				sleep 0.05
				n=$((n + 1))
			done
		done
	done
	rm -rf $bench_dirs
}
dir=$(mktemp -d "/tmp/$bench_tmp-XXXXXX")
bench_dirs=$dir
trap bench_stop EXIT INT TERM
port=$(instance "$dir")
"$bin/tests/bench/fcgi_hello" "$dir/bench-fcgi.sock" 4 & hello=$!

# wrk URL [script] -> "rps p99ms"
measure() {
	out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency ${2:+-s "$2"} "$1")
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}')
	non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
	[ -z "$non2xx" ] || echo "  warning: $non2xx non-2xx replies for $1" >&2
	echo "$rps $p99"
}
# jget KEY: the value of KEY in the JSON object on stdin
jget() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Rows are taken in ROUNDS interleaved rounds: CPU steal on shared hosts
# moves any one measurement by itself.
ROUNDS=${BENCH_ROUNDS:-3}
# med COL: the median of column COL of stdin's lines.
med() { awk -v c="$1" '{ print $c }' | sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
# ratios A B: "median lo-hi" of column A / column B over stdin's lines.
ratios() { awk -v a="$1" -v b="$2" '{ print ($b > 0 ? $a / $b : 0) }' | sort -g |
    awk '{ l[NR] = $0 } END { printf "%.2f %.2f-%.2f\n", l[int((NR + 1) / 2)], l[1], l[NR] }'; }
# rounds M...: ROUNDS interleaved rounds of the measure commands M...
# (each prints "rps p99 ..."); sets rows: a line per round, "rps p99"
# for each command in order.  rounds_abba M...: the same, but every
# second round runs M... in reverse order (the columns stay in argument
# order), so that no command always runs after the others: a row
# measured second in every round (warmer caches, a fuller kernel socket
# table, a later slice of the host's steal) is not mistaken for a cost
# of what it measures.
rounds() { rounds_in forward "$@"; }
rounds_abba() { rounds_in abba "$@"; }
rounds_in() {	# rounds_in forward|abba M...
	how=$1
	shift
	rows=""
	for r in $(seq 1 "$ROUNDS"); do
		order=$(seq 1 "$#")
		[ "$how" = forward ] || [ $((r % 2)) -eq 1 ] ||
		    order=$(seq "$#" -1 1)
		for i in $order; do
			eval "m=\${$i}"
			eval "col_$i=\$(eval \"\$m\" | cut -d' ' -f1,2)"
		done
		line=""
		for i in $(seq 1 "$#"); do
			eval "line=\"\$line \$col_$i\""
		done
		rows="$rows$line
"
	done
}
# medians NAME...: NAME_rps and NAME_p99, the medians of rows' columns.
medians() {
	c=1
	for n in "$@"; do
		eval "${n}_rps=\$(printf '%s' \"\$rows\" | med $c)"
		eval "${n}_p99=\$(printf '%s' \"\$rows\" | med $((c + 1)))"
		c=$((c + 2))
	done
}
