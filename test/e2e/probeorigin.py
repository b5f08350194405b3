#!/usr/bin/env python3
# probeorigin: an origin that answers the OS connectivity probes the way the
# real services do (Google's 204, Apple's "Success" page, Microsoft's NCSI
# texts, Mozilla's canonical page, GNOME's and Ubuntu's checks), recording
# every request's raw bytes, for test_probes.py. Python 3 stdlib only.
"""Usage (inside the origin namespace): probeorigin.py --addr A --port 80 --log FILE"""

import argparse
import base64
import json
import socket
import sys
import threading

APPLE_SUCCESS = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"

# (host, path) -> the real service's answer, byte for byte apart from Date.
ANSWERS = {
    ("connectivitycheck.gstatic.com", "/generate_204"): b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    ("www.google.com", "/gen_204"): b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    ("clients3.google.com", "/generate_204"): b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    ("www.gstatic.com", "/generate_204"): b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    ("captive.apple.com", "/hotspot-detect.html"):
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 68\r\n\r\n" + APPLE_SUCCESS,
    ("www.apple.com", "/library/test/success.html"):
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 68\r\n\r\n" + APPLE_SUCCESS,
    ("www.appleiphonecell.com", "/hotspot-detect.html"):
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 68\r\n\r\n" + APPLE_SUCCESS,
    ("www.msftconnecttest.com", "/connecttest.txt"):
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 22\r\nConnection: close\r\n\r\n"
        b"Microsoft Connect Test",
    ("www.msftncsi.com", "/ncsi.txt"):
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\n"
        b"Microsoft NCSI",
    ("detectportal.firefox.com", "/canonical.html"):
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 90\r\nCache-Control: no-cache\r\n\r\n"
        b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    ("detectportal.firefox.com", "/success.txt"):
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nCache-Control: no-cache\r\n\r\n"
        b"success\n",
    ("nmcheck.gnome.org", "/check_network_status.txt"):
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 25\r\nX-NetworkManager-Status: online\r\n"
        b"Connection: close\r\n\r\nNetworkManager is online\n",
    ("connectivity-check.ubuntu.com", "/"):
        b"HTTP/1.1 204 No Content\r\nX-NetworkManager-Status: online\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
}


def handle(sock, log, lock):
    """Answer requests on one connection until it closes or asks to close."""
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    return
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            raw = head + b"\r\n\r\n"
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            fields = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                fields[k.strip().lower()] = v.strip()
            host = fields.get("host", "").lower().rstrip(".")
            path = target.split("?", 1)[0]
            ans = ANSWERS.get((host, path), b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            with lock:
                log.write(json.dumps({"host": host, "path": path,
                                      "raw": base64.b64encode(raw).decode()}) + "\n")
                log.flush()
            sock.sendall(ans)
            close = (version == "HTTP/1.0" and fields.get("connection", "").lower() != "keep-alive") or \
                fields.get("connection", "").lower() == "close" or b"Connection: close" in ans or \
                ans.startswith(b"HTTP/1.0")
            if close:
                return
    except (OSError, ValueError):
        return
    finally:
        sock.close()


def main(argv):
    """Listen and serve forever (the test kills the process)."""
    a = argparse.ArgumentParser()
    a.add_argument("--addr", required=True)
    a.add_argument("--port", type=int, default=80)
    a.add_argument("--log", required=True)
    o = a.parse_args(argv)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((o.addr, o.port))
    s.listen(64)
    log = open(o.log, "a")
    lock = threading.Lock()
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, log, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
