#!/bin/sh
# run.sh [PORT] -- install what is missing, build, and run Portcullis
# (master + workers) behind nginx in the foreground on
# 127.0.0.1:PORT (default 8500), with its data under ./data.
# Ctrl-C (or SIGTERM to this script) stops both; when either of them
# dies on its own (even by SIGKILL), the other is stopped too and the
# script exits 1.
set -eu
cd "$(dirname "$0")/.."
port=${1:-8500}
data=${PORTCULLIS_DATA:-$(pwd)/data}
. contrib/node.sh

# Stop whichever of the two is still running and wait for both.  Not
# under set -e: a kill or wait that fails must not skip the rest.
stop() {
	trap - EXIT INT TERM
	set +e
	node_stop n
	wait 2>/dev/null
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

sh contrib/setup.sh
sh contrib/mkconf.sh "$data" "$port" ${PORTCULLIS_EXTRA_HCL:-}
node_start n "$data"
echo "Portcullis: http://127.0.0.1:$port/v1/  (data in $data; Ctrl-C stops)"
# POSIX sh has no "wait for either": poll both.  A trapped signal ends
# the wait at once; the wait also reaps a dead one, so kill -0 fails.
while node_alive n; do
	sleep 0.5 &
	wait $! || true
done
echo "run.sh: $(node_what n)" >&2
stop
exit 1
