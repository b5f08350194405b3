#!/usr/bin/env python3
# test_firewall: end-to-end tests of the router ruleset (scripts/wicket-firewall)
# and of proxy/firewall.c driving its sets through libnftables: what a client may
# reach before admission, after it, and the moment it is revoked or reconciled.
"""wicket e2e: the nftables ruleset and the admitted-client sets.

No wicketd here: a small program built from build/libwicket.a calls
firewall_open/admit/revoke/sync exactly as the daemon does, in the router
namespace. Run as root: python3 test/e2e/test_firewall.py [-v] [-l] [NAME ...]
"""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4, O6 = h.ORIGIN4, h.ORIGIN6
PORT = 3990                       # wicketd's port (an origdst echo stands in for it)
ROUTER_SVC = 2222                 # a router service that only admitted clients reach
SCRIPT = os.path.join(h.REPO, "scripts", "wicket-firewall")
LIB = os.path.join(h.REPO, "build", "libwicket.a")
DROP_TIMEOUT = 1.0                # a dropped SYN: give up after this long
FAST_REFUSAL = 0.5                # a TCP reset must arrive sooner than this
CUTOFF = 1.0                      # revocation must stop a flow within this

# The daemon's calls, one per process run: fwctl TABLE open|admit|revoke|sync ...
FWCTL_C = r"""
/* fwctl: test driver for proxy/firewall.c (test/e2e/test_firewall.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall.h"
#include "log.h"

/* Parse "MAC[,IP...]" into an entry. */
static int
parse_entry(char *arg, struct firewall_entry *e)
{
	char *save = NULL, *tok = strtok_r(arg, ",", &save);

	memset(e, 0, sizeof(*e));
	if (tok == NULL || addr_mac_parse(tok, &e->mac) < 0)
		return -1;
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		if (e->nips == FIREWALL_ENTRY_IPS || addr_ip_parse(tok, &e->ips[e->nips]) < 0)
			return -1;
		e->nips++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char err[1024];
	struct firewall *fw;
	struct firewall_entry e[64];
	int rc = 0, n = 0;

	log_init("fwctl", 1, WK_LOG_DEBUG);
	if (argc < 3 || argc - 3 > 64) {
		fprintf(stderr, "usage: fwctl TABLE open|admit|revoke|sync ARGS\n");
		return 2;
	}
	for (int i = 3; i < argc; i++)
		if (parse_entry(argv[i], &e[n++]) < 0) {
			fprintf(stderr, "fwctl: bad entry %s\n", argv[i]);
			return 2;
		}
	fw = firewall_open(argv[1], err, sizeof(err));
	if (fw == NULL) {
		fprintf(stderr, "fwctl: %s\n", err);
		return 1;
	}
	if (strcmp(argv[2], "admit") == 0 && n == 1)
		rc = firewall_admit(fw, &e[0].mac, e[0].ips, e[0].nips);
	else if (strcmp(argv[2], "revoke") == 0 && n == 1)
		rc = firewall_revoke(fw, &e[0].mac, e[0].ips, e[0].nips);
	else if (strcmp(argv[2], "sync") == 0)
		rc = firewall_sync(fw, e, (size_t)n);
	else if (strcmp(argv[2], "open") != 0)
		rc = -2;
	firewall_close(fw);
	return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}
"""

