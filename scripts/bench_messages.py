"""The measuring half of scripts/bench-messages (which says what it prints); run through that script.

Reuses scripts/bench_live.py's machinery (the double, linking BuzzBridge live sessions through the
API and the double's phone, neonize clients, CPU from /proc). Each client and session count gets a
fresh double. The phones are the double's python-axolotl contacts: Tom (two devices, PN-addressed)
sends to every session and every session sends to Tom.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

from bench_live import PEERS, BuzzBridge as LiveBuzzBridge, Double, Neonize as LiveNeonize, cpu_seconds, http as control_http, wait

TOM = "60111222333"
SECRET = b"bench-messages-webhook-secret"
DELIVERED = 1  # neonize's ReceiptType for a delivery receipt (whatsmeow types.ReceiptTypeDelivered)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class WebhookReceiver:
    """A tiny asyncio HTTP/1.1 server that records when each webhook arrives and checks its
    X-Webhook-Signature (HMAC-SHA256 of the body); a wrong signature is counted, not dropped."""

    def __init__(self):
        self.texts: dict[str, float] = {}  # message.received: text → arrival
        self.delivered: dict[str, float] = {}  # message.status delivered or read: message_id → first arrival
        self.bad_signatures = 0
        self.count = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/whatsapp"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:] if line)}
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, headers.get("x-webhook-signature", "")):
                    self.bad_signatures += 1
                self.record(json.loads(body), arrived)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def record(self, event: dict, arrived: float) -> None:
        self.count += 1
        data = event.get("data", {})
        if event.get("event") == "message.received":
            self.texts.setdefault(data.get("message", ""), arrived)
        elif event.get("event") == "message.status" and data.get("status") in ("delivered", "read"):
            self.delivered.setdefault(data.get("message_id", ""), arrived)


class BuzzBridge(LiveBuzzBridge):
    """bench_live's server, with limits raised so that nothing but the work itself paces the run."""

    LIMITS = ["--rate-limit", "1000000", "--send-rate", "1000000", "--send-queue-limit", "10000", "--webhook-allow-private-addresses"]

    def __init__(self, binary: str, directory: str, double: Double, receiver: WebhookReceiver, send_pause: str = "0"):
        super().__init__(binary, directory, double)
        self.receiver, self.sessions, self.send_pause = receiver, [], send_pause

    def start(self) -> float:
        started = time.time()
        info = self.double.info
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data", self.data, "--port", "0", "--log-level", "warning",
             "--wa-proxy", f"http://127.0.0.1:{info['proxyPort']}", "--wa-ca-file", info["caFile"],
             "--wa-noise-root-key", info["noiseRootPublicKey"], *self.LIMITS,
             *(["--send-pause", self.send_pause] if self.send_pause != "none" else [])],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        for line in self.process.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        threading.Thread(target=lambda: [self.log.write(line) for line in self.process.stdout], daemon=True).start()
        return started

    def link(self, index: int) -> None:
        super().link(index)
        listed = subprocess.run([self.binary, "sessions", "list", "--data", self.data], capture_output=True, text=True, check=True).stdout
        session = next(line.split()[0] for line in listed.splitlines() if line.rstrip().endswith(f"bench {index}"))
        subprocess.run([self.binary, "webhooks", "set", "--data", self.data, "--session", session, "--url", self.receiver.url,
                        "--secret", SECRET.decode(), "--events", "message.received,message.status"], capture_output=True, check=True)
        self.sessions.append(session)


class Neonize(LiveNeonize):
    """bench_live's neonize client (one process each), run through this script's --neonize-child so
    that whatsmeow's log is filtered at WARNING, as BuzzBridge runs with --log-level warning; a
    reader thread stamps every event line as it arrives."""

    def __init__(self, directory: str, double: Double, index: int):
        super().__init__(directory, double, index)
        self.arguments = [sys.executable, os.path.abspath(__file__), "--neonize-child", *self.arguments[2:]]
        self.texts: dict[str, float] = {}
        self.receipts: dict[str, float] = {}
        self.replies: queue.Queue = queue.Queue()

    def listen(self) -> None:
        def read() -> None:
            for event in self.events():
                arrived = time.time()
                if event["event"] == "message":
                    self.texts.setdefault(event.get("text", ""), arrived)
                elif event["event"] == "receipt" and event.get("type") == DELIVERED:
                    for message_id in event["ids"]:
                        self.receipts.setdefault(message_id, arrived)
                elif event["event"] in ("sent", "done"):
                    self.replies.put(event)

        threading.Thread(target=read, daemon=True).start()

    def send(self, phone: str, text: str) -> str:
        """Sends and returns the message id once whatsmeow returns (after the server's ack)."""
        self.process.stdin.write(f"send {phone} {text}\n")
        self.process.stdin.flush()
        sent = None
        while True:
            event = self.replies.get(timeout=60)
            if event["event"] == "sent":
                sent = event["id"]
            elif event["event"] == "done" and event.get("command") == "send":
                if event.get("error") or sent is None:
                    raise RuntimeError(f"neonize could not send: {event}")
                return sent


