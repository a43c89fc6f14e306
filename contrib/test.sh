#!/bin/sh
# test.sh -- install what is missing, build, and run every test: the C
# unit tests (make check, which also replays the fuzz corpora), a short
# instrumented fuzz run of every target (tests/fuzz/run.sh) and the
# end-to-end suite against real nginx + Portcullis processes.
set -eu
cd "$(dirname "$0")/.."
sh contrib/setup.sh
make check || { cat tests/unit/*.log tests/fuzz/*.log 2>/dev/null; exit 1; }
# fuzz smoke: every target ~30 s, two at a time, after replaying its corpus
sh tests/fuzz/run.sh -t 30 -j 2
/usr/bin/python3 -m pytest -q tests/e2e "$@"
