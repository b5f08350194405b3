#!/usr/bin/env python3
# bench: wicket's benchmark -- the e2e harness's three-namespace topology, wrk in
# the client namespace; wicketd against nginx, HAProxy and direct routing for
# forwarding, against nginx, HAProxy and a minimal epoll server (the floor) for
# answering 511; server CPU per request and per MiB from /proc; memory per idle
# keep-alive connection with 10,000 held; the 511 rate with 100,000 registry
# entries against 10; splice against copy. Prints the tables of issue 8 with the
# ratios against its targets.
"""wicket benchmark (run as root through scripts/bench.sh).

    python3 scripts/bench/bench.py [-d SECONDS] [-r ROUNDS] [-t THREADS] [-c CONNECTIONS]
                                   [--entries N] [--small N] [--idle N]
                                   [--only fwd1k,fwd1m,511,idle,registry,splice]

Targets take turns within each round and the table shows each target's median
round, so that a burst of load from elsewhere on the machine does not land on
one target only. Server CPU is the CPU time (user + system, from
/proc/PID/task/*/schedstat) of the server's processes in the router namespace
during the wrk run, divided by the requests (or MiB) wrk completed.

Speed is measured here, never asserted by a test. Every target is checked with
one curl (status and body) before wrk runs against it; traffic stays inside the
namespaces the harness creates and removes.
"""

import argparse
import os
import resource
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

import harness as h  # noqa: E402
import origins  # noqa: E402

O4 = h.ORIGIN4
MIB = 1 << 20
DIRECT_PORT = 8080          # origin nginx port the router does not redirect
P_WK_FWD, P_NG_FWD, P_HA_FWD, P_WK_COPY = 3990, 3991, 3992, 3997
P_NG_511, P_HA_511, P_EP_511 = 3993, 3994, 3998
P_WK_511, P_WK_511_BIG = 3995, 3996

# The anchors answer 511 with wicketd's own page, byte for byte (its link
# included, as wicketd rendered it for the client once; HAProxy's without
# the newlines): wicketd_page sets it before they start, so that every
# target sends the same body whatever reply.c's page becomes.
PAGE_511 = None

WK_CONF = """\
listen 0.0.0.0:{port}
gateway_id bench
portal_url http://10.99.0.1/portal
audit_log {{audit}}
control_socket {{tmp}}/control.sock
state_file {{tmp}}/state
max_connections 30000
max_clients 200000
# one client namespace makes all the load: the per-client limits off
client_connections 1000000
client_connect_rate 0
client_511_rate 0
{extra}
"""

# Idle connections: open N, one request each (answered), then hold them.
IDLE_CLIENT = r"""
import socket, sys, time
n, host = int(sys.argv[1]), sys.argv[2]
req = b"GET /1k.bin HTTP/1.1\r\nHost: 10.98.0.2\r\n\r\n"
socks, unread = [], []


def drain():
    for x in unread:
        x.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            b = x.recv(65536)
            if not b:
                raise SystemExit("closed by the server after %d connections" % len(socks))
            got += b
    del unread[:]


for i in range(n):
    s = socket.create_connection((host, 80))
    s.sendall(req)
    socks.append(s)
    unread.append(s)
    if len(unread) == 500:  # read the answers as we go (small receive queues)
        drain()
drain()
print("held %d" % len(socks), flush=True)
sys.stdin.readline()
"""


def say(msg):
    """Progress on stderr (the table goes to stdout)."""
    print("bench: " + msg, file=sys.stderr, flush=True)


def wk_conf(port, extra=""):
    """wicketd config text for one instance."""
    return WK_CONF.format(port=port, extra=extra)


# ----------------------------------------------------------------------------
# The servers
# ----------------------------------------------------------------------------

