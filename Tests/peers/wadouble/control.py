"""The control API: HTTP/1.1 with JSON bodies on 127.0.0.1, one request per connection.

Errors are {"error": message} with a 4xx/5xx status.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from urllib.parse import parse_qs, urlsplit

from .errors import ControlError
from .session import Server
from .transcript import compare

RECORDINGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "transcripts")


def compare_with_recording(server: Server, body: dict) -> dict:
    """POST /transcript/compare {"conn", "recording": "qr_pairing", "role": "pairing", "mode": "in-order"|"exact"}"""
    name = str(body.get("recording", ""))
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ControlError(400, "recording must be a name like qr_pairing")
    path = os.path.join(RECORDINGS, f"neonize_{name}.json")
    if not os.path.exists(path):
        raise ControlError(404, f"no recording {path}")
    with open(path, encoding="utf-8") as file:
        recording = json.load(file)
    role = str(body.get("role", ""))
    chosen = next((c for c in recording["connections"] if c["role"] == role), None)
    if chosen is None:
        raise ControlError(404, f"recording {name} has roles {[c['role'] for c in recording['connections']]}")
    actual = server.transcript(int(body.get("conn", 0)), None)["connections"][0]["signatures"]
    try:
        problems = compare(chosen["signatures"], actual, str(body.get("mode", "in-order")))
    except ValueError as error:
        raise ControlError(400, str(error)) from error
    return {"match": not problems, "problems": problems, "expected": chosen["signatures"], "actual": actual}

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           422: "Unprocessable Entity", 500: "Internal Server Error", 504: "Gateway Timeout"}


def control_api(server: Server):
    async def route(method: str, path: str, query: dict, body: dict):
        if method == "GET" and path == "/clients":
            return {"clients": [c.summary() for c in server.connections.values()], "faults": server.faults, "tunnels": server.tunnels}
        if method == "GET" and path == "/state":
            return {**server.registry.state(), "messages": server.messages,
                    "offline": {jid: len(queued) for jid, queued in server.offline.items() if queued}}
        if method == "GET" and path == "/transcript":
            conn = query.get("conn")
            return server.transcript(int(conn) if conn else None, query.get("jid"))
        if method == "POST" and path == "/transcript/compare":
            return compare_with_recording(server, body)
        if method == "POST" and path == "/phone/scan":
            return await server.phones.scan(str(body.get("qr", "")), str(body.get("phone", "")), str(body.get("tamper", "")))
        if method == "POST" and path == "/phone/enter-code":
            return await server.phones.enter_code(str(body.get("code", "")), str(body.get("phone", "")), str(body.get("tamper", "")))
        if method == "POST" and path == "/phone/remove-device":
            return await server.phones.remove_device(str(body.get("jid", "")))
        if method == "POST" and path == "/fault":
            return await server.inject(body.get("jid"), str(body.get("kind", "")))
        raise ControlError(404 if method in ("GET", "POST") else 405, f"no route {method} {path}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, answer = 200, {}
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines if ":" in line)}
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ControlError(400, "body must be a JSON object")
            url = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        except (json.JSONDecodeError, ValueError, ControlError) as error:
            status, answer = getattr(error, "status", 400), {"error": f"bad request: {error}"}
        else:
            try:
                answer = await route(method, url.path, query, body)
            except ControlError as error:
                status, answer = error.status, {"error": str(error)}
            except ConnectionError as error:
                status, answer = 409, {"error": f"the client's connection closed: {error}"}
            except ValueError as error:
                status, answer = 400, {"error": f"bad request: {error}"}
            except Exception as error:  # noqa: BLE001 - reported to the caller, the double keeps serving
                status, answer = 500, {"error": repr(error)}
        data = json.dumps(answer).encode()
        writer.write(f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        try:
            await writer.drain()
        finally:
            writer.close()
    return handle
