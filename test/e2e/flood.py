#!/usr/bin/env python3
# flood: the load generators of the limits tests, run inside a client
# namespace -- many connections from one client (held, trickling a head or
# a body, or pipelining requests it never reads) and a paced measuring
# client that records each request's latency. Python 3 stdlib only.
"""Load generators for wicket's limits tests (test_limits.py).

    flood.py hold HOST PORT --conns N [--seconds S] [--reconnect] [--send DATA]
             [--trickle SECS --trickle-data DATA] [--no-read]
    flood.py latency HOST PORT --count N --rate R [--path P]

Both print one JSON object on stdout when done. DATA is a Python-escaped
byte string ("GET / HTTP/1.1\\r\\n"); `--repeat K` repeats --send K times.
"""

import argparse
import errno
import json
import resource
import selectors
import socket
import struct
import sys
import time


def raise_nofile():
    """Let this process open as many sockets as its hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def unescape(s):
    """Turn a Python-escaped string into bytes."""
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def family_of(host):
    """AF_INET6 for an address with a colon, else AF_INET."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Conn:
    """One flooding connection: what is left to send and what came back."""

    __slots__ = ("sock", "out", "connected", "got", "counted", "next_trickle", "t0")

    def __init__(self, sock, out):
        """Hold a connecting socket and the bytes it will send."""
        self.sock, self.out = sock, out
        self.connected = False
        self.got = b""
        self.counted = False
        self.next_trickle = 0.0
        self.t0 = time.monotonic()


def hold(a):
    """Keep up to --conns connections open to HOST:PORT for --seconds (or until
    every connection has ended, without --reconnect); report what happened."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    send = unescape(a.send) * a.repeat if a.send else b""
    trickle = unescape(a.trickle_data) if a.trickle_data else b""
    fam = family_of(a.host)
    st = {"attempts": 0, "connected": 0, "refused": 0, "reset": 0, "fin": 0,
          "max_open": 0, "open_at_end": 0, "statuses": {}, "bytes_sent": 0,
          "bytes_received": 0, "errors": {}}
    conns = {}
    end = time.monotonic() + a.seconds

    def count_err(e):
        """Count an error by name."""
        name = errno.errorcode.get(e, str(e))
        st["errors"][name] = st["errors"].get(name, 0) + 1

    def open_one():
        """Start one non-blocking connect."""
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        # our own closes reset too: no TIME_WAIT pile-up in the client
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if a.source:
            s.bind((a.source[st["attempts"] % len(a.source)], 0))
        st["attempts"] += 1
        e = s.connect_ex((a.host, a.port))
        if e not in (0, errno.EINPROGRESS):
            count_err(e)
            s.close()
            return False
        c = Conn(s, send)
        conns[s.fileno()] = c
        sel.register(s, selectors.EVENT_WRITE, c)
        return True

    def close(c, why):
        """Forget a connection that ended."""
        st[why] += 1
        sel.unregister(c.sock)
        del conns[c.sock.fileno()]
        c.sock.close()

    def want(c):
        """The events a connection waits for."""
        ev = 0 if a.no_read else selectors.EVENT_READ
        if not c.connected or c.out:
            ev |= selectors.EVENT_WRITE
        return ev or selectors.EVENT_READ

    for _ in range(a.conns):
        if not open_one():
            break
    while True:
        now = time.monotonic()
        if now >= end or (not conns and not a.reconnect):
            break
        if a.reconnect:
            while len(conns) < a.conns and open_one():
                pass
        st["max_open"] = max(st["max_open"], sum(1 for c in conns.values() if c.connected))
        for key, ev in sel.select(timeout=0.05):
            c = key.data
            if not c.connected:
                e = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    close(c, "refused")
                    continue
                c.connected = True
                st["connected"] += 1
                c.next_trickle = now + a.trickle
            try:
                if ev & selectors.EVENT_READ and not a.no_read:
                    d = c.sock.recv(65536)
                    if not d:
                        close(c, "fin")
                        continue
                    st["bytes_received"] += len(d)
                    if len(c.got) < 64:
                        c.got += d[:64]
                    if not c.counted and len(c.got) >= 12:
                        # the first answer's status, counted once per connection
                        c.counted = True
                        code = c.got[9:12].decode("latin-1") if c.got.startswith(b"HTTP/1.") else "?"
                        st["statuses"][code] = st["statuses"].get(code, 0) + 1
                if c.out:
                    n = c.sock.send(c.out)
                    st["bytes_sent"] += n
                    c.out = c.out[n:]
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                close(c, "reset")
                continue
            except OSError as e:
                count_err(e.errno)
                close(c, "reset")
                continue
            sel.modify(c.sock, want(c), c)
        if a.trickle:
            for c in list(conns.values()):
                if c.connected and not c.out and now >= c.next_trickle:
                    c.out = trickle
                    c.next_trickle = now + a.trickle
                    sel.modify(c.sock, want(c), c)
    st["open_at_end"] = sum(1 for c in conns.values() if c.connected)
    if a.linger_open:
        # keep what is open for a while more (the test samples the gate)
        time.sleep(a.linger_open)
    for c in list(conns.values()):
        c.sock.close()
    return st


def complete(data):
    """True once data holds a whole response with a Content-Length body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v)
    return False


