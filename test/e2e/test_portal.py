#!/usr/bin/env python3
# test_portal: end-to-end tests of how a client gets in (issue 5): the built-in
# click-through splash with its MAC-bound form, signed grants from a login
# server (valid, tampered, expired, replayed), expiry on time, and grants that
# survive kill -9.
"""wicket e2e: the gate's own pages admit clients, and admissions are durable.

Run as root: python3 test/e2e/test_portal.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4 = h.ORIGIN4
SIGN = os.path.join(h.REPO, "scripts", "wicket-sign")
GATE = "10.99.0.1"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
gateway_id test-gw
audit_log {audit}
interface br-lan
grant_key %(key)s
max_grant_seconds 3600
control_socket {tmp}/control.sock
state_file %(state)s
"""


class Fixture:
    """Topology with two clients, the origin, and a daemon with a grant key."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.other = self.topo.add_client("b")
        self.key = os.path.join(self.topo.tmp, "grant.key")
        with open(os.open(self.key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        self.conf = CONF.replace("%(key)s", self.key).replace(
            "%(state)s", os.path.join(self.topo.tmp, "state"))
        self.origin = self.topo.start_origin()
        self.gate = self.topo.start_wicketd(self.conf)

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def restart(self, kill9=False):
        """Stop the daemon (SIGKILL when asked) and start a new one on the same state."""
        if kill9:
            self.gate.proc.kill()
            self.gate.proc.wait(timeout=5)
        else:
            self.gate.stop(check=False)
        self.gate = self.topo.start_wicketd(self.conf)


def sign(f, mac, seconds, now=None, nonce=None):
    """A grant URL from scripts/wicket-sign, as a login server would make it."""
    cmd = [sys.executable, SIGN]
    if now is not None:
        cmd += ["-t", str(now)]
    if nonce is not None:
        cmd += ["-n", nonce]
    cmd += [GATE, f.key, mac, str(seconds)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, "wicket-sign failed: %s %s" % (p.stdout, p.stderr)
    url = p.stdout.strip().splitlines()[-1]
    assert url.startswith("http://%s/wicket/grant?" % GATE), "unexpected signer output %r" % url
    return url


def get(client, url, extra=()):
    """curl GET from a client namespace; returns the Response."""
    return h.curl(client, list(extra) + [url])


def forwarded(f, client, path):
    """True when a GET of `path` from `client` reached the origin (not a gate answer)."""
    before = len(f.origin.requests())
    r = get(client, "http://%s%s" % (O4, path))
    time.sleep(0.1)
    seen = [q for q in f.origin.requests()[before:] if q.get("target", "").startswith(path)]
    return r.status != 511 and bool(seen)


def splash_form(f, client, want):
    """Follow the 511 link to the splash page and return (page, form fields)."""
    r = get(client, "http://%s%s" % (O4, want))
    assert r.status == 511, "expected 511 before admission, got %d" % r.status
    body = r.body.decode("utf-8", "replace")
    link = re.search(r'href="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert link.startswith("http://%s/wicket/?url=" % GATE), "511 link %r is not the gate's splash" % link
    page = get(client, link)
    assert page.status == 200, "splash: status %d, body %r" % (page.status, page.body[:300])
    text = page.body.decode("utf-8", "replace")
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    assert set(fields) == {"url", "ts", "sig"}, "splash form fields %r" % fields
    fields["url"] = fields["url"].replace("&amp;", "&")
    return text, fields


def post_accept(client, fields):
    """POST the accept form to the gate; return the Response."""
    data = urllib.parse.urlencode(fields)
    return h.curl(client, ["-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                           "--data-binary", data, "http://%s/wicket/accept" % GATE])


def fresh_client(f, name):
    """A new client namespace with a MAC and addresses never used before in this run."""
    fresh_client.n += 1
    n = 100 + fresh_client.n
    return f.topo.add_client(name, mac="02:99:00:00:01:%02x" % n, ip4="10.99.0.%d" % n,
                             ip6="fd99::%x" % n)


fresh_client.n = 0


def events(f, kind):
    """Audit events of one kind."""
    return [e for e in f.gate.audit() if e.get("event") == kind]


# ----------------------------------------------------------------------------

def test_splash_flow_admits_and_redirects(f):
    """511 -> splash -> accept: 303 to the URL first asked for, which then loads through the gate."""
    want = "/wanted/page?x=1"
    text, fields = splash_form(f, f.client, want)
    assert "terms of use" in text, "splash page lacks the terms: %r" % text[:400]
    assert fields["url"] == "http://%s%s" % (O4, want), "form url %r" % fields["url"]
    r = post_accept(f.client, fields)
    assert r.status == 303, "accept: status %d body %r" % (r.status, r.body[:300])
    assert r.headers.get("Location") == "http://%s%s" % (O4, want), "Location %r" % r.headers.get("Location")
    assert forwarded(f, f.client, "/wanted/page"), "admitted client still not forwarded"
    g = [e for e in events(f, "grant") if e.get("mac") == f.client.mac]
    assert g and g[-1].get("source") == "splash", "no splash grant event: %r" % events(f, "grant")


def test_splash_form_is_bound_to_the_mac(f):
    """A form minted for device b, posted by device a, is refused (403); b's own post works."""
    c = fresh_client(f, "m")
    _, fields = splash_form(f, f.other, "/b-page")
    r = post_accept(c, fields)
    assert r.status == 403, "another device's form accepted: %d" % r.status
    assert not forwarded(f, c, "/m-after"), "device admitted with another device's form"
    r = post_accept(f.other, dict(fields, url="http://%s/changed" % O4))
    assert r.status == 403, "form with a changed url accepted: %d" % r.status
    r = post_accept(f.other, fields)
    assert r.status == 303, "own form refused: %d %r" % (r.status, r.body[:200])
    f.topo.remove_client("m")


