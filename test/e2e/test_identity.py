#!/usr/bin/env python3
# test_identity: end-to-end tests of who a client is (issue 4): MAC admission
# on a bridge of several client namespaces, an admitted client changing IP,
# an ARP conflict from a gratuitous ARP, seeding from the kernel's neighbour
# table, and NDP learning for IPv6.
"""wicket e2e: clients are identified by MAC, learned from ARP/NDP.

Run as root: python3 test/e2e/test_identity.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4, O6 = h.ORIGIN4, h.ORIGIN6
TRUSTED = "02:99:00:00:00:0a"   # the default client "c"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
allow_mac %s
conflict_window 3
control_socket {tmp}/control.sock
state_file {tmp}/state
""" % TRUSTED

GARP = r"""
import socket, sys
ifname, mac, ip = sys.argv[1], sys.argv[2], sys.argv[3]
m = bytes.fromhex(mac.replace(":", ""))
a = socket.inet_aton(ip)
frame = (b"\xff" * 6 + m + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01"
         + m + a + b"\x00" * 6 + a)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for _ in range(3):
    s.send(frame)
"""


class Fixture:
    """Bridge with two clients, the origin, and wicketd sniffing br-lan."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        assert self.topo.client.mac == TRUSTED, "harness default client MAC changed"
        self.other = self.topo.add_client("b", mac="02:99:00:00:00:bb", ip4="10.99.0.20",
                                          ip6="fd99::20")
        self.origin = self.topo.start_origin()
        self.gate = self.topo.start_wicketd(CONF)

    @property
    def client(self):
        """The trusted (allow_mac) client."""
        return self.topo.client


def ctl(f, *args):
    """Run wicketctl against the fixture's daemon."""
    return subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s",
                           os.path.join(f.gate.dir, "control.sock")] + list(args),
                          capture_output=True, text=True, timeout=15)


def request(f, client, path, v6=False):
    """GET path from client to the origin; return (status, the audit record)."""
    host = "[%s]" % O6 if v6 else O4
    r = h.curl(client, (["-g"] if v6 else []) + ["http://%s%s" % (host, path)])
    got = f.gate.audit_wait(lambda e: e.get("event") == "request" and e.get("path") == path)
    assert got, "no audit record for %s" % path
    return r.status, got[-1]


def test_allow_mac_forwarded_other_denied(f):
    """The allow_mac device is forwarded; another device on the same LAN gets 511."""
    st, e = request(f, f.client, "/idm-a")
    assert st == 200 and e["verdict"] == "forward" and e["reason"] == "allow_mac", \
        "trusted device: %d %r" % (st, e)
    assert e["mac"] == TRUSTED, "audit mac %r" % e["mac"]
    assert e["mac_random"] is True, "02:... is locally administered: %r" % e
    st, e = request(f, f.other, "/idm-b")
    assert st == 511 and e["mac"] == f.other.mac and e["reason"] == "no_session", \
        "other device: %d %r" % (st, e)


def test_ndp_learns_ipv6(f):
    """Over IPv6 the same device is known by its MAC (NDP) and admitted."""
    st, e = request(f, f.client, "/idm-v6", v6=True)
    assert e["client_ip"] == f.client.ip6, "client_ip %r" % e["client_ip"]
    assert e["mac"] == TRUSTED and st == 200, "IPv6 request: %d %r" % (st, e)


def move(c, old, new):
    """Renumber client c's IPv4 from old to new and announce it (gratuitous ARP)."""
    c.ns.ip("addr", "del", old + "/24", "dev", "eth0")
    c.ns.ip("addr", "add", new + "/24", "dev", "eth0")
    c.ns.ip("route", "replace", "default", "via", h.LAN4)
    c.ns.run([sys.executable, "-c", GARP, "eth0", c.mac, new])


