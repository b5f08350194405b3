#!/usr/bin/env python3
# test_forward: end-to-end tests of forwarding admitted clients (issue 3): bodies
# both ways with checksums over IPv4 and IPv6, pipelined order with local answers,
# WebSocket through the tunnel, upstream failures (502, 504, idle, reset mid-body),
# bounded memory behind a slow reader, the walled garden and the audit records.
"""wicket e2e: an admitted client gets the web as if the gate were not there.

Run as root: python3 test/e2e/test_forward.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import origins  # noqa: E402

CONNECT_TIMEOUT = 2
IDLE_TIMEOUT = 5
O4, O6 = h.ORIGIN4, h.ORIGIN6          # nginx: the files
GARDEN4, GARDEN6 = "10.98.0.3", "fd98::3"  # nginx too, in the walled garden
REFUSE4, REFUSE6 = "10.98.0.4", "fd98::4"  # an address with nothing listening
PY4, PY6 = "10.98.0.5", "fd98::5"      # the Python origin (uploads, ws, hang, reset)
HOLE4, HOLE6 = "10.98.0.9", "fd98::9"  # SYNs dropped
OUT4, OUT6 = "10.99.0.100", "fd99::100"  # a LAN client outside allow_ip
FILES = {"1k.bin": 1024, "10m.bin": 10 << 20, "32m.bin": 32 << 20}
MIB = 1 << 20

CONF = """\
listen 0.0.0.0:{port}
listen [::]:{port}
gateway_id test-fwd
portal_url http://10.99.0.1/portal
audit_log {{audit}}
control_socket {{tmp}}/control.sock
state_file {{tmp}}/state
header_timeout 5
upstream_connect_timeout %d
idle_timeout %d
{admit}
""" % (CONNECT_TIMEOUT, IDLE_TIMEOUT)

# The default client (10.99.0.10, fd99::10) is admitted; OUT4/OUT6 are not.
ADMIT = """\
allow_ip 10.99.0.0/28
allow_ip fd99::/120
walled_garden %s:80
walled_garden [%s]:80
""" % (GARDEN4, GARDEN6)


def conf(admit=ADMIT, port=3990):
    """Render the daemon config for a listen port and admission block."""
    return CONF.format(port=port, admit=admit)


class Fixture:
    """Topology with nginx and the Python origin behind the router, and one wicketd."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        if shutil.which("nginx") is None:
            raise h.SetupError("nginx not found (scripts/deps.sh installs nginx-light)")
        self.topo = t = h.Topology().__enter__()
        for a4, a6 in ((GARDEN4, GARDEN6), (REFUSE4, REFUSE6), (PY4, PY6), (HOLE4, HOLE6)):
            origins.add_origin_addr(t, a4, a6)
        origins.blackhole(t, [HOLE4, HOLE6])
        self.www = os.path.join(t.tmp, "www")
        self.sha = origins.make_files(self.www, FILES)
        self.up = os.path.join(t.tmp, "up")
        ups = origins.make_files(self.up, {"up10m.bin": 10 << 20, "up32m.bin": 32 << 20}, seed=b"upload")
        self.up_sha, self.up32_sha = ups["up10m.bin"], ups["up32m.bin"]
        self.nginx = origins.origin_nginx(t, self.www, ["%s:80" % O4, "[%s]:80" % O6,
                                                        "%s:80" % GARDEN4, "[%s]:80" % GARDEN6])
        self.py = origins.PyOrigin(t, [PY4, PY6]).start()
        self.out = t.add_client("out", ip4=OUT4, ip6=OUT6)
        self.gate = t.start_wicketd(conf())
        self.restarts = 0
        self.dl = 0

    def restart(self):
        """Start a fresh daemon after a crash so later tests still run."""
        try:
            self.gate.stop(check=False)
        except Exception:
            pass
        self.gate = self.topo.start_wicketd(conf())
        self.restarts += 1

    @property
    def client(self):
        """The admitted client."""
        return self.topo.client

    def dl_path(self):
        """A fresh download path in the temp dir."""
        self.dl += 1
        return os.path.join(self.topo.tmp, "dl-%d" % self.dl)


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

