#!/usr/bin/env python3
# test_gate: end-to-end tests of the gate's answers to clients that have not been
# let in (issue 2): the 511 page, HTTP/1.1 framing errors (411, 400, 408, 414,
# 431, 501, 505), pipelining, split writes, IPv6 REDIRECT and the audit log.
"""wicket e2e: an unauthorized client always gets the gate's own answer.

Run as root: python3 test/e2e/test_gate.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

PORTAL = "http://10.99.0.1/portal"
HEADER_TIMEOUT = 2
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
portal_url %s
gateway_id test-gw
audit_log {audit}
header_timeout %d
control_socket {tmp}/control.sock
state_file {tmp}/state
""" % (PORTAL, HEADER_TIMEOUT)

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
O4 = h.ORIGIN4


class Fixture:
    """The topology, origin server and wicketd shared by the tests of this file."""

    def __init__(self):
        """Bring the topology up, start the origin and the daemon."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.origin = self.topo.start_origin()
        self.gate = self.topo.start_wicketd(CONF)
        self.restarts = 0

    def restart(self):
        """Start a fresh daemon after a crash so later tests still run."""
        try:
            self.gate.stop(check=False)
        except Exception:
            pass
        self.gate = self.topo.start_wicketd(CONF)
        self.restarts += 1

    @property
    def client(self):
        """The default client."""
        return self.topo.client


def excerpt(b, limit):
    """Return a printable excerpt of bytes `b`."""
    b = bytes(b)
    return repr(b[:limit]) + (" ...(%d bytes)" % len(b) if len(b) > limit else "")


def show(reply, limit=600):
    """Return what was received (and, for a raw reply, what was sent) for failure messages."""
    s = excerpt(reply, limit)
    req = getattr(reply, "request", None)
    if req is not None:
        s += "\n  in answer to request %s" % excerpt(req, 300)
    return s


def raw_gate(f, data, **kw):
    """Send raw bytes from the default client to the origin's port 80 (REDIRECTed to the gate)."""
    return h.raw(f.client, O4, 80, data, **kw)


def first_response(reply, what):
    """Return the first parsed response in `reply` or fail with what was received."""
    rs = reply.responses()
    assert rs, "%s: no response received (eof=%s, %.2fs): %s" % (what, reply.eof, reply.elapsed, show(reply))
    return rs[0]


def assert_status(reply, code, what, exact_line=None):
    """Assert the first response has status `code` (and optionally exactly `exact_line`)."""
    r = first_response(reply, what)
    assert r.status == code, "%s: expected status %d, got %r; received %s" % (what, code, r.status_line, show(reply))
    if exact_line is not None:
        assert r.status_line == exact_line, "%s: expected status line %r, got %r" % (what, exact_line, r.status_line)
    return r


def assert_closes(reply, r, what):
    """Assert the answer carries `Connection: close` and the gate closed the connection."""
    conn = [v.lower() for v in r.headers.get_all("Connection")]
    assert "close" in conn, "%s: expected 'Connection: close' header, got headers %r; received %s" % (
        what, list(r.headers), show(reply))
    assert reply.eof is not None, "%s: gate did not close the connection within %.1fs; received %s" % (
        what, reply.elapsed, show(reply))
    assert len(reply.responses()) == 1, "%s: expected exactly one answer, got %r" % (
        what, reply.status_lines())


