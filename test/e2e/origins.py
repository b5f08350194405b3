#!/usr/bin/env python3
# origins: test origins for the forwarding tests and the benchmark -- nginx from
# Debian started in the origin namespace with its own config, a Python origin for
# what nginx cannot play (upload checksums, WebSocket echo, an upstream that never
# answers, one that resets mid-body), a slow-reading client, and topology helpers.
"""Test origins for wicket's forwarding end-to-end tests (Python 3 stdlib only).

In-harness API (import next to harness.py):
    files = make_files(dir, {"1k.bin": 1024, ...})   # random files, returns {name: sha256}
    add_origin_addr(topo, "10.98.0.5", "fd98::5")    # another address on the origin's eth0
    blackhole(topo, ["10.98.0.9", "fd98::9"])        # drop SYNs to these addresses (nft, origin ns)
    ng = Nginx(topo, root, listen=[...]).start()     # nginx -c <tmp conf>, daemon off
    po = PyOrigin(topo, ["10.98.0.5", "fd98::5"]).start()
    vmrss_kib(pid)

Run inside a namespace (the harness does that):
    python3 origins.py serve --addr A [--addr B] --port 80 --log FILE
    python3 origins.py slowread --host H --port P --path /x --pause-after N --pause S
    python3 origins.py abort --host H --port P --path /x --after N   (read N bytes, then RST)

The Python origin (`serve`, keep-alive, answers 100 Continue) by path:
    /upload (or any POST/PUT)  200 with JSON {length, sha256, chunks, te, cl} of the decoded body
    /slowsink                  the same, after waiting SLOWSINK_PAUSE s before reading the body
    /ws                        RFC 6455 handshake, then echoes text/binary frames, answers ping/close
                               (/ws?hold=1: after the client's FIN, stays silent for 60 s)
    /hang                      reads the request and never answers
    /reset                     head with Content-Length 1000000, 100000 bytes, then RST (SO_LINGER 0)
    /status/NNN                that status with a short body
    /pace?bytes=N&rate=R       N bytes (Content-Length) sent at about R bytes per second, in 1 KiB writes
    /gen?n=N&mode=M            N bytes of gen_body(N): M is cl (Content-Length), chunked (chunks of
                               varying size) or close (close-delimited, then FIN)
    /endless                   a response head that never ends: "HTTP/1.1 200 OK\r\nX: " then bytes
                               until the peer goes away
    /early (POST)              answers 200 at once, before reading the body, then reads it (logged
                               as "early_body") and serves the next request on the connection
    anything else              200 "py-origin: METHOD TARGET"
"""

import argparse
import base64
import hashlib
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGINS = os.path.abspath(__file__)
PY = sys.executable or "python3"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RESET_LENGTH = 1000000      # Content-Length announced by /reset
RESET_SENT = 100000         # body bytes /reset sends before the RST
SLOWSINK_PAUSE = 2.0        # seconds /slowsink waits before reading a request body: well
                            # under test_relay's idle_timeout (3 s), which a stall this
                            # long must not reach (at 3.0 the two raced: CI failed once)


# ----------------------------------------------------------------------------
# Helpers used by the tests and the benchmark (host side)
# ----------------------------------------------------------------------------

def make_files(root, sizes, seed=b"wicket"):
    """Write pseudo-random files of the given sizes under `root`; return {name: sha256 hex}."""
    os.makedirs(root, exist_ok=True)
    out = {}
    for name, size in sizes.items():
        path = os.path.join(root, name)
        h = hashlib.sha256()
        block = hashlib.sha256(seed + name.encode()).digest() * 2048  # 64 KiB, cheap to make
        with open(path, "wb") as f:
            left, i = size, 0
            while left > 0:
                # vary every block so that no two 64 KiB stretches are equal
                chunk = (struct.pack("!Q", i) + block)[:min(left, len(block))]
                f.write(chunk)
                h.update(chunk)
                left -= len(chunk)
                i += 1
        os.chmod(path, 0o644)
        out[name] = h.hexdigest()
    return out


