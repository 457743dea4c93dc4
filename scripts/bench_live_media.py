"""The measuring half of scripts/bench-live-media (which says what it prints); run through that script."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_live import BuzzBridge, Double, http, rss_kib  # noqa: E402

TOM = "60111222333"
LENA = "60144455566"


def multipart(fields: dict, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 "Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class PeakRSS:
    """Samples a process's resident memory every 20 ms while in use."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.peak = rss_kib(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.running = False
        self.thread.join()


def send(bridge: BuzzBridge, size_mb: int) -> dict:
    data = b"%PDF-1.7\n" + os.urandom(size_mb * 1024 * 1024 - 16) + b"\n%%EOF\n"
    body, content_type = multipart({"phone": f"+{TOM}", "type": "document"}, f"bench-{size_mb}.pdf", data)
    request = urllib.request.Request(bridge.url + "/api/messages/send", method="POST", data=body)
    request.add_header("Authorization", f"Bearer {bridge.keys[0]}")
    request.add_header("Content-Type", content_type)
    before = rss_kib(bridge.process.pid)
    started = time.time()
    with PeakRSS(bridge.process.pid) as peak:
        try:
            with urllib.request.urlopen(request, timeout=900) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise SystemExit(f"bench-live-media: the send answered {error.code}: {error.read()[:500]!r}") from None
    elapsed = time.time() - started
    if status != 200:
        raise SystemExit(f"bench-live-media: the send answered {status}")
    cdn = http("GET", bridge.double.control + "/cdn")[1]
    upload = cdn["uploads"][-1]
    if upload.get("status") != 200 or upload.get("length", 0) < size_mb * 1024 * 1024:
        raise SystemExit(f"bench-live-media: the upload was not whole: {upload}")
    return {"mb": size_mb, "seconds": elapsed, "before": before // 1024, "peak": peak.peak // 1024,
            "growth": (peak.peak - before) // 1024}


def media_statuses(bridge: BuzzBridge) -> list:
    """The `media.status` of every incoming message of the session (GET /api/messages, page by page)."""
    statuses, offset = [], 0
    while True:
        status, page = http("GET", bridge.url + f"/api/messages?limit=100&offset={offset}", key=bridge.keys[0])
        if status != 200:
            raise SystemExit(f"bench-live-media: GET /api/messages answered {status}: {page}")
        data = page.get("data", {})
        messages = data.get("messages", [])
        statuses += [(m.get("media") or {}).get("status") for m in messages if m.get("direction") == "incoming"]
        offset += len(messages)
        if not messages or not data.get("pagination", {}).get("has_more"):
            return statuses


def receive(bridge: BuzzBridge, own: str, count: int, size_mb: int, timeout: float) -> dict:
    """Lena's phone sends `count` documents of `size_mb` to the linked account back to back (all encrypted and on
    the fake CDN first); BuzzBridge fetches them in the background. Lena has one device and the linked account
    no simulated phone, so BuzzBridge's is the only copy: no device of the double decrypts the files meanwhile.
    Resident memory is sampled from before the first message until every file is `ready`; the time runs from the
    first message leaving the phone (the session's only incoming messages are these)."""
    media = {"type": "document", "fileName": "bench.bin", "mimetype": "application/octet-stream",
             "size": size_mb * 1024 * 1024, "seed": int(time.time())}
    before = rss_kib(bridge.process.pid)
    with PeakRSS(bridge.process.pid) as peak:
        status, sent = http("POST", bridge.double.control + "/contacts/send",
                            {"from": LENA, "to": own, "media": media, "repeat": count}, timeout=900)
        if status != 200:
            raise SystemExit(f"bench-live-media: the double's phone could not send: {status} {sent}")
        first = min(sent["sentAt"]) if count > 1 else sent["sentAt"]
        deadline = time.time() + timeout
        while True:
            statuses = media_statuses(bridge)
            if len(statuses) >= count and all(s in ("ready", "failed") for s in statuses):
                break
            if time.time() > deadline:
                raise SystemExit(f"bench-live-media: not every file was ready within {timeout:.0f} s: {statuses}")
            time.sleep(0.2)
        done = time.time()
    failed = [s for s in statuses if s != "ready"]
    if failed:
        raise SystemExit(f"bench-live-media: {len(failed)} downloads failed (see buzzbridge.log)")
    fetched = [d for d in http("GET", bridge.double.control + "/cdn")[1]["downloads"] if "by" not in d and d.get("status") == 200]
    return {"seconds": done - first, "before": before // 1024, "peak": peak.peak // 1024, "growth": (peak.peak - before) // 1024,
            "fetched": len(fetched)}


def downloads(args) -> None:
    """--downloads N: the receiving side, once per --download-concurrency value, each on a fresh server and double."""
    os.environ["BUZZBRIDGE_MEDIA_MAX_MB"] = str(args.download_size + 1)
    own = "60100000001"  # what BuzzBridge.link(1) scans with
    print(f"{'files':>6} {'file MB':>8} {'concurrency':>12} {'all ready s':>12} {'MB/s':>7} {'RSS before MB':>14} {'RSS peak MB':>12} "
          f"{'growth MB':>10}")
    for concurrency in [int(c) for c in args.download_concurrency.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench-live-media-") as directory:
            double = Double(directory)
            bridge = BuzzBridge(args.binary, directory, double)
            # The status is polled several times a second: above the API's default 100 requests a minute.
            bridge.extra = ["--media-download-concurrency", str(concurrency), "--rate-limit", "1000000"]
            try:
                http("POST", double.control + "/contacts/defaults", {})
                bridge.start()
                bridge.link(1)
                time.sleep(2)  # the session's start-up work settles before "before" is read
                row = receive(bridge, own, args.downloads, args.download_size, args.download_timeout)
                if row["fetched"] < args.downloads:
                    raise SystemExit(f"bench-live-media: the CDN served {row['fetched']} of {args.downloads} files")
                total = args.downloads * args.download_size
                print(f"{args.downloads:>6} {args.download_size:>8} {concurrency:>12} {row['seconds']:>12.2f} {total / row['seconds']:>7.1f} "
                      f"{row['before']:>14} {row['peak']:>12} {row['growth']:>10}", flush=True)
            finally:
                if bridge.process:
                    bridge.kill()
                double.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--sizes", default="1,50,150")
    parser.add_argument("--downloads", type=int, default=0, help="receive N files at once instead of sending")
    parser.add_argument("--download-size", type=int, default=50, help="MB per received file")
    parser.add_argument("--download-concurrency", default="4,20", help="--media-download-concurrency values, one run each")
    parser.add_argument("--download-timeout", type=float, default=1800, help="seconds until every file must be ready")
    args = parser.parse_args()
    if args.downloads:
        downloads(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ["BUZZBRIDGE_MEDIA_MAX_MB"] = str(max(sizes) + 1)
    # A debug build parses a large multipart body slower than the default 30 s body timeout allows.
    os.environ.setdefault("BUZZBRIDGE_BODY_TIMEOUT", "900")
    with tempfile.TemporaryDirectory(prefix="bench-live-media-") as directory:
        double = Double(directory)
        bridge = BuzzBridge(args.binary, directory, double)
        try:
            http("POST", double.control + "/contacts/defaults", {"own": "60100000001"})
            bridge.start()
            bridge.link(1)
            print(f"{'file MB':>8} {'send s':>8} {'MB/s':>7} {'RSS before MB':>14} {'RSS peak MB':>12} {'growth MB':>10}")
            for size in sizes:
                row = send(bridge, size)
                print(f"{row['mb']:>8} {row['seconds']:>8.2f} {row['mb'] / row['seconds']:>7.1f} {row['before']:>14} {row['peak']:>12} "
                      f"{row['growth']:>10}", flush=True)
        finally:
            if bridge.process:
                bridge.kill()
            double.stop()


if __name__ == "__main__":
    main()
