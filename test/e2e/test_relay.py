#!/usr/bin/env python3
# test_relay: end-to-end tests of the relay engine (issue 8, and the parts of
# issues 11 and 12 that live in it): bodies of every size and framing both ways
# with checksums (Content-Length, chunked, close-delimited, pipelined, IPv6,
# spliced and copied), a 50 MiB WebSocket echo, every defect with its exact
# trigger, bounded memory, the audit log under rotation and on a full disk,
# bounded local-answer floods and slow bodies, graceful stop.
"""wicket e2e: the relay between an admitted client and its origin.

Run as root: python3 test/e2e/test_relay.py [-v] [-l] [NAME_SUBSTRING ...]

Scale: bodies up to 200 MiB each way and 200,000 requests for the audit test,
on the release and the ASan build alike (the big bodies move by splice, so
ASan costs little there); the whole file takes about a minute.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import origins  # noqa: E402

O4, O6 = h.ORIGIN4, h.ORIGIN6     # nginx: static files (Content-Length, sendfile)
PY4, PY6 = "10.98.0.5", "fd98::5"   # the Python origin: gen, upload, ws, pace, early, endless
IDLE = 3                           # idle_timeout of the test daemon
HEADER = 3                         # header_timeout (also bounds a drained body)
QUOTA = 16 << 20                   # session_bytes
MIB = 1 << 20
SIZES = [0, 1, 65535, 65536, 65537, 10 * MIB]
BIG = 200 * MIB
HERE = os.path.dirname(os.path.abspath(__file__))
RELAYCLIENT = os.path.join(HERE, "relayclient.py")

CONF = """\
listen 0.0.0.0:{port}
listen [::]:{port}
gateway_id test-relay
portal_url http://10.99.0.1/portal
audit_log {{audit}}
control_socket {{tmp}}/control.sock
state_file {{tmp}}/state
header_timeout %d
idle_timeout %d
session_bytes %d
allow_ip 10.99.0.10/32
allow_ip fd99::10/128
# one client makes all the load here: the per-client limits (test_limits) off
client_connections 1000000
client_connect_rate 0
client_511_rate 0
{extra}
""" % (HEADER, IDLE, QUOTA)


def conf(port=3990, extra=""):
    """The daemon config for a port."""
    return CONF.format(port=port, extra=extra)


def release_binary():
    """The release wicketd for memory measurements (ASan keeps freed memory in quarantine)."""
    d = h.default_wicketd()
    cand = d.replace("/asan/", "/")
    return cand if "/asan/" in d and os.path.exists(cand) else d


class Fixture:
    """Topology with nginx and the Python origin, one wicketd; the default client is
    admitted by allow_ip, `sess` by a session (wicketctl), `out` not at all."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        for tool in ("nginx", "wrk"):
            if shutil.which(tool) is None:
                raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
        self.ctl_bin = os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl")
        self.topo = t = h.Topology().__enter__()
        origins.add_origin_addr(t, PY4, PY6)
        self.www = os.path.join(t.tmp, "www")
        files = {"s%d.bin" % n: n for n in SIZES}
        files["big.bin"] = BIG
        self.sha = origins.make_files(self.www, files)
        self.nginx = origins.origin_nginx(t, self.www, ["%s:80" % O4, "[%s]:80" % O6])
        self.py = origins.PyOrigin(t, [PY4, PY6]).start()
        self.sess = t.add_client("sess")
        self.out = t.add_client("out")
        self.asan = "/asan/" in h.default_wicketd()
        self.start()

    def start(self):
        """Start the shared daemon."""
        self.gate = self.topo.start_wicketd(conf())
        self.sock = os.path.join(self.gate.dir, "control.sock")
        end = time.monotonic() + 5
        while not os.path.exists(self.sock) and time.monotonic() < end:
            time.sleep(0.05)

    def restart(self):
        """Start a fresh daemon after a crash so later tests still run."""
        try:
            self.gate.stop(check=False)
        except Exception:
            pass
        self.start()

    def ctl(self, *args, sock=None):
        """wicketctl in the router namespace; stdout (exit 0 required)."""
        p = self.topo.router.run([self.ctl_bin, "-s", sock or self.sock] + [str(a) for a in args], check=False)
        assert p.returncode == 0, "wicketctl %s: exit %d %s %s" % (args, p.returncode, p.stdout, p.stderr)
        return p.stdout

    def stats(self, sock=None):
        """wicketctl stats --json, parsed."""
        return json.loads(self.ctl("stats", "--json", sock=sock))


def rc(ns, args, timeout=120):
    """Run relayclient.py in a namespace (or client); return its JSON lines."""
    if isinstance(ns, h.Client):
        ns = ns.ns
    p = ns.run([origins.PY, RELAYCLIENT] + [str(a) for a in args], check=False, timeout=timeout)
    out = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert p.returncode == 0 and out, "relayclient %s: exit %d\n%s%s" % (args, p.returncode, p.stdout, p.stderr)
    return out


