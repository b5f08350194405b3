#!/usr/bin/env python3
# test_statefile: end-to-end tests of the state file on a full disk (issue 12
# "fail closed", issue 11 item 6): the state file lives on a small tmpfs the
# test fills; a revocation reaches nftables whatever the disk says and says so,
# allow/deny churn keeps working once sessions are gone (compaction with the
# reserve), a start on a full disk restores every session, a grant the disk
# cannot take is refused and leaves the previous session in force, and
# everything resumes by itself when space comes back.
"""wicket e2e: the state file fails closed on a full disk and recovers.

Run as root: python3 test/e2e/test_statefile.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import atexit
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_mirror as tm  # noqa: E402  (echo service and port probe)
import test_splash as tsp  # noqa: E402  (splash accept)

O4 = h.ORIGIN4
# 96 KiB: room for the reserve (64 KiB) and a journal of some 250
# records (fewer than the 1,024 a fixed-count compaction waited for), small
# enough that the tests fill it in milliseconds.
TMPFS_SIZE = "96k"
CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
audit_log {audit}
interface br-lan
firewall nft
nft_table wicket
control_socket %(tmp)s/control.sock
state_file %(fs)s/state
radius_secret_file %(tmp)s/radius.secret
radius_coa %(wan)s:3799
radius_coa_client %(o4)s
"""
WAN = "10.98.0.1"
SECRET = "statefile-test-secret-0123456789"


