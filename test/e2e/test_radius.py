#!/usr/bin/env python3
# test_radius: end-to-end tests of wicket as a RADIUS NAS (issue 10) against a
# real FreeRADIUS (`freeradius -X`, config generated into the test's temp dir,
# run inside the topology's origin namespace, reached by wicketd over wan0):
# MAC auth admits with Session-Timeout and a volume limit, the PAP login form
# admits and a wrong password gets the reject page, accounting Start/Interim/
# Stop reach the detail file, a radclient Disconnect-Request cuts a client,
# a CoA changes the remaining time, and a RADIUS outage loses no record.
# Scale: interim interval 2 s, radius_timeout 1 s, one retry: about 40 s.
"""wicket e2e: RADIUS authentication, accounting and CoA against FreeRADIUS.

Run as root: python3 test/e2e/test_radius.py [-v] [-l] [NAME_SUBSTRING ...]
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

FW = os.path.join(h.REPO, "scripts", "wicket-firewall")
O4 = h.ORIGIN4
BIG4 = O4  # the origin: big and slow answers on port 80, a data port 9000
GATE = "10.99.0.1"
WAN = "10.98.0.1"
SECRET = "wicket-test-secret-0123456789"

CONF = """\
listen 0.0.0.0:3990
listen [::]:3990
gateway_id gw-a
audit_log {audit}
interface br-lan
control_socket %(tmp)s/control.sock
state_file %(tmp)s/state
radius_auth %(o4)s
radius_acct %(o4)s
radius_secret_file %(secret)s
radius_timeout 1
radius_retries 1
radius_mac_auth on
radius_mac_cache 2
radius_interim 300
radius_coa %(wan)s:3799
radius_coa_client %(o4)s
portal radius
firewall nft
nft_table wicket
# test_loop_never_blocks_on_radius opens 250 connections a second from one
# client, far above the per-client limits (docs/security.md, "Limits"): off here,
# and wicket-firewall's SYN meter too (-c off below)
client_connect_rate 0
client_511_rate 0
"""

# The users file: the default client by MAC (with limits), alice by password.
USERS = """\
"02-99-00-00-00-0A" Cleartext-Password := "02-99-00-00-00-0A"
	Session-Timeout = 600,
	Acct-Interim-Interval = 2,
	ChilliSpot-Max-Total-Octets = 50000000,
	Class = "cls-mac"

# bob's replies carry no Message-Authenticator (see post-auth below)
bob Cleartext-Password := "builder"
	Session-Timeout = 900

alice Cleartext-Password := "wonderland"
	Session-Timeout = 900,
	Idle-Timeout = 300,
	Reply-Message = "Hello alice",
	Class = "cls-alice"

DEFAULT Auth-Type := Reject
	Reply-Message = "Unknown device"
"""

RADIUSD = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %(d)s/log
raddbdir = %(d)s
radacctdir = %(d)s/acct
name = freeradius
confdir = %(d)s
modconfdir = %(d)s
run_dir = %(d)s/run
db_dir = %(d)s
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = %(d)s/run/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no
log {
	destination = stdout
	auth = yes
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
client gw {
	ipaddr = %(wan)s
	secret = %(secret)s
	# wicketd signs every Access-Request (RFC 3579 §3.2): the server
	# drops one without a valid Message-Authenticator
	require_message_authenticator = yes
}
thread pool {
	start_servers = 2
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 3
	max_requests_per_server = 0
}
modules {
	files {
		filename = %(d)s/users
	}
	pap {
	}
	# Roaming: a PAP login is remembered by Calling-Station-Id, and a
	# later MAC-auth request for that device (from any gateway) accepted
	# with what the login was given (docs/deployment.md).
	cache roam {
		driver = "rlm_cache_rbtree"
		key = "%%{Calling-Station-Id}"
		ttl = 3600
		update {
			&reply:Session-Timeout := &reply:Session-Timeout
			&reply:Class := &reply:Class
		}
	}
	detail {
		filename = %(d)s/acct/detail
		escape_filenames = no
		permissions = 0600
		header = "%%t"
	}
}
server default {
	listen {
		type = auth
		ipaddr = %(o4)s
		port = 1812
	}
	listen {
		type = acct
		ipaddr = %(o4)s
		port = 1813
	}
	authorize {
		files
		pap
		if (&User-Name == &Calling-Station-Id) {
			update control {
				&Cache-Read-Only := yes
			}
			roam
			if (ok) {
				update control {
					&Auth-Type := Accept
				}
			}
		}
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	preacct {
	}
	accounting {
		detail
	}
	# FreeRADIUS 3.2.1 puts a Message-Authenticator only in EAP replies:
	# wicketd requires one in every Access reply by default (BLAST-RADIUS,
	# radius_require_message_authenticator), so it is added here, and
	# computed by the server when it signs the reply (docs/radius.md).
	# Not for bob: his replies show what a server without it gets.
	post-auth {
		# (bob's login is not remembered for roaming either: his replies
		# never reach wicketd while it requires the attribute)
		if (&User-Name != &Calling-Station-Id && &User-Name != "bob") {
			roam
		}
		if (&User-Name != "bob") {
			update reply {
				&Message-Authenticator := 0x00
			}
		}
		Post-Auth-Type REJECT {
			if (&User-Name != "bob") {
				update reply {
					&Message-Authenticator := 0x00
				}
			}
		}
	}
}
"""