def url(host, path):
    """http URL for an IPv4 or IPv6 literal."""
    return "http://%s%s" % ("[%s]" % host if ":" in host else host, path)


def curl_file(ns, target, out, args=(), timeout=30):
    """curl -o `out` in `ns`; return (exit code, status code, bytes downloaded, stderr)."""
    if isinstance(ns, h.Client):
        ns = ns.ns
    cmd = ["curl", "-q", "-s", "-S", "-g", "--noproxy", "*", "--max-time", str(timeout),
           "-o", out, "-w", "%{http_code} %{size_download}"] + list(args) + [target]
    p = ns.run(cmd, check=False, timeout=timeout + 10)
    code, _, size = p.stdout.strip().partition(" ")
    return p.returncode, int(code or 0), int(size or 0), p.stderr.strip()


def get_checked(f, ns, host, name):
    """GET /name from `host` through the gate and assert 200 and the file's sha256."""
    out = f.dl_path()
    rc, code, size, err = curl_file(ns, url(host, "/" + name), out)
    assert rc == 0 and code == 200, "GET %s: curl exit %d, status %d, %d bytes: %s" % (
        url(host, "/" + name), rc, code, size, err)
    got, n = origins.sha256_file(out)
    assert n == FILES[name] and got == f.sha[name], "GET %s: %d bytes sha256 %s, expected %d bytes %s" % (
        url(host, "/" + name), n, got, FILES[name], f.sha[name])
    os.unlink(out)


def excerpt(b, limit=400):
    """Printable excerpt of bytes."""
    b = bytes(b)
    return repr(b[:limit]) + (" ...(%d bytes)" % len(b) if len(b) > limit else "")


def show(reply):
    """What was sent and received, for failure messages."""
    return "received %s (eof=%s after %.2fs)\n  in answer to %s" % (
        excerpt(reply), reply.eof, reply.elapsed or 0, excerpt(getattr(reply, "request", b""), 300))


def mark(f):
    """Number of audit objects so far (a point to look for new ones from)."""
    return len(f.gate.audit())


def audit_since(f, m, pred, count=1, timeout=4.0):
    """Wait for `count` request events after mark `m` matching `pred`; return them."""
    end = time.monotonic() + timeout
    while True:
        got = [e for e in f.gate.audit()[m:] if e.get("event") == "request" and pred(e)]
        if len(got) >= count or time.monotonic() >= end:
            break
        time.sleep(0.05)
    assert len(got) >= count, "audit: expected %d matching request event(s), found %d; new lines:\n%s" % (
        count, len(got), "\n".join(json.dumps(e) for e in f.gate.audit()[m:][-8:]))
    return got


def release_binary():
    """The release wicketd for memory measurements (ASan keeps freed memory in quarantine)."""
    b = os.environ.get("WICKETD_RELEASE")
    if b:
        return b if os.path.isabs(b) else os.path.join(h.REPO, b)
    d = h.default_wicketd()
    if "/asan/" in d:
        cand = d.replace("/asan/", "/")
        if os.path.exists(cand):
            return cand
    return d


# ----------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------

def test_get_1k_10m_ipv4(f):
    """curl http://10.98.0.2/1k.bin and /10m.bin through the gate: 200 and the same sha256."""
    get_checked(f, f.client, O4, "1k.bin")
    get_checked(f, f.client, O4, "10m.bin")


def test_get_1k_10m_ipv6(f):
    """The same over IPv6 (http://[fd98::2]/...)."""
    get_checked(f, f.client, O6, "1k.bin")
    get_checked(f, f.client, O6, "10m.bin")


def upload(f, host, extra):
    """POST the 10 MiB upload file to the Python origin; return its JSON verdict."""
    out = f.dl_path()
    src = os.path.join(f.up, "up10m.bin")
    rc, code, size, err = curl_file(f.client, url(host, "/upload"), out,
                                    ["-H", "Content-Type: application/octet-stream"] + extra
                                    + ["--data-binary", "@" + src])
    body = open(out, "rb").read() if os.path.exists(out) else b""
    assert rc == 0 and code == 200, "POST 10 MiB %s: curl exit %d, status %d: %s %r" % (
        " ".join(extra), rc, code, err, body[:300])
    v = json.loads(body)
    assert v["length"] == 10 << 20 and v["sha256"] == f.up_sha, \
        "origin received %d bytes sha256 %s, expected %d bytes %s (%r)" % (
            v["length"], v["sha256"], 10 << 20, f.up_sha, v)
    return v


