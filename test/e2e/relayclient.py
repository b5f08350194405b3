#!/usr/bin/env python3
# relayclient: the client side of test_relay (runs inside the client namespace):
# streaming GETs (pipelined or not), uploads and a WebSocket echo, each body
# checked by sha256 as it streams, so that 200 MiB never sits in memory.
"""Usage (inside a namespace; prints one JSON object per answer on stdout):

    python3 relayclient.py get HOST PATH [PATH ...] [--pipeline] [--head]
    python3 relayclient.py post HOST PATH SIZE [--chunked]
    python3 relayclient.py ws HOST BYTES [--frame N]

Bodies are origins.gen_chunks(n) (uploads) and are hashed as decoded (chunked
answers are de-chunked here, strictly).
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import origins  # noqa: E402


class Stream:
    """Buffered reads from a socket."""

    def __init__(self, s):
        """Wrap socket `s`."""
        self.s, self.buf, self.eof = s, bytearray(), None

    def fill(self):
        """Read more; False at EOF (self.eof says how)."""
        try:
            b = self.s.recv(1 << 20)
        except ConnectionResetError:
            self.eof = "rst"
            return False
        except socket.timeout:
            self.eof = "timeout"
            return False
        if not b:
            self.eof = "fin"
            return False
        self.buf.extend(b)
        return True

    def until(self, sep):
        """Bytes up to and including sep, or None at EOF."""
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if not self.fill():
                return None

    def feed(self, n, sink):
        """Pass exactly n bytes to sink (None: until EOF); returns the count passed."""
        got = 0
        while n is None or got < n:
            if not self.buf and not self.fill():
                break
            take = len(self.buf) if n is None else min(n - got, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            got += take
        return got


def read_response(st, head_request=False):
    """One response: a dict with status, headers, decoded body length and sha256."""
    head = st.until(b"\r\n\r\n")
    if head is None:
        return {"status": 0, "eof": st.eof, "partial": len(st.buf)}
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    h = hashlib.sha256()
    n = 0
    if head_request or status in (204, 304) or 100 <= status < 200:
        pass
    elif "transfer-encoding" in hdrs:
        while True:
            sl = st.until(b"\r\n")
            if sl is None:
                return {"status": status, "error": "cut in chunked body", "length": n, "eof": st.eof}
            size = int(sl.split(b";")[0], 16)
            if size == 0:
                while st.until(b"\r\n") not in (b"\r\n", None):
                    pass
                break
            got = st.feed(size, h.update)
            n += got
            if got < size or st.until(b"\r\n") != b"\r\n":
                return {"status": status, "error": "bad chunk", "length": n, "eof": st.eof}
    elif "content-length" in hdrs:
        want = int(hdrs["content-length"])
        n = st.feed(want, h.update)
        if n < want:
            return {"status": status, "error": "cut short", "length": n, "eof": st.eof}
    else:
        n = st.feed(None, h.update)
    return {"status": status, "length": n, "sha256": h.hexdigest(), "headers": hdrs}


def connect(host, timeout=30):
    """A TCP connection to host:80 through the gate."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, 80))
    return s


def hosthdr(host):
    """The Host field value for an address literal."""
    return "[%s]" % host if ":" in host else host


def cmd_get(o):
    """GET every path on one connection (pipelined: all in one write)."""
    s = connect(o.host)
    st = Stream(s)
    method = "HEAD" if o.head else "GET"
    reqs = [("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, p, hosthdr(o.host))).encode() for p in o.paths]
    if o.pipeline:
        s.sendall(b"".join(reqs))
    for i, p in enumerate(o.paths):
        if not o.pipeline:
            s.sendall(reqs[i])
        r = read_response(st, o.head)
        r["path"] = p
        print(json.dumps(r), flush=True)
        if r["status"] == 0:
            break


def cmd_post(o):
    """POST a gen body of o.size bytes (Content-Length or chunked); print the answer."""
    s = connect(o.host)
    st = Stream(s)
    if o.chunked:
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (
            o.path, hosthdr(o.host))).encode())
        for b in origins.gen_chunks(o.size):
            s.sendall(b"%x\r\n" % len(b) + b + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    else:
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (
            o.path, hosthdr(o.host), o.size)).encode())
        for b in origins.gen_chunks(o.size):
            s.sendall(b)
    r = read_response(st)
    body = bytearray()
    print(json.dumps(r), flush=True)
    del body


def cmd_ws(o):
    """Open a WebSocket to the Python origin, send o.bytes in frames, check the echo."""
    s = connect(o.host)
    st = Stream(s)
    s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % hosthdr(o.host)).encode())
    head = st.until(b"\r\n\r\n")
    if head is None or not head.startswith(b"HTTP/1.1 101"):
        print(json.dumps({"error": "no 101", "head": repr(head)}), flush=True)
        return
    sent, got = hashlib.sha256(), hashlib.sha256()
    nsent = nrecv = 0
    t0 = time.monotonic()
    pieces = list(origins.gen_chunks(o.frame))
    payload = b"".join(pieces)
    frame = origins.ws_frame(2, payload, mask=b"\x11\x22\x33\x44")
    want = origins.ws_frame(2, payload)
    # one frame out, one frame back, so that neither side's buffers fill
    while nsent < o.bytes:
        s.sendall(frame)
        sent.update(payload)
        nsent += len(payload)
        echo = bytearray()
        if st.feed(len(want), echo.extend) < len(want):
            break
        got.update(bytes(echo[len(want) - len(payload):]))
        nrecv += len(payload)
    print(json.dumps({"sent": nsent, "received": nrecv, "same": sent.hexdigest() == got.hexdigest(),
                      "seconds": time.monotonic() - t0}), flush=True)


def main(argv):
    """Parse the command line and run one command."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get")
    g.add_argument("host")
    g.add_argument("paths", nargs="+")
    g.add_argument("--pipeline", action="store_true")
    g.add_argument("--head", action="store_true")
    p = sub.add_parser("post")
    p.add_argument("host")
    p.add_argument("path")
    p.add_argument("size", type=int)
    p.add_argument("--chunked", action="store_true")
    w = sub.add_parser("ws")
    w.add_argument("host")
    w.add_argument("bytes", type=int)
    w.add_argument("--frame", type=int, default=1 << 20)
    o = ap.parse_args(argv)
    {"get": cmd_get, "post": cmd_post, "ws": cmd_ws}[o.cmd](o)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