def test_forged_form_refused(f):
    """A cross-site POST without a valid token (made-up sig) is refused and admits nobody."""
    c = fresh_client(f, "x")
    r = post_accept(c, {"url": "http://%s/" % O4, "ts": str(int(time.time())), "sig": "0" * 64})
    assert r.status == 403, "forged form: status %d" % r.status
    r = post_accept(c, {"url": "http://%s/" % O4})
    assert r.status == 400, "form without ts/sig: status %d" % r.status
    assert not forwarded(f, c, "/x-after-forge"), "forged form admitted the client"
    f.topo.remove_client("x")


def test_signed_grant_valid_replay_tamper(f):
    """A signed grant admits; the same link again is refused as replayed; tampered links are refused."""
    c = fresh_client(f, "s")
    assert not forwarded(f, c, "/s-before"), "client admitted before any grant"
    url = sign(f, c.mac, 600)
    bad = url[:-1] + ("0" if url[-1] != "0" else "1")
    r = get(c, bad)
    assert r.status == 403 and b"not valid" in r.body, "tampered sig: %d %r" % (r.status, r.body[:200])
    other_mac = url.replace(c.mac.replace(":", "%3A"), "02%3A99%3A00%3A00%3A00%3Aee")
    if other_mac != url:
        r = get(c, other_mac)
        assert r.status == 403, "grant for a changed MAC: %d" % r.status
    r = get(c, url)
    assert r.status == 200 and b"connected" in r.body, "valid grant: %d %r" % (r.status, r.body[:200])
    assert forwarded(f, c, "/s-after"), "signed grant did not admit"
    r = get(c, url)
    assert r.status == 403 and b"already been used" in r.body, "replay: %d %r" % (r.status, r.body[:200])
    g = [e for e in events(f, "grant") if e.get("mac") == c.mac]
    assert g and g[-1]["source"] == "signed", "grant event %r" % g
    assert not any("sig=" in line for line in f.gate.audit_raw().decode().splitlines()), \
        "audit log contains a signature"
    f.topo.remove_client("s")


