#!/usr/bin/env python3
# test_unprivileged: wicketd runs as an ordinary user holding only
# CAP_NET_ADMIN (the nftables sets) and CAP_NET_RAW (the ARP/NDP sniffer), as
# the systemd unit in docs/deployment.md runs it: the sniffer learns MACs,
# the splash admits, the nft mirror opens the network, the state is written.
"""wicket e2e: no root needed beyond two capabilities.

Run as root: python3 test/e2e/test_unprivileged.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_mirror as tm  # noqa: E402  (the echo service and the TCP probe)
import test_portal as tp  # noqa: E402  (splash helpers)

NOBODY = 65534
CAP_NET_ADMIN, CAP_NET_RAW = 12, 13
FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log %(dir)s/audit.jsonl
interface br-lan
firewall nft
nft_table wicket
control_socket %(dir)s/run/control.sock
state_file %(dir)s/lib/state
"""


class Fixture:
    """Topology, ruleset, echo service, and wicketd under setpriv as nobody."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = t = h.Topology().__enter__()
        self.dir = os.path.join(t.tmp, "own")
        for d in ("", "run", "lib"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
            os.chown(os.path.join(self.dir, d), NOBODY, NOBODY)
        os.chmod(t.tmp, 0o755)  # let nobody reach its own directory
        t.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
        t.start_origin()
        t.origin.popen([sys.executable, "-c", tm.ECHO])
        t.origin.wait_listening(8080, timeout=5)
        binary = h.default_wicketd()
        self.gate = t.start_wicketd(CONF % {"dir": self.dir}, binary="/usr/bin/setpriv", args=(
            "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
            "--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=-all,+net_admin,+net_raw",
            "--bounding-set=-all,+net_admin,+net_raw", binary, "-d"))

    @property
    def client(self):
        """The default client."""
        return self.topo.client


def status(pid):
    """Fields of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def test_runs_as_nobody_with_two_capabilities(f):
    """The daemon's uid is nobody and its effective capabilities are exactly NET_ADMIN+NET_RAW."""
    st = status(f.gate.proc.pid)
    assert st["Uid"].split()[:2] == [str(NOBODY)] * 2, "Uid %s" % st["Uid"]
    cap = int(st["CapEff"], 16)
    assert cap == (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW), "CapEff %s" % st["CapEff"]


def test_sniffer_learns_without_root(f):
    """The pcap sniffer works with CAP_NET_RAW: a request carries the client's MAC."""
    h.curl(f.client, ["http://%s/u-warm" % h.ORIGIN4])
    time.sleep(0.2)
    r = h.curl(f.client, ["http://%s/u-mac" % h.ORIGIN4])
    assert r.status == 511
    e = f.gate.audit_wait(lambda e: e.get("path") == "/u-mac")
    assert e and e[-1]["mac"] == f.client.mac, "audit %r" % (e[-1] if e else None)


def test_splash_admits_and_opens_nft(f):
    """Splash accept: the grant is written to the state file and nft opens port 8080."""
    assert tm.probe(f, 8080) == "timeout", "8080 open before admission"
    _, fields = tp.splash_form(f, f.client, "/u-wanted")
    r = tp.post_accept(f.client, fields)
    assert r.status == 303, "accept: %d" % r.status
    deadline = time.monotonic() + 2
    while tm.probe(f, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "nft mirror did not open 8080 without root"
    st = os.stat(os.path.join(f.dir, "lib", "state"))
    assert st.st_uid == NOBODY and st.st_size > 0, "state file not written by the daemon"


TESTS = [
    test_runs_as_nobody_with_two_capabilities,
    test_sniffer_learns_without_root,
    test_splash_admits_and_opens_nft,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_unprivileged", TESTS, lambda: Fixture(),
                         teardown=h.teardown_fixture, after_each=after_each))
