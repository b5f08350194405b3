#!/usr/bin/env python3
# arpflood: a raw-socket (AF_PACKET) ARP sender for the identity tests, run in
# a client namespace: a flood of ARP requests from invented unicast MACs (each
# frame's Ethernet source equal to its sender MAC, so wicket's mismatch check
# passes), announcements of given MAC/IP pairs, and a repeated forged claim.
"""ARP frames from a client namespace (Python 3 stdlib only).

    python3 arpflood.py flood IFACE --count N --rate R [--seed S]
        N ARP requests, each from a new random unicast MAC claiming a random
        10.100.0.0/16 address (asking for 10.99.0.200-254, where nobody is),
        R frames a second; prints "sent N in T s" at the end.
    python3 arpflood.py announce IFACE MAC IP [MAC IP ...]
        one gratuitous ARP for each pair (three times).
    python3 arpflood.py forge IFACE MAC IP --every S --seconds T
        a gratuitous ARP "IP is at MAC" every S seconds for T seconds.
"""

import argparse
import random
import socket
import struct
import sys
import time


def mac_bytes(mac):
    """aa:bb:cc:dd:ee:ff as 6 bytes."""
    return bytes.fromhex(mac.replace(":", ""))


def arp_frame(src, sender_ip, target_ip, op=1):
    """An Ethernet broadcast ARP frame (request by default) from src, padded to 60 bytes."""
    f = (b"\xff" * 6 + src + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
         + src + socket.inet_aton(sender_ip) + b"\x00" * 6 + socket.inet_aton(target_ip))
    return f + b"\x00" * (60 - len(f))


def open_socket(ifname):
    """A raw packet socket bound to ifname."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    return s


def random_mac(rng):
    """A random unicast MAC (multicast bit clear, never all zero)."""
    while True:
        b = bytearray(rng.getrandbits(48).to_bytes(6, "big"))
        b[0] &= 0xfe
        if any(b):
            return bytes(b)


def flood(ifname, count, rate, seed):
    """Send count frames from count distinct random MACs at rate frames per second."""
    rng = random.Random(seed)
    s = open_socket(ifname)
    seen = set()
    t0 = time.monotonic()
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - t0) * rate) + 1)
        while sent < due:
            m = random_mac(rng)
            if m in seen:
                continue
            seen.add(m)
            sip = "10.100.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
            tip = "10.99.0.%d" % rng.randrange(200, 255)
            try:
                s.send(arp_frame(m, sip, tip))
            except OSError:
                time.sleep(0.001)  # the interface queue is full: try again
                continue
            sent += 1
        time.sleep(0.005)
    print("sent %d in %.2f s" % (sent, time.monotonic() - t0), flush=True)


def announce(ifname, pairs):
    """A gratuitous ARP (request, sender IP = target IP) for each MAC/IP pair, three times."""
    s = open_socket(ifname)
    for _ in range(3):
        for mac, ip in pairs:
            s.send(arp_frame(mac_bytes(mac), ip, ip))
        time.sleep(0.01)


def forge(ifname, mac, ip, every, seconds):
    """A gratuitous ARP claiming ip for mac every `every` seconds for `seconds`."""
    s = open_socket(ifname)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.send(arp_frame(mac_bytes(mac), ip, ip))
        time.sleep(every)


def main(argv):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood")
    f.add_argument("ifname")
    f.add_argument("--count", type=int, default=50000)
    f.add_argument("--rate", type=int, default=2500)
    f.add_argument("--seed", type=int, default=1)
    a = sub.add_parser("announce")
    a.add_argument("ifname")
    a.add_argument("pairs", nargs="+")
    g = sub.add_parser("forge")
    g.add_argument("ifname")
    g.add_argument("mac")
    g.add_argument("ip")
    g.add_argument("--every", type=float, default=0.2)
    g.add_argument("--seconds", type=float, default=3.0)
    o = p.parse_args(argv)
    if o.cmd == "flood":
        flood(o.ifname, o.count, o.rate, o.seed)
    elif o.cmd == "announce":
        if len(o.pairs) % 2:
            p.error("announce takes MAC IP pairs")
        announce(o.ifname, list(zip(o.pairs[0::2], o.pairs[1::2])))
    else:
        forge(o.ifname, o.mac, o.ip, o.every, o.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
