#!/usr/bin/env python3
# test_control: end-to-end tests of the control socket and wicketctl (issue 5,
# item 2): allow/deny change what the client gets, list/show/stats output, exit
# codes, 50 concurrent clients, stuck and oversized clients, reload errors.
"""wicket e2e: wicketctl drives a running wicketd over its control socket.

Run as root: python3 test/e2e/test_control.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import collections
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4 = h.ORIGIN4
IDLE = 5  # CONTROL_IDLE_SECS in proxy/control.h
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
portal_url http://10.99.0.1/portal
gateway_id test-ctl
audit_log {audit}
header_timeout 5
session_timeout 3600
control_socket {tmp}/run/control.sock
state_file {tmp}/state
"""
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def wicketctl_binary():
    """Return $WICKETCTL, else the wicketctl next to the wicketd under test."""
    b = os.environ.get("WICKETCTL")
    if b:
        return b if os.path.isabs(b) else os.path.join(h.REPO, b)
    return os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl")


class Fixture:
    """Topology, origin and one wicketd with a control socket, shared by the tests."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.ctl_bin = wicketctl_binary()
        if not os.path.exists(self.ctl_bin):
            raise h.SetupError("wicketctl binary not found: %s (run make)" % self.ctl_bin)
        self.topo = h.Topology().__enter__()
        self.origin = self.topo.start_origin()
        self.start()
        self.restarts = 0

    def start(self):
        """Start wicketd and wait for its control socket."""
        self.gate = self.topo.start_wicketd(CONF)
        self.sock = os.path.join(self.gate.dir, "run", "control.sock")
        wait_for(lambda: os.path.exists(self.sock), 5, "control socket %s" % self.sock)

    def restart(self):
        """Start a fresh daemon after a crash so that later tests still run."""
        try:
            self.gate.stop(check=False)
        except Exception:
            pass
        self.start()
        self.restarts += 1

    @property
    def client(self):
        """The default client."""
        return self.topo.client


def wait_for(pred, timeout, what):
    """Wait until pred() is true or fail naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def ctl(f, *args, sock=None, timeout=20):
    """Run wicketctl -s SOCK ARGS in the router namespace; return the CompletedProcess."""
    cmd = [f.ctl_bin, "-s", sock or f.sock] + [str(a) for a in args]
    return f.topo.router.run(cmd, check=False, timeout=timeout)


def ok(f, *args, **kw):
    """Run wicketctl and require exit 0 and an empty stderr; return stdout."""
    p = ctl(f, *args, **kw)
    assert p.returncode == 0 and p.stderr == "", "wicketctl %s: exit %d\nstdout: %r\nstderr: %r" % (
        " ".join(map(str, args)), p.returncode, p.stdout[:2000], p.stderr[:2000])
    return p.stdout


def refused(f, code, *args, want=None, **kw):
    """Run wicketctl and require exit `code`, nothing on stdout and `want` in stderr."""
    p = ctl(f, *args, **kw)
    assert p.returncode == code, "wicketctl %s: expected exit %d, got %d\nstdout: %r\nstderr: %r" % (
        " ".join(map(str, args)), code, p.returncode, p.stdout[:2000], p.stderr[:2000])
    assert p.stdout == "", "wicketctl %s: unexpected stdout %r" % (" ".join(map(str, args)), p.stdout)
    if want is not None:
        assert want in p.stderr, "wicketctl %s: stderr %r lacks %r" % (" ".join(map(str, args)), p.stderr, want)
    assert p.stderr.startswith("wicketctl: "), "stderr %r does not start with 'wicketctl: '" % p.stderr
    return p.stderr


def get(f, path):
    """curl http://ORIGIN/path from the default client through the gate."""
    return h.curl(f.client, ["http://%s%s" % (O4, path)], timeout=10)