_GEN = [hashlib.sha256(b"gen%d" % i).digest() * 2048 for i in range(61)]  # 61 blocks of 64 KiB


def gen_chunks(n):
    """The body /gen sends for n bytes, as successive pieces of at most 64 KiB."""
    i = 0
    while n > 0:
        b = _GEN[i % 61]
        if n < len(b):
            b = b[:n]
        yield b
        n -= len(b)
        i += 1


def gen_sha(n):
    """sha256 hex of the n-byte /gen body."""
    h = hashlib.sha256()
    for b in gen_chunks(n):
        h.update(b)
    return h.hexdigest()


def sha256_file(path):
    """Return the sha256 hex digest and size of a file."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def add_origin_addr(topo, ip4=None, ip6=None):
    """Add an IPv4 (/24) and/or IPv6 (/64, nodad) address on the origin namespace's eth0."""
    if ip4:
        topo.origin.ip("addr", "add", ip4 + "/24", "dev", "eth0")
    if ip6:
        topo.origin.ip("addr", "add", ip6 + "/64", "dev", "eth0", "nodad")


def blackhole(topo, addrs, port=80):
    """Make TCP `port` on `addrs` (already on the origin) drop every packet: SYNs go unanswered."""
    v4 = [a for a in addrs if ":" not in a]
    v6 = [a for a in addrs if ":" in a]
    rules = ["table inet wicket_blackhole {", "  chain in {",
             "    type filter hook input priority -10; policy accept;"]
    if v4:
        rules.append("    ip daddr { %s } tcp dport %d drop" % (", ".join(v4), port))
    if v6:
        rules.append("    ip6 daddr { %s } tcp dport %d drop" % (", ".join(v6), port))
    rules += ["  }", "}", ""]
    topo.origin.run(["nft", "-f", "-"], input="\n".join(rules))


def vmrss_kib(pid):
    """Return VmRSS of process `pid` in KiB (None when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def _wait_port(ns, host, port, proc, timeout=5.0):
    """Wait until something accepts on host:port inside `ns`; fail early if `proc` exits."""
    end = time.monotonic() + timeout
    pat = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    while time.monotonic() < end:
        p = ns.run(["ss", "-Hlnt"], check=False)
        if any(ln.split()[3] == pat for ln in p.stdout.splitlines() if len(ln.split()) > 3):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited (%s) before listening on %s" % (proc.returncode, pat))
        time.sleep(0.05)
    raise RuntimeError("nothing listening on %s in %s after %.1fs" % (pat, ns.name, timeout))


class Nginx:
    """nginx from Debian in a namespace, with its own config, pid file and logs in a temp dir."""

    def __init__(self, ns, workdir, http_block, workers=1, connections=4096):
        """Write nginx.conf into `workdir`; `http_block` is the text inside `http { }`."""
        self.ns, self.dir = ns, workdir
        os.makedirs(workdir, exist_ok=True)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(workdir, d), exist_ok=True)
        self.conf = os.path.join(workdir, "nginx.conf")
        self.errlog = os.path.join(workdir, "error.log")
        text = (
            "daemon off;\n"
            "master_process on;\n"
            "user root;\n"
            "worker_processes %d;\n"
            "pid %s/nginx.pid;\n"
            "error_log %s warn;\n"
            "worker_rlimit_nofile %d;\n"
            "events { worker_connections %d; }\n"
            "http {\n"
            "  client_body_temp_path %s/body;\n"
            "  proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fastcgi;\n"
            "  uwsgi_temp_path %s/uwsgi;\n"
            "  scgi_temp_path %s/scgi;\n"
            "  keepalive_requests 1000000;\n"
            "  keepalive_timeout 60s;\n"
            "%s\n"
            "}\n" % (workers, workdir, self.errlog,
                     min(2 * connections + 64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]),
                     connections, workdir, workdir,
                     workdir, workdir, workdir, http_block))
        with open(self.conf, "w") as f:
            f.write(text)
        self.proc = None
        self.listens = []

    def start(self, wait_for=()):
        """Check the config, start nginx in the foreground and wait for every (host, port) in `wait_for`."""
        p = self.ns.run(["nginx", "-t", "-q", "-c", self.conf, "-e", self.errlog], check=False)
        if p.returncode != 0:
            raise RuntimeError("nginx -t failed for %s:\n%s%s" % (self.conf, p.stdout, p.stderr))
        self.proc = self.ns.popen(["nginx", "-c", self.conf, "-e", self.errlog],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for host, port in wait_for:
            _wait_port(self.ns, host, port, self.proc)
        return self

    def stop(self):
        """Stop nginx (SIGQUIT would wait for keep-alive clients: SIGTERM is a fast stop)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)


