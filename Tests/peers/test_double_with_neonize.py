"""Proof that the WhatsApp server double is faithful: real whatsmeow (neonize) pairs, logs in and
recovers against it (issue #16, "How it is proven" 1 and 2).

Run:  .venv-test/bin/python Tests/peers/test_double_with_neonize.py [scenario ...] [--record]
  or  .venv-test/bin/python -m pytest Tests/peers/test_double_with_neonize.py
Each scenario starts its own double and neonize processes (neonize_client.py) and asserts what
neonize reports (events) and what the double saw (state, transcripts). --record rewrites
Tests/peers/transcripts/neonize_<scenario>.json with the normalised transcripts.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from wadouble.transcript import signature  # noqa: E402

PHONE = "60123456789"
TRANSCRIPTS = os.path.join(HERE, "transcripts")
RECORD = "--record" in sys.argv


class Double:
    """The double as a child process, and its control API."""

    def __init__(self, directory: str, seed: str = "1") -> None:
        self.log = open(os.path.join(directory, "double.err"), "w")
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "wa_server_double.py"), "--seed", seed,
                                         "--dir", directory], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.info = json.loads(self.process.stdout.readline())

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.info['controlPort']}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = self.call(method, path, body)
        assert status == 200, f"{method} {path} -> {status} {answer}"
        return answer

    def clients(self) -> list[dict]:
        return self.ok("GET", "/clients")["clients"]

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Neonize:
    """One neonize_client.py process: commands in, events out."""

    def __init__(self, double: Double, directory: str, name: str = "neonize") -> None:
        info = double.info
        self.stderr = open(os.path.join(directory, f"{name}.err"), "a")
        env = dict(os.environ, SSL_CERT_FILE=info["caFile"], PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
        self.process = subprocess.Popen([
            sys.executable, os.path.join(HERE, "neonize_client.py"), "--root", info["noiseRootPublicKey"],
            "--proxy", str(info["proxyPort"]), "--ca", info["caFile"], "--db", os.path.join(directory, "neonize.db"),
            "--workdir", os.path.join(directory, "patched"),
        ], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):  # neonize itself prints bare login status numbers
                self.events.put(event)
        self.events.put({"event": "process-exited"})

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait(self, name: str, timeout: float = 30, **match) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = self.events.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            self.seen.append(event)
            if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                return event
            if event["event"] == "process-exited":
                break
        raise AssertionError(f"neonize did not report {name} {match} within {timeout}s; saw {[e['event'] for e in self.seen]}")

    def command(self, command: str, timeout: float = 30) -> dict:
        self.send(command)
        event = self.wait("done", timeout, command=command.split()[0])
        assert event["error"] == "", f"{command}: {event['error']}"
        return event

    def stop(self) -> None:
        try:
            self.send("exit")
            self.process.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
            self.process.kill()
        self.stderr.close()


def wait_until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def pair_by_qr(double: Double, neonize: Neonize) -> dict:
    neonize.command("connect")
    qr = neonize.wait("qr")["codes"][0]
    paired = double.ok("POST", "/phone/scan", {"qr": qr, "phone": PHONE})
    assert neonize.wait("paired")["jid"] == paired["jid"]
    return paired


def logged_in(double: Double, jid: str, after: int = 0) -> dict:
    return wait_until(lambda: next((c for c in double.clients() if c["jid"] == jid and c["state"] == "logged-in"
                                    and c["conn"] > after and c["active"] is True), None), what=f"{jid} logged in")
