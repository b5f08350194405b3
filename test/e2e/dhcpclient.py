#!/usr/bin/env python3
# dhcpclient: a minimal DHCP client for the provisioning test, run inside a
# client namespace: a real DHCPv4 DISCOVER/OFFER/REQUEST/ACK exchange asking
# for option 114, or a DHCPv6 Information-Request asking for option 103
# (RFC 8910), printing what the server sent as JSON. Python 3 stdlib only.
"""Usage: dhcpclient.py v4 IFACE MAC | v6 IFACE   -> JSON on stdout."""

import json
import os
import select
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"


def v4_options(data):
    """Parse the options of a BOOTP reply into {code: bytes}."""
    opts, i = {}, 240
    if data[236:240] != MAGIC:
        return opts
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        n = data[i + 1]
        opts[code] = data[i + 2:i + 2 + n]
        i += 2 + n
    return opts


def v4_packet(mac, xid, mtype, extra=b""):
    """A BOOTREQUEST with the broadcast flag, message type and a parameter request list with 114."""
    hw = bytes.fromhex(mac.replace(":", ""))
    p = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                    b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, hw + b"\0" * 10, b"", b"")
    opts = bytes([53, 1, mtype]) + bytes([55, 4, 1, 3, 6, 114]) + extra + b"\xff"
    return p + MAGIC + opts


def v4_wait(s, xid, mtype, deadline):
    """Wait for a reply of message type `mtype` to transaction `xid`."""
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        data, _ = s.recvfrom(4096)
        if len(data) < 240 or data[0] != 2 or struct.unpack("!I", data[4:8])[0] != xid:
            continue
        opts = v4_options(data)
        if opts.get(53) == bytes([mtype]):
            return data, opts
    return None, None


def v4(iface, mac):
    """DISCOVER -> OFFER -> REQUEST -> ACK; report the offered address and option 114 of each."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", 68))
    xid = int.from_bytes(os.urandom(4), "big")
    out = {"offer": None, "ack": None}
    s.sendto(v4_packet(mac, xid, 1), ("255.255.255.255", 67))
    data, opts = v4_wait(s, xid, 2, time.monotonic() + 5)
    if data is None:
        return out
    yiaddr, server = data[16:20], opts.get(54, b"")
    out["offer"] = {"yiaddr": socket.inet_ntoa(yiaddr),
                    "114": opts[114].decode("latin-1") if 114 in opts else None}
    extra = bytes([50, 4]) + yiaddr + (bytes([54, 4]) + server if server else b"")
    s.sendto(v4_packet(mac, xid, 3, extra), ("255.255.255.255", 67))
    data, opts = v4_wait(s, xid, 5, time.monotonic() + 5)
    if data is not None:
        out["ack"] = {"yiaddr": socket.inet_ntoa(data[16:20]),
                      "114": opts[114].decode("latin-1") if 114 in opts else None}
    return out


def v6(iface):
    """Information-Request with ORO 103 to ff02::1:2; report option 103 of the Reply."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("::", 546))
    idx = socket.if_nametoindex(iface)
    xid = os.urandom(3)
    duid = struct.pack("!HH", 3, 1) + os.urandom(6)  # DUID-LL-like, random
    msg = (bytes([11]) + xid
           + struct.pack("!HH", 1, len(duid)) + duid           # Client Identifier
           + struct.pack("!HHH", 6, 2, 103)                    # ORO: captive portal
           + struct.pack("!HHH", 8, 2, 0))                     # Elapsed Time
    out = {"reply": None}
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and out["reply"] is None:
        try:
            s.sendto(msg, ("ff02::1:2", 547, 0, idx))
        except OSError:  # link-local address still tentative: retry
            time.sleep(0.2)
            continue
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            continue
        data, _ = s.recvfrom(4096)
        if len(data) < 4 or data[0] != 7 or data[1:4] != xid:
            continue
        i, opts = 4, {}
        while i + 4 <= len(data):
            code, n = struct.unpack("!HH", data[i:i + 4])
            opts[code] = data[i + 4:i + 4 + n]
            i += 4 + n
        out["reply"] = {"103": opts[103].decode("latin-1") if 103 in opts else None}
    return out


def main(argv):
    """Dispatch v4 / v6."""
    if len(argv) == 3 and argv[0] == "v4":
        print(json.dumps(v4(argv[1], argv[2])))
    elif len(argv) == 2 and argv[0] == "v6":
        print(json.dumps(v6(argv[1])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
