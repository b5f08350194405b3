#!/usr/bin/env python3
# test_splash: end-to-end tests of the splash and link failure paths (issue 12,
# "fail closed"): the splash is not an open redirector, a link is never empty
# (over-long URL, probes), `gateway_id` and the terms are checked by `-n` as at
# start-up, large terms, and `-n` parity for the key file and the interface.
"""wicket e2e: the gate's own pages fail closed.

Run as root: python3 test/e2e/test_splash.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from test_identity import GARP  # noqa: E402  (gratuitous ARP sender)

O4 = h.ORIGIN4
GATE = "10.99.0.1"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
gateway_id test-gw
audit_log {audit}
interface br-lan
control_socket {tmp}/control.sock
state_file {tmp}/state
max_clients 16
conflict_window 1
splash_sessions_per_ip 2
"""



class Fixture:
    """Topology, the origin, and a daemon serving the built-in splash."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.origin = self.topo.start_origin()
        self.gate = self.topo.start_wicketd(CONF)
        self.n = 0

    def fresh_client(self):
        """A new client namespace with a MAC and addresses never used before in this run."""
        self.n += 1
        k = 120 + self.n
        return self.topo.add_client("s%d" % self.n, mac="02:99:00:00:02:%02x" % k,
                                    ip4="10.99.0.%d" % k, ip6="fd99::%x" % k)


def form_fields(text):
    """The hidden fields of a splash page, HTML entities in url undone."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    assert set(fields) == {"url", "ts", "sig"}, "splash form fields %r" % fields
    fields["url"] = fields["url"].replace("&amp;", "&")
    return fields


def post_accept(client, fields):
    """POST the accept form to the gate; return the Response."""
    return h.curl(client, ["-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                           "--data-binary", urllib.parse.urlencode(fields),
                           "http://%s/wicket/accept" % GATE])


def link_of(body):
    """The href and the meta-refresh target of a 511 page."""
    text = body.decode("utf-8", "replace")
    href = re.search(r'href="([^"]*)"', text)
    meta = re.search(r'content="0; url=([^"]*)"', text)
    assert href and meta, "511 page without link or refresh: %r" % text[:400]
    return href.group(1).replace("&amp;", "&"), meta.group(1).replace("&amp;", "&")


def ctl(f, line):
    """One control request to the suite's daemon; (ok, text)."""
    return h.ctl_request(os.path.join(f.gate.dir, "control.sock"), line)


def accept_splash(c):
    """Fetch the splash as client c and accept it; the accept's Response."""
    page = h.curl(c, ["http://%s/wicket/" % GATE])
    assert page.status == 200, "splash: %d %r" % (page.status, page.body[:200])
    return post_accept(c, form_fields(page.body.decode()))


def check_conf(f, text, name):
    """Write a config (the {tmp} and {audit} of start_wicketd filled in) and run
    `wicketd -n` on it; return (exit code, stderr, path)."""
    path = os.path.join(f.topo.tmp, name)
    with open(path, "w") as fh:
        fh.write(text.replace("{tmp}", f.topo.tmp).replace("{audit}", f.topo.tmp + "/a"))
    p = f.topo.router.run([h.default_wicketd(), "-n", "-f", path], check=False, timeout=20)
    return p.returncode, p.stderr, path


def start_fails(f, path):
    """Start wicketd on a config that `-n` refused; it must exit 1 at once. Its stderr."""
    p = f.topo.router.run([h.default_wicketd(), "-d", "-f", path], check=False, timeout=20)
    assert p.returncode == 1, "wicketd started with a config -n refused: %d %s" % (
        p.returncode, p.stderr[-500:])
    return p.stderr


# ----------------------------------------------------------------------------

def test_open_redirect_url_dropped(f):
    """A splash link someone else wrote (url=https://evil.example/) is dropped: accept ends on a neutral page."""
    c = f.fresh_client()
    for q in ("url=https%3A%2F%2Fevil.example%2F",
              "url=https%3A%2F%2Fevil.example%2F&ts=1700000000&sig=" + "0" * 64):
        page = h.curl(c, ["http://%s/wicket/?%s" % (GATE, q)])
        assert page.status == 200, "splash: %d %r" % (page.status, page.body[:200])
        fields = form_fields(page.body.decode())
        assert fields["url"] == "", "the splash kept an unsigned url: %r" % fields["url"]
        assert b"evil" not in page.body, "the splash page mentions the foreign URL"
    r = post_accept(c, fields)
    assert r.status == 200 and b"connected" in r.body, "accept: %d %r" % (r.status, r.body[:200])
    assert "Location" not in r.headers, "accept redirected to %r" % r.headers.get("Location")
    f.topo.remove_client(c.name)


