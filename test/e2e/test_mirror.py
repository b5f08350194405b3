#!/usr/bin/env python3
# test_mirror: end-to-end tests of wicketd driving the real nftables ruleset
# from scripts/wicket-firewall (issue 5): another TCP port is closed before
# admission and open after it; `wicketctl deny` brings 511 back, closes the
# port again and cuts an established connection; a restart reconciles.
"""wicket e2e: admissions open the whole network, revocations close it.

Run as root: python3 test/e2e/test_mirror.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_portal as tp  # noqa: E402  (splash helpers)

O4 = h.ORIGIN4
FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
firewall nft
nft_table wicket
control_socket %(tmp)s/control.sock
state_file %(tmp)s/state
"""

ECHO = r"""
import socket, threading
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8080)); s.listen(64)
def serve(c):
    while True:
        b = c.recv(4096)
        if not b: break
        c.sendall(b)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

PROBE = r"""
import socket, sys
host, port, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    s = socket.create_connection((host, port), timeout=t)
    s.sendall(b"ping"); s.settimeout(t)
    print("open" if s.recv(4) == b"ping" else "silent")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")
"""

STREAM = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=2)
s.settimeout(0.2)
out = open(sys.argv[2], "w", buffering=1)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    try:
        s.sendall(b"x")
        if s.recv(1) == b"x":
            out.write("%f\n" % time.time())
    except OSError:
        pass
    time.sleep(0.1)
"""


class Fixture:
    """Topology, the real ruleset, an echo service on origin:8080, and wicketd."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.conf = CONF % {"tmp": self.topo.tmp}
        self.topo.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
        self.origin = self.topo.start_origin()
        self.topo.origin.popen([sys.executable, "-c", ECHO])
        self.topo.origin.wait_listening(8080, timeout=5)
        self.gate = self.topo.start_wicketd(self.conf)
        self.ctl_sock = os.path.join(self.topo.tmp, "control.sock")

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def ctl(self, *args):
        """Run wicketctl against this daemon; return the CompletedProcess."""
        return subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s", self.ctl_sock]
                              + list(args), capture_output=True, text=True, timeout=15)


def probe(f, port, t=1.0):
    """What a TCP connection from the client to origin:port finds: open, refused or timeout."""
    p = f.client.ns.run([sys.executable, "-c", PROBE, O4, str(port), str(t)], timeout=t * 3 + 5)
    return p.stdout.strip()


def test_closed_before_admission(f):
    """Before admission: port 8080 is dropped and 443 is reset at once; port 80 gets 511."""
    assert probe(f, 8080) == "timeout", "8080 reachable before admission"
    t0 = time.monotonic()
    assert probe(f, 443) == "refused", "443 not reset"
    assert time.monotonic() - t0 < 1.0, "443 reset took too long"
    assert h.curl(f.client, ["http://%s/m-pre" % O4]).status == 511


def test_splash_opens_the_network(f):
    """Accepting the splash admits the MAC in nftables: port 8080 becomes reachable."""
    _, fields = tp.splash_form(f, f.client, "/m-wanted")
    r = tp.post_accept(f.client, fields)
    assert r.status == 303, "accept: %d" % r.status
    deadline = time.monotonic() + 2
    while probe(f, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "8080 still closed after admission"


def test_deny_closes_and_cuts_established(f):
    """wicketctl deny: 511 on the next request, 8080 closed again, and an established
    connection on 8080 stops passing data within 1 s."""
    assert probe(f, 8080) == "open", "not admitted at the start of this test"
    log = os.path.join(f.topo.tmp, "stream.log")
    p = f.client.ns.popen([sys.executable, "-c", STREAM, O4, log, "6"])
    time.sleep(1.5)
    before = open(log).read().split()
    assert len(before) >= 5, "stream not flowing before deny: %d echoes" % len(before)
    r = f.ctl("deny", f.client.mac)
    t_deny = time.time()
    assert r.returncode == 0, "deny: %s %s" % (r.stdout, r.stderr)
    p.wait(timeout=15)
    times = [float(x) for x in open(log).read().split()]
    late = [t for t in times if t > t_deny + 1.0]
    assert not late, "established connection still passed data %.2fs after deny" % (late[-1] - t_deny)
    assert h.curl(f.client, ["http://%s/m-after-deny" % O4]).status == 511
    assert probe(f, 8080) == "timeout", "8080 reachable after deny"
    assert [e for e in f.gate.audit() if e.get("event") == "revoke"], "no revoke audit event"


def test_restart_reconciles_sets(f):
    """An admission survives kill -9; at start wicketd puts it back into nftables even if
    the sets were flushed meanwhile."""
    r = f.ctl("allow", f.client.mac, "600")
    assert r.returncode == 0, "allow: %s %s" % (r.stdout, r.stderr)
    assert probe(f, 8080) == "open", "allow did not open 8080"
    f.gate.proc.kill()
    f.gate.proc.wait(timeout=5)
    for s in ("allowed_mac", "allowed4", "allowed6", "allowed4_dst", "allowed6_dst"):
        f.topo.router.run(["nft", "flush", "set", "inet", "wicket", s])
    assert probe(f, 8080) == "timeout", "flushing the sets did not close 8080"
    f.gate = f.topo.start_wicketd(f.conf)
    deadline = time.monotonic() + 3
    while probe(f, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "restart did not reconcile the sets"


def remaining(f, mac):
    """The seconds `wicketctl show` says are left of mac's admitted session, or None."""
    r = f.ctl("show", mac)
    m = re.search(r"remaining[ =:]+(\d+)", r.stdout)
    return int(m.group(1)) if r.returncode == 0 and "admitted" in r.stdout and m else None


