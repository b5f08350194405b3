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
# 72,306 in one run; docs/deployment.md.) On a full disk (a 256 KiB tmpfs
# for the audit log) the gate keeps serving, no line is torn, what cannot
# be written is dropped whole and counted, and once space comes back the
# log goes on by itself. audit_syslog sends every line as one datagram,
# never stalls the gate when syslog stops reading, and follows reload.
"""wicket e2e: audit log rotation, full disk, audit_syslog.

Run as root: python3 test/e2e/test_auditlog.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import glob
import gzip
import json
import os
import re
import shutil
import signal
import socket
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

    def start(self, log, extra=""):
        """Start a daemon writing its audit log to log (extra: more lines)."""
        if self.gate is not None:
            h.stop_checked(self.gate)
        self.gate = self.topo.start_wicketd(CONF % {"log": log} + extra)
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


def test_full_disk_drops_whole_lines_and_recovers(f):
    """A 256 KiB tmpfs fills up under load: the gate keeps answering, no line is torn,
    requests = lines + counted drops; after space is freed new lines are written again."""
    d = os.path.join(f.topo.tmp, "full")
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", d], check=True)
    f.mounts.append(d)
    filler = os.path.join(d, "filler")
    with open(filler, "wb") as w:
        w.write(b"\0" * 96 * 1024)
    log = os.path.join(d, "audit.jsonl")
    f.start(log)
    base = f.stats()
    f.topo.client.ns.run(["wrk", "-t1", "-c4", "-d2s", "http://%s/full" % h.ORIGIN4], check=False, timeout=30)
    j = settled(f)
    st = os.statvfs(d)
    assert st.f_bavail * st.f_frsize < 4096, "the tmpfs did not fill up (%d bytes free)" % (st.f_bavail * st.f_frsize)
    r = h.curl(f.topo.client, ["http://%s/full-still-serving" % h.ORIGIN4])
    assert r.status == 511, "no answer on a full disk: %s" % r.status_line
    j = settled(f)
    dropped = audit_dropped(j) - audit_dropped(base)
    counted = j["gate"]["requests"] - base["gate"]["requests"]
    lines = request_lines([log])
    assert "audit" in j, "stats has no audit section (audit.dropped)"
    assert dropped > 0, "a full disk dropped nothing?"
    assert lines + dropped == counted, "%d requests, %d lines + %d dropped" % (counted, lines, dropped)
    print("    full: %d requests, %d lines, %d dropped whole" % (counted, lines, dropped))
    # space comes back: the next requests are written again, by themselves
    os.unlink(filler)
    h.curl(f.topo.client, ["http://%s/after-space" % h.ORIGIN4])
    deadline = time.monotonic() + 3
    while b"/after-space" not in open(log, "rb").read():
        assert time.monotonic() < deadline, "no line written after space came back"
        time.sleep(0.05)
    j = settled(f)
    counted = j["gate"]["requests"] - base["gate"]["requests"]
    dropped = audit_dropped(j) - audit_dropped(base)
    assert request_lines([log]) + dropped == counted


def syslog_server(path):
    """A datagram socket at path standing in for /dev/log; not read until asked."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    return s


def received(s):
    """Every datagram waiting on s."""
    out = []
    while True:
        try:
            out.append(s.recv(65536))
        except BlockingIOError:
            return out


def test_audit_syslog(f):
    """audit_syslog local3: every audit line also arrives as one RFC 3164 datagram
    (<158>, tag wicket-audit); a reader that stops reading costs the gate nothing
    (drops counted); reload to none stops, reload to another socket moves it."""
    d = os.path.join(f.topo.tmp, "sl")
    os.makedirs(d)
    log = os.path.join(d, "audit.jsonl")
    sock = os.path.join(d, "syslog.sock")
    srv = syslog_server(sock)
    g = f.start(log, "audit_syslog local3\naudit_syslog_socket %s\n" % sock)
    for i in range(5):
        assert h.curl(f.topo.client, ["http://%s/sl-%d" % (h.ORIGIN4, i)]).status == 511
    deadline = time.monotonic() + 3
    got = []
    while len([x for x in got if b"/sl-" in x]) < 5 and time.monotonic() < deadline:
        got += received(srv)
        time.sleep(0.05)
    mine = [x for x in got if b"/sl-" in x]
    assert len(mine) == 5, "datagrams: %r" % got[:3]
    pid = g.proc.pid
    lines = {ln for ln in open(log, "rb").read().split(b"\n") if b"/sl-" in ln}
    for x in mine:
        m = re.match(rb"^<158>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d wicket-audit\[(\d+)\]: (\{.*\})$", x)
        assert m, "not an RFC 3164 datagram: %r" % x[:100]
        assert int(m.group(1)) == pid, x[:60]
        assert m.group(2) in lines, "datagram %r is not a line of the file" % m.group(2)[:80]
    # the reader stops reading: the queue fills, the gate goes on, drops are counted
    base = f.stats()
    t0 = time.monotonic()
    f.topo.client.ns.run(["wrk", "-t1", "-c4", "-d1s", "http://%s/sl-flood" % h.ORIGIN4], check=False, timeout=30)
    assert h.curl(f.topo.client, ["http://%s/sl-alive" % h.ORIGIN4]).status == 511
    assert time.monotonic() - t0 < 10
    j = settled(f)
    aud = j.get("audit") or {}
    assert aud.get("syslog_dropped", 0) - (base.get("audit") or {}).get("syslog_dropped", 0) > 0, aud
    assert aud.get("syslog_sent", 0) >= 5, aud
    received(srv)
    # reload: none stops the datagrams, another socket takes them
    conf = open(g.conf_path).read()
    with open(g.conf_path, "w") as w:
        w.write(conf.replace("audit_syslog local3", "audit_syslog none"))
    p = subprocess.run([CTL, "-s", f.sock, "reload"], capture_output=True, text=True)
    assert p.returncode == 0 and "audit_syslog" in p.stdout, p.stdout + p.stderr
    h.curl(f.topo.client, ["http://%s/sl-off" % h.ORIGIN4])
    time.sleep(0.3)
    assert not [x for x in received(srv) if b"/sl-off" in x], "a datagram after audit_syslog none"
    sock2 = os.path.join(d, "syslog2.sock")
    srv2 = syslog_server(sock2)
    with open(g.conf_path, "w") as w:
        w.write(conf.replace(sock, sock2))
    p = subprocess.run([CTL, "-s", f.sock, "reload"], capture_output=True, text=True)
    assert p.returncode == 0 and "audit_syslog" in p.stdout, p.stdout + p.stderr
    h.curl(f.topo.client, ["http://%s/sl-moved" % h.ORIGIN4])
    deadline = time.monotonic() + 3
    while not [x for x in received(srv2) if b"/sl-moved" in x]:
        assert time.monotonic() < deadline, "nothing on the new socket after the reload"
        time.sleep(0.05)
    srv.close()
    srv2.close()


TESTS = [
    test_rotation_by_rename_loses_nothing,
    test_full_disk_drops_whole_lines_and_recovers,
    test_audit_syslog,
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