KEEP = os.environ.get("BENCH_MESSAGES_KEEP") == "1"


@contextlib.contextmanager
def workspace(prefix: str):
    """A temporary directory (logs of the double, BuzzBridge and neonize); BENCH_MESSAGES_KEEP=1 keeps it."""
    if KEEP:
        directory = tempfile.mkdtemp(prefix=prefix)
        print(f"  logs in {directory}", file=sys.stderr)
        yield directory
    else:
        with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as directory:
            yield directory


def phone_of(client: str, index: int) -> str:
    return f"6010{index:07d}" if client == "buzzbridge" else f"6020{index:07d}"


def summarize(per_session: list[list[tuple[float, float | None]]], cpu: float) -> dict:
    """per_session: for each session, (start, arrival or None) per message."""
    arrived = [[(start, end) for start, end in pairs if end is not None] for pairs in per_session]
    latencies = [(end - start) * 1000 for pairs in arrived for start, end in pairs]
    done = sum(len(pairs) for pairs in arrived)
    starts = [start for pairs in per_session for start, _ in pairs]
    ends = [end for pairs in arrived for _, end in pairs]
    total_rate = done / (max(ends) - min(starts)) if ends else 0.0
    rates = [len(pairs) / (max(e for _, e in pairs) - min(s for s, _ in pairs)) for pairs in arrived if len(pairs) > 1]
    return {"rate": total_rate, "per_session": sum(rates) / len(rates) if rates else 0.0, "cpu_ms": cpu * 1000 / done if done else None,
            "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99), "done": done,
            "expected": sum(len(pairs) for pairs in per_session)}


def in_threads(work, items) -> None:
    errors: list[BaseException] = []

    def run(item) -> None:
        try:
            work(item)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def receive(double: Double, phones: list[str], arrivals, prefix: str, count: int, pids: list[int], timeout: float) -> dict:
    """The phone Tom sends `count` messages to every session at once; arrivals(index) maps a text to
    the time the client reported it."""
    sent_at: dict[int, list[float]] = {}

    def send(index: int) -> None:
        status, answer = control_http("POST", double.control + "/contacts/send",
                                      {"from": TOM, "to": phones[index], "text": f"{prefix} s{index}", "repeat": count})
        if status != 200:
            raise SystemExit(f"bench-messages: the phone could not send: {status} {answer}")
        sent_at[index] = answer["sentAt"] if count > 1 else [answer["sentAt"]]  # one message: no " #1" either

    before = sum(cpu_seconds(pid) for pid in pids)
    in_threads(send, range(len(phones)))
    texts = {index: [f"{prefix} s{index} #{n}" for n in range(1, count + 1)] if count > 1 else [f"{prefix} s{index}"]
             for index in range(len(phones))}
    deadline = time.time() + timeout
    while time.time() < deadline and not all(text in arrivals(index) for index in texts for text in texts[index]):
        time.sleep(0.02)
    time.sleep(0.5)  # work that follows the last event (bookkeeping) is part of the cost
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    per_session = [[(start, arrivals(index).get(text)) for start, text in zip(sent_at[index], texts[index])] for index in texts]
    return summarize(per_session, cpu)


def decrypted_by_tom(double: Double, prefix: str) -> int:
    contacts = control_http("GET", double.control + "/contacts")[1]["contacts"]
    tom = next(account for account in contacts if account["phone"] == TOM)
    phone = next(device for device in tom["devices"] if device["device"] == 0)
    return sum(1 for entry in phone["inbox"] if str(entry.get("text", "")).startswith(prefix) and not entry.get("error"))