def assert_forwarded(r, what):
    """The origin itself answered (not the gate)."""
    assert r.status == 200 and r.headers.get("X-Origin") == "wicket-e2e", \
        "%s: expected the origin's 200 (X-Origin: wicket-e2e), got %r headers %r" % (
            what, r.status_line, list(r.headers))


def assert_511(r, what):
    """The gate answered 511."""
    assert r.status == 511, "%s: expected 511, got %r" % (what, r.status_line)


def list_json(f):
    """Return `list --json` parsed, checking that it is one valid JSON array."""
    out = ok(f, "list", "--json")
    try:
        data = json.loads(out)
    except ValueError as e:
        raise AssertionError("list --json is not valid JSON (%s): %r" % (e, out[:2000]))
    assert isinstance(data, list), "list --json is not an array: %r" % out[:300]
    return data


def session_of(f, mac):
    """Return the `list --json` object for mac, or None."""
    return next((s for s in list_json(f) if s.get("mac") == mac), None)


def raw_ctl(f, data, timeout=10.0):
    """Connect to the control socket directly, send `data`, read to EOF; return (bytes, seconds)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    s.connect(f.sock)
    if data:
        s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    finally:
        s.close()
    return out, time.monotonic() - t0


# ----------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------

def test_socket_created_0600(f):
    """The control socket exists with mode 0600 in a directory wicketd created with mode 0750."""
    st = os.stat(f.sock)
    assert stat.S_ISSOCK(st.st_mode), "%s is not a socket" % f.sock
    assert stat.S_IMODE(st.st_mode) == 0o600, "socket mode %o, expected 600" % stat.S_IMODE(st.st_mode)
    d = os.stat(os.path.dirname(f.sock))
    assert stat.S_IMODE(d.st_mode) == 0o750, "directory mode %o, expected 750" % stat.S_IMODE(d.st_mode)


def test_allow_then_forwarded(f):
    """A client gets 511; after `wicketctl allow MAC 60` the same request reaches the origin."""
    assert_511(get(f, "/before-allow"), "before allow")
    out = ok(f, "allow", f.client.mac, 60)
    assert re.fullmatch(r"admitted %s until \S+Z \(60s\)\n" % f.client.mac, out), "allow output %r" % out
    assert_forwarded(get(f, "/after-allow"), "after allow")
    e = f.gate.audit_wait(lambda e: e.get("event") == "grant" and e.get("mac") == f.client.mac, timeout=3)
    assert e, "no grant audit event for %s" % f.client.mac


def test_list_text(f):
    """`list` prints the header and a row with the MAC, state, source, times and the client's IPv4."""
    ok(f, "allow", f.client.mac, 60)
    get(f, "/list-text")  # the registry knows the client's address by now
    lines = ok(f, "list").splitlines()
    assert lines and lines[0].split() == ["MAC", "STATE", "SOURCE", "START", "EXPIRES", "BYTES", "ADDRESSES"], \
        "list header %r" % (lines[:1],)
    row = [ln for ln in lines[1:] if ln.startswith(f.client.mac)]
    assert len(row) == 1, "list has %d rows for %s:\n%s" % (len(row), f.client.mac, "\n".join(lines))
    cols = row[0].split()
    assert cols[1] == "admitted" and cols[2] == "ctl", "row %r" % row[0]
    assert TS_RE.match(cols[3]) and TS_RE.match(cols[4]), "row times %r" % row[0]
    assert cols[5].isdigit(), "row bytes %r" % row[0]
    assert h.CLIENT4 in cols[6].split(","), "row addresses %r lack %s" % (cols[6], h.CLIENT4)