class Radiusd:
    """FreeRADIUS -X in the origin namespace, with its config in the test's tmp."""

    def __init__(self, topo):
        self.topo = topo
        self.dir = os.path.join(topo.tmp, "raddb")
        for sub in ("", "log", "acct", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "radiusd.conf"), "w") as f:
            f.write(RADIUSD % {"d": self.dir, "wan": WAN, "o4": O4, "secret": SECRET})
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write(USERS)
        self.detail = os.path.join(self.dir, "acct", "detail")
        self.proc = None

    def start(self):
        """Start it and wait until both ports listen."""
        self.out = open(os.path.join(self.dir, "log", "radiusd.out"), "a")
        self.proc = self.topo.origin.popen(["freeradius", "-X", "-d", self.dir],
                                           stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (self.topo.origin.listening(1812, "u") and self.topo.origin.listening(1813, "u")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise h.SetupError("freeradius did not start: " + self.log()[-3000:])
            time.sleep(0.1)

    def stop(self):
        """Stop it (SIGTERM) and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def log(self):
        """FreeRADIUS's -X output so far."""
        try:
            with open(os.path.join(self.dir, "log", "radiusd.out")) as f:
                return f.read()
        except OSError:
            return ""

    def records(self):
        """The accounting detail file as a list of dicts (values unquoted)."""
        try:
            with open(self.detail) as f:
                text = f.read()
        except OSError:
            return []
        out = []
        for block in text.split("\n\n"):
            rec = {}
            for line in block.splitlines():
                m = re.match(r"\s+([\w-]+) = (.*)$", line)
                if m:
                    rec[m.group(1)] = m.group(2).strip('"')
            if rec:
                out.append(rec)
        return out


class Fixture:
    """Topology with two clients, FreeRADIUS in the origin namespace, wicketd."""

    def __init__(self):
        h.check_prereqs(h.default_wicketd())
        if subprocess.run(["which", "freeradius", "radclient"], capture_output=True).returncode:
            raise h.SetupError("freeradius and radclient are needed (scripts/deps.sh)")
        self.topo = h.Topology().__enter__()
        self.other = self.topo.add_client("b")
        secret = os.path.join(self.topo.tmp, "radius.secret")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(SECRET + "\n")
        # -c off: test_loop_never_blocks_on_radius opens 250 connections a second from
        # one client, far above the kernel's per-source SYN meter as well (see CONF)
        self.topo.router.run(["sh", FW, "-i", "br-lan", "-p", "3990", "-t", "wicket", "-c", "off",
                              "up"])
        self.topo.origin.popen([sys.executable, "-c", BIG, "0.0.0.0"])
        self.topo.origin.wait_listening(9000, timeout=5)
        self.radiusd = Radiusd(self.topo)
        self.radiusd.start()
        self.conf = CONF % {"o4": O4, "wan": WAN, "secret": secret, "tmp": self.topo.tmp}
        self.gate = self.topo.start_wicketd(self.conf)
        self.ctl_sock = os.path.join(self.topo.tmp, "control.sock")

    @property
    def client(self):
        return self.topo.client

    def ctl(self, *args):
        """Run wicketctl against this daemon."""
        return subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s", self.ctl_sock]
                              + list(args), capture_output=True, text=True, timeout=15)

    def events(self, kind, mac=None):
        """Audit events of one kind (for one MAC)."""
        return [e for e in self.gate.audit() if e.get("event") == kind
                and (mac is None or e.get("mac") == mac)]

    def radclient(self, code, attrs):
        """radclient from the origin namespace to the CoA port; (rc, output)."""
        p = self.topo.origin.run(["radclient", "-x", "-r", "1", "-t", "2", "%s:3799" % WAN, code,
                                  SECRET], input=attrs, check=False, timeout=20)
        return p.returncode, p.stdout + p.stderr


def expires_s(event):
    """An audit event's `expires` (RFC 3339, docs/audit-log.md) as Unix seconds."""
    return datetime.fromisoformat(event["expires"].replace("Z", "+00:00")).timestamp()


def teardown(f):
    """Stop FreeRADIUS, then the usual teardown."""
    f.radiusd.stop()
    h.teardown_fixture(f)


def wait_for(pred, timeout, what):
    """Poll pred until it is true or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


def get(client, url):
    """A GET from the client, without following redirects."""
    return h.curl(client, [url])


def login_form(f, client):
    """Follow the 511 link to the splash and return its login form fields."""
    r = get(client, "http://%s/r-wanted" % O4)
    assert r.status == 511, "expected 511 before admission, got %d" % r.status
    link = re.search(r'href="([^"]+)"', r.body.decode()).group(1).replace("&amp;", "&")
    page = get(client, link)
    assert page.status == 200, "splash: %d" % page.status
    text = page.body.decode("utf-8", "replace")
    assert 'action="/wicket/login"' in text and 'name="password"' in text, \
        "no login form on the splash (portal radius): %r" % text[:400]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    fields["url"] = fields["url"].replace("&amp;", "&")
    return fields


def login(f, client, user, password):
    """POST the login form, then poll the status page; the final Response."""
    fields = login_form(f, client)
    fields.update({"user": user, "password": password})
    r = h.curl(client, ["-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                        "--data-binary", urllib.parse.urlencode(fields),
                        "http://%s/wicket/login" % GATE])
    assert r.status == 200, "login POST: %d %r" % (r.status, r.body[:300])
    m = re.search(r"/wicket/login\?id=([0-9a-f]{32})", r.body.decode())
    assert m, "no status link in %r" % r.body[:300]
    deadline = time.monotonic() + 10
    while True:
        s = get(client, "http://%s/wicket/login?id=%s" % (GATE, m.group(1)))
        if s.status != 200 or b"Checking" not in s.body:
            return s
        assert time.monotonic() < deadline, "login still pending after 10 s"
        time.sleep(0.3)


# ----------------------------------------------------------------------------

def test_mac_auth_admits_with_limits(f):
    """The default client's MAC is in the users file: its first request makes wicketd
    ask FreeRADIUS (User-Name 02-99-00-00-00-0A, Message-Authenticator present), and the
    Access-Accept admits it with Session-Timeout 600 and the 50 MB volume limit."""
    mac = f.client.mac
    get(f.client, "http://%s/r-first-sight" % O4)
    grant = wait_for(lambda: f.events("grant", mac), 5, "MAC-auth grant")[0]
    assert grant["source"] == "radius", grant
    limits = wait_for(lambda: f.events("limits", mac), 3, "limits event")[0]
    assert expires_s(limits) - expires_s(grant) <= 1 and \
        abs(expires_s(grant) - (time.time() + 600)) < 15, (grant, limits)
    log = f.radiusd.log()
    assert 'User-Name = "02-99-00-00-00-0A"' in log, "User-Name not in the server log"
    assert "Message-Authenticator" in log, "Access-Request without Message-Authenticator"
    r = f.ctl("show", mac)
    assert r.returncode == 0 and "radius" in r.stdout, r.stdout
    assert get(f.client, "http://%s/r-after-mac-auth" % O4).status == 200


def test_unknown_mac_stays_out_and_is_cached(f):
    """Client b's MAC is rejected: it keeps getting 511, and a burst of its requests
    within radius_mac_cache makes one Access-Request, not one per request."""
    mac = f.other.mac
    before = f.radiusd.log().count('User-Name = "02-99-00-00-00-0B"')
    for i in range(10):
        assert get(f.other, "http://%s/r-b-%d" % (O4, i)).status == 511
    wait_for(lambda: f.events("radius_reject", mac), 5, "reject")
    asked = f.radiusd.log().count('User-Name = "02-99-00-00-00-0B"') - before
    assert 1 <= asked <= 2, "%d Access-Requests for one MAC in 1 s" % asked


def test_pap_login_admits_and_wrong_password_rejected(f):
    """Client b (MAC rejected) signs in on the splash: a wrong password gets the reject
    page (403, 'Sign-in refused'), alice/wonderland admits it (303 to the wanted URL)."""
    bad = login(f, f.other, "alice", "wrong")
    assert bad.status == 403 and b"Sign-in refused" in bad.body, (bad.status, bad.body[:300])
    assert get(f.other, "http://%s/r-after-bad" % O4).status == 511
    ok = login(f, f.other, "alice", "wonderland")
    assert ok.status == 303, "login: %d %r" % (ok.status, ok.body[:300])
    assert ok.headers.get("location", "").endswith("/r-wanted"), ok.headers
    assert get(f.other, "http://%s/r-after-login" % O4).status == 200
    g = f.events("grant", f.other.mac)[-1]
    assert g["source"] == "radius" and abs(expires_s(g) - (time.time() + 900)) < 15, g


def test_click_through_refused_with_portal_radius(f):
    """With portal radius, POST /wicket/accept does not admit."""
    c = f.topo.add_client("d")
    fields = login_form(f, c)
    r = h.curl(c, ["-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                   "--data-binary", urllib.parse.urlencode(fields),
                   "http://%s/wicket/accept" % GATE])
    assert r.status == 403, "accept with portal radius: %d" % r.status
    assert get(c, "http://%s/r-c" % O4).status == 511


def acct(f, sid=None, status=None):
    """Detail records (of one Acct-Session-Id, one status)."""
    return [r for r in f.radiusd.records()
            if (sid is None or r.get("Acct-Session-Id") == sid)
            and (status is None or r.get("Acct-Status-Type") == status)]


def test_accounting_start_interim_stop(f):
    """The MAC-auth session's Start and Interim-Updates (every 2 s, the server's
    Acct-Interim-Interval) arrive with Class echoed; wicketctl deny sends a Stop with
    Acct-Terminate-Cause Admin-Reset; Accounting-On came first."""
    recs = f.radiusd.records()
    assert recs and recs[0].get("Acct-Status-Type") == "Accounting-On", recs[:1]
    starts = wait_for(lambda: [r for r in acct(f, status="Start")
                               if r.get("Calling-Station-Id") == "02-99-00-00-00-0A"], 5, "Start")
    sid = starts[0]["Acct-Session-Id"]
    assert starts[0].get("Class") in ("cls-mac", "0x636c732d6d6163"), starts[0]
    assert starts[0].get("NAS-Identifier") == "gw-a" and starts[0].get("NAS-Port-Type") == \
        "Wireless-802.11", starts[0]
    wait_for(lambda: len(acct(f, sid, "Interim-Update")) >= 2, 8, "two Interim-Updates")
    r = f.ctl("deny", f.client.mac)
    assert r.returncode == 0, r.stdout + r.stderr
    stop = wait_for(lambda: acct(f, sid, "Stop"), 5, "Stop")
    assert len(stop) == 1 and stop[0].get("Acct-Terminate-Cause") == "Admin-Reset", stop
    assert int(stop[0].get("Acct-Session-Time", "-1")) >= 2, stop


def test_disconnect_request_cuts_client(f):
    """A radclient Disconnect-Request naming client b's Calling-Station-Id is ACKed and
    the client gets 511 again; one for an unknown MAC gets a NAK with Error-Cause 503;
    one without Message-Authenticator is dropped (no answer)."""
    assert get(f.other, "http://%s/r-before-dm" % O4).status == 200, "b not admitted"
    now = int(time.time())
    rc, out = f.radclient("disconnect", 'Calling-Station-Id = "02-99-00-00-00-0B"\n'
                          'Event-Timestamp = %d\nMessage-Authenticator = 0x00\n' % now)
    assert rc == 0 and "Disconnect-ACK" in out, out
    assert get(f.other, "http://%s/r-after-dm" % O4).status == 511
    rc, out = f.radclient("disconnect", 'Calling-Station-Id = "02-99-00-00-00-EE"\n'
                          'Event-Timestamp = %d\nMessage-Authenticator = 0x00\n' % now)
    assert "Disconnect-NAK" in out and ("503" in out or "Session-Context-Not-Found" in out), out
    rc, out = f.radclient("disconnect", 'Calling-Station-Id = "02-99-00-00-00-0A"\n'
                          'Event-Timestamp = %d\n' % now)
    assert "Disconnect-ACK" not in out and "Disconnect-NAK" not in out, out


def test_stale_or_untimed_disconnect_dropped(f):
    """RFC 5176 §3.5 replay protection: a Disconnect-Request whose Event-Timestamp is an
    hour old, or that has none, is dropped unanswered and changes nothing; so is a
    fresh one from an address that is not a radius_coa_client."""
    mac = "02:99:00:00:07:02"
    r = f.ctl("allow", mac, "600")
    assert r.returncode == 0, r.stdout + r.stderr
    refused = len(f.events("coa_refused"))
    for ts in ("Event-Timestamp = %d\n" % (int(time.time()) - 3600), ""):
        rc, out = f.radclient("disconnect", 'Calling-Station-Id = "02-99-00-00-07-02"\n'
                              '%sMessage-Authenticator = 0x00\n' % ts)
        assert "Disconnect-ACK" not in out and "Disconnect-NAK" not in out, out
    # a fresh, authentic one from an address that is not a radius_coa_client
    p = f.topo.router.run(["radclient", "-x", "-r", "1", "-t", "2", "%s:3799" % WAN, "disconnect",
                           SECRET], input='Calling-Station-Id = "02-99-00-00-07-02"\n'
                           'Event-Timestamp = %d\nMessage-Authenticator = 0x00\n' % int(time.time()),
                           check=False, timeout=20)
    out = p.stdout + p.stderr
    assert "Disconnect-ACK" not in out and "Disconnect-NAK" not in out, out
    r = f.ctl("show", mac)
    assert r.returncode == 0 and "admitted" in r.stdout, r.stdout + r.stderr
    assert len(f.events("coa_refused")) == refused + 3, f.events("coa_refused")[-4:]
    f.ctl("deny", mac)


# Sends one Disconnect-Request (RFC 5176 §3) twice, as a server retransmits
# it (same Identifier and Request Authenticator, RFC 5176 §2.3), and prints
# the two answers in hex. The authenticators as radpkt.c checks them: the
# Message-Authenticator (RFC 3579 §3.2) with a zero authenticator, then the
# Request Authenticator over the packet with it (RFC 5176 §3.5).
DM_TWICE = r"""
import hashlib, hmac, socket, struct, sys, time
gate, secret, mac = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
attrs = bytes([31, 2 + len(mac)]) + mac + bytes([55, 6]) + struct.pack(">I", int(time.time()))
body = attrs + bytes([80, 18]) + bytes(16)
hdr = bytes([40, 77]) + struct.pack(">H", 20 + len(body))
ma = hmac.new(secret, hdr + bytes(16) + body, "md5").digest()
body = attrs + bytes([80, 18]) + ma
pkt = hdr + hashlib.md5(hdr + bytes(16) + body + secret).digest() + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((gate, 3799))
for _ in range(2):
    s.send(pkt)
    print(s.recv(4096).hex())