def router_nginx(t, logdir):
    """nginx in the router namespace: a forwarding proxy on P_NG_FWD and `return 511` on P_NG_511."""
    block = (
        "  access_log %s/access.log;\n"
        "  upstream origin { server %s:80; keepalive 64; }\n"
        "  server {\n"
        "    listen %d reuseport;\n"
        "    location / {\n"
        "      proxy_pass http://origin;\n"
        "      proxy_http_version 1.1;\n"
        "      proxy_set_header Connection \"\";\n"
        "      proxy_set_header Host $http_host;\n"
        "      proxy_buffering off;\n"
        "    }\n"
        "  }\n"
        "  server {\n"
        "    listen %d reuseport;\n"
        "    location / {\n"
        "      default_type \"text/html; charset=utf-8\";\n"
        "      add_header Cache-Control no-store always;\n"
        "      return 511 '%s';\n"
        "    }\n"
        "  }\n" % (logdir, O4, P_NG_FWD, P_NG_511, PAGE_511.replace("'", "\\'")))
    ng = origins.Nginx(t.router, os.path.join(t.tmp, "nginx-router"), block, workers=1, connections=10100)
    return ng.start(wait_for=[("0.0.0.0", P_NG_FWD), ("0.0.0.0", P_NG_511)])


def router_haproxy(t):
    """HAProxy in the router namespace: forwarding to the original destination, and 511."""
    d = os.path.join(t.tmp, "haproxy")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "haproxy.cfg")
    page = PAGE_511.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "")
    with open(conf, "w") as f:
        f.write(
            "global\n"
            "  nbthread 1\n"
            # HAProxy wants two descriptors per connection: as many as the
            # descriptor limit allows (it holds HA_IDLE idle ones)
            "  maxconn %d\n"
            "  log stdout format raw local0\n"
            "defaults\n"
            "  mode http\n"
            "  log global\n"
            "  option httplog\n"
            "  option http-keep-alive\n"
            "  maxconn %d\n"
            "  timeout connect 2s\n"
            "  timeout client 60s\n"
            "  timeout server 30s\n"
            "  timeout http-keep-alive 60s\n"
            "frontend fwd\n"
            # IPv4 only: HAProxy asks SO_ORIGINAL_DST for AF_INET sockets
            "  bind 0.0.0.0:%d\n"
            "  default_backend original_dst\n"
            "backend original_dst\n"
            "  http-reuse safe\n"
            # 0.0.0.0:0 = connect to the connection's original (pre-REDIRECT) destination
            "  server dst 0.0.0.0:0\n"
            "frontend deny\n"
            "  bind 0.0.0.0:%d\n"
            "  http-request return status 511 content-type \"text/html; charset=utf-8\" "
            "hdr Cache-Control no-store string \"%s\"\n" % (
                ha_maxconn(), ha_maxconn(), P_HA_FWD, P_HA_511, page))
    p = t.router.run(["haproxy", "-c", "-q", "-f", conf], check=False)
    if p.returncode != 0:
        raise RuntimeError("haproxy -c failed:\n%s%s" % (p.stdout, p.stderr))
    logf = open(os.path.join(d, "haproxy.log"), "wb")
    proc = t.router.popen(["haproxy", "-db", "-f", conf], stdout=logf, stderr=logf)
    for port in (P_HA_FWD, P_HA_511):
        t.router.wait_listening(port, proc=proc)
    return proc


def ha_maxconn():
    """HAProxy's maxconn: two descriptors each, within this process's limit."""
    return (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 200) // 2


