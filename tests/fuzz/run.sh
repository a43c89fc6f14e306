#!/bin/sh
# run.sh -- build the libFuzzer targets with clang, every object they
# link instrumented (coverage, ASan, UBSan with UB fatal: configure
# --enable-fuzzing), and run them.
#
#   sh tests/fuzz/run.sh [-t SECONDS] [-j PARALLEL] [-n NICE] [TARGET...]
#
# Defaults: every target (bexpr hcl json jwt pem seal spiffe) for 30 s, two
# at a time: the smoke that contrib/test.sh runs.  For long runs, e.g.
# `sh tests/fuzz/run.sh -t 600 -j 3 -n 10`.  Each run first replays the
# saved corpus tests/fuzz/corpus/TARGET/ (read only) and writes what it
# finds to build-fuzz/corpus/TARGET/, so the repository corpus changes
# only by hand: put a crash input there once it is fixed.
#
# The build lives in build-fuzz/, a copy of the tracked files: the main
# build is configured in the source tree with gcc, and autotools refuse
# an out-of-tree build of a configured tree.  Crash inputs are written
# to build-fuzz/crashes/; logs to build-fuzz/logs/.  Prints one line per
# target (edges, execs, exec/s) and exits non-zero if any target
# crashed, leaked, hit UB, timed out or ran out of memory.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=30 jobs=2 nice=0
while getopts t:j:n: o; do
	case $o in
	t) secs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	n) nice=$OPTARG ;;
	*) echo "usage: run.sh [-t secs] [-j parallel] [-n nice] [target...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-bexpr hcl json jwt pem seal spiffe}
B=${FUZZ_BUILD:-$top/build-fuzz}
S=$B/src

command -v clang >/dev/null || {
	echo "fuzz: clang not found: apt-get install clang libclang-rt-14-dev" >&2
	exit 1
}

# Copy the tracked files (as they are in the work tree) and build.
mkdir -p "$S" "$B/corpus" "$B/crashes" "$B/logs"
# One run per build dir: two would rebuild under each other and write
# the same logs.
exec 9>"$B/.lock"
flock -n 9 || {
	echo "fuzz: another run uses $B; wait for it or set FUZZ_BUILD" >&2
	exit 1
}
(cd "$top" && git ls-files -z -c -o --exclude-standard |
    xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
    xargs -0 cp -p -u --parents -t "$S")
(
	cd "$S"
	if [ ! -x configure ] || [ ! -f Makefile.in ] ||
	   [ configure.ac -nt configure ] ||
	   [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi >"$B/logs/autoreconf.log" 2>&1 ||
			{ cat "$B/logs/autoreconf.log"; exit 1; }
	fi
	if [ ! -f Makefile ] || [ configure -nt config.status ]; then
		CC=clang ./configure --enable-fuzzing >"$B/logs/configure.log" ||
			{ cat "$B/logs/configure.log" config.log; exit 1; }
	fi
	make -j"$(nproc)" all >"$B/logs/build.log" 2>&1 ||
		{ tail -40 "$B/logs/build.log"; exit 1; }
)

# One target: libFuzzer for $secs seconds, stats to logs/TARGET.log.
fuzz_one() {
	t=$1
	mkdir -p "$B/corpus/$t"
	rm -f "$B/crashes/$t-"*
	r=0
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	nice -n "$nice" "$S/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$B/crashes/$t-" \
	    "$B/corpus/$t" "$top/tests/fuzz/corpus/$t" \
	    >"$B/logs/$t.log" 2>&1 || r=$?
	echo $r >"$B/logs/$t.rc"
}

n=0
for t in $targets; do
	[ -x "$S/tests/fuzz/fuzz_$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
	fuzz_one "$t" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait

rc=0
for t in $targets; do
	log=$B/logs/$t.log
	# -a: libFuzzer's log holds raw bytes (dictionary entries)
	cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ "$(cat "$B/logs/$t.rc")" = 0 ]; then
		echo "ok - fuzz $t: ${secs}s, cov ${cov:-?} edges," \
		    "${execs:-?} execs, ${eps:-?} exec/s, no crash"
	else
		echo "not ok - fuzz $t: exit $(cat "$B/logs/$t.rc") after" \
		    "${execs:-?} execs; log $log"
		grep -aE 'ERROR|SUMMARY|runtime error|Test unit written' "$log" |
		    head -10 || true
		rc=1
	fi
done
exit $rc