"""


def test_retransmitted_disconnect_gets_the_same_answer(f):
    """A Disconnect-Request sent twice with the same Identifier and authenticator
    (a server's retransmission, RFC 5176 §2.3) gets the same Disconnect-ACK twice:
    the second is the remembered answer, not a NAK 503 for a session already gone."""
    mac = "02:99:00:00:07:01"
    r = f.ctl("allow", mac, "600")
    assert r.returncode == 0, r.stdout + r.stderr
    p = f.topo.origin.run([sys.executable, "-c", DM_TWICE, WAN, SECRET, "02-99-00-00-07-01"],
                          check=False, timeout=20)
    answers = p.stdout.split()
    assert p.returncode == 0 and len(answers) == 2, p.stdout + p.stderr
    assert answers[0][:2] == "29", "first answer is not a Disconnect-ACK: %s" % answers[0]
    assert answers[1] == answers[0], "retransmission answered differently: %s then %s" % (
        answers[0], answers[1])
    assert len(f.events("disconnect", mac)) == 1, "the retransmission was applied again"


def test_expiry_sweep_one_fsync(f):
    """40 sessions ending in one expiry sweep: their Stop records and session records
    are made durable by one group commit of the journal, not an fsync each (a stall of 40 fsyncs on
    the event loop; on a router's flash each costs milliseconds)."""
    macs = ["02:99:00:00:08:%02x" % i for i in range(1, 41)]
    for m in macs:
        r = f.ctl("allow", m, "2")
        assert r.returncode == 0, r.stdout + r.stderr
    out = os.path.join(f.topo.tmp, "sweep.strace")
    st = subprocess.Popen(["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", out,
                           "-p", str(f.gate.proc.pid)], stderr=subprocess.DEVNULL)
    try:
        ended = f.gate.audit_wait(lambda e: e.get("event") == "expire" and e.get("mac") in macs,
                                  count=len(macs), timeout=8)
        assert len(ended) == len(macs), "%d of %d sessions expired" % (len(ended), len(macs))
        time.sleep(0.3)
    finally:
        st.terminate()
        st.wait(timeout=5)
    # the journal's own fsyncs (-y names the file; a compaction that happens to
    # run meanwhile syncs state.tmp and the directory, not these)
    journal = os.path.join(f.topo.tmp, "state") + ">"
    with open(out) as fh:
        syncs = [l for l in fh if ("fsync(" in l or "fdatasync(" in l) and journal in l]
    assert 1 <= len(syncs) <= 3, "%d fsyncs of the journal while %d sessions ended:\n%s" % (
        len(syncs), len(macs), "".join(syncs[:8]))
    stops = wait_for(lambda: [r for r in acct(f, status="Stop")
                              if r.get("Calling-Station-Id") in [m.upper().replace(":", "-")
                                                                 for m in macs]], 5, "Stops")
    assert len(stops) >= 1, stops


def test_coa_changes_remaining_time(f):
    """CoA-Request with Session-Timeout 30 for the MAC-auth client: ACK, and its
    session now ends about 30 s from now."""
    mac = f.client.mac
    r = f.ctl("allow", mac, "3600")
    assert r.returncode == 0
    now = int(time.time())
    rc, out = f.radclient("coa", 'Calling-Station-Id = "02-99-00-00-00-0A"\n'
                          'Session-Timeout = 30\nEvent-Timestamp = %d\n'
                          'Message-Authenticator = 0x00\n' % now)
    assert rc == 0 and "CoA-ACK" in out, out
    lim = wait_for(lambda: f.events("limits", mac), 3, "limits")[-1]
    assert abs(expires_s(lim) - (now + 30)) <= 2, lim


def reload_with(f, extra):
    """Rewrite the daemon's configuration with extra lines and reload it."""
    text = (f.conf + extra).replace("{tmp}", f.gate.dir).replace("{audit}", f.gate.audit_path)
    with open(f.gate.conf_path, "w") as fh:
        fh.write(text)
    r = f.ctl("reload")
    assert r.returncode == 0, r.stdout + r.stderr


def test_login_without_server_follows_radius_fail(f):
    """No RADIUS server answers a login: with radius_fail closed (the default) the user
    gets the "did not answer" page (503) and stays out; with radius_fail open the same
    login admits the device and goes on to the page it wanted."""
    b = f.other
    f.ctl("deny", b.mac)
    f.radiusd.stop()
    try:
        r = login(f, b, "alice", "wonderland")
        assert r.status == 503 and b"did not answer" in r.body, (r.status, r.body[:300])
        assert get(b, "http://%s/r-fail-closed" % O4).status == 511
        reload_with(f, "radius_fail open\n")
        r = login(f, b, "alice", "wonderland")
        assert r.status == 303 and r.headers.get("Location", "").endswith("/r-wanted"), \
            (r.status, r.headers, r.body[:200])
        assert get(b, "http://%s/r-fail-open" % O4).status == 200
    finally:
        reload_with(f, "")
        f.radiusd.start()
        f.ctl("deny", b.mac)


def test_reply_without_message_authenticator_dropped(f):
    """BLAST-RADIUS (CVE-2024-3596): with radius_require_message_authenticator yes (the
    default) an authentic Access-Accept that carries no Message-Authenticator (bob's: the
    test server adds one to every other reply) is dropped like a forgery -- the login
    finds no answer (radius_fail closed: the 503 page, still 511) and the log says why;
    with the key set to no the same login admits."""
    c = f.topo.add_client("mauth")
    try:
        r = login(f, c, "bob", "builder")
        assert r.status == 503 and b"did not answer" in r.body, (r.status, r.body[:300])
        assert get(c, "http://%s/r-bob-dropped" % O4).status == 511
        assert "without a Message-Authenticator dropped" in f.gate.stderr(), \
            h.tail(f.gate.stderr(), 10)
        assert "Message-Authenticator" not in f.radiusd.log().rsplit("Sent Access-Accept", 1)[-1] \
            .split("\n(", 1)[0], "the test server signed bob's reply after all"
        reload_with(f, "radius_require_message_authenticator no\n")
        r = login(f, c, "bob", "builder")
        assert r.status == 303, "login with the key off: %d %r" % (r.status, r.body[:300])
        assert get(c, "http://%s/r-bob-admitted" % O4).status == 200
    finally:
        reload_with(f, "")
        f.ctl("deny", c.mac)


def test_outage_loses_no_record(f):
    """FreeRADIUS stopped: a session's Stop and Start records queue up; after it comes
    back every one arrives, in order, once."""
    mac = f.client.mac
    f.radiusd.stop()
    for i in range(3):
        assert f.ctl("allow", mac, "600").returncode == 0
        time.sleep(0.3)
    assert f.ctl("deny", mac).returncode == 0
    time.sleep(2.5)  # every try of the head record fails meanwhile
    f.radiusd.start()
    sids = set()

    def arrived():
        recs = [r for r in f.radiusd.records() if r.get("Calling-Station-Id") == "02-99-00-00-00-0A"]
        return recs if sum(1 for r in recs if r.get("Acct-Status-Type") == "Stop") >= 4 else None
    recs = wait_for(arrived, 15, "the queued records")
    seen = {}
    for r in recs:
        key = (r.get("Acct-Session-Id"), r.get("Acct-Status-Type"))
        if r.get("Acct-Status-Type") in ("Start", "Stop"):
            assert key not in seen, "duplicate record %r" % (key,)
            seen[key] = r
            sids.add(r.get("Acct-Session-Id"))
    ts = [int(r.get("Event-Timestamp", "0")) if r.get("Event-Timestamp", "0").isdigit() else 0
          for r in recs]
    order = [r.get("Acct-Status-Type") for r in recs if r.get("Acct-Status-Type") in ("Start", "Stop")]
    assert order[-8:] == ["Start", "Stop"] * 4 or order.count("Stop") >= 4, order
    del ts


def test_kill9_with_records_queued(f):
    """With FreeRADIUS down, a session starts and ends (Start and Stop queued in the
    state file), then wicketd is killed with SIGKILL and started again: once FreeRADIUS
    is back, both records arrive, once each."""
    mac = f.client.mac
    f.radiusd.stop()
    assert f.ctl("allow", mac, "600").returncode == 0
    assert f.ctl("deny", mac).returncode == 0
    time.sleep(0.5)
    before = len(f.radiusd.records())
    f.gate.proc.kill()
    f.gate.proc.wait(timeout=5)
    f.gate = f.topo.start_wicketd(f.conf)
    f.radiusd.start()

    def mine():
        recs = f.radiusd.records()[before:]
        return [r for r in recs if r.get("Calling-Station-Id") == "02-99-00-00-00-0A"]
    recs = wait_for(lambda: (lambda m: m if any(r.get("Acct-Status-Type") == "Stop" for r in m)
                             else None)(mine()), 15, "the records queued before kill -9")
    sid = [r for r in recs if r.get("Acct-Status-Type") == "Stop"][-1]["Acct-Session-Id"]
    kinds = [r.get("Acct-Status-Type") for r in recs if r.get("Acct-Session-Id") == sid]
    assert kinds == ["Start", "Stop"], "records of the killed session: %r" % kinds
    assert int([r for r in recs if r.get("Acct-Session-Id") == sid][-1]
               .get("Acct-Delay-Time", "0")) >= 1, "Acct-Delay-Time not counted"


LATENCY = r"""
import socket, sys, time
host, secs = sys.argv[1], float(sys.argv[2])
req = b"GET /lat HTTP/1.1\r\nHost: x\r\n\r\n"
out = []
end = time.perf_counter() + secs
while time.perf_counter() < end:
    time.sleep(0.004)
    t = time.perf_counter()
    s = socket.create_connection((host, 80), timeout=5)
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    out.append(time.perf_counter() - t)
    s.close()
out.sort()
print("%.6f %.6f %.6f" % (out[len(out) // 2], out[int(len(out) * 0.99) - 1], out[-1]))
"""


def test_loop_never_blocks_on_radius(f):
    """511 latency (p99 of fresh connections for 3 s, one every 4 ms, from a MAC-auth client) measured with
    FreeRADIUS answering and then blackholed (UDP 1812/1813 dropped in its namespace, so
    every Access-Request times out on its timer): the p99 must stay within 5x (generous:
    the machine is shared), and no single answer waits anywhere near radius_timeout. radius_mac_cache 2 s
    makes a new Access-Request every 2 s during the run."""
    c = f.topo.add_client("lat", mac="02:99:00:00:02:01", ip4="10.99.0.201", ip6="fd99::201")

    def p99():
        p = c.ns.run([sys.executable, "-c", LATENCY, O4, "3"], timeout=60)
        return [float(x) for x in p.stdout.split()]
    base = p99()
    f.topo.origin.run(["nft", "add table inet blk; add chain inet blk in { type filter hook "
                       "input priority 0; }; add rule inet blk in udp dport { 1812, 1813 } drop"])
    try:
        time.sleep(2.2)  # the cached answer expires: the next request asks again
        down = p99()
        timeouts = wait_for(lambda: f.events("radius_timeout", c.mac), 5, "radius_timeout")
    finally:
        f.topo.origin.run(["nft", "delete table inet blk"])
    print("    511 latency median/p99/max: reachable %.2f/%.2f/%.1f ms, unreachable "
          "%.2f/%.2f/%.1f ms" % tuple(x * 1e3 for x in base + down))
    assert timeouts, "no Access-Request timed out: the server was not really unreachable"
    assert down[1] <= max(5 * base[1], base[1] + 0.05), \
        "p99 %.1f ms while RADIUS is unreachable vs %.1f ms" % (down[1] * 1e3, base[1] * 1e3)
    # A loop that waited for RADIUS would stall for radius_timeout (1 s) at each try.
    assert down[2] < 0.5, "a 511 took %.0f ms while RADIUS was unreachable" % (down[2] * 1e3)


BIG = r"""
import socket, sys, threading, time
host = sys.argv[1]
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    return s
def http_one(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return
        buf += d
    if buf.startswith(b"GET /slow"):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
        try:
            for i in range(200):
                c.sendall(b"s" * 10000)
                time.sleep(0.05)
        except OSError:
            pass
    elif buf.startswith(b"GET /big"):
        body = b"y" * 2000000
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(body) + body)
    else:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    c.close()
def http():
    s = listen(80)
    while True:
        c, _ = s.accept()
        threading.Thread(target=http_one, args=(c,), daemon=True).start()
def data_one(c):
    got = 0
    while got < 500000:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.sendall(b"z" * 1000000)
    c.close()
threading.Thread(target=http, daemon=True).start()
s = listen(9000)
while True:
    c, _ = s.accept()
    threading.Thread(target=data_one, args=(c,), daemon=True).start()
"""

DATA = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 9000), timeout=10)
s.sendall(b"u" * 500000)
got = 0
while got < 1000000:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
print(got)
"""

SLOW = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=2)
s.sendall(b"GET /slow HTTP/1.1\r\nHost: big\r\n\r\n")
s.settimeout(0.2)
out = open(sys.argv[2], "w", buffering=1)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    try:
        d = s.recv(65536)
        if not d:
            out.write("eof %f\n" % time.time())
            break
        out.write("%f %d\n" % (time.time(), len(d)))
    except socket.timeout:
        pass
    except OSError:
        out.write("err %f\n" % time.time())
        break
"""

