#!/usr/bin/env python3
# test_admission: end-to-end tests of the admission paths not covered by the
# other suites: the signed 511 link to an external login server (verified
# here with the documented canonical string), a grant key readable by others
# refused at start, walled_garden_host matched by resolved address, and the
# decision re-taken for every request on one keep-alive connection.
"""wicket e2e: links, keys, walled-garden names and per-request decisions.

Run as root: python3 test/e2e/test_admission.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import hashlib
import hmac
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import origins  # noqa: E402

O4 = h.ORIGIN4
GARDEN4 = "10.98.0.3"
WS4 = "10.98.0.5"     # the Python origin with a WebSocket echo
PORTAL = "http://%s/login" % GARDEN4
KEY = b"0123456789abcdef0123456789abcdef"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
gateway_id gw-test
portal_url %(portal)s
grant_key %(key)s
walled_garden_host login.wicket.test
control_socket %(tmp)s/control.sock
state_file %(tmp)s/state
"""

KEEPALIVE = r"""
import os, socket, sys, time
host, flag = sys.argv[1], sys.argv[2]
s = socket.create_connection((host, 80), timeout=5)
def one(path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(rest) < n:
        rest += s.recv(65536)
    return head.split(b"\r\n")[0].decode()
print(one("/ka-1"), flush=True)
while not os.path.exists(flag):
    time.sleep(0.05)
print(one("/ka-2"), flush=True)
"""


class Fixture:
    """Topology with a second origin address named in the router's hosts file."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        t = self.topo
        t.origin.ip("addr", "add", GARDEN4 + "/24", "dev", "eth0")
        # `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts
        self.etc = "/etc/netns/%s" % t.router.name
        os.makedirs(self.etc, exist_ok=True)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n%s login.wicket.test\n" % GARDEN4)
        self.key = os.path.join(t.tmp, "grant.key")
        with open(os.open(self.key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(KEY + b"\n")
        self.conf = CONF % {"portal": PORTAL, "key": self.key, "tmp": t.tmp}
        try:
            origins.add_origin_addr(t, WS4, None)
            # One origin answers on every address: 200 for plain GETs, and
            # a WebSocket echo on /ws.
            self.py = origins.PyOrigin(t, [O4, GARDEN4, WS4]).start()
            self.gate = t.start_wicketd(self.conf)
        except BaseException:
            shutil.rmtree(self.etc, ignore_errors=True)
            t.down()
            raise

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def ctl(self, *args):
        """Run wicketctl against this daemon."""
        return subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s",
                               os.path.join(self.topo.tmp, "control.sock")] + list(args),
                              capture_output=True, text=True, timeout=15)


def link_params(body):
    """The query parameters of the first link in a page."""
    href = re.search(r'href="([^"]+)"', body.decode("utf-8", "replace")).group(1)
    href = href.replace("&amp;", "&")
    base, _, q = href.partition("?")
    return base, dict(urllib.parse.parse_qsl(q, strict_parsing=True))


def test_external_link_is_signed(f):
    """With portal_url and grant_key, the 511 links to the login server with mac, ip,
    url, ts, gw and an HMAC-SHA256 sig over the documented canonical string."""
    r = h.curl(f.client, ["http://%s/want?x=1" % O4])
    assert r.status == 511, "status %d" % r.status
    base, p = link_params(r.body)
    assert base == PORTAL, "link goes to %r" % base
    assert set(p) == {"mac", "ip", "url", "ts", "gw", "sig"}, "link parameters %r" % sorted(p)
    assert p["mac"] == f.client.mac and p["ip"] == h.CLIENT4 and p["gw"] == "gw-test", p
    assert p["url"] == "http://%s/want?x=1" % O4, "url %r" % p["url"]
    assert abs(int(p["ts"]) - time.time()) < 10, "ts %r" % p["ts"]
    canon = "wicket-link-v1\nmac=%s\nip=%s\nurl=%s\nts=%s\ngw=%s\n" % (
        p["mac"], p["ip"], p["url"], p["ts"], p["gw"])
    want = hmac.new(KEY, canon.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(p["sig"], want), "sig does not verify: %s vs %s" % (p["sig"], want)


def test_gate_page_redirects_to_external_portal(f):
    """With an external portal, the gate's own page sends the browser there (302)."""
    r = h.curl(f.client, ["http://%s/wicket/?url=http%%3A%%2F%%2Fa%%2F" % h.LAN4])
    assert r.status == 302, "status %d" % r.status
    loc = r.headers.get("Location")
    assert loc.startswith(PORTAL + "?mac="), "Location %r" % loc