def test_list_json(f):
    """`list --json` is one valid JSON array holding the client with its session and addresses."""
    ok(f, "allow", f.client.mac, 60)
    assert_forwarded(get(f, "/list-json"), "list-json")
    wait_for(lambda: (session_of(f, f.client.mac) or {}).get("bytes", 0) > 0, 3,
             "bytes through the gate counted in the session")
    s = session_of(f, f.client.mac)
    assert s is not None, "list --json lacks %s" % f.client.mac
    assert s["state"] == "admitted" and s["reason"] is None and s["source"] == "ctl", s
    assert 0 < s["remaining"] <= 60, s
    assert TS_RE.match(s["start"]) and TS_RE.match(s["expires"]), s
    assert isinstance(s["bytes"], int) and s["bytes"] > 0, "bytes through the gate not counted: %r" % s
    assert h.CLIENT4 in s["ips"], s


def test_show_mac(f):
    """`show MAC` prints the registry record and the session; `show --json MAC` is valid JSON."""
    ok(f, "allow", f.client.mac, 60)
    get(f, "/show-mac")
    out = ok(f, "show", f.client.mac)
    kv = [ln.split(": ", 1) for ln in out.splitlines()]
    assert all(len(p) == 2 for p in kv), "show output is not 'key: value' lines: %r" % out
    keys = [k for k, _ in kv]
    d = dict(kv)
    assert d["mac"] == f.client.mac and d["session"] == "admitted" and d["source"] == "ctl", out
    assert d["randomised"] == "yes" and d["conflict"] == "no", out  # 02:... is locally administered
    assert any(v.startswith(h.CLIENT4 + " (seen ") for k, v in kv if k == "address"), out
    for k in ("first_seen", "last_seen", "start", "expires", "remaining", "bytes"):
        assert k in keys, "show lacks %s: %r" % (k, out)
    j = json.loads(ok(f, "show", "--json", f.client.mac))
    assert j["mac"] == f.client.mac and j["session"]["state"] == "admitted", j
    assert h.CLIENT4 in [a["ip"] for a in j["client"]["addresses"]], j


def test_show_ip(f):
    """`show IP` finds the MAC bound to the address; an unknown IP or MAC is `error not found` (exit 1)."""
    get(f, "/show-ip")
    d = dict(ln.split(": ", 1) for ln in ok(f, "show", h.CLIENT4).splitlines())
    assert d["mac"] == f.client.mac and d["query"] == h.CLIENT4, d
    j = json.loads(ok(f, "show", h.CLIENT4, "--json"))
    assert j["mac"] == f.client.mac and j["query"] == h.CLIENT4, j
    refused(f, 1, "show", "10.99.0.99", want="wicketctl: not found")
    refused(f, 1, "show", "02:99:99:99:99:99", want="wicketctl: not found")


def test_stats(f):
    """`stats` prints 'name: value' counters; `stats --json` has the gate, session, registry, control sections."""
    get(f, "/stats")
    out = ok(f, "stats")
    d = {}
    for ln in out.splitlines():
        k, v = ln.split(": ", 1)
        d[k] = v
    for k in ("connections", "accepted", "requests", "forwarded", "denied", "sessions_total",
              "sessions_admitted", "registry_clients", "control_clients", "control_requests"):
        assert k in d and d[k].isdigit(), "stats lacks a number for %s: %r" % (k, out)
    assert int(d["requests"]) >= 1 and int(d["registry_clients"]) >= 1, out
    assert int(d["control_clients"]) >= 1, out
    j = json.loads(ok(f, "stats", "--json"))
    assert set(j) >= {"gate", "sessions", "registry", "control"}, j  # test_stats.py: the rest
    assert j["gate"]["requests"] >= 1 and j["control"]["requests"] >= 1, j


def test_deny_then_511(f):
    """`wicketctl deny MAC` revokes: the next request gets 511; a second deny is an error (exit 1)."""
    ok(f, "allow", f.client.mac, 60)
    assert_forwarded(get(f, "/before-deny"), "before deny")
    assert ok(f, "deny", f.client.mac) == "revoked %s\n" % f.client.mac
    assert_511(get(f, "/after-deny"), "after deny")
    s = session_of(f, f.client.mac)
    assert s is not None and s["state"] == "revoked", s
    refused(f, 1, "deny", f.client.mac, want="wicketctl: no session")