class Fixture:
    """Topology, the nft ruleset, an echo service on origin:8080, a tmpfs for the state file."""

    def __init__(self):
        """Bring everything up."""
        h.check_prereqs(h.default_wicketd())
        self.topo = h.Topology().__enter__()
        self.fs = os.path.join(self.topo.tmp, "statefs")
        os.makedirs(self.fs)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE,
                        "wicket-state", self.fs], check=True)
        atexit.register(self.umount)
        secret = os.path.join(self.topo.tmp, "radius.secret")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            fh.write(SECRET + "\n")
        self.conf = CONF % {"tmp": self.topo.tmp, "fs": self.fs, "wan": WAN, "o4": O4}
        self.topo.router.run(["sh", tm.FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
        self.origin = self.topo.start_origin()
        self.topo.origin.popen([sys.executable, "-c", tm.ECHO])
        self.topo.origin.wait_listening(8080, timeout=5)
        self.sock = os.path.join(self.topo.tmp, "control.sock")
        self.gate = self.topo.start_wicketd(self.conf)

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def umount(self):
        """Unmount the tmpfs (idempotent)."""
        subprocess.run(["umount", "-l", self.fs], capture_output=True)

    def restart(self):
        """Stop the daemon (SIGTERM, checked) and start a new one on the same state."""
        h.stop_checked(self.gate)
        self.gate = self.topo.start_wicketd(self.conf)

    def fill(self, keep_reserve=True):
        """Fill the tmpfs to the last page (the reserve file stays unless told)."""
        if not keep_reserve:
            try:
                os.unlink(os.path.join(self.fs, "state.reserve"))
            except FileNotFoundError:
                pass
        fd = os.open(os.path.join(self.fs, "filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        st = os.statvfs(self.fs)
        assert st.f_bavail * st.f_frsize < 4096, "tmpfs not full: %d bytes free" % (
            st.f_bavail * st.f_frsize)

    def unfill(self):
        """Give the space back."""
        try:
            os.unlink(os.path.join(self.fs, "filler"))
        except FileNotFoundError:
            pass

    def ctl(self, line):
        """One control request over the socket (what wicketctl sends); (ok, text)."""
        return h.ctl_request(self.sock, line)


def wicketctl(f, *args):
    """Run the real wicketctl; the CompletedProcess."""
    return subprocess.run([os.path.join(os.path.dirname(h.default_wicketd()), "wicketctl"),
                           "-s", f.sock] + list(args), capture_output=True, text=True, timeout=20)


def admitted_http(f, path):
    """True when the default client's GET of `path` reaches the origin (not a 511)."""
    r = h.curl(f.client, ["http://%s%s" % (O4, path)])
    return r.status != 511


def wait_for(pred, timeout, step=0.2):
    """Poll pred() until true or timeout; its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def exhaust(f, tag):
    """Grant new MACs until the disk refuses one (the journal's last page is
    full too); return the MACs granted. The refusal must name the state file."""
    granted = []
    for i in range(1, 250):
        mac = "02:58:%02x:00:%02x:%02x" % (tag, i // 256, i % 256)
        ok, text = f.ctl("allow %s 3600" % mac)
        if not ok:
            assert "cannot write the state file" in text, "refused for another reason: %r" % text
            return granted
        granted.append(mac)
    raise AssertionError("the disk never refused a grant")


def radclient(f, code, mac, extra=""):
    """A Disconnect- or CoA-Request (RFC 5176) for mac from the origin namespace, a
    radius_coa_client: radclient's output (the answer's code and attributes)."""
    attrs = 'Calling-Station-Id = "%s"\n%sEvent-Timestamp = %d\nMessage-Authenticator = 0x00\n' % (
        mac.upper().replace(":", "-"), extra, int(time.time()))
    p = f.topo.origin.run(["radclient", "-x", "-r", "1", "-t", "2", "%s:3799" % WAN, code, SECRET],
                          input=attrs, check=False, timeout=20)
    return p.stdout + p.stderr


def remaining(f, mac):
    """Seconds `wicketctl show` gives mac's admitted session, or None."""
    m = re.search(r"remaining: (\d+)s", wicketctl(f, "show", mac).stdout)
    return int(m.group(1)) if m else None


def reset(f):
    """Between tests: space back, no session for the default client."""
    f.unfill()
    f.ctl("deny %s" % f.client.mac)


# ----------------------------------------------------------------------------

def test_churn_fills_the_disk_by_itself(f):
    """The journal alone fills the small tmpfs: 600 allow/deny pairs with no live session left all succeed."""
    macs = ["02:55:00:00:00:%02x" % i for i in range(1, 6)]
    for i in range(600):
        m = macs[i % len(macs)]
        ok, text = f.ctl("allow %s 600" % m)
        assert ok, "allow %d refused: %r" % (i, text)
        ok, text = f.ctl("deny %s" % m)
        assert ok, "deny %d refused: %r" % (i, text)
    assert os.path.getsize(os.path.join(f.fs, "state")) < 32 * 1024, "journal never compacted"
    ok, text = f.ctl("allow %s 600" % macs[0])
    assert ok, "allow after the churn: %r" % text
    f.ctl("deny %s" % macs[0])


def test_churn_on_a_full_disk(f):
    """Another file fills the disk (the reserve stays): allow/deny churn keeps working once sessions are gone."""
    f.fill()
    macs = ["02:56:00:00:00:%02x" % i for i in range(1, 6)]
    for i in range(300):
        m = macs[i % len(macs)]
        ok, text = f.ctl("allow %s 600" % m)
        assert ok, "allow %d refused on a full disk: %r" % (i, text)
        ok, text = f.ctl("deny %s" % m)
        assert ok, "deny %d refused on a full disk: %r" % (i, text)
    reset(f)


def test_refused_grant_keeps_the_previous_session(f):
    """A re-allow the full disk cannot take is refused, and the acknowledged session stays in force everywhere."""
    ok, text = f.ctl("allow %s 3600" % f.client.mac)
    assert ok, "allow: %r" % text
    assert admitted_http(f, "/sf-before"), "not admitted after allow"
    # No reserve and no dead records: nothing a compaction could reclaim.
    f.restart()
    f.fill(keep_reserve=False)
    extra = exhaust(f, 1)
    p = wicketctl(f, "allow", f.client.mac, "60")
    assert p.returncode == 1 and "cannot write the state file" in p.stderr, \
        "re-allow on a full disk: %d %r %r" % (p.returncode, p.stdout, p.stderr)
    assert admitted_http(f, "/sf-still"), "a refused re-allow cut the client off"
    show = wicketctl(f, "show", f.client.mac)
    assert "admitted" in show.stdout, "show after a refused re-allow: %r" % show.stdout
    assert tm.probe(f, 8080) == "open", "the firewall closed for a refused re-allow"
    f.unfill()
    f.restart()
    assert admitted_http(f, "/sf-restart"), "after restart the acknowledged session is gone"
    for mac in extra:
        f.ctl("deny %s" % mac)
    reset(f)


def revoked_on_a_full_disk(f, tag, revoke):
    """Admit the default client, fill the disk to the last byte, call revoke() (which
    checks its own answer); then the client is cut off by nft and for HTTP at once, the
    revoke event says the disk did not take it, it is written once space returns, and a
    restart keeps the client out."""
    ok, text = f.ctl("allow %s 3600" % f.client.mac)
    assert ok, "allow: %r" % text
    assert wait_for(lambda: tm.probe(f, 8080) == "open", 3), "8080 not open after allow"
    f.restart()
    f.fill(keep_reserve=False)
    extra = exhaust(f, tag)
    revoke()
    assert tm.probe(f, 8080) == "timeout", "nft still forwards for a revoked client"
    assert not admitted_http(f, "/sf-revoked-%d" % tag), "HTTP still forwarded after the revocation"
    ev = f.gate.audit_wait(lambda e: e.get("event") == "revoke" and e.get("mac") == f.client.mac)
    assert ev and ev[-1].get("stored") is False, "revoke audit event: %r" % ev
    f.unfill()
    assert wait_for(lambda: "state file: written again" in f.gate.stderr(), 12), \
        "the pending revocation was not written when space came back:\n%s" % h.tail(f.gate.stderr(), 10)
    f.restart()
    assert not admitted_http(f, "/sf-after-restart-%d" % tag), \
        "the revoked client is admitted again after a restart"
    assert tm.probe(f, 8080) == "timeout", "nft open again after restart"
    for mac in extra:
        f.ctl("deny %s" % mac)


def test_deny_on_a_full_disk_closes_nft(f):
    """deny with no room at all: the client is cut off by nft at once, wicketctl says the disk did not take it; it is written when space returns."""
    def deny():
        p = wicketctl(f, "deny", f.client.mac)
        assert p.returncode == 1 and "gate and firewall closed" in p.stderr and \
            "could not record" in p.stderr, "deny on a full disk: %d %r" % (p.returncode, p.stderr)
    revoked_on_a_full_disk(f, 2, deny)


def test_start_on_a_full_disk_restores_every_session(f):
    """A start with no room to compact restores every session, serves them, refuses new grants, and recovers."""
    macs = [f.client.mac] + ["02:57:00:00:00:%02x" % i for i in range(1, 4)]
    for m in macs:
        ok, text = f.ctl("allow %s 3600" % m)
        assert ok, "allow %s: %r" % (m, text)
    h.stop_checked(f.gate)
    f.fill(keep_reserve=False)
    f.gate = f.topo.start_wicketd(f.conf)
    m = re.search(r"(\d+) sessions and \d+ nonces restored", f.gate.stderr())
    assert m and int(m.group(1)) >= len(macs), "restored: %s" % h.tail(f.gate.stderr(), 10)
    assert "no space to compact" in f.gate.stderr(), "no full-disk notice:\n%s" % h.tail(f.gate.stderr(), 10)
    listing = wicketctl(f, "list")
    for mac in macs:
        assert mac in listing.stdout, "%s missing from list after a full-disk start" % mac
    assert admitted_http(f, "/sf-full-start"), "restored client not forwarded"
    assert wait_for(lambda: tm.probe(f, 8080) == "open", 3), "restored client not open in nft"
    # Grants go on while the journal's last page has room, then are
    # refused; every one acknowledged is on disk (checked after a restart).
    extra = exhaust(f, 3)
    f.unfill()
    ok, text = f.ctl("allow 02:57:00:00:00:99 600")
    assert ok, "allow once space is back: %r" % text
    f.restart()
    listing = wicketctl(f, "list")
    for mac in macs + extra + ["02:57:00:00:00:99"]:
        assert mac in listing.stdout, "acknowledged %s lost across a restart" % mac
    assert os.path.getsize(os.path.join(f.fs, "state.reserve")) >= 64 * 1024, \
        "the reserve was not recreated"
    for mac in macs[1:] + ["02:57:00:00:00:99"] + extra:
        f.ctl("deny %s" % mac)
    reset(f)


def test_splash_on_a_full_disk_refused_then_resumes(f):
    """A splash accept the disk cannot take is refused (503, not admitted, nft closed); with space back the same device is admitted."""
    f.ctl("deny %s" % f.client.mac)
    f.restart()
    f.fill(keep_reserve=False)
    extra = exhaust(f, 4)
    r = tsp.accept_splash(f.client)
    assert r.status == 503, "accept on a full disk: %d %r" % (r.status, r.body[:200])
    assert not admitted_http(f, "/sf-splash-full"), "admitted although the grant was refused"
    assert tm.probe(f, 8080) == "timeout", "nft opened for a refused grant"
    f.unfill()
    r = tsp.accept_splash(f.client)
    assert r.status == 200, "accept with space back: %d %r" % (r.status, r.body[:200])
    assert admitted_http(f, "/sf-splash-back"), "not admitted once space came back"
    for mac in extra:
        f.ctl("deny %s" % mac)
    reset(f)


def test_disconnect_on_a_full_disk_acks_and_cuts(f):
    """A RADIUS Disconnect-Request with no room on the disk: the client is cut off (nft and
    HTTP) and the answer says so (Disconnect-ACK, not a NAK 506 for a revocation that
    happened); the record is pending and written once space is back."""
    def disconnect():
        out = radclient(f, "disconnect", f.client.mac)
        assert "Received Disconnect-ACK" in out, "Disconnect on a full disk: %s" % out
    revoked_on_a_full_disk(f, 5, disconnect)


def test_coa_on_a_full_disk_changes_nothing(f):
    """A CoA-Request whose change the disk refuses is not applied and is NAKed (506
    Resources-Unavailable), like a grant: the session keeps its time in memory and on
    disk; with space back the same CoA is applied and ACKed."""
    ok, text = f.ctl("allow %s 3600" % f.client.mac)
    assert ok, "allow: %r" % text
    f.restart()
    f.fill(keep_reserve=False)
    extra = exhaust(f, 6)
    out = radclient(f, "coa", f.client.mac, "Session-Timeout = 30\n")
    assert "Received CoA-NAK" in out and ("506" in out or "Resources-Unavailable" in out), \
        "CoA on a full disk: %s" % out
    left = remaining(f, f.client.mac)
    assert left is not None and left > 3000, "a refused CoA changed the session: %r" % left
    assert not [e for e in f.gate.audit() if e.get("event") == "limits"], "limits audited"
    f.unfill()
    f.restart()
    left = remaining(f, f.client.mac)
    assert left is not None and left > 3000, "after a restart: %r" % left
    out = radclient(f, "coa", f.client.mac, "Session-Timeout = 30\n")
    assert "Received CoA-ACK" in out, "CoA with space: %s" % out
    left = remaining(f, f.client.mac)
    assert left is not None and left <= 30, "CoA with space not applied: %r" % left
    for mac in extra:
        f.ctl("deny %s" % mac)
    reset(f)


TESTS = [
    test_churn_fills_the_disk_by_itself,
    test_churn_on_a_full_disk,
    test_refused_grant_keeps_the_previous_session,
    test_deny_on_a_full_disk_closes_nft,
    test_start_on_a_full_disk_restores_every_session,
    test_splash_on_a_full_disk_refused_then_resumes,
    test_disconnect_on_a_full_disk_acks_and_cuts,
    test_coa_on_a_full_disk_changes_nothing,
]


def after_each(f, test):
    """Space back, daemon alive and clean."""
    f.unfill()
    h.check_daemon(f.gate, test, restart=lambda: setattr(f, "gate", f.topo.start_wicketd(f.conf)))


def teardown(f):
    """Stop the daemon, unmount, remove the topology."""
    try:
        h.stop_checked(f.gate)
    finally:
        f.umount()
        f.topo.down()


if __name__ == "__main__":
    sys.exit(h.run_suite("test_statefile", TESTS, lambda: Fixture(), teardown=teardown,
                         after_each=after_each))
