#!/usr/bin/env python3
# rawhttp: the socket-level helpers the e2e harness runs inside a network
# namespace (raw HTTP client, recording origin server, original-destination echo
# server) and the HTTP/1.1 response parser the tests share. Python 3 stdlib only.
"""Socket helpers for wicket's namespace end-to-end tests.

Run as `ip netns exec NS python3 rawhttp.py MODE ...`:
  client       read a JSON spec on stdin, send the bytes, print a JSON result
  origin       a tiny recording HTTP/1.1 origin server
  origdst      a listener that answers with the connection's SO_ORIGINAL_DST
"""

import argparse
import base64
import json
import os
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

SO_ORIGINAL_DST = 80        # linux/netfilter_ipv4.h
IP6T_SO_ORIGINAL_DST = 80   # linux/netfilter_ipv6/ip6_tables.h


# ----------------------------------------------------------------------------
# Response parsing (shared with harness.py)
# ----------------------------------------------------------------------------

class Headers(list):
    """A list of (name, value) pairs with case-insensitive look-ups."""

    def get(self, name, default=None):
        """Return the first value of header `name`, or `default`."""
        for k, v in self:
            if k.lower() == name.lower():
                return v
        return default

    def get_all(self, name):
        """Return every value of header `name`, in order."""
        return [v for k, v in self if k.lower() == name.lower()]

    def has(self, name):
        """Tell whether header `name` is present at all."""
        return any(k.lower() == name.lower() for k, _ in self)


class Response:
    """One parsed HTTP/1.x response: status, status line, headers, body."""

    def __init__(self, status_line, headers, body, complete=True):
        """Hold the parts of one response."""
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self.status = None
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = headers
        self.body = body
        self.complete = complete

    def __iter__(self):
        """Unpack as (status, headers, body)."""
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        """Show the status line and body size."""
        return "<Response %r %d body bytes%s>" % (
            self.status_line, len(self.body), "" if self.complete else " (incomplete)")