def test_bad_arguments_exit_2(f):
    """Bad MAC, bad duration, extra arguments, bad options: exit 2 before connecting."""
    nosock = os.path.join(f.gate.dir, "no-such.sock")  # proves nothing was sent
    for args, want in (
            (["allow", "02:99:00:00:00"], 'bad MAC address "02:99:00:00:00"'),
            (["allow", "01:00:5e:00:00:01"], "not a unicast station address"),
            (["deny", "nobody"], 'bad MAC address "nobody"'),
            (["allow", f.client.mac, "0"], 'bad duration "0" (expected 1..31536000 seconds'),
            (["allow", f.client.mac, "31536001"], 'bad duration "31536001"'),
            (["allow", f.client.mac, "1w"], 'bad duration "1w"'),
            (["allow", f.client.mac, "60", "extra"], "too many arguments (usage: allow MAC [DURATION])"),
            (["allow"], "missing argument (usage: allow MAC [DURATION])"),
            (["list", "--xml"], 'unknown option "--xml"'),
            (["show", "host.example"], 'bad address "host.example"'),
            (["stats", "a b"], "blank or control character")):
        refused(f, 2, *args, sock=nosock, want=want)
    p = f.topo.router.run([f.ctl_bin], check=False)
    assert p.returncode == 2 and "usage: wicketctl" in p.stderr, p
    p = f.topo.router.run([f.ctl_bin, "-t", "0", "stats"], check=False)
    assert p.returncode == 2 and "bad timeout" in p.stderr, p
    p = f.topo.router.run([f.ctl_bin, "-V"], check=False)
    assert p.returncode == 0 and re.fullmatch(r"wicketctl \d+\.\d+\.\d+\n", p.stdout), p
    p = f.topo.router.run([f.ctl_bin, "-h"], check=False)
    assert p.returncode == 0 and "exit status" in p.stdout, p


def test_unknown_command_exit_1(f):
    """A command wicketctl does not know goes to wicketd, whose error is printed with exit 1."""
    refused(f, 1, "frobnicate", "x", want='wicketctl: unknown command "frobnicate" (commands: ')


def test_missing_socket_exit_3(f):
    """No socket at the path: exit 3 and a message naming the path."""
    path = os.path.join(f.gate.dir, "absent", "control.sock")
    refused(f, 3, "stats", sock=path, want="cannot connect to %s: no such socket" % path)


def test_fifty_concurrent_clients(f):
    """50 wicketctl processes at once (allow, show, list --json, stats) all succeed."""
    macs = ["02:aa:00:00:00:%02x" % i for i in range(20)]
    cmds = [["allow", m, 120] for m in macs] + [["stats"]] * 10 + [["list", "--json"]] * 10 + \
        [["show", f.client.mac]] * 5 + [["stats", "--json"]] * 5
    assert len(cmds) == 50
    get(f, "/concurrent")  # the client is known for `show`
    procs = [subprocess.Popen(f.topo.router.cmd([f.ctl_bin, "-s", f.sock] + [str(a) for a in c]),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=h.clean_env())
             for c in cmds]
    bad = []
    for c, p in zip(cmds, procs):
        out, err = p.communicate(timeout=30)
        if p.returncode != 0:
            bad.append("%s: exit %d %r" % (" ".join(map(str, c)), p.returncode, err))
        elif c[0] == "list":
            json.loads(out)
    assert not bad, "%d of 50 failed:\n%s" % (len(bad), "\n".join(bad))
    listed = {s["mac"]: s for s in list_json(f)}
    missing = [m for m in macs if m not in listed or listed[m]["state"] != "admitted"]
    assert not missing, "not admitted after concurrent allow: %r" % missing
    for m in macs:
        ok(f, "deny", m)