def assert_511_page(r, what):
    """Assert every RFC 6585 §6 property of a 511 answer."""
    assert r.status_line == "HTTP/1.1 511 Network Authentication Required", \
        "%s: status line %r" % (what, r.status_line)
    ct = r.headers.get("Content-Type")
    assert ct == "text/html; charset=utf-8", "%s: Content-Type %r" % (what, ct)
    cc = r.headers.get("Cache-Control")
    assert cc == "no-store", "%s: Cache-Control %r" % (what, cc)
    cls = r.headers.get_all("Content-Length")
    assert len(cls) == 1 and cls[0].isdigit() and int(cls[0]) == len(r.body), \
        "%s: Content-Length %r but body has %d bytes" % (what, cls, len(r.body))
    assert not r.headers.has("WWW-Authenticate"), "%s: has WWW-Authenticate" % what
    body = r.body.decode("utf-8", "replace")
    hrefs = re.findall(r"""href\s*=\s*["']([^"']*)["']""", body, re.I)
    assert hrefs, "%s: no href= link in body: %r" % (what, body[:800])
    assert any(u.startswith(PORTAL) for u in hrefs), \
        "%s: no link to the portal %s: hrefs %r" % (what, PORTAL, hrefs)
    m = re.search(r"""<meta\s+http-equiv\s*=\s*["']refresh["']\s+content\s*=\s*["']([^"']*)["']""", body, re.I)
    assert m, "%s: no <meta http-equiv=\"refresh\" content=...> in body: %r" % (what, body[:800])
    mu = re.search(r"url\s*=\s*(\S+)", m.group(1), re.I)
    assert mu and mu.group(1).startswith(PORTAL), \
        "%s: meta refresh %r does not go to %s" % (what, m.group(1), PORTAL)


def audit_for(f, path, count=1, timeout=3.0):
    """Wait for `count` request events with this exact path; return them."""
    got = f.gate.audit_wait(lambda e: e.get("event") == "request" and e.get("path") == path,
                            count=count, timeout=timeout)
    assert len(got) >= count, "audit log: expected %d request event(s) with path %r, found %d; last lines:\n%s" % (
        count, path, len(got), h.tail(f.gate.audit_raw().decode("utf-8", "replace"), 8))
    return got


def uniq(tag):
    """Return a path unique to this run and test."""
    uniq.n += 1
    return "/%s-%d-%d" % (tag, os.getpid(), uniq.n)


uniq.n = 0


# ----------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------

def test_511_page_and_audit(f):
    """curl http://10.98.0.2/some/path gets the full 511 page and one complete audit line."""
    r = h.curl(f.client, ["http://%s/some/path" % O4])
    assert_511_page(r, "GET /some/path")
    e = audit_for(f, "/some/path")[-1]
    want = {"event": "request", "client_ip": h.CLIENT4, "dst": "%s:80" % O4, "method": "GET",
            "path": "/some/path", "status": 511}
    bad = {k: (v, e.get(k)) for k, v in want.items() if e.get(k) != v}
    assert not bad, "audit fields (expected, got): %r\nline: %r" % (bad, e)
    for k in ("verdict", "ts", "mac", "host", "bytes_in", "bytes_out", "ms"):
        assert k in e, "audit line lacks %r: %r" % (k, e)
    assert isinstance(e["ts"], str) and TS_RE.match(e["ts"]), "audit ts %r is not RFC 3339 UTC with ms" % e.get("ts")


def test_post_without_length_411(f):
    """POST with neither Content-Length nor Transfer-Encoding gets 411, Connection: close, then close."""
    req = b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"
    rep = raw_gate(f, req, timeout=5)
    r = assert_status(rep, 411, "POST no length", exact_line="HTTP/1.1 411 Length Required")
    assert_closes(rep, r, "POST no length")


