#!/usr/bin/env python3
"""Drives Debian's Chromium, headless, through the BuzzBridge admin panel over the DevTools
protocol: logs in through the real login form, opens every page, checks that each rendered
(title, navigation, styles applied, no script errors, every POST form carrying its CSRF field),
that the session page's QR image decoded, creates an API key by filling in and submitting the
form, and saves a screenshot of each page.

usage: admin_browser.py BASE_URL PASSWORD SESSION_ID SCREENSHOT_DIR [API_KEY]

With API_KEY, the sandbox phone scans the session page's QR code and the page must turn the
session active without being reloaded by hand.
Prints one JSON object; exits non-zero when Chromium is missing or a step fails.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

from websockets.sync.client import connect

# websockets 17 prefers `with connect(...)`; the page's socket lives for the whole run instead.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("admin_browser.py: chromium is not installed (scripts/setup-test-env installs Debian's chromium)")


class Page:
    def __init__(self, url):
        self.socket = connect(url, max_size=64 * 1024 * 1024, open_timeout=20)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    del self.events[: index + 1]
                    return event
            try:
                self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.time()))))
            except TimeoutError:
                break
        raise RuntimeError(f"timed out waiting for {method}")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, action):
        """Runs `action` (a navigation or a form submission) and waits for the new page."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        action()
        self.wait_for("Page.loadEventFired")

    def errors(self):
        found = [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"]
        found += [e for e in self.events if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
        self.events = [e for e in self.events if e not in found]
        return [json.dumps(e["params"])[:300] for e in found]


PAGE_CHECK = r"""
(() => {
  const button = document.querySelector('main button');
  const posts = [...document.querySelectorAll('form[method=post]')];
  return {
    title: document.title,
    h1: (document.querySelector('h1') || {}).textContent || null,
    nav: [...document.querySelectorAll('nav a')].map(a => a.textContent),
    buttonRadius: button ? getComputedStyle(button).borderRadius : null,
    headerBackground: getComputedStyle(document.querySelector('header')).backgroundColor,
    postForms: posts.length,
    postFormsWithCSRF: posts.filter(f => f.querySelector('input[name=_csrf]') && f.querySelector('input[name=_csrf]').value.length > 20).length,
    tables: document.querySelectorAll('table').length,
    width: document.documentElement.scrollWidth,
  };
})()
"""


def watch_pairing(page, base, api_key):
    """The phone scans (the sandbox's scan endpoint); the open page must notice by itself."""
    request = urllib.request.Request(base + "/api/sandbox/scan", method="POST", headers={"Authorization": f"Bearer {api_key}"})
    urllib.request.urlopen(request, timeout=10).read()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            status = page.evaluate("(document.querySelector('#session-status') || {}).textContent || null")
            if status == "active":
                return status
        except RuntimeError:
            pass  # the page reloading itself
        time.sleep(0.2)
    return status


def main():
    base, password, session_id, shots = sys.argv[1:5]
    api_key = sys.argv[5] if len(sys.argv) > 5 else None
    os.makedirs(shots, exist_ok=True)
    chromium = find_chromium()
    profile = tempfile.mkdtemp(prefix="bzb-chromium-")
    process = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--remote-debugging-port=0",
         # A self-signed loopback certificate when pointed at an HTTPS gateway by hand.
         "--ignore-certificate-errors", f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    report = {"pages": {}, "errors": []}
    try:
        devtools = None
        deadline = time.time() + 30
        while time.time() < deadline and devtools is None:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                sys.exit(f"admin_browser.py: chromium exited ({process.returncode})")
            match = re.search(r"DevTools listening on ws://([^/]+)/", line)
            if match:
                devtools = match.group(1)
        if devtools is None:
            sys.exit("admin_browser.py: chromium did not open its DevTools port")
        targets = json.load(urllib.request.urlopen(f"http://{devtools}/json/list", timeout=10))
        page_target = next(t for t in targets if t["type"] == "page")
        page = Page(page_target["webSocketDebuggerUrl"])
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            page.call(domain)

        page.load(lambda: page.call("Page.navigate", url=base + "/admin/sessions"))
        report["redirected_to"] = page.evaluate("location.pathname")
        page.evaluate(f"document.querySelector('#password').value = {json.dumps(password)}")
        page.load(lambda: page.evaluate("document.querySelector('form').submit()"))
        report["after_login"] = page.evaluate("location.pathname")
        report["cookie_visible_to_script"] = page.evaluate("document.cookie")

        for name, path in [("sessions", "/admin/sessions"), ("session", f"/admin/sessions/{session_id}"), ("keys", "/admin/keys"),
                           ("webhooks", "/admin/webhooks"), ("messages", "/admin/messages")]:
            page.load(lambda: page.call("Page.navigate", url=base + path))
            if name == "session":
                time.sleep(0.5)
                report["qr_natural_width"] = page.evaluate("(document.querySelector('.qr img') || {}).naturalWidth || 0")
            result = page.evaluate(PAGE_CHECK)
            if name == "session" and api_key:
                report["live_status"] = watch_pairing(page, base, api_key)
            result["errors"] = page.errors()
            size = page.call("Page.getLayoutMetrics")["cssContentSize"]
            shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000), "scale": 1})
            file = os.path.join(shots, f"admin-{name}.png")
            with open(file, "wb") as handle:
                handle.write(base64.b64decode(shot["data"]))
            result["screenshot_bytes"] = os.path.getsize(file)
            report["pages"][name] = result

        # Create a key the way an operator does: fill in the form and press the button.
        page.load(lambda: page.call("Page.navigate", url=base + "/admin/keys"))
        page.evaluate("document.querySelector('#label').value = 'made in chromium'")
        page.load(lambda: page.evaluate("document.querySelector('form[action=\"/admin/keys\"] button[type=submit]').click()"))
        report["new_key"] = page.evaluate("(document.querySelector('#new-key') || {}).textContent || null")
        report["errors"] += page.errors()
        page.call("Page.captureScreenshot", format="png")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