def epoll_floor(t):
    """The minimal epoll server (scripts/bench/epoll511.c) answering 511 with one read and one write."""
    binary = os.path.join(t.tmp, "epoll511")
    p = subprocess.run(["cc", "-O2", "-o", binary, os.path.join(HERE, "epoll511.c")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cannot build epoll511: %s" % p.stderr)
    page = os.path.join(t.tmp, "page511.html")
    with open(page, "w") as f:
        f.write(PAGE_511)
    proc = t.router.popen([binary, str(P_EP_511), page], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.router.wait_listening(P_EP_511, proc=proc)
    return proc


def neigh_fill(t, n, dev, base=0):
    """Add `n` permanent neighbour entries on `dev` in the router (one `ip -batch`)."""
    lines = []
    for i in range(base, base + n):
        a = "10.%d.%d.%d" % (100 + (i >> 16), (i >> 8) & 255, i & 255)
        mac = "02:aa:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)
        lines.append("neigh add %s lladdr %s dev %s nud permanent" % (a, mac, dev))
    path = os.path.join(t.tmp, "neigh-%d.batch" % n)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    t.router.run(["ip", "-batch", path], timeout=120)


def neigh_count(t):
    """Number of IPv4 neighbour entries in the router namespace."""
    p = t.router.run(["ip", "-4", "neigh", "show"], timeout=60)
    return len(p.stdout.splitlines())


def seeded(gate):
    """The number wicketd logged as seeded from the kernel neighbour table (None if not found)."""
    end = time.monotonic() + 3
    while time.monotonic() < end:
        m = re.search(r"seeded (\d+) clients", gate.stderr())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    return None


# ----------------------------------------------------------------------------
# Measuring: wrk, CPU from /proc, RSS
# ----------------------------------------------------------------------------

def proc_tree(pid):
    """pid and every descendant (nginx's workers), from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def cpu_ns(pids):
    """CPU time (ns, user + system) of every thread of the processes, from schedstat."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def rss_kib(pids):
    """Resident memory (KiB) of the processes."""
    return sum(origins.vmrss_kib(p) or 0 for p in pids)


UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def wrk(t, url, o, pids, close=False):
    """Run wrk from the client namespace; a dict with rps, MB/s, errors and the servers' CPU."""
    args = ["wrk", "-t%d" % o.threads, "-c%d" % o.connections, "-d%ds" % o.duration, "--latency"]
    if close:
        args += ["-H", "Connection: close"]
    c0 = cpu_ns(pids) if pids else 0
    p = t.client.ns.run(args + [url], timeout=o.duration + 30, check=False)
    c1 = cpu_ns(pids) if pids else 0
    out = p.stdout
    r = {"raw": out, "rc": p.returncode, "cpu_ns": (c1 - c0) if pids else None}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    r["mbps"] = float(m.group(1)) * UNITS[m.group(2)] / MIB if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMG]?B) read", out)
    r["requests"] = int(m.group(1)) if m else 0
    r["bytes"] = float(m.group(2)) * UNITS[m.group(3)] if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"99%\s+([\d.]+\w+)", out)
    r["p99"] = m.group(1) if m else "?"
    if pids and r["requests"]:
        r["cpu_req_us"] = r["cpu_ns"] / 1000.0 / r["requests"]
        r["cpu_mib_ms"] = r["cpu_ns"] / 1e6 / (r["bytes"] / MIB) if r["bytes"] else None
    else:
        r["cpu_req_us"] = r["cpu_mib_ms"] = None
    return r


