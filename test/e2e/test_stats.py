#!/usr/bin/env python3
# test_stats: `wicketctl stats` against a real daemon (issue 11, items 10
# and 11): the request counters by verdict equal the audit log's request
# lines by verdict after a mix of forwarded, denied (511 and framing
# errors), probe and portal requests; the text, JSON and Prometheus forms
# carry the same figures, the Prometheus form parses line by line; the
# sessions section counts by state, the sniffer section is there with an
# interface; and the operator's small things: --help exits 0, `allow MAC
# 1h` admits for an hour.
"""wicket e2e: stats and wicketctl.

Run as root: python3 test/e2e/test_stats.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

CTL = os.path.join(h.REPO, "build", "wicketctl")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
header_timeout 2
control_socket {tmp}/control.sock
state_file {tmp}/state
"""
VERDICTS = {"forward": "forwarded", "deny": "denied", "probe": "probes", "portal": "portal"}


class Fixture:
    """Topology, the recording origin, a second client, one daemon."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.other = self.topo.add_client("s2")
        self.topo.start_origin()
        self.gate = self.topo.start_wicketd(CONF)
        self.sock = os.path.join(self.gate.dir, "control.sock")

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def ctl(self, *args):
        """wicketctl against the daemon: (status, stdout, stderr)."""
        p = subprocess.run([CTL, "-s", self.sock] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr

    def stats(self):
        """stats --json, parsed."""
        rc, out, err = self.ctl("stats", "--json")
        assert rc == 0, err
        return json.loads(out)


def request_lines(f):
    """The audit log's request records so far, by verdict."""
    out = {v: 0 for v in VERDICTS}
    for e in f.gate.audit():
        if e.get("event") == "request":
            out[e["verdict"]] += 1
    return out


def settle(f, want_total, timeout=3.0):
    """Wait until the audit log holds want_total request lines."""
    deadline = time.monotonic() + timeout
    while sum(request_lines(f).values()) < want_total and time.monotonic() < deadline:
        time.sleep(0.05)


def test_verdict_counters_agree_with_the_audit_log(f):
    """A mix of requests: stats' requests and the four verdict counters equal the log's request lines."""
    before = f.stats()["gate"]
    lines0 = request_lines(f)
    o = h.ORIGIN4
    n = 0
    for path in ("/st-a", "/st-b", "/st-c"):           # deny: 511
        assert h.curl(f.client, ["http://%s%s" % (o, path)]).status == 511
        n += 1
    assert h.curl(f.client, ["http://%s/generate_204" % o]).status == 302  # probe
    n += 1
    assert h.curl(f.client, ["http://%s/wicket/" % h.LAN4]).status == 200  # portal
    n += 1
    r = h.raw(f.client, o, 80, b"POST /st-411 HTTP/1.1\r\nHost: x\r\n\r\n", expect=1)  # framing: 411
    assert r.startswith(b"HTTP/1.1 411"), r[:40]
    n += 1
    r = h.raw(f.client, o, 80, b"GET /st-fold HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", expect=1)
    assert r.startswith(b"HTTP/1.1 400"), r[:40]  # framing: obs-fold
    n += 1
    rc, _, err = f.ctl("allow", f.other.mac, "10m")
    assert rc == 0, err
    for path in ("/st-f1", "/st-f2"):                  # forward: 200 from the origin
        assert h.curl(f.other, ["http://%s%s" % (o, path)]).status == 200
        n += 1
    settle(f, sum(lines0.values()) + n)
    after = f.stats()["gate"]
    lines1 = request_lines(f)
    for verdict, counter in VERDICTS.items():
        got = after[counter] - before[counter]
        want = lines1[verdict] - lines0[verdict]
        assert got == want, "%s: stats +%d, audit log +%d request lines (%s)" % (counter, got, want, verdict)
    assert after["requests"] - before["requests"] == sum(lines1.values()) - sum(lines0.values()) == n, \
        (after["requests"] - before["requests"], n)
    assert after["framing_errors"] - before["framing_errors"] == 2, after
    assert lines1["deny"] - lines0["deny"] == 5, "511s and framing errors are deny in the log"
    f.ctl("deny", f.other.mac)


