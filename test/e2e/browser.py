#!/usr/bin/env python3
# browser: drives headless Chromium through chromedriver's HTTP WebDriver
# protocol (W3C WebDriver, Python standard library only), from inside a
# client namespace: opens a page, follows the gate's 511 to the splash,
# measures the accept button, takes a screenshot, accepts, and reports the
# page it ends on. For test_browser.py.
"""Usage: browser.py SPEC-JSON (stdin) -> JSON on stdout.

spec: {"start": "http://10.98.0.2/x", "splash_prefix": "https://portal.test:8443/wicket/",
       "want_text": "...", "resolve": "MAP portal.test 10.99.0.1" | null,
       "screenshot": "/path.png" | null, "home": "/tmp/dir", "width": 412, "height": 915}
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


FORM_BUTTON = "form[action='/wicket/accept'] button"  # the splash's accept button


def free_port():
    """A free TCP port on loopback."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class WebDriver:
    """The few W3C WebDriver commands the walk needs."""

    def __init__(self, port):
        """Talk to chromedriver at 127.0.0.1:port."""
        self.base = "http://127.0.0.1:%d" % port
        self.sid = None

    def call(self, method, path, body=None, timeout=30):
        """One WebDriver command; returns its value, raises on a WebDriver error."""
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(self.base + path, data=data, method=method,
                                    headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(rq, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("webdriver %s %s: %s" % (method, path, e.read()[:500]))

    def session(self, args, width, height):
        """Start a Chromium session with these arguments, emulating a phone screen of width x height CSS px."""
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "acceptInsecureCerts": False, "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args, "mobileEmulation": {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "mobile": True,
                                  "touch": True}}}}}}
        v = self.call("POST", "/session", caps, timeout=60)
        self.sid = v["sessionId"]

    def s(self, method, path, body=None):
        """A command on the current session."""
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def url(self):
        """The current URL."""
        return self.s("GET", "/url")

    def js(self, script, *args):
        """Run a synchronous script and return its value."""
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        """The element id of the first match for a CSS selector, or None."""
        try:
            v = self.s("POST", "/element", {"using": "css selector", "value": css})
        except RuntimeError:
            return None
        return next(iter(v.values()))

    def wait(self, pred, timeout=15.0, step=0.1):
        """Poll pred() until it is true; return its last value."""
        end = time.monotonic() + timeout
        v = None
        while time.monotonic() < end:
            try:
                v = pred()
            except RuntimeError:
                v = None
            if v:
                return v
            time.sleep(step)
        return v


def walk(spec):
    """Run the walk described by spec; return what was seen."""
    out = {"steps": [], "error": None}
    home = spec["home"]
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home)
    for k in list(env):
        if k.lower().endswith("_proxy"):
            del env[k]
    port = free_port()
    log = open(os.path.join(home, "chromedriver.log"), "w")
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port], env=env, stdout=log, stderr=log)
    try:
        wd = WebDriver(port)
        for _ in range(100):
            try:
                wd.call("GET", "/status", timeout=2)
                break
            except (OSError, RuntimeError):
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-proxy-server", "--user-data-dir=" + os.path.join(home, "profile"),
                "--window-size=%d,%d" % (spec.get("width", 412) + 100, spec.get("height", 915) + 100)]
        # Names resolve only as the test says: nothing leaves the test network.
        rules = [spec["resolve"]] if spec.get("resolve") else []
        args.append("--host-resolver-rules=" + ", ".join(
            rules + ["MAP * ~NOTFOUND"] + ["EXCLUDE " + a for a in spec.get("addresses", [])]))
        t0 = time.monotonic()
        wd.session(args, spec.get("width", 412), spec.get("height", 915))
        out["t_session"] = round(time.monotonic() - t0, 2)
        # 1. the page the user wanted: the gate answers 511, whose refresh leads to the splash
        wd.s("POST", "/url", {"url": spec["start"]})
        url = wd.wait(lambda: (wd.url().startswith(spec["splash_prefix"]) and wd.find(FORM_BUTTON)) and wd.url(),
                      timeout=spec.get("splash_timeout", 15))
        out["t_splash"] = round(time.monotonic() - t0, 2)
        out["steps"].append({"splash_url": wd.url(), "title": wd.js("return document.title"),
                             "lang": wd.js("return document.documentElement.lang"),
                             "viewport": wd.js("var m=document.querySelector('meta[name=viewport]');"
                                               "return m?m.content:null")})
        if not url:
            out["error"] = "never reached the splash; at %s: %s" % (
                wd.url(), wd.js("return document.body ? document.body.innerText : ''")[:300])
            return out
        btn = wd.find(FORM_BUTTON)
        rect = wd.s("GET", "/element/%s/rect" % btn)
        out["button"] = {"width": rect["width"], "height": rect["height"],
                         "font_px": wd.js("return parseFloat(getComputedStyle(arguments[0]).fontSize)",
                                          {"element-6066-11e4-a52e-4f735466cecf": btn})}
        out["page_width"] = wd.js("return document.documentElement.scrollWidth")
        out["viewport_width"] = wd.js("return window.innerWidth")
        if spec.get("screenshot"):
            png = base64.b64decode(wd.s("GET", "/screenshot"))
            with open(spec["screenshot"], "wb") as f:
                f.write(png)
        # 2. accept: the form posts, the gate answers 303 to the wanted page, which loads
        wd.s("POST", "/element/%s/click" % btn, {})
        ok = wd.wait(lambda: wd.url() == spec["start"] and
                     spec["want_text"] in wd.js("return document.body ? document.body.innerText : ''"))
        out["t_final"] = round(time.monotonic() - t0, 2)
        out["final_url"] = wd.url()
        out["final_text"] = wd.js("return document.body ? document.body.innerText : ''")[:300]
        if not ok:
            out["error"] = "after accepting, not on the wanted page"
        return out
    except Exception as e:  # report, never hang the test
        out["error"] = "%s: %s" % (type(e).__name__, e)
        return out
    finally:
        try:
            if wd.sid:
                wd.call("DELETE", "/session/%s" % wd.sid, timeout=10)
        except Exception:
            pass
        drv.terminate()
        try:
            drv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            drv.kill()
        log.close()


if __name__ == "__main__":
    print(json.dumps(walk(json.load(sys.stdin))))
