#!/bin/sh
# cluster.sh [PORT] -- install what is missing, build, and run a local
# cluster in the foreground: one PostgreSQL, three Portcullis nodes on
# it (each its own master + workers behind its own nginx, on 127.0.0.1
# 8511, 8512 and 8513) and one nginx balancing across the nodes on
# 127.0.0.1:PORT (default 8500).  Data under ./data/cluster.
#
#   PORTCULLIS_PORT        the balancer's port (or the argument)
#   PORTCULLIS_NODE_PORTS  the nodes' ports, one node per port
#                          (default "8511 8512 8513")
#   PORTCULLIS_DATA        the data dir (default ./data/cluster)
#   PORTCULLIS_EXTRA_HCL   a file appended to every node's config
#   PORTCULLIS_WORKERS, PORTCULLIS_THREADS   per node (mkconf.sh)
#
# Ctrl-C (or SIGTERM to this script) stops everything.  When
# PostgreSQL or the balancer dies on its own (even by SIGKILL), the rest
# is stopped and the script exits 1, as run.sh does.  A node is what a
# cluster survives: when one node's master or nginx dies, that node is
# stopped, the others keep serving behind the balancer, and only when
# the last node is gone does the script stop the rest and exit 1.
set -eu
cd "$(dirname "$0")/.."
. contrib/node.sh
port=${1:-${PORTCULLIS_PORT:-8500}}
node_ports=${PORTCULLIS_NODE_PORTS:-8511 8512 8513}
data=${PORTCULLIS_DATA:-$(pwd)/data/cluster}
nodes=""	# the running nodes' names: node1 node2 ...
pg=""		# the postmaster
web=""		# the balancer's nginx

say() {
	echo "cluster.sh: $*" >&2
}

# Stop the balancer and every node, wait for them, then PostgreSQL (so
# no node loses its store while it drains).  Not under set -e: a kill
# or wait that fails must not skip the rest.
stop() {
	trap - EXIT INT TERM
	set +e
	[ -n "$web" ] && { kill -TERM -"$web" || kill "$web"; } 2>/dev/null
	for n in $nodes; do
		node_stop "$n"
	done
	wait $web $node_stopped 2>/dev/null
	[ -n "$pg" ] && kill -INT "$pg" 2>/dev/null	# fast shutdown
	wait 2>/dev/null
}
trap 'stop' EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

sh contrib/setup.sh
umask 077
mkdir -p "$data"
data=$(cd "$data" && pwd)

# PostgreSQL refuses to run as root: then it runs as the postgres system
# user (else nobody), like tests/e2e/conftest.py's, and must be able to
# pass through the directories above its own.  This one (and, by
# default, ./data) only lets it through: 0711, names not listed, and
# what they hold is 0700 / 0600.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k4 -n | tail -1)
pgdir="$data/pg"
mkdir -p "$pgdir"
asuser=""
if [ "$(id -u)" -eq 0 ]; then
	pguser=postgres
	id "$pguser" >/dev/null 2>&1 || pguser=nobody
	chmod 711 "$data"
	[ "$data" = "$(pwd)/data/cluster" ] && chmod 711 "$(pwd)/data"
	chown "$pguser" "$pgdir"
	asuser="setpriv --reuid=$pguser --regid=$(id -g "$pguser") --clear-groups"
	if ! $asuser test -w "$pgdir"; then
		say "PostgreSQL runs as $pguser, who cannot reach $pgdir:" \
		    "let it through the directories above (chmod o+x)"
		exit 1
	fi
fi
chmod 700 "$pgdir"
if [ ! -f "$pgdir/data/PG_VERSION" ]; then
	(cd / && $asuser "$pgbin/initdb" -D "$pgdir/data" -U pc \
	    --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null)
fi
# Unix socket only, in its 0700 dir: trust authentication reaches no one
# else.  Each node holds workers * (threads + 17) + 1 connections, twice
# that while a reload overlaps its workers (README, Configuration).
# setsid: its own group, so a terminal's Ctrl-C reaches it only through
# stop(), after the nodes.
(cd / && exec setsid $asuser "$pgbin/postgres" -D "$pgdir/data" -p 5432 \
    -k "$pgdir" -c listen_addresses= -c max_connections=400 \
    -c shared_buffers=32MB) >>"$pgdir/postgres.log" 2>&1 &
