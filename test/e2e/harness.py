#!/usr/bin/env python3
# harness: wicket's network-namespace end-to-end harness: the client/router/origin
# topology (LAN bridge br-lan, nft REDIRECT to the gate), wicketd and origin
# process control, curl and raw-socket clients, and the tiny test runner.
"""Network-namespace end-to-end harness for wicket (Python 3 stdlib only).

    python3 test/e2e/harness.py selftest   # check topology + REDIRECT (no wicketd)
    python3 test/e2e/harness.py demo [CONF] # the README demo (scripts/demo.sh)
    python3 test/e2e/harness.py shell       # bring the topology up and wait (debug)

See docs/testing.md.
"""

import atexit
import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from rawhttp import Headers, Response, parse_responses  # noqa: E402,F401  (same directory; re-exported)

PY = sys.executable or "python3"
RAWHTTP = os.path.join(HERE, "rawhttp.py")
VERBOSE = os.environ.get("E2E_VERBOSE", "") not in ("", "0")
IN_CI = os.environ.get("CI", "").lower() == "true"
# E2E_SECCOMP=0: every daemon the tests start runs with `seccomp no` (the
# allow-list is on by default; this tells a seccomp refusal from a bug)
NO_SECCOMP = os.environ.get("E2E_SECCOMP", "") == "0"

# Addresses of the test topology (docs/testing.md has the picture).
LAN4, LAN6 = "10.99.0.1", "fd99::1"
WAN4, WAN6 = "10.98.0.1", "fd98::1"
ORIGIN4, ORIGIN6 = "10.98.0.2", "fd98::2"
CLIENT4, CLIENT6 = "10.99.0.10", "fd99::10"
BRIDGE = "br-lan"

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

_live = []           # topologies not yet torn down (for atexit / signals)
_topo_counter = itertools.count()


class SetupError(Exception):
    """The environment cannot run namespace tests (not root, no netns, no nft, no binary)."""


def log(msg):
    """Print a harness diagnostic when E2E_VERBOSE is set."""
    if VERBOSE:
        print("  [e2e] " + msg, file=sys.stderr, flush=True)


def clean_env():
    """Return an environment without proxy variables, so no tool sends traffic elsewhere."""
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
            del env[k]
    return env


def host_run(args, check=True, timeout=30, input=None):
    """Run a command in the host (root) namespace and return the CompletedProcess (text)."""
    log("host$ " + " ".join(args))
    p = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout, env=clean_env())
    if check and p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(args), p.stdout, p.stderr))
    return p


class Netns:
    """One network namespace: run commands and start processes inside it."""

    def __init__(self, name, topo):
        """Remember the namespace name and its owning topology."""
        self.name = name
        self.topo = topo

    def __repr__(self):
        """Show the namespace name."""
        return "<Netns %s>" % self.name

    def cmd(self, args):
        """Return `args` wrapped in `ip netns exec`."""
        return ["ip", "netns", "exec", self.name] + [str(a) for a in args]

    def run(self, args, check=True, timeout=30, input=None, text=True):
        """Run a command inside the namespace and return the CompletedProcess."""
        log("%s$ %s" % (self.name, " ".join(str(a) for a in args)))
        p = subprocess.run(self.cmd(args), input=input, capture_output=True, text=text,
                           timeout=timeout, env=clean_env())
        if check and p.returncode != 0:
            out = p.stdout if text else p.stdout.decode("latin-1")
            err = p.stderr if text else p.stderr.decode("latin-1")
            raise RuntimeError("command failed in %s (%d): %s\n%s%s" % (
                self.name, p.returncode, " ".join(str(a) for a in args), out, err))
        return p

    def popen(self, args, **kw):
        """Start a process inside the namespace; the topology kills it at teardown."""
        log("%s& %s" % (self.name, " ".join(str(a) for a in args)))
        kw.setdefault("env", clean_env())
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.cmd(args), **kw)
        self.topo.procs.append(p)
        return p

    def ip(self, *args, check=True):
        """Run `ip -n NS ARGS`."""
        return host_run(["ip", "-n", self.name] + [str(a) for a in args], check=check)

    def sysctl(self, key, value):
        """Set one sysctl inside the namespace."""
        self.run(["sysctl", "-q", "-w", "%s=%s" % (key, value)])

    def listening(self, port, proto="t"):
        """Tell whether something listens on TCP (or UDP with proto='u') `port` in this namespace."""
        p = self.run(["ss", "-Hln" + proto, "sport = :%d" % port], check=False)
        return p.returncode == 0 and p.stdout.strip() != ""

    def wait_listening(self, port, timeout=5.0, proc=None):
        """Wait until `port` is listening; fail early if `proc` exits."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.listening(port):
                return
            if proc is not None and proc.poll() is not None:
                raise RuntimeError("process exited (%s) before listening on %d" % (proc.returncode, port))
            time.sleep(0.05)
        raise RuntimeError("nothing listening on port %d in %s after %.1fs" % (port, self.name, timeout))


class Client:
    """A LAN client: its namespace, MAC and addresses."""

    def __init__(self, name, ns, mac, ip4, ip6, port):
        """Hold the client's identity."""
        self.name, self.ns, self.mac, self.ip4, self.ip6, self.port = name, ns, mac, ip4, ip6, port

    def __repr__(self):
        """Show the client's name and addresses."""
        return "<Client %s %s %s %s>" % (self.name, self.mac, self.ip4, self.ip6)


