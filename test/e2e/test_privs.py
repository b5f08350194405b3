#!/usr/bin/env python3
# test_privs: wicketd started as root with `user nobody` drops to nobody by
# itself (proxy/privs.c): /proc shows uid/gid nobody, no groups, exactly
# CAP_NET_ADMIN and CAP_NET_RAW in the effective, permitted and bounding
# sets, NoNewPrivs 1; and everything that runs after the drop still works:
# the sniffer, the splash, the nft mirror (open and close), the state file
# and its compaction by rename, reload, the audit log reopened after a
# rotation, the control socket and its removal at exit. A daemon started
# as root without `user`, with an unknown user, or with a directory the
# user cannot write refuses to run, saying why. The seccomp filter is on by
# default (off with `seccomp no`) and the daemon serves, reloads and stops.
"""wicket e2e: the privilege drop.

Run as root: python3 test/e2e/test_privs.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_mirror as tm  # noqa: E402  (the echo service and the TCP probe)
import test_portal as tp  # noqa: E402  (splash helpers)
import test_unprivileged as tu  # noqa: E402  (/proc status, the sniffer check)

NOBODY = 65534
CAPS = (1 << 12) | (1 << 13)  # CAP_NET_ADMIN, CAP_NET_RAW
FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log %(dir)s/log/audit.jsonl
interface br-lan
firewall nft
nft_table wicket
control_socket %(dir)s/run/control.sock
state_file %(dir)s/lib/state
user nobody
"""


