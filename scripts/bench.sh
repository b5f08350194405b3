#!/bin/bash
# Runs wicket's benchmark (scripts/bench/bench.py) as root: wrk from the client
# namespace against wicketd, nginx, HAProxy, direct routing and a minimal epoll
# server, in the e2e harness's topology, with each server's CPU per request and
# per MiB and its memory per idle connection. Prints the Markdown tables and the
# targets of issue 8 as ratios; docs/benchmark.md keeps the latest. On a shared
# machine run it under `flock /work/team/bench.lock`.
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
