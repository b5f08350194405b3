#!/usr/bin/env python3
# bench: wicket's benchmark -- the e2e harness's three-namespace topology, wrk in
# the client namespace, wicketd against nginx, HAProxy and direct routing for
# forwarding, against nginx and HAProxy for answering 511, and the 511 rate with
# 100,000 registry entries against 10. Prints one Markdown table.
"""wicket benchmark (run as root through scripts/bench.sh).

    python3 scripts/bench/bench.py [-d SECONDS] [-r ROUNDS] [-t THREADS] [-c CONNECTIONS]
                                   [--entries N] [--small N] [--only fwd1k,fwd1m,511,registry]

Targets take turns within each round and the table shows each target's median
round, so that a burst of load from elsewhere on the machine does not land on
one target only.

Speed is measured here, never asserted by a test. Every target is checked with
one curl (status and body) before wrk runs against it; traffic stays inside the
namespaces the harness creates and removes.
"""

import argparse
import os
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
DIRECT_PORT = 8080          # origin nginx port the router does not redirect
P_WK_FWD, P_NG_FWD, P_HA_FWD = 3990, 3991, 3992
P_NG_511, P_HA_511 = 3993, 3994
P_WK_511, P_WK_511_BIG = 3995, 3996

# The anchors answer 511 with a page of about the size of wicketd's own.
PAGE_511 = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Network Authentication Required"
            "</title><meta http-equiv=\"refresh\" content=\"0; url=http://10.99.0.1/portal?url=http%3A%2F%2F"
            "10.98.0.2%2F1k.bin\"></head><body><h1>Network Authentication Required</h1><p>You need to "
            "<a href=\"http://10.99.0.1/portal?url=http%3A%2F%2F10.98.0.2%2F1k.bin\">log in</a> "
            "to use this network.</p></body></html>\n")

WK_CONF = """\
listen 0.0.0.0:{port}
gateway_id bench
portal_url http://10.99.0.1/portal
audit_log {{audit}}
control_socket {{tmp}}/control.sock
state_file {{tmp}}/state
max_connections 4096
max_clients 200000
{extra}
"""


def say(msg):
    """Progress on stderr (the table goes to stdout)."""
    print("bench: " + msg, file=sys.stderr, flush=True)


def wk_conf(port, extra=""):
    """wicketd config text for one instance."""
    return WK_CONF.format(port=port, extra=extra)


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
    ng = origins.Nginx(t.router, os.path.join(t.tmp, "nginx-router"), block, workers=1)
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
            "  maxconn 8000\n"
            "  log stdout format raw local0\n"
            "defaults\n"
            "  mode http\n"
            "  log global\n"
            "  option httplog\n"
            "  option http-keep-alive\n"
            "  timeout connect 2s\n"
            "  timeout client 30s\n"
            "  timeout server 30s\n"
            "  timeout http-keep-alive 30s\n"
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
            "hdr Cache-Control no-store string \"%s\"\n" % (P_HA_FWD, P_HA_511, page))
    p = t.router.run(["haproxy", "-c", "-q", "-f", conf], check=False)
    if p.returncode != 0:
        raise RuntimeError("haproxy -c failed:\n%s%s" % (p.stdout, p.stderr))
    logf = open(os.path.join(d, "haproxy.log"), "wb")
    proc = t.router.popen(["haproxy", "-db", "-f", conf], stdout=logf, stderr=logf)
    for port in (P_HA_FWD, P_HA_511):
        t.router.wait_listening(port, proc=proc)
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


UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def wrk(t, url, o, close=False):
    """Run wrk from the client namespace; return a dict with rps, MB/s and error counts."""
    args = ["wrk", "-t%d" % o.threads, "-c%d" % o.connections, "-d%ds" % o.duration, "--latency"]
    if close:
        args += ["-H", "Connection: close"]
    p = t.client.ns.run(args + [url], timeout=o.duration + 30, check=False)
    out = p.stdout
    r = {"raw": out, "rc": p.returncode}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    r["mbps"] = float(m.group(1)) * UNITS[m.group(2)] / (1 << 20) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"99%\s+([\d.]+\w+)", out)
    r["p99"] = m.group(1) if m else "?"
    return r