def test_genuine_link_keeps_its_url_only_for_its_device(f):
    """The gate's own 511 link carries the wanted URL signed; another device following it gets no URL."""
    a, b = f.fresh_client(), f.fresh_client()
    r = h.curl(a, ["http://%s/mine?x=1" % O4])
    assert r.status == 511, "expected 511, got %d" % r.status
    href, meta = link_of(r.body)
    assert href == meta and re.match(r"http://%s/wicket/\?url=[^&]+&ts=\d+&sig=[0-9a-f]{64}$" % GATE, href), \
        "511 link %r" % href
    fields = form_fields(h.curl(a, [href]).body.decode())
    assert fields["url"] == "http://%s/mine?x=1" % O4, "own link lost its url: %r" % fields["url"]
    fields = form_fields(h.curl(b, [href]).body.decode())
    assert fields["url"] == "", "another device's link kept its url: %r" % fields["url"]
    f.topo.remove_client(a.name)
    f.topo.remove_client(b.name)


def test_long_url_gives_bare_link_not_empty(f):
    """A URL too long to carry (3000 bytes): the 511 links and refreshes to the bare splash, a probe's Location too."""
    c = f.fresh_client()
    long_path = "/" + "a" * 3000
    r = h.curl(c, ["http://%s%s" % (O4, long_path)])
    assert r.status == 511, "expected 511, got %d" % r.status
    href, meta = link_of(r.body)
    assert href == meta == "http://%s/wicket/" % GATE, "link %r refresh %r" % (href, meta)
    # 1,000 bytes that encode to 3 each: fits the token, not the 4 KiB link.
    r = h.curl(c, ["http://%s/%s" % (O4, "%2F" * 1000)])
    href, meta = link_of(r.body)
    assert href == meta == "http://%s/wicket/" % GATE, "encoded-long link %r" % href
    r = h.curl(c, ["http://%s/generate_204?%s" % (O4, "b" * 3000)])
    assert r.status == 302, "probe: %d" % r.status
    assert r.headers.get("Location") == "http://%s/wicket/" % GATE, "probe Location %r" % r.headers.get("Location")
    f.topo.remove_client(c.name)


def test_ampersand_portal_url_still_511(f):
    """portal_url with 990 '&' (5 KiB once HTML-escaped): -n takes it, every 511 and probe 302 links to it, never a 500; a wanted URL too long for the escaped page is dropped, not the page."""
    purl = "http://%s/portal?" % GATE + "&" * 990  # 1,014 bytes: the longest a URL key takes is 1,023
    conf = CONF + "portal_url %s\n" % purl
    rc, err, _ = check_conf(f, conf, "amp.conf")
    assert rc == 0, "-n refused the portal_url: %r" % err
    f.gate.stop()
    f.gate = f.topo.start_wicketd(conf)
    try:
        c = f.fresh_client()
        r = h.curl(c, ["http://%s/amp-short" % O4])
        assert r.status == 511, "short URL: %s %r" % (r.status_line, r.body[:120])
        href, meta = link_of(r.body)
        assert href == meta and href.startswith(purl), "511 link %r" % href[:1100]
        assert "url=" + urllib.parse.quote("http://%s/amp-short" % O4, safe="") in href, \
            "short wanted URL not carried: %r" % href[1000:]
        # 1,500 bytes: fits the link buffer, not the escaped page twice.
        r = h.curl(c, ["http://%s/%s" % (O4, "a" * 1500)])
        assert r.status == 511, "long URL: %s %r" % (r.status_line, r.body[:120])
        href, meta = link_of(r.body)
        assert href == meta and href.startswith(purl) and "aaaa" not in href, \
            "long URL link %r" % href[1000:]
        r = h.curl(c, ["http://%s/generate_204" % O4])
        assert r.status == 302 and r.headers.get("Location", "").startswith(purl), \
            "probe: %s Location %r" % (r.status_line, r.headers.get("Location", "")[:80])
        f.topo.remove_client(c.name)
    finally:
        f.gate.stop()
        f.gate = f.topo.start_wicketd(CONF)


