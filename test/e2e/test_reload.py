#!/usr/bin/env python3
# test_reload: reload is honest (issue 11, item 5). Every key of the
# configuration table, changed on its own, is either reported as applied
# or named as needing a restart (as wicket.conf(5), kept in step with the
# table by test_docs, says), in wicketctl's answer and in the log; a key
# that needs a restart keeps its running value. Removing grant_key turns
# signed grants off; a new audit_log is written to; a reload that fails in
# any part -- a bad value, an unreadable key file, a firewall that refuses
# the refresh -- changes nothing, says why, and wicketctl exits 1.
"""wicket e2e: honest reload.

Run as root: python3 test/e2e/test_reload.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import test_portal as tp  # noqa: E402  (wicket-sign, fresh clients)

FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
CTL = os.path.join(h.REPO, "build", "wicketctl")
BASE = """\
listen 0.0.0.0:3990
listen [::]:3990
gateway_id test-gw
audit_log %(dir)s/audit.jsonl
interface br-lan
firewall nft
grant_key %(dir)s/grant.key
header_timeout 2
control_socket %(dir)s/control.sock
state_file %(dir)s/state
radius_auth 127.0.0.1
radius_secret_file %(dir)s/radius.secret
run_as_root yes
"""

# For every key: lines that change it (with what it needs beside it). A key
# added to the table without a row here fails test_every_key_applied_or_reported.
ALT = {
    "listen": "listen 0.0.0.0:3990\nlisten [::]:3990\nlisten 127.0.0.1:3999",
    "gateway_id": "gateway_id other-gw",
    "portal_url": "portal_url http://10.99.0.1/login",
    "audit_log": "audit_log %(dir)s/audit-alt.jsonl",
    "log_level": "log_level debug",
    "audit_syslog": "audit_syslog local3",
    "audit_syslog_socket": "audit_syslog_socket %(dir)s/syslog.sock",
    "max_connections": "max_connections 100",
    "client_connections": "client_connections 32",
    "client_connect_rate": "client_connect_rate 5",
    "client_connect_burst": "client_connect_burst 10",
    "client_511_rate": "client_511_rate 5",
    "client_511_burst": "client_511_burst 10",
    "max_request_line": "max_request_line 4096",
    "max_header_bytes": "max_header_bytes 16384",
    "max_headers": "max_headers 50",
    "max_body_bytes": "max_body_bytes 1M",
    "require_length": "require_length POST",
    "header_timeout": "header_timeout 3",
    "probe_path": "probe_path /x-probe",
    "probe_answer": "probe_answer 511",
    "allow_ip": "allow_ip 192.0.2.0/24",
    "walled_garden": "walled_garden 192.0.2.1",
    "walled_garden_host": "walled_garden_host example.invalid",
    "upstream_connect_timeout": "upstream_connect_timeout 5",
    "idle_timeout": "idle_timeout 120",
    "splice_pipes": "splice_pipes 8",
    "interface": "interface lo",
    "allow_mac": "allow_mac 02:99:00:00:00:99",
    "max_clients": "max_clients 1024",
    "neighbour_ttl": "neighbour_ttl 600",
    "conflict_window": "conflict_window 30",
    "learn_rate": "learn_rate 40",
    "learn_new_rate": "learn_new_rate 50",
    "session_timeout": "session_timeout 2h",
    "session_idle_timeout": "session_idle_timeout 10m",
    "session_bytes": "session_bytes 1G",
    "control_socket": "control_socket %(dir)s/other.sock",
    "grant_key": "grant_key %(dir)s/grant2.key",
    "max_grant_seconds": "max_grant_seconds 3600",
    "admissions_per_minute": "admissions_per_minute 10",
    "splash_sessions_per_ip": "splash_sessions_per_ip 2",
    "state_file": "state_file %(dir)s/state2",
    "splash_terms": "splash_terms %(dir)s/terms.txt",
    "firewall": "firewall none",
    "forward": "forward kernel",
    "nft_table": "nft_table other",
    "tls_listen": "tls_listen 127.0.0.1:8443\ntls_cert /etc/hostname\ntls_key /etc/hostname\n"
                  "portal_host portal.test",
    "tls_cert": "tls_cert /etc/hostname",
    "tls_key": "tls_key /etc/hostname",
    "portal_host": "portal_host portal.test",
    "venue_info_url": "venue_info_url https://venue.test/",
    "portal_can_extend": "portal_can_extend yes",
    "splash_template": "splash_template %(dir)s/splash.html",
    "network_name": "network_name Test Net",
    "radius_auth": "radius_auth 127.0.0.2",
    "radius_acct": "radius_acct 127.0.0.1",
    "radius_secret_file": "radius_secret_file %(dir)s/radius2.secret",
    "radius_timeout": "radius_timeout 5",
    "radius_retries": "radius_retries 1",
    "nas_identifier": "nas_identifier nas-1",
    "radius_mac_auth": "radius_mac_auth on",
    "radius_mac_cache": "radius_mac_cache 60",
    "radius_fail": "radius_fail open",
    "radius_require_message_authenticator": "radius_require_message_authenticator no",
    "radius_interim": "radius_interim 600",
    "radius_coa": "radius_coa 127.0.0.1:3799\nradius_coa_client 127.0.0.1",
    "radius_coa_client": "radius_coa_client 127.0.0.1",
    "radius_coa_window": "radius_coa_window 60",
    "portal": "portal radius",
    "user": "user nobody",
    "group": "group nogroup",
    "run_as_root": "run_as_root no",
    "seccomp": "seccomp yes",
}


def manpage_keys():
    """(key, needs_restart) for every entry of wicket.conf(5), in order."""
    text = open(os.path.join(h.REPO, "docs", "man", "wicket.conf.5")).read()
    out = []
    for m in re.finditer(r"\n\.It Ic (\w+)(.*?)(?=\n\.It |\n\.El)", text, re.S):
        body = m.group(2)
        restart = "a change needs a restart." in body
        assert restart != ("reload applies it." in body), "wicket.conf.5: %s says both or neither" % m.group(1)
        out.append((m.group(1), restart))
    return out


class Fixture:
    """Topology, ruleset, and one daemon whose file the tests rewrite."""

    def __init__(self):
        """Bring everything up; write the key files the alternatives name."""
        h.check_prereqs(h.default_wicketd())
        self.topo = t = h.Topology().__enter__()
        self.dir = os.path.join(t.tmp, "rl")
        os.makedirs(self.dir)
        for name, text in (("grant.key", "0123456789abcdef0123456789abcdef\n"),
                           ("grant2.key", "fedcba9876543210fedcba9876543210\n"),
                           ("radius.secret", "radius-secret-0123456789\n"),
                           ("radius2.secret", "radius-secret-9876543210\n")):
            with open(os.open(os.path.join(self.dir, name), os.O_WRONLY | os.O_CREAT, 0o600), "w") as w:
                w.write(text)
        with open(os.path.join(self.dir, "terms.txt"), "w") as w:
            w.write("Be nice.\n")
        with open(os.path.join(self.dir, "splash.html"), "w") as w:
            w.write("<!doctype html><title>{{title}}</title>{{style}}<h1>{{network_name}}</h1>"
                    "{{terms}}{{form}}<a href=\"{{url}}\">back</a>\n")
        self.key = os.path.join(self.dir, "grant.key")  # for tp.sign
        t.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
        self.origin = t.start_origin()
        self.gate = t.start_wicketd(BASE % {"dir": self.dir})
        self.base = self.gate.conf_text  # with what the harness added (E2E_SECCOMP=0)
        self.sock = os.path.join(self.dir, "control.sock")

    @property
    def client(self):
        """The default client."""
        return self.topo.client

    def write(self, text):
        """Replace the daemon's configuration file."""
        with open(self.gate.conf_path, "w") as w:
            w.write(text)

    def reload(self, text=None):
        """Write text (default: the base file) and run wicketctl reload: (status, output)."""
        self.write(self.base if text is None else text)
        p = subprocess.run([CTL, "-s", self.sock, "reload"], capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout + p.stderr


def override(base, lines):
    """base with every key that lines set replaced by lines."""
    keys = {ln.split()[0] for ln in lines.splitlines() if ln.strip()}
    kept = [ln for ln in base.splitlines() if not ln.strip() or ln.split()[0] not in keys]
    return "\n".join(kept) + "\n" + lines + "\n"


def listed(out, label, key):
    """True when key is named on the answer's line that starts with label."""
    for line in out.splitlines():
        if line.startswith(label + ":") or line.startswith(label + " ("):
            names = line.split(":", 1)[1].replace(",", " ").split()
            if key in names:
                return True
    return False


def stall_408_seconds(f, path):
    """Seconds until the gate answers 408 to a request head that never ends."""
    r = h.raw(f.client, h.ORIGIN4, 80, b"GET %s HTTP/1.1\r\nHost: x\r\n" % path.encode(), timeout=10)
    assert r.startswith(b"HTTP/1.1 408"), "expected 408, got %r" % r[:60]
    return r.t_first


def test_every_key_applied_or_reported(f):
    """Each key changed alone: named as applied (LIVE) or as needing a restart (RESTART), then restored."""
    keys = manpage_keys()
    missing = [k for k, _ in keys if k not in ALT]
    assert not missing, "test_reload.py ALT has no alternative value for: %s" % ", ".join(missing)
    for key, restart in keys:
        alt = ALT[key] % {"dir": f.dir}
        if key == "seccomp" and "seccomp no" not in f.base:
            alt = "seccomp no"  # on by default
        rc, out = f.reload(override(f.base, alt))
        assert rc == 0, "reload changing %s refused (%d):\n%s" % (key, rc, out)
        if restart:
            assert listed(out, "needs a restart", key) and not listed(out, "applied", key), \
                "%s needs a restart, but the answer says:\n%s" % (key, out)
        else:
            assert listed(out, "applied", key) and not listed(out, "needs a restart", key), \
                "%s is applied by reload, but the answer says:\n%s" % (key, out)
        rc, out = f.reload()
        assert rc == 0, "restoring after %s (%d):\n%s" % (key, rc, out)
        # a restart key kept its running value, so going back is no change for it
        assert not listed(out, "needs a restart", key), "after %s: %s" % (key, out)
        assert f.gate.alive(), "daemon died reloading %s:\n%s" % (key, h.tail(f.gate.stderr(), 20))
    log = f.gate.stderr()
    assert "applied: header_timeout" in log and "needs a restart (running value kept): listen" in log, \
        "the log does not name the keys:\n%s" % h.tail(log, 10)


def test_restart_key_keeps_running_value(f):
    """A new listen address is reported, not bound: port 3999 is not listening."""
    rc, out = f.reload(f.base + "listen 0.0.0.0:3999\n")
    assert rc == 0 and listed(out, "needs a restart", "listen"), out
    assert not f.topo.router.listening(3999), "a reload bound a new listen address"
    assert f.reload()[0] == 0


def test_header_timeout_applied(f):
    """header_timeout 2 -> 4 by reload: a stalled head waits about 4 s for its 408."""
    assert stall_408_seconds(f, "/rl-t1") < 3.5
    rc, out = f.reload(f.base.replace("header_timeout 2", "header_timeout 4"))
    assert rc == 0 and listed(out, "applied", "header_timeout"), out
    t = stall_408_seconds(f, "/rl-t2")
    assert 3.5 < t < 6, "408 after %.1f s, expected about 4" % t
    assert f.reload()[0] == 0


def test_grant_key_removed_turns_signed_grants_off(f):
    """Without grant_key a grant signed with the old key is refused (404); with it back, one is accepted."""
    c = tp.fresh_client(f, "rk")
    rc, out = f.reload(f.base.replace("grant_key %s/grant.key\n" % f.dir, ""))
    assert rc == 0 and listed(out, "applied", "grant_key"), out
    r = h.curl(c, [tp.sign(f, c.mac, 600)])
    assert r.status == 404, "grant with the removed key: %d %r" % (r.status, r.body[:200])
    assert not tp.forwarded(f, c, "/rl-k1"), "admitted by a removed key"
    assert f.reload()[0] == 0
    r = h.curl(c, [tp.sign(f, c.mac, 600)])
    assert r.status == 200, "grant after the key came back: %d %r" % (r.status, r.body[:200])
    assert tp.forwarded(f, c, "/rl-k2")
    f.topo.remove_client("rk")


def test_audit_log_path_change(f):
    """audit_log moved by reload: the next request's line is in the new file, not the old one."""
    new = os.path.join(f.dir, "audit-moved.jsonl")
    rc, out = f.reload(f.base.replace("%s/audit.jsonl" % f.dir, new))
    assert rc == 0 and listed(out, "applied", "audit_log"), out
    h.curl(f.client, ["http://%s/rl-audit-new" % h.ORIGIN4])
    deadline = time.monotonic() + 3
    while not (os.path.exists(new) and b"/rl-audit-new" in open(new, "rb").read()):
        assert time.monotonic() < deadline, "no line in the new audit file"
        time.sleep(0.05)
    assert b"/rl-audit-new" not in f.gate.audit_raw(), "line went to the old file too"
    assert f.reload()[0] == 0
    h.curl(f.client, ["http://%s/rl-audit-back" % h.ORIGIN4])
    assert f.gate.audit_wait(lambda e: e.get("path") == "/rl-audit-back"), "not back in the old file"


def test_511_link_follows_key_at_once(f):
    """grant_key rotated by reload: the next 511 for the same URL from the same
    client, in the same second (the same ts), is signed with the new key: the
    gate's memo of its last 511 does not outlive a reload."""
    url = "http://%s/rl-memo" % h.ORIGIN4

    def link(r):
        m = re.search(r'href="[^"]*[?&;]ts=(\d+)&amp;sig=([0-9a-f]+)"', r.body.decode())
        assert r.status == 511 and m, "no signed link in %r" % r.body[:600]
        return m.groups()

    try:
        for _ in range(5):
            while time.time() % 1 > 0.2:  # start early in a second
                time.sleep(0.02)
            ts1, sig1 = link(h.curl(f.client, [url]))
            assert link(h.curl(f.client, [url])) == (ts1, sig1), "one second, one link"
            rc, out = f.reload(f.base.replace("/grant.key", "/grant2.key"))
            assert rc == 0 and listed(out, "applied", "grant_key"), out
            ts2, sig2 = link(h.curl(f.client, [url]))
            if ts2 == ts1:
                assert sig2 != sig1, "the 511 after the reload is signed with the old key"
                return
            assert f.reload()[0] == 0
        raise AssertionError("no reload within one second in 5 tries")
    finally:
        assert f.reload()[0] == 0


def test_bad_file_changes_nothing(f):
    """A bad value among good changes: exit 1, FILE:LINE in the answer, the good change not applied."""
    text = f.base.replace("header_timeout 2", "header_timeout 5") + "max_headers lots\n"
    rc, out = f.reload(text)
    assert rc == 1, "bad file accepted (%d): %s" % (rc, out)
    assert "reload refused, nothing changed" in out and "max_headers: expected a number" in out, out
    assert re.search(r"wicketd\.conf:\d+: max_headers", out), out
    assert stall_408_seconds(f, "/rl-bad") < 3.5, "header_timeout 5 applied by a refused reload"
    assert f.reload()[0] == 0


def test_unreadable_key_changes_nothing(f):
    """grant_key pointing at a world-readable file: refused, the running key still verifies grants."""
    bad = os.path.join(f.dir, "open.key")
    with open(bad, "w") as w:
        w.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(bad, 0o644)
    new_audit = os.path.join(f.dir, "audit-never.jsonl")
    rc, out = f.reload(f.base.replace("%s/grant.key" % f.dir, bad).replace(
        "%s/audit.jsonl" % f.dir, new_audit))
    assert rc == 1 and "reload refused, nothing changed" in out and "grant_key" in out, out
    assert not os.path.exists(new_audit), "a refused reload opened the new audit_log"
    c = tp.fresh_client(f, "ru")
    r = h.curl(c, [tp.sign(f, c.mac, 600)])
    assert r.status == 200, "the running key stopped working: %d" % r.status
    f.topo.remove_client("ru")
    assert f.reload()[0] == 0


def test_failed_refresh_restores_everything(f):
    """The nft table gone: the firewall refresh fails, the reload is refused, header_timeout stays 2."""
    f.topo.router.run(["nft", "delete", "table", "inet", "wicket"])
    try:
        rc, out = f.reload(f.base.replace("header_timeout 2", "header_timeout 5"))
        assert rc == 1 and "running configuration was restored" in out, "(%d) %s" % (rc, out)
    finally:
        f.topo.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "up"])
    assert stall_408_seconds(f, "/rl-restored") < 3.5, "header_timeout 5 left applied"
    rc, out = f.reload()
    assert rc == 0, out