def rc_popen(ns, args):
    """Start relayclient.py in a namespace; the Popen (text stdout)."""
    if isinstance(ns, h.Client):
        ns = ns.ns
    return ns.popen([origins.PY, RELAYCLIENT] + [str(a) for a in args], stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)


def host(a):
    """A URL host for an address literal."""
    return "[%s]" % a if ":" in a else a


def check_bodies(got, want):
    """Each answer is 200 with the expected (length, sha256)."""
    assert len(got) == len(want), "expected %d answers, got %d: %r" % (len(want), len(got), got)
    for r, (path, n, sha) in zip(got, want):
        assert r["status"] == 200 and r.get("length") == n and r.get("sha256") == sha, \
            "%s: expected 200 with %d bytes sha256 %s, got %r" % (path, n, sha, {
                k: v for k, v in r.items() if k != "headers"})


def audit_requests(f, pred, count=1, timeout=4.0):
    """Wait for `count` request events of the shared daemon matching pred."""
    end = time.monotonic() + timeout
    while True:
        got = [e for e in f.gate.audit() if e.get("event") == "request" and pred(e)]
        if len(got) >= count or time.monotonic() >= end:
            return got
        time.sleep(0.05)


class ReleaseGate:
    """A release wicketd on port 3991 with the REDIRECT pointed at it (RSS is measured
    without ASan's quarantine); the shared daemon gets the REDIRECT back afterwards."""

    def __init__(self, f, extra=""):
        """Remember the fixture and extra config."""
        self.f, self.extra = f, extra

    def __enter__(self):
        """Start the daemon and point the REDIRECT at it; return self."""
        t = self.f.topo
        self.gate = t.start_wicketd(conf(port=3991, extra=self.extra), binary=release_binary())
        t.set_redirect(3991)
        self.pid = self.gate.proc.pid
        comm = open("/proc/%d/comm" % self.pid).read().strip()
        assert comm.startswith("wicketd"), "pid %d is %r, not wicketd" % (self.pid, comm)
        rc(self.f.topo.client, ["get", O4, "/s10485760.bin"])  # warm the allocator
        self.base = origins.vmrss_kib(self.pid)
        return self

    def __exit__(self, *exc):
        """Give the REDIRECT back and stop this daemon."""
        self.f.topo.set_redirect(3990)
        self.gate.stop(check=True)
        return False

    def rss(self):
        """VmRSS now (KiB)."""
        return origins.vmrss_kib(self.pid)

    def sample(self, seconds, every=0.2):
        """VmRSS samples (KiB) for `seconds`."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(every)
            v = self.rss()
            if v is not None:
                out.append(v)
        return out


# ----------------------------------------------------------------------------
# Bodies: every size and framing, both ways
# ----------------------------------------------------------------------------

def test_download_content_length(f):
    """GET 0 B, 1 B, 64 KiB-1, 64 KiB, 64 KiB+1 and 10 MiB from nginx on one keep-alive
    connection, then 200 MiB: every body has its sha256 (short bodies copied, long spliced)."""
    paths = ["/s%d.bin" % n for n in SIZES]
    check_bodies(rc(f.topo.client, ["get", O4] + paths),
                 [(p, n, f.sha["s%d.bin" % n]) for p, n in zip(paths, SIZES)])
    check_bodies(rc(f.topo.client, ["get", O4, "/big.bin"]), [("/big.bin", BIG, f.sha["big.bin"])])


def test_download_chunked(f):
    """Chunked answers of every size (chunks of varying size, split inside the pieces) from
    the Python origin on one connection, and 200 MiB: decoded bodies intact."""
    sizes = SIZES + [BIG]
    paths = ["/gen?n=%d&mode=chunked" % n for n in sizes]
    check_bodies(rc(f.topo.client, ["get", PY4] + paths),
                 [(p, n, origins.gen_sha(n)) for p, n in zip(paths, sizes)])


def test_download_close_delimited(f):
    """Close-delimited answers (no length, then FIN) of every size and 200 MiB, one connection each."""
    for n in SIZES + [BIG]:
        p = "/gen?n=%d&mode=close" % n
        check_bodies(rc(f.topo.client, ["get", PY4, p]), [(p, n, origins.gen_sha(n))])


def test_upload_content_length_and_chunked(f):
    """POST bodies of every size and 200 MiB, by Content-Length and chunked: the origin
    decodes exactly what was sent (sha256)."""
    for n in SIZES[1:] + [BIG]:
        for chunked in (False, True):
            r = rc(f.topo.client, ["post", PY4, "/upload", n] + (["--chunked"] if chunked else []))[0]
            assert r["status"] == 200, "POST %d (%s): %r" % (n, "chunked" if chunked else "length", r)
    got = [e for e in f.py.events() if e["event"] == "request" and e["target"] == "/upload"]
    want = [(n, origins.gen_sha(n)) for n in SIZES[1:] + [BIG] for _ in (0, 1)]
    seen = [(e["body_len"], e["body_sha256"]) for e in got[-len(want):]]
    assert seen == want, "the origin received (length, sha256) %r, expected %r" % (seen, want)


def test_pipelined_mixed(f):
    """Seven pipelined GETs in one write, spliced and copied, lengths and chunked mixed
    (to the Python origin, over IPv4 and IPv6): answers intact and in order."""
    for addr in (PY4, PY6):
        sizes = [1, 10 * MIB, 65536, 0, 3 * MIB, 65537, 100]
        modes = ["cl", "cl", "chunked", "cl", "chunked", "cl", "chunked"]
        paths = ["/gen?n=%d&mode=%s" % (n, m) for n, m in zip(sizes, modes)]
        check_bodies(rc(f.topo.client, ["get", addr, "--pipeline"] + paths),
                     [(p, n, origins.gen_sha(n)) for p, n in zip(paths, sizes)])


def test_ipv6_bodies(f):
    """Over IPv6: 10 MiB and 64 KiB+1 by length from nginx, chunked, close-delimited, and uploads."""
    check_bodies(rc(f.topo.client, ["get", O6, "/s10485760.bin", "/s65537.bin"]),
                 [("10m", 10 * MIB, f.sha["s10485760.bin"]), ("64k+1", 65537, f.sha["s65537.bin"])])
    for mode in ("chunked", "close"):
        p = "/gen?n=%d&mode=%s" % (10 * MIB, mode)
        check_bodies(rc(f.topo.client, ["get", PY6, p]), [(p, 10 * MIB, origins.gen_sha(10 * MIB))])
    for extra in ([], ["--chunked"]):
        r = rc(f.topo.client, ["post", PY6, "/upload", 10 * MIB] + extra)[0]
        assert r["status"] == 200, r
        e = [e for e in f.py.events() if e["event"] == "request" and e["target"] == "/upload"][-1]
        assert (e["body_len"], e["body_sha256"]) == (10 * MIB, origins.gen_sha(10 * MIB)), e


def test_websocket_echo_50m(f):
    """50 MiB through a WebSocket in 1 MiB frames, echoed by the origin: every byte comes back."""
    r = rc(f.topo.client, ["ws", PY4, 50 * MIB])[0]
    assert r.get("sent") == 50 * MIB and r.get("received") == 50 * MIB and r.get("same"), r


def test_splice_and_copy_agree(f):
    """With splice_pipes 0 (every body copied) the same bodies arrive intact too."""
    with ReleaseGate(f, extra="splice_pipes 0"):
        paths = ["/s%d.bin" % n for n in SIZES] + ["/big.bin"]
        check_bodies(rc(f.topo.client, ["get", O4] + paths),
                     [(p, n, f.sha["s%d.bin" % n]) for p, n in zip(paths, SIZES)] +
                     [("/big.bin", BIG, f.sha["big.bin"])])
        r = rc(f.topo.client, ["post", PY4, "/upload", 10 * MIB])[0]
        assert r["status"] == 200, r
        r = rc(f.topo.client, ["ws", PY4, 8 * MIB])[0]
        assert r.get("same") and r.get("received") == 8 * MIB, r


# ----------------------------------------------------------------------------
# The defects of issue 8, each with its exact trigger
# ----------------------------------------------------------------------------

def test_endless_response_head_502(f):
    """An origin that sends `HTTP/1.1 200 OK\\r\\nX: ` and then endless bytes: the client
    gets 502 and a close, and wicketd's RSS stays bounded."""
    with ReleaseGate(f) as g:
        t0 = time.monotonic()
        r = rc(f.topo.client, ["get", PY4, "/endless"], timeout=30)[0]
        samples = g.sample(0.6)
        assert r["status"] == 502, "expected 502, got %r" % r
        assert time.monotonic() - t0 < 10, "the 502 took %.1f s" % (time.monotonic() - t0)
        growth = max(samples) - g.base
        assert growth < 4 * 1024, "RSS grew by %d KiB behind an endless head" % growth