def test_upload_10m_content_length(f):
    """A 10 MiB POST with Content-Length reaches the origin intact (curl sends Expect: 100-continue)."""
    v = upload(f, PY4, [])
    assert v["cl"] == str(10 << 20) and v["te"] == "", "origin saw framing %r" % v


def test_upload_10m_chunked(f):
    """A 10 MiB chunked POST reaches the origin intact and still chunked (relayed byte for byte)."""
    v = upload(f, PY4, ["-H", "Transfer-Encoding: chunked"])
    assert v["te"].lower() == "chunked" and v["cl"] == "" and v["chunks"] > 0, "origin saw framing %r" % v


def test_upload_10m_ipv6(f):
    """The Content-Length upload over IPv6."""
    upload(f, PY6, [])


def test_pipelined_get_then_411(f):
    """GET (forwarded) + POST without length in one write: the 200 first, then the 411, then close."""
    m = mark(f)
    req = (b"GET /1k.bin HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n"
           b"POST /nolength HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n")
    rep = h.raw(f.client, O4, 80, req, timeout=6)
    rs = rep.responses()
    assert [r.status for r in rs] == [200, 411], "expected 200 then 411, got %r; %s" % (
        rep.status_lines(), show(rep))
    assert len(rs[0].body) == 1024, "first answer body %d bytes, expected 1024" % len(rs[0].body)
    assert hashlib.sha256(rs[0].body).hexdigest() == f.sha["1k.bin"], "first answer body differs from /1k.bin"
    assert rep.eof is not None, "gate did not close after the 411; %s" % show(rep)
    ev = audit_since(f, m, lambda e: e.get("client_ip") == h.CLIENT4 and e.get("status") in (200, 411), count=2)
    assert [(e["verdict"], e["status"]) for e in ev[:2]] == [("forward", 200), ("deny", 411)], \
        "audit order (verdict, status): %r" % [(e["verdict"], e["status"]) for e in ev]
    assert ev[0]["path"] == "/1k.bin" and ev[0]["upstream_status"] == 200, "audit of the GET: %r" % ev[0]
    # docs/audit-log.md: method is "-" only when the request line could not be framed;
    # here it was, and only the body length was missing.
    assert (ev[1]["method"], ev[1]["path"]) == ("POST", "/nolength"), \
        "audit record of the 411 lost its request line: method %r path %r (expected POST /nolength): %r" % (
            ev[1]["method"], ev[1]["path"], ev[1])


def test_pipelined_get_get_head(f):
    """GET + GET + HEAD pipelined (the HEAD with Connection: close): three answers in order, HEAD bodiless."""
    m = mark(f)
    req = (b"GET /1k.bin HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n"
           b"GET /status/404 HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n"
           b"HEAD /10m.bin HTTP/1.1\r\nHost: 10.98.0.2\r\nConnection: close\r\n\r\n")
    rep = h.raw(f.client, O4, 80, req, timeout=6)
    data = bytes(rep)
    rs = h.parse_responses(data, eof=True, methods=["GET", "GET", "HEAD"])
    assert [r.status for r in rs] == [200, 404, 200], "expected 200, 404, 200; got %r; %s" % (
        [r.status_line for r in rs], show(rep))
    assert len(rs[0].body) == 1024, "GET /1k.bin body %d bytes" % len(rs[0].body)
    head = rs[2]
    assert head.headers.get("Content-Length") == str(FILES["10m.bin"]), "HEAD Content-Length %r" % (
        head.headers.get("Content-Length"))
    assert data.endswith(b"\r\n\r\n"), "bytes after the HEAD answer's head: %s" % excerpt(data[-200:])
    assert rep.eof is not None, "gate did not close after the Connection: close HEAD; %s" % show(rep)
    ev = audit_since(f, m, lambda e: e.get("path") in ("/1k.bin", "/status/404", "/10m.bin"), count=3)
    got = [(e["method"], e["path"], e["status"], e.get("upstream_status")) for e in ev[:3]]
    assert got == [("GET", "/1k.bin", 200, 200), ("GET", "/status/404", 404, 404),
                   ("HEAD", "/10m.bin", 200, 200)], "audit %r" % got


