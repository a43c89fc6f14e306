#!/bin/sh
# test.sh -- install what is missing, build, and run every test: the C
# unit tests (make check, which also replays the fuzz corpora), ESLint
# over the web UI (tests/ui-lint), a short
# instrumented fuzz run of every target (tests/fuzz/run.sh) and the
# end-to-end suite against real nginx + Portcullis processes, once on
# each store backend: SQLite, then PostgreSQL (the pytest fixture starts
# its own server, tests/e2e/conftest.py).  The unit tests of the store
# run on PostgreSQL too, against a throwaway server started here.
set -eu
cd "$(dirname "$0")/.."
sh contrib/setup.sh

# A throwaway PostgreSQL for the unit tests: initdb as an unprivileged
# user (PostgreSQL refuses root), unix socket only, a fresh database.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k4 -n | tail -1)
pgdir=$(mktemp -d /tmp/pc-pgunit-XXXXXX)
pgport=$(/usr/bin/python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
asuser=""
if [ "$(id -u)" -eq 0 ]; then
	pguser=postgres
	id "$pguser" >/dev/null 2>&1 || pguser=nobody
	chown "$pguser" "$pgdir"
	asuser="setpriv --reuid=$pguser --regid=$(id -g "$pguser") --clear-groups"
fi
pgstop() {
	(cd / && $asuser "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop \
	    >/dev/null 2>&1) || true
	rm -rf "$pgdir"
}
trap pgstop EXIT
(cd / && $asuser "$pgbin/initdb" -D "$pgdir/data" -U pc --auth=trust \
    -E UTF8 --locale=C.UTF-8 >/dev/null)
(cd / && $asuser "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses= -c fsync=on" start \
    >/dev/null)
"$pgbin/psql" -X -q -h "$pgdir" -p "$pgport" -U pc -d postgres \
    -c "CREATE DATABASE pc_unit"
PORTCULLIS_TEST_PG_DSN="host=$pgdir port=$pgport dbname=pc_unit user=pc"
export PORTCULLIS_TEST_PG_DSN

make check || { cat tests/unit/*.log tests/fuzz/*.log 2>/dev/null; exit 1; }
pgstop
trap - EXIT
# the web UI's modules through ESLint (pinned in tests/ui-lint)
sh tests/ui-lint/run.sh
# fuzz smoke: every target ~30 s, two at a time, after replaying its corpus
sh tests/fuzz/run.sh -t 30 -j 2
/usr/bin/python3 -m pytest -q tests/e2e "$@"
PORTCULLIS_TEST_BACKEND=postgres /usr/bin/python3 -m pytest -q tests/e2e "$@"