def send(senders: list, receipt_times, prefix: str, count: int, pids: list[int], timeout: float) -> tuple[dict, list[str]]:
    """Every session sends `count` messages to Tom, one after another (each once the previous one is
    accepted); senders[index](text) → message id; receipt_times(index) maps an id to its first
    delivery receipt's arrival."""
    started: dict[int, list[tuple[float, str]]] = {index: [] for index in range(len(senders))}

    def run(index: int) -> None:
        for n in range(1, count + 1):
            start = time.time()
            started[index].append((start, senders[index](f"{prefix} s{index} #{n}")))

    before = sum(cpu_seconds(pid) for pid in pids)
    in_threads(run, range(len(senders)))
    deadline = time.time() + timeout
    while time.time() < deadline and not all(message_id in receipt_times(index) for index in started for _, message_id in started[index]):
        time.sleep(0.02)
    time.sleep(0.5)
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    per_session = [[(start, receipt_times(index).get(message_id)) for start, message_id in started[index]] for index in started]
    return summarize(per_session, cpu), [message_id for index in started for _, message_id in started[index]]


def one_at_a_time(starters: list, arrivals, prefix: str, count: int, gap: float, timeout: float, double: Double | None = None) -> dict:
    """Latency without load: one message at a time, sessions in turn, `gap` seconds apart;
    starters[index](text) → (start time, key), arrivals(index) maps a key to its arrival. With `double`
    (sending), also the time from asking to the stanza reaching the double ("out")."""
    started: dict[int, list[tuple[float, str]]] = {index: [] for index in range(len(starters))}
    for n in range(1, count + 1):
        for index, start in enumerate(starters):
            started[index].append(start(f"{prefix} s{index} #{n}"))
            time.sleep(gap)
    deadline = time.time() + timeout
    while time.time() < deadline and not all(key in arrivals(index) for index in started for _, key in started[index]):
        time.sleep(0.02)
    latencies = [(arrivals(index)[key] - start) * 1000 for index in started for start, key in started[index] if key in arrivals(index)]
    result = {"idle_p50": percentile(latencies, 0.50), "idle_p99": percentile(latencies, 0.99), "idle_done": len(latencies),
              "idle_expected": count * len(starters)}
    if double is not None:  # sending: when did each message reach the double?
        on_wire = wire_times(double, prefix)
        texts = [f"{prefix} s{index} #{n}" for n in range(1, count + 1) for index in started]
        starts = {f"{prefix} s{index} #{n}": started[index][n - 1][0] for n in range(1, count + 1) for index in started}
        out = [(on_wire[text] - starts[text]) * 1000 for text in texts if text in on_wire]
        keys = {f"{prefix} s{index} #{n}": (index, started[index][n - 1][1]) for n in range(1, count + 1) for index in started}
        back = [(arrivals(keys[text][0])[keys[text][1]] - on_wire[text]) * 1000 for text in texts
                if text in on_wire and keys[text][1] in arrivals(keys[text][0])]
        result.update(out_p50=percentile(out, 0.50), out_p99=percentile(out, 0.99), back_p50=percentile(back, 0.50))
    return result


def wire_times(double: Double, prefix: str) -> dict[str, float]:
    """text → when its message stanza reached the double, for the messages Tom's phone decrypted
    (the inbox names the id; the logged-in connections' transcripts time the stanza)."""
    contacts = control_http("GET", double.control + "/contacts")[1]["contacts"]
    tom = next(account for account in contacts if account["phone"] == TOM)
    phone = next(device for device in tom["devices"] if device["device"] == 0)
    ids = {entry["id"]: entry["text"] for entry in phone["inbox"] if str(entry.get("text", "")).startswith(prefix)}
    times: dict[str, float] = {}
    for client in control_http("GET", double.control + "/clients")[1]["clients"]:
        if client["state"] != "logged-in":
            continue
        for connection in control_http("GET", double.control + f"/transcript?conn={client['conn']}")[1]["connections"]:
            for entry in connection["entries"]:
                if entry["dir"] == "in" and entry["tag"] == "message" and entry["attrs"].get("id") in ids:
                    times.setdefault(ids[entry["attrs"]["id"]], entry["time"])
    return times


