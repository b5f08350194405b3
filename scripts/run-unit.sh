#!/bin/sh
# Runs each cmocka test binary given as an argument and prints one closing
# line "unit: N passed, N failed"; exits non-zero if any binary failed.
pass=0 fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "unit: FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
