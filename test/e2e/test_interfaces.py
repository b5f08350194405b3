#!/usr/bin/env python3
# test_interfaces: several LAN interfaces (issue 11 item 7). Two bridges in
# the router, br-lan and br-guest, with the same addresses (overlapping LANs),
# and on each a client with the same IP but its own MAC: two clients, two
# decisions, the interface in every audit record, one wicket-firewall ruleset
# for both (-i twice) keeping each MAC's own (MAC . address) pair.
"""wicket e2e: the same client IP on two LAN interfaces is two clients.

Run as root: python3 test/e2e/test_interfaces.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_mirror as tm  # noqa: E402  (echo service and TCP probe)
from test_identity import GARP, request  # noqa: E402  (gratuitous ARP, GET + audit line)

O4 = h.ORIGIN4
FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
GUEST_MAC = "02:99:00:00:00:99"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
interface br-guest
firewall nft
nft_table wicket
conflict_window 3
control_socket {tmp}/control.sock
state_file {tmp}/state
"""

class Fixture:
    """br-lan with client c, br-guest with client g (same IPv4 and IPv6 as c), the
    wicket-firewall ruleset on both, an echo service on origin:8080, and wicketd."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = t = h.Topology().__enter__()
        t.router.sysctl("net.ipv4.conf.all.rp_filter", 0)
        t.add_bridge("br-guest")
        self.guest = t.add_client("g", mac=GUEST_MAC, ip4=h.CLIENT4, ip6=h.CLIENT6,
                                  bridge="br-guest")
        assert self.guest.ip4 == t.client.ip4 and self.guest.ip6 == t.client.ip6
        t.set_redirect(3990, ["br-lan", "br-guest"])
        t.router.run(["sh", FW, "-i", "br-lan", "-i", "br-guest", "-p", "3990", "-t", "wicket",
                      "up"])
        self.origin = t.start_origin()
        t.origin.popen([sys.executable, "-c", tm.ECHO])
        t.origin.wait_listening(8080, timeout=5)
        self.gate = t.start_wicketd(CONF)

    @property
    def client(self):
        """The client on br-lan."""
        return self.topo.client

    def ctl(self, *args):
        """Run wicketctl against this daemon; return the CompletedProcess."""
        return subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s",
                               os.path.join(self.gate.dir, "control.sock")] + list(args),
                              capture_output=True, text=True, timeout=15)


def probe(client, port, t=1.0):
    """What a TCP connection from client to origin:port finds: open, refused or timeout."""
    p = client.ns.run([sys.executable, "-c", tm.PROBE, O4, str(port), str(t)], timeout=t * 3 + 5)
    return p.stdout.strip()


def test_listeners_bound_per_interface(f):
    """With two LAN interfaces every listen address is opened on each (SO_BINDTODEVICE), so
    the kernel answers a connection out of the interface it came in on."""
    err = f.gate.stderr()
    for name in ("0.0.0.0:3990%br-lan", "0.0.0.0:3990%br-guest", "[::]:3990%br-lan",
                 "[::]:3990%br-guest"):
        assert "listening on %s" % name in err, "no listener %s:\n%s" % (name, h.tail(err, 12))


def test_same_ip_two_clients_two_decisions(f):
    """The same IPv4 and IPv6 address on br-lan and br-guest are two clients: the admitted
    MAC on br-lan is forwarded, the other on br-guest gets 511, and each audit record names
    its interface and its own MAC."""
    r = f.ctl("allow", f.client.mac, "3600")
    assert r.returncode == 0, "allow: %s %s" % (r.stdout, r.stderr)
    for v6 in (False, True):
        tag = "6" if v6 else "4"
        st, e = request(f, f.client, "/if-lan-" + tag, v6)
        assert st == 200 and e["verdict"] == "forward", "br-lan client (v%s): %d %r" % (tag, st, e)
        assert e["interface"] == "br-lan" and e["mac"] == f.client.mac, "br-lan record %r" % e
        st, e = request(f, f.guest, "/if-guest-" + tag, v6)
        assert st == 511 and e["reason"] == "no_session", "br-guest client (v%s): %d %r" % (tag, st, e)
        assert e["interface"] == "br-guest" and e["mac"] == GUEST_MAC, "br-guest record %r" % e
        assert e["client_ip"] == (f.client.ip6 if v6 else f.client.ip4)


def test_registry_holds_both(f):
    """wicketctl show by MAC: each client holds the shared address on its own interface."""
    for mac in (f.client.mac, GUEST_MAC):
        r = f.ctl("show", mac)
        assert r.returncode == 0 and h.CLIENT4 in r.stdout, "show %s: %s %s" % (
            mac, r.stdout, r.stderr)


def test_firewall_keeps_each_pair(f):
    """wicket-firewall with -i twice: the admitted MAC's (MAC . address) pair is in the set,
    the other's is not, so only the br-lan client reaches origin:8080."""
    deadline = time.monotonic() + 3  # the reconcile after a new address runs every second
    while True:
        out = f.topo.router.run(["nft", "list", "set", "inet", "wicket", "allowed4"]).stdout
        if "%s . %s" % (f.client.mac, h.CLIENT4) in out or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "%s . %s" % (f.client.mac, h.CLIENT4) in out, "no pair for the admitted client:\n" + out
    assert GUEST_MAC not in out, "the guest's MAC is in the set:\n" + out
    deadline = time.monotonic() + 3
    while probe(f.client, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "br-lan client cannot reach 8080"
    assert probe(f.guest, 8080) == "timeout", "br-guest client reached 8080"
    out = f.topo.router.run(["nft", "list", "chain", "inet", "wicket", "prerouting"]).stdout
    assert "br-lan" in out and "br-guest" in out, "REDIRECT not on both interfaces:\n" + out


def test_no_conflict_across_interfaces(f):
    """A gratuitous ARP for the shared address on br-guest is no conflict with br-lan's
    client: no arp_conflict, and both decisions stand."""
    f.guest.ns.run([sys.executable, "-c", GARP, "eth0", GUEST_MAC, h.CLIENT4])
    f.client.ns.run([sys.executable, "-c", GARP, "eth0", f.client.mac, h.CLIENT4])
    time.sleep(0.5)
    assert not [e for e in f.gate.audit() if e.get("event") == "arp_conflict"], \
        "claims on two interfaces were taken for a conflict"
    st, _ = request(f, f.client, "/if-lan-after-garp")
    assert st == 200, "br-lan client after the guest's ARP: %d" % st
    st, e = request(f, f.guest, "/if-guest-after-garp")
    assert st == 511 and e["reason"] == "no_session", "br-guest client: %d %r" % (st, e)


def test_conflict_stays_on_its_interface(f):
    """A forged claim of the shared address on br-guest (another MAC) is a conflict there
    only: the guest's address fails closed with an arp_conflict naming br-guest, the br-lan
    client is still forwarded."""
    forger = "02:99:00:00:00:66"
    f.guest.ns.run([sys.executable, "-c", GARP, "eth0", forger, h.CLIENT4])
    got = f.gate.audit_wait(lambda e: e.get("event") == "arp_conflict", timeout=1.5)
    assert got and got[-1]["interface"] == "br-guest" and got[-1]["ip"] == h.CLIENT4, \
        "conflict event %r" % got
    st, _ = request(f, f.client, "/if-lan-during-guest-conflict")
    assert st == 200, "br-lan client during br-guest's conflict: %d" % st
    f.guest.ns.run([sys.executable, "-c", GARP, "eth0", GUEST_MAC, h.CLIENT4])
    time.sleep(0.3)
    st, e = request(f, f.guest, "/if-guest-in-conflict")
    assert st == 511 and e["reason"] == "arp_conflict", "br-guest during its conflict: %d %r" % (
        st, e)


def test_admit_guest_too(f):
    """Admitting the guest's MAC admits it on br-guest; both are forwarded."""
    time.sleep(3.5)  # conflict_window 3 after the last forged claim
    r = f.ctl("allow", GUEST_MAC, "3600")
    assert r.returncode == 0, "allow: %s %s" % (r.stdout, r.stderr)
    st, e = request(f, f.guest, "/if-guest-admitted")
    assert st == 200 and e["interface"] == "br-guest" and e["mac"] == GUEST_MAC, \
        "admitted guest: %d %r" % (st, e)
    st, e = request(f, f.client, "/if-lan-still")
    assert st == 200 and e["mac"] == f.client.mac, "br-lan client: %d %r" % (st, e)


TESTS = [
    test_listeners_bound_per_interface,
    test_same_ip_two_clients_two_decisions,
    test_registry_holds_both,
    test_firewall_keeps_each_pair,
    test_no_conflict_across_interfaces,
    test_conflict_stays_on_its_interface,
    test_admit_guest_too,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_interfaces", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