class Fixture:
    """Topology, ruleset, echo service, and wicketd started as root with user nobody."""

    def __init__(self):
        """Bring everything up; the daemon's directories belong to nobody."""
        h.check_prereqs(h.default_wicketd())
        self.topo = t = h.Topology().__enter__()
        self.dir = os.path.join(t.tmp, "own")
        for d in ("", "run", "lib", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
            os.chown(os.path.join(self.dir, d), NOBODY, NOBODY)
        os.chmod(t.tmp, 0o755)  # let nobody reach its own directory
        t.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
        t.start_origin()
        t.origin.popen([sys.executable, "-c", tm.ECHO])
        t.origin.wait_listening(8080, timeout=5)
        self.gate = t.start_wicketd(CONF % {"dir": self.dir})
        self.sock = os.path.join(self.dir, "run", "control.sock")

    @property
    def client(self):
        """The default client."""
        return self.topo.client


def ctl(f, *args):
    """wicketctl against the daemon (as root); (exit status, output)."""
    p = subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s", f.sock] + list(args),
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def ctl_raw(path, line):
    """One control request over the socket without a process; the answer text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    out = b""
    while not out.endswith(b"\n\n"):
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def test_proc_shows_nobody_two_caps_no_new_privs(f):
    """Uid/Gid nobody, no groups, CapEff=CapPrm=CapBnd=NET_ADMIN+NET_RAW, CapAmb=CapInh=0, NoNewPrivs 1."""
    st = tu.status(f.gate.proc.pid)
    assert st["Uid"].split() == [str(NOBODY)] * 4, "Uid %s" % st["Uid"]
    assert st["Gid"].split() == [str(NOBODY)] * 4, "Gid %s" % st["Gid"]
    assert st["Groups"] == "", "Groups %r" % st["Groups"]
    for k in ("CapEff", "CapPrm", "CapBnd"):
        assert int(st[k], 16) == CAPS, "%s %s, expected %x" % (k, st[k], CAPS)
    for k in ("CapInh", "CapAmb"):
        assert int(st[k], 16) == 0, "%s %s" % (k, st[k])
    assert st["NoNewPrivs"] == "1", "NoNewPrivs %s" % st["NoNewPrivs"]
    assert "privileges: uid 65534 gid 65534, capabilities CAP_NET_ADMIN CAP_NET_RAW" in f.gate.stderr()


def test_files_handed_to_the_user(f):
    """The audit log, state file, its lock and the control socket belong to nobody."""
    for p in ("log/audit.jsonl", "lib/state", "lib/state.lock", "run/control.sock"):
        st = os.lstat(os.path.join(f.dir, p))
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY), "%s owned by %d:%d" % (p, st.st_uid, st.st_gid)


def test_splash_opens_and_deny_closes_nft(f):
    """Splash accept opens 8080 through nft (CAP_NET_ADMIN), wicketctl deny closes it again."""
    assert tm.probe(f, 8080) == "timeout", "8080 open before admission"
    _, fields = tp.splash_form(f, f.client, "/p-wanted")
    r = tp.post_accept(f.client, fields)
    assert r.status == 303, "accept: %d" % r.status
    deadline = time.monotonic() + 2
    while tm.probe(f, 8080, 0.5) != "open":
        assert time.monotonic() < deadline, "nft mirror did not open 8080 after the drop"
    rc, out = ctl(f, "deny", f.client.mac)
    assert rc == 0, out
    deadline = time.monotonic() + 2
    while tm.probe(f, 8080, 0.5) != "timeout":
        assert time.monotonic() < deadline, "nft mirror did not close 8080 after the drop"


def test_state_file_compacts_by_rename(f):
    """1100 journal records (allow/deny over the socket): the state file is compacted (new inode, nobody's)."""
    path = os.path.join(f.dir, "lib", "state")
    before = os.stat(path)
    mac = "02:99:00:00:01:01"
    for i in range(550):  # 1100 records, one live session: compaction is due
        assert ctl_raw(f.sock, "allow %s 60" % mac).startswith("ok"), "allow %d refused" % i
        assert ctl_raw(f.sock, "deny %s" % mac).startswith("ok"), "deny %d refused" % i
    deadline = time.monotonic() + 5
    while os.stat(path).st_ino == before.st_ino:
        assert time.monotonic() < deadline, "state file never compacted (still inode %d)" % before.st_ino
        time.sleep(0.1)
    st = os.stat(path)
    assert st.st_uid == NOBODY, "compacted file owned by %d" % st.st_uid
    assert "compaction failed" not in f.gate.stderr(), h.tail(f.gate.stderr(), 10)
    # and the journal goes on in the new file
    size = os.stat(path).st_size
    assert ctl_raw(f.sock, "allow %s 60" % mac).startswith("ok")
    assert os.stat(path).st_size > size, "no append after the compaction"


def test_reload_and_audit_reopen_after_rotation(f):
    """mv audit.jsonl + wicketctl reload: the daemon (as nobody) creates a new file and writes to it."""
    log = os.path.join(f.dir, "log", "audit.jsonl")
    os.rename(log, log + ".1")
    rc, out = ctl(f, "reload")
    assert rc == 0, "reload as nobody: %s" % out
    r = h.curl(f.client, ["http://%s/p-after-rotation" % h.ORIGIN4])
    assert r.status == 511
    deadline = time.monotonic() + 3
    while not (os.path.exists(log) and b"/p-after-rotation" in open(log, "rb").read()):
        assert time.monotonic() < deadline, "no new audit file after rotation:\n%s" % h.tail(f.gate.stderr(), 10)
        time.sleep(0.05)
    assert os.stat(log).st_uid == NOBODY
    f.gate.audit_path, f.gate.audit_offset = log, 0
    # SIGHUP works the same way
    os.rename(log, log + ".2")
    f.gate.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    h.curl(f.client, ["http://%s/p-after-hup" % h.ORIGIN4])
    deadline = time.monotonic() + 3
    while not (os.path.exists(log) and b"/p-after-hup" in open(log, "rb").read()):
        assert time.monotonic() < deadline, "no new audit file after SIGHUP:\n%s" % h.tail(f.gate.stderr(), 10)
        time.sleep(0.05)


def refused(f, conf, name, wait=10):
    """Start another wicketd with conf (no run_as_root added); it must exit 1. Its stderr."""
    d = h.Wicketd(f.topo, conf)
    # the harness adds run_as_root yes to configurations without user: undo that here
    with open(d.conf_path) as r:
        text = r.read().replace("run_as_root yes\n", "")
    with open(d.conf_path, "w") as w:
        w.write(text)
    d.start(wait=False)
    try:
        rc = d.proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        d.stop(check=False)
        raise AssertionError("%s: wicketd kept running" % name)
    d.stop(check=True)
    assert rc == 1, "%s: exit %s\n%s" % (name, rc, d.stderr())
    return d.stderr()


def test_pcap_reopens_after_the_drop(f):
    """The capture's interface removed and created again: the sniffer, running as
    nobody with CAP_NET_RAW, reopens it (a second daemon on a veth of its own)."""
    d = os.path.join(f.dir, "pc")
    os.makedirs(d, exist_ok=True)
    os.chown(d, NOBODY, NOBODY)
    dev = "wkpc%d" % (os.getpid() % 10000)

    def make_link():
        f.topo.router.ip("link", "add", dev, "type", "veth", "peer", "name", dev + "p")
        f.topo.router.ip("link", "set", dev, "up")
    make_link()
    conf = ("listen 127.0.0.1:3992\ncontrol_socket %s/c.sock\nstate_file %s/state\n"
            "audit_log %s/audit.jsonl\ninterface %s\nuser nobody\n" % (d, d, d, dev))
    g = f.topo.start_wicketd(conf)
    try:
        def sniffer():
            out = ctl_raw(d + "/c.sock", "stats --json")
            assert out.startswith("ok\n"), out
            return json.loads(out.split("\n", 1)[1])["sniffer"]
        st = tu.status(g.proc.pid)
        assert int(st["CapEff"], 16) == 1 << 13, "CapEff %s (CAP_NET_RAW only)" % st["CapEff"]
        before = sniffer()
        assert before["capturing"] == 1, before
        f.topo.router.ip("link", "del", dev)
        deadline = time.monotonic() + 5
        while sniffer()["capturing"] == 1:
            assert time.monotonic() < deadline, "the capture did not notice its interface go"
            time.sleep(0.1)
        make_link()
        deadline = time.monotonic() + 20
        while True:
            now = sniffer()
            if now["reopens"] > before["reopens"] and now["capturing"] == 1:
                break
            assert time.monotonic() < deadline, "not reopened as nobody: %r\n%s" % (
                now, h.tail(g.stderr(), 5))
            time.sleep(0.2)
    finally:
        rc = g.stop()
        f.topo.router.ip("link", "del", dev, check=False)
    assert rc == 0, rc


def test_root_without_user_refused(f):
    """Started as root with neither user nor run_as_root: exit 1 naming both keys."""
    err = refused(f, "listen 127.0.0.1:3991\ncontrol_socket {tmp}/c.sock\nstate_file {tmp}/state\n",
                  "no user")
    assert "started as root with no user" in err and "run_as_root yes" in err, err


def test_unknown_user_refused_also_by_check(f):
    """user nosuchuser: wicketd -n and the daemon both fail with 'no such user'."""
    conf = "listen 127.0.0.1:3991\ncontrol_socket {tmp}/c.sock\nstate_file {tmp}/state\nuser nosuchuser\n"
    err = refused(f, conf, "unknown user")
    assert "user nosuchuser: no such user" in err, err
    path = os.path.join(f.topo.tmp, "unknown.conf")
    with open(path, "w") as w:
        w.write(conf.replace("{tmp}", f.topo.tmp))
    p = subprocess.run([h.default_wicketd(), "-n", "-f", path], capture_output=True, text=True)
    assert p.returncode == 1 and "user nosuchuser: no such user" in p.stderr, (p.returncode, p.stderr)


def test_unwritable_state_directory_refused(f):
    """A state directory nobody cannot write: exit 1 naming the directory and the user."""
    d = os.path.join(f.topo.tmp, "rootonly")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    err = refused(f, "listen 127.0.0.1:3991\ncontrol_socket %s/c.sock\nstate_file %s/state\n"
                  "audit_log %s/audit.jsonl\nuser nobody\n" % (f.dir, d, f.dir + "/log"), "unwritable")
    assert "state_file %s/state: directory %s is not writable by user nobody" % (d, d) in err, err


def test_seccomp_filter_serves(f):
    """seccomp by default after the drop: /proc shows the filter; the daemon answers, reloads and
    stops cleanly; with seccomp no there is no filter."""
    d = os.path.join(f.dir, "sc")
    os.makedirs(d, exist_ok=True)
    os.chown(d, NOBODY, NOBODY)
    conf = ("listen 127.0.0.1:3991\ncontrol_socket %s/c.sock\nstate_file %s/state\n"
            "audit_log %s/audit.jsonl\nuser nobody\n" % (d, d, d))
    g = f.topo.start_wicketd(conf)
    try:
        st = tu.status(g.proc.pid)
        assert st["Seccomp"] == "2" and int(st.get("Seccomp_filters", "1")) >= 1, (st["Seccomp"], st.get("Seccomp_filters"))
        p = f.topo.router.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                               "http://127.0.0.1:3991/wicket/"], check=False)
        assert p.stdout.strip() not in ("", "000"), "no answer under seccomp: %r" % p.stdout
        assert ctl_raw(d + "/c.sock", "stats").startswith("ok"), "stats under seccomp"
        assert ctl_raw(d + "/c.sock", "reload").startswith("ok"), "reload under seccomp"
        assert g.alive(), "died under seccomp:\n%s" % h.tail(g.stderr(), 10)
        assert "seccomp: refused" not in g.stderr(), h.tail(g.stderr(), 10)
    finally:
        rc = g.stop()
    assert rc == 0, "exit %s under seccomp:\n%s" % (rc, h.tail(g.stderr(), 10))
    g = f.topo.start_wicketd(conf + "seccomp no\n")
    try:
        assert tu.status(g.proc.pid)["Seccomp"] == "0", "a filter with seccomp no"
    finally:
        assert g.stop() == 0