def test_odd_gateway_id_refused_by_n(f):
    """gateway_id with characters the token charset refuses: -n says FILE:LINE: gateway_id, start refuses too."""
    for bad in ("bad/id", "gw!", "a" * 65):
        rc, err, path = check_conf(f, "listen 127.0.0.1:3990\n\ngateway_id %s\n" % bad, "gw.conf")
        assert rc == 1 and "gw.conf:3: gateway_id: expected 1 to 64 characters" in err, \
            "-n on gateway_id %r: %d %r" % (bad, rc, err)
        start_fails(f, path)
    rc, err, _ = check_conf(f, "listen 127.0.0.1:3990\ngateway_id %s\n" % ("g." * 32), "gw.conf")
    assert rc == 0, "a 64-character gateway_id refused: %r" % err


def test_n_checks_what_start_checks(f):
    """-n refuses a world-readable key, a missing terms file and a missing interface, as start-up does."""
    key = os.path.join(f.topo.tmp, "loose.key")
    with open(key, "w") as fh:
        fh.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(key, 0o644)
    rows = [
        ("grant_key %s\n" % key, "grant_key: key file %s: mode 0644" % key),
        ("splash_terms %s/none.txt\n" % f.topo.tmp, "splash_terms: %s/none.txt: No such file" % f.topo.tmp),
        ("interface nosuch9\n", "interface: nosuch9: no such interface"),
    ]
    for line, want in rows:
        text = "listen 127.0.0.1:3990\nstate_file %s/st-n\ncontrol_socket %s/n.sock\n%s" % (
            f.topo.tmp, f.topo.tmp, line)
        rc, err, path = check_conf(f, text, "parity.conf")
        assert rc == 1 and ("parity.conf:4: " + want) in err, "-n on %r: %d %r" % (line, rc, err)
        start_fails(f, path)


def test_large_terms(f):
    """30 KiB of terms: -n accepts them and every splash shows all of them (not a 500); 33 KiB is refused up front."""
    terms = os.path.join(f.topo.tmp, "terms.txt")
    para = "These are the terms of this network & its <rules>. " * 20 + "\n\n"
    with open(terms, "w") as fh:
        while fh.tell() < 30 * 1024:
            fh.write(para)
        fh.write("THE-LAST-PARAGRAPH\n")
    conf = CONF + "splash_terms %s\n" % terms
    rc, err, _ = check_conf(f, conf, "terms.conf")
    assert rc == 0, "-n refused 30 KiB of terms: %r" % err
    f.gate.stop()
    f.gate = f.topo.start_wicketd(conf)
    c = f.fresh_client()
    for _ in range(3):
        page = h.curl(c, ["http://%s/wicket/" % GATE])
        assert page.status == 200 and b"THE-LAST-PARAGRAPH" in page.body, \
            "splash with 30 KiB terms: %d, %d bytes" % (page.status, len(page.body))
        assert b"&amp; its &lt;rules&gt;" in page.body, "terms not escaped"
    f.topo.remove_client(c.name)
    with open(terms, "a") as fh:
        fh.write("x" * 3 * 1024)
    rc, err, path = check_conf(f, conf, "terms.conf")
    line = CONF.count("\n") + 1  # splash_terms is the line after CONF
    assert rc == 1 and "terms.conf:%d: splash_terms: %s: larger than 32 KiB" % (line, terms) in err, \
        "-n on 33 KiB of terms: %d %r" % (rc, err)


