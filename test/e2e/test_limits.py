#!/usr/bin/env python3
# test_limits: end-to-end tests of the connection path's limits (issue 12):
# one client flooding connections cannot starve another client's 511s and
# forwarded requests, and hits its own limits (counted in wicketctl stats);
# slow heads, a connection burst against max_connections, fairness when the
# gate is full, the 511 rate, and file-descriptor exhaustion under
# `ulimit -n 256`; and the same connect flood against the ruleset that
# scripts/wicket-firewall installs, whose per-source meter drops it in the
# kernel.
"""wicket e2e: per-client limits keep one client's flood from starving the rest.

Run as root: python3 test/e2e/test_limits.py [-v] [-l] [NAME_SUBSTRING ...]

Latency is compared as a ratio against idle phases of the same daemon in
the same test, before and after the load (p99 of requests on fresh
connections), never against a fixed number of milliseconds. The idle
reference is the worse of the two idle phases, floored at IDLE_FLOOR_MS, so
that the ratio means something on a shared machine where 1 ms is noise.
The processes that stand for other devices run at other priorities than on
a LAN they would need (see flood()); wicketd and the origin run at nice -5
in every phase alike, so that other work on the machine weighs less.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import origins  # noqa: E402

O4 = h.ORIGIN4
FLOOD = os.path.join(h.HERE, "flood.py")
WICKETCTL = os.path.join(h.REPO, "build", "wicketctl")
FIREWALL = os.path.join(h.REPO, "scripts", "wicket-firewall")
CONNECT_LIMIT = (40, 80)  # wicket-firewall's default -c: 40 SYNs/s per source, burst 80
IDLE_FLOOR_MS = 10.0  # the idle p99 used in the ratio is at least this
MAX_RATIO = 2.0       # loaded p99 <= MAX_RATIO x idle p99 (issue 12)

# The measuring clients send 30 requests/s on fresh connections, so the test
# raises the rates from their defaults (20 connections/s, 10 answers/s) to
# 50/s: the measurers stay under their own limits, the flooder exceeds them
# a hundredfold. client_connections stays at its default of 64.
BASE = {
    "listen": ["0.0.0.0:3990", "[::]:3990"],
    "audit_log": "{audit}",
    "interface": "br-lan",
    "control_socket": "{tmp}/control.sock",
    "state_file": "{tmp}/state",
    "header_timeout": 10,
    "allow_ip": "10.99.0.11/32",
    "client_connect_rate": 50,
    "client_connect_burst": 50,
    "client_511_rate": 50,
    "client_511_burst": 50,
}


class Fixture:
    """Clients on the bridge: the measurer c (511s), adm (allow_ip: forwarded),
    flooders fl, f2, f3, f4; nginx as the origin; a wicketd restarted per test."""

    def __init__(self):
        """Bring the topology up (the daemon is started by each test)."""
        h.check_prereqs(h.default_wicketd())
        if not os.path.exists(WICKETCTL):
            raise h.SetupError("wicketctl not built: %s" % WICKETCTL)
        self.topo = h.Topology().__enter__()
        t = self.topo
        self.c = t.client
        self.adm = t.add_client("adm")      # 10.99.0.11
        self.fl = t.add_client("fl")        # 10.99.0.12
        self.f2 = t.add_client("ftwo")      # 10.99.0.13
        self.f3 = t.add_client("fthree")    # 10.99.0.14
        self.f4 = t.add_client("ffour")     # 10.99.0.15
        if shutil.which("nginx") is None:
            raise h.SetupError("nginx not found (scripts/deps.sh installs nginx-light)")
        www = os.path.join(t.tmp, "www")
        os.makedirs(www)
        self.nginx = origins.origin_nginx(t, www, ["%s:80" % O4, "[%s]:80" % h.ORIGIN6],
                                          extra="    location /lim { return 200 'ok\\n'; }\n")
        for pid in h.host_run(["ip", "netns", "pids", t.origin.name]).stdout.split():
            renice(int(pid))  # nginx's master and worker
        self.gate = None
        self.start()

    def start(self, env=None, binary=None, **over):
        """(Re)start wicketd with BASE, keys in `over` replacing or adding to it."""
        if self.gate is not None:
            h.stop_checked(self.gate)
            if self.gate in self.topo.daemons:
                self.topo.daemons.remove(self.gate)
        self.gate = self.topo.start_wicketd(dict(BASE, **over), env=env, binary=binary)
        renice(self.gate.proc.pid)
        return self.gate

    def stats(self):
        """`wicketctl stats` as a dict of ints (and 'paused')."""
        sock = os.path.join(self.gate.dir, "control.sock")
        p = subprocess.run([WICKETCTL, "-s", sock, "stats"], capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 0, "wicketctl stats: %s%s" % (p.stdout, p.stderr)
        out = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition(": ")
            out[k] = int(v) if v.isdigit() else v
        return out


def renice(pid, n=-5):
    """Run a process (and its threads) at nice n."""
    subprocess.run(["renice", "-n", str(n), "-p", str(pid)], check=True, capture_output=True)


def flood(client, *args, seconds=8.0, host=O4):
    """Start flood.py hold from `client` against the origin's port 80 (the gate).

    The flooder runs at nice 19 and the measurers at nice -5: on the test machine
    they share the router's CPUs, where on a LAN each is a device of its own; the
    gate competes with neither (its kernel work for the flood stays on the router)."""
    return client.ns.popen(["nice", "-n", "19", h.PY, FLOOD, "hold", host, 80,
                            "--seconds", seconds] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def flood_result(p, timeout=60):
    """Wait for a flood.py process and return its JSON report."""
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, "flood.py failed (%s): %s" % (p.returncode, err.decode()[-2000:])
    return json.loads(out)


def measure_start(client, path, count=150, rate=30):
    """Start a paced latency run (fresh connection per request) from `client`."""
    return client.ns.popen(["nice", "-n", "-5", h.PY, FLOOD, "latency", O4, 80, "--count", count,
                            "--rate", rate,
                            "--path", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def p99(ms):
    """The 99th percentile of a list of milliseconds."""
    s = sorted(ms)
    return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def measure_wait(a, b, tag):
    """Collect a 511 run and a forwarded run; both must have been answered in full."""
    ra, rb = flood_result(a), flood_result(b)
    assert ra["errors"] == {} and ra["statuses"] == {"511": len(ra["ms"])}, \
        "511 client (%s): statuses %r errors %r" % (tag, ra["statuses"], ra["errors"])
    assert rb["errors"] == {} and rb["statuses"] == {"200": len(rb["ms"])}, \
        "forwarded client (%s): statuses %r errors %r" % (tag, rb["statuses"], rb["errors"])
    return ra, rb


def measure(f, tag, count=150):
    """Measure the 511 client c and the forwarded client adm at once."""
    return measure_wait(measure_start(f.c, "/lim-%s-deny" % tag, count),
                        measure_start(f.adm, "/lim-%s-fwd" % tag, count), tag)


def check_ratio(idles, loaded, what):
    """Loaded p99 within MAX_RATIO of the worse idle p99 (floored); return the figures."""
    i = max(p99(x["ms"]) for x in idles)
    ld = p99(loaded["ms"])
    allowed = MAX_RATIO * max(i, IDLE_FLOOR_MS)
    print("    %s: p99 idle %s ms, loaded %.2f ms (ratio %.2f unfloored; allowed %.2f ms); "
          "medians %s / %.2f" % (
        what, "/".join("%.2f" % p99(x["ms"]) for x in idles), ld, ld / i, allowed,
        "/".join("%.2f" % sorted(x["ms"])[len(x["ms"]) // 2] for x in idles),
        sorted(loaded["ms"])[len(loaded["ms"]) // 2]))
    if h.VERBOSE or os.environ.get("LIMITS_DETAIL"):
        worst = sorted(zip(loaded["ms"], loaded["connect_ms"]))[-5:]
        print("      worst idle %r loaded (total, connect) %r" % (
            [sorted(x["ms"])[-5:] for x in idles], worst))
    if ld > allowed:
        raise RatioFailure("%s: p99 %.2f ms under load vs %.2f ms idle (allowed %.2f ms)" % (
            what, ld, i, allowed))
    return i, ld


class RatioFailure(AssertionError):
    """A latency ratio out of bounds (retried once: the machine is shared)."""


def once_more_on_noise(body):
    """Turn a test body into a test that runs it again once when only a latency ratio
    failed: a stall of the shared machine in one phase can pass for the gate's, and a
    gate that really starves other clients fails both runs (and errors fail at once)."""
    def test(f):
        """Run the body; on a ratio failure, run it once more."""
        try:
            body(f)
        except RatioFailure as e:
            print("    ratio failed (%s); running once more" % e)
            body(f)
    test.__name__ = body.__name__
    test.__doc__ = body.__doc__
    return test


class Phases:
    """The three phases of a latency comparison: idle, loaded, idle again."""

    def __init__(self, f, tag):
        """Measure the first idle phase."""
        self.f, self.tag = f, tag
        self.idle = [measure(f, tag + "-idle1")]

    def loaded(self, ramp=1.0):
        """With the load already started: wait `ramp` s, then measure while sampling the
        gate's connections and CPU. Returns (connections samples, CPU share)."""
        time.sleep(ramp)
        pid = self.f.gate.proc.pid
        cpu0, t0 = proc_cpu_s(pid), time.monotonic()
        a = measure_start(self.f.c, "/lim-%s-load-deny" % self.tag)
        b = measure_start(self.f.adm, "/lim-%s-load-fwd" % self.tag)
        held = sample_connections(self.f, [a, b])
        self.cpu = (proc_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        self.load = measure_wait(a, b, self.tag + "-load")
        return held, self.cpu

    def check(self):
        """The second idle phase (the load has ended), then the two ratios."""
        self.idle.append(measure(self.f, self.tag + "-idle2"))
        check_ratio([x[0] for x in self.idle], self.load[0], "511 client")
        check_ratio([x[1] for x in self.idle], self.load[1], "forwarded client")


@once_more_on_noise
def test_one_client_flood(f):
    """fl opens connections as fast as it can (2,000 at a time, reopening every one that
    is reset) and holds them: c's 511s and adm's forwarded requests keep their p99 within
    2x of the idle gate, fl never holds more than client_connections (64), and the
    refusals are counted by reason."""
    f.start()
    ph = Phases(f, "one")
    p = flood(f.fl, "--conns", 2000, "--reconnect", seconds=7)
    held, cpu = ph.loaded()
    st = f.stats()
    r = flood_result(p)
    print("    flooder: %d attempts in 7 s; gate held %d, used %.0f%% of a core; %s" % (
        r["attempts"], max(held), cpu * 100,
        {k: v for k, v in st.items() if k.startswith(("refused", "shed"))}))
    # 64 for the flooder plus the measurers' one or two in flight
    assert max(held) <= 64 + 4, "the gate held %d connections (flooder limit 64)" % max(held)
    assert st["refused_client_connections"] > 0, st
    assert st["refused_client_rate"] > 0, st
    assert st["refused"] >= st["refused_client_connections"] + st["refused_client_rate"], st
    ph.check()


@once_more_on_noise
def test_one_client_flood_kernel_meter(f):
    """The same flood as test_one_client_flood against the ruleset of
    scripts/wicket-firewall (default -c 40/80) instead of the harness's bare REDIRECT:
    the kernel drops fl's excess SYNs (the meter rule's counter), so wicketd refuses
    at most what the meter lets through (80 + 40/s, against ~25,000/s without it) and
    still holds fl to client_connections; c's and adm's p99 stay within 2x of the idle
    gate (the unfloored ratio is printed too)."""
    r = f.topo.router
    r.run(["nft", "delete", "table", "inet", "wicket_test"])
    try:
        r.run(["sh", FIREWALL, "-i", h.BRIDGE, "-p", "3990", "-t", "wicket", "-f", "up"])
        f.start()
        ph = Phases(f, "meter")
        t0 = time.monotonic()
        p = flood(f.fl, "--conns", 2000, "--reconnect", seconds=7)
        held, cpu = ph.loaded()
        st = f.stats()
        elapsed = time.monotonic() - t0
        res = flood_result(p)
        rules = r.run(["nft", "list", "chain", "inet", "wicket", "lan_input"]).stdout
        drops = [int(m) for m in re.findall(
            r"@connlimit4 \{[^}]*\} counter packets (\d+)", rules)]
        passed = CONNECT_LIMIT[1] + CONNECT_LIMIT[0] * elapsed
        print("    flooder: %d attempts, %d connected in 7 s; kernel dropped %r SYNs; gate held "
              "%d, used %.0f%% of a core; %s (at most %.0f could pass the meter)" % (
                  res["attempts"], res["connected"], drops, max(held), cpu * 100,
                  {k: v for k, v in st.items() if k.startswith(("refused", "shed"))}, passed))
        assert len(drops) == 1, "no connlimit4 meter rule in lan_input:\n%s" % rules
        assert drops[0] > 0, "the meter dropped no SYN:\n%s" % rules
        assert max(held) <= 64 + 4, "the gate held %d connections (flooder limit 64)" % max(held)
        assert st["refused_client_connections"] > 0, st
        assert st["refused"] <= passed, \
            "wicketd refused %d connections: more than the meter lets through (%.0f)" % (
                st["refused"], passed)
        ph.check()
    finally:
        r.run(["sh", FIREWALL, "-t", "wicket", "down"], check=False)
        f.topo.set_redirect(3990)


def sample_connections(f, procs, every=0.3):
    """Sample the gate's `connections` until every process in procs has exited."""
    held = []
    while any(p.poll() is None for p in procs):
        held.append(f.stats()["connections"])
        time.sleep(every)
    return held


def test_one_mac_on_two_addresses(f):
    """fl floods from its IPv4 and its IPv6 address at once, both learned by the sniffer
    for its one MAC: the gate holds client_connections (64) for the MAC in all, not 64
    per address."""
    f.start()
    for url in ("http://%s/lim-warm" % O4, "http://[%s]/lim-warm" % h.ORIGIN6):
        h.curl(f.fl, ["-g", url])  # ARP and NDP from both addresses: the sniffer learns them
    time.sleep(0.3)
    p4 = flood(f.fl, "--conns", 300, "--reconnect", seconds=4)
    p6 = flood(f.fl, "--conns", 300, "--reconnect", seconds=4, host=h.ORIGIN6)
    time.sleep(1.0)
    held = sample_connections(f, [p4, p6])
    r4, r6 = flood_result(p4), flood_result(p6)
    st = f.stats()
    print("    held %d at most; %d + %d attempts; refused for connections %d" % (
        max(held), r4["attempts"], r6["attempts"], st["refused_client_connections"]))
    assert max(held) <= 64, "the gate held %d connections for one MAC (limit 64)" % max(held)
    assert max(held) >= 60, "the flooder never got near its limit: %r" % held
    assert r4["max_open"] > 0 and r6["max_open"] > 0, "one family got nothing: %r %r" % (r4, r6)
    assert st["refused_client_connections"] > 0, st


@once_more_on_noise
def test_slow_heads(f):
    """5,000 connections from fl that each trickle an unfinished request head (a byte a
    second, reopened when reset) against max_connections 4096: the gate holds 64 of them,
    and c's and adm's p99 stay within 2x of the idle gate."""
    f.start()
    ph = Phases(f, "sh")
    p = flood(f.fl, "--conns", 5000, "--reconnect", "--send", "GET /slow HTTP/1.1\\r\\nHost: x\\r\\nX-a: ",
              "--trickle", 1, "--trickle-data", "b", seconds=7.5)
    held, cpu = ph.loaded(ramp=1.5)
    r = flood_result(p)
    st = f.stats()
    print("    slow heads: %d attempts, the gate held %d at most, used %.0f%% of a core" % (
        r["attempts"], max(held), cpu * 100))
    assert max(held) <= 64 + 4, "held %d" % max(held)
    assert st["refused_client_connections"] + st["refused_client_rate"] > 4000, st
    ph.check()


@once_more_on_noise
def test_burst_against_max_connections(f):
    """Four clients open 500 connections each at once (2,000) against max_connections 500,
    with client_connections 200 and no connect rate so that together they fill the gate:
    the gate never holds more than 500, later clients take connections from the heaviest
    until the counts are fair (within 2), and c's and adm's p99 stay within 2x of the idle
    gate (each of their connections takes one from the heaviest client)."""
    f.start(max_connections=500, client_connections=200, client_connect_rate=0)
    ph = Phases(f, "burst")
    procs = [flood(c, "--conns", 500, seconds=7) for c in (f.fl, f.f2, f.f3, f.f4)]
    held, cpu = ph.loaded()
    st = f.stats()
    res = [flood_result(p) for p in procs]
    ends = [r["open_at_end"] for r in res]
    print("    gate held %d at most; flooders hold %r at the end; shed %d, refused_full %d" % (
        max(held), ends, st["shed"], st["refused_full"]))
    assert max(held) <= 500, "the gate held %d connections (max_connections 500)" % max(held)
    # how many sheds it takes depends on how the four bursts interleave; the fair
    # share at the end is the property
    assert st["shed"] > 0 and st["refused_full"] > 0, st
    assert max(ends) - min(ends) <= 2 and 400 <= sum(ends) <= 500, \
        "flooders hold %r at the end: not a fair share" % ends
    ph.check()


def test_511_rate(f):
    """One connection pipelines 100 GETs: client_511_burst (50) of them are answered with
    511 and audited, then the connection is reset; the rest are neither answered nor
    audited, and stats count the shed request."""
    f.start()
    reqs = b"".join(b"GET /lim-rate-%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(100))
    r = h.raw(f.c, O4, 80, reqs, timeout=5)
    got = r.status_lines()
    assert r.eof == "rst", "connection not reset (eof %r) after %d answers" % (r.eof, len(got))
    assert set(got) == {"HTTP/1.1 511 Network Authentication Required"}, got[:3]
    time.sleep(0.5)
    audited = [e for e in f.gate.audit() if str(e.get("path", "")).startswith("/lim-rate-")]
    # the reset may destroy answers the client had not read yet: it reads at most those
    assert 50 <= len(audited) <= 52, "%d answered and audited (burst 50)" % len(audited)
    assert all(e["status"] == 511 for e in audited), audited[:2]
    assert len(got) <= len(audited), "%d read, %d audited" % (len(got), len(audited))
    st = f.stats()
    assert st["shed_511"] == 1, st


def test_pipelined_reader_without_511_rate(f):
    """The same 100 pipelined GETs with client_511_rate 0: all 100 are answered in order
    on the open connection -- the bound on queued answers must pause reading a client that
    does not read, never one that does."""
    f.start(client_511_rate=0)
    reqs = b"".join(b"GET /lim-pipe-%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(100))
    r = h.raw(f.c, O4, 80, reqs, timeout=5, expect=100)
    got = r.status_lines()
    assert len(got) == 100 and r.eof is None, "%d answers, eof %r" % (len(got), r.eof)
    st = f.stats()
    assert st["shed_511"] == 0, st


def proc_cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fd_exhaustion(f):
    """wicketd under `ulimit -n 256` (prlimit) while fl opens 1,000 connections and holds
    them (client_connections 1000 and no connect rate, so that the descriptors and not
    the per-client limits run out first): wicketd does not spin (under 30% of a core over
    the flood), logs a bounded number of lines (<= 20 warnings), and c is still served,
    each of its connections taking a descriptor from the heaviest client."""
    f.start(client_connections=1000, client_connect_rate=0)
    pid = f.gate.proc.pid
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=256:256"], check=True)
    lines0 = len(f.gate.stderr().splitlines())
    cpu0, t0 = proc_cpu_s(pid), time.monotonic()
    p = flood(f.fl, "--conns", 1000, seconds=8)
    time.sleep(2.0)
    la = measure_start(f.c, "/lim-fd-deny", count=50, rate=10)
    held = sample_connections(f, [la])
    la = flood_result(la)
    r = flood_result(p)
    cpu = (proc_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
    st = f.stats()
    new = f.gate.stderr().splitlines()[lines0:]
    warns = [ln for ln in new if "warning" in ln]
    print("    held %d at most; wicketd CPU %.1f%% of a core; %d new log lines (%d warnings); "
          "refused_no_fds %d, shed %d; flooder %r" % (
              max(held), cpu * 100, len(new), len(warns), st["refused_no_fds"], st["shed"],
              {k: r[k] for k in ("connected", "reset", "open_at_end")}))
    assert la["statuses"] == {"511": len(la["ms"])} and not la["errors"], la
    assert cpu < 0.30, "wicketd used %.0f%% of a core while out of descriptors" % (cpu * 100)
    if h.VERBOSE or os.environ.get("LIMITS_DETAIL"):
        print("\n".join("      " + ln for ln in new))
    assert len(warns) <= 20, "%d warning lines:\n%s" % (len(warns), "\n".join(warns[:30]))
    assert st["refused_no_fds"] + st["shed"] > 0, st
    assert max(held) < 256, held


def release_binary():
    """The release wicketd for memory figures (ASan keeps freed memory in quarantine)."""
    d = h.default_wicketd()
    cand = d.replace("/asan/", "/")
    return cand if "/asan/" in d and os.path.exists(cand) else d


def wait_for(pred, timeout, every=0.2):
    """Poll pred() until it is true or timeout s pass; return its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(every)


@once_more_on_noise
def test_slow_bodies_after_511(f):
    """5,000 connections from fl send a POST head with Content-Length 100000, get their 511,
    then trickle the body a byte every 5 s (client_connections 5000, no connect or answer
    rate: the engine's body timeout, not the per-client limits, is what ends them): every
    one gets its 511 and is closed by the gate within header_timeout (4 s) + 3 s of its
    head, and c's and adm's p99 stay within 2x of the idle gate meanwhile."""
    f.start(max_connections=6000, client_connections=5000, client_connect_rate=0,
            client_511_rate=0, header_timeout=4)
    ph = Phases(f, "sb")
    head = "POST /lim-slowbody HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100000\\r\\n\\r\\n"
    p = flood(f.fl, "--conns", 5000, "--send", head, "--trickle", 5, "--trickle-data", "a",
              seconds=4 + 3 + 3)
    held, cpu = ph.loaded(ramp=1.0)
    r = flood_result(p)
    st = f.stats()
    print("    slow bodies: %d connected, %d got an answer %r, closed by the gate %d (fin %d, "
          "reset %d), still open at the end %d; the gate held %d at most" % (
              r["connected"], sum(r["statuses"].values()), r["statuses"], r["fin"] + r["reset"],
              r["fin"], r["reset"], r["open_at_end"], max(held)))
    assert r["connected"] == 5000, r
    assert r["statuses"] == {"511": 5000}, "answers: %r" % r["statuses"]
    assert r["open_at_end"] == 0, "%d slow bodies still open 10 s after their heads" % r["open_at_end"]
    assert wait_for(lambda: f.stats()["connections"] <= 2, 3), f.stats()["connections"]
    ph.check()


def test_pipelined_flood_memory(f):
    """1,000 connections from fl each write 10,000 pipelined GETs (280 KB) and never read
    (client_connections 1000, no answer rate: the engine's bound on queued answers is what
    is tested): wicketd's RSS (release build) grows by less than 96 MiB -- 96 KiB per
    connection: 16 KiB of queued answers, the read space of a connection that stopped
    reading, its state -- while they hold (it was 537 KiB per connection before the bound),
    and is back within 16 MiB of where it started once they are gone."""
    f.start(binary=release_binary(), client_connections=1000, client_connect_rate=0,
            client_511_rate=0, header_timeout=30)
    pid = f.gate.proc.pid
    h.curl(f.c, ["http://%s/lim-warm" % O4])
    base = origins.vmrss_kib(pid)
    p = flood(f.fl, "--conns", 1000, "--send", "GET /lim-pipe HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
              "--repeat", 10000, "--no-read", seconds=8)
    peak = base
    t_end = time.monotonic() + 8.5
    while p.poll() is None and time.monotonic() < t_end:
        peak = max(peak, origins.vmrss_kib(pid) or 0)
        time.sleep(0.2)
    r = flood_result(p)
    after = wait_for(lambda: (lambda v: v if v is not None and v - base < 16 * 1024 else None)(
        origins.vmrss_kib(pid)), 5) or origins.vmrss_kib(pid)
    st = f.stats()
    print("    pipelined: %d connections, %.1f MB sent; RSS %d KiB at start, %d at the peak "
          "(+%d KiB, %.1f KiB per connection), %d after" % (
              r["connected"], r["bytes_sent"] / 1e6, base, peak, peak - base,
              (peak - base) / max(1, r["connected"]), after))
    assert r["connected"] == 1000, r
    assert st["requests"] > 1000, "the gate answered only %d requests" % st["requests"]
    assert peak - base < 96 * 1024, "RSS grew by %d KiB for 1,000 unread pipelines" % (peak - base)
    assert after - base < 16 * 1024, "RSS %d KiB after the flood vs %d before" % (after, base)


TESTS = [
    test_one_client_flood,
    test_one_client_flood_kernel_meter,
    test_one_mac_on_two_addresses,
    test_slow_heads,
    test_burst_against_max_connections,
    test_511_rate,
    test_pipelined_reader_without_511_rate,
    test_fd_exhaustion,
    test_slow_bodies_after_511,
    test_pipelined_flood_memory,
]


def after_each(f, test):
    """The daemon must have survived without sanitizer reports."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_limits", TESTS, Fixture, teardown=h.teardown_fixture,
                         after_each=after_each))