class Topology:
    """Client(s) -- br-lan [router] wan0 -- origin, with nft REDIRECT of LAN port 80 to the gate.

    Use as a context manager; namespaces and processes are removed on exit, at
    interpreter exit and on SIGTERM/SIGINT.
    """

    def __init__(self, wicket_port=3990, client=True, redirect=True):
        """Choose unique namespace names; nothing is created until __enter__/up()."""
        n = next(_topo_counter)
        self.prefix = "wk%d" % os.getpid() + ("" if n == 0 else "n%d" % n)
        self.wicket_port = wicket_port
        self.want_client = client
        self.want_redirect = redirect
        self.router = Netns(self.prefix + "r", self)
        self.origin = Netns(self.prefix + "o", self)
        self.clients = {}
        self.client = None
        self.procs = []
        self.daemons = []
        self.namespaces = []
        self.tmp = tempfile.mkdtemp(prefix="wicket-e2e-")
        self._down = False

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self):
        """Create the topology."""
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        """Tear the topology down whatever happened."""
        self.down()
        return False

    def _add_ns(self, ns):
        """Create namespace `ns` with loopback up."""
        host_run(["ip", "netns", "add", ns.name])
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up")

    def up(self):
        """Create router and origin namespaces, the bridge, the WAN link, nft rules and the default client."""
        _install_cleanup_handlers()
        _live.append(self)
        r, o = self.router, self.origin
        self._add_ns(r)
        self._add_ns(o)
        # router: forwarding on, LAN bridge, WAN veth to the origin
        r.sysctl("net.ipv4.ip_forward", 1)
        r.sysctl("net.ipv6.conf.all.forwarding", 1)
        r.sysctl("net.ipv6.conf.default.accept_dad", 0)
        r.ip("link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        r.ip("addr", "add", LAN4 + "/24", "dev", BRIDGE)
        r.ip("addr", "add", LAN6 + "/64", "dev", BRIDGE, "nodad")
        r.ip("link", "set", BRIDGE, "up")
        r.ip("link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", o.name)
        r.ip("addr", "add", WAN4 + "/24", "dev", "wan0")
        r.ip("addr", "add", WAN6 + "/64", "dev", "wan0", "nodad")
        r.ip("link", "set", "wan0", "up")
        # origin
        o.ip("addr", "add", ORIGIN4 + "/24", "dev", "eth0")
        o.ip("addr", "add", ORIGIN6 + "/64", "dev", "eth0", "nodad")
        o.ip("link", "set", "eth0", "up")
        o.ip("route", "add", "default", "via", WAN4)
        o.ip("-6", "route", "add", "default", "via", WAN6)
        if self.want_redirect:
            self.set_redirect(self.wicket_port)
        if self.want_client:
            self.add_client("c")
        return self

    def down(self):
        """Stop every process started here and delete the namespaces (idempotent)."""
        if self._down:
            return
        self._down = True
        for d in list(self.daemons):
            try:
                d.stop(check=False)
            except Exception as e:  # teardown must go on
                log("stop daemon: %s" % e)
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                    p.wait(timeout=3)
                except Exception:
                    try:
                        p.kill()
                        p.wait(timeout=3)
                    except Exception:
                        pass
        for ns in reversed(self.namespaces):
            _kill_ns_pids(ns.name)
            host_run(["ip", "netns", "del", ns.name], check=False)
        self.namespaces = []
        if self in _live:
            _live.remove(self)
        if os.environ.get("E2E_KEEP_TMP", "") in ("", "0"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("  [e2e] kept temp dir %s" % self.tmp, file=sys.stderr)

    # -- building blocks ----------------------------------------------------

    def set_redirect(self, port, ifaces=None):
        """(Re)load the router's nft table: LAN tcp/80 (br-lan, or every interface in `ifaces`)
        is REDIRECTed to `port` (IPv4 and IPv6)."""
        names = ", ".join('"%s"' % i for i in (ifaces or [BRIDGE]))
        rules = (
            "table inet wicket_test {\n"
            "  chain pre {\n"
            "    type nat hook prerouting priority dstnat; policy accept;\n"
            "    iifname { %s } tcp dport 80 redirect to :%d\n"
            "  }\n"
            "}\n" % (names, port))
        self.router.run(["nft", "delete", "table", "inet", "wicket_test"], check=False)
        self.router.run(["nft", "-f", "-"], input=rules)
        self.wicket_port = port

    def add_bridge(self, name, ip4=LAN4, ip6=LAN6):
        """Another LAN bridge in the router (a second LAN interface, e.g. a guest network), with
        router addresses ip4/24 and ip6/64 (by default the same as br-lan's: overlapping LANs)."""
        r = self.router
        r.ip("link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        r.ip("addr", "add", ip4 + "/24", "dev", name)
        r.ip("addr", "add", ip6 + "/64", "dev", name, "nodad")
        r.ip("link", "set", name, "up")
        r.sysctl("net.ipv4.conf.%s.rp_filter" % name.replace(".", "/"), 0)

    def add_client(self, name, mac=None, ip4=None, ip6=None, bridge=BRIDGE):
        """Add a client namespace on br-lan (or `bridge`) with a fixed MAC; return its Client."""
        if not re.fullmatch(r"[a-z0-9]{1,12}", name):
            raise ValueError("client name must be 1-12 of [a-z0-9]: %r" % name)
        if name in self.clients:
            raise ValueError("client %r exists" % name)
        idx = len(self.clients)
        host = 10 + idx
        ip4 = ip4 or "10.99.0.%d" % host
        ip6 = ip6 or "fd99::%d" % host
        mac = (mac or "02:99:00:00:00:%02x" % host).lower()
        ns = Netns(self.prefix + ("c" if name == "c" else "c-" + name), self)
        self._add_ns(ns)
        port = "l-" + name
        self.router.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
        self.router.ip("link", "set", port, "master", bridge)
        self.router.ip("link", "set", port, "up")
        ns.sysctl("net.ipv6.conf.all.accept_ra", 0)
        ns.ip("link", "set", "eth0", "address", mac)
        ns.ip("addr", "add", ip4 + "/24", "dev", "eth0")
        ns.ip("addr", "add", ip6 + "/64", "dev", "eth0", "nodad")
        ns.ip("link", "set", "eth0", "up")
        ns.ip("route", "add", "default", "via", LAN4)
        ns.ip("-6", "route", "add", "default", "via", LAN6)
        c = Client(name, ns, mac, ip4, ip6, port)
        self.clients[name] = c
        if self.client is None:
            self.client = c
        return c

    def remove_client(self, name):
        """Unplug and delete a client namespace."""
        c = self.clients.pop(name)
        self.router.ip("link", "del", c.port, check=False)
        _kill_ns_pids(c.ns.name)
        host_run(["ip", "netns", "del", c.ns.name], check=False)
        self.namespaces = [n for n in self.namespaces if n.name != c.ns.name]
        if self.client is c:
            self.client = next(iter(self.clients.values()), None)

    # -- processes ----------------------------------------------------------

    def start_origin(self, port=80):
        """Start the recording origin server in the origin namespace; return an Origin."""
        o = Origin(self, port)
        o.start()
        return o

    def start_wicketd(self, conf, binary=None, args=("-d",), wait=True, env=None):
        """Write `conf` (text or dict) into the temp dir and run wicketd in the router namespace."""
        d = Wicketd(self, conf, binary=binary, args=args, env=env)
        d.start(wait=wait)
        return d


def _kill_ns_pids(name):
    """SIGKILL every process still inside namespace `name` (started by this harness)."""
    p = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in p.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def cleanup_all():
    """Tear down every live topology (atexit and signal handlers)."""
    for t in list(_live):
        try:
            t.down()
        except Exception as e:
            print("e2e cleanup: %s" % e, file=sys.stderr)


_handlers_installed = False


def _install_cleanup_handlers():
    """Install atexit and SIGTERM/SIGINT/SIGHUP handlers once."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(cleanup_all)

    def on_signal(signum, frame):
        """Clean up, then exit with 128+signal."""
        signal.signal(signum, signal.SIG_IGN)
        cleanup_all()
        os._exit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)


# ----------------------------------------------------------------------------
# Origin server
# ----------------------------------------------------------------------------

class Origin:
    """The recording origin server in the origin namespace (rawhttp.py origin)."""

    def __init__(self, topo, port=80):
        """Prepare the log file path."""
        self.topo, self.port = topo, port
        self.log_path = os.path.join(topo.tmp, "origin-%d.jsonl" % port)
        self.proc = None

    def start(self):
        """Start the server and wait until it listens."""
        open(self.log_path, "w").close()
        self.proc = self.topo.origin.popen([PY, RAWHTTP, "origin", "--port", self.port, "--log", self.log_path],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.topo.origin.wait_listening(self.port, proc=self.proc)

    def events(self):
        """Return every recorded event (dicts) so far."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out

    def connections(self):
        """Return the recorded 'connect' events."""
        return [e for e in self.events() if e["event"] == "connect"]

    def requests(self):
        """Return the recorded 'request' events."""
        return [e for e in self.events() if e["event"] == "request"]

    def stop(self):
        """Stop the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=3)


# ----------------------------------------------------------------------------
# wicketd
# ----------------------------------------------------------------------------

def default_wicketd():
    """Return the wicketd binary: $WICKETD (relative to the repo root) or build/wicketd."""
    b = os.environ.get("WICKETD", "build/wicketd")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def render_conf(conf):
    """Turn a dict (values may be lists for repeated keys) into `key value` config text."""
    if isinstance(conf, str):
        return conf
    lines = []
    for k, v in conf.items():
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append("%s %s" % (k, item))
    return "\n".join(lines) + "\n"


def conf_values(text, key):
    """Return every value of `key` in config text (first token after the key)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == key:
            out.append(parts[1].strip())
    return out


class Wicketd:
    """One wicketd process in the router namespace, with its config, stderr and audit log."""

    _seq = itertools.count()

    def __init__(self, topo, conf, binary=None, args=("-d",), env=None, conf_file=None):
        """Render the config: {tmp} is the temp dir, {audit} the default audit log path.

        With `conf_file` the daemon runs that file as it is (no keys added).
        """
        self.topo = topo
        self.binary = binary or default_wicketd()
        if not os.path.isabs(self.binary):
            self.binary = os.path.join(REPO, self.binary)
        n = next(Wicketd._seq)
        self.dir = os.path.join(topo.tmp, "wicketd%d" % n)
        os.makedirs(self.dir, exist_ok=True)
        if conf_file is not None:
            self.conf_path = os.path.abspath(conf_file)
            with open(self.conf_path) as f:
                text = f.read()
            audits = conf_values(text, "audit_log")
            # no audit_log, or "-": the audit lines go to stderr
            self.audit_path = os.path.join(REPO, audits[-1]) if audits and audits[-1] != "-" else None
            self.cwd = REPO  # relative paths in a shipped config are relative to the tree
        else:
            self.cwd = self.dir
            default_audit = os.path.join(self.dir, "audit.jsonl")
            text = render_conf(conf).replace("{tmp}", self.dir).replace("{audit}", default_audit)
            audits = conf_values(text, "audit_log")
            if not audits:
                text += "audit_log %s\n" % default_audit
                audits = [default_audit]
            if not conf_values(text, "user") and not conf_values(text, "run_as_root"):
                # the tests run the daemon as root; it refuses that unless told
                text += "run_as_root yes\n"
            if NO_SECCOMP and not conf_values(text, "seccomp"):
                text += "seccomp no\n"
            self.audit_path = audits[-1]
            self.conf_path = os.path.join(self.dir, "wicketd.conf")
            with open(self.conf_path, "w") as f:
                f.write(text)
        self.conf_text = text
        self.ports = sorted({int(v.rsplit(":", 1)[1]) for v in conf_values(text, "listen")}) or [3990]
        self.args = list(args)
        self.env = env
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.audit_offset = 0

    def start(self, wait=True):
        """Start the daemon and (by default) wait until every listen port accepts."""
        if not os.path.exists(self.binary):
            raise SetupError("wicketd binary not found: %s (run make)" % self.binary)
        env = clean_env()
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if self.env:
            env.update(self.env)
        if self.audit_path and os.path.exists(self.audit_path):
            self.audit_offset = os.path.getsize(self.audit_path)
        self.errf = open(self.stderr_path, "ab")
        self.proc = self.topo.router.popen([self.binary] + self.args + ["-f", self.conf_path],
                                           stdout=self.errf, stderr=self.errf, env=env, cwd=self.cwd)
        self.topo.daemons.append(self)
        if wait:
            try:
                for p in self.ports:
                    self.topo.router.wait_listening(p, timeout=10, proc=self.proc)
            except RuntimeError as e:
                raise RuntimeError("wicketd did not start: %s\n--- stderr ---\n%s" % (e, self.stderr()))
        return self

    def alive(self):
        """Tell whether the daemon process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        """Return the daemon's stderr so far."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def sanitizer_errors(self):
        """Return the stderr lines that report an ASan/UBSan/LSan error."""
        return [ln for ln in self.stderr().splitlines() if any(p in ln for p in SANITIZER_PATTERNS)]

    def sanitizer_report(self, max_lines=30):
        """Return the first sanitizer report in stderr (header and stack, without the shadow map), or ""."""
        lines = self.stderr().splitlines()
        for i, ln in enumerate(lines):
            if any(p in ln for p in SANITIZER_PATTERNS):
                out = []
                for x in lines[max(0, i - 1):]:
                    if x.startswith("Shadow bytes around") or len(out) >= max_lines:
                        break
                    out.append(x)
                return "\n".join(out)
        return ""

    def check_sanitizers(self):
        """Raise AssertionError with the report if the sanitizers complained."""
        if self.sanitizer_errors():
            raise AssertionError("sanitizer report in wicketd stderr (%s):\n%s" % (
                self.stderr_path, self.sanitizer_report()))

    def stop(self, check=True, timeout=5):
        """SIGTERM the daemon, wait for it, then check the sanitizers; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)
                if check:
                    raise AssertionError("wicketd did not exit within %ss of SIGTERM" % timeout)
        self.errf.close()
        if self in self.topo.daemons:
            self.topo.daemons.remove(self)
        if check:
            self.check_sanitizers()
        return self.proc.returncode

    def audit(self):
        """Return every complete audit-log object written by this run, in order."""
        out = []
        if not self.audit_path:
            return out
        try:
            with open(self.audit_path, "rb") as f:
                f.seek(self.audit_offset)
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.split(b"\n")[:-1]:
            if line.strip():
                out.append(json.loads(line))
        return out

    def audit_raw(self):
        """Return the raw audit-log bytes written by this run."""
        if not self.audit_path:
            return b""
        try:
            with open(self.audit_path, "rb") as f:
                f.seek(self.audit_offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def audit_wait(self, pred, count=1, timeout=3.0):
        """Wait until `count` audit objects satisfy `pred`; return them (fewer on timeout)."""
        end = time.monotonic() + timeout
        while True:
            got = [e for e in self.audit() if pred(e)]
            if len(got) >= count or time.monotonic() >= end:
                return got
            time.sleep(0.05)


def tail(text, n):
    """Return the last `n` lines of `text`."""
    return "\n".join(text.splitlines()[-n:])


# ----------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------

def ctl_request(sock, line, timeout=10):
    """One control-socket request (what wicketctl sends); (ok, answer text)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n\n"):
            b = s.recv(65536)
            if not b:
                break
            buf += b
    finally:
        s.close()
    text = buf.decode("utf-8", "replace")
    return text.startswith("ok\n"), text


def curl(ns, args, timeout=10):
    """Run `curl -si ARGS` in `ns`; return a Response unpacking as (status, headers, body)."""
    if isinstance(ns, Client):
        ns = ns.ns
    cmd = ["curl", "-q", "-s", "-i", "--noproxy", "*", "--max-time", str(timeout)] + list(args)
    p = ns.run(cmd, check=False, timeout=timeout + 5, text=False)
    if p.returncode != 0:
        raise AssertionError("curl %s failed with exit %d: %s\noutput: %r" % (
            " ".join(args), p.returncode, p.stderr.decode("latin-1"), p.stdout[:2000]))
    resps = parse_responses(p.stdout, eof=True)
    if not resps:
        raise AssertionError("curl %s: no response parsed from %r" % (" ".join(args), p.stdout[:2000]))
    r = resps[-1]
    r.raw = p.stdout
    r.all = resps
    return r


class RawReply(bytes):
    """The bytes a raw client received, with .eof ('fin', 'rst' or None), timings and .responses."""

    def responses(self):
        """Parse the received bytes into Response objects."""
        return parse_responses(bytes(self), eof=self.eof is not None)

    def status_lines(self):
        """Return every status line found in the stream, in order."""
        return [r.status_line for r in self.responses()]


def raw(ns, host, port, data, pieces=None, delay=0.0, half_close=False, timeout=5.0,
        expect=None, linger=0.0):
    """Send exact bytes from `ns` to host:port and read until close/timeout; return a RawReply.

    `data` is bytes or a list of byte pieces; `pieces=N` splits bytes into
    N-byte writes; `delay` sleeps between writes; `half_close` shuts down the
    write side after the last piece; `expect=N` stops reading after N complete
    responses (plus `linger` seconds, to see whether the gate closes).
    """
    if isinstance(ns, Client):
        ns = ns.ns
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        if pieces:
            parts = [data[i:i + pieces] for i in range(0, len(data), pieces)]
        else:
            parts = [data]
    else:
        parts = [bytes(p) for p in data]
    spec = {"host": host, "port": port, "pieces": [base64.b64encode(p).decode() for p in parts],
            "delay": delay, "half_close": half_close, "timeout": timeout,
            "expect": expect, "linger": linger}
    total = timeout + delay * len(parts) + 10
    p = ns.run([PY, RAWHTTP, "client"], input=json.dumps(spec), timeout=total)
    res = json.loads(p.stdout)
    if res.get("error"):
        raise AssertionError("raw client to %s:%s: %s" % (host, port, res["error"]))
    out = RawReply(base64.b64decode(res["data"]))
    out.eof = res["eof"]
    out.send_error = res["send_error"]
    out.elapsed = res["elapsed"]
    out.t_first = res["t_first"]
    out.t_eof = res["t_eof"]
    out.t_expect = res["t_expect"]
    out.sent = res["sent"]
    out.request = b"".join(parts)
    return out


# ----------------------------------------------------------------------------
# Prerequisites and the tiny test runner
# ----------------------------------------------------------------------------

def check_prereqs(binary=None):
    """Raise SetupError if namespace tests cannot run here."""
    if os.geteuid() != 0:
        raise SetupError("needs root (network namespaces)")
    for tool in ("ip", "nft", "curl", "ss"):
        if shutil.which(tool) is None:
            raise SetupError("%s not found (scripts/deps.sh)" % tool)
    name = "wk%dprobe" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        raise SetupError("cannot create a network namespace: %s" % p.stderr.strip())
    try:
        q = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"], capture_output=True, text=True)
        if q.returncode != 0:
            raise SetupError("nft does not work in a namespace: %s" % q.stderr.strip())
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    if binary is not None and not os.path.exists(binary):
        raise SetupError("wicketd binary not found: %s (run make)" % binary)


def run_suite(name, tests, setup, teardown=None, after_each=None, argv=None):
    """Run test functions `tests` (each takes the fixture from setup()) and print one line each.

    Prints "NAME: N passed, N failed" at the end and returns the exit status.
    Under CI=true an environment that cannot run the tests is a failure;
    otherwise the suite is skipped with a message. `after_each(fixture, test)`
    runs after every test and may raise AssertionError to fail it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-l" in argv or "--list" in argv:
        for t in tests:
            print(t.__name__)
        return 0
    if "-v" in argv:
        global VERBOSE
        VERBOSE = True
        argv.remove("-v")
    sel = [t for t in tests if not argv or any(a in t.__name__ for a in argv)]
    if not sel:
        print("%s: no test matches %s" % (name, argv))
        print("%s: 0 passed, 1 failed" % name)
        return 1
    passed = failed = 0
    fixture = None
    try:
        try:
            fixture = setup()
        except SetupError as e:
            if IN_CI:
                print("%s: FAIL (cannot run under CI=true): %s" % (name, e))
                print("%s: 0 passed, %d failed" % (name, len(sel)))
                return 1
            print("%s: SKIP: %s" % (name, e))
            print("%s: 0 passed, 0 failed, %d skipped" % (name, len(sel)))
            return 0
        except Exception:
            print("%s: FAIL in setup:\n%s" % (name, indent(traceback.format_exc())))
            print("%s: 0 passed, %d failed" % (name, len(sel)))
            return 1
        for t in sel:
            t0 = time.monotonic()
            err = None
            try:
                t(fixture)
            except AssertionError as e:
                err = "%s" % e or traceback.format_exc()
            except Exception:
                err = traceback.format_exc()
            if after_each is not None:
                try:
                    after_each(fixture, t)
                except AssertionError as e:
                    err = (err + "\n" if err else "") + "after test: %s" % e
                except Exception:
                    err = (err + "\n" if err else "") + "after test: " + traceback.format_exc()
            dt = time.monotonic() - t0
            if err is None:
                passed += 1
                print("PASS %s (%.2fs)" % (t.__name__, dt), flush=True)
            else:
                failed += 1
                print("FAIL %s (%.2fs)\n%s" % (t.__name__, dt, indent(err)), flush=True)
    finally:
        if teardown is not None and fixture is not None:
            try:
                teardown(fixture)
            except AssertionError as e:
                failed += 1
                print("FAIL teardown\n%s" % indent(str(e)), flush=True)
            except Exception:
                failed += 1
                print("FAIL teardown\n%s" % indent(traceback.format_exc()), flush=True)
        cleanup_all()
    print("%s: %d passed, %d failed" % (name, passed, failed), flush=True)
    return 0 if failed == 0 else 1


def check_daemon(gate, test, restart=None):
    """Fail `test` if wicketd died or printed a sanitizer report; `restart()` after a crash."""
    if not gate.alive():
        err = gate.sanitizer_report() or tail(gate.stderr(), 40)
        rc = gate.proc.returncode
        if restart is not None:
            restart()  # so that the next tests still run against a live daemon
        raise AssertionError("wicketd died (exit %s) during %s; stderr:\n%s" % (rc, test.__name__, err))
    if gate.sanitizer_errors():
        raise AssertionError("sanitizer report in wicketd stderr:\n" + gate.sanitizer_report())


def stop_checked(gate):
    """Stop wicketd with SIGTERM; it must exit 0 with a clean sanitizer report."""
    rc = gate.stop(check=True)
    if rc not in (0, None):
        raise AssertionError("wicketd exited with status %s on SIGTERM; stderr tail:\n%s" % (
            rc, tail(gate.stderr(), 30)))


def teardown_fixture(f):
    """The usual suite teardown: stop f.gate (checked), then remove f.topo's namespaces."""
    try:
        stop_checked(f.gate)
    finally:
        f.topo.down()


def indent(text, prefix="    "):
    """Indent every line of `text`."""
    return "\n".join(prefix + ln for ln in str(text).rstrip("\n").splitlines())


# ----------------------------------------------------------------------------
# Subcommands: selftest, demo, shell
# ----------------------------------------------------------------------------

def selftest():
    """Check the topology without wicketd: the REDIRECT reaches a listener, with the right original dst."""
    check_prereqs()
    ok = True
    with Topology() as t:
        origin = t.start_origin()
        p = t.router.popen([PY, RAWHTTP, "origdst", "--port", t.wicket_port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.router.wait_listening(t.wicket_port, proc=p)
        for url, want in (("http://%s/x" % ORIGIN4, "origdst=%s:80 peer=%s" % (ORIGIN4, CLIENT4)),
                          ("http://[%s]/x" % ORIGIN6, "origdst=[%s]:80 peer=%s" % (ORIGIN6, CLIENT6))):
            r = curl(t.client, ["-g", url])
            got = r.body.decode().strip()
            good = r.status == 200 and got.replace("::ffff:", "") == want
            ok &= good
            print("%s %s -> %s" % ("ok  " if good else "FAIL", url, got))
        # the origin is reachable directly from the router (routing works)
        for host in (ORIGIN4, "[%s]" % ORIGIN6):
            r = curl(t.router, ["-g", "http://%s/direct" % host])
            good = r.status == 200 and r.headers.get("X-Origin") == "wicket-e2e"
            ok &= good
            print("%s router -> origin %s: %s" % ("ok  " if good else "FAIL", host, r.status_line))
        # raw client with pieces and half-close through the redirect
        rr = raw(t.client, ORIGIN4, 80, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", pieces=3, delay=0.01, half_close=True)
        good = b"origdst=10.98.0.2:80" in rr and rr.eof == "fin"
        ok &= good
        print("%s raw client: %r eof=%s" % ("ok  " if good else "FAIL", bytes(rr)[-40:], rr.eof))
        # port-80 traffic from the LAN never reached the origin
        good = all(c["peer"].split(":")[-2] != CLIENT4 for c in origin.connections())
        ok &= good
        print("%s origin saw %d connection(s), none from the client" % ("ok  " if good else "FAIL",
                                                                      len(origin.connections())))
    print("selftest: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def demo(conf_path=None):
    """Bring up the topology, an origin and wicketd with proxy.conf.example, and walk
    the whole flow a user sees: 511, the splash page, accept, the page loads."""
    check_prereqs()
    conf_path = conf_path or os.path.join(REPO, "proxy.conf.example")
    if not os.path.exists(conf_path):
        raise SetupError("config file not found: %s" % conf_path)
    ctl_bin = os.path.join(REPO, "build", "wicketctl")
    ok = False
    with Topology() as t:
        c = t.client
        print("demo: topology up: client %s (%s, MAC %s) -- br-lan [router %s] -- origin %s" % (
            c.ns.name, CLIENT4, c.mac, LAN4, ORIGIN4))
        t.start_origin()
        print("demo: origin server listening on %s:80 and [%s]:80" % (ORIGIN4, ORIGIN6))
        # the demo runs wicketd as root, which the file must allow
        demo_conf = os.path.join(t.tmp, "demo.conf")
        with open(conf_path) as src, open(demo_conf, "w") as dst:
            dst.write(src.read() + "\n# the demo runs as root\nrun_as_root yes\n")
        d = Wicketd(t, None, conf_file=demo_conf)
        try:
            d.start()
        except RuntimeError as e:
            print("demo: %s" % e)
            return 1
        socks = conf_values(d.conf_text, "control_socket")
        ctl_sock = socks[-1] if socks else "/run/wicket/control.sock"

        def ctl(*args):
            """Run wicketctl against the demo daemon."""
            p = subprocess.run([ctl_bin, "-s", ctl_sock] + list(args), capture_output=True, text=True)
            return p.returncode, p.stdout + p.stderr

        ctl("deny", c.mac)  # the default state file may remember an earlier demo
        print("demo: %s -d -f %s running in %s\n" % (os.path.relpath(d.binary, REPO), conf_path, t.router.name))

        def step(title, args):
            """Run curl in the client namespace, print what it shows, return the raw bytes."""
            print("--- %s\n$ curl %s" % (title, " ".join(args)))
            p = c.ns.run(["curl", "-q", "-si", "--noproxy", "*", "--max-time", "5"] + args,
                         check=False, text=False)
            out = p.stdout.decode("utf-8", "replace")
            print(out if len(out) < 1500 else out[:1500] + "\n[...]")
            return p.stdout

        page = step("1. the client asks for a page and gets the gate's 511", ["http://%s/news" % ORIGIN4])
        m = re.search(rb'href="([^"]+)"', page)
        if page.startswith(b"HTTP/1.1 511 ") and m:
            link = m.group(1).decode().replace("&amp;", "&")
            splash = step("2. the browser follows the link to the splash page", [link])
            fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', splash.decode("utf-8", "replace")))
            if set(fields) >= {"url", "ts", "sig"}:
                form = "&".join("%s=%s" % (k, urllib.parse.quote(v.replace("&amp;", "&"), safe=""))
                                for k, v in fields.items())
                acc = step("3. the user accepts the terms", ["-d", form, "http://%s/wicket/accept" % LAN4])
                if acc.startswith(b"HTTP/1.1 303 "):
                    got = step("4. the page it first asked for now loads through the gate",
                               ["http://%s/news" % ORIGIN4])
                    ok = got.startswith(b"HTTP/1.1 200 ")
        rc, out = ctl("list")
        print("--- 5. the operator's view\n$ wicketctl list\n%s" % out)
        ctl("deny", c.mac)  # leave the default state file as we found it
        lines = [ln for ln in (d.audit_raw().decode("utf-8", "replace").splitlines() if d.audit_path
                 else d.stderr().splitlines()) if ln.startswith("{") and '"event"' in ln]
        print("--- the audit log (%s)" % (d.audit_path or "stderr"))
        print("\n".join(lines[-6:]) if lines else "(no audit line written)")
        rc = d.stop(check=False)
        if d.sanitizer_errors():
            print("demo: sanitizer errors:\n" + d.sanitizer_report())
            ok = False
        log("wicketd exit status %s" % rc)
    print("\ndemo: %s" % ("511, splash, accept, page loaded: the gate works" if ok else "FAILED"))
    return 0 if ok else 1


def shell():
    """Bring the topology up with an origin, print the namespace names, and wait for Ctrl-C."""
    check_prereqs()
    with Topology() as t:
        t.start_origin()
        print("router %s, origin %s, client %s; temp %s" % (t.router.name, t.origin.name,
                                                            t.client.ns.name, t.tmp))
        print("e.g.: ip netns exec %s curl -si http://%s/   (Ctrl-C to tear down)" % (t.client.ns.name, ORIGIN4))
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


def main(argv):
    """Dispatch the harness subcommands."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        if argv[0] == "selftest":
            return selftest()
        if argv[0] == "demo":
            return demo(argv[1] if len(argv) > 1 else None)
        if argv[0] == "shell":
            return shell()
    except SetupError as e:
        print("%s: cannot run: %s" % (argv[0], e))
        return 1
    print("unknown subcommand %r" % argv[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