def test_stuck_client_does_not_stall(f):
    """A client that connects and sends nothing stalls neither wicketctl nor HTTP, and is closed after 5 s."""
    stuck = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
    t0 = time.monotonic()
    try:
        for s in stuck:
            s.connect(f.sock)
        s = stuck[-1]
        s.sendall(b"sta")  # half a request line, then nothing
        t = time.monotonic()
        ok(f, "stats")
        assert time.monotonic() - t < 2, "stats took %.1fs with stuck clients" % (time.monotonic() - t)
        t = time.monotonic()
        r = get(f, "/while-stuck")
        assert r.status in (200, 511), "curl through the gate while stuck: %r" % r.status_line
        assert time.monotonic() - t < 3, "curl took %.1fs with stuck clients" % (time.monotonic() - t)
        for s in stuck:
            s.settimeout(IDLE + 5 - (time.monotonic() - t0))
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            assert data == b"error timeout: no request within 5 seconds\n\n", "stuck client got %r" % data
        dt = time.monotonic() - t0
        assert IDLE - 1 <= dt <= IDLE + 3, "stuck clients closed after %.1fs, expected about %ds" % (dt, IDLE)
    finally:
        for s in stuck:
            s.close()
    ok(f, "stats")


def test_connection_limit(f):
    """The 65th concurrent control connection is refused with a message; the slots come back after."""
    held = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(f.sock)
            held.append(s)
        time.sleep(0.2)
        refused(f, 1, "stats", want="wicketctl: too many control connections")
    finally:
        for s in held:
            s.close()
    wait_for(lambda: ctl(f, "stats").returncode == 0, 3, "a control slot after closing 64 connections")


def test_thousand_concurrent_refused_read_the_answer(f):
    """1,000 concurrent control clients, 64 of them holding the slots: the other 936 all read the refusal and a clean EOF (no reset)."""
    held = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(f.sock)
            held.append(s)
        time.sleep(0.3)
        n = 936
        bar = threading.Barrier(n)
        got = [None] * n

        def one(i):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            data = b""
            try:
                bar.wait()
                s.connect(f.sock)  # blocking, as wicketctl does: a full queue waits
                s.settimeout(30)
                try:
                    s.sendall(b"stats\n")
                except OSError:
                    pass  # refused before we wrote: the answer is still there to read
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    data += b
                got[i] = data
            except OSError as e:
                got[i] = "%s after %r" % (e, data)
            finally:
                s.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        want = b"error too many control connections\n\n"
        bad = collections.Counter(repr(g)[:80] for g in got if g != want)
        assert not bad, "%d of %d refused clients did not read the refusal cleanly: %s" % (
            sum(bad.values()), n, bad.most_common(4))
    finally:
        for s in held:
            s.close()
    wait_for(lambda: ctl(f, "stats").returncode == 0, 5, "a control slot after the flood")


def test_oversized_and_raw_requests(f):
    """A request line over 512 bytes is refused and closed; a CRLF line and a line ended by EOF are served."""
    out, _ = raw_ctl(f, b"stats " + b"x" * 600 + b"\n")
    assert out == b"error request too long (more than 512 bytes)\n\n", out
    out, _ = raw_ctl(f, b"x" * 4096)  # no newline at all
    assert out == b"error request too long (more than 512 bytes)\n\n", out
    out, _ = raw_ctl(f, b"stats\r\n")
    assert out.startswith(b"ok\npaused: ") and out.endswith(b"\n\n") and out.count(b"\n\n") == 1, out
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(f.sock)
    s.sendall(b"list --json")
    s.shutdown(socket.SHUT_WR)  # EOF ends the line
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    assert data.startswith(b"ok\n[") and data.endswith(b"]\n\n"), data[:200]
    json.loads(data[3:-1])
    out, _ = raw_ctl(f, b"\n")
    assert out == b"error empty request\n\n", out