def parse_one_response(data, request_method="GET", eof=True):
    """Parse one response at the start of `data`; return (Response, rest) or (None, data) if incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, data
    head = data[:end].decode("latin-1")
    rest = data[end + 4:]
    lines = head.split("\r\n")
    status_line = lines[0]
    headers = Headers()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip(" \t")))
    resp = Response(status_line, headers, b"")
    st = resp.status or 0
    if 100 <= st < 200 or st in (204, 304) or request_method == "HEAD":
        return resp, rest
    te = headers.get("Transfer-Encoding")
    if te is not None and te.lower().split(",")[-1].strip() == "chunked":
        body = b""
        pos = 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                return None, data
            size = int(rest[pos:nl].split(b";")[0].strip() or b"0", 16)
            pos = nl + 2
            if size == 0:
                # skip trailers up to the empty line
                while True:
                    nl = rest.find(b"\r\n", pos)
                    if nl < 0:
                        return None, data
                    line = rest[pos:nl]
                    pos = nl + 2
                    if line == b"":
                        break
                resp.body = body
                return resp, rest[pos:]
            if len(rest) < pos + size + 2:
                return None, data
            body += rest[pos:pos + size]
            pos += size + 2
    cl = headers.get("Content-Length")
    if cl is not None:
        n = int(cl)
        if len(rest) < n:
            return None, data
        resp.body = rest[:n]
        return resp, rest[n:]
    # close-delimited body
    if not eof:
        return None, data
    resp.body = rest
    return resp, b""


def parse_responses(data, eof=True, methods=None):
    """Parse every response in `data`; a trailing partial one is returned with complete=False."""
    out = []
    methods = list(methods or [])
    while data:
        m = methods.pop(0) if methods else "GET"
        resp, rest = parse_one_response(data, m, eof=eof)
        if resp is None:
            end = data.find(b"\r\n\r\n")
            head = data[:end if end >= 0 else len(data)].decode("latin-1")
            lines = head.split("\r\n")
            hdrs = Headers()
            for line in lines[1:]:
                name, _, value = line.partition(":")
                hdrs.append((name, value.strip(" \t")))
            out.append(Response(lines[0], hdrs, data[end + 4:] if end >= 0 else b"", complete=False))
            break
        out.append(resp)
        data = rest
    return out


def count_complete(data):
    """Count the complete responses at the front of `data` (for early stop in the client)."""
    n = 0
    while data:
        resp, rest = parse_one_response(data, eof=False)
        if resp is None:
            break
        n += 1
        data = rest
    return n


# ----------------------------------------------------------------------------
# Raw client
# ----------------------------------------------------------------------------

def raw_client(spec):
    """Send spec['pieces'] to spec['host']:spec['port'] as told and read the answer; return a result dict."""
    host, port = spec["host"], int(spec["port"])
    pieces = [base64.b64decode(p) for p in spec["pieces"]]
    delay = float(spec.get("delay", 0))
    timeout = float(spec.get("timeout", 5))
    half_close = bool(spec.get("half_close", False))
    expect = spec.get("expect")            # stop after this many complete responses
    linger = float(spec.get("linger", 0))  # after `expect` responses, keep reading this long
    connect_timeout = float(spec.get("connect_timeout", 3))
    res = {"data": "", "eof": None, "send_error": None, "sent": 0,
           "elapsed": None, "t_first": None, "t_eof": None, "t_expect": None,
           "error": None}
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(connect_timeout)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
    except OSError as e:
        res["error"] = "connect: %s" % e
        res["elapsed"] = time.monotonic() - t0
        return res
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    deadline = t0 + timeout
    linger_deadline = None

    def pump(until):
        """Read what is available until `until` (monotonic); return False once the peer closed."""
        nonlocal linger_deadline
        while True:
            now = time.monotonic()
            end = until if linger_deadline is None else min(until, linger_deadline)
            if now >= end:
                return True
            r, _, _ = select.select([s], [], [], end - now)
            if not r:
                return True
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                res["eof"] = "rst"
                res["t_eof"] = time.monotonic() - t0
                return False
            if not chunk:
                res["eof"] = "fin"
                res["t_eof"] = time.monotonic() - t0
                return False
            if res["t_first"] is None:
                res["t_first"] = time.monotonic() - t0
            buf.extend(chunk)
            if expect is not None and res["t_expect"] is None and count_complete(bytes(buf)) >= int(expect):
                res["t_expect"] = time.monotonic() - t0
                linger_deadline = time.monotonic() + linger
            if linger_deadline is not None and time.monotonic() >= linger_deadline:
                return True

    open_ = True
    for i, p in enumerate(pieces):
        if i and delay:
            open_ = pump(time.monotonic() + delay)
            if not open_ and res["eof"] == "rst":
                break
        try:
            s.setblocking(True)
            s.sendall(p)
            res["sent"] += len(p)
        except OSError as e:
            res["send_error"] = str(e)
            break
        finally:
            s.setblocking(False)
        if linger_deadline is not None and time.monotonic() >= linger_deadline:
            break
    if half_close and res["send_error"] is None and res["eof"] != "rst":
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            res["send_error"] = "shutdown: %s" % e
    if res["eof"] is None:
        pump(deadline)
    res["elapsed"] = time.monotonic() - t0
    res["data"] = base64.b64encode(bytes(buf)).decode()
    s.close()
    return res


# ----------------------------------------------------------------------------
# Recording origin server
# ----------------------------------------------------------------------------

class _Recorder:
    """Appends JSON lines to the origin's log file, one write and flush each."""

    def __init__(self, path):
        """Open the log file for appending."""
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, obj):
        """Write one event as a JSON line."""
        obj["ts"] = time.time()
        with self.lock:
            self.f.write(json.dumps(obj) + "\n")
            self.f.flush()


