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
master=""
web=""

# Stop whichever of the two is still running and wait for both.  Not
# under set -e: a kill or wait that fails must not skip the rest.
stop() {
	trap - EXIT INT TERM
	set +e
	[ -n "$web" ] && { kill -TERM -"$web" || kill "$web"; } 2>/dev/null
	[ -n "$master" ] && kill "$master" 2>/dev/null
	wait 2>/dev/null
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

sh contrib/setup.sh
sh contrib/mkconf.sh "$data" "$port" ${PORTCULLIS_EXTRA_HCL:-}
./src/portcullis -c "$data/portcullis.hcl" &
master=$!
i=0
while [ ! -S "$data/portcullis.sock" ] && [ $i -lt 100 ]; do
	kill -0 "$master" 2>/dev/null || break
	sleep 0.05; i=$((i + 1))
done
# In a process group of its own (setsid execs: a background job of a
# shell without job control leads no group), so that stop() also ends
# nginx's workers when its master was killed and left them behind.
setsid nginx -p "$data/nginx" -c "$data/nginx.conf" -e stderr &
web=$!
echo "Portcullis: http://127.0.0.1:$port/v1/  (data in $data; Ctrl-C stops)"
# POSIX sh has no "wait for either": poll both.  A trapped signal ends
# the wait at once; the wait also reaps a dead one, so kill -0 fails.
while kill -0 "$master" 2>/dev/null && kill -0 "$web" 2>/dev/null; do
	sleep 0.5 &
	wait $! || true
done
if kill -0 "$master" 2>/dev/null; then
	echo "run.sh: nginx exited; stopping Portcullis" >&2
else
	echo "run.sh: Portcullis exited; stopping nginx" >&2
fi
stop
exit 1
