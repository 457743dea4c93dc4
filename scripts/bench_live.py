"""The measuring half of scripts/bench-live (which says what it prints); run through that script."""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "Tests", "peers")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def http(method: str, url: str, body: dict | None = None, key: str | None = None, timeout: float = 30) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"bench-live: gave up waiting for {what}")


class Double:
    """The WhatsApp server double, fresh for each run."""

    def __init__(self, directory: str):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(PEERS, "wa_server_double.py"), "--dir", directory],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(directory, "double.err"), "w"), text=True,
        )
        self.info = json.loads(self.process.stdout.readline())
        self.control = f"http://127.0.0.1:{self.info['controlPort']}"

    def scan(self, qr: str, phone: str) -> None:
        status, answer = http("POST", self.control + "/phone/scan", {"qr": qr, "phone": phone})
        if status != 200:
            raise SystemExit(f"bench-live: the double's phone could not scan: {status} {answer}")

    def logged_in(self) -> int:
        return sum(1 for client in http("GET", self.control + "/clients")[1]["clients"] if client["state"] == "logged-in")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def decode_qr(data_uri: str) -> str:
    import zxingcpp
    from PIL import Image
    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
    return zxingcpp.read_barcodes(image)[0].text


class BuzzBridge:
    def __init__(self, binary: str, directory: str, double: Double):
        self.binary, self.data, self.double = binary, os.path.join(directory, "data"), double
        self.log = open(os.path.join(directory, "buzzbridge.log"), "a")
        self.keys: list[str] = []
        self.process: subprocess.Popen | None = None
        self.extra: list[str] = []  # more `serve` options

    def start(self) -> float:
        started = time.time()
        info = self.double.info
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data", self.data, "--port", "0", "--log-level", "warning",
             "--wa-proxy", f"http://127.0.0.1:{info['proxyPort']}", "--wa-ca-file", info["caFile"],
             "--wa-noise-root-key", info["noiseRootPublicKey"], *self.extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        for line in self.process.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        return started

    def link(self, index: int) -> None:
        created = subprocess.run(
            [self.binary, "sessions", "create", "--data", self.data, "--kind", "live", "--name", f"bench {index}"],
            capture_output=True, text=True, check=True,
        ).stdout
        key = re.search(r"bzb_live_\w+", created).group(0)
        self.keys.append(key)
        qr = wait(lambda: (lambda r: r[1].get("data", {}).get("qr_code") if r[0] == 200 else None)(http("GET", self.url + "/api/qr", key=key)),
                  60, "a QR code")
        self.double.scan(decode_qr(qr), f"6010{index:07d}")
        wait(lambda: http("GET", self.url + "/api/session/status", key=key)[1]["data"].get("connection") == "connected", 60, "the link")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Neonize:
    """One real whatsmeow client per process, as neonize runs it."""

    def __init__(self, directory: str, double: Double, index: int):
        info = double.info
        self.arguments = [sys.executable, os.path.join(PEERS, "neonize_client.py"), "--root", info["noiseRootPublicKey"],
                          "--proxy", str(info["proxyPort"]), "--ca", info["caFile"], "--db", os.path.join(directory, f"neonize-{index}.db"),
                          "--workdir", os.path.join(directory, f"neonize-{index}")]
        self.environment = dict(os.environ, SSL_CERT_FILE=info["caFile"], PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
        self.log = open(os.path.join(directory, f"neonize-{index}.err"), "a")
        self.double, self.index = double, index
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        text=True, env=self.environment)
        self.process.stdin.write("connect\n")
        self.process.stdin.flush()

    def events(self):
        for line in self.process.stdout:
            if line.startswith("{"):  # the Go library may print lines of its own
                yield json.loads(line)

    def link(self) -> None:
        self.start()
        events = self.events()
        qr = next(event for event in events if event["event"] == "qr")["codes"][0]
        self.double.scan(qr, f"6020{self.index:07d}")
        next(event for event in events if event["event"] == "connected")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def measure(pids, idle: float) -> tuple[int, float]:
    before = sum(cpu_seconds(pid) for pid in pids)
    time.sleep(idle)
    return sum(rss_kib(pid) for pid in pids), sum(cpu_seconds(pid) for pid in pids) - before


def bench_buzzbridge(binary: str, count: int, idle: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-live-", ignore_cleanup_errors=True) as directory:
        double = Double(directory)
        server = BuzzBridge(binary, directory, double)
        server.start()
        time.sleep(2)
        empty = rss_kib(server.process.pid)
        for index in range(count):
            server.link(index)
        time.sleep(3)
        rss, cpu = measure([server.process.pid], idle)
        server.kill()
        started = server.start()
        wait(lambda: double.logged_in() >= count, 120, "every session to log in again")
        relogin = time.time() - started
        server.kill()
        double.stop()
    return {"empty": empty, "rss": rss, "cpu": cpu, "relogin": relogin}


def bench_neonize(count: int, idle: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-live-neonize-", ignore_cleanup_errors=True) as directory:
        double = Double(directory)
        clients = [Neonize(directory, double, index) for index in range(count)]
        for client in clients:
            client.link()
        time.sleep(3)
        rss, cpu = measure([client.process.pid for client in clients], idle)
        for client in clients:
            client.kill()
        started = time.time()
        for client in clients:
            client.start()
        wait(lambda: double.logged_in() >= count, 180, "every neonize client to log in again")
        relogin = time.time() - started
        for client in clients:
            client.kill()
        double.stop()
    return {"empty": None, "rss": rss, "cpu": cpu, "relogin": relogin}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--sessions", default="1,10,50")
    parser.add_argument("--neonize-sessions", default="1,10")
    parser.add_argument("--idle", type=float, default=30)
    options = parser.parse_args()
    rows = []
    for count in [int(n) for n in options.sessions.split(",") if n]:
        rows.append(("buzzbridge", count, bench_buzzbridge(options.binary, count, options.idle)))
        print(f"  buzzbridge, {count} sessions: done", file=sys.stderr, flush=True)
    for count in [int(n) for n in options.neonize_sessions.split(",") if n]:
        rows.append(("neonize", count, bench_neonize(count, options.idle)))
        print(f"  neonize, {count} sessions: done", file=sys.stderr, flush=True)
    print(f"{'client':<11} {'sessions':>8} {'RSS MB':>8} {'MB/session':>11} {'CPU s/session/min idle':>23} {'re-login s':>11}")
    for client, count, result in rows:
        per_session = (result["rss"] - result["empty"]) / count if result["empty"] is not None else result["rss"] / count
        cpu = result["cpu"] / count * 60 / options.idle
        print(f"{client:<11} {count:>8} {result['rss'] / 1024:>8.1f} {per_session / 1024:>11.2f} {cpu:>23.4f} {result['relogin']:>11.2f}")
    print("MB/session: BuzzBridge's growth over the same server with no live session; neonize: each process's whole RSS.")


if __name__ == "__main__":
    main()