def test_sighup_reports_in_the_log(f):
    """SIGHUP with a changed key: the log names it; SIGHUP with a bad file: the log says nothing changed."""
    f.write(f.base.replace("gateway_id test-gw", "gateway_id hup-gw"))
    f.gate.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 3
    while "applied: gateway_id" not in f.gate.stderr():
        assert time.monotonic() < deadline, "no report for SIGHUP:\n%s" % h.tail(f.gate.stderr(), 5)
        time.sleep(0.05)
    f.write(f.base + "bogus_key 1\n")
    f.gate.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 3
    while "unknown key 'bogus_key'" not in f.gate.stderr():
        assert time.monotonic() < deadline, "no refusal for SIGHUP:\n%s" % h.tail(f.gate.stderr(), 5)
        time.sleep(0.05)
    assert "refused, nothing changed" in f.gate.stderr()
    assert f.reload()[0] == 0


TESTS = [
    test_every_key_applied_or_reported,
    test_restart_key_keeps_running_value,
    test_header_timeout_applied,
    test_grant_key_removed_turns_signed_grants_off,
    test_audit_log_path_change,
    test_511_link_follows_key_at_once,
    test_bad_file_changes_nothing,
    test_unreadable_key_changes_nothing,
    test_failed_refresh_restores_everything,
    test_sighup_reports_in_the_log,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_reload", TESTS, lambda: Fixture(),
                         teardown=h.teardown_fixture, after_each=after_each))
