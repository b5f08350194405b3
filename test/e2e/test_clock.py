#!/usr/bin/env python3
# test_clock: end-to-end test of clock robustness (issue 11 item 8): a session
# runs on the monotonic clock, so stepping the host's wall clock a year ahead
# or a year back under a running session changes neither its remaining time nor
# its admission; signed grants keep their wall-clock checks. The test steps the
# real CLOCK_REALTIME (a time namespace cannot virtualise it), each step for
# about two seconds, and always puts the clock back: in a finally block, at
# exit and on SIGTERM/SIGINT, to the time it would have reached unstepped.
"""wicket e2e: a stepped wall clock leaves sessions alone.

Run as root: python3 test/e2e/test_clock.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

O4 = h.ORIGIN4
GATE = "10.99.0.1"
YEAR = 365 * 86400
SIGN = os.path.join(h.REPO, "scripts", "wicket-sign")
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
grant_key %(key)s
control_socket {tmp}/control.sock
state_file {tmp}/state
"""

# What the wall clock would read had it never been stepped: the real time
# at the first step, plus the monotonic time elapsed since.
_base = None


def restore_clock():
    """Put CLOCK_REALTIME back to the unstepped time (idempotent)."""
    global _base
    if _base is None:
        return
    wall0, mono0 = _base
    time.clock_settime(time.CLOCK_REALTIME, wall0 + (time.monotonic() - mono0))
    _base = None


def _on_signal(signum, frame):
    """Restore the clock before the harness's own handler ends the run."""
    restore_clock()
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def stepped(delta):
    """Step the wall clock by delta seconds for the duration of the block."""
    global _base
    _base = (time.time(), time.monotonic())
    time.clock_settime(time.CLOCK_REALTIME, _base[0] + delta)
    try:
        yield
    finally:
        restore_clock()


class Fixture:
    """Topology, the origin, and a daemon with a grant key."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        try:
            time.clock_settime(time.CLOCK_REALTIME, time.time())
        except OSError as e:
            raise h.SetupError("cannot set CLOCK_REALTIME: %s" % e)
        atexit.register(restore_clock)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, _on_signal)
        self.topo = h.Topology().__enter__()
        self.key = os.path.join(self.topo.tmp, "grant.key")
        with open(os.open(self.key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            fh.write("0123456789abcdef0123456789abcdef\n")
        self.origin = self.topo.start_origin()
        self.gate = self.topo.start_wicketd(CONF % {"key": self.key})
        self.sock = os.path.join(self.gate.dir, "control.sock")

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def ctl(self, *args):
        """Run wicketctl; its stdout (exit 0 required)."""
        p = subprocess.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"),
                            "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, "wicketctl %s: %d %r" % (args, p.returncode, p.stderr)
        return p.stdout

    def remaining(self, mac):
        """The seconds the session of mac has left, as wicketctl show --json says."""
        j = json.loads(self.ctl("show", "--json", mac))
        assert j["session"]["state"] == "admitted", j
        return j["session"]["remaining"]


def forwarded(f, path):
    """True when the client's GET of path is not answered 511 (the origin serves it)."""
    return h.curl(f.client, ["http://%s%s" % (O4, path)]).status != 511


def check_step(f, delta, tag):
    """Under a step of delta seconds: admitted, same remaining time, also after the expiry tick."""
    mac = f.client.mac
    f.ctl("allow", mac, 600)
    assert forwarded(f, "/clk-%s-before" % tag), "not admitted after allow"
    before = f.remaining(mac)
    t0 = time.monotonic()
    with stepped(delta):
        time.sleep(1.3)  # at least one expiry sweep (once a second) runs stepped
        admitted = forwarded(f, "/clk-%s-during" % tag)
        during = f.remaining(mac)
        elapsed = time.monotonic() - t0
    assert admitted, "a wall clock stepped by %+d s ended the session" % delta
    assert before - elapsed - 2 <= during <= before - elapsed + 2, \
        "remaining time %d s before, %d s with the clock stepped %+d s (%.1f s later)" % (
            before, during, delta, elapsed)
    assert forwarded(f, "/clk-%s-after" % tag), "not admitted after the clock came back"
    after = f.remaining(mac)
    assert abs(after - (before - (time.monotonic() - t0))) <= 2, "remaining %d after restore" % after
    f.ctl("deny", mac)


def test_wall_clock_one_year_ahead(f):
    """The wall clock jumps a year ahead under a 600 s session: still admitted, remaining time unchanged."""
    check_step(f, YEAR, "ahead")


def test_wall_clock_one_year_back(f):
    """The wall clock jumps a year back: still admitted, remaining time unchanged (not a year more)."""
    check_step(f, -YEAR, "back")


def test_signed_grant_keeps_wall_clock(f):
    """A signed grant is checked against the wall clock: one made now is expired when the clock reads a year later."""
    c = f.topo.add_client("sg", mac="02:99:00:00:05:01", ip4="10.99.0.151", ip6="fd99::151")
    p = subprocess.run([sys.executable, SIGN, GATE, f.key, c.mac, "600"], capture_output=True,
                       text=True, timeout=10)
    url = p.stdout.strip().splitlines()[-1]
    with stepped(YEAR):
        r = h.curl(c, [url])
    assert r.status == 403 and b"expired" in r.body, "grant under a +1 y clock: %d %r" % (
        r.status, r.body[:200])
    r = h.curl(c, [url])
    assert r.status == 200, "the same grant with the clock back: %d %r" % (r.status, r.body[:200])
    f.topo.remove_client("sg")


TESTS = [
    test_wall_clock_one_year_ahead,
    test_wall_clock_one_year_back,
    test_signed_grant_keeps_wall_clock,
]


def after_each(f, test):
    """Clock back (whatever happened), daemon alive and clean."""
    restore_clock()
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_clock", TESTS, lambda: Fixture(), teardown=h.teardown_fixture,
                         after_each=after_each))