def origin_nginx(topo, root, listens, extra=""):
    """nginx in the origin namespace serving the files under `root` on every "host:port" in `listens`."""
    lines = []
    for hp in listens:
        lines.append("    listen %s;" % hp)
    block = (
        "  access_log off;\n"
        "  sendfile on;\n"
        "  tcp_nopush on;\n"
        "  open_file_cache max=100 inactive=60s;\n"
        "  default_type application/octet-stream;\n"
        "  server {\n%s\n"
        "    server_name _;\n"
        "    root %s;\n"
        "    location / { }\n"
        "    location = /status/404 { return 404 'no such thing\\n'; }\n"
        "%s"
        "  }\n" % ("\n".join(lines), root, extra))
    ng = Nginx(topo.origin, os.path.join(topo.tmp, "nginx-origin"), block)
    waits = []
    for hp in listens:
        host, _, port = hp.rpartition(":")
        waits.append((host.strip("[]"), int(port)))
    return ng.start(wait_for=waits)


class PyOrigin:
    """The Python origin (`origins.py serve`) in the origin namespace, on the given addresses."""

    def __init__(self, topo, addrs, port=80):
        """Remember where it listens; its JSON log goes to the topology's temp dir."""
        self.topo, self.addrs, self.port = topo, list(addrs), port
        self.log_path = os.path.join(topo.tmp, "pyorigin-%d.jsonl" % port)
        self.proc = None

    def start(self):
        """Start the server and wait until every address listens."""
        open(self.log_path, "w").close()
        args = [PY, ORIGINS, "serve", "--port", self.port, "--log", self.log_path]
        for a in self.addrs:
            args += ["--addr", a]
        self.proc = self.topo.origin.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for a in self.addrs:
            _wait_port(self.topo.origin, a, self.port, self.proc)
        return self

    def events(self):
        """Every recorded event so far."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out

    def stop(self):
        """Stop the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=3)


# ----------------------------------------------------------------------------
# The Python origin (runs inside the origin namespace)
# ----------------------------------------------------------------------------

class _Log:
    """Appends JSON lines, one write and flush each."""

    def __init__(self, path):
        """Open the log for appending."""
        self.f = open(path, "a", buffering=1) if path else None
        self.lock = threading.Lock()

    def write(self, obj):
        """Write one event."""
        if self.f is None:
            return
        obj["ts"] = time.time()
        with self.lock:
            self.f.write(json.dumps(obj) + "\n")
            self.f.flush()


