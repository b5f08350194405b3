#!/usr/bin/env python3
# test_forward_kernel: `forward kernel` (issue 8, item 7) -- with the ruleset of
# `wicket-firewall -F kernel`, an admitted client's port 80 bypasses wicketd: the
# origin sees the client's own address and wicketd writes no audit line; everyone
# else still gets the 511, and a revocation sends the client back to wicketd.
"""wicket e2e: the kernel fast path for admitted clients.

Run as root: python3 test/e2e/test_forward_kernel.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4 = h.ORIGIN4
FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
firewall nft
nft_table wicket
forward kernel
control_socket {tmp}/control.sock
state_file {tmp}/state
"""


class Fixture:
    """Topology whose only REDIRECT is the shipped ruleset with -F kernel, the recording
    origin, and wicketd with forward kernel."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = t = h.Topology().__enter__()
        # the harness's own REDIRECT would redirect admitted clients too
        t.router.run(["nft", "delete", "table", "inet", "wicket_test"])
        t.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "-F", "kernel", "up"])
        self.origin = t.start_origin()
        self.other = t.add_client("other")
        self.gate = t.start_wicketd(CONF)
        self.sock = os.path.join(self.gate.dir, "control.sock")
        end = time.monotonic() + 5
        while not os.path.exists(self.sock) and time.monotonic() < end:
            time.sleep(0.05)
        # both clients in the registry (and so in nft once admitted)
        for c in (t.client, self.other):
            assert h.curl(c, ["http://%s/k-seen" % O4]).status == 511

    def ctl(self, *args):
        """wicketctl in the router namespace (exit 0 required)."""
        p = subprocess.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"), "-s", self.sock]
                           + [str(a) for a in args], capture_output=True, text=True, timeout=15)
        assert p.returncode == 0, "wicketctl %s: %s %s" % (args, p.stdout, p.stderr)
        return p.stdout


def peers(f, path):
    """The peer addresses the origin saw for requests of `path`."""
    return [e.get("peer", "").rsplit(":", 1)[0].replace("::ffff:", "") for e in f.origin.events()
            if e.get("event") == "request" and e.get("path", e.get("target", "")).split("?")[0] == path]


def test_admitted_client_bypasses_wicketd(f):
    """After `wicketctl allow`, the client's GET reaches the origin from the client's own
    address (not the router's, as wicketd's relay would), and wicketd logs no request."""
    f.ctl("allow", f.topo.client.mac, 600)
    try:
        r = h.curl(f.topo.client, ["http://%s/k-direct" % O4])
        assert r.status == 200, "admitted client: %r" % r.status_line
        assert peers(f, "/k-direct") == [h.CLIENT4], "origin saw the request from %r, expected %s" % (
            peers(f, "/k-direct"), h.CLIENT4)
        time.sleep(0.3)
        lines = [e for e in f.gate.audit() if e.get("path") == "/k-direct"]
        assert lines == [], "wicketd logged a request it should never have seen: %r" % lines
        # another client, not admitted, still meets wicketd
        r = h.curl(f.other, ["http://%s/k-other" % O4])
        assert r.status == 511, "client not admitted: %r" % r.status_line
        assert [e for e in f.gate.audit() if e.get("path") == "/k-other"], "no audit line for the 511"
    finally:
        f.topo.router.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"), "-s", f.sock,
                           "deny", f.topo.client.mac], check=False)


def test_revoked_client_back_to_wicketd(f):
    """A revoked client's next connection is redirected to wicketd again: 511."""
    f.ctl("allow", f.topo.client.mac, 600)
    assert h.curl(f.topo.client, ["http://%s/k-before" % O4]).status == 200
    f.ctl("deny", f.topo.client.mac)
    r = h.curl(f.topo.client, ["http://%s/k-after" % O4])
    assert r.status == 511, "revoked client: %r" % r.status_line
    assert [e for e in f.gate.audit() if e.get("path") == "/k-after"], "no audit line for the 511"


def test_check_needs_firewall_nft(f):
    """`forward kernel` without `firewall nft` is refused by `wicketd -n` with file:line."""
    path = os.path.join(f.topo.tmp, "kernel-nofw.conf")
    with open(path, "w") as fh:
        fh.write("listen 0.0.0.0:3990\nforward kernel\n")
    p = subprocess.run([h.default_wicketd(), "-n", "-f", path], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and ("%s:2: forward: kernel needs firewall nft" % path) in p.stderr, \
        "wicketd -n: exit %d, %r" % (p.returncode, p.stderr)


TESTS = [test_admitted_client_bypasses_wicketd, test_revoked_client_back_to_wicketd,
         test_check_needs_firewall_nft]


def setup():
    """The suite fixture."""
    return Fixture()


def after_each(f, test):
    """The daemon must survive every test."""
    h.check_daemon(f.gate, test)


def teardown(f):
    """Stop wicketd, remove the ruleset and the namespaces."""
    try:
        h.stop_checked(f.gate)
    finally:
        f.topo.down()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_forward_kernel", TESTS, setup, teardown=teardown, after_each=after_each))