pg=$!
psql() {
	"$pgbin/psql" -X -q -A -t -h "$pgdir" -p 5432 -U pc "$@"
}
i=0
until psql -d postgres -c "SELECT 1" >/dev/null 2>&1; do
	if ! kill -0 "$pg" 2>/dev/null || [ $i -ge 600 ]; then
		say "PostgreSQL did not start; its log:"
		tail -20 "$pgdir/postgres.log" >&2
		exit 1
	fi
	sleep 0.05; i=$((i + 1))
done
[ "$(psql -d postgres -c \
    "SELECT 1 FROM pg_database WHERE datname = 'portcullis'")" = 1 ] ||
	psql -d postgres -c "CREATE DATABASE portcullis"
dsn="host=$pgdir port=5432 dbname=portcullis user=pc"

# Every node of a cluster seals and opens the store's secrets with the
# same key (README, "Secrets at rest"): one file here, made once (64 hex
# digits from the kernel's generator), named by each node's config.
sealkey="$data/seal.key"
if [ ! -s "$sealkey" ]; then
	(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' \
	    > "$sealkey.tmp" && echo >> "$sealkey.tmp" &&
	    mv "$sealkey.tmp" "$sealkey")
fi
chmod 600 "$sealkey"

# One config per node (mkconf.sh, as run.sh's): same datacenter and
# database, its own node_name, data dir and port.  The balancer's list
# of nodes is written after mkconf.sh made its dir.
i=0
servers=""
for p in $node_ports; do
	i=$((i + 1))
	n=node$i
	{
		echo "node_name = \"$n\""
		echo "store {"
		echo "  backend = \"postgres\""
		echo "  dsn     = \"$dsn\""
		echo "}"
		echo "seal { key_file = \"$sealkey\" }"
		[ -n "${PORTCULLIS_EXTRA_HCL:-}" ] && cat "$PORTCULLIS_EXTRA_HCL"
		true
	} > "$data/$n.extra.hcl"
	sh contrib/mkconf.sh "$data/$n" "$p" "$data/$n.extra.hcl"
	servers="$servers$(printf '\nserver 127.0.0.1:%s max_fails=2 fail_timeout=10s;' "$p")"
	eval "${n}_port=$p"
	nodes="$nodes $n"
done
sh contrib/mkconf.sh -n nginx/cluster-dev.conf.in "$data/balancer" "$port"
printf '# Generated by contrib/cluster.sh%s\n' "$servers" \
    > "$data/balancer/nodes.conf"

# The first node to start applies the migrations (under an advisory
# lock); the others find the schema there.
for n in $nodes; do
	node_start "$n" "$data/$n"
done
# nginx leaves its unix socket behind when killed, and cannot bind it
# again; PostgreSQL's lock on the data dir already keeps out a second
# cluster.sh here, so the socket is a dead one's.
rm -f "$data/balancer/nginx/writes.sock"
setsid nginx -p "$data/balancer/nginx" -c "$data/balancer/nginx.conf" \
    -e stderr &
web=$!
echo "Portcullis cluster: http://127.0.0.1:$port/v1/ (balancer);" \
    "nodes on$(for n in $nodes; do printf ' 127.0.0.1:%s' \
    "$(eval "echo \$${n}_port")"; done);" \
    "data in $data; Ctrl-C stops"

# POSIX sh has no "wait for any": poll.  A trapped signal ends the wait
# at once; the wait also reaps a dead one, so kill -0 fails.
while :; do
	if ! kill -0 "$pg" 2>/dev/null; then
		say "PostgreSQL exited; stopping the cluster"
		break
	fi
	if ! kill -0 "$web" 2>/dev/null; then
		say "the balancer (nginx on 127.0.0.1:$port) exited;" \
		    "stopping the cluster"
		break
	fi
	live=""
	for n in $nodes; do
		if node_alive "$n"; then
			live="$live $n"
			continue
		fi
		say "$n (127.0.0.1:$(eval "echo \$${n}_port")):" \
		    "$(node_what "$n"); the other nodes keep serving"
		node_stop "$n"
	done
	nodes=$live
	if [ -z "$nodes" ]; then
		say "no node left; stopping the cluster"
		break
	fi
	sleep 0.5 &
	wait $! || true
done
stop
exit 1