GT = """table inet truth {
	chain cout {
		type filter hook output priority 0;
		oifname "eth0" meta nfproto { ipv4, ipv6 } counter
	}
	chain cin {
		type filter hook input priority 0;
		iifname "eth0" meta nfproto { ipv4, ipv6 } counter
	}
}
"""


def gt_bytes(c):
    """(sent, received) IP bytes counted in the client's own namespace."""
    out = c.ns.run(["nft", "list", "table", "inet", "truth"]).stdout
    nums = [int(x) for x in re.findall(r"bytes (\d+)", out)]
    return nums[0], nums[1]


def octets(rec, kind):
    """Acct-KIND-Octets plus 2^32 x Acct-KIND-Gigawords of a detail record."""
    return int(rec.get("Acct-%s-Octets" % kind, "0")) + \
        (int(rec.get("Acct-%s-Gigawords" % kind, "0")) << 32)


def test_octets_cover_all_traffic(f):
    """A fresh client moves 2 MB down on port 80 (through wicketd) and 0.5 MB up and
    1 MB down on port 9000 (forwarded): the Stop record's Acct-Input-Octets and
    Acct-Output-Octets match the IP bytes the client's own namespace counted, within 1%.
    This is the nftables per-element counters, not wicketd's relay count."""
    c = f.topo.add_client("oct", mac="02:99:00:00:03:01", ip4="10.99.0.131", ip6="fd99::131")
    c.ns.run(["nft", "-f", "-"], input=GT)
    assert get(c, "http://%s/o-first" % BIG4).status == 511
    assert f.ctl("allow", c.mac, "600").returncode == 0
    time.sleep(1.2)  # the tick reconciles the firewall with the client's addresses
    base_sent, base_recv = gt_bytes(c)
    start = wait_for(lambda: [r for r in acct(f, status="Start")
                              if r.get("Calling-Station-Id") == "02-99-00-00-03-01"], 5, "Start")
    sid = start[-1]["Acct-Session-Id"]
    r = c.ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                  "http://%s/big" % BIG4], timeout=30)
    assert r.stdout.strip() == "200 2000000", "port 80 download: %r" % r.stdout
    r = c.ns.run([sys.executable, "-c", DATA, BIG4], timeout=30)
    assert r.stdout.strip() == "1000000", "port 9000 exchange: %r" % r.stdout
    time.sleep(0.5)
    sent, recv = gt_bytes(c)
    assert f.ctl("deny", c.mac).returncode == 0
    stop = wait_for(lambda: acct(f, sid, "Stop"), 5, "Stop")[0]
    gin, gout = octets(stop, "Input"), octets(stop, "Output")
    print("    client sent %d / received %d IP bytes; Stop says input %d / output %d" %
          (sent, recv, gin, gout))
    assert recv - base_recv > 3000000 and sent - base_sent > 500000, (sent, recv)
    assert abs(gin - sent) <= 0.01 * sent, "Acct-Input-Octets %d vs %d sent" % (gin, sent)
    assert abs(gout - recv) <= 0.01 * recv, "Acct-Output-Octets %d vs %d received" % (gout, recv)


