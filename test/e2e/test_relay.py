#!/usr/bin/env python3
# test_relay: end-to-end tests of the relay engine (issue 8): a session that ends
# cuts the client's open relays (WebSocket, download) within a second.
"""wicket e2e: the relay between an admitted client and its origin.

Run as root: python3 test/e2e/test_relay.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import origins  # noqa: E402

PY4 = "10.98.0.5"   # the Python origin (ws, pace)

CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
gateway_id test-relay
portal_url http://10.99.0.1/portal
audit_log {audit}
control_socket {tmp}/control.sock
state_file {tmp}/state
header_timeout 5
idle_timeout 30
"""

# Runs in the client namespace: opens a WebSocket through the gate and starts a
# paced download, prints "ready" once both carry bytes, then prints the
# CLOCK_MONOTONIC time at which each was closed by the gate.
CUT_CLIENT = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import origins
host = sys.argv[2]
ws = socket.create_connection((host, 80)); ws.settimeout(10)
ws.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += ws.recv(4096)
assert buf.startswith(b"HTTP/1.1 101"), buf
ws.sendall(origins.ws_frame(1, b"ping", mask=b"abcd"))
want = origins.ws_frame(1, b"ping")
rest = buf.split(b"\r\n\r\n", 1)[1]
while len(rest) < len(want):
    rest += ws.recv(4096)
dl = socket.create_connection((host, 80)); dl.settimeout(10)
dl.sendall(b"GET /pace?bytes=100000000&rate=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
got = dl.recv(65536)
assert got.startswith(b"HTTP/1.1 200"), got
print("ready", flush=True)
for name, s in (("ws", ws), ("dl", dl)):
    s.settimeout(3)
    try:
        while s.recv(65536):
            pass
        how = "fin"
    except ConnectionResetError:
        how = "rst"
    except socket.timeout:
        how = "timeout"
    print("%s %s %.3f" % (name, how, time.monotonic()), flush=True)
"""


class Fixture:
    """Topology with the Python origin and one wicketd; the client is admitted per test."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.ctl_bin = os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl")
        self.topo = t = h.Topology().__enter__()
        origins.add_origin_addr(t, PY4, None)
        self.py = origins.PyOrigin(t, [PY4]).start()
        self.gate = t.start_wicketd(CONF)
        self.sock = os.path.join(self.gate.dir, "control.sock")
        end = time.monotonic() + 5
        while not os.path.exists(self.sock) and time.monotonic() < end:
            time.sleep(0.05)

    def restart(self):
        """Start a fresh daemon after a crash so later tests still run."""
        try:
            self.gate.stop(check=False)
        except Exception:
            pass
        self.gate = self.topo.start_wicketd(CONF)
        self.sock = os.path.join(self.gate.dir, "control.sock")

    def ctl(self, *args):
        """wicketctl in the router namespace; the CompletedProcess (exit 0 required)."""
        p = self.topo.router.run([self.ctl_bin, "-s", self.sock] + [str(a) for a in args], check=False)
        assert p.returncode == 0, "wicketctl %s: exit %d %s %s" % (args, p.returncode, p.stdout, p.stderr)
        return p


def test_deny_cuts_websocket_and_download(f):
    """`wicketctl deny` closes the client's open WebSocket and its slow download within 1 s."""
    c = f.topo.client
    f.ctl("allow", c.mac, 600)
    p = c.ns.popen([sys.executable, "-c", CUT_CLIENT, os.path.dirname(os.path.abspath(__file__)), PY4],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line == "ready", "client did not get both relays going: %r %s" % (line, p.stderr.read())
        t_deny = time.monotonic()
        f.ctl("deny", c.mac)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
    ends = {}
    for ln in out.split("\n"):
        parts = ln.split()
        if len(parts) == 3:
            ends[parts[0]] = (parts[1], float(parts[2]) - t_deny)
    assert set(ends) == {"ws", "dl"}, "client output %r %r" % (out, err)
    for name, (how, dt) in ends.items():
        assert how in ("fin", "rst") and dt < 1.0, \
            "%s: closed by %s %.2f s after deny (must be < 1 s)" % (name, how, dt)
    ev = [e for e in f.gate.audit() if e.get("event") == "request" and e.get("path") == "/pace"]
    assert ev and ev[-1].get("error") == "session ended", "audit of the cut download: %r" % ev[-1:]


TESTS = [test_deny_cuts_websocket_and_download]


def setup():
    """The suite fixture."""
    return Fixture()


def after_each(f, test):
    """The daemon must survive every test."""
    h.check_daemon(f.gate, test, restart=f.restart)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_relay", TESTS, setup, teardown=h.teardown_fixture, after_each=after_each))