def test_admitted_client_changes_ip(f):
    """The trusted device moves to a new IPv4 address (DHCP renewal): the move of an admitted
    client is held while its old address is fresh (one forged ARP must not move it), with an
    arp_conflict event naming both addresses, and the new address is admitted once the old one
    has been quiet for conflict_window (3 s here)."""
    c = f.client
    for old, new, tag in ((c.ip4, "10.99.0.77", "moved"), ("10.99.0.77", c.ip4, "back")):
        st, _ = request(f, c, "/idm-pre-" + tag)
        assert st == 200, "not admitted before moving (%s)" % tag
        c.ns.run([sys.executable, "-c", GARP, "eth0", c.mac, old])  # the old address is fresh
        t0 = time.monotonic()
        move(c, old, new)
        got = f.gate.audit_wait(lambda e: e.get("event") == "arp_conflict" and e.get("ip") == new
                                and e.get("other_ip") == old, timeout=2.0)
        assert got and got[-1]["mac"] == TRUSTED, "no arp_conflict for the held move %s" % tag
        st, e = request(f, c, "/idm-held-" + tag)
        if time.monotonic() - t0 < 2.5:  # still inside the window
            assert st == 511 and e["reason"] == "arp_conflict", "held move %s: %d %r" % (tag, st, e)
        moved = f.gate.audit_wait(lambda e: e.get("event") == "client_moved" and e.get("ip") == new,
                                  timeout=6.0)
        assert moved and moved[-1]["other_ip"] == old, "move %s never confirmed" % tag
        st, e = request(f, c, "/idm-" + tag)
        assert e["client_ip"] == new, "client_ip %r" % e["client_ip"]
        assert st == 200 and e["mac"] == TRUSTED and e["verdict"] == "forward", \
            "after moving (%s): %d %r" % (tag, st, e)


def test_seeding_from_kernel_table(f):
    """wicketd started after the client has ARPed (and without a sniffer) still knows it."""
    h.curl(f.client, ["http://%s/idm-warm" % O4])  # the router's neighbour table knows it now
    f.gate.stop(check=False)
    conf = CONF.replace("interface br-lan\n", "")
    f.gate = f.topo.start_wicketd(conf)
    m = re.search(r"seeded (\d+) clients", f.gate.stderr())
    assert m and int(m.group(1)) >= 1, "no seeding: %s" % h.tail(f.gate.stderr(), 5)
    st, e = request(f, f.client, "/idm-seeded")
    assert e["mac"] == TRUSTED and st == 200, "after restart without sniffer: %d %r" % (st, e)
    f.gate.stop(check=False)
    f.gate = f.topo.start_wicketd(CONF)


def test_lookup_miss_asks_kernel(f):
    """Without a sniffer and with an empty neighbour table at start, the client is unknown to
    wicketd until it connects: its first request misses, wicketd asks the kernel for that one
    entry (the router resolved the client to answer its SYN) and admits it -- no dump."""
    f.gate.stop(check=False)
    f.topo.router.ip("-4", "neigh", "flush", "dev", h.BRIDGE, check=False)
    conf = CONF.replace("interface br-lan\n", "")
    f.gate = f.topo.start_wicketd(conf)
    p = ctl(f, "show", f.client.ip4)
    assert p.returncode != 0 and "not found" in p.stdout + p.stderr, \
        "the client is known before its first request: %s" % (p.stdout + p.stderr)
    st, e = request(f, f.client, "/idm-miss")
    assert e["mac"] == TRUSTED and st == 200, "first request after a miss: %d %r" % (st, e)
    st, e = request(f, f.other, "/idm-miss-other")
    assert st == 511 and e["mac"] == f.other.mac, "other client: %d %r" % (st, e)
    f.gate.stop(check=False)
    f.gate = f.topo.start_wicketd(CONF)


def test_arp_conflict_fails_closed(f):
    """Another MAC claims the trusted device's IP (gratuitous ARP): within 1 s an arp_conflict
    event is logged, and requests from that IP are no longer admitted."""
    c, b = f.client, f.other
    st, _ = request(f, c, "/idm-pre-conflict")
    assert st == 200, "trusted device not admitted before the conflict"
    t0 = time.monotonic()
    b.ns.run([sys.executable, "-c", GARP, "eth0", b.mac, c.ip4])
    got = f.gate.audit_wait(lambda e: e.get("event") == "arp_conflict", timeout=1.0)
    dt = time.monotonic() - t0
    assert got, "no arp_conflict event within 1 s"
    e = got[-1]
    assert e["ip"] == c.ip4 and {e["mac"], e["other_mac"]} == {c.mac, b.mac}, "event %r" % e
    assert dt < 1.5, "conflict logged after %.2fs" % dt
    # b's claim really poisoned the router's ARP cache; the owner answers
    # back (as it would), which also keeps the conflict standing.
    c.ns.run([sys.executable, "-c", GARP, "eth0", c.mac, c.ip4])
    time.sleep(0.2)
    st, e = request(f, c, "/idm-in-conflict")
    assert st == 511 and e["reason"] == "arp_conflict", "request during conflict: %d %r" % (st, e)


TESTS = [
    test_allow_mac_forwarded_other_denied,
    test_ndp_learns_ipv6,
    test_admitted_client_changes_ip,
    test_seeding_from_kernel_table,
    test_lookup_miss_asks_kernel,
    test_arp_conflict_fails_closed,  # last: the conflict stands for conflict_window
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_identity", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