class _Reader:
    """Buffered reads from a socket with line and exact-length helpers."""

    def __init__(self, sock):
        """Wrap `sock`."""
        self.s = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self):
        """Read more bytes; return False at EOF."""
        b = self.s.recv(262144)
        if not b:
            self.eof = True
            return False
        self.buf.extend(b)
        return True

    def line(self, limit=65536):
        """Return one line including CRLF, or None at EOF."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                out = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return out
            if len(self.buf) > limit or not self._fill():
                return None

    def exact(self, n, sink):
        """Feed exactly `n` bytes to `sink(bytes)`; return False on early EOF."""
        while n > 0:
            if not self.buf and not self._fill():
                return False
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take
        return True


def _read_head(r):
    """Read a request head; return (request line, [(name, value)]) or None at EOF."""
    first = None
    while first is None:
        ln = r.line()
        if ln is None:
            return None
        if ln.strip():
            first = ln.rstrip(b"\r\n").decode("latin-1")
    headers = []
    while True:
        ln = r.line()
        if ln is None:
            return None
        if ln in (b"\r\n", b"\n"):
            return first, headers
        k, _, v = ln.rstrip(b"\r\n").decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))


def _hget(headers, name):
    """First value of a header (case-insensitive), or ''."""
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return ""


def _send_response(sock, status, body, ctype="text/plain", extra=b"", head_only=False):
    """Send a complete response with Content-Length."""
    reason = {200: b"OK", 404: b"Not Found", 400: b"Bad Request"}.get(status, b"Status")
    msg = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Origin: wicket-py\r\n%s\r\n"
           % (status, reason, ctype.encode(), len(body), extra))
    sock.sendall(msg if head_only else msg + body)


def _ws_recv_frame(r):
    """Read one WebSocket frame; return (opcode, payload) or None at EOF."""
    hdr = bytearray()
    if not r.exact(2, hdr.extend):
        return None
    op = hdr[0] & 0x0F
    masked = hdr[1] & 0x80
    n = hdr[1] & 0x7F
    ext = bytearray()
    if n == 126:
        if not r.exact(2, ext.extend):
            return None
        n = struct.unpack("!H", ext)[0]
    elif n == 127:
        if not r.exact(8, ext.extend):
            return None
        n = struct.unpack("!Q", ext)[0]
    key = bytearray()
    if masked and not r.exact(4, key.extend):
        return None
    data = bytearray()
    if not r.exact(n, data.extend):
        return None
    if masked:
        data = ws_mask(bytes(data), bytes(key))
    return op, bytes(data)


def ws_mask(data, key):
    """XOR data with the repeated 4-byte key (RFC 6455 §5.3), at C speed."""
    n = len(data)
    if n == 0:
        return data
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def ws_frame(opcode, payload, mask=None):
    """Build one final WebSocket frame (masked with the 4-byte `mask` when given)."""
    b0 = 0x80 | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        return head + mask + ws_mask(payload, mask)
    return head + payload


def ws_accept(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _websocket(sock, r, headers, log, peer, hold=False):
    """Answer the upgrade with 101 and echo text/binary frames until close."""
    key = _hget(headers, "Sec-WebSocket-Key")
    if "websocket" not in _hget(headers, "Upgrade").lower() or not key:
        _send_response(sock, 400, b"not a websocket upgrade\n")
        return False
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: %s\r\n\r\n" % ws_accept(key).encode())
    log.write({"event": "ws_open", "peer": peer})
    while True:
        f = _ws_recv_frame(r)
        if f is None:
            log.write({"event": "ws_eof", "peer": peer})
            if hold:  # a silent origin: keep the connection, say nothing
                time.sleep(60)
            return False
        op, data = f
        log.write({"event": "ws_frame", "peer": peer, "opcode": op, "len": len(data)})
        if op in (1, 2):
            sock.sendall(ws_frame(op, data))
        elif op == 9:
            sock.sendall(ws_frame(10, data))
        elif op == 8:
            sock.sendall(ws_frame(8, data))
            return False


def _handle(sock, peer, log):
    """Serve requests on one connection (keep-alive) until EOF or a path that ends it."""
    r = _Reader(sock)
    log.write({"event": "connect", "peer": peer})
    try:
        while True:
            got = _read_head(r)
            if got is None:
                break
            line, headers = got
            parts = line.split(" ")
            method, target = parts[0], parts[1] if len(parts) > 1 else ""
            path = target.split("?", 1)[0]
            te = _hget(headers, "Transfer-Encoding")
            cl = _hget(headers, "Content-Length")
            if _hget(headers, "Expect").lower() == "100-continue" and (te or cl):
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if path == "/slowsink":
                time.sleep(SLOWSINK_PAUSE)  # a busy origin: the body waits in the kernel and the gate
            if path == "/early":
                # answer before the body is read (an upstream that answers early)
                _send_response(sock, 200, b"early\n")
                eh = hashlib.sha256()
                got = [0]

                def esink(b):
                    eh.update(b)
                    got[0] += len(b)
                ok = r.exact(int(cl or "0"), esink)
                log.write({"event": "early_body", "peer": peer, "body_len": got[0],
                           "body_sha256": eh.hexdigest(), "complete": ok})
                if not ok:
                    break
                continue
            # the body, checksummed as decoded
            h = hashlib.sha256()
            nbody = 0
            chunks = 0

            def sink(b):
                nonlocal nbody
                h.update(b)
                nbody += len(b)
            ok = True
            if te.lower().endswith("chunked"):
                while True:
                    sl = r.line()
                    if sl is None:
                        ok = False
                        break
                    size = int(sl.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while True:
                            t = r.line()
                            if t is None or t in (b"\r\n", b"\n"):
                                break
                        break
                    chunks += 1
                    if not r.exact(size, sink) or r.line() is None:
                        ok = False
                        break
            elif cl:
                ok = r.exact(int(cl), sink)
            rec = {"event": "request", "peer": peer, "line": line, "method": method, "target": target,
                   "headers": headers, "body_len": nbody, "body_sha256": h.hexdigest(),
                   "chunks": chunks, "complete": ok}
            log.write(rec)
            if not ok:
                break
            close = _hget(headers, "Connection").lower() == "close" or line.endswith("HTTP/1.0")
            extra = b"Connection: close\r\n" if close else b""
            if path == "/ws":
                if not _websocket(sock, r, headers, log, peer, hold="hold=1" in target):
                    break
                continue
            if path == "/hang":
                # accept the request, then say nothing until the peer goes away
                while r._fill():
                    pass
                break
            if path == "/reset":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % RESET_LENGTH)
                sock.sendall(b"r" * RESET_SENT)
                time.sleep(0.3)  # let the gate relay what was sent before the RST
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                log.write({"event": "reset", "peer": peer})
                break
            if path == "/gen":
                q = dict(kv.split("=", 1) for kv in target.partition("?")[2].split("&") if "=" in kv)
                n, mode = int(q.get("n", "0")), q.get("mode", "cl")
                if mode == "cl":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (n, extra))
                    if method != "HEAD":
                        for b in gen_chunks(n):
                            sock.sendall(b)
                elif mode == "chunked":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n%s\r\n" % extra)
                    k = 0
                    for b in gen_chunks(n):
                        # chunks of varying size, split inside the pieces too
                        for part in (b[:1 + k % 5000], b[1 + k % 5000:]):
                            if part:
                                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                        k += 1
                    sock.sendall(b"0\r\n\r\n")
                else:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    for b in gen_chunks(n):
                        sock.sendall(b)
                    break
            elif path == "/endless":
                sock.sendall(b"HTTP/1.1 200 OK\r\nX: ")
                junk = b"a" * 65536
                try:
                    for _ in range(16384):  # 1 GiB at most
                        sock.sendall(junk)
                except OSError:
                    pass
                break
            elif path == "/pace":
                q = dict(kv.split("=", 1) for kv in target.partition("?")[2].split("&") if "=" in kv)
                n, rate = int(q.get("bytes", "1048576")), max(1, int(q.get("rate", "65536")))
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n%s\r\n" % (n, extra))
                t0, sent = time.monotonic(), 0
                while sent < n:
                    k = min(1024, n - sent)
                    sock.sendall(b"p" * k)
                    sent += k
                    delay = t0 + sent / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                log.write({"event": "paced", "peer": peer, "bytes": sent})
            elif path.startswith("/status/"):
                code = int(path.split("/")[2])
                _send_response(sock, code, b"status %d\n" % code, extra=extra, head_only=(method == "HEAD"))
            elif path == "/upload" or method in ("POST", "PUT"):
                body = json.dumps({"length": nbody, "sha256": h.hexdigest(), "chunks": chunks,
                                   "te": te, "cl": cl}).encode() + b"\n"
                _send_response(sock, 200, body, ctype="application/json", extra=extra)
            else:
                body = ("py-origin: %s %s\n" % (method, target)).encode()
                _send_response(sock, 200, body, extra=extra, head_only=(method == "HEAD"))
            if close:
                break
    except OSError as e:
        log.write({"event": "error", "peer": peer, "error": str(e)})
    finally:
        log.write({"event": "close", "peer": peer})
        try:
            sock.close()
        except OSError:
            pass


def serve(addrs, port, log_path):
    """Listen on every address and serve each connection in a thread."""
    log = _Log(log_path)
    socks = []
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a, port))
        s.listen(128)
        socks.append(s)

    def accept_loop(s):
        """Accept forever on `s`."""
        while True:
            c, peer = s.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_handle, args=(c, "%s:%s" % peer[:2], log), daemon=True).start()

    for s in socks[1:]:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    print("ready", flush=True)
    accept_loop(socks[0])


# ----------------------------------------------------------------------------
# Slow-reading client (runs inside the client namespace)
# ----------------------------------------------------------------------------

def slowread(host, port, path, pause_after, pause, rcvbuf):
    """GET `path`, read `pause_after` body bytes, print 'paused', stop reading for `pause` s, read the rest.

    Prints one JSON line at the end: status line, body length, sha256, eof.
    """
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect((host, port))
    hosthdr = "[%s]" % host if ":" in host else host
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, hosthdr)).encode())
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            break
        buf.extend(b)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    h = hashlib.sha256(rest)
    n = len(rest)
    paused = False
    t0 = time.monotonic()
    while True:
        if not paused and n >= pause_after:
            paused = True
            print(json.dumps({"paused": n}), flush=True)
            time.sleep(pause)
        b = s.recv(16384)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(json.dumps({"status": status, "length": n, "sha256": h.hexdigest(),
                      "elapsed": time.monotonic() - t0}), flush=True)


def abort(host, port, path, after):
    """GET `path`, read `after` bytes, then vanish with a RST (SO_LINGER 0); print what was read."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((host, port))
    hosthdr = "[%s]" % host if ":" in host else host
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, hosthdr)).encode())
    n = 0
    while n < after:
        b = s.recv(65536)
        if not b:
            break
        n += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print(json.dumps({"read": n}), flush=True)


def main(argv):
    """Dispatch `serve`, `slowread` and `abort`."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("serve")
    a.add_argument("--addr", action="append", required=True)
    a.add_argument("--port", type=int, default=80)
    a.add_argument("--log", default="")
    b = sub.add_parser("slowread")
    b.add_argument("--host", required=True)
    b.add_argument("--port", type=int, default=80)
    b.add_argument("--path", required=True)
    b.add_argument("--pause-after", type=int, default=1 << 20)
    b.add_argument("--pause", type=float, default=3.0)
    b.add_argument("--rcvbuf", type=int, default=0)
    c = sub.add_parser("abort")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, default=80)
    c.add_argument("--path", required=True)
    c.add_argument("--after", type=int, default=65536)
    o = ap.parse_args(argv)
    if o.cmd == "serve":
        serve(o.addr, o.port, o.log)
    elif o.cmd == "abort":
        abort(o.host, o.port, o.path, o.after)
    else:
        slowread(o.host, o.port, o.path, o.pause_after, o.pause, o.rcvbuf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