def test_walled_garden_host_by_address(f):
    """walled_garden_host login.wicket.test (10.98.0.3 in the router's hosts file): reachable
    before admission, while another address still gets 511."""
    deadline = time.monotonic() + 3
    while True:
        r = h.curl(f.client, ["http://%s/login" % GARDEN4])
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 200, "walled garden host: %d" % r.status
    e = f.gate.audit_wait(lambda e: e.get("path") == "/login" and e.get("verdict") == "forward")
    assert e and e[-1]["reason"] == "walled_garden", "audit %r" % (e[-1] if e else None)
    assert h.curl(f.client, ["http://%s/elsewhere" % O4]).status == 511
    # The name is matched by address, never by Host: a lying Host gets nothing.
    r = h.curl(f.client, ["-H", "Host: login.wicket.test", "http://%s/lie" % O4])
    assert r.status == 511, "Host header opened the garden: %d" % r.status


def test_decision_per_request_on_one_connection(f):
    """Admitted, a keep-alive connection is forwarded; after `deny` the next request on
    the same connection gets 511."""
    r = f.ctl("allow", f.client.mac, "600")
    assert r.returncode == 0, r.stderr
    flag = os.path.join(f.topo.tmp, "denied")
    p = f.client.ns.popen([sys.executable, "-c", KEEPALIVE, O4, flag],
                          stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline().strip()
    r = f.ctl("deny", f.client.mac)
    open(flag, "w").close()
    second = p.stdout.readline().strip()
    p.wait(timeout=10)
    assert r.returncode == 0, r.stderr
    assert first.startswith("HTTP/1.1 200"), "first request: %r" % first
    assert second.startswith("HTTP/1.1 511"), "request after deny on the same connection: %r" % second


def test_tunnel_bytes_count_against_the_session(f):
    """Bytes relayed through a WebSocket tunnel (after 101) are counted in the session."""
    import json
    r = f.ctl("allow", f.client.mac, "600")
    assert r.returncode == 0, r.stderr
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    hs = ("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (WS4, key)).encode()
    frames = [origins.ws_frame(2, bytes([i]) * 60000, mask=b"\x01\x02\x03\x04") for i in range(5)]
    rep = h.raw(f.client, WS4, 80, [hs] + frames, delay=0.2, half_close=True, timeout=10)
    assert bytes(rep).startswith(b"HTTP/1.1 101 "), "no 101: %r" % bytes(rep)[:200]
    assert len(rep) > 300000, "echo incomplete: %d bytes" % len(rep)
    time.sleep(0.3)
    r = f.ctl("show", "--json", f.client.mac)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    sess = got.get("session", got)
    assert sess.get("bytes", 0) >= 600000, "session bytes %r after ~600 KB through the tunnel: %s" % (
        sess.get("bytes"), r.stdout)
    f.ctl("deny", f.client.mac)


def test_key_readable_by_others_refused(f):
    """A grant_key file readable by group or others stops wicketd at start, with a reason."""
    bad = os.path.join(f.topo.tmp, "open.key")
    with open(bad, "wb") as k:
        k.write(KEY)
    os.chmod(bad, 0o644)
    conf = f.conf.replace(f.key, bad).replace("/control.sock", "/control2.sock").replace(
        "/state\n", "/state2\n").replace("listen 0.0.0.0:3990\nlisten [::]:3990\n",
                                         "listen 127.0.0.1:3999\n")
    try:
        g = f.topo.start_wicketd(conf)
    except RuntimeError as e:
        assert "group or others" in str(e), "refused, but without the reason: %s" % e
        return
    g.stop(check=False)
    raise AssertionError("wicketd started with a key file of mode 0644")


TESTS = [
    test_external_link_is_signed,
    test_gate_page_redirects_to_external_portal,
    test_walled_garden_host_by_address,
    test_decision_per_request_on_one_connection,
    test_tunnel_bytes_count_against_the_session,
    test_key_readable_by_others_refused,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


def teardown(f):
    """Stop the daemon, remove the namespaces and the hosts file."""
    try:
        h.teardown_fixture(f)
    finally:
        shutil.rmtree(f.etc, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_admission", TESTS, lambda: Fixture(), teardown=teardown,
                         after_each=after_each))