def test_disconnect_cuts_open_download(f):
    """A Disconnect-Request for a client in the middle of a slow port-80 download: the
    download stops within 1 s (the connection is closed, not left to trickle), and the
    client's forwarded traffic (port 9000) is cut by the firewall."""
    c = f.topo.add_client("dm", mac="02:99:00:00:03:02", ip4="10.99.0.132", ip6="fd99::132")
    assert get(c, "http://%s/d-first" % BIG4).status == 511
    assert f.ctl("allow", c.mac, "600").returncode == 0
    time.sleep(1.2)
    log = os.path.join(f.topo.tmp, "slow.log")
    p = c.ns.popen([sys.executable, "-c", SLOW, BIG4, log, "6"])
    time.sleep(1.5)
    assert len(open(log).read().split("\n")) > 5, "download not flowing"
    now = int(time.time())
    rc, out = f.radclient("disconnect", 'Calling-Station-Id = "02-99-00-00-03-02"\n'
                          'Event-Timestamp = %d\nMessage-Authenticator = 0x00\n' % now)
    t_dm = time.time()
    assert "Disconnect-ACK" in out, out
    p.wait(timeout=15)
    lines = [ln.split() for ln in open(log).read().splitlines() if ln]
    late = [float(ln[0]) for ln in lines if ln[0] not in ("eof", "err") and float(ln[0]) > t_dm + 1.0]
    assert not late, "download still received data %.2f s after the Disconnect" % (late[-1] - t_dm)
    r = c.ns.run([sys.executable, "-c", DATA, BIG4], timeout=30, check=False)
    assert r.returncode != 0 or r.stdout.strip() != "1000000", "port 9000 still open"


