#!/usr/bin/env python3
# syscalls: a deterministic I/O cost figure for wicketd's hot path -- the
# system calls one keep-alive request costs, counted by `strace -c -f` as the
# difference between a 1,000- and a 5,000-request run in the e2e topology.
"""Usage (root): python3 scripts/bench/syscalls.py [deny|deny-splash|forward][-new]

deny: requests answered 511 (the default); forward: admitted by allow_ip and
relayed to the origin; with -new every request on its own connection
(Connection: close). Prints the calls per request, by name and in all.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
sys.path.insert(0, HERE)

from instructions import serve  # noqa: E402


def stop_tracee(g):
    """SIGTERM to wicketd itself: strace writes its summary when the tracee exits."""
    with open("/proc/%d/task/%d/children" % (g.proc.pid, g.proc.pid)) as f:
        for pid in f.read().split():
            os.kill(int(pid), 15)
    g.proc.wait(timeout=60)


def run(n, mode, out):
    """{syscall: calls} of a wicketd run serving n requests."""
    serve(n, mode, ["/usr/bin/strace", "-f", "-c", "-o", out], stop=stop_tracee)
    calls = {}
    with open(out) as f:
        for ln in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", ln)
            if m and m.group(2) != "total":
                calls[m.group(2)] = int(m.group(1))
    os.unlink(out)
    return calls


def main():
    """Measure and print."""
    mode = sys.argv[1] if len(sys.argv) > 1 else "deny"
    if mode.replace("-new", "") not in ("deny", "deny-splash", "forward"):
        print(__doc__)
        return 2
    a = run(1000, mode, "/tmp/wicket-st.1000.out")
    b = run(5000, mode, "/tmp/wicket-st.5000.out")
    per = {k: (b.get(k, 0) - a.get(k, 0)) / 4000.0 for k in set(a) | set(b)}
    per = {k: v for k, v in per.items() if v >= 0.005}
    for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
        print("%-16s %6.2f" % (k, v))
    print("system calls per request (%s): %.2f" % (mode, sum(per.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