def test_mac_cycling_host_stays_bounded(f):
    """A host that keeps changing its MAC on one address and accepting the splash holds at most splash_sessions_per_ip (2) sessions; another client is still admitted."""
    c = f.fresh_client()
    macs = []
    for i in range(5):
        mac = "02:99:00:00:09:%02x" % (i + 1)
        if i > 0:
            # New MAC, and claims for it until the gate has taken the
            # address over (conflict_window 1 s, the old MAC silent).
            c.ns.run(["ip", "link", "set", "eth0", "address", mac])
            c.ns.run(["ip", "neigh", "flush", "all"])
            end = time.monotonic() + 8
            while time.monotonic() < end:
                c.ns.run([sys.executable, "-c", GARP, "eth0", mac, c.ip4])
                ok, text = ctl(f, "show %s" % c.ip4)
                if ok and ("mac: %s" % mac) in text:
                    break
                time.sleep(0.25)
            else:
                raise AssertionError("the gate never bound %s to %s: %r" % (c.ip4, mac, text))
        else:
            c.ns.run(["ip", "link", "set", "eth0", "address", mac])
            c.ns.run([sys.executable, "-c", GARP, "eth0", mac, c.ip4])
            time.sleep(0.3)
        r = accept_splash(c)
        assert r.status == 200, "accept %d from %s: %d %r" % (i, mac, r.status, r.body[:200])
        macs.append(mac)
    ok, text = ctl(f, "list")
    live = [m for m in macs if re.search(r"^%s\s+admitted\b" % m, text, re.M)]
    assert live == macs[-2:], "live sessions of the MAC-cycling host: %r\n%s" % (live, text)
    replaced = f.gate.audit_wait(lambda e: e.get("event") == "revoke" and e.get("reason") == "replaced",
                                 count=3)
    assert sorted(e["mac"] for e in replaced) == sorted(macs[:3]), "replaced: %r" % replaced
    other = f.fresh_client()
    r = accept_splash(other)
    assert r.status == 200 and re.search(r"^%s\s+admitted" % other.mac, ctl(f, "list")[1], re.M), \
        "another client not admitted: %d" % r.status
    for m in macs + [other.mac]:
        ctl(f, "deny %s" % m)
    f.topo.remove_client(c.name)
    f.topo.remove_client(other.name)


def test_admissions_per_minute_429(f):
    """One MAC accepting the splash over and over: the 7th accept within a minute gets 429 with Retry-After."""
    c = f.fresh_client()
    got = []
    for _ in range(7):
        r = accept_splash(c)
        got.append(r.status)
    assert got[:6] == [200] * 6 and got[6] == 429, "accept statuses %r" % got
    ra = int(r.headers.get("Retry-After", "0"))
    assert 1 <= ra <= 60, "Retry-After %r" % r.headers.get("Retry-After")
    ok, text = ctl(f, "allow %s 600" % c.mac)
    assert ok, "wicketctl allow is not rate-limited: %r" % text
    ctl(f, "deny %s" % c.mac)
    f.topo.remove_client(c.name)


def test_ended_sessions_make_room(f):
    """max_clients 16: a full table of admitted sessions refuses, revoked and expired ones make room."""
    macs = ["02:66:00:00:00:%02x" % i for i in range(1, 40)]
    ok, text = ctl(f, "list")
    held = len([ln for ln in text.splitlines() if " admitted " in ln])
    n = 16 - held
    for m in macs[:n]:
        ok, text = ctl(f, "allow %s 600" % m)
        assert ok, "allow %s: %r" % (m, text)
    ok, text = ctl(f, "allow %s 600" % macs[n])
    assert not ok and "session table full" in text, "a 17th session: %r" % text
    for m in macs[:n]:
        ok, text = ctl(f, "deny %s" % m)
        assert ok, text
    for m in macs[n:2 * n]:
        ok, text = ctl(f, "allow %s 1" % m)
        assert ok, "allow over revoked sessions %s: %r" % (m, text)
    time.sleep(2.2)  # the 1 s grants expire
    for m in macs[2 * n:3 * n]:
        ok, text = ctl(f, "allow %s 600" % m)
        assert ok, "allow over expired sessions %s: %r" % (m, text)
    for m in macs[2 * n:3 * n]:
        ctl(f, "deny %s" % m)


TESTS = [
    test_open_redirect_url_dropped,
    test_genuine_link_keeps_its_url_only_for_its_device,
    test_long_url_gives_bare_link_not_empty,
    test_ampersand_portal_url_still_511,
    test_odd_gateway_id_refused_by_n,
    test_n_checks_what_start_checks,
    test_large_terms,
    test_mac_cycling_host_stays_bounded,
    test_admissions_per_minute_429,
    test_ended_sessions_make_room,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_splash", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
