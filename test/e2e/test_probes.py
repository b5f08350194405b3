#!/usr/bin/env python3
# test_probes: the OS connectivity-probe matrix (issue 9, docs/capport.md):
# every probe byte for byte as its OS sends it (request line, Host,
# User-Agent), before admission (the answer that makes that OS show its
# sign-in sheet, exact bytes), after admission (relayed unchanged to an
# origin that answers like the real service, and its answer relayed back
# unchanged), and after the session expired (the sign-in answer again, not
# something that looks like "no internet").
"""wicket e2e: what each OS's captive-portal probe gets, before, during and after a session.

Run as root: python3 test/e2e/test_probes.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import html
import json
import os
import re
import base64
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import probeorigin  # noqa: E402
import testca  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
O4 = h.ORIGIN4
HOST, PORT = "portal.test", 8443
SPLASH = "https://%s:%d/wicket/" % (HOST, PORT)
CONF = """\
listen 0.0.0.0:3990
interface br-lan
control_socket {tmp}/control.sock
state_file {tmp}/state
audit_log {audit}
"""

ANDROID_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/60.0.3112.32 Safari/537.36")
CROS_UA = ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
APPLE_UA = "CaptiveNetworkSupport-481.0.1 wispr"


def req(*lines):
    """A request head from its lines."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# (OS, request bytes as the OS sends them, what the OS needs to show its sign-in sheet)
PROBES = [
    ("Android", req("GET /generate_204 HTTP/1.1", "User-Agent: " + ANDROID_UA,
                    "Host: connectivitycheck.gstatic.com", "Connection: Keep-Alive", "Accept-Encoding: gzip"),
     "a 200-399 answer that is not 204"),
    ("Android (fallback)", req("GET /gen_204 HTTP/1.1", "User-Agent: " + ANDROID_UA, "Host: www.google.com",
                               "Connection: Keep-Alive", "Accept-Encoding: gzip"),
     "a 200-399 answer that is not 204"),
    ("ChromeOS", req("GET /generate_204 HTTP/1.1", "Host: clients3.google.com", "User-Agent: " + CROS_UA,
                     "Accept: */*"),
     "302 or 307 with a Location"),
    ("ChromeOS (gstatic)", req("GET /generate_204 HTTP/1.1", "Host: www.gstatic.com", "User-Agent: " + CROS_UA,
                               "Accept: */*"),
     "302 or 307 with a Location"),
    ("Apple", req("GET /hotspot-detect.html HTTP/1.0", "Host: captive.apple.com", "Connection: close",
                  "User-Agent: " + APPLE_UA),
     "anything but its Success page"),
    ("Apple (www.apple.com)", req("GET /library/test/success.html HTTP/1.0", "Host: www.apple.com",
                                  "Connection: close", "User-Agent: " + APPLE_UA),
     "anything but its Success page"),
    ("Apple (appleiphonecell)", req("GET /hotspot-detect.html HTTP/1.0", "Host: www.appleiphonecell.com",
                                    "Connection: close", "User-Agent: " + APPLE_UA),
     "anything but its Success page"),
    ("Windows", req("GET /connecttest.txt HTTP/1.1", "Connection: Close", "User-Agent: Microsoft NCSI",
                    "Host: www.msftconnecttest.com"),
     "a redirect or content other than 'Microsoft Connect Test'"),
    ("Windows (legacy NCSI)", req("GET /ncsi.txt HTTP/1.1", "Connection: Close", "User-Agent: Microsoft NCSI",
                                  "Host: www.msftncsi.com"),
     "a redirect or content other than 'Microsoft NCSI'"),
    ("Firefox", req("GET /canonical.html HTTP/1.1", "Host: detectportal.firefox.com", "User-Agent: " + FIREFOX_UA,
                    "Accept: */*", "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate",
                    "Cache-Control: no-cache", "Pragma: no-cache", "Connection: keep-alive"),
     "511 or a 3xx"),
    ("Firefox (success.txt)", req("GET /success.txt?ipv4 HTTP/1.1", "Host: detectportal.firefox.com",
                                  "User-Agent: " + FIREFOX_UA, "Accept: */*", "Cache-Control: no-cache",
                                  "Pragma: no-cache", "Connection: keep-alive"),
     "511 or a 3xx"),
    ("NetworkManager (GNOME)", req("GET /check_network_status.txt HTTP/1.1", "Host: nmcheck.gnome.org",
                                   "Accept: */*", "Connection: close"),
     "anything but 'NetworkManager is online'"),
    ("NetworkManager (Ubuntu)", req("GET / HTTP/1.1", "Host: connectivity-check.ubuntu.com.", "Accept: */*",
                                    "Connection: close"),
     "anything without X-NetworkManager-Status: online"),
]