CUT_CLIENT = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import origins
host = sys.argv[2]
ws = socket.create_connection((host, 80)); ws.settimeout(10)
ws.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += ws.recv(4096)
assert buf.startswith(b"HTTP/1.1 101"), buf
ws.sendall(origins.ws_frame(1, b"ping", mask=b"abcd"))
want = origins.ws_frame(1, b"ping")
rest = buf.split(b"\r\n\r\n", 1)[1]
while len(rest) < len(want):
    rest += ws.recv(4096)
dl = socket.create_connection((host, 80)); dl.settimeout(10)
dl.sendall(b"GET /pace?bytes=100000000&rate=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
got = dl.recv(65536)
assert got.startswith(b"HTTP/1.1 200"), got
print("ready", flush=True)
for name, s in (("ws", ws), ("dl", dl)):
    s.settimeout(3)
    try:
        while s.recv(65536):
            pass
        how = "fin"
    except ConnectionResetError:
        how = "rst"
    except socket.timeout:
        how = "timeout"
    print("%s %s %.3f" % (name, how, time.monotonic()), flush=True)
"""


def test_deny_cuts_websocket_and_download(f):
    """`wicketctl deny` closes the client's open WebSocket and its slow download within 1 s
    (the router opened those upstreams itself: the nft sets cannot cut them)."""
    c = f.sess
    f.ctl("allow", c.mac, 600)
    p = c.ns.popen([origins.PY, "-c", CUT_CLIENT, HERE, PY4],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line == "ready", "client did not get both relays going: %r %s" % (line, p.stderr.read())
        t_deny = time.monotonic()
        f.ctl("deny", c.mac)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
    ends = {}
    for ln in out.split("\n"):
        parts = ln.split()
        if len(parts) == 3:
            ends[parts[0]] = (parts[1], float(parts[2]) - t_deny)
    assert set(ends) == {"ws", "dl"}, "client output %r %r" % (out, err)
    for name, (how, dt) in ends.items():
        assert how in ("fin", "rst") and dt < 1.0, \
            "%s: closed by %s %.2f s after deny (must be < 1 s)" % (name, how, dt)
    ev = audit_requests(f, lambda e: e.get("path") == "/pace")
    assert ev and ev[-1].get("error") == "session ended", "audit of the cut download: %r" % ev[-1:]


QUOTA_CLIENT = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import origins
ws = socket.create_connection((sys.argv[2], 80)); ws.settimeout(5)
ws.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
st = b""
while b"\r\n\r\n" not in st:
    st += ws.recv(4096)
payload = b"q" * 65536
frame, want = origins.ws_frame(2, payload, mask=b"\0\0\0\0"), len(origins.ws_frame(2, payload))
sent = 0
t_over = None
try:
    while True:
        ws.sendall(frame)
        n = 0
        while n < want:
            b = ws.recv(want - n)
            if not b:
                raise ConnectionResetError
            n += len(b)
        sent += 2 * len(payload)  # both ways count
        if t_over is None and sent > int(sys.argv[3]):
            t_over = time.monotonic()
        time.sleep(0.005)
except (ConnectionResetError, BrokenPipeError, socket.timeout) as e:
    print("%s %d %.3f %.3f" % (type(e).__name__, sent, t_over or 0, time.monotonic()), flush=True)
"""


def test_quota_cuts_tunnel_as_it_flows(f):
    """A WebSocket's bytes count against session_bytes as they flow: once the quota is
    used up the tunnel is cut within about a second (the expiry tick, then the cut)."""
    c = f.sess
    f.ctl("allow", c.mac, 600)
    try:
        p = c.ns.run([origins.PY, "-c", QUOTA_CLIENT, HERE, PY4, QUOTA], check=False, timeout=60)
        parts = p.stdout.split()
        assert len(parts) == 4 and parts[0] != "timeout", "client: %r %r" % (p.stdout, p.stderr)
        sent, t_over, t_end = int(parts[1]), float(parts[2]), float(parts[3])
        assert t_over > 0 and t_end - t_over < 2.5, \
            "the tunnel went on %.2f s after the quota was used up (%d bytes relayed)" % (t_end - t_over, sent)
        ev = [e for e in f.gate.audit() if e.get("event") == "quota"]
        assert ev and ev[-1]["mac"] == c.mac, "no quota event for %s" % c.mac
    finally:
        f.topo.router.run([f.ctl_bin, "-s", f.sock, "deny", c.mac], check=False)


def test_slow_download_outlives_idle_timeout(f):
    """A download paced so that it lasts 2.5 times idle_timeout (the client sends nothing
    meanwhile) completes: "idle" means no progress in either direction."""
    n = int(100 * 1024 * IDLE * 2.5)  # bytes for 2.5 * IDLE s at 100 KiB/s
    t0 = time.monotonic()
    r = rc(f.topo.client, ["get", PY4, "/pace?bytes=%d&rate=%d" % (n, 100 * 1024)], timeout=60)[0]
    dt = time.monotonic() - t0
    assert r["status"] == 200 and r.get("length") == n, "paced download: %r after %.1f s" % (r, dt)
    assert dt > IDLE * 2, "the download took only %.1f s (the pacing is broken)" % dt


TUNNEL_IDLE = r"""
import socket, sys, time
host, half = sys.argv[1], sys.argv[2] == "half"
ws = socket.create_connection((host, 80)); ws.settimeout(20)
ws.sendall(b"GET /ws?hold=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
st = b""
while b"\r\n\r\n" not in st:
    st += ws.recv(4096)
t0 = time.monotonic()
if half:
    ws.shutdown(socket.SHUT_WR)
try:
    while ws.recv(65536):
        pass
    how = "closed"
except ConnectionResetError:
    how = "closed"
except socket.timeout:
    how = "timeout"
print("%s %.2f" % (how, time.monotonic() - t0), flush=True)
"""


def test_idle_and_half_closed_tunnels_time_out(f):
    """A WebSocket nobody uses, and one the client half-closed while the origin stays
    silent, are closed after about idle_timeout instead of living forever."""
    for mode in ("idle", "half"):
        p = f.topo.client.ns.run([origins.PY, "-c", TUNNEL_IDLE, PY4, mode], check=False, timeout=40)
        parts = p.stdout.split()
        assert len(parts) == 2 and parts[0] == "closed", "%s tunnel: %r %r" % (mode, p.stdout, p.stderr)
        assert IDLE - 0.5 <= float(parts[1]) <= IDLE + 2.5, \
            "%s tunnel closed after %s s, expected about idle_timeout (%d s)" % (mode, parts[1], IDLE)


EARLY = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import relayclient, origins
s = socket.create_connection((sys.argv[2], 80)); s.settimeout(10)
n = 1 << 20
s.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n)
st = relayclient.Stream(s)
first = relayclient.read_response(st)  # the origin answers before the body
body = b"".join(origins.gen_chunks(n))
for i in range(0, n, 65536):           # the body goes on after the answer
    s.sendall(body[i:i + 65536])
    time.sleep(0.01)