def test_websocket_echo(f):
    """Upgrade: websocket to the Python origin: 101, then two masked frames come back echoed."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    hs = ("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (PY4, key)).encode()
    m1, m2 = b"hello through the gate", b"x" * 300
    fr1 = origins.ws_frame(1, m1, mask=b"\x01\x02\x03\x04")
    fr2 = origins.ws_frame(1, m2, mask=b"\x0a\x0b\x0c\x0d")
    rep = h.raw(f.client, PY4, 80, [hs, fr1, fr2], delay=0.5, half_close=True, timeout=5)
    data = bytes(rep)
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 101 "), "no 101 answer: %s" % show(rep)
    assert ("Sec-WebSocket-Accept: %s" % origins.ws_accept(key)).encode() in head, "bad accept: %r" % head
    want = origins.ws_frame(1, m1) + origins.ws_frame(1, m2)
    assert rest == want, "echo: expected %s, got %s" % (excerpt(want, 80), excerpt(rest, 80))
    assert rep.eof == "fin", "after the client's half-close the origin closed; the gate should pass " \
        "the FIN on, got eof=%s" % rep.eof


def test_upstream_refused_502(f):
    """Nothing listens on 10.98.0.4:80: the client gets 502 and the audit record says why."""
    m = mark(f)
    rep = h.raw(f.client, REFUSE4, 80, b"GET /refused HTTP/1.1\r\nHost: 10.98.0.4\r\n\r\n", timeout=5)
    rs = rep.responses()
    assert rs and rs[0].status == 502, "expected 502; %s" % show(rep)
    e = audit_since(f, m, lambda e: e.get("path") == "/refused")[0]
    assert e["status"] == 502 and e["verdict"] == "forward" and e.get("error"), "audit %r" % e
    # and over IPv6
    rep = h.raw(f.client, REFUSE6, 80, b"GET /refused6 HTTP/1.1\r\nHost: [fd98::4]\r\n\r\n", timeout=5)
    rs = rep.responses()
    assert rs and rs[0].status == 502, "IPv6: expected 502; %s" % show(rep)


def test_blackholed_upstream_504(f):
    """SYNs to 10.98.0.9 are dropped: 504 after about upstream_connect_timeout (2 s)."""
    m = mark(f)
    rep = h.raw(f.client, HOLE4, 80, b"GET /hole HTTP/1.1\r\nHost: 10.98.0.9\r\n\r\n",
                timeout=CONNECT_TIMEOUT + 5)
    rs = rep.responses()
    assert rs and rs[0].status == 504, "expected 504; %s" % show(rep)
    assert CONNECT_TIMEOUT - 0.3 <= rep.t_first <= CONNECT_TIMEOUT + 1.5, \
        "504 after %.2fs, expected about %ds" % (rep.t_first, CONNECT_TIMEOUT)
    e = audit_since(f, m, lambda e: e.get("path") == "/hole")[0]
    assert e["status"] == 504 and e.get("error"), "audit %r" % e


def test_upstream_never_answers(f):
    """The origin takes the request and says nothing: after idle_timeout the gate answers 504 or closes."""
    m = mark(f)
    rep = h.raw(f.client, PY4, 80, b"GET /hang HTTP/1.1\r\nHost: 10.98.0.5\r\n\r\n",
                timeout=IDLE_TIMEOUT + 6)
    rs = rep.responses()
    assert rep.eof is not None, "gate kept the connection open for %.1fs (idle_timeout %d); %s" % (
        rep.elapsed, IDLE_TIMEOUT, show(rep))
    assert IDLE_TIMEOUT - 0.5 <= rep.t_eof <= IDLE_TIMEOUT + 2.5, "closed after %.2fs, idle_timeout %d" % (
        rep.t_eof, IDLE_TIMEOUT)
    assert not rs or rs[0].status == 504, "expected 504 or a plain close; %s" % show(rep)
    e = audit_since(f, m, lambda e: e.get("path") == "/hang")[0]
    assert e["status"] in (0, 504) and e.get("error") and e.get("upstream_status") is None, "audit %r" % e
    assert e["ms"] >= (IDLE_TIMEOUT - 0.5) * 1000, "audit ms %r" % e["ms"]


def test_upstream_reset_mid_body(f):
    """The origin sends Content-Length 1000000, 100000 bytes, then RST: a truncated body and a close."""
    m = mark(f)
    rep = h.raw(f.client, PY4, 80, b"GET /reset HTTP/1.1\r\nHost: 10.98.0.5\r\n\r\n", timeout=6)
    data = bytes(rep)
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 200 "), "expected the origin's 200 head; %s" % show(rep)
    assert b"Content-Length: %d" % origins.RESET_LENGTH in head, "head %r" % head
    assert rep.eof is not None, "gate did not close the truncated answer; %s" % show(rep)
    assert body == b"r" * len(body) and len(body) == origins.RESET_SENT, \
        "expected exactly the %d bytes the origin sent, nothing fabricated; got %d bytes ending %r" % (
            origins.RESET_SENT, len(body), body[-120:])
    e = audit_since(f, m, lambda e: e.get("path") == "/reset")[0]
    assert e["upstream_status"] == 200 and e.get("error"), "audit %r" % e
    # curl agrees: a partial transfer (18) or a receive failure (56), never a complete one
    out = f.dl_path()
    rc, code, size, err = curl_file(f.client, url(PY4, "/reset"), out, timeout=6)
    assert rc in (18, 56) and code == 200 and size == origins.RESET_SENT, \
        "curl: exit %d (expected 18 or 56), status %d, %d bytes: %s" % (rc, code, size, err)


class ReleaseGate:
    """The release wicketd on port 3991 with the REDIRECT pointed at it, for memory measurements.

    ASan's quarantine keeps freed buffers, so RSS is measured without it; the shared
    daemon keeps running on 3990 and gets the REDIRECT back afterwards.
    """

    def __init__(self, f):
        """Remember the fixture."""
        self.f = f

    def __enter__(self):
        """Start the daemon, point the REDIRECT at it, warm its allocator; return self."""
        t = self.f.topo
        self.gate = t.start_wicketd(conf(port=3991), binary=release_binary(),
                                    env={"ASAN_OPTIONS": "detect_leaks=0:quarantine_size_mb=0:halt_on_error=1"})
        t.set_redirect(3991)
        self.pid = self.gate.proc.pid
        comm = open("/proc/%d/comm" % self.pid).read().strip()
        assert comm.startswith("wicketd"), "pid %d is %r, not wicketd" % (self.pid, comm)
        get_checked(self.f, self.f.client, O4, "10m.bin")  # warm the allocator's pools
        self.base = origins.vmrss_kib(self.pid)
        return self

    def __exit__(self, *exc):
        """Give the REDIRECT back to the shared daemon and stop this one."""
        self.f.topo.set_redirect(3990)
        self.gate.stop(check=True)
        return False

    def sample(self, seconds, every=0.25):
        """Sample VmRSS (KiB) for `seconds`; return the samples."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(every)
            v = origins.vmrss_kib(self.pid)
            if v is not None:
                out.append(v)
        return out

    def queues(self):
        """The router's TCP queues (for failure messages)."""
        return self.f.topo.router.run(["ss", "-tn"], check=False).stdout