# Servers: echo:PORT (TCP, dual stack), push:PORT (a line every 100 ms),
# sink:PORT (logs "monotonic-time peer lines" per read to sink-PORT.log beside
# the script), udpecho:PORT, udpsink:PORT (udpecho that also logs like sink),
# udppush:PORT (answers a datagram with 20 a second for a while).
SERVERS_PY = r"""
import os, socket, sys, threading, time

LOCK = threading.Lock()

def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    return s

def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s

def echo(c):
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()

def push(c):
    try:
        for i in range(300):
            c.sendall(b"%06d\n" % i)
            time.sleep(0.1)
    except OSError:
        pass
    c.close()

def sink(c, peer, path):
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            with LOCK, open(path, "a") as f:
                f.write("%f %s %d\n" % (time.monotonic(), peer[0], d.count(b"\n")))
    except OSError:
        pass
    c.close()

def accept_loop(s, fn, *args):
    while True:
        c, peer = s.accept()
        extra = (peer,) + args if args else ()
        threading.Thread(target=fn, args=(c,) + extra, daemon=True).start()

def udpecho(s):
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(d, a)

def udpsink(s, path):
    while True:
        d, a = s.recvfrom(2048)
        with LOCK, open(path, "a") as f:
            f.write("%f %s 1\n" % (time.monotonic(), a[0]))
        s.sendto(d, a)

def udppush(s):
    def run(a):
        for i in range(200):
            try:
                s.sendto(b"%06d" % i, a)
            except OSError:
                pass
            time.sleep(0.05)
    while True:
        d, a = s.recvfrom(2048)
        threading.Thread(target=run, args=(a,), daemon=True).start()

for spec in sys.argv[1:]:
    kind, port = spec.split(":")
    port = int(port)
    if kind == "echo":
        t = threading.Thread(target=accept_loop, args=(tcp(port), echo), daemon=True)
    elif kind == "push":
        t = threading.Thread(target=accept_loop, args=(tcp(port), push), daemon=True)
    elif kind == "sink":
        log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sink-%d.log" % port)
        t = threading.Thread(target=accept_loop, args=(tcp(port), sink, log), daemon=True)
    elif kind == "udpecho":
        t = threading.Thread(target=udpecho, args=(udp(port),), daemon=True)
    elif kind == "udpsink":
        log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sink-%d.log" % port)
        t = threading.Thread(target=udpsink, args=(udp(port), log), daemon=True)
    else:
        t = threading.Thread(target=udppush, args=(udp(port),), daemon=True)
    t.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""

# Client probes, one JSON object on stdout:
#   connect HOST PORT TIMEOUT   -> result ok|refused|timeout|noecho|error:..., elapsed
#   udp HOST PORT TIMEOUT       -> result ok|timeout|error:...
#   echostream HOST PORT SECS   -> times of echoes of a line sent every 100 ms
#   pushstream HOST PORT SECS   -> times of lines the server pushes
#   udpstream HOST PORT SECS    -> times of datagrams the server pushes after one hello
#   udpechostream HOST PORT SECS -> times of echoes of a datagram sent every 100 ms
PROBE_PY = r"""
import json, select, socket, sys, time

def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def connect(host, port, timeout):
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
    except socket.timeout:
        return {"result": "timeout", "elapsed": time.monotonic() - t0}
    except ConnectionRefusedError:
        return {"result": "refused", "elapsed": time.monotonic() - t0}
    except OSError as e:
        return {"result": "error:%s" % e, "elapsed": time.monotonic() - t0}
    elapsed = time.monotonic() - t0
    try:
        s.sendall(b"ping\n")
        got = b""
        while not got.endswith(b"ping\n"):
            d = s.recv(100)
            if not d:
                break
            got += d
    except OSError:
        got = b""
    s.close()
    return {"result": "ok" if got == b"ping\n" else "noecho", "elapsed": elapsed}

def udp(host, port, timeout):
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.sendto(b"query", (host, port))
        d, _ = s.recvfrom(100)
    except socket.timeout:
        return {"result": "timeout", "elapsed": time.monotonic() - t0}
    except OSError as e:
        return {"result": "error:%s" % e, "elapsed": time.monotonic() - t0}
    return {"result": "ok" if d == b"query" else "wrong", "elapsed": time.monotonic() - t0}

def stream(kind, host, port, secs):
    times = []
    start = time.monotonic()
    dgram = kind in ("udpstream", "udpechostream")
    sends = kind in ("echostream", "udpechostream")
    if dgram:
        s = socket.socket(fam(host), socket.SOCK_DGRAM)
        s.connect((host, port))
        if kind == "udpstream":
            s.send(b"hello")
    else:
        s = socket.create_connection((host, port), timeout=2)
    s.setblocking(False)
    print(json.dumps({"started": start}), flush=True)
    next_send = start
    sent = 0
    closed = None
    while time.monotonic() - start < secs:
        now = time.monotonic()
        if sends and now >= next_send:
            try:
                s.send(b"%06d\n" % sent)
                sent += 1
            except (BlockingIOError, OSError):
                pass
            next_send += 0.1
        wait = max(0.0, min(next_send if sends else now + 0.1, start + secs) - time.monotonic())
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            continue
        try:
            d = s.recv(65536)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        except OSError as e:
            closed = str(e)
            break
        if not d and not dgram:
            closed = "eof"
            break
        now = time.monotonic()
        n = 1 if dgram else d.count(b"\n")
        times.extend([now] * n)
    return {"times": times, "sent": sent, "closed": closed}

