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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--sizes", default="1,50,150")
    args = parser.parse_args()
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
