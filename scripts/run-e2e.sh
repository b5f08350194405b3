#!/bin/bash
# Runs every namespace end-to-end test (test/e2e/test_*.py) as root against
# $WICKETD (default: the ASan build if present, else build/wicketd) and prints one
# closing line "e2e: N passed, N failed" counting test functions.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ -z "${WICKETD:-}" ]; then
	if [ -x build/asan/wicketd ]; then WICKETD=build/asan/wicketd; else WICKETD=build/wicketd; fi
fi
export WICKETD
PY=${PYTHON:-python3}
echo "e2e: wicketd = $WICKETD"

scripts/netns-clean.sh

pass=0 fail=0 skip=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# The topology itself first: a broken harness would make every test fail.
if [ "$(id -u)" -eq 0 ]; then
	if $PY test/e2e/harness.py selftest >"$out" 2>&1; then
		pass=$((pass + 1)); echo "PASS harness selftest"
	else
		fail=$((fail + 1)); echo "FAIL harness selftest"; sed 's/^/    /' "$out"
	fi
fi

for t in test/e2e/test_*.py; do
	[ -e "$t" ] || continue
	echo "== $t"
	$PY "$t" "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "e2e: $t printed no summary (exit $rc): counted as 1 failure"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "e2e: $t exited $rc with no failed test: counted as 1 failure"
		fail=$((fail + 1))
	fi
done

scripts/netns-clean.sh
if [ "$skip" -gt 0 ]; then
	echo "e2e: $pass passed, $fail failed, $skip skipped"
else
	echo "e2e: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