def median(runs):
    """The run with the median request rate (targets take turns, so noise spreads evenly)."""
    rs = sorted(runs, key=lambda r: r["rps"])
    return rs[len(rs) // 2]


def check(t, url, status, size=None):
    """One curl from the client: the target answers `status` (and `size` body bytes)."""
    r = h.curl(t.client, [url], timeout=10)
    if r.status != status or (size is not None and len(r.body) != size):
        raise RuntimeError("%s: expected %d (%s bytes), got %r with %d bytes" % (
            url, status, size, r.status_line, len(r.body)))
    return len(r.body)


def fmt(v, unit):
    """Format a rate."""
    if v is None:
        return "–"
    return ("%.0f req/s" % v) if unit == "rps" else ("%.0f MB/s" % v)


def ratio(a, b):
    """wicketd / anchor."""
    if a is None or not b:
        return "–"
    return "%.2f" % (a / b)


def main(argv):
    """Bring the topology up, run every measurement, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--duration", type=int, default=2, help="seconds per wrk run (2)")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="rounds; each round runs every target once, the table shows medians (3)")
    ap.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("-c", "--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--entries", type=int, default=100000, help="registry entries for the big run (100000)")
    ap.add_argument("--small", type=int, default=10, help="registry entries for the small run (10)")
    ap.add_argument("--only", default="fwd1k,fwd1m,511,registry",
                    help="comma-separated subset of fwd1k,fwd1m,511,registry (all)")
    o = ap.parse_args(argv)

    h.check_prereqs(h.default_wicketd())
    for tool in ("wrk", "nginx", "haproxy"):
        if shutil.which(tool) is None:
            raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
    t0 = time.monotonic()
    rows = []
    sizes = {}
    with h.Topology(wicket_port=P_WK_FWD) as t:
        say("topology up (%s)" % t.prefix)
        # many short connections: a wide port range and TIME_WAIT reuse in the client,
        # short-lived TIME_WAIT conntrack entries in the router
        t.client.ns.sysctl("net.ipv4.ip_local_port_range", "1024 65000")
        t.client.ns.sysctl("net.ipv4.tcp_tw_reuse", 1)
        t.router.sysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1)
        www = os.path.join(t.tmp, "www")
        origins.make_files(www, {"1k.bin": 1024, "1m.bin": 1 << 20})
        origins.origin_nginx(t, www, ["%s:80" % O4, "%s:%d" % (O4, DIRECT_PORT)])
        logdir = os.path.join(t.tmp, "nginx-router")
        router_nginx(t, logdir)
        router_haproxy(t)
        # the client is in the router's neighbour table before any wicketd seeds
        # (a refused connection to the router is enough for both sides to ARP)
        t.client.ns.run(["curl", "-s", "--max-time", "1", "http://%s:9/" % h.LAN4], check=False)
        # a veth in the router for the registry entries (no dummy module here)
        t.router.ip("link", "add", "nb0", "type", "veth", "peer", "name", "nb1")
        t.router.ip("link", "set", "nb0", "up")
        t.router.ip("link", "set", "nb1", "up")
        neigh_fill(t, o.small, "nb0", base=1 << 20)
        wk_fwd = t.start_wicketd(wk_conf(P_WK_FWD, "allow_ip 10.99.0.0/24"))
        wk_511 = t.start_wicketd(wk_conf(P_WK_511))
        small = seeded(wk_511)
        say("setup %.1fs; wicketd %s" % (time.monotonic() - t0, wk_fwd.binary))

        targets_fwd = [("wicketd", P_WK_FWD), ("nginx", P_NG_FWD), ("HAProxy", P_HA_FWD), ("direct", None)]
        only = set(o.only.split(","))
        for label, path, unit, size, key in (("forward 1 KiB, keep-alive", "/1k.bin", "rps", 1024, "fwd1k"),
                                             ("forward 1 MiB, keep-alive", "/1m.bin", "mbps", 1 << 20, "fwd1m")):
            if key not in only:
                continue
            runs = {}
            for rnd in range(o.rounds):
                for name, port in targets_fwd:
                    if port is None:
                        u = "http://%s:%d%s" % (O4, DIRECT_PORT, path)
                    else:
                        t.set_redirect(port)
                        u = "http://%s%s" % (O4, path)
                    if rnd == 0:
                        check(t, u, 200, size)
                    r = wrk(t, u, o)
                    if r["non2xx"] or r["errors"] or r["requests"] == 0:
                        say("%s via %s: %d non-2xx, %d socket errors of %d\n%s" % (
                            label, name, r["non2xx"], r["errors"], r["requests"], r["raw"]))
                    runs.setdefault(name, []).append(r)
                    say("%-28s %-8s %10.0f req/s %8.1f MB/s p99 %s" % (label, name, r["rps"], r["mbps"], r["p99"]))
            res = {n: median(rs) for n, rs in runs.items()}
            rows.append((label, unit, res))

        targets_511 = [("wicketd", P_WK_511), ("nginx", P_NG_511), ("HAProxy", P_HA_511)]
        for label, close in (("511, keep-alive", False), ("511, Connection: close", True)):
            if "511" not in only:
                continue
            runs = {}
            for rnd in range(o.rounds):
                for name, port in targets_511:
                    t.set_redirect(port)
                    u = "http://%s/1k.bin" % O4
                    if rnd == 0:
                        sizes[name] = check(t, u, 511)
                    r = wrk(t, u, o, close=close)
                    # (a run may end with a request whose answer was still on its way)
                    if r["errors"] or r["requests"] == 0 or r["non2xx"] < r["requests"] - o.connections:
                        say("%s via %s: %d non-2xx, %d socket errors of %d\n%s" % (
                            label, name, r["non2xx"], r["errors"], r["requests"], r["raw"]))
                    runs.setdefault(name, []).append(r)
                    say("%-28s %-8s %10.0f req/s p99 %s" % (label, name, r["rps"], r["p99"]))
            res = {n: median(rs) for n, rs in runs.items()}
            rows.append((label, "rps", res))

        # issue 4: the same 511 with a big registry, seeded from the kernel table
        reg, big, wk_big = [], None, None
        if "registry" in only:
            big, wk_big, reg = registry_runs(t, o, small)
        for d in (wk_fwd, wk_511, wk_big):
            if d is not None:
                d.stop(check=False)
        elapsed = time.monotonic() - t0
    print_table(o, rows, reg, small, big, sizes, elapsed)
    return 0


def registry_runs(t, o, small):
    """The 511 rate of the small-registry wicketd against one seeded with o.entries more."""
    ts = time.monotonic()
    neigh_fill(t, o.entries, "nb0")
    say("%d neighbour entries added in %.1fs (table now %d)" % (
        o.entries, time.monotonic() - ts, neigh_count(t)))
    wk_big = t.start_wicketd(wk_conf(P_WK_511_BIG))
    big = seeded(wk_big)
    say("registries: %s and %s entries seeded" % (small, big))
    reg = []
    for label, close in (("keep-alive", False), ("Connection: close", True)):
        runs = {}
        for rnd in range(o.rounds):
            for name, port in (("small", P_WK_511), ("big", P_WK_511_BIG)):
                t.set_redirect(port)
                u = "http://%s/1k.bin" % O4
                if rnd == 0:
                    check(t, u, 511)
                r = wrk(t, u, o, close=close)
                runs.setdefault(name, []).append(r)
                say("511 %-18s registry %-6s %10.0f req/s" % (label, name, r["rps"]))
        res = {n: median(rs) for n, rs in runs.items()}
        reg.append((label, res))
    return big, wk_big, reg


def print_table(o, rows, reg, small, big, sizes, elapsed):
    """Print the Markdown tables."""
    print("wicket benchmark: median of %d rounds of wrk -t%d -c%d -d%ds from the client namespace; "
          "%s, %d CPUs (%s); %s" % (o.rounds, o.threads, o.connections, o.duration, "Linux " + platform.release(),
        os.cpu_count(), cpu_model(), time.strftime("%Y-%m-%d")))
    print()
    print("| scenario | wicketd | nginx | HAProxy | direct | wicketd/nginx | wicketd/HAProxy | wicketd/direct |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, unit, res in rows:
        key = "rps" if unit == "rps" else "mbps"
        v = {n: (res[n][key] if n in res else None) for n in ("wicketd", "nginx", "HAProxy", "direct")}
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt(v["wicketd"], unit), fmt(v["nginx"], unit), fmt(v["HAProxy"], unit),
            fmt(v["direct"], unit), ratio(v["wicketd"], v["nginx"]), ratio(v["wicketd"], v["HAProxy"]),
            ratio(v["wicketd"], v["direct"])))
    if not reg:
        print("511 body bytes: %s. Total %.0f s." % (", ".join("%s %d" % kv for kv in sizes.items()), elapsed))
        return
    print()
    print("| wicketd answering 511 | registry %s entries | registry %s entries | big/small |" % (
        small if small is not None else "?", big if big is not None else "?"))
    print("| --- | ---: | ---: | ---: |")
    for label, res in reg:
        print("| %s | %s | %s | %s |" % (label, fmt(res["small"]["rps"], "rps"), fmt(res["big"]["rps"], "rps"),
                                         ratio(res["big"]["rps"], res["small"]["rps"])))
    print()
    print("511 body bytes: %s. Total %.0f s." % (", ".join("%s %d" % kv for kv in sizes.items()), elapsed))


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