s.sendall(b"GET /after-early HTTP/1.1\r\nHost: x\r\n\r\n")
second = relayclient.read_response(st)
print(relayclient.json.dumps([first, second]))
"""


def test_early_answer_keeps_next_request(f):
    """The origin answers a POST before its 1 MiB body has arrived: the rest of the body
    is still relayed to it, and the next request on the connection reaches it intact."""
    p = f.topo.client.ns.run([origins.PY, "-c", EARLY, HERE, PY4], check=False, timeout=30)
    assert p.returncode == 0, "client: %s %s" % (p.stdout, p.stderr)
    first, second = json.loads(p.stdout)
    assert first["status"] == 200 and first["length"] == 6, "early answer: %r" % first
    assert second["status"] == 200 and second.get("length") == len("py-origin: GET /after-early\n"), \
        "next request on the connection: %r" % second
    ev = [e for e in f.py.events() if e["event"] in ("early_body", "request")]
    body = [e for e in ev if e["event"] == "early_body"][-1]
    assert body["complete"] and body["body_len"] == 1 << 20 and \
        body["body_sha256"] == origins.gen_sha(1 << 20), "origin got the body as %r" % body
    assert [e for e in ev if e.get("target") == "/after-early"], "the next request never reached the origin"


CUT_BODY = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80)); s.settimeout(5)
if sys.argv[2] == "length":
    s.sendall(b"POST /upload?cut=length HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
else:
    s.sendall(b"POST /upload?cut=chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3e8\r\n" + b"x" * 1000 + b"\r\n")
time.sleep(0.3)
s.shutdown(socket.SHUT_WR)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    how = "fin"
except ConnectionResetError:
    how = "rst"
except socket.timeout:
    how = "timeout"
print(repr((how, data)))
"""


