#!/bin/bash
# Runs wicket's benchmark (scripts/bench/bench.py) as root: wrk from the client
# namespace against wicketd, nginx, HAProxy and direct routing, in the e2e
# harness's topology. Prints a Markdown table; docs/benchmark.md keeps the latest.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ -z "${WICKETD:-}" ]; then
	make -s build/wicketd || exit 1
	WICKETD=build/wicketd # the release build: speed is measured without sanitizers
fi
export WICKETD
scripts/netns-clean.sh
echo "bench: wicketd = $WICKETD" >&2
exec "${PYTHON:-python3}" scripts/bench/bench.py "$@"