def _read_request(rfile):
    """Read one request (head and body) from `rfile`; return (head lines, headers, body, raw) or None at EOF."""
    raw = bytearray()
    lines = []
    while True:
        line = rfile.readline(65537)
        if not line:
            return None
        raw.extend(line)
        if line in (b"\r\n", b"\n"):
            if not lines:
                continue  # tolerate a stray empty line between requests
            break
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))
    headers = Headers()
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers.append((k, v.strip(" \t")))
    body = bytearray()
    te = headers.get("Transfer-Encoding")
    if te and te.lower().endswith("chunked"):
        while True:
            sl = rfile.readline(65537)
            raw.extend(sl)
            if not sl:
                break
            size = int(sl.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    t = rfile.readline(65537)
                    raw.extend(t)
                    if not t or t in (b"\r\n", b"\n"):
                        break
                break
            chunk = rfile.read(size)
            raw.extend(chunk)
            body.extend(chunk)
            raw.extend(rfile.readline(3))
    elif headers.get("Content-Length"):
        n = int(headers.get("Content-Length"))
        chunk = rfile.read(n)
        raw.extend(chunk)
        body.extend(chunk)
    return lines, headers, bytes(body), bytes(raw)


def run_origin(port, log_path, addrs=("::",)):
    """Serve tiny HTTP/1.1 answers on `port`, recording every connection and request in `log_path`."""
    rec = _Recorder(log_path)

    class Handler(socketserver.StreamRequestHandler):
        """Answers each request with 200 and a body naming what was asked."""

        def handle(self):
            """Record the connection, then answer requests until the client closes."""
            peer = "%s:%s" % self.client_address[:2]
            local = "%s:%s" % self.request.getsockname()[:2]
            rec.write({"event": "connect", "peer": peer, "local": local})
            allraw = bytearray()
            nreq = 0
            try:
                while True:
                    got = _read_request(self.rfile)
                    if got is None:
                        break
                    lines, headers, body, raw = got
                    allraw.extend(raw)
                    nreq += 1
                    parts = lines[0].split(" ")
                    method = parts[0]
                    target = parts[1] if len(parts) > 1 else ""
                    rec.write({"event": "request", "peer": peer, "line": lines[0],
                               "method": method, "target": target,
                               "headers": [list(h) for h in headers],
                               "body": base64.b64encode(body).decode()})
                    payload = ("origin: %s %s\n" % (method, target)).encode()
                    close = (headers.get("Connection", "").lower() == "close"
                             or lines[0].endswith("HTTP/1.0"))
                    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            b"X-Origin: wicket-e2e\r\n"
                            b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
                            + (b"Connection: close\r\n" if close else b"") + b"\r\n")
                    if method != "HEAD":
                        resp += payload
                    self.wfile.write(resp)
                    self.wfile.flush()
                    if close:
                        break
            except (OSError, ValueError) as e:
                rec.write({"event": "error", "peer": peer, "error": str(e)})
            rec.write({"event": "close", "peer": peer, "requests": nreq,
                       "raw": base64.b64encode(bytes(allraw)).decode()})

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        """A dual-stack threading TCP server."""
        address_family = socket.AF_INET6
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self):
            """Accept IPv4 too (v4-mapped) before binding."""
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    srv = Server((addrs[0], port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: (srv.server_close(), os._exit(0)))
    print("ready", flush=True)
    srv.serve_forever()


# ----------------------------------------------------------------------------
# Original-destination echo server (harness self-test, no wicketd needed)
# ----------------------------------------------------------------------------

def original_dst(conn):
    """Return "addr:port" (IPv6 in brackets) of the connection's pre-NAT destination."""
    if conn.family == socket.AF_INET6:
        try:
            raw = conn.getsockopt(socket.IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST, 28)
            port = struct.unpack("!H", raw[2:4])[0]
            addr = socket.inet_ntop(socket.AF_INET6, raw[8:24])
            if addr.startswith("::ffff:"):
                return "%s:%d" % (addr[7:], port)
            return "[%s]:%d" % (addr, port)
        except OSError:
            pass  # a v4-mapped connection: ask the IPv4 table
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack("!H", raw[2:4])[0]
    return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)


def run_origdst(port):
    """Listen on [::]:port (dual stack) and answer each connection with its original destination."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    while True:
        c, peer = s.accept()
        try:
            c.settimeout(2)
            try:
                c.recv(4096)
            except OSError:
                pass
            body = ("origdst=%s peer=%s\n" % (original_dst(c), peer[0])).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        except OSError:
            pass
        finally:
            c.close()


def main(argv):
    """Dispatch on the mode named by the first argument."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    sub.add_parser("client", help="JSON spec on stdin, JSON result on stdout")
    o = sub.add_parser("origin", help="recording origin server")
    o.add_argument("--port", type=int, default=80)
    o.add_argument("--log", required=True)
    d = sub.add_parser("origdst", help="answer with SO_ORIGINAL_DST")
    d.add_argument("--port", type=int, default=3990)
    a = ap.parse_args(argv)
    if a.mode == "client":
        spec = json.load(sys.stdin)
        json.dump(raw_client(spec), sys.stdout)
        return 0
    if a.mode == "origin":
        run_origin(a.port, a.log)
        return 0
    if a.mode == "origdst":
        run_origdst(a.port)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