def test_body_cut_short_closes_both(f):
    """A request body cut short by the client's FIN (Content-Length not reached, chunked
    without its last chunk) gets no answer as if it were whole: both sides close."""
    for mode in ("length", "chunked"):
        p = f.topo.client.ns.run([origins.PY, "-c", CUT_BODY, PY4, mode], check=False, timeout=20)
        how, data = eval(p.stdout.strip())  # repr of (str, bytes), written by the script above
        assert how in ("fin", "rst") and data == b"", \
            "%s body cut short: the client got %r (%s); it must get nothing" % (mode, data[:200], how)
        time.sleep(0.3)
        reqs = [e for e in f.py.events() if e["event"] == "request" and e["target"] == "/upload?cut=" + mode]
        assert reqs and not reqs[-1]["complete"], \
            "the origin saw the cut %s body as %r (its connection must be closed)" % (mode, reqs[-1:])
        ev = audit_requests(f, lambda e: e.get("path") == "/upload")
        assert ev and ev[-1].get("error") == "request body cut short", "audit: %r" % ev[-1:]


def test_slow_reader_100m_rss_bounded(f):
    """A client that stops reading a 200 MiB answer for 2 s with 100 MiB still to come:
    wicketd's RSS grows by less than 4 MiB, and the body then arrives intact."""
    with ReleaseGate(f) as g:
        p = f.topo.client.ns.popen([origins.PY, origins.ORIGINS, "slowread", "--host", O4, "--path",
                                    "/big.bin", "--pause-after", str(100 * MIB), "--pause", "2",
                                    "--rcvbuf", "16384"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([p.stdout], [], [], 30)
        assert r and b"paused" in p.stdout.readline(), "slow reader did not pause"
        samples = g.sample(1.7)
        out, err = p.communicate(timeout=60)
        res = json.loads(out.decode().strip().splitlines()[-1])
        assert res["length"] == BIG and res["sha256"] == f.sha["big.bin"], "slow reader got %r" % res
        growth = max(samples) - g.base
        assert growth < 4 * 1024, "RSS grew by %d KiB behind a stalled reader (samples %r)" % (growth, samples)


SLOW_UPLOAD = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import relayclient, origins
n = int(sys.argv[3])
s = socket.create_connection((sys.argv[2], 80)); s.settimeout(30)
s.sendall(b"POST /slowsink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n)
for b in origins.gen_chunks(n):
    s.sendall(b)
print(relayclient.json.dumps(relayclient.read_response(relayclient.Stream(s))))
"""


def test_slow_origin_100m_rss_bounded(f):
    """A 100 MiB upload to an origin that reads nothing for 2 s: RSS grows by less than
    4 MiB, and the origin then receives the body intact."""
    with ReleaseGate(f) as g:
        p = f.topo.client.ns.popen([origins.PY, "-c", SLOW_UPLOAD, HERE, PY4, 100 * MIB],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        samples = g.sample(origins.SLOWSINK_PAUSE - 0.6)
        out, err = p.communicate(timeout=60)
        assert out.strip(), "the upload got no answer: %s" % err[-2000:]
        r = json.loads(out)
        assert r["status"] == 200, "upload: %r %s" % (r, err)
        e = [e for e in f.py.events() if e["event"] == "request" and e["target"] == "/slowsink"][-1]
        assert (e["body_len"], e["body_sha256"]) == (100 * MIB, origins.gen_sha(100 * MIB)), e
        growth = max(samples) - g.base
        assert growth < 4 * 1024, "RSS grew by %d KiB in front of a stalled origin (samples %r)" % (
            growth, samples)


# ----------------------------------------------------------------------------
# Issue 12 (inside the engine) and issue 11
# ----------------------------------------------------------------------------

TRICKLE = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80)); s.settimeout(15)
s.sendall(b"POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % sys.argv[2].encode())
t0 = time.monotonic()
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
how = "timeout"
try:
    if sys.argv[3] == "trickle":
        while True:
            s.sendall(b"x")
            time.sleep(0.5)
    else:
        blk = b"x" * 65536
        while True:
            s.sendall(blk)
except (BrokenPipeError, ConnectionResetError):
    how = "closed"
except socket.timeout:
    how = "timeout"
print("%s %s %.2f" % (head.split(b"\r\n")[0].decode(), how, time.monotonic() - t0), flush=True)
"""


def test_slow_body_after_511_is_bounded(f):
    """issue 12: a client that got its 511 and then trickles the body (a byte every 0.5 s)
    is closed after header_timeout; one that floods an endless body is closed after a
    bounded number of bytes (1 MiB)."""
    p = f.out.ns.run([origins.PY, "-c", TRICKLE, O4, "1000000000", "trickle"], check=False, timeout=30)
    parts = p.stdout.split()
    assert p.stdout.startswith("HTTP/1.1 511") and parts[-2] == "closed", "trickle: %r %r" % (p.stdout, p.stderr)
    assert float(parts[-1]) <= HEADER + 3, "trickled body closed after %s s (header_timeout %d)" % (
        parts[-1], HEADER)
    p = f.out.ns.run([origins.PY, "-c", TRICKLE, O4, "1000000000", "flood"], check=False, timeout=30)
    parts = p.stdout.split()
    assert p.stdout.startswith("HTTP/1.1 511") and parts[-2] == "closed", "flood: %r %r" % (p.stdout, p.stderr)


FLOOD = r"""
import socket, sys, time
n, conns = int(sys.argv[2]), int(sys.argv[3])
req = b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n" * n
socks = []
for i in range(conns):
    s = socket.create_connection((sys.argv[1], 80))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    socks.append([s, 0])
end = time.monotonic() + 3
while time.monotonic() < end and any(off < len(req) for s, off in socks):
    for e in socks:
        if e[1] < len(req):
            try:
                e[1] += e[0].send(req[e[1]:e[1] + 65536])
            except BlockingIOError:
                pass
    time.sleep(0.01)
print("flooding", flush=True)
sys.stdin.readline()
for s, off in socks:
    s.close()
print("closed", flush=True)
"""


def test_pipelined_flood_bounded(f):
    """issue 12: 20 connections each sending 10,000 pipelined GETs without reading the
    511s: wicketd stops reading them (RSS grows by less than 256 KiB a connection), and
    gives the memory back once they close."""
    with ReleaseGate(f) as g:
        p = f.out.ns.popen([origins.PY, "-c", FLOOD, O4, "10000", "20"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "flooding", p.stderr.read()
        peak = max(g.sample(1.0))
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline().strip() == "closed"
        p.wait(timeout=10)
        time.sleep(1.5)  # the connections go, and the 1 s tick trims the heap
        after = g.rss()
        h.log("flood: base %d KiB, peak %d KiB, after %d KiB" % (g.base, peak, after))
        assert peak - g.base < 20 * 256, "RSS grew by %d KiB for 20 flooding connections" % (peak - g.base)
        assert after - g.base < 1024, "RSS stayed %d KiB above the baseline after the flood" % (after - g.base)


def test_pipelined_511s_all_answered(f):
    """300 pipelined GETs in one write (about 225 KiB of 511s, many times the 16 KiB of
    answers a connection may have waiting): every one is answered, in order."""
    reqs = b"".join(b"GET /pipe-%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(300))
    r = h.raw(f.out, O4, 80, reqs, timeout=10, expect=300)
    got = r.status_lines()
    assert len(got) == 300 and all("511" in g for g in got), "%d answers of 300: %r" % (len(got), got[-2:])
    ev = audit_requests(f, lambda e: str(e.get("path", "")).startswith("/pipe-"), count=300)
    paths = [e["path"] for e in ev][-300:]
    assert paths == ["/pipe-%d" % i for i in range(300)], "audit order: %r" % paths[:5]


def test_411_from_admitted_client_names_its_mac(f):
    """issue 11: a 411 to a known, admitted client is logged with its MAC (it was identified
    before the framing error was logged)."""
    c = f.sess
    f.ctl("allow", c.mac, 600)
    try:
        r = h.raw(c, O4, 80, b"POST /no-length-411 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=4)
        assert r.status_lines() and r.status_lines()[0].startswith("HTTP/1.1 411"), r.status_lines()
        ev = audit_requests(f, lambda e: e.get("path") == "/no-length-411")
        assert ev and ev[-1]["status"] == 411 and ev[-1]["mac"] == c.mac, "audit: %r" % ev[-1:]
    finally:
        f.topo.router.run([f.ctl_bin, "-s", f.sock, "deny", c.mac], check=False)


# ----------------------------------------------------------------------------
# The audit log
# ----------------------------------------------------------------------------

def test_audit_rotation_accounts_every_line(f):
    """200,000 requests while the audit log is moved and SIGHUP'd 10
    times: lines produced = lines written + lines dropped, the written lines are in the
    files, every line is valid JSON, and every request has its line."""
    total = 200000
    before = f.stats()
    p = f.out.ns.popen(["wrk", "-t2", "-c16", "-d120s", "http://%s/rot" % O4],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    moved = []
    try:
        # rotate at every tenth of the requests, counted by the daemon
        end = time.monotonic() + 110
        while len(moved) < 10 and time.monotonic() < end:
            time.sleep(0.05)
            done = f.stats()["gate"]["requests"] - before["gate"]["requests"]
            if done >= total * (len(moved) + 1) // 11:
                dst = "%s.%d" % (f.gate.audit_path, len(moved))
                os.rename(f.gate.audit_path, dst)
                moved.append(dst)
                os.kill(f.gate.proc.pid, signal.SIGHUP)
        while f.stats()["gate"]["requests"] - before["gate"]["requests"] < total and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    time.sleep(0.5)
    after = f.stats()
    a0, a1 = before["audit"], after["audit"]
    lines = a1["lines"] - a0["lines"]
    written = a1["written"] - a0["written"]
    dropped = a1["dropped"] - a0["dropped"]
    assert len(moved) == 10, "only %d rotations" % len(moved)
    assert lines == written + dropped, "audit: %d lines, %d written, %d dropped" % (lines, written, dropped)
    reqs = after["gate"]["requests"] - before["gate"]["requests"]
    n_req = n_bad = n_in_files = 0
    for path in moved + [f.gate.audit_path]:
        with open(path, "rb") as fh:
            data = fh.read()
        assert data == b"" or data.endswith(b"\n"), "%s ends with a torn line" % path
        for ln in data.splitlines():
            try:
                e = json.loads(ln)
            except ValueError:
                n_bad += 1
                continue
            n_in_files += 1
            if e.get("event") == "request" and e.get("path") == "/rot":
                n_req += 1
    assert n_bad == 0, "%d lines are not valid JSON" % n_bad
    assert n_in_files >= written, "%d lines in the files, %d counted as written" % (n_in_files, written)
    assert reqs >= total and n_req + dropped >= reqs, \
        "%d requests answered, %d request lines found, %d dropped (wrk: %s)" % (reqs, n_req, dropped, out[-300:])
    h.log("audit rotation: %d requests, %d lines, %d dropped" % (reqs, lines, dropped))


def test_audit_full_disk_drops_whole_lines(f):
    """The audit log on a full 256 KiB tmpfs: requests are still answered, lines that do
    not fit are dropped whole and counted (no torn line), and writing resumes by itself
    when space comes back."""
    d = os.path.join(f.topo.tmp, "auditfs")
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", d], check=True)
    try:
        gate = f.topo.start_wicketd(conf(port=3992).replace("{audit}", os.path.join(d, "audit.jsonl")))
        sock = os.path.join(gate.dir, "control.sock")
        f.topo.set_redirect(3992)
        try:
            # some lines first, then fill the disk: the file's last page has
            # room for a part of a line (the short write that must be cut back)
            got = rc(f.out, ["get", O4] + ["/before-full%d" % i for i in range(5)])
            assert all(r["status"] == 511 for r in got), got
            time.sleep(0.2)
            fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass
            os.close(fd)
            got = rc(f.out, ["get", O4] + ["/full%d" % i for i in range(200)])
            assert len(got) == 200 and all(r["status"] == 511 for r in got), \
                "requests on a full disk: %r" % [r["status"] for r in got]
            st = f.stats(sock=sock)["audit"]
            assert st["dropped"] > 0, "nothing dropped on a full disk: %r" % st
            data = open(os.path.join(d, "audit.jsonl"), "rb").read()
            assert data.endswith(b"\n"), "the audit log ends with a torn line: %r" % data[-200:]
            for ln in data.splitlines():
                json.loads(ln)
            os.unlink(os.path.join(d, "filler"))
            rc(f.out, ["get", O4, "/after-full"])
            time.sleep(0.3)
            data = open(os.path.join(d, "audit.jsonl"), "rb").read()
            assert b'"/after-full"' in data, "writing did not resume once space came back"
            st2 = f.stats(sock=sock)["audit"]
            assert st2["lines"] == st2["written"] + st2["dropped"], st2
            assert "audit_log" in gate.stderr() and "dropped" in gate.stderr(), "no warning about the drops"
        finally:
            f.topo.set_redirect(3990)
            gate.stop(check=True)
    finally:
        subprocess.run(["umount", "-l", d], check=False)


# ----------------------------------------------------------------------------
# Graceful stop (issue 11 item 9)
# ----------------------------------------------------------------------------

def test_graceful_stop(f):
    """SIGTERM: an idle keep-alive connection is closed at once, new connections are
    refused, a download in flight (1.5 s) finishes, then wicketd exits 0."""
    gate = f.topo.start_wicketd(conf(port=3993))
    f.topo.set_redirect(3993)
    try:
        ns_idle = f.topo.client.ns.popen([origins.PY, "-c", (
            "import socket,sys,time\n"
            "s=socket.create_connection(('%s',80));s.settimeout(8)\n"
            "s.sendall(b'GET /s1.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
            "time.sleep(0.3);s.recv(65536);print('ready',flush=True)\n"
            "t=time.monotonic()\n"
            "try:\n  r=s.recv(65536)\nexcept Exception as e:\n  r=b''\n"
            "print('closed %%.2f %%d' %% (time.monotonic()-t, len(r)),flush=True)\n") % O4],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert ns_idle.stdout.readline().strip() == "ready", ns_idle.stderr.read()
        dl = rc_popen(f.topo.client, ["get", PY4, "/pace?bytes=%d&rate=%d" % (150000, 100000)])
        time.sleep(0.3)
        t0 = time.monotonic()
        gate.proc.send_signal(signal.SIGTERM)
        line = ns_idle.stdout.readline().split()
        assert line and line[0] == "closed" and float(line[1]) < 0.5, "idle connection: %r" % line
        time.sleep(0.2)
        r = f.topo.client.ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                                  "http://%s/s1.bin" % O4], check=False, timeout=5)
        assert r.stdout.strip() != "200", "a new connection was served after SIGTERM"
        out, err = dl.communicate(timeout=10)
        res = json.loads(out.splitlines()[0])
        assert res["status"] == 200 and res.get("length") == 150000, "download in flight: %r" % res
        rcode = gate.proc.wait(timeout=6)
        assert rcode == 0, "wicketd exited %s" % rcode
        assert time.monotonic() - t0 < 4.5, "the stop took %.1f s" % (time.monotonic() - t0)
    finally:
        f.topo.set_redirect(3990)
        if gate.proc.poll() is None:
            gate.stop(check=False)


TESTS = [
    test_download_content_length,
    test_download_chunked,
    test_download_close_delimited,
    test_upload_content_length_and_chunked,
    test_pipelined_mixed,
    test_ipv6_bodies,
    test_websocket_echo_50m,
    test_splice_and_copy_agree,
    test_endless_response_head_502,
    test_deny_cuts_websocket_and_download,
    test_quota_cuts_tunnel_as_it_flows,
    test_slow_download_outlives_idle_timeout,
    test_idle_and_half_closed_tunnels_time_out,
    test_early_answer_keeps_next_request,
    test_body_cut_short_closes_both,
    test_slow_reader_100m_rss_bounded,
    test_slow_origin_100m_rss_bounded,
    test_slow_body_after_511_is_bounded,
    test_pipelined_flood_bounded,
    test_pipelined_511s_all_answered,
    test_411_from_admitted_client_names_its_mac,
    test_audit_rotation_accounts_every_line,
    test_audit_full_disk_drops_whole_lines,
    test_graceful_stop,
]


def setup():
    """The suite fixture."""
    return Fixture()


def after_each(f, test):
    """The daemon must survive every test."""
    h.check_daemon(f.gate, test, restart=f.restart)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_relay", TESTS, setup, teardown=h.teardown_fixture, after_each=after_each))