def test_cl_and_te_400_never_forwarded(f):
    """Content-Length together with Transfer-Encoding gets 400 + close, and the origin sees nothing."""
    before = len(f.origin.connections())
    req = (b"POST /smuggle HTTP/1.1\r\nHost: 10.98.0.2\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    rep = raw_gate(f, req, timeout=5)
    r = assert_status(rep, 400, "CL+TE")
    assert_closes(rep, r, "CL+TE")
    time.sleep(0.3)
    conns = f.origin.connections()
    assert len(conns) == before, "origin saw connection(s): %r" % conns[before:]


def test_pipelined_three_gets(f):
    """Three GETs in one write get three 511s in order; the connection stays open afterwards."""
    paths = [uniq("pipe-a"), uniq("pipe-b"), uniq("pipe-c")]
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n" % p.encode() for p in paths)
    rep = raw_gate(f, req, expect=3, linger=0.5, timeout=5)
    rs = rep.responses()
    assert [r.status for r in rs] == [511, 511, 511], "expected three 511s, got %r; received %s" % (
        rep.status_lines(), show(rep))
    assert rep.eof is None, "gate closed the keep-alive connection (%s) after the pipelined answers" % rep.eof
    audit_for(f, paths[2])
    got = [e["path"] for e in f.gate.audit() if e.get("event") == "request" and e.get("path") in paths]
    assert got == paths, "audit order %r, expected %r" % (got, paths)


def test_pipelined_last_connection_close(f):
    """Three pipelined GETs, the last with Connection: close: three 511s and then the gate closes."""
    paths = [uniq("pclose-a"), uniq("pclose-b"), uniq("pclose-c")]
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: 10.98.0.2\r\n%s\r\n" % (
        p.encode(), b"Connection: close\r\n" if i == 2 else b"") for i, p in enumerate(paths))
    rep = raw_gate(f, req, timeout=5)
    assert [r.status for r in rep.responses()] == [511, 511, 511], "expected three 511s, got %r; received %s" % (
        rep.status_lines(), show(rep))
    assert rep.eof is not None, "gate did not close after a request with Connection: close (waited %.1fs)" % rep.elapsed


def test_one_byte_writes(f):
    """A request written one byte at a time (10 ms apart) still gets 511."""
    p = uniq("split")
    req = b"GET %s HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n" % p.encode()
    rep = raw_gate(f, req, pieces=1, delay=0.01, expect=1, timeout=5)
    r = assert_status(rep, 511, "1-byte writes")
    assert_511_page(r, "1-byte writes")
    audit_for(f, p)


def test_ipv6_511(f):
    """curl http://[fd98::2]/ goes through the IPv6 REDIRECT and gets the same 511; audit dst is [fd98::2]:80."""
    p = uniq("v6")
    r = h.curl(f.client, ["-g", "http://[%s]%s" % (h.ORIGIN6, p)])
    assert_511_page(r, "IPv6 GET")
    e = audit_for(f, p)[-1]
    assert e.get("dst") == "[%s]:80" % h.ORIGIN6, "audit dst %r, expected [fd98::2]:80" % e.get("dst")
    assert e.get("client_ip") == h.CLIENT6, "audit client_ip %r, expected %s" % (e.get("client_ip"), h.CLIENT6)
    assert e.get("status") == 511, "audit status %r" % e.get("status")


def test_stalled_header_408(f):
    """An incomplete header block gets 408 within header_timeout+2 s and the gate closes."""
    rep = raw_gate(f, b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=HEADER_TIMEOUT + 4)
    r = assert_status(rep, 408, "stalled header")
    assert r.status_line.startswith("HTTP/1.1 408"), r.status_line
    assert rep.eof is not None, "gate did not close after 408 (waited %.1fs)" % rep.elapsed
    assert rep.t_eof <= HEADER_TIMEOUT + 2, "closed after %.2fs, limit %ds" % (rep.t_eof, HEADER_TIMEOUT + 2)


def test_post_body_skipped_then_pipelined_get(f):
    """POST with a 10-byte body then a pipelined GET: 511, 511, the GET framed at the right byte."""
    p1, p2 = uniq("post-cl"), uniq("after-post")
    req = (b"POST %s HTTP/1.1\r\nHost: 10.98.0.2\r\nContent-Length: 10\r\n\r\nGET /bad\r\n"
           b"GET %s HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n" % (p1.encode(), p2.encode()))
    rep = raw_gate(f, req, expect=2, timeout=5)
    assert [r.status for r in rep.responses()] == [511, 511], "expected 511 then 511, got %r; received %s" % (
        rep.status_lines(), show(rep))
    audit_for(f, p2)
    got = [e.get("path") for e in f.gate.audit() if e.get("path") in (p1, p2, "/bad")]
    assert got == [p1, p2], "audit paths %r, expected %r" % (got, [p1, p2])