DATE_RE = re.compile(rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")
LINK_RE = re.compile(r"^%s\?url=([^&]+)&ts=(\d+)&sig=([0-9a-f]{64})$" % re.escape(SPLASH))


class Fixture:
    """Topology, the probe origin, and the gate with a TLS splash."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        if shutil.which("openssl") is None:
            raise h.SetupError("openssl not found (scripts/deps.sh)")
        self.topo = t = h.Topology().__enter__()
        ca = testca.TestCA(os.path.join(t.tmp, "ca"))
        ca.install(t.tmp, HOST)
        self.log = os.path.join(t.tmp, "probes.jsonl")
        p = t.origin.popen([h.PY, os.path.join(HERE, "probeorigin.py"), "--addr", O4, "--port", 80,
                            "--log", self.log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.origin.wait_listening(80, proc=p)
        self.gate = t.start_wicketd(CONF + testca.gate_conf(t.tmp, h.LAN4, PORT, HOST))

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def ctl(self, *args):
        """wicketctl against the daemon; require success."""
        p = subprocess.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"), "-s",
                            os.path.join(self.gate.dir, "control.sock")] + list(args),
                           capture_output=True, text=True, timeout=15)
        assert p.returncode == 0, "wicketctl %s: %s %s" % (args, p.stdout, p.stderr)

    def origin_seen(self):
        """The raw request bytes the probe origin received, in order."""
        out = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                out = [base64.b64decode(json.loads(ln)["raw"]) for ln in f if ln.endswith("\n")]
        return out


def head_of(request):
    """(host, target, wants_close) of a request head."""
    lines = request.decode().split("\r\n")
    target, version = lines[0].split(" ")[1:3]
    fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    conn = fields.get("connection", "").lower()
    close = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
    return fields["host"], target, close


def expected_sign_in(request, got):
    """The exact answer the gate must send a probe before admission: a 302 to the HTTPS splash
    carrying the wanted URL signed (ts and sig taken from `got`, checked by shape), or a 511 for a
    path that is not a probe path. Returns the expected bytes (Date normalised)."""
    host, target, close = head_of(request)
    m = re.search(rb"\r\nLocation: ([^\r]*)\r\n", got) or re.search(rb'<a href="([^"]*)"', got)
    assert m, "no link in %r" % got[:300]
    link = html.unescape(m.group(1).decode())
    lm = LINK_RE.match(link)
    assert lm, "link %r is not the signed HTTPS splash link" % link
    assert urllib.parse.unquote(lm.group(1)) == "http://%s%s" % (host, target), \
        "wanted URL %r is not the probe's URL" % urllib.parse.unquote(lm.group(1))
    esc = html.escape(link, quote=True).replace("&#x27;", "&#39;")
    conn = "close" if close else "keep-alive"
    if target.split("?")[0] == "/":  # not a probe path: the 511 page
        body = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                '<title>Network Authentication Required</title>\n'
                '<meta http-equiv="refresh" content="0; url=%s">\n'
                "<style>body{margin:0;background:#eef2f5;color:#1b2228;"
                "font:1.0625rem/1.55 system-ui,sans-serif}main{max-width:34rem;margin:0 auto;"
                "padding:1.5rem 1.25rem}a{display:block;box-sizing:border-box;min-height:48px;"
                "padding:.75rem 1rem;border-radius:10px;background:#0a62c2;color:#fff;"
                "font-weight:600;text-align:center;text-decoration:none}</style></head>\n"
                "<body><main><h1>Network Authentication Required</h1>\n"
                "<p>You need to sign in to this network before you can use it.</p>\n"
                '<p><a href="%s">Sign in to this network</a></p></main></body></html>\n') % (esc, esc)
        head = ("HTTP/1.1 511 Network Authentication Required\r\nDate: X\r\n"
                "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                "Content-Length: %d\r\nConnection: %s\r\n\r\n") % (len(body.encode()), conn)
    else:
        body = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Found</title></head>\n'
                '<body><p><a href="%s">Continue</a></p></body></html>\n') % esc
        head = ("HTTP/1.1 302 Found\r\nDate: X\r\nLocation: %s\r\n"
                "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                "Content-Length: %d\r\nConnection: %s\r\n\r\n") % (link, len(body.encode()), conn)
    return (head + body).encode()


def probe(f, request):
    """Send one probe's exact bytes from the client; return the bytes of the first answer."""
    r = h.raw(f.client, O4, 80, request, expect=1, timeout=5)
    resps = r.responses()
    assert resps, "no answer to %r: got %r" % (request[:60], bytes(r)[:200])
    return bytes(r)


def check_sign_in(f, phase):
    """Every probe gets exactly the sign-in answer; collect failures per OS."""
    bad = []
    before = len(f.origin_seen())
    for osname, request, need in PROBES:
        got = probe(f, request)
        norm = DATE_RE.sub(b"\r\nDate: X\r\n", got, count=1)
        try:
            want = expected_sign_in(request, got)
        except AssertionError as e:
            bad.append("%s: %s" % (osname, e))
            continue
        if norm != want:
            bad.append("%s (%s): needs %s\n  want %r\n  got  %r" % (osname, phase, need, want[:400], norm[:400]))
    assert len(f.origin_seen()) == before, "a probe reached the origin %s" % phase
    assert not bad, "\n".join(bad)


def test_probes_before_admission(f):
    """Not admitted: each OS's probe gets the answer that shows its sign-in sheet (302 to the HTTPS splash; Ubuntu's '/' a 511), exact bytes."""
    check_sign_in(f, "before admission")


def test_probes_after_admission(f):
    """Admitted: each probe is relayed byte for byte and the service's own answer comes back unchanged."""
    f.ctl("allow", f.client.mac, "600")
    try:
        bad = []
        for osname, request, need in PROBES:
            n = len(f.origin_seen())
            got = probe(f, request)
            host, target, _ = head_of(request)
            want = probeorigin.ANSWERS[(host.rstrip("."), target.split("?")[0])]
            seen = f.origin_seen()[n:]
            if seen != [request]:
                bad.append("%s: origin received %r, not the probe's bytes" % (osname, seen))
            if got != want:
                bad.append("%s: got %r, want the service's %r" % (osname, got[:200], want[:200]))
        assert not bad, "\n".join(bad)
    finally:
        f.ctl("deny", f.client.mac)


def test_probes_after_expiry(f):
    """A session that expired: the next probe of every OS gets the sign-in answer again (not 'no internet')."""
    f.ctl("allow", f.client.mac, "2")
    got = probe(f, PROBES[0][1])
    assert got.startswith(b"HTTP/1.1 204 "), "not admitted during the 2 s session: %r" % got[:80]
    time.sleep(2.3)
    check_sign_in(f, "after expiry")
    ev = f.gate.audit_wait(lambda e: e.get("event") == "expire" and e.get("mac") == f.client.mac, timeout=3)
    assert ev, "no expire audit event"


TESTS = [test_probes_before_admission, test_probes_after_admission, test_probes_after_expiry]


def after_each(f, test):
    """The daemon must be alive and clean."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_probes", TESTS, Fixture, teardown=h.teardown_fixture, after_each=after_each))