CONF_B = """\
listen 0.0.0.0:3991
gateway_id gw-b
audit_log {audit}
interface br-lan
control_socket %(tmp)s/control-b.sock
state_file %(tmp)s/state-b
radius_auth %(o4)s
radius_acct %(o4)s
radius_secret_file %(secret)s
radius_timeout 1
radius_retries 1
radius_mac_auth on
portal radius
"""


def test_two_gateways_one_freeradius(f):
    """Gateway A's login admits a new device (bob's phone signs in as alice); gateway B
    (a second wicketd, NAS-Identifier gw-b, same FreeRADIUS) has never seen it: on its
    first request B asks by MAC, and FreeRADIUS, which remembered the login, accepts:
    the device is admitted at B without signing in again, for the time the login gave."""
    c = f.topo.add_client("roam", mac="02:99:00:00:04:01", ip4="10.99.0.141", ip6="fd99::141")
    ok = login(f, c, "alice", "wonderland")
    assert ok.status == 303, "login at A: %d" % ok.status
    secret = os.path.join(f.topo.tmp, "radius.secret")
    b = f.topo.start_wicketd(CONF_B % {"o4": O4, "secret": secret, "tmp": f.topo.tmp})
    try:
        # The device talks to gateway B (its own port here: both gates share the
        # router namespace of this topology).
        r = h.curl(c, ["http://%s:3991/wicket/" % GATE])
        assert r.status == 200, "B's page: %d" % r.status
        grants = wait_for(lambda: [e for e in b.audit() if e.get("event") == "grant"
                                   and e.get("mac") == c.mac], 5, "MAC-auth grant at B")
        assert grants[0]["source"] == "radius", grants[0]
        assert abs(expires_s(grants[0]) - (time.time() + 900)) < 20, grants[0]
        log = f.radiusd.log()
        assert 'NAS-Identifier = "gw-b"' in log and 'User-Name = "02-99-00-00-04-01"' in log
        starts = wait_for(lambda: [r for r in acct(f, status="Start")
                                   if r.get("Calling-Station-Id") == "02-99-00-00-04-01"
                                   and r.get("NAS-Identifier") == "gw-b"], 5, "B's Start")
        assert starts[0].get("Class") in ("cls-alice", "0x636c732d616c696365"), starts[0]
    finally:
        b.stop()


