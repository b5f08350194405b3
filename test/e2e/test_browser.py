#!/usr/bin/env python3
# test_browser: a real browser walks the portal (issue 9): headless Chromium,
# driven through chromedriver's WebDriver protocol from the client
# namespace (browser.py), opens a page, lands on the 511, follows it to the
# splash, accepts, and loads the page it asked for -- once with the plain
# HTTP splash and once with the HTTPS splash, trusting the test CA through
# an NSS database (certutil), not by ignoring certificate errors. At phone
# size (412 x 915 CSS px) the splash must not be wider than the screen and
# its button must be a real touch target. The HTTP run's screenshot of the
# default splash is kept as docs/splash.png when WICKET_SCREENSHOT=1.
"""wicket e2e: headless Chromium goes 511 -> splash -> accept -> page, over HTTP and HTTPS.

Run as root: python3 test/e2e/test_browser.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import testca  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
O4 = h.ORIGIN4
HOST, PORT = "portal.test", 8443
BASE = """\
listen 0.0.0.0:3990
interface br-lan
control_socket {tmp}/control.sock
state_file {tmp}/state
audit_log {audit}
network_name Caf\u00e9 Wicket
"""


class Fixture:
    """Topology, origin, a test CA; the gate is started by each test."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        for tool in ("chromium", "chromedriver", "certutil", "openssl"):
            if shutil.which(tool) is None:
                raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
        self.topo = t = h.Topology().__enter__()
        self.ca = testca.TestCA(os.path.join(t.tmp, "ca"))
        self.ca.install(t.tmp, HOST)
        self.origin = t.start_origin()
        self.gate = None

    def start(self, tls):
        """(Re)start the gate, with or without the TLS listener."""
        if self.gate is not None:
            h.stop_checked(self.gate)
        conf = BASE + (testca.gate_conf(self.topo.tmp, h.LAN4, PORT, HOST) if tls else "")
        self.gate = self.topo.start_wicketd(conf)

    def home(self, name, trust_ca):
        """A fresh HOME for Chromium; with trust_ca its NSS database trusts the test CA."""
        d = os.path.join(self.topo.tmp, name)
        nss = os.path.join(d, ".pki", "nssdb")
        os.makedirs(nss, exist_ok=True)
        if trust_ca:
            for args in (["-N", "--empty-password"],
                         ["-A", "-t", "C,,", "-n", "wicket-test-ca", "-i", self.ca.pem]):
                p = subprocess.run(["certutil", "-d", "sql:" + nss] + args, capture_output=True,
                                   text=True, timeout=30)
                assert p.returncode == 0, "certutil %s: %s" % (args, p.stderr)
        return d

    def walk(self, start, splash_prefix, home, resolve=None, screenshot=None, splash_timeout=15):
        """Run browser.py in the client namespace; return its report."""
        spec = {"start": start, "splash_prefix": splash_prefix, "want_text": "origin: GET ",
                "resolve": resolve, "screenshot": screenshot, "home": home, "width": 412, "height": 915,
                "splash_timeout": splash_timeout, "addresses": [O4, h.LAN4]}
        p = self.topo.client.ns.run([h.PY, os.path.join(HERE, "browser.py")], input=json.dumps(spec),
                                    timeout=120)
        return json.loads(p.stdout)


def teardown(f):
    """Stop the gate (checked) and remove the namespaces."""
    try:
        if f.gate is not None:
            h.stop_checked(f.gate)
    finally:
        f.topo.down()


def check_walk(f, res, splash_prefix, path):
    """The report shows 511 -> splash (phone-ready) -> accept -> the wanted page."""
    print("    browser timings: session %.1fs, splash %.1fs, page %.1fs" % (
        res.get("t_session", -1), res.get("t_splash", -1), res.get("t_final", -1)))
    assert res["error"] is None, "browser walk failed: %r" % res
    step = res["steps"][0]
    assert step["splash_url"].startswith(splash_prefix), step
    assert step["lang"] == "en" and step["viewport"] == "width=device-width, initial-scale=1", step
    assert step["title"] == "Caf\u00e9 Wicket", step
    assert res["viewport_width"] == 412, "not at phone size: %r" % res
    assert res["page_width"] <= 412, "splash wider than the phone: %r" % res["page_width"]
    b = res["button"]
    assert b["height"] >= 44 and b["width"] >= 200 and b["font_px"] >= 16, "accept button %r" % b
    assert res["final_url"] == "http://%s%s" % (O4, path), res
    assert res["final_text"].startswith("origin: GET %s" % path), res
    # the gate saw the walk: a 511, the splash, the accept, then the page forwarded
    ev = f.gate.audit_wait(lambda e: e.get("path") == path and e.get("verdict") == "forward")
    assert ev, "the wanted page was not forwarded after accepting"
    assert f.gate.audit_wait(lambda e: e.get("path") == path and e.get("status") == 511), "no 511 first"


def test_browser_http_splash(f):
    """Plain HTTP: Chromium lands on the 511, follows it to http://GATE/wicket/, accepts, loads the page."""
    f.start(tls=False)
    shot = os.path.join(f.topo.tmp, "splash.png")
    res = f.walk("http://%s/browser-http" % O4, "http://%s/wicket/" % h.LAN4,
                 f.home("home-http", trust_ca=False), screenshot=shot)
    check_walk(f, res, "http://%s/wicket/" % h.LAN4, "/browser-http")
    with open(shot, "rb") as fh:
        png = fh.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, "no screenshot"
    if os.environ.get("WICKET_SCREENSHOT", "") == "1":
        shutil.copyfile(shot, os.path.join(h.REPO, "docs", "splash.png"))


def test_browser_https_splash(f):
    """HTTPS: the 511 leads to https://portal.test:8443/wicket/, trusted through the test CA; accept loads the page."""
    f.start(tls=True)
    prefix = "https://%s:%d/wicket/" % (HOST, PORT)
    res = f.walk("http://%s/browser-https" % O4, prefix, f.home("home-https", trust_ca=True),
                 resolve="MAP %s %s" % (HOST, h.LAN4))
    check_walk(f, res, prefix, "/browser-https")
    tls = f.gate.audit_wait(lambda e: e.get("dst") == "%s:%d" % (h.LAN4, PORT) and e.get("path") == "/wicket/accept")
    assert tls and tls[-1]["status"] == 303, "the accept did not go over TLS: %r" % tls


def test_browser_https_untrusted_refused(f):
    """Without the test CA in its store the browser does not show the HTTPS splash (the trust is real)."""
    if f.gate is None or "tls_listen" not in f.gate.conf_text:
        f.start(tls=True)
    f.topo.client.ns.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"), "-s",
                          os.path.join(f.gate.dir, "control.sock"), "deny", f.topo.client.mac], check=False)
    prefix = "https://%s:%d/wicket/" % (HOST, PORT)
    res = f.walk("http://%s/browser-untrusted" % O4, prefix, f.home("home-untrusted", trust_ca=False),
                 resolve="MAP %s %s" % (HOST, h.LAN4), splash_timeout=4)
    assert res["error"] and "never reached the splash" in res["error"], res
    assert res["steps"][0]["title"] == "Privacy error", "not refused for the certificate: %r" % res


TESTS = [test_browser_http_splash, test_browser_https_splash, test_browser_https_untrusted_refused]


if __name__ == "__main__":
    sys.exit(h.run_suite("test_browser", TESTS, Fixture, teardown=teardown))