def median(runs):
    """The run with the median request rate (targets take turns, so noise spreads evenly)."""
    rs = sorted(runs, key=lambda r: r["rps"])
    return rs[len(rs) // 2]


def wicketd_page(t, port):
    """The body of the 511 the wicketd on `port` answers the client with."""
    t.set_redirect(port)
    r = h.curl(t.client, ["http://%s/1k.bin" % O4], timeout=10)
    page = r.body.decode("utf-8")
    if r.status != 511 or "$" in page or "\\" in page:  # nginx would expand $ in it
        raise RuntimeError("wicketd's 511 page cannot be the anchors': %r" % r.status_line)
    return page


def check(t, url, status, size=None):
    """One curl from the client: the target answers `status` (and `size` body bytes)."""
    r = h.curl(t.client, [url], timeout=10)
    if r.status != status or (size is not None and len(r.body) != size):
        raise RuntimeError("%s: expected %d (%s bytes), got %r with %d bytes" % (
            url, status, size, r.status_line, len(r.body)))
    return len(r.body)


def rounds(t, o, label, targets, path, status, size=None, close=False, unit="rps"):
    """Run every target once per round; {name: median run}."""
    runs = {}
    for rnd in range(o.rounds):
        for name, port, pids in targets:
            if port is None:
                u = "http://%s:%d%s" % (O4, DIRECT_PORT, path)
            else:
                t.set_redirect(port)
                u = "http://%s%s" % (O4, path)
            if rnd == 0:
                check(t, u, status, size)
            r = wrk(t, u, o, pids, close=close)
            bad = r["non2xx"] if status == 200 else r["requests"] - r["non2xx"] - o.connections
            if r["errors"] or r["requests"] == 0 or bad > 0:
                say("%s via %s: %d non-2xx, %d socket errors of %d\n%s" % (
                    label, name, r["non2xx"], r["errors"], r["requests"], r["raw"]))
            runs.setdefault(name, []).append(r)
            say("%-28s %-10s %9.0f req/s %8.1f MB/s cpu %s p99 %s" % (
                label, name, r["rps"], r["mbps"],
                "-" if r["cpu_req_us"] is None else "%.1f us/req" % r["cpu_req_us"], r["p99"]))
    return {n: median(rs) for n, rs in runs.items()}


def idle_memory(t, name, port, pids, n):
    """Bytes of server memory per idle keep-alive connection, with n held."""
    t.set_redirect(port)
    time.sleep(0.3)
    before = rss_kib(pids)
    p = t.client.ns.popen([sys.executable, "-c", IDLE_CLIENT, str(n), O4], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        if not line.startswith("held"):
            raise RuntimeError("%s: idle client: %r %s" % (name, line, p.stderr.read()))
        time.sleep(1.0)
        after = rss_kib(pids)
    finally:
        try:
            p.stdin.write("\n")
            p.stdin.flush()
        except OSError:
            pass
        p.wait(timeout=60)
    per = (after - before) * 1024.0 / n
    say("idle keep-alive %-10s %d held: RSS %d -> %d KiB, %.0f B each" % (name, n, before, after, per))
    time.sleep(1.0)  # let the server close them
    return per


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------

def main(argv):
    """Bring the topology up, run every measurement, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--duration", type=int, default=2, help="seconds per wrk run (2)")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="rounds; each round runs every target once, the table shows medians (3)")
    ap.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("-c", "--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--entries", type=int, default=100000, help="registry entries for the big run (100000)")
    ap.add_argument("--small", type=int, default=10, help="registry entries for the small run (10)")
    ap.add_argument("--idle", type=int, default=10000, help="idle keep-alive connections held (10000)")
    ap.add_argument("--only", default="fwd1k,fwd1m,511,idle,registry,splice",
                    help="comma-separated subset of fwd1k,fwd1m,511,idle,registry,splice (all)")
    o = ap.parse_args(argv)

    h.check_prereqs(h.default_wicketd())
    # 10,000 idle connections: as many descriptors as this process may have
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < o.idle + 1000:
        raise h.SetupError("RLIMIT_NOFILE %d is too low for --idle %d" % (hard, o.idle))
    for tool in ("wrk", "nginx", "haproxy", "cc"):
        if shutil.which(tool) is None:
            raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
    only = set(o.only.split(","))
    t0 = time.monotonic()
    res = {}
    with h.Topology(wicket_port=P_WK_FWD) as t:
        say("topology up (%s)" % t.prefix)
        # many short connections: a wide port range and TIME_WAIT reuse in the client,
        # short-lived TIME_WAIT conntrack entries in the router
        t.client.ns.sysctl("net.ipv4.ip_local_port_range", "1024 65000")
        t.client.ns.sysctl("net.ipv4.tcp_tw_reuse", 1)
        t.router.sysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1)
        www = os.path.join(t.tmp, "www")
        sizes = {"1k.bin": 1024, "1m.bin": MIB, "16k.bin": 16 << 10, "64k.bin": 64 << 10,
                 "256k.bin": 256 << 10, "640k.bin": 640 << 10, "896k.bin": 896 << 10,
                 "4m.bin": 4 * MIB}
        origins.make_files(www, sizes)
        origins.origin_nginx(t, www, ["%s:80" % O4, "%s:%d" % (O4, DIRECT_PORT)])
        # the client is in the router's neighbour table before any wicketd seeds
        t.client.ns.run(["curl", "-s", "--max-time", "1", "http://%s:9/" % h.LAN4], check=False)
        # a veth in the router for the registry entries (no dummy module here)
        t.router.ip("link", "add", "nb0", "type", "veth", "peer", "name", "nb1")
        t.router.ip("link", "set", "nb0", "up")
        t.router.ip("link", "set", "nb1", "up")
        neigh_fill(t, o.small, "nb0", base=1 << 20)
        wk_fwd = t.start_wicketd(wk_conf(P_WK_FWD, "allow_ip 10.99.0.0/24"))
        wk_copy = t.start_wicketd(wk_conf(P_WK_COPY, "allow_ip 10.99.0.0/24\nsplice_pipes 0"))
        wk_511 = t.start_wicketd(wk_conf(P_WK_511))
        small = seeded(wk_511)
        global PAGE_511
        PAGE_511 = wicketd_page(t, P_WK_511)
        ng = router_nginx(t, os.path.join(t.tmp, "nginx-router"))
        ha = router_haproxy(t)
        ep = epoll_floor(t)
        say("setup %.1fs; wicketd %s" % (time.monotonic() - t0, wk_fwd.binary))
        P = {"wicketd": [wk_fwd.proc.pid], "wicketd (copy)": [wk_copy.proc.pid],
             "nginx": proc_tree(ng.proc.pid), "HAProxy": [ha.pid], "epoll floor": [ep.pid],
             "wicketd 511": [wk_511.proc.pid]}

        fwd = [("wicketd", P_WK_FWD, P["wicketd"]), ("nginx", P_NG_FWD, P["nginx"]),
               ("HAProxy", P_HA_FWD, P["HAProxy"]), ("direct", None, None)]
        if "fwd1k" in only:
            res["fwd1k"] = rounds(t, o, "forward 1 KiB, keep-alive", fwd, "/1k.bin", 200, 1024)
        if "fwd1m" in only:
            res["fwd1m"] = rounds(t, o, "forward 1 MiB, keep-alive",
                                  fwd[:1] + [("wicketd (copy)", P_WK_COPY, P["wicketd (copy)"])] + fwd[1:],
                                  "/1m.bin", 200, MIB)
        den = [("wicketd", P_WK_511, P["wicketd 511"]), ("nginx", P_NG_511, P["nginx"]),
               ("HAProxy", P_HA_511, P["HAProxy"]), ("epoll floor", P_EP_511, P["epoll floor"])]
        if "511" in only:
            res["511ka"] = rounds(t, o, "511, keep-alive", den, "/1k.bin", 511)
            res["511close"] = rounds(t, o, "511, Connection: close", den, "/1k.bin", 511, close=True)
        if "splice" in only:
            res["splice"] = {}
            for name in ("64k.bin", "256k.bin", "640k.bin", "896k.bin", "1m.bin", "4m.bin"):
                res["splice"][name] = rounds(
                    t, o, "forward %s" % name,
                    [("splice", P_WK_FWD, P["wicketd"]), ("copy", P_WK_COPY, P["wicketd (copy)"])],
                    "/" + name, 200, sizes[name])
        if "idle" in only:
            res["idle"] = {}
            for name, port, pids in (("wicketd", P_WK_511, P["wicketd 511"]), ("nginx", P_NG_511, P["nginx"]),
                                     ("HAProxy", P_HA_511, P["HAProxy"]),
                                     ("epoll floor", P_EP_511, P["epoll floor"])):
                n = min(o.idle, ha_maxconn() - 100) if name == "HAProxy" else o.idle
                res["idle"][name] = idle_memory(t, name, port, pids, n)
                res.setdefault("idle_n", {})[name] = n
        reg, big, wk_big = [], None, None
        if "registry" in only:
            big, wk_big, reg = registry_runs(t, o, small, P["wicketd 511"])
        for d in (wk_fwd, wk_copy, wk_511, wk_big):
            if d is not None:
                d.stop(check=False)
        elapsed = time.monotonic() - t0
    print_tables(o, res, reg, small, big, elapsed)
    return 0


def registry_runs(t, o, small, small_pids):
    """The 511 rate (and CPU) of the small-registry wicketd against one seeded with o.entries more."""
    ts = time.monotonic()
    neigh_fill(t, o.entries, "nb0")
    say("%d neighbour entries added in %.1fs (table now %d)" % (
        o.entries, time.monotonic() - ts, neigh_count(t)))
    wk_big = t.start_wicketd(wk_conf(P_WK_511_BIG))
    big = seeded(wk_big)
    say("registries: %s and %s entries seeded" % (small, big))
    reg = []
    for label, close in (("keep-alive", False), ("Connection: close", True)):
        r = rounds(t, o, "511 %s registry" % label,
                   [("small", P_WK_511, small_pids), ("big", P_WK_511_BIG, [wk_big.proc.pid])],
                   "/1k.bin", 511, close=close)
        reg.append((label, r))
    return big, wk_big, reg


# ----------------------------------------------------------------------------
# The tables
# ----------------------------------------------------------------------------

def f_rate(r, unit):
    """A rate cell."""
    if r is None:
        return "–"
    return ("%.0f req/s" % r["rps"]) if unit == "rps" else ("%.0f MB/s" % r["mbps"])


def f_cpu(r, unit):
    """A CPU cell: µs per request or ms per MiB."""
    if r is None or r.get("cpu_req_us") is None:
        return "–"
    if unit == "mib":
        return "%.2f ms" % r["cpu_mib_ms"] if r.get("cpu_mib_ms") else "–"
    return "%.1f µs" % r["cpu_req_us"]


def verdict(value, limit, higher_better):
    """`value / limit` and whether it meets the target."""
    if value is None or not limit:
        return "–"
    ok = value >= limit if higher_better else value <= limit
    return "%s (%s)" % ("met" if ok else "MISSED", "%.2f× the target" % (value / limit))


def print_tables(o, res, reg, small, big, elapsed):
    """Print the Markdown tables and the targets of issue 8."""
    print("wicket benchmark: median of %d rounds of wrk -t%d -c%d -d%ds from the client namespace; "
          "%s, %d CPUs (%s); %s" % (o.rounds, o.threads, o.connections, o.duration, "Linux " + platform.release(),
                                    os.cpu_count(), cpu_model(), time.strftime("%Y-%m-%d")))
    print()
    cols = ["wicketd", "wicketd (copy)", "nginx", "HAProxy", "direct", "epoll floor"]
    print("| scenario | " + " | ".join(cols) + " |")
    print("| --- |" + " ---: |" * len(cols))
    rows = (("forward 1 KiB keep-alive (req/s)", "fwd1k", "rps", None),
            ("server CPU per 1 KiB request", "fwd1k", None, "req"),
            ("forward 1 MiB (MB/s)", "fwd1m", "mbps", None),
            ("server CPU per MiB forwarded", "fwd1m", None, "mib"),
            ("511 keep-alive (req/s)", "511ka", "rps", None),
            ("server CPU per 511", "511ka", None, "req"),
            ("511, new connection each (req/s)", "511close", "rps", None),
            ("server CPU per 511, new connection each", "511close", None, "req"))
    for label, key, rate, cpu in rows:
        if key not in res:
            continue
        cells = [f_rate(res[key].get(c), rate) if rate else f_cpu(res[key].get(c), cpu) for c in cols]
        print("| %s | %s |" % (label, " | ".join(cells)))
    if "idle" in res:
        print("| memory per idle keep-alive connection (%d held) | %s |" % (o.idle, " | ".join(
            ("%.0f B" % res["idle"][c] + ("" if res["idle_n"][c] == o.idle else " (%d held)" % res["idle_n"][c]))
            if c in res["idle"] else "–" for c in cols)))
    if reg:
        print()
        print("| wicketd answering 511 | registry %s entries | registry %s entries | big/small | CPU per 511, small | CPU per 511, big |" % (
            small if small is not None else "?", big if big is not None else "?"))
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, r in reg:
            print("| %s | %s | %s | %.2f | %s | %s |" % (label, f_rate(r["small"], "rps"), f_rate(r["big"], "rps"),
                                                         r["big"]["rps"] / r["small"]["rps"] if r["small"]["rps"] else 0,
                                                         f_cpu(r["small"], "req"), f_cpu(r["big"], "req")))
    if "splice" in res:
        print()
        print("| forward (keep-alive), wicketd | splice MB/s | copy MB/s | splice CPU/MiB | copy CPU/MiB |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, r in res["splice"].items():
            print("| %s | %s | %s | %s | %s |" % (name, f_rate(r["splice"], "mbps"), f_rate(r["copy"], "mbps"),
                                                 f_cpu(r["splice"], "mib"), f_cpu(r["copy"], "mib")))
    print()
    print_targets(res, reg)
    print()
    print("Total %.0f s." % elapsed)


def print_targets(res, reg):
    """The targets of issue 8 (default proxy mode), each with its ratio."""
    def g(key, name, field):
        r = res.get(key, {}).get(name)
        return None if r is None else r.get(field)

    def best(key, field, low=False):
        vals = [v for v in (g(key, "nginx", field), g(key, "HAProxy", field)) if v]
        return (min(vals) if low else max(vals)) if vals else None

    print("| target (issue 8) | wicketd | limit | result |")
    print("| --- | ---: | ---: | --- |")

    def row(text, value, limit, higher, fmtv):
        if value is None or limit is None:
            return
        print("| %s | %s | %s | %s |" % (text, fmtv % value, fmtv % limit, verdict(value, limit, higher)))

    if "fwd1m" in res:
        b = best("fwd1m", "mbps")
        row("forward 1 MiB: ≥ 2.0× the better of nginx and HAProxy (MB/s)", g("fwd1m", "wicketd", "mbps"),
            2.0 * b if b else None, True, "%.0f")
        d = g("fwd1m", "direct", "mbps")
        row("forward 1 MiB: ≥ 0.5× direct routing (MB/s)", g("fwd1m", "wicketd", "mbps"),
            0.5 * d if d else None, True, "%.0f")
        n = g("fwd1m", "nginx", "cpu_mib_ms")
        row("forward 1 MiB: server CPU per MiB ≤ 0.5× nginx's (ms)", g("fwd1m", "wicketd", "cpu_mib_ms"),
            0.5 * n if n else None, False, "%.2f")
    if "fwd1k" in res:
        b = best("fwd1k", "rps")
        row("forward 1 KiB: ≥ 1.1× the better proxy's req/s", g("fwd1k", "wicketd", "rps"),
            1.1 * b if b else None, True, "%.0f")
        b = best("fwd1k", "cpu_req_us", low=True)
        row("forward 1 KiB: server CPU per request ≤ 0.85× the better proxy's (µs)",
            g("fwd1k", "wicketd", "cpu_req_us"), 0.85 * b if b else None, False, "%.1f")
    if "511ka" in res:
        n = g("511ka", "nginx", "cpu_req_us")
        row("511 keep-alive: server CPU per request ≤ 0.9× nginx's (µs)", g("511ka", "wicketd", "cpu_req_us"),
            0.9 * n if n else None, False, "%.1f")
        e = g("511ka", "epoll floor", "cpu_req_us")
        row("511 keep-alive: server CPU per request ≤ 1.15× the epoll floor's (µs)",
            g("511ka", "wicketd", "cpu_req_us"), 1.15 * e if e else None, False, "%.1f")
    if "511close" in res:
        row("511, new connection each: server CPU per request ≤ nginx's (µs)",
            g("511close", "wicketd", "cpu_req_us"), g("511close", "nginx", "cpu_req_us"), False, "%.1f")
    if "idle" in res:
        row("idle keep-alive connection ≤ 600 B", res["idle"].get("wicketd"), 600.0, False, "%.0f")
    for label, r in reg:
        if r["small"]["rps"]:
            row("511 rate (%s) with %s registry entries ≥ 0.95× with 10" % (label, "100,000"),
                r["big"]["rps"] / r["small"]["rps"], 0.95, True, "%.2f")


def cpu_model():
    """The CPU model name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except h.SetupError as e:
        print("bench: cannot run: %s" % e, file=sys.stderr)
        sys.exit(1)