def test_reallow_the_firewall_refuses_keeps_the_session(f):
    """A re-allow of an admitted MAC that nft refuses (the operator's firewall reload
    deleted the table under wicketd) is refused and changes nothing: the acknowledged
    session stays in memory (HTTP forwarded, `show` with its old remaining time), on disk
    (after a restart) and, once the table is back, in nft; no revoke is audited."""
    mac = f.client.mac
    r = f.ctl("allow", mac, "600")
    assert r.returncode == 0, "allow: %s %s" % (r.stdout, r.stderr)
    assert probe(f, 8080) == "open", "allow did not open 8080"
    f.topo.router.run(["nft", "delete", "table", "inet", "wicket"])
    try:
        r = f.ctl("allow", mac, "5000")
        assert r.returncode == 1 and "keeps what it had" in r.stderr, \
            "re-allow nft refused: %d %r %r" % (r.returncode, r.stdout, r.stderr)
        left = remaining(f, mac)
        assert left is not None and 500 < left <= 600, \
            "after the refused re-allow: %r" % f.ctl("show", mac).stdout
        assert h.curl(f.client, ["http://%s/m-reallow-refused" % O4]).status != 511, \
            "a refused re-allow cut the client off"
    finally:
        f.topo.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
    # the table is back, empty: the reconcile puts the old session in again
    deadline = time.monotonic() + 4
    while probe(f, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "the kept session is not back in nft"
    assert not [e for e in f.gate.audit() if e.get("event") == "revoke" and e.get("mac") == mac], \
        "a refused re-allow revoked the session"
    h.stop_checked(f.gate)
    f.gate = f.topo.start_wicketd(f.conf)
    left = remaining(f, mac)
    assert left is not None and 500 < left <= 600, \
        "after a restart: %r" % f.ctl("show", mac).stdout
    f.ctl("deny", mac)


TESTS = [
    test_closed_before_admission,
    test_splash_opens_the_network,
    test_deny_closes_and_cuts_established,
    test_restart_reconciles_sets,
    test_reallow_the_firewall_refuses_keeps_the_session,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_mirror", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