cmd, host, port, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if cmd == "connect":
    out = connect(host, port, arg)
elif cmd == "udp":
    out = udp(host, port, arg)
else:
    out = stream(cmd, host, port, arg)
print(json.dumps(out), flush=True)
"""


class Fixture:
    """The topology (two clients, no harness redirect), the servers and the fwctl driver."""

    def __init__(self):
        """Build fwctl, bring the namespaces up, start the servers, install the ruleset."""
        h.check_prereqs()
        if not os.path.exists(LIB):
            raise h.SetupError("%s not found (run make)" % os.path.relpath(LIB, h.REPO))
        for tool in ("cc", "pkg-config"):
            if shutil.which(tool) is None:
                raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
        self.topo = h.Topology(wicket_port=PORT, redirect=False).__enter__()
        t = self.topo
        self.fwctl = os.path.join(t.tmp, "fwctl")
        self._build_fwctl()
        self.servers = os.path.join(t.tmp, "fwservers.py")
        self.probe_py = os.path.join(t.tmp, "fwprobe.py")
        with open(self.servers, "w") as f:
            f.write(SERVERS_PY)
        with open(self.probe_py, "w") as f:
            f.write(PROBE_PY)
        self.a = t.client
        self.b = t.add_client("b")
        self._start(t.origin, ["echo:8080", "echo:443", "push:8081", "sink:8082", "udpecho:53",
                                "udppush:9000", "udpsink:9001"],
                    tcp=(8080, 443, 8081, 8082), udp=(53, 9000, 9001))
        self._start(t.router, ["echo:%d" % ROUTER_SVC], tcp=(ROUTER_SVC,), udp=())
        p = t.router.popen([h.PY, h.RAWHTTP, "origdst", "--port", PORT],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.router.wait_listening(PORT, proc=p)
        self.up()

    def _build_fwctl(self):
        """Compile the driver against build/libwicket.a and libnftables."""
        src = self.fwctl + ".c"
        with open(src, "w") as f:
            f.write(FWCTL_C)
        libs = subprocess.run(["pkg-config", "--libs", "libevent", "openssl", "libpcap", "libnftables"],
                              capture_output=True, text=True)
        if libs.returncode != 0:
            raise h.SetupError("pkg-config: %s" % libs.stderr.strip())
        cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", "-DHAVE_NFTABLES=1",
               "-I", os.path.join(h.REPO, "common"), "-I", os.path.join(h.REPO, "proxy"),
               "-o", self.fwctl, src, LIB] + libs.stdout.split()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("cannot build fwctl: %s\n%s" % (" ".join(cmd), p.stderr))

    def _start(self, ns, specs, tcp, udp):
        """Start the server script in `ns` and wait for its ports."""
        p = ns.popen([h.PY, self.servers] + specs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in tcp:
            ns.wait_listening(port, proc=p)
        end = time.monotonic() + 5
        for port in udp:
            while not ns.listening(port, proto="u"):
                if time.monotonic() > end:
                    raise RuntimeError("UDP port %d not bound in %s" % (port, ns.name))
                time.sleep(0.05)

    # -- actions ----------------------------------------------------------

    def script(self, *args, check=True):
        """Run scripts/wicket-firewall in the router namespace; return the CompletedProcess."""
        return self.topo.router.run(["sh", SCRIPT] + list(args), check=check)

    def up(self, *extra):
        """Install (or update) the ruleset for br-lan and port 3990."""
        return self.script("-i", h.BRIDGE, "-p", str(PORT), *extra, "up")

    def fw(self, *args, check=True, table="wicket"):
        """Run fwctl TABLE ARGS in the router namespace."""
        p = self.topo.router.run([self.fwctl, table] + list(args), check=False)
        if check and p.returncode != 0:
            raise AssertionError("fwctl %s %s failed (%d): %s" % (table, " ".join(args), p.returncode,
                                                                  p.stderr.strip()))
        return p

    def entry(self, c):
        """The fwctl argument admitting client `c` with both its addresses."""
        return "%s,%s,%s" % (c.mac, c.ip4, c.ip6)

    def admit(self, c):
        """Admit client c (MAC, IPv4 and IPv6) through firewall_admit."""
        self.fw("admit", self.entry(c))

    def revoke(self, c):
        """Revoke client c through firewall_revoke."""
        self.fw("revoke", self.entry(c))

    def reset(self):
        """Default ruleset, nobody admitted."""
        self.up()
        self.fw("sync")

    def probe(self, c, *args):
        """Run one probe in client c's namespace and return its JSON result."""
        timeout = 15 + float(args[-1])
        p = c.ns.run([h.PY, self.probe_py] + [str(a) for a in args], timeout=timeout)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def start_stream(self, c, *args):
        """Start a stream probe in the background; return (process, start time)."""
        p = c.ns.popen([h.PY, self.probe_py] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line:
            raise AssertionError("stream probe %s did not start: %s" % (args, p.stderr.read()))
        return p, json.loads(line)["started"]

    def sink_times(self, c, port=8082):
        """Times at which the origin's sink on `port` (8082 TCP, 9001 UDP) read lines from client c."""
        path = os.path.join(self.topo.tmp, "sink-%d.log" % port)
        out = []
        try:
            with open(path) as fh:
                for ln in fh:
                    t, peer, n = ln.split()
                    if peer.replace("::ffff:", "") in (c.ip4, c.ip6):
                        out.extend([float(t)] * int(n))
        except FileNotFoundError:
            pass
        return out

    def finish_stream(self, p):
        """Wait for a stream probe and return its result."""
        out, err = p.communicate(timeout=30)
        if p.returncode != 0:
            raise AssertionError("stream probe failed (%d): %s" % (p.returncode, err))
        return json.loads(out.strip().splitlines()[-1])


# -- assertions ---------------------------------------------------------------

def expect_conn(f, c, host, port, want, what):
    """Assert a TCP connection from c to host:port ends as `want` (ok, timeout, refused)."""
    r = f.probe(c, "connect", host, port, DROP_TIMEOUT)
    assert r["result"] == want, "%s: %s -> [%s]:%d: expected %s, got %s after %.2fs" % (
        what, c.name, host, port, want, r["result"], r["elapsed"])
    if want == "refused":
        assert r["elapsed"] < FAST_REFUSAL, "%s: refusal took %.2fs (want < %.1fs)" % (
            what, r["elapsed"], FAST_REFUSAL)
    return r


def expect_blocked(f, c, what):
    """c cannot reach the origin's port 8080 nor the router's own service, on IPv4 and IPv6."""
    for host in (O4, O6):
        expect_conn(f, c, host, 8080, "timeout", what)
    expect_conn(f, c, h.LAN4, ROUTER_SVC, "timeout", what + " (router service)")


def expect_open(f, c, what):
    """c reaches the origin's ports 8080 and 443 and the router's service, on IPv4 and IPv6."""
    for host in (O4, O6):
        expect_conn(f, c, host, 8080, "ok", what)
        expect_conn(f, c, host, 443, "ok", what)
    expect_conn(f, c, h.LAN4, ROUTER_SVC, "ok", what + " (router service)")
    expect_conn(f, c, h.LAN6, ROUTER_SVC, "ok", what + " (router service)")


def fmt_times(times, t0):
    """Times relative to t0, for failure messages."""
    return "[" + ", ".join("%.2f" % (t - t0) for t in times[-12:]) + "]"


def check_cut(res, t_revoked, what):
    """The stream carried data before the revocation and nothing CUTOFF after it."""
    times = res["times"]
    before = [t for t in times if t < t_revoked]
    after = [t for t in times if t > t_revoked + CUTOFF]
    assert len(before) >= 5, "%s: only %d messages before the revocation (flow never worked?): %s" % (
        what, len(before), res)
    assert not after, "%s: %d messages arrived more than %.1fs after the revocation; last ones at %s s" % (
        what, len(after), CUTOFF, fmt_times(times, t_revoked))


# -- tests --------------------------------------------------------------------

def test_script_usage(f):
    """Bad options exit 2 with a message; -n prints one transaction that declares every set."""
    for args, msg in ((["up"], "no LAN interface"),
                      (["-i", "br-lan", "-p", "0", "up"], "out of range"),
                      (["-i", "br-lan", "-p", "80x", "up"], "bad port"),
                      (["-i", 'br"lan', "up"], "bad interface name"),
                      (["-i", "br-lan", "-t", "w;flush", "up"], "bad table name"),
                      (["-i", "br-lan", "-g", "1.2.3.4;", "up"], "bad walled-garden"),
                      (["-i", "br-lan", "-d", "some", "up"], "expected any or router"),
                      (["-i", "br-lan", "-c", "10/", "up"], "bad -c"),
                      (["-i", "br-lan", "-c", "1;drop", "up"], "bad -c"),
                      (["-i", "br-lan", "-c", "2000000", "up"], "out of range"),
                      (["-i", "br-lan", "sideways"], "unknown command"),
                      ([], "expected one command")):
        p = f.script(*args, check=False)
        assert p.returncode == 2, "%r: exit %d, want 2; stderr %r" % (args, p.returncode, p.stderr)
        assert msg in p.stderr, "%r: stderr %r lacks %r" % (args, p.stderr, msg)
    p = f.script("-n", "-i", "br-lan", "-p", "3990", "up")
    text = p.stdout
    assert text.startswith("add table inet wicket\ndelete table inet wicket\ntable inet wicket {"), text[:200]
    for s in ("allowed_mac", "allowed4", "allowed6", "allowed4_dst", "allowed6_dst"):
        assert "\tset %s {" % s in text, "set %s missing from:\n%s" % (s, text)
    assert 'iifname "br-lan" tcp dport 80 redirect to :3990' in text, text
    assert "update @connlimit4 { ip saddr limit rate over 40/second burst 80 packets }" in text, text
    # the printed transaction is exactly what nft accepts (checked, not applied)
    q = f.topo.router.run(["nft", "-c", "-f", "-"], input=text, check=False)
    assert q.returncode == 0, "nft -c rejected the printed ruleset: %s" % q.stderr


def test_open_needs_table(f):
    """firewall_open fails with a clear message when the table or a set is missing."""
    p = f.fw("open", check=False, table="nosuch")
    assert p.returncode == 1, "open of a missing table: exit %d, stderr %r" % (p.returncode, p.stderr)
    assert "table inet nosuch" in p.stderr and "scripts/wicket-firewall up" in p.stderr, p.stderr
    # a table with some of the sets only (an older or hand-made ruleset)
    f.topo.router.run(["nft", "-f", "-"], input=(
        "table inet partial {\n"
        "  set allowed_mac { type ether_addr; }\n"
        "  set allowed4 { type ether_addr . ipv4_addr; }\n"
        "  set allowed6 { type ether_addr . ipv6_addr; }\n"
        "  set allowed4_dst { type ipv4_addr; }\n"
        "}\n"))
    try:
        p = f.fw("open", check=False, table="partial")
        assert p.returncode == 1 and "allowed6_dst" in p.stderr, (p.returncode, p.stderr)
    finally:
        f.topo.router.run(["nft", "delete", "table", "inet", "partial"], check=False)
    f.fw("open")


def test_not_admitted(f):
    """Before admission: TCP 8080 dropped, 443 reset at once, the router's other services dropped."""
    f.reset()
    expect_blocked(f, f.a, "not admitted")
    for host in (O4, O6):
        expect_conn(f, f.a, host, 443, "refused", "not admitted, tcp/443")
        r = f.probe(f.a, "udp", host, 9000, DROP_TIMEOUT)
        assert r["result"] == "timeout", "not admitted: UDP to [%s]:9000 got %s" % (host, r)
    # wicketd's own port is open to everyone
    expect_conn(f, f.a, h.LAN4, PORT, "noecho", "wicketd port on the router")


def test_dns_open(f):
    """DNS (udp/53) to any server works before admission, on IPv4 and IPv6."""
    f.reset()
    for host in (O4, O6):
        r = f.probe(f.a, "udp", host, 53, 2)
        assert r["result"] == "ok", "DNS to [%s]:53 before admission: %s" % (host, r)


def test_port80_redirected(f):
    """LAN tcp/80 goes to the gate's port for everyone, admitted or not, IPv4 and IPv6."""
    f.reset()
    for admitted in (False, True):
        if admitted:
            f.admit(f.a)
        for url, want in (("http://%s/x" % O4, "origdst=%s:80" % O4),
                          ("http://[%s]/x" % O6, "origdst=[%s]:80" % O6)):
            r = h.curl(f.a, ["-g", url], timeout=5)
            body = r.body.decode()
            assert r.status == 200 and want in body, "admitted=%s: %s -> %r" % (admitted, url, body)
    f.revoke(f.a)


def test_admit_opens_revoke_closes(f):
    """firewall_admit opens everything for that client only; firewall_revoke closes it again."""
    f.reset()
    f.admit(f.a)
    expect_open(f, f.a, "admitted")
    expect_blocked(f, f.b, "other client while a is admitted")
    f.revoke(f.a)
    expect_blocked(f, f.a, "revoked")
    expect_conn(f, f.a, O4, 443, "refused", "revoked, tcp/443")
    # revoking again (nothing there) is not an error
    f.revoke(f.a)


def test_spoofed_address_blocked(f):
    """Client b borrowing admitted a's IPv4 address is still dropped: the MAC must match too."""
    f.reset()
    f.admit(f.a)
    b = f.b
    try:
        b.ns.ip("addr", "add", "10.99.0.10/32", "dev", "eth0")  # a's address, as a secondary
        # bind explicitly to the borrowed address: python's connect picks the primary
        code = ("import socket,sys,json,time\n"
                "s=socket.socket();s.settimeout(%s);s.bind(('10.99.0.10',0));t=time.monotonic()\n"
                "try:\n s.connect(('%s',8080));print('ok')\n"
                "except socket.timeout:\n print('timeout')\n"
                "except OSError as e:\n print('error',e)\n" % (DROP_TIMEOUT, O4))
        r = b.ns.run([h.PY, "-c", code], check=False)
        assert r.stdout.strip() == "timeout", "b with a's address: %r %r" % (r.stdout, r.stderr)
    finally:
        b.ns.ip("addr", "del", "10.99.0.10/32", "dev", "eth0", check=False)
        # b may have answered ARP for the borrowed address: forget it
        f.topo.router.ip("neigh", "flush", "dev", h.BRIDGE, check=False)
    expect_conn(f, f.a, O4, 8080, "ok", "a itself")
    f.revoke(f.a)


def test_revoke_cuts_established_echo(f):
    """A TCP connection exchanging a line every 100 ms stops within 1 s of the revocation, both ways."""
    for host in (O4, O6):
        f.reset()
        f.admit(f.a)
        p, _ = f.start_stream(f.a, "echostream", host, 8080, 2.5)
        time.sleep(1.0)
        f.revoke(f.a)
        t_rev = time.monotonic()
        check_cut(f.finish_stream(p), t_rev, "echo stream to [%s]:8080, at the client" % host)
    # the client's own packets, seen at the server: dropped from the first
    # packet after the revocation, not merely unanswered (UDP, whose flow
    # does not stall by itself when the replies stop)
    for kind, port, host in (("echostream", 8082, O4), ("udpechostream", 9001, O4),
                             ("udpechostream", 9001, O6)):
        f.reset()
        f.admit(f.a)
        seen = len(f.sink_times(f.a, port))
        p, _ = f.start_stream(f.a, kind, host, port, 2.5)
        time.sleep(1.0)
        f.revoke(f.a)
        t_rev = time.monotonic()
        f.finish_stream(p)
        check_cut({"times": f.sink_times(f.a, port)[seen:]}, t_rev,
                  "client's %s to [%s]:%d, at the server" % (kind, host, port))


def test_revoke_cuts_server_push(f):
    """Data the server keeps pushing (TCP, and UDP after a single hello) stops reaching a revoked client."""
    for kind, port in (("pushstream", 8081), ("udpstream", 9000)):
        for host in (O4, O6):
            f.reset()
            f.admit(f.a)
            p, _ = f.start_stream(f.a, kind, host, port, 2.5)
            time.sleep(1.0)
            f.revoke(f.a)
            t_rev = time.monotonic()
            check_cut(f.finish_stream(p), t_rev, "%s from [%s]:%d" % (kind, host, port))


def test_sync_reconciles(f):
    """firewall_sync leaves exactly the given clients admitted, and cuts the others' flows."""
    f.reset()
    f.fw("sync", f.entry(f.a))
    expect_conn(f, f.a, O4, 8080, "ok", "a after sync [a]")
    expect_conn(f, f.b, O4, 8080, "timeout", "b after sync [a]")
    p, _ = f.start_stream(f.a, "echostream", O4, 8080, 2.5)
    time.sleep(1.0)
    f.fw("sync", f.entry(f.b))
    t_rev = time.monotonic()
    check_cut(f.finish_stream(p), t_rev, "a's echo stream after sync [b]")
    expect_conn(f, f.a, O6, 8080, "timeout", "a after sync [b]")
    expect_conn(f, f.b, O6, 8080, "ok", "b after sync [b]")
    f.fw("sync", f.entry(f.a), f.entry(f.b))
    for c in (f.a, f.b):
        expect_conn(f, c, O4, 8080, "ok", "%s after sync [a, b]" % c.name)
    f.fw("sync")
    for c in (f.a, f.b):
        expect_conn(f, c, O4, 8080, "timeout", "%s after sync []" % c.name)


def test_sync_keeps_flows(f):
    """Reconciling with the same client admitted does not disturb its established flow."""
    f.reset()
    f.admit(f.a)
    p, _ = f.start_stream(f.a, "echostream", O4, 8080, 2.5)
    end = time.monotonic() + 1.8
    n = 0
    while time.monotonic() < end:
        f.fw("sync", f.entry(f.a))
        n += 1
    res = f.finish_stream(p)
    assert res["closed"] is None, "stream closed: %s" % res
    assert len(res["times"]) >= res["sent"] - 2, "%d syncs: %d lines sent, %d echoed" % (
        n, res["sent"], len(res["times"]))


def test_walled_garden(f):
    """-g lets everyone reach a destination on any port; a plain `up` takes it away again."""
    f.reset()
    f.up("-g", O4 + "/32", "-g", O6)
    for host in (O4, O6):
        expect_conn(f, f.a, host, 443, "ok", "garden")
        expect_conn(f, f.a, host, 8080, "ok", "garden")
    f.up()
    expect_conn(f, f.a, O4, 443, "refused", "garden removed")


def test_dns_router_only(f):
    """-d router: clients not admitted may no longer query outside resolvers."""
    f.reset()
    f.up("-d", "router")
    r = f.probe(f.a, "udp", O4, 53, DROP_TIMEOUT)
    assert r["result"] == "timeout", "DNS to the origin with -d router: %s" % r
    f.admit(f.a)
    r = f.probe(f.a, "udp", O4, 53, 2)
    assert r["result"] == "ok", "DNS from an admitted client with -d router: %s" % r
    f.revoke(f.a)


# A burst of connects from one client, all at once, counted after BURST_WAIT s: less
# than TCP's first SYN retransmission (1 s), so a dropped SYN is a connect not made.
BURST_PY = r"""
import errno, json, select, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
socks = []
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((host, port))
    socks.append(s)
time.sleep(%f)
ok = 0
for s in socks:
    if not select.select([], [s], [], 0)[1]:
        continue
    ok += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
print(json.dumps({"connected": ok}))
"""
BURST_WAIT = 0.5


def connect_burst(c, host, n):
    """Open n connections from c to host:PORT at once; how many were made within BURST_WAIT."""
    p = c.ns.run([h.PY, "-c", BURST_PY % BURST_WAIT, host, str(PORT), str(n)], timeout=10)
    return json.loads(p.stdout)["connected"]


def meter_drops(f):
    """The packet counters of the two meter rules (IPv4, IPv6) in lan_input."""
    rules = f.topo.router.run(["nft", "list", "chain", "inet", "wicket", "lan_input"]).stdout
    got = {}
    for fam in ("4", "6"):
        for ln in rules.splitlines():
            if "@connlimit%s " % fam in ln:
                got[fam] = int(ln.split("counter packets ")[1].split()[0])
    return got.get("4"), got.get("6")


def test_connect_meter(f):
    """-c 10/5: 40 connects at once from a to wicketd's port make 5 (the burst) plus at
    most what 10/s refills in BURST_WAIT, on IPv4 and IPv6 alike, the rest dropped by
    the meter rules (their counters); b, another source, still connects at once; -c off
    (an in-place update, a stays admitted) removes the meter: a burst of 14, more than
    it let through, is made in full."""
    f.reset()
    f.admit(f.a)
    f.up("-c", "10/5")
    for host, fam in ((h.LAN4, 0), (h.LAN6, 1)):
        before = meter_drops(f)[fam]
        n = connect_burst(f.a, host, 40)
        dropped = meter_drops(f)[fam] - before
        assert 5 <= n <= 5 + 10 * BURST_WAIT + 2, "-c 10/5: %d of 40 connects to [%s]:%d made" % (
            n, host, PORT)
        assert dropped >= 40 - n, "-c 10/5: meter counted %d drops, %d connects failed" % (
            dropped, 40 - n)
        expect_conn(f, f.b, host, PORT, "noecho", "another source during a's burst")
    f.up("-c", "off")
    assert meter_drops(f) == (None, None), "meter rules left with -c off"
    q = f.topo.router.run(["nft", "list", "sets", "inet"]).stdout
    assert "connlimit" not in q, q
    # 14: more than the meter let through, fewer than the echo's listen backlog (16)
    n = connect_burst(f.a, h.LAN4, 14)
    assert n == 14, "-c off: %d of 14 connects made" % n
    expect_conn(f, f.a, O4, 8080, "ok", "a still admitted after the -c updates")
    f.reset()


def test_up_again_keeps_admitted(f):
    """Re-running up keeps the admitted clients; -f replaces the table and drops them; down removes it."""
    f.reset()
    f.admit(f.a)
    p = f.up("-p", str(PORT))
    assert "admitted clients kept" in p.stdout, p.stdout
    expect_conn(f, f.a, O4, 8080, "ok", "after a second up")
    f.up("-f")
    expect_conn(f, f.a, O4, 8080, "timeout", "after up -f")
    f.fw("sync", f.entry(f.a))  # what wicketctl reload does
    expect_conn(f, f.a, O4, 8080, "ok", "after up -f and a sync")
    p = f.script("down")
    assert p.returncode == 0 and "removed" in p.stdout, p.stdout
    q = f.topo.router.run(["nft", "list", "tables"])
    assert "wicket" not in q.stdout, q.stdout
    p = f.script("down")
    assert p.returncode == 0 and "not installed" in p.stdout, p.stdout
    p = f.fw("open", check=False)
    assert p.returncode == 1, "open after down: exit %d" % p.returncode
    f.reset()


TESTS = [
    test_script_usage,
    test_open_needs_table,
    test_not_admitted,
    test_dns_open,
    test_port80_redirected,
    test_admit_opens_revoke_closes,
    test_spoofed_address_blocked,
    test_revoke_cuts_established_echo,
    test_revoke_cuts_server_push,
    test_sync_reconciles,
    test_sync_keeps_flows,
    test_walled_garden,
    test_dns_router_only,
    test_connect_meter,
    test_up_again_keeps_admitted,
]


def setup():
    """Create the shared fixture."""
    return Fixture()


def teardown(f):
    """Remove the namespaces."""
    f.topo.down()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_firewall", TESTS, setup, teardown=teardown))
