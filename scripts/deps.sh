#!/bin/sh
# Installs every Debian package that wicket's build, tests, fuzzing, demo and
# benchmark need. Idempotent: it is the only place packages come from, and
# .ci/run calls it on a fresh machine.
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-dev
libevent-dev libssl-dev libpcap-dev libcmocka-dev libnftables-dev libmnl-dev
nftables iptables iproute2 curl ncat python3 procps openssl
nginx-light haproxy wrk tcpdump valgrind
libradcli-dev freeradius freeradius-utils dnsmasq libcap-ng-dev libseccomp-dev
mandoc chromium chromium-driver libnss3-tools systemd linux-perf"

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
