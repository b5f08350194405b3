#!/bin/sh
# Installs the Debian packages wicket needs. Idempotent: it is the only place
# packages come from, and .ci/run calls it (with no argument) on a fresh
# machine.
#   deps.sh            everything: build, tests, fuzzing, demo, benchmark
#   deps.sh --build    what building and running it needs (a router built from source)
#   deps.sh --runtime  only what running it needs (the binaries built elsewhere)
set -eu

# What wicketd, wicketctl and the scripts use at run time: the shared
# libraries, nft for wicket-firewall, ip, and logrotate for the snippet.
RUNTIME="libevent-2.1-7 libevent-openssl-2.1-7 libssl3 libpcap0.8 libnftables1
libcap-ng0 libseccomp2 nftables iproute2 logrotate"
# The compiler and headers `make` needs.
BUILD="build-essential pkg-config libevent-dev libssl-dev libpcap-dev
libnftables-dev libmnl-dev libcap-ng-dev libseccomp-dev"
# The tests, fuzzing, demo and benchmark on top.
DEV="clang llvm libclang-rt-dev libcmocka-dev
iptables curl ncat python3 procps openssl
nginx-light haproxy wrk tcpdump valgrind strace
freeradius freeradius-utils dnsmasq
mandoc chromium chromium-driver libnss3-tools systemd linux-perf"

case "${1:-}" in
"") PKGS="$RUNTIME $BUILD $DEV" ;;
--build) PKGS="$RUNTIME $BUILD" ;;
--runtime) PKGS=$RUNTIME ;;
-h|--help)
	sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
	exit 0 ;;
*)
	echo "deps: unknown option '$1' (expected --build, --runtime or none)" >&2
	exit 2 ;;
esac

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
# Debian starts nginx and haproxy on install; the tests run their own.
for svc in nginx haproxy; do
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
	if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