def one_request(host, port, path, timeout):
    """One GET on a fresh connection: (seconds, seconds to connect, status or None,
    error or None)."""
    t0 = time.monotonic()
    tc = None
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        tc = time.monotonic() - t0
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % (path.encode(), host.encode()))
        data = b""
        while not complete(data):
            d = s.recv(65536)
            if not d:
                break
            data += d
        dt = time.monotonic() - t0
        if not data.startswith(b"HTTP/1."):
            return dt, tc, None, "no answer"
        return dt, tc, int(data[9:12]), None
    except OSError as e:
        return time.monotonic() - t0, tc, None, type(e).__name__
    finally:
        s.close()


def latency(a):
    """--count requests paced at --rate per second; report each latency."""
    out = {"ms": [], "connect_ms": [], "statuses": {}, "errors": {}}
    t_next = time.monotonic()
    for i in range(a.count):
        now = time.monotonic()
        if now < t_next:
            time.sleep(t_next - now)
        t_next += 1.0 / a.rate
        dt, tc, status, err = one_request(a.host, a.port, "%s-%d" % (a.path, i), a.timeout)
        out["ms"].append(round(dt * 1000, 3))
        out["connect_ms"].append(round(tc * 1000, 3) if tc is not None else None)
        if err:
            out["errors"][err] = out["errors"].get(err, 0) + 1
        else:
            out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
    return out


def main(argv):
    """Parse the mode and its options, run it, print the JSON result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    ph = sub.add_parser("hold")
    ph.add_argument("host")
    ph.add_argument("port", type=int)
    ph.add_argument("--conns", type=int, required=True)
    ph.add_argument("--seconds", type=float, default=10.0)
    ph.add_argument("--reconnect", action="store_true")
    ph.add_argument("--send", default="")
    ph.add_argument("--repeat", type=int, default=1)
    ph.add_argument("--trickle", type=float, default=0.0)
    ph.add_argument("--trickle-data", default="")
    ph.add_argument("--no-read", action="store_true")
    ph.add_argument("--source", action="append", default=[])
    ph.add_argument("--linger-open", type=float, default=0.0)
    pl = sub.add_parser("latency")
    pl.add_argument("host")
    pl.add_argument("port", type=int)
    pl.add_argument("--count", type=int, required=True)
    pl.add_argument("--rate", type=float, required=True)
    pl.add_argument("--path", default="/lat")
    pl.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args(argv)
    res = hold(a) if a.mode == "hold" else latency(a)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