def test_unreadable_key_warned_then_reload_refused(f):
    """A grant_key only root can read: the drop warns by name, and a reload (which
    reads it again) is refused with the reason, changing nothing."""
    d = os.path.join(f.dir, "uk")
    os.makedirs(d, exist_ok=True)
    os.chown(d, NOBODY, NOBODY)
    key = os.path.join(f.topo.tmp, "root-only.key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as w:
        w.write("0123456789abcdef0123456789abcdef\n")
    conf = ("listen 127.0.0.1:3993\ncontrol_socket %s/c.sock\nstate_file %s/state\n"
            "audit_log %s/audit.jsonl\ngrant_key %s\nuser nobody\n" % (d, d, d, key))
    g = f.topo.start_wicketd(conf)
    try:
        assert "grant_key %s is not readable by user nobody" % key in g.stderr(), h.tail(g.stderr(), 8)
        out = ctl_raw(d + "/c.sock", "reload")
        assert out.startswith("error reload refused, nothing changed") and "grant_key" in out, out
        assert g.alive()
    finally:
        rc = g.stop()
    assert rc == 0, rc


def test_control_socket_removed_at_exit(f):
    """Last: SIGTERM; the daemon (as nobody) removes its socket and exits 0."""
    rc = f.gate.stop()
    assert rc == 0, "exit %s" % rc
    assert not os.path.exists(f.sock), "control socket left behind"
    f.gate = f.topo.start_wicketd(CONF % {"dir": f.dir})  # for the teardown's checks


TESTS = [
    test_proc_shows_nobody_two_caps_no_new_privs,
    test_files_handed_to_the_user,
    tu.test_sniffer_learns_without_root,  # the same check, after our own drop
    test_splash_opens_and_deny_closes_nft,
    test_state_file_compacts_by_rename,
    test_reload_and_audit_reopen_after_rotation,
    test_pcap_reopens_after_the_drop,
    test_root_without_user_refused,
    test_unknown_user_refused_also_by_check,
    test_unwritable_state_directory_refused,
    test_seccomp_filter_serves,
    test_unreadable_key_warned_then_reload_refused,
    test_control_socket_removed_at_exit,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_privs", TESTS, lambda: Fixture(),
                         teardown=h.teardown_fixture, after_each=after_each))
