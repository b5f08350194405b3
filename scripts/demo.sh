#!/bin/sh
# The README's "show it working" command (make demo builds first): a client, a
# router running wicketd with proxy.conf.example and an origin, each in its own
# network namespace; the client's curl gets the 511 page. Needs root.
set -u
cd "$(dirname "$0")/.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (it creates network namespaces)" >&2
	exit 1
fi
export WICKETD="${WICKETD:-build/wicketd}"
scripts/netns-clean.sh
exec "${PYTHON:-python3}" test/e2e/harness.py demo "${1:-proxy.conf.example}"