def test_reload_broken_config(f):
    """`reload` with a broken config file fails with its errors (exit 1); the daemon keeps serving."""
    with open(f.gate.conf_path) as fh:
        good = fh.read()
    try:
        with open(f.gate.conf_path, "w") as fh:
            fh.write(good + "bogus_key 1\nheader_timeout lots\n")
        err = refused(f, 1, "reload")
        assert "unknown key 'bogus_key'" in err and "header_timeout" in err, err
        assert ":%d:" % (good.count("\n") + 1) in err, "error lacks file:line: %r" % err
        ok(f, "stats")
        r = get(f, "/after-bad-reload")
        assert r.status in (200, 511), r.status_line
    finally:
        with open(f.gate.conf_path, "w") as fh:
            fh.write(good)
    out = ok(f, "reload")  # the answer names the file and what changed (test_reload.py)
    assert out.startswith("configuration ") and " reloaded" in out.splitlines()[0], out
    assert f.gate.alive()


def test_second_daemon_refused(f):
    """A second wicketd on the same control socket refuses to start; the first keeps its socket."""
    conf = CONF.replace("3990", "3991").replace("{tmp}/run/control.sock", f.sock) \
        .replace("{tmp}/state", "{tmp}/state2")
    d = h.Wicketd(f.topo, conf)
    d.start(wait=False)
    try:
        rc = d.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        d.stop(check=False)
        raise AssertionError("second wicketd did not exit")
    d.stop(check=False)
    assert rc != 0, "second wicketd exited %d" % rc
    assert "another process answers on it" in d.stderr(), d.stderr()
    ok(f, "stats")


def test_stale_socket_replaced(f):
    """A socket file nobody listens on (a crashed daemon's) is removed and replaced at start."""
    path = os.path.join(f.gate.dir, "stale", "control.sock")
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens
    conf = CONF.replace("3990", "3992").replace("{tmp}/run/control.sock", path) \
        .replace("{tmp}/state", "{tmp}/state3")
    d = h.Wicketd(f.topo, conf)
    d.start()
    try:
        wait_for(lambda: ctl(f, "stats", sock=path).returncode == 0, 5, "the restarted control socket")
        assert "removed a stale socket" in d.stderr(), d.stderr()
    finally:
        rc = d.stop(check=True)
    assert rc == 0, "wicketd exited %s" % rc
    assert not os.path.exists(path), "wicketd left its control socket behind at exit"


def test_daemon_survived_everything(f):
    """After all of the above the same daemon answers, with a clean stderr."""
    assert f.restarts == 0, "wicketd had to be restarted %d time(s)" % f.restarts
    ok(f, "stats")
    f.gate.check_sanitizers()


TESTS = [
    test_socket_created_0600,
    test_allow_then_forwarded,
    test_list_text,
    test_list_json,
    test_show_mac,
    test_show_ip,
    test_stats,
    test_deny_then_511,
    test_bad_arguments_exit_2,
    test_unknown_command_exit_1,
    test_missing_socket_exit_3,
    test_fifty_concurrent_clients,
    test_stuck_client_does_not_stall,
    test_connection_limit,
    test_thousand_concurrent_refused_read_the_answer,
    test_oversized_and_raw_requests,
    test_reload_broken_config,
    test_second_daemon_refused,
    test_stale_socket_replaced,
    test_daemon_survived_everything,
]


def after_each(f, test):
    """After every test the daemon must be alive and sanitizer-clean."""
    h.check_daemon(f.gate, test, restart=f.restart)


def setup():
    """Create the shared fixture."""
    return Fixture()


def teardown(f):
    """Stop the daemon (SIGTERM), check the sanitizers and that the socket is gone, remove the namespaces."""
    try:
        h.stop_checked(f.gate)
        if os.path.exists(f.sock):
            raise AssertionError("control socket %s left behind at exit" % f.sock)
    finally:
        f.topo.down()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_control", TESTS, setup, teardown=teardown, after_each=after_each))
