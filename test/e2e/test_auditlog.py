#!/usr/bin/env python3
# test_auditlog: an audit trail you can trust (issue 11, item 6). Under
# load (wrk, keep-alive, about 100,000 requests in all: a few seconds even
# under ASan), the log is rotated 10 times by mv + SIGHUP and then 10 times
# by logrotate with the shipped snippet (scripts/service/wicket.logrotate:
# rename, create, postrotate wicketctl reload); afterwards every request the
# daemon counted is one line in one of the files (or a counted drop: none
# are allowed here), and every line of every file is a whole JSON object.
# (The per-client limits are off: one client makes all the load.)
# (The same test with copytruncate instead of create loses lines: 2,919 of
# 72,306 in one run; docs/deployment.md.)
"""wicket e2e: audit log rotation.

Run as root: python3 test/e2e/test_auditlog.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import glob
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

CTL = os.path.join(h.REPO, "build", "wicketctl")
SNIPPET = os.path.join(h.REPO, "scripts", "service", "wicket.logrotate")
PHASE_REQUESTS = 50000   # per rotation method: 100,000 in all
ROTATIONS = 10
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log %(log)s
client_511_rate 0
client_connect_rate 0
control_socket {tmp}/control.sock
state_file {tmp}/state
"""


class Fixture:
    """Topology and the origin; each test starts its own daemon."""

    def __init__(self):
        """Bring the topology up; check the tools."""
        h.check_prereqs(h.default_wicketd())
        for tool in ("wrk", "logrotate", "gzip"):
            if shutil.which(tool) is None:
                raise h.SetupError("%s not found (scripts/deps.sh)" % tool)
        self.topo = h.Topology().__enter__()
        self.topo.start_origin()
        self.gate = None
        self.mounts = []

    def start(self, log):
        """Start a daemon writing its audit log to log."""
        if self.gate is not None:
            h.stop_checked(self.gate)
        self.gate = self.topo.start_wicketd(CONF % {"log": log})
        self.sock = os.path.join(self.gate.dir, "control.sock")
        return self.gate

    def stats(self):
        """stats --json of the running daemon."""
        p = subprocess.run([CTL, "-s", self.sock, "stats", "--json"], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


def audit_dropped(j):
    """Lines the audit log counted as dropped (0 while the daemon has no such counter)."""
    return (j.get("audit") or {}).get("dropped", 0)


def read_lines(path):
    """The lines of a log file (gzip or plain); a torn last line fails."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    assert not data or data.endswith(b"\n"), "%s ends in a torn line: %r" % (path, data[-80:])
    return data.split(b"\n")[:-1]


def request_lines(paths):
    """Request records in the files; every line must be one whole JSON object."""
    n = 0
    for p in paths:
        for i, line in enumerate(read_lines(p)):
            try:
                e = json.loads(line)
            except ValueError:
                raise AssertionError("%s:%d is not JSON: %r" % (p, i + 1, line[:120]))
            assert isinstance(e, dict) and "ts" in e and "event" in e, "%s:%d: %r" % (p, i + 1, line[:120])
            n += e["event"] == "request"
    return n


def load_until(f, total, rotate):
    """Run wrk from the client until the daemon has counted total more requests,
    calling rotate(i) ROTATIONS times while the load runs."""
    start = f.stats()["gate"]["requests"]
    stop = threading.Event()

    def loader():
        while not stop.is_set():
            f.topo.client.ns.run(["wrk", "-t2", "-c16", "-d1s", "http://%s/load" % h.ORIGIN4],
                                 check=False, timeout=30)

    th = threading.Thread(target=loader, daemon=True)
    th.start()
    try:
        for i in range(ROTATIONS):
            target = start + total * (i + 1) // (ROTATIONS + 1)
            deadline = time.monotonic() + 60
            while f.stats()["gate"]["requests"] < target:
                assert time.monotonic() < deadline, "the load stalled"
                time.sleep(0.02)
            rotate(i)
        deadline = time.monotonic() + 60
        while f.stats()["gate"]["requests"] < start + total:
            assert time.monotonic() < deadline, "the load stalled"
            time.sleep(0.05)
    finally:
        stop.set()
        th.join(timeout=40)


def settled(f):
    """Wait until no client connection is open and the counters stop moving; stats."""
    last, same = None, 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        j = f.stats()
        now = (j["gate"]["requests"], j["gate"]["connections"])
        same = same + 1 if now == last and now[1] == 0 else 0
        if same >= 3:
            return j
        last = now
        time.sleep(0.1)
    raise AssertionError("the daemon did not settle: %r" % (last,))


def test_rotation_by_rename_loses_nothing(f):
    """10 x (mv + SIGHUP), then 10 x logrotate with the shipped snippet, under load:
    requests = request lines in all the files (+ counted drops, which must be 0)."""
    d = os.path.join(f.topo.tmp, "rot")
    os.makedirs(d)
    log = os.path.join(d, "audit.jsonl")
    g = f.start(log)
    base = f.stats()
    base_lines = 0

    def by_mv(i):
        os.rename(log, "%s.mv%d" % (log, i))
        g.proc.send_signal(signal.SIGHUP)

    load_until(f, PHASE_REQUESTS, by_mv)
    # the shipped snippet, with this test's paths: the log, wicketctl and
    # its socket, and root instead of the wicket user (not on this machine)
    text = open(SNIPPET).read().replace("/var/log/wicket/audit.jsonl", log).replace(
        "@SBINDIR@/wicketctl reload", "%s -s %s reload" % (CTL, f.sock)).replace(
        "create 0640 wicket wicket", "create 0640 root root")
    conf = os.path.join(d, "logrotate.conf")
    with open(conf, "w") as w:
        w.write(text)
    state = os.path.join(d, "logrotate.state")

    def by_logrotate(i):
        p = subprocess.run(["logrotate", "-f", "-s", state, conf], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, "logrotate: %s%s" % (p.stdout, p.stderr)

    load_until(f, PHASE_REQUESTS, by_logrotate)
    j = settled(f)
    files = sorted(glob.glob(log + "*"))
    files = [p for p in files if not p.endswith((".conf", ".state"))]
    mv = [p for p in files if ".mv" in p]
    lr = [p for p in files if p != log and ".mv" not in p]
    assert len(mv) == ROTATIONS and len(lr) == ROTATIONS, "rotated files: %s" % files
    assert any(p.endswith(".gz") for p in lr), "logrotate compressed nothing: %s" % lr
    counted = j["gate"]["requests"] - base["gate"]["requests"]
    dropped = audit_dropped(j) - audit_dropped(base)
    lines = request_lines(files) - base_lines
    assert counted >= 2 * PHASE_REQUESTS, counted
    assert dropped == 0, "%d lines dropped during rotation" % dropped
    assert lines == counted, "%d requests counted, %d request lines in %d files" % (
        counted, lines, len(files))
    print("    %d requests, %d lines, 0 dropped, %d rotations" % (counted, lines, 2 * ROTATIONS))


TESTS = [
    test_rotation_by_rename_loses_nothing,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    if f.gate is not None:
        h.check_daemon(f.gate, test)


def teardown(f):
    """Stop the daemon, unmount the tmpfs, remove the namespaces."""
    try:
        if f.gate is not None:
            h.stop_checked(f.gate)
    finally:
        for m in f.mounts:
            subprocess.run(["umount", "-l", m], check=False)
        f.topo.down()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_auditlog", TESTS, lambda: Fixture(), teardown=teardown,
                         after_each=after_each))