def test_slow_reader_memory_bounded(f):
    """A client that stops reading a 32 MiB answer for 3 s: wicketd's RSS grows by less than 8 MiB."""
    with ReleaseGate(f) as g:
        p = f.client.ns.popen([origins.PY, origins.ORIGINS, "slowread", "--host", O4, "--path", "/32m.bin",
                               "--pause-after", str(MIB), "--pause", "3", "--rcvbuf", "16384"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([p.stdout], [], [], 10)
        assert r, "slow reader did not start reading within 10 s"
        line = p.stdout.readline()
        assert b"paused" in line, "slow reader: %r %r" % (line, p.stderr.read() if p.poll() is not None else b"")
        samples = g.sample(2.7)
        queues = g.queues()
        out, err = p.communicate(timeout=30)
        res = json.loads(out.decode().strip().splitlines()[-1])
        assert res["length"] == FILES["32m.bin"] and res["sha256"] == f.sha["32m.bin"], \
            "slow reader got %r, expected %d bytes %s" % (res, FILES["32m.bin"], f.sha["32m.bin"])
        growth = max(samples) - g.base
        assert growth < 8 * 1024, "wicketd RSS grew by %d KiB (baseline %d KiB, samples %r) behind a " \
            "stalled reader; router TCP queues:\n%s" % (growth, g.base, samples, queues)
        h.log("slow reader: baseline %d KiB, growth %d KiB" % (g.base, growth))


def test_slow_origin_upload_memory_bounded(f):
    """A 32 MiB upload to an origin that reads nothing for 2 s: RSS grows by less than 8 MiB, body intact."""
    src = os.path.join(f.up, "up32m.bin")
    with ReleaseGate(f) as g:
        out = f.dl_path()
        p = f.client.ns.popen(["curl", "-q", "-s", "-S", "--noproxy", "*", "--max-time", "30", "-o", out,
                               "-w", "%{http_code}", "-H", "Content-Type: application/octet-stream",
                               "--data-binary", "@" + src, url(PY4, "/slowsink")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.3)
        samples = g.sample(origins.SLOWSINK_PAUSE - 0.6)
        queues = g.queues()
        so, se = p.communicate(timeout=40)
        assert p.returncode == 0 and so.strip() == b"200", "curl exit %d, status %r: %r" % (
            p.returncode, so, se)
        v = json.load(open(out))
        assert v["length"] == 32 << 20 and v["sha256"] == f.up32_sha, "origin received %r, expected %d bytes %s" % (
            v, 32 << 20, f.up32_sha)
        growth = max(samples) - g.base
        assert growth < 8 * 1024, "wicketd RSS grew by %d KiB (baseline %d KiB, samples %r) in front of a " \
            "stalled origin; router TCP queues:\n%s" % (growth, g.base, samples, queues)
        h.log("slow origin: baseline %d KiB, growth %d KiB" % (g.base, growth))


def test_http10_get(f):
    """An HTTP/1.0 GET (curl -0) is forwarded and answered completely."""
    out = f.dl_path()
    rc, code, size, err = curl_file(f.client, url(O4, "/10m.bin"), out, ["-0"])
    assert rc == 0 and code == 200, "HTTP/1.0 GET: curl exit %d, status %d: %s" % (rc, code, err)
    got, n = origins.sha256_file(out)
    assert (n, got) == (FILES["10m.bin"], f.sha["10m.bin"]), "HTTP/1.0 GET: %d bytes sha256 %s" % (n, got)


def test_half_close_after_request(f):
    """The client sends a GET and shuts down its write side at once: it still gets the whole answer, then FIN."""
    rep = h.raw(f.client, O4, 80, b"GET /1k.bin HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n", half_close=True, timeout=5)
    rs = rep.responses()
    assert rs and rs[0].status == 200 and rs[0].complete and \
        hashlib.sha256(rs[0].body).hexdigest() == f.sha["1k.bin"], "expected the complete 200; %s" % show(rep)
    assert rep.eof == "fin", "expected a FIN after the answer, got eof=%s; %s" % (rep.eof, show(rep))


def py_requests(f, marker):
    """The Python origin's request events whose target contains marker."""
    return [e for e in f.py.events() if e.get("event") == "request" and marker in e.get("target", "")]


def test_trailer_with_framing_names_forwarded(f):
    """A chunked trailer named Content-Length / Transfer-Encoding is not framing: the request and the next one are forwarded byte for byte."""
    req = (b"POST /upload?trl HTTP/1.1\r\nHost: 10.98.0.5\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n"
           b"GET /after-trailer HTTP/1.1\r\nHost: 10.98.0.5\r\nConnection: close\r\n\r\n")
    rep = h.raw(f.client, PY4, 80, req, timeout=6)
    rs = rep.responses()
    assert [r.status for r in rs] == [200, 200], "expected 200 200; %s" % show(rep)
    v = json.loads(rs[0].body)
    assert v["length"] == 3 and v["chunks"] == 1, "origin decoded %r" % v
    assert b"GET /after-trailer" in rs[1].body, "second answer %r" % rs[1].body
    assert py_requests(f, "/upload?trl") and py_requests(f, "/after-trailer"), \
        "origin did not see both requests: %r" % [e.get("target") for e in f.py.events()][-6:]


def test_bytes_after_a_framing_error_never_a_request(f):
    """An ambiguous request and a second one in the same write: one 400, close, and the second never reaches the origin."""
    heads = [
        b"GET /fe1 HTTP/1.1\r\nHost: 10.98.0.5\r\nX: a\r\n b\r\n\r\n",                      # obs-fold
        b"POST /fe2 HTTP/1.1\r\nHost: 10.98.0.5\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",                                       # CL + TE
        b"POST /fe3 HTTP/1.1\r\nHost: 10.98.0.5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # bad chunk size
        b"GET /fe4 HTTP/1.1\r\nHost:\r\n\r\n",                                                 # empty Host
    ]
    for i, head in enumerate(heads):
        smuggled = b"GET /smuggled-%d HTTP/1.1\r\nHost: 10.98.0.5\r\n\r\n" % i
        rep = h.raw(f.client, PY4, 80, head + smuggled, timeout=4)
        rs = rep.responses()
        assert [r.status for r in rs] == [400], "case %d: expected one 400; %s" % (i, show(rep))
        assert rep.eof is not None, "case %d: not closed after the 400; %s" % (i, show(rep))
        assert rs[-1].headers.get("Connection", "").lower() == "close", "case %d: no Connection: close" % i
        time.sleep(0.2)
        assert not py_requests(f, "/smuggled-%d" % i), "case %d: the bytes after a framing error reached " \
            "the origin as a request" % i


def test_empty_host_400(f):
    """HTTP/1.1 origin-form with an empty Host (RFC 9112 §3.2): 400 and close, nothing forwarded."""
    rep = h.raw(f.client, PY4, 80, b"GET /empty-host HTTP/1.1\r\nHost:\r\n\r\n", timeout=4)
    assert rep.status_lines() == ["HTTP/1.1 400 Bad Request"] and rep.eof is not None, show(rep)
    assert b"empty Host" in rep.responses()[0].body, show(rep)
    time.sleep(0.2)
    assert not py_requests(f, "/empty-host"), "a request with an empty Host was forwarded"


def upstream_conns(f):
    """The router's established connections to the nginx origin (10.98.0.2:80), as 'local peer' strings."""
    p = f.topo.router.run(["ss", "-tnH", "state", "established", "dst", "%s:80" % O4], check=False)
    return {" ".join(ln.split()[2:4]) for ln in p.stdout.splitlines() if ln.strip()}


def test_client_vanishes_frees_upstream(f):
    """A client that resets in the middle of a 32 MiB answer: the gate closes its upstream connection at once."""
    before = upstream_conns(f)
    p = f.client.ns.run([origins.PY, origins.ORIGINS, "abort", "--host", O4, "--path", "/32m.bin",
                         "--after", str(MIB)], timeout=20)
    got = json.loads(p.stdout)
    assert got["read"] >= MIB, "abort client read only %r" % got
    end = time.monotonic() + 2
    while True:
        left = upstream_conns(f) - before
        if not left or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert not left, "2 s after the client's RST the gate still holds upstream connection(s) %r" % sorted(left)


def test_walled_garden(f):
    """A client outside allow_ip reaches the walled garden (10.98.0.3, fd98::3) and gets 511 elsewhere."""
    m = mark(f)
    get_checked(f, f.out, GARDEN4, "1k.bin")
    get_checked(f, f.out, GARDEN6, "1k.bin")
    for host in (O4, O6):
        r = h.curl(f.out, ["-g", url(host, "/1k.bin")])
        assert r.status == 511, "GET %s from a client not admitted: %r" % (url(host, "/1k.bin"), r.status_line)
    ev = audit_since(f, m, lambda e: e.get("client_ip") in (OUT4, OUT6), count=4)
    got = sorted((e["dst"], e["verdict"], e["status"]) for e in ev[:4])
    want = sorted([("%s:80" % GARDEN4, "forward", 200), ("[%s]:80" % GARDEN6, "forward", 200),
                   ("%s:80" % O4, "deny", 511), ("[%s]:80" % O6, "deny", 511)])
    assert got == want, "audit (dst, verdict, status): %r, expected %r" % (got, want)
    for e in ev[:4]:
        if e["verdict"] == "forward":
            assert e["reason"] == "walled_garden" and e["upstream_status"] == 200, "audit %r" % e


def test_outside_allow_ip_511(f):
    """With allow_ip 10.77.0.0/24 only, the default client gets 511 for the same URL."""
    f.gate.stop(check=True)
    try:
        f.gate = f.topo.start_wicketd(conf(admit="allow_ip 10.77.0.0/24\n"))
        for host in (O4, O6):
            r = h.curl(f.client, ["-g", url(host, "/1k.bin")])
            assert r.status == 511, "GET %s outside allow_ip: %r" % (url(host, "/1k.bin"), r.status_line)
    finally:
        f.gate.stop(check=False)
        f.gate = f.topo.start_wicketd(conf())


def test_audit_forward_records(f):
    """Forwarded requests are audited with verdict forward, status = upstream_status, bytes_out = answer size."""
    m = mark(f)
    get_checked(f, f.client, O4, "10m.bin")
    r = h.curl(f.client, [url(O4, "/status/404")])
    assert r.status == 404, "GET /status/404: %r" % r.status_line
    e = audit_since(f, m, lambda e: e.get("path") == "/10m.bin")[0]
    assert e["verdict"] == "forward" and e["reason"] == "allow_ip", "audit %r" % e
    assert e["status"] == 200 and e["upstream_status"] == 200, "audit %r" % e
    assert FILES["10m.bin"] < e["bytes_out"] < FILES["10m.bin"] + 1024, \
        "bytes_out %d for a %d-byte body" % (e["bytes_out"], FILES["10m.bin"])
    assert e["bytes_in"] > 0 and e["client_ip"] == h.CLIENT4 and e["dst"] == "%s:80" % O4, "audit %r" % e
    e = audit_since(f, m, lambda e: e.get("path") == "/status/404")[0]
    assert e["status"] == 404 and e["upstream_status"] == 404 and e["verdict"] == "forward", "audit %r" % e
    assert len(r.raw) - 10 <= e["bytes_out"] <= len(r.raw), "bytes_out %d, curl received %d" % (
        e["bytes_out"], len(r.raw))


def test_daemon_survived_everything(f):
    """After all of the above the same daemon forwards a fresh GET and has a clean stderr."""
    assert f.restarts == 0, "wicketd had to be restarted %d time(s) during this run" % f.restarts
    get_checked(f, f.client, O4, "1k.bin")
    f.gate.check_sanitizers()


TESTS = [
    test_get_1k_10m_ipv4,
    test_get_1k_10m_ipv6,
    test_upload_10m_content_length,
    test_upload_10m_chunked,
    test_upload_10m_ipv6,
    test_pipelined_get_then_411,
    test_pipelined_get_get_head,
    test_websocket_echo,
    test_upstream_refused_502,
    test_blackholed_upstream_504,
    test_upstream_never_answers,
    test_upstream_reset_mid_body,
    test_slow_reader_memory_bounded,
    test_slow_origin_upload_memory_bounded,
    test_http10_get,
    test_half_close_after_request,
    test_trailer_with_framing_names_forwarded,
    test_bytes_after_a_framing_error_never_a_request,
    test_empty_host_400,
    test_client_vanishes_frees_upstream,
    test_walled_garden,
    test_audit_forward_records,
    test_outside_allow_ip_511,
    test_daemon_survived_everything,
]


def after_each(f, test):
    """After every test the daemon is alive, sanitizer-clean, and still forwards a fresh GET."""
    problems = []
    if f.gate.alive():
        out = f.dl_path()
        rc, code, size, err = curl_file(f.client, url(O4, "/1k.bin"), out, timeout=5)
        if rc != 0 or code != 200 or size != 1024:
            problems.append("fresh GET after %s: curl exit %d, status %d, %d bytes: %s" % (
                test.__name__, rc, code, size, err))
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
    sys.exit(h.run_suite("test_forward", TESTS, setup, teardown=h.teardown_fixture, after_each=after_each))