def test_signed_grant_expired_and_too_long(f):
    """An expired grant and one longer than max_grant_seconds are refused with clear pages."""
    c = fresh_client(f, "e")
    r = get(c, sign(f, c.mac, 60, now=int(time.time()) - 600))
    assert r.status == 403 and b"expired" in r.body, "expired grant: %d %r" % (r.status, r.body[:200])
    r = get(c, sign(f, c.mac, 7200))
    assert r.status == 403 and b"longer" in r.body, "too long grant: %d %r" % (r.status, r.body[:200])
    assert not forwarded(f, c, "/e-after"), "refused grants admitted the client"
    f.topo.remove_client("e")


def test_session_expires_on_time(f):
    """A grant of 3 s: forwarded at once, 511 again after expiry, with an expire audit event."""
    c = fresh_client(f, "t")
    r = get(c, sign(f, c.mac, 3))
    assert r.status == 200, "grant: %d" % r.status
    assert forwarded(f, c, "/t-in"), "not admitted"
    time.sleep(4.5)
    r = get(c, "http://%s/t-out" % O4)
    assert r.status == 511, "after expiry: %d" % r.status
    ex = [e for e in events(f, "expire") if e.get("mac") == c.mac]
    assert ex, "no expire event for %s" % c.mac
    f.topo.remove_client("t")


def test_200_grants_survive_kill9(f):
    """200 grants acknowledged, then kill -9 at once: after a restart all 200 are restored."""
    macs = ["02:77:00:00:%02x:%02x" % (i // 256, i % 256) for i in range(200)]
    urls = [sign(f, m, 1800) for m in macs]
    paths = [u.split("http://%s" % GATE, 1)[1] for u in urls]
    script = (
        "import socket,sys\n"
        "s=socket.create_connection((%r,80));s.settimeout(10)\n"
        "ok=0\n"
        "for p in sys.stdin.read().split():\n"
        "    s.sendall(('GET %%s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' %% p).encode())\n"
        "    buf=b''\n"
        "    while b'\\r\\n\\r\\n' not in buf: buf+=s.recv(65536)\n"
        "    head,rest=buf.split(b'\\r\\n\\r\\n',1)\n"
        "    n=int([l for l in head.split(b'\\r\\n') if l.lower().startswith(b'content-length:')][0].split(b':')[1])\n"
        "    while len(rest)<n: rest+=s.recv(65536)\n"
        "    ok+=head.startswith(b'HTTP/1.1 200')\n"
        "print(ok)\n") % (GATE, GATE)
    p = f.client.ns.run([sys.executable, "-c", script], input="\n".join(paths), timeout=60)
    assert p.stdout.strip() == "200", "acknowledged grants: %r %r" % (p.stdout, p.stderr)
    f.restart(kill9=True)
    m = None
    for _ in range(50):
        m = re.search(r"(\d+) sessions and (\d+) nonces restored", f.gate.stderr())
        if m:
            break
        time.sleep(0.1)
    assert m, "no restore line in stderr: %s" % h.tail(f.gate.stderr(), 10)
    assert int(m.group(1)) >= 200, "only %s sessions restored after kill -9" % m.group(1)
    assert int(m.group(2)) >= 200, "only %s nonces restored (replay cache lost)" % m.group(2)
    r = get(f.client, urls[0].replace(GATE, GATE))
    assert r.status == 403 and b"already been used" in r.body, "a grant replayed after restart: %d" % r.status


def test_gate_pages_other_routes(f):
    """Unknown gate paths get 404; GET on the accept endpoint gets 405 with Allow: POST."""
    r = get(f.client, "http://%s/nope" % GATE)
    assert r.status == 404, "unknown path: %d" % r.status
    r = get(f.client, "http://%s/wicket/accept" % GATE)
    assert r.status == 405 and r.headers.get("Allow") == "POST", "GET accept: %d %r" % (
        r.status, r.headers.get("Allow"))


TESTS = [
    test_splash_flow_admits_and_redirects,
    test_splash_form_is_bound_to_the_mac,
    test_forged_form_refused,
    test_signed_grant_valid_replay_tamper,
    test_signed_grant_expired_and_too_long,
    test_session_expires_on_time,
    test_200_grants_survive_kill9,
    test_gate_pages_other_routes,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_portal", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
