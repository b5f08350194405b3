#!/bin/sh
# Removes network namespaces left behind by the e2e harness (names wk<PID>...),
# killing what still runs inside them. A namespace whose harness process is
# still alive is kept, so parallel runs do not tear each other down; --all forces.
set -u

all=0
[ "${1:-}" = "--all" ] && all=1

n=0
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^wk[0-9]+'); do
	pid=$(printf '%s\n' "$ns" | sed -E 's/^wk([0-9]+).*/\1/')
	if [ "$all" -eq 0 ] && [ -d "/proc/$pid" ] && grep -q python "/proc/$pid/comm" 2>/dev/null; then
		continue # its harness is still running
	fi
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null && n=$((n + 1))
done
[ "$n" -gt 0 ] && echo "netns-clean: removed $n leftover namespace(s)"
exit 0