def phone_sends(double: Double, phone: str):
    def start(text: str) -> tuple[float, str]:
        status, answer = control_http("POST", double.control + "/contacts/send", {"from": TOM, "to": phone, "text": text})
        if status != 200:
            raise SystemExit(f"bench-messages: the phone could not send: {status} {answer}")
        return answer["sentAt"], text
    return start


def client_sends(send_text):
    def start(text: str) -> tuple[float, str]:
        started = time.time()
        return started, send_text(text)
    return start


class ApiClient:
    """One kept-alive HTTP connection per session, as a PHP worker would hold."""

    def __init__(self, url: str, key: str):
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.connection, self.key = http.client.HTTPConnection(host, int(port), timeout=60), key

    def send(self, text: str) -> str:
        body = json.dumps({"phone": f"+{TOM}", "message": text})
        self.connection.request("POST", "/api/messages/send", body,
                                {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        response = self.connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        if response.status != 200:
            raise RuntimeError(f"POST /api/messages/send answered {response.status} {answer}")
        return answer["data"]["message_id"]


def bench_buzzbridge(binary: str, sessions: int, count: int, idle: int, gap: float, directions: list[str], timeout: float,
                     send_pause: str = "0") -> dict:
    results = {}
    with workspace("bench-messages-") as directory:
        double, receiver = Double(directory), WebhookReceiver()
        server = BuzzBridge(binary, directory, double, receiver, send_pause)
        try:
            server.start()
            for index in range(sessions):
                server.link(index)
            phones = [phone_of("buzzbridge", index) for index in range(sessions)]
            for phone in phones:
                control_http("POST", double.control + "/contacts/defaults", {"own": phone})
            time.sleep(2)
            pids = [server.process.pid]
            if "receive" in directions:
                arrivals = lambda _index: receiver.texts  # noqa: E731 - texts carry the session's index
                receive(double, phones, arrivals, "warm in", 1, pids, timeout)  # sessions with Tom exist from here on
                results["receive"] = receive(double, phones, arrivals, "bench in", count, pids, timeout)
                results["receive"].update(one_at_a_time([phone_sends(double, phone) for phone in phones], arrivals, "idle in", idle, gap, timeout))
            if "send" in directions:
                clients = [ApiClient(server.url, key) for key in server.keys]
                delivered = lambda _index: receiver.delivered  # noqa: E731
                try:
                    send([client.send for client in clients], delivered, "warm out", 1, pids, timeout)  # usync, prekeys
                    result, _ = send([client.send for client in clients], delivered, "bench out", count, pids, timeout)
                    result["decrypted"] = decrypted_by_tom(double, "bench out")
                    result.update(one_at_a_time([client_sends(client.send) for client in clients], delivered, "idle out", idle, gap, timeout, double))
                    results["send"] = result
                except RuntimeError as error:
                    results["send"] = {"error": str(error)}
            results["bad_signatures"] = receiver.bad_signatures
        finally:
            if server.process:
                server.kill()
            double.stop()
    return results


def bench_neonize(sessions: int, count: int, idle: int, gap: float, directions: list[str], timeout: float) -> dict:
    results = {}
    with workspace("bench-messages-neonize-") as directory:
        double = Double(directory)
        clients = [Neonize(directory, double, index) for index in range(sessions)]
        try:
            for client in clients:
                client.link()
                client.listen()
            phones = [phone_of("neonize", index) for index in range(sessions)]
            for phone in phones:
                control_http("POST", double.control + "/contacts/defaults", {"own": phone})
            time.sleep(2)
            pids = [client.process.pid for client in clients]
            if "receive" in directions:
                arrivals = lambda index: clients[index].texts  # noqa: E731
                receive(double, phones, arrivals, "warm in", 1, pids, timeout)
                results["receive"] = receive(double, phones, arrivals, "bench in", count, pids, timeout)
                results["receive"].update(one_at_a_time([phone_sends(double, phone) for phone in phones], arrivals, "idle in", idle, gap, timeout))
            if "send" in directions:
                senders = [lambda text, client=client: client.send(TOM, text) for client in clients]
                receipts = lambda index: clients[index].receipts  # noqa: E731
                send(senders, receipts, "warm out", 1, pids, timeout)
                result, _ = send(senders, receipts, "bench out", count, pids, timeout)
                result["decrypted"] = decrypted_by_tom(double, "bench out")
                result.update(one_at_a_time([client_sends(sender) for sender in senders], receipts, "idle out", idle, gap, timeout, double))
                results["send"] = result
        finally:
            for client in clients:
                if client.process:
                    client.kill()
            double.stop()
    return results


def neonize_child() -> None:
    """Runs Tests/peers/neonize_client.py with Python's log level at WARNING instead of DEBUG."""
    import logging
    configure = logging.basicConfig
    logging.basicConfig = lambda **options: configure(**{**options, "level": logging.WARNING})
    sys.argv = [os.path.join(PEERS, "neonize_client.py"), *sys.argv[2:]]
    sys.path.insert(0, PEERS)
    import neonize_client
    neonize_client.main()


def cell(value, form: str) -> str:
    return "-" if value is None else format(value, form)


def main() -> None:
    if sys.argv[1:2] == ["--neonize-child"]:
        return neonize_child()
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--sessions", default="1,10")
    parser.add_argument("--messages", type=int, default=100, help="messages per session and direction")
    parser.add_argument("--idle-messages", type=int, default=10, help="messages per session sent one at a time for the idle latency")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between those messages")
    parser.add_argument("--directions", default="receive,send")
    parser.add_argument("--clients", default="buzzbridge,neonize")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the last message of a round")
    parser.add_argument("--send-pause", default="0",
                        help="BuzzBridge's --send-pause (ms, MIN-MAX): 0 (default) leaves only the work; 300-1500 is the production pause;"
                             " none passes no flag (binaries from before it)")
    options = parser.parse_args()
    directions = options.directions.split(",")
    rows = []
    for count in [int(n) for n in options.sessions.split(",") if n]:
        for client in options.clients.split(","):
            if client == "buzzbridge":
                result = bench_buzzbridge(options.binary, count, options.messages, options.idle_messages, options.gap, directions,
                                          options.timeout, options.send_pause)
            else:
                result = bench_neonize(count, options.messages, options.idle_messages, options.gap, directions, options.timeout)
            print(f"  {client}, {count} sessions: {json.dumps(result)}", file=sys.stderr, flush=True)
            rows += [(client, count, direction, result[direction]) for direction in directions if direction in result]
    print(f"{'client':<11} {'sessions':>8} {'direction':>9} {'msgs/s total':>12} {'per session':>11} {'CPU ms/msg':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'idle p50':>8} {'idle p99':>8} {'out p50':>8} {'back p50':>8} {'arrived':>9} {'decrypted':>9}")
    for client, count, direction, result in rows:
        if "error" in result:
            print(f"{client:<11} {count:>8} {direction:>9}  failed: {result['error'][:100]}")
            continue
        arrived = f"{result['done']}/{result['expected']}"
        decrypted = str(result["decrypted"]) if "decrypted" in result else "-"
        print(f"{client:<11} {count:>8} {direction:>9} {result['rate']:>12.1f} {result['per_session']:>11.1f} {cell(result['cpu_ms'], '.3f'):>10} "
              f"{cell(result['p50'], '.1f'):>8} {cell(result['p99'], '.1f'):>8} {cell(result.get('idle_p50'), '.1f'):>8} "
              f"{cell(result.get('idle_p99'), '.1f'):>8} {cell(result.get('out_p50'), '.1f'):>8} "
              f"{cell(result.get('back_p50'), '.1f'):>8} {arrived:>9} {decrypted:>9}")
    print("receive: the phone's send (sentAt) → message.received webhook read (neonize: its message event read). send: the send")
    print("asked for → the first delivery receipt (BuzzBridge: message.status webhook; neonize: receipt event). msgs/s, CPU and")
    print("p50/p99: every session at once (receive: the phones send a burst; send: each session sends its next message once")
    print("the previous one is accepted); idle p50/p99: one message at a time. CPU: the client's processes only (neonize: one")
    print("Python + Go process per session). decrypted: the burst's messages Tom's phone decrypted. The phones are one Python")
    print("process: a burst's msgs/s may be the double's limit rather than the client's. out p50 (send): asked → the message")
    print(f"stanza reached the double, one at a time (BuzzBridge's includes its send pacer's pause, --send-pause {options.send_pause} ms); back p50:")
    print("from there → the delivery receipt reported (the phone's decrypt and receipt, the client's handling, the webhook).")

if __name__ == "__main__":
    main()
