#!/bin/sh
# replay.sh -- feed every fuzz corpus to its replay binary (built from
# the same fuzz_<parser>.c with tests/fuzz/standalone.c), so that
# `make check` proves no saved input crashes the parsers.
set -u
b=${top_builddir:-.}/tests/fuzz
c=${srcdir:-.}/tests/fuzz/corpus
rc=0; n=0
for r in "$b"/replay_*; do
	[ -x "$r" ] || continue
	name=${r##*/replay_}
	[ -d "$c/$name" ] || continue
	n=$((n + 1))
	if "$r" "$c/$name" >/dev/null; then
		echo "ok $n - corpus $name replays cleanly"
	else
		echo "not ok $n - corpus $name"; rc=1
	fi
done
echo "1..$n"
exit $rc
