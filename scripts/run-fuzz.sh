#!/bin/sh
# Runs each libFuzzer binary for a bounded time on a temporary copy of its
# seed corpus (test/fuzz/corpus/NAME/, fuzz_NAME.dict), so the tree is never
# modified, and prints "fuzz: N passed, N failed"; non-zero on any crash.
#
#   scripts/run-fuzz.sh SECONDS BIN...
#
# A crashing input is kept in build/fuzz/crashes/NAME/ with the log, and
# the command that replays it is printed.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 SECONDS BIN..." >&2
	exit 2
fi
secs=$1
shift
case $secs in
'' | *[!0-9]*) echo "run-fuzz: SECONDS must be a number: $secs" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
keep=$root/build/fuzz/crashes
pass=0
fail=0

for bin in "$@"; do
	name=$(basename "$bin")
	short=${name#fuzz_}
	if [ ! -x "$bin" ]; then
		echo "fuzz: FAILED: $name: not an executable: $bin"
		fail=$((fail + 1))
		continue
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/wicket-fuzz.XXXXXX") || exit 2
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$root/test/fuzz/corpus/$short" ]; then
		cp -R "$root/test/fuzz/corpus/$short/." "$work/corpus/"
	fi
	dict=
	if [ -f "$root/test/fuzz/$name.dict" ]; then
		dict=-dict=$root/test/fuzz/$name.dict
	fi
	# -timeout catches hangs (one input taking over 10 s); -rss_limit_mb
	# catches runaway memory; both count as failures.
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	    ${dict:+"$dict"} "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	crashes=$(find "$work/artifacts" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		echo "fuzz: $name: ok, ${execs:-?} execs in ${secs} s"
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		mkdir -p "$keep/$short"
		cp "$work/log" "$keep/$short/log"
		cp "$work/artifacts/"* "$keep/$short/" 2>/dev/null
		echo "fuzz: FAILED: $name (exit $rc, ${execs:-?} execs); last lines:"
		tail -n 30 "$work/log" | sed 's/^/  /'
		for a in "$keep/$short/"crash-* "$keep/$short/"leak-* \
		    "$keep/$short/"timeout-* "$keep/$short/"oom-*; do
			[ -f "$a" ] && echo "  replay: $bin $a"
		done
	fi
	rm -rf "$work"
done

echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
