#!/bin/sh
# run.sh [PORT] -- install what is missing, build, and run Portcullis
# (master + workers) behind nginx in the foreground on
# 127.0.0.1:PORT (default 8500), with its data under ./data.
# Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
port=${1:-8500}
data=${PORTCULLIS_DATA:-$(pwd)/data}
sh contrib/setup.sh
sh contrib/mkconf.sh "$data" "$port" ${PORTCULLIS_EXTRA_HCL:-}
./src/portcullis -c "$data/portcullis.hcl" &
master=$!
i=0
while [ ! -S "$data/portcullis.sock" ] && [ $i -lt 100 ]; do
	sleep 0.05; i=$((i + 1))
done
nginx -p "$data/nginx" -c "$data/nginx.conf" -e stderr &
web=$!
trap 'kill $web $master 2>/dev/null; wait' INT TERM
echo "Portcullis: http://127.0.0.1:$port/v1/  (data in $data; Ctrl-C stops)"
wait $master
kill $web 2>/dev/null || true
