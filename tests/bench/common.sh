# common.sh -- the set-up run.sh and ca.sh share; sourced (". tests/bench/common.sh")
# from the top of the source tree, under "set -eu", with bench_tmp set
# to the temporary dir's name prefix.
#
# Builds fcgi_hello, raises the fd limit, makes $dir, writes its
# nginx + Portcullis configs on a free $port, starts the trivial libfcgi
# responder ($hello), Portcullis ($master, once its socket exists) and
# nginx ($web), and traps their clean-up.  Sets bin, DUR, CONNS, dir,
# port, hello, master, web, ROUNDS; defines ratio(), med(), ratios(),
# rounds(), medians().
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
DUR=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}
dir=$(mktemp -d "/tmp/$bench_tmp-XXXXXX")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sh contrib/mkconf.sh "$dir" "$port"
"$bin/tests/bench/fcgi_hello" "$dir/bench-fcgi.sock" 4 & hello=$!
"$bin/src/portcullis" -c "$dir/portcullis.hcl" 2>"$dir/portcullis.log" & master=$!
while [ ! -S "$dir/portcullis.sock" ]; do sleep 0.05; done
nginx -p "$dir/nginx" -c "$dir/nginx.conf" -e "$dir/nginx/error.log" & web=$!
# fcgi_hello ignores SIGTERM while blocked in accept: KILL it.
trap 'kill $web $master 2>/dev/null; kill -9 $hello 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

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
# for each command in order.
rounds() {
	rows=""
	for r in $(seq 1 "$ROUNDS"); do
		line=""
		for m in "$@"; do
			line="$line $(eval "$m" | cut -d' ' -f1,2)"
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
