#!/usr/bin/env python3
# test_provision: RFC 8910 provisioning end to end (issue 9): dnsmasq, run by
# the test in the router namespace with the lines scripts/wicket-provision
# prints from wicketd's config, hands the client the exact API URI in
# DHCPv4 option 114 and DHCPv6 option 103 (a real exchange: dhcpclient.py),
# and that URI is where wicketd's API answers.
"""wicket e2e: DHCP option 114 / DHCPv6 option 103 carry the CAPPORT API URI.

Run as root: python3 test/e2e/test_provision.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import testca  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROVISION = os.path.join(h.REPO, "scripts", "wicket-provision")
DHCPCLIENT = os.path.join(HERE, "dhcpclient.py")
HOST, PORT = "portal.test", 8443
URI = "https://%s:%d/wicket/capport" % (HOST, PORT)
CONF = """\
listen 0.0.0.0:3990
interface br-lan
control_socket {tmp}/control.sock
state_file {tmp}/state
audit_log {audit}
"""


class Fixture:
    """Topology, the gate with a TLS listener, and dnsmasq configured from wicket-provision."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        for tool in ("dnsmasq", "openssl"):
            if shutil.which(tool) is None:
                raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
        self.topo = h.Topology().__enter__()
        t = self.topo
        self.ca = testca.TestCA(os.path.join(t.tmp, "ca"))
        self.ca.install(t.tmp, HOST)
        self.gate = t.start_wicketd(CONF + testca.gate_conf(t.tmp, h.LAN4, PORT, HOST))
        t.router.wait_listening(PORT, proc=self.gate.proc)
        p = subprocess.run([sys.executable, PROVISION, "-f", self.gate.conf_path, "dnsmasq"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, "wicket-provision failed: %s" % p.stderr
        self.provision = p.stdout
        conf = os.path.join(t.tmp, "dnsmasq.conf")
        with open(conf, "w") as f:
            f.write("port=0\ninterface=%s\nbind-interfaces\nno-resolv\nno-hosts\n"
                    "dhcp-authoritative\nno-ping\ndhcp-range=10.99.0.100,10.99.0.199,255.255.255.0,1h\n"
                    "dhcp-range=fd99::100,fd99::1ff,64,1h\n"
                    "dhcp-leasefile=%s\npid-file=\nuser=root\nlog-dhcp\n"
                    % (h.BRIDGE, os.path.join(t.tmp, "leases")))
            f.write(self.provision)  # exactly what the operator would paste
        self.dnsmasq_log = os.path.join(t.tmp, "dnsmasq.log")
        self.dnsmasq = t.router.popen(["dnsmasq", "--keep-in-foreground", "--conf-file=" + conf,
                                       "--log-facility=" + self.dnsmasq_log],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 5
        while not t.router.listening(67, proto="u") and time.monotonic() < end:
            if self.dnsmasq.poll() is not None:
                raise RuntimeError("dnsmasq exited: %s" % self.log())
            time.sleep(0.05)

    def log(self):
        """dnsmasq's log so far."""
        try:
            with open(self.dnsmasq_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @property
    def client(self):
        """The default client."""
        return self.topo.client


def teardown(f):
    """Stop dnsmasq, then the usual teardown."""
    if f.dnsmasq.poll() is None:
        f.dnsmasq.terminate()
        f.dnsmasq.wait(timeout=5)
    h.teardown_fixture(f)


def test_provision_output(f):
    """wicket-provision prints the API URI from the config for each server type."""
    assert 'dhcp-option=114,"%s"' % URI in f.provision, f.provision
    assert 'dhcp-option=option6:103,"%s"' % URI in f.provision, f.provision
    p = subprocess.run([sys.executable, PROVISION, "-f", f.gate.conf_path], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0
    for want in ('"name": "v4-captive-portal", "code": 114, "data": "%s"' % URI,
                 '"name": "v6-captive-portal", "code": 103, "data": "%s"' % URI,
                 'AdvCaptivePortalAPI "%s";' % URI,
                 "uci add_list dhcp.lan.dhcp_option='114,\"%s\"'" % URI,
                 "interface br-lan {"):
        assert want in p.stdout, "missing %r in:\n%s" % (want, p.stdout)
    p = subprocess.run([sys.executable, PROVISION, "-f", f.gate.conf_path, "--uri"],
                       capture_output=True, text=True, timeout=10)
    assert p.stdout == URI + "\n", p.stdout
    # without a TLS listener there is no API to announce: a clear error
    p = subprocess.run([sys.executable, PROVISION, "-f", os.path.join(h.REPO, "proxy.conf.example")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "set tls_listen" in p.stderr, (p.returncode, p.stderr)
    # without -f it reads the file wicketd reads without -f (wicketd -h)
    w = subprocess.run([f.gate.binary, "-h"], capture_output=True, text=True, timeout=10)
    default = re.search(r"-f FILE .*\(default (\S+)\)", w.stdout + w.stderr).group(1)
    p = subprocess.run([sys.executable, PROVISION, "-h"], capture_output=True, text=True, timeout=10)
    assert "(default %s," % default in p.stdout, "wicket-provision -h:\n%s" % p.stdout
    p = subprocess.run([sys.executable, PROVISION, "--uri"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 or default in p.stderr, (default, p.returncode, p.stderr)


def test_dhcpv4_option_114(f):
    """A real DISCOVER/OFFER/REQUEST/ACK: both the OFFER and the ACK carry option 114 = the API URI."""
    p = f.client.ns.run([h.PY, DHCPCLIENT, "v4", "eth0", f.client.mac], timeout=30)
    res = json.loads(p.stdout)
    assert res["offer"] and res["ack"], "no DHCP answer: %r\ndnsmasq log:\n%s" % (res, h.tail(f.log(), 20))
    assert res["offer"]["114"] == URI and res["ack"]["114"] == URI, res
    assert res["ack"]["yiaddr"].startswith("10.99.0."), res


def test_dhcpv6_option_103(f):
    """A DHCPv6 Information-Request asking for option 103: the Reply carries the API URI."""
    p = f.client.ns.run([h.PY, DHCPCLIENT, "v6", "eth0"], timeout=30)
    res = json.loads(p.stdout)
    assert res["reply"], "no DHCPv6 reply: %r\ndnsmasq log:\n%s" % (res, h.tail(f.log(), 20))
    assert res["reply"]["103"] == URI, res


def test_announced_uri_answers(f):
    """The URI the client was given is where the API answers (captive before admission)."""
    r = h.curl(f.client, ["--cacert", f.ca.pem, "--resolve", "%s:%d:%s" % (HOST, PORT, h.LAN4),
                          "-H", "Accept: application/captive+json", URI])
    assert r.status == 200 and json.loads(r.body)["captive"] is True, r.raw


TESTS = [test_provision_output, test_dhcpv4_option_114, test_dhcpv6_option_103, test_announced_uri_answers]


if __name__ == "__main__":
    sys.exit(h.run_suite("test_provision", TESTS, Fixture, teardown=teardown))