def test_expect_100_continue_no_body(f):
    """Expect: 100-continue with a body announced: the 511 comes without the body and without 100 Continue."""
    p = uniq("expect")
    req = (b"POST %s HTTP/1.1\r\nHost: 10.98.0.2\r\nContent-Length: 20\r\n"
           b"Expect: 100-continue\r\n\r\n" % p.encode())
    rep = raw_gate(f, req, expect=1, timeout=HEADER_TIMEOUT + 3)
    assert b"100 Continue" not in rep and not rep.startswith(b"HTTP/1.1 100"), \
        "gate sent 100 Continue: %s" % show(rep)
    r = assert_status(rep, 511, "Expect: 100-continue")
    assert rep.t_first is not None and rep.t_first < 1.5, "511 took %.2fs (waiting for the body?)" % rep.t_first


def test_http2_version_505(f):
    """GET / HTTP/2.0 gets 505 and close."""
    rep = raw_gate(f, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    r = assert_status(rep, 505, "HTTP/2.0")
    assert_closes(rep, r, "HTTP/2.0")


def test_connect_501(f):
    """CONNECT a:443 HTTP/1.1 gets 501 and close."""
    rep = raw_gate(f, b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")
    r = assert_status(rep, 501, "CONNECT")
    assert_closes(rep, r, "CONNECT")


def test_long_target_414(f):
    """A request target longer than 8192 bytes gets 414 and close."""
    req = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    rep = raw_gate(f, req)
    r = assert_status(rep, 414, "9000-byte target")
    assert_closes(rep, r, "9000-byte target")


def test_huge_header_block_431(f):
    """A header block over 32 KiB (40 fields of 1000 bytes) gets 431 and close."""
    req = (b"GET / HTTP/1.1\r\nHost: x\r\n"
           + b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(40)) + b"\r\n")
    rep = raw_gate(f, req)
    r = assert_status(rep, 431, "40 KB header block")
    assert_closes(rep, r, "40 KB header block")


def test_te_gzip_chunked_501(f):
    """Transfer-Encoding: gzip, chunked gets 501 and close."""
    req = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n")
    rep = raw_gate(f, req)
    r = assert_status(rep, 501, "TE gzip, chunked")
    assert_closes(rep, r, "TE gzip, chunked")


def test_obs_fold_400(f):
    """An obs-fold header continuation line gets 400 and close."""
    req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"
    rep = raw_gate(f, req)
    r = assert_status(rep, 400, "obs-fold")
    assert_closes(rep, r, "obs-fold")


def test_daemon_survived_everything(f):
    """After all of the above the same daemon still answers a fresh curl with 511 and has a clean stderr."""
    assert f.restarts == 0, "wicketd had to be restarted %d time(s) during this run" % f.restarts
    r = h.curl(f.client, ["http://%s/final" % O4])
    assert_511_page(r, "final GET")
    f.gate.check_sanitizers()


TESTS = [
    test_511_page_and_audit,
    test_post_without_length_411,
    test_cl_and_te_400_never_forwarded,
    test_pipelined_three_gets,
    test_pipelined_last_connection_close,
    test_one_byte_writes,
    test_ipv6_511,
    test_stalled_header_408,
    test_post_body_skipped_then_pipelined_get,
    test_expect_100_continue_no_body,
    test_http2_version_505,
    test_connect_501,
    test_long_target_414,
    test_huge_header_block_431,
    test_te_gzip_chunked_501,
    test_obs_fold_400,
    test_daemon_survived_everything,
]


def after_each(f, test):
    """After every test the daemon must be alive, sanitizer-clean, and answer a fresh curl with 511."""
    problems = []
    if f.gate.alive():
        try:
            r = h.curl(f.client, ["http://%s/alive-after-%s" % (O4, test.__name__)], timeout=5)
            if r.status != 511:
                problems.append("fresh curl after %s got %r, expected 511" % (test.__name__, r.status_line))
        except AssertionError as e:
            problems.append("fresh curl after %s failed: %s" % (test.__name__, e))
    try:
        h.check_daemon(f.gate, test, restart=f.restart)
    except AssertionError as e:
        problems.append(str(e))
    if problems:
        raise AssertionError("\n".join(problems))


def setup():
    """Create the shared fixture."""
    return Fixture()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_gate", TESTS, setup, teardown=h.teardown_fixture, after_each=after_each))
