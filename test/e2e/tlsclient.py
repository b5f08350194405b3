#!/usr/bin/env python3
# tlsclient: one TLS connection from inside a test namespace that sends
# several HTTP requests on it, with pauses, and reports each answer and the
# certificate the server presented (to prove a reload kept it open).
"""Usage: tlsclient.py JSON-SPEC  (stdin) -> JSON result on stdout.

spec: {"ip": "10.99.0.1", "port": 8443, "host": "portal.test", "ca": "ca.pem",
       "requests": ["GET /wicket/capport HTTP/1.1\\r\\n..."], "pause": 1.5,
       "tls_max": null | "1.1"}
"""

import hashlib
import json
import socket
import ssl
import sys
import time


def read_response(s, buf):
    """Read one Content-Length framed response from s; return (raw, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return buf, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    if head.startswith(b"HTTP/1.1 1"):  # interim: the final answer follows
        return read_response(s, rest)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def main():
    """Run the spec read from stdin and print the result."""
    spec = json.load(sys.stdin)
    ctx = ssl.create_default_context(cafile=spec["ca"])
    if spec.get("tls_max") == "1.1":
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    out = {"answers": [], "error": None}
    try:
        raw = socket.create_connection((spec["ip"], spec["port"]), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname=spec["host"])
        out["version"] = s.version()
        out["cert"] = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
        buf = b""
        for i, req in enumerate(spec["requests"]):
            if i > 0:
                time.sleep(spec.get("pause", 0))
            s.sendall(req.encode("latin-1"))
            ans, buf = read_response(s, buf)
            out["answers"].append(ans.decode("utf-8", "replace"))
        s.close()
    except (OSError, ssl.SSLError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