def test_three_forms_carry_the_same_figures(f):
    """stats, stats --json and stats --prometheus: the same numbers; Prometheus lines are well formed."""
    h.curl(f.client, ["http://%s/st-forms" % h.ORIGIN4])
    time.sleep(0.2)
    rc, text, _ = f.ctl("stats")
    assert rc == 0
    rc, prom, err = f.ctl("stats", "--prometheus")
    assert rc == 0, err
    j = f.stats()
    t = dict(ln.split(": ", 1) for ln in text.splitlines())
    metrics, types = {}, {}
    for ln in prom.splitlines():
        if ln.startswith("# TYPE "):
            name, kind = ln[7:].split()
            assert name not in types, "TYPE %s twice" % name
            types[name] = kind
            continue
        if ln.startswith("# HELP "):
            continue
        m = re.match(r'^(wicket_[a-z0-9_]+)(\{[a-z_]+="[a-z0-9_]+"\})? (\d+)$', ln)
        assert m, "not an exposition line: %r" % ln
        base = m.group(1)
        assert base in types, "sample %s before its TYPE" % base
        assert (types[base] == "counter") == base.endswith("_total"), ln
        metrics[base + (m.group(2) or "")] = int(m.group(3))
    # requests and their verdicts (the counters move only with requests, none sent meanwhile)
    for counter, verdict in (("forwarded", "forward"), ("denied", "deny"), ("probes", "probe"),
                             ("portal", "portal")):
        key = 'wicket_requests_by_verdict_total{verdict="%s"}' % verdict
        assert metrics[key] == j["gate"][counter] == int(t[counter]), (counter, metrics[key], j["gate"][counter])
    assert metrics["wicket_requests_total"] == j["gate"]["requests"] == int(t["requests"])
    assert metrics["wicket_registry_clients"] == j["registry"]["clients"] == int(t["registry_clients"])
    assert metrics["wicket_sessions_count"] == j["sessions"]["total"]
    assert metrics['wicket_sessions_by_state{state="admitted"}'] == j["sessions"]["admitted"]
    assert metrics["wicket_sniffer_capturing"] == 1 == j["sniffer"]["capturing"], j["sniffer"]
    assert j["sniffer"]["learned"] > 0 and "sniffer_kernel_drops" in t, j["sniffer"]
    assert metrics["wicket_paused"] == 0 and t["paused"] == "no" and j["gate"]["paused"] is False


def test_sessions_by_state(f):
    """allow two, deny one: stats counts one admitted more and one revoked more."""
    s0 = f.stats()["sessions"]
    for mac in ("02:99:00:00:07:01", "02:99:00:00:07:02"):
        assert f.ctl("allow", mac, "1h")[0] == 0
    assert f.ctl("deny", "02:99:00:00:07:02")[0] == 0
    s1 = f.stats()["sessions"]
    assert s1["admitted"] - s0["admitted"] == 1 and s1["revoked"] - s0["revoked"] == 1, (s0, s1)
    assert s1["total"] == s1["admitted"] + s1["expired"] + s1["revoked"], s1
    f.ctl("deny", "02:99:00:00:07:01")


def test_wicketctl_help_and_durations(f):
    """--help exits 0 naming DURATION; allow MAC 1h admits for 3600 s; a bad duration is exit 2."""
    p = subprocess.run([CTL, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "allow MAC [DURATION]" in p.stdout and "--prometheus" in p.stdout, p
    p = subprocess.run([CTL, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("wicketctl "), p
    mac = "02:99:00:00:07:03"
    rc, out, err = f.ctl("allow", mac, "1h")
    assert rc == 0 and out.rstrip().endswith("(3600s)"), (rc, out, err)
    rc, out, _ = f.ctl("show", "--json", mac)
    left = json.loads(out)["session"]["remaining"]
    assert 3590 <= left <= 3600, left
    rc, out, err = f.ctl("allow", mac, "2x")
    assert rc == 2 and 'bad duration "2x"' in err, (rc, err)
    f.ctl("deny", mac)


TESTS = [
    test_verdict_counters_agree_with_the_audit_log,
    test_three_forms_carry_the_same_figures,
    test_sessions_by_state,
    test_wicketctl_help_and_durations,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_stats", TESTS, lambda: Fixture(),
                         teardown=h.teardown_fixture, after_each=after_each))