CONF_NAMED = """\
listen 0.0.0.0:%(port)d
gateway_id %(gw)s
audit_log {audit}
interface br-lan
control_socket %(tmp)s/control-%(gw)s.sock
state_file %(tmp)s/state-%(gw)s
%(servers)s
radius_secret_file %(secret)s
radius_timeout 1
radius_retries 1
radius_mac_auth on
radius_mac_cache 1
portal radius
"""

# Fresh connections to the gate itself (no REDIRECT: the second gate has its own
# port); prints the slowest answer in seconds and the status codes seen.
PROMPT = r"""
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
worst, codes = 0.0, set()
for i in range(n):
    t = time.perf_counter()
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /dns-%d HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n" % i)
    buf = b""
    while b"\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    worst = max(worst, time.perf_counter() - t)
    codes.add(buf.split(b" ")[1].decode() if buf.count(b" ") else "none")
    s.close()
    time.sleep(0.05)
print("%.6f %s" % (worst, ",".join(sorted(codes))))
"""


class NetnsResolver:
    """The router namespace's own /etc/resolv.conf: `ip netns exec` bind-mounts
    /etc/netns/NS/resolv.conf over /etc/resolv.conf for what it starts (wicketd
    included), so the host's file is never touched. Removed on exit."""

    def __init__(self, ns, nameserver):
        self.dir = os.path.join("/etc/netns", ns.name)
        self.path = os.path.join(self.dir, "resolv.conf")
        self.made_dir = not os.path.isdir(self.dir)
        assert not os.path.exists(self.path), "%s exists already" % self.path
        os.makedirs(self.dir, exist_ok=True)
        self.write(nameserver)

    def write(self, nameserver):
        """Point the namespace at nameserver (for processes started from now on)."""
        with open(self.path, "w") as fh:
            fh.write("nameserver %s\n" % nameserver)

    def close(self):
        """Remove the file (and the directory when this made it)."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        if self.made_dir:
            try:
                os.rmdir(self.dir)
            except OSError:
                pass


def test_server_names_resolved_on_the_loop(f):
    """radius_auth/radius_acct given by name, resolved by a real DNS server (dnsmasq
    in the origin namespace, the router namespace's resolv.conf pointing at it):
    a third gate lists `missing.test` (NXDOMAIN) first and `radius.test` (FreeRADIUS's
    address) second: the unresolved name is skipped (and logged), MAC auth admits the
    default client through the second, accounting reaches FreeRADIUS by name, and a
    reload looks the names up again. A gate whose `moving.test` first points where no
    server answers follows the name once a request gave up there (dnsmasq now gives
    FreeRADIUS's address) and admits through it. Then a gate whose resolver drops every
    packet (nft in the origin namespace): it starts at once, its only server stays
    unresolved so MAC auth follows radius_fail closed at once, and its 511s (also right
    after a reload) come promptly while the lookup is still unanswered. Scale: ~10 s."""
    assert subprocess.run(["which", "dnsmasq"], capture_output=True).returncode == 0, \
        "dnsmasq is needed (scripts/deps.sh)"
    t = f.topo
    secret = os.path.join(t.tmp, "radius.secret")
    dns_log = os.path.join(t.tmp, "dnsmasq-radius.log")
    hosts = os.path.join(t.tmp, "dnsmasq-radius.hosts")
    dead = "10.98.0.77"  # on the WAN link, but nobody has it
    with open(hosts, "w") as fh:
        fh.write("%s moving.test\n" % dead)
    dnsmasq = t.origin.popen(["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                              "--port=53", "--listen-address=" + O4, "--bind-interfaces",
                              "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
                              "--local=/test/", "--address=/radius.test/" + O4, "--addn-hosts=" + hosts,
                              "--log-queries", "--log-facility=" + dns_log],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resolver = NetnsResolver(t.router, O4)
    gates = []

    def queries(name):
        try:
            with open(dns_log) as fh:
                return len(re.findall(r"query\[A+\] %s from" % re.escape(name), fh.read(), re.I))
        except FileNotFoundError:
            return 0
    mac = f.client.mac
    try:
        wait_for(lambda: t.origin.listening(53, proto="u"), 5, "dnsmasq on port 53")
        # Admitted at gate A, the client may talk to the router's other ports
        # (A's lan_input); its port 8080 is sent to the fourth gate, which
        # answers a foreign destination with 511.
        assert f.ctl("allow", mac, "600").returncode == 0
        wait_for(lambda: t.router.run(["nft", "get", "element", "inet", "wicket", "allowed_mac",
                                       "{ %s }" % mac], check=False).returncode == 0, 5,
                 "the client in gate A's allowed_mac")
        t.router.run(["nft", "add table ip dnsredir; add chain ip dnsredir pre { type nat hook "
                      "prerouting priority -101; }; add rule ip dnsredir pre iifname br-lan "
                      "tcp dport 8080 redirect to :3993"])
        servers = ("radius_auth missing.test\nradius_auth radius.test\n"
                   "radius_acct missing.test:1813\nradius_acct radius.test:1813")
        c = t.start_wicketd(CONF_NAMED % {"port": 3992, "gw": "gw-c", "servers": servers,
                                          "secret": secret, "tmp": t.tmp})
        gates.append(c)

        def admitted(gate, port):
            """One request to gate (a sighting); its grants of the client so far."""
            try:
                h.curl(f.client, ["http://%s:%d/r-by-name" % (GATE, port)], timeout=3)
            except AssertionError as e:
                h.log("port %d: %s" % (port, str(e).splitlines()[0]))
            return [e for e in gate.audit() if e.get("event") == "grant" and e.get("mac") == mac]
        grant = wait_for(lambda: admitted(c, 3992), 10, "MAC-auth grant through radius.test")[0]
        assert grant["source"] == "radius", grant
        log = f.radiusd.log()
        assert 'NAS-Identifier = "gw-c"' in log, "FreeRADIUS never heard from gw-c"
        assert "radius server missing.test does not resolve" in c.stderr(), h.tail(c.stderr(), 10)
        assert "radius server radius.test is %s:1812" % O4 in c.stderr(), h.tail(c.stderr(), 10)
        wait_for(lambda: [r for r in acct(f, status="Start") if r.get("NAS-Identifier") == "gw-c"
                          and r.get("Calling-Station-Id") == "02-99-00-00-00-0A"], 5,
                 "gw-c's Start by name")
        assert queries("radius.test") >= 1 and queries("missing.test") >= 1, \
            "the names were not asked of dnsmasq:\n" + h.tail(open(dns_log).read(), 10)
        # A reload looks every name up again.
        before = queries("radius.test")
        r = subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s",
                            os.path.join(t.tmp, "control-gw-c.sock"), "reload"],
                           capture_output=True, text=True, timeout=15)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_for(lambda: queries("radius.test") > before, 5, "a lookup after the reload")
        c.stop()
        gates.remove(c)

        # A server that moves: asked again once a request gave up on it.
        e = t.start_wicketd(CONF_NAMED % {"port": 3994, "gw": "gw-e",
                                          "servers": "radius_auth moving.test",
                                          "secret": secret, "tmp": t.tmp})
        gates.append(e)
        wait_for(lambda: "radius server moving.test is %s:1812" % dead in e.stderr(), 5,
                 "moving.test resolved to the dead address")
        with open(hosts, "w") as fh:
            fh.write("%s moving.test\n" % O4)
        dnsmasq.send_signal(signal.SIGHUP)  # re-reads the hosts file
        grant = wait_for(lambda: admitted(e, 3994), 15, "MAC-auth grant after moving.test moved")[0]
        assert grant["source"] == "radius", grant
        assert "radius server moving.test is %s:1812" % O4 in e.stderr(), h.tail(e.stderr(), 10)
        assert [x for x in e.audit() if x.get("event") == "radius_timeout" and x.get("mac") == mac], \
            "admitted without a request giving up on the dead address first"
        e.stop()
        gates.remove(e)
        asked = queries("radius.test")

        # The resolver stops answering: every DNS packet to it is dropped.
        t.origin.run(["nft", "add table inet dnsblk; add chain inet dnsblk in { type filter "
                      "hook input priority 0; }; add rule inet dnsblk in udp dport 53 counter drop"])
        try:
            started = time.monotonic()
            # a walled_garden_host name too: its lookup is also in flight at the stop
            d = t.start_wicketd(CONF_NAMED % {"port": 3993, "gw": "gw-d",
                                              "servers": "radius_auth radius.test\n"
                                                         "walled_garden_host garden.test",
                                              "secret": secret, "tmp": t.tmp})
            gates.append(d)
            took = time.monotonic() - started
            p = f.client.ns.run([sys.executable, "-c", PROMPT, O4, "8080", "10"], timeout=60)
            worst, codes = p.stdout.split()
            fails = wait_for(lambda: [e for e in d.audit() if e.get("event") == "radius_timeout"
                                      and e.get("mac") == mac], 3, "radius_fail with no usable server")
            rr = subprocess.run([os.path.join(h.REPO, "build", "wicketctl"), "-s",
                                 os.path.join(t.tmp, "control-gw-d.sock"), "reload"],
                                capture_output=True, text=True, timeout=15)
            assert rr.returncode == 0, rr.stdout + rr.stderr
            p = f.client.ns.run([sys.executable, "-c", PROMPT, O4, "8080", "10"], timeout=60)
            worst2, codes2 = p.stdout.split()
            dropped = t.origin.run(["nft", "list table inet dnsblk"]).stdout
            # Stopped with its lookups still unanswered, the RADIUS server's and
            # the walled garden's (cancelled at the stop: the ASan build reports a
            # leak if libevent did not free them).
            assert "radius.test is" not in d.stderr(), h.tail(d.stderr(), 10)
            d.stop()
            d_err = d.stderr()
            gates.remove(d)
        finally:
            t.origin.run(["nft", "delete table inet dnsblk"], check=False)
        m = re.search(r"packets (\d+)", dropped)
        assert m and int(m.group(1)) > 0, "the resolver was never asked: " + dropped
        assert queries("radius.test") == asked, "dnsmasq was asked while blocked?"
        print("    unreachable resolver: start %.2f s, slowest 511 %.0f ms, after reload %.0f ms"
              % (took, float(worst) * 1e3, float(worst2) * 1e3))
        assert codes == "511" and codes2 == "511", (codes, codes2)
        assert fails, "no radius_timeout"
        # evdns waits 5 s per try of an unanswered lookup: a loop that waited on
        # DNS would stall start-up, a reload or these answers for seconds.
        assert took < 4, "start-up took %.1f s with the resolver unreachable" % took
        assert float(worst) < 0.5 and float(worst2) < 0.5, (worst, worst2)
        # ... and all of it under the seccomp allow-list (on by default).
        assert re.search(r"privileges: .*seccomp", d_err), h.tail(d_err, 10)
    finally:
        resolver.close()
        t.router.run(["nft", "delete table ip dnsredir"], check=False)
        for g in gates:
            g.stop(check=False)  # a sanitizer report fails the test where it stopped
        f.ctl("deny", mac)
        if dnsmasq.poll() is None:
            dnsmasq.terminate()
            dnsmasq.wait(timeout=5)


TESTS = [
    test_mac_auth_admits_with_limits,
    test_unknown_mac_stays_out_and_is_cached,
    test_pap_login_admits_and_wrong_password_rejected,
    test_click_through_refused_with_portal_radius,
    test_accounting_start_interim_stop,
    test_disconnect_request_cuts_client,
    test_retransmitted_disconnect_gets_the_same_answer,
    test_stale_or_untimed_disconnect_dropped,
    test_expiry_sweep_one_fsync,
    test_coa_changes_remaining_time,
    test_login_without_server_follows_radius_fail,
    test_reply_without_message_authenticator_dropped,
    test_outage_loses_no_record,
    test_kill9_with_records_queued,
    test_octets_cover_all_traffic,
    test_disconnect_cuts_open_download,
    test_two_gateways_one_freeradius,
    test_server_names_resolved_on_the_loop,
    test_loop_never_blocks_on_radius,
]


def after_each(f, test):
    """The daemon must be alive with a clean sanitizer report after every test."""
    h.check_daemon(f.gate, test)


if __name__ == "__main__":
    sys.exit(h.run_suite("test_radius", TESTS, lambda: Fixture(), teardown=teardown,
                         after_each=after_each))
