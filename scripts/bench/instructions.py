#!/usr/bin/env python3
# instructions: a deterministic cost figure for wicketd's hot path -- the CPU
# instructions one keep-alive request costs, counted by callgrind as the
# difference between a 1,000- and a 5,000-request run in the e2e topology.
"""Usage (root): python3 scripts/bench/instructions.py [deny|deny-splash|forward][-new]

deny: requests answered 511 with a link to an external portal_url, as in the
benchmark (the default); deny-splash: the same with the default configuration,
whose 511 links to the gate's own splash with a signed return URL (one
HMAC-SHA256 per 511); forward: admitted by allow_ip and relayed to the origin.
With -new (deny-new, ...) every request comes on a new connection and asks
for Connection: close, as wrk -H 'Connection: close' does. WICKET_CONF_EXTRA
adds lines to wicketd's configuration (e.g. "interface br-lan").
Prints "instructions per request: N".
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

import harness as h  # noqa: E402

CLIENT = r"""
import socket, sys
n, fresh = int(sys.argv[1]), sys.argv[2] == "new"
req = (b"GET /some/page?x=1 HTTP/1.1\r\nHost: 10.98.0.2\r\nUser-Agent: bench\r\nAccept: */*\r\n"
       + (b"Connection: close\r\n" if fresh else b"") + b"\r\n")
s = None
for i in range(n):
    if s is None:
        s = socket.create_connection(("10.98.0.2", 80)); s.settimeout(10)
    s.sendall(req)
    buf = b""
    while True:
        buf += s.recv(65536)
        if b"\r\n\r\n" in buf:
            head, body = buf.split(b"\r\n\r\n", 1)
            cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if len(body) >= int(cl[0].split(b":")[1]):
                break
    if fresh:
        s.close()
        s = None
"""


def serve(n, mode, tool, stop=None):
    """Run wicketd under `tool` (a command line ending where wicketd's own begins) in
    the e2e topology while one keep-alive connection sends n requests (511, or relayed
    to the origin with mode "forward"; with "-new" each on its own connection);
    `stop(gate)` ends it (default: SIGTERM)."""
    fresh = mode.endswith("-new")
    mode = mode[:-4] if fresh else mode
    conf = ("listen 0.0.0.0:3990\naudit_log {audit}\ncontrol_socket {tmp}/c.sock\n"
            "state_file {tmp}/state\nclient_connections 1000000\nclient_connect_rate 0\n"
            "client_511_rate 0\n"
            # valgrind makes system calls of its own (and cannot follow a
            # filter being installed): the allow-list would end the daemon
            "seccomp no\n")
    conf += os.environ.get("WICKET_CONF_EXTRA", "").replace("\\n", "\n") + "\n"
    if mode == "forward":
        conf += "allow_ip 10.99.0.0/24\n"
    if mode == "deny":
        conf += "portal_url http://10.99.0.1/portal\n"
    with h.Topology() as t:
        if mode == "forward":
            t.start_origin()
        g = t.start_wicketd(conf, binary=tool[0],
                            args=tuple(tool[1:]) + (os.path.join(REPO, "build", "wicketd"), "-d"))
        t.client.ns.run([sys.executable, "-c", CLIENT, str(n), "new" if fresh else "keep"],
                        timeout=600)
        if stop is not None:
            stop(g)
        g.stop(check=False, timeout=60)


# Once-a-second sweeps whose cost follows the run's wall time, not its requests
# (valgrind makes a run of new connections last several seconds): not counted.
TICKS = ("grant_on_tick", "ident_on_tick", "radius_on_tick")


def run(n, mode, out):
    """Total instructions of a wicketd run serving n requests."""
    serve(n, mode, ["/usr/bin/valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
          + ["--toggle-collect=" + f for f in TICKS] + ["--collect-atstart=yes"])
    with open(out) as f:
        tot = [ln for ln in f if ln.startswith(("summary:", "totals:"))]
    os.unlink(out)
    return int(tot[-1].split()[1])


def main():
    """Measure and print."""
    mode = sys.argv[1] if len(sys.argv) > 1 else "deny"
    if mode.replace("-new", "") not in ("deny", "deny-splash", "forward"):
        print(__doc__)
        return 2
    a = run(1000, mode, "/tmp/wicket-cg.1000.out")
    b = run(5000, mode, "/tmp/wicket-cg.5000.out")
    print("instructions per request (%s): %.0f" % (mode, (b - a) / 4000.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
