"""The fake media CDN: WhatsApp's media hosts served over the double's TLS (same test CA) and reached
through its CONNECT/SOCKS5 proxies, plus the `media_conn` answer that names them.

media_conn (mediaconn.go queryMediaConn): `<media_conn auth ttl auth_ttl max_buckets><host hostname/>…`;
whatsmeow needs all four attributes (its attribute getter fails without auth_ttl or max_buckets).

Upload (upload.go rawUpload): `POST https://HOST/mms/{mms-type}/{TOKEN}?auth=AUTH&token=TOKEN`, TOKEN =
URL-safe base64 with padding of SHA-256(body), body = the encrypted blob. Refused: a wrong auth (401),
an unknown mms-type (400), a path token that is not the query token or not the body's hash (400).
Answer `{"url", "direct_path"}`: direct_path looks like WhatsApp's (`/v/t62.7118-24/…enc?ccb=11-4&oh=…
&oe=…&_nc_sid=5e03e0`; `oh` is a keyed hash of the path, checked on download: 403 when it does not match),
url = `https://mmg.whatsapp.net` + direct_path + `&mms3=true`.

Download (download.go DownloadMediaWithPath): `GET https://HOST{direct_path}&hash=…&mms-type=…&__wa-mms=`
(whatsmeow) or the url (Baileys, other clients): the blob, 200, or 404 for an unknown path.

Faults (POST /cdn/fault, one per call, each used `count` times, default 1; "host"/"match" narrow it):
  {"status": 404|410|403|500|503…}   the next download answers that status (500/503: whatsmeow retries)
  {"kind": "slow", "seconds": S}      the next download sends its bytes over S seconds
  {"kind": "corrupt"}                 the next download has one byte flipped (fileEncSha256 mismatch)
  {"kind": "truncate"}                the next download stops half-way (Content-Length promises more)
  {"op": "upload", "status": N}       the next upload answers N
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .binary import Node

MEDIA_HOSTS = ("mmg.whatsapp.net", "mmg-fallback.whatsapp.net")
MMS_TYPES = {"image", "video", "audio", "ptt", "document", "sticker", "md-msg-hist", "md-app-state", "sticker-pack",
             "thumbnail-link", "thumbnail-image", "thumbnail-video", "thumbnail-document"}
# The object class part of real direct paths, by mms-type (only its look matters).
PATH_CLASS = {"image": "t62.7118-24", "video": "t62.7161-24", "audio": "t62.7117-24", "ptt": "t62.7117-24",
              "document": "t62.7119-24", "sticker": "t62.15575-24"}
MEDIA_CONN_TTL = 300
MEDIA_CONN_AUTH_TTL = 21600
MAX_BUCKETS = 12
READ_LIMIT = 200 * 1024 * 1024


@dataclass
class Blob:
    path: str  # without the query
    direct_path: str
    url: str
    mms_type: str
    data: bytes
    uploader: str
    t: float
    downloads: int = 0

    def summary(self) -> dict:
        return {"directPath": self.direct_path, "url": self.url, "mmsType": self.mms_type, "length": len(self.data),
                "fileEncSha256": hashlib.sha256(self.data).hexdigest(), "uploader": self.uploader, "downloads": self.downloads}


@dataclass
class MediaCdn:
    seed: str
    auth: str = field(default_factory=lambda: base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("="))
    blobs: dict = field(default_factory=dict)  # path -> Blob
    uploads: list = field(default_factory=list)
    downloads: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    media_conn_queries: int = 0
    received: dict = field(default_factory=dict)  # (phone device LID, message id) -> plaintext a phone decrypted

    # -- media_conn ------------------------------------------------------------------------------------------
    def media_conn(self) -> Node:
        self.media_conn_queries += 1
        return Node("media_conn", {"auth": self.auth, "ttl": str(MEDIA_CONN_TTL), "auth_ttl": str(MEDIA_CONN_AUTH_TTL),
                                   "max_buckets": str(MAX_BUCKETS)}, [Node("host", {"hostname": host}) for host in MEDIA_HOSTS])

    # -- the store -------------------------------------------------------------------------------------------
    def _oh(self, path: str) -> str:
        return "01_" + hmac.new(f"{self.seed}/cdn".encode(), path.encode(), hashlib.sha256).hexdigest()[:40]

    def store(self, data: bytes, mms_type: str, uploader: str) -> Blob:
        """Keeps an encrypted blob and gives it a WhatsApp-looking direct path (used by uploads and by the phones)."""
        name = f"{int(time.time() * 1000) % 10**12}_{os.urandom(8).hex()}_n.enc"
        path = f"/v/{PATH_CLASS.get(mms_type, 't62.7118-24')}/{name}"
        expires = format(int(time.time()) + 14 * 86400, "X")
        direct_path = f"{path}?ccb=11-4&oh={self._oh(path)}&oe={expires}&_nc_sid=5e03e0"
        blob = Blob(path, direct_path, f"https://{MEDIA_HOSTS[0]}{direct_path}&mms3=true", mms_type, data, uploader, time.time())
        self.blobs[path] = blob
        return blob

    def lookup(self, direct_path_or_url: str) -> Blob | None:
        """The blob a message's directPath or url names (what a phone downloading it gets)."""
        return self.blobs.get(urlsplit(direct_path_or_url).path)

    def take_fault(self, op: str, host: str, path: str) -> dict | None:
        for fault in self.faults:
            if fault.get("op", "download") != op or fault["left"] <= 0:
                continue
            if fault.get("host") and fault["host"] != host:
                continue
            if fault.get("match") and fault["match"] not in path:
                continue
            fault["left"] -= 1
            fault["used"] += 1
            return fault
        return None

    def add_fault(self, body: dict) -> dict:
        if body.get("clear"):
            self.faults.clear()
            return {"faults": self.faults}
        op = str(body.get("op", "download"))
        if op not in ("download", "upload"):
            raise ValueError("op is download or upload")
        fault = {"op": op, "left": int(body.get("count", 1)), "used": 0}
        if "status" in body:
            fault["status"] = int(body["status"])
        elif body.get("kind") in ("slow", "corrupt", "truncate") and op == "download":
            fault["kind"] = body["kind"]
            fault["seconds"] = float(body.get("seconds", 3.0))
        else:
            raise ValueError("a fault is {status: N} or {kind: slow|corrupt|truncate}")
        for key in ("host", "match"):
            if body.get(key):
                fault[key] = str(body[key])
        self.faults.append(fault)
        return {"faults": self.faults}

    def summary(self) -> dict:
        return {"hosts": list(MEDIA_HOSTS), "auth": self.auth, "ttl": MEDIA_CONN_TTL, "mediaConnQueries": self.media_conn_queries,
                "blobs": [b.summary() for b in self.blobs.values()], "uploads": self.uploads, "downloads": self.downloads,
                "faults": self.faults}

    # -- HTTPS ------------------------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection (answers carry Connection: close)."""
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines if ":" in line)}
            body = await _read_body(reader, headers)
            status, answer_headers, payload, fault = await self._route(method, target, headers, body)
            await _respond(writer, status, answer_headers, payload, fault)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - already closed
                pass

    async def _route(self, method: str, target: str, headers: dict, body: bytes):
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        host = headers.get("host", "").split(":")[0]
        record = {"method": method, "host": host, "path": url.path, "query": query, "origin": headers.get("origin"),
                  "referer": headers.get("referer"), "t": time.time()}
        if method == "POST" and url.path.startswith("/mms/"):
            record["length"] = len(body)
            self.uploads.append(record)
            fault = self.take_fault("upload", host, url.path)
            if fault is not None:
                record["status"] = fault["status"]
                return fault["status"], {}, _json({"error": "fault"}), None
            status, answer = self._upload(url.path, query, body)
            record.update(status=status, answer=answer)
            return status, {"Content-Type": "application/json"}, _json(answer), None
        if method in ("GET", "HEAD"):
            self.downloads.append(record)
            blob = self.blobs.get(url.path)
            if blob is None:
                record["status"] = 404
                return 404, {}, b"", None
            if query.get("oh") != self._oh(blob.path):
                record["status"] = 403
                return 403, {}, b"", None
            fault = self.take_fault("download", host, url.path)
            if fault is not None and "status" in fault:
                record["status"] = fault["status"]
                return fault["status"], {}, b"", None
            blob.downloads += 1
            record.update(status=200, length=len(blob.data), fault=fault.get("kind") if fault else None)
            data = blob.data if method == "GET" else b""
            return 200, {"Content-Type": "application/octet-stream"}, data, fault
        record["status"] = 405
        self.downloads.append(record)
        return 405, {}, b"", None

    def _upload(self, path: str, query: dict, body: bytes) -> tuple[int, dict]:
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "mms":
            return 400, {"error": "path is /mms/{type}/{token}"}
        mms_type, token = parts[2], parts[3]
        if query.get("auth") != self.auth:
            return 401, {"error": "auth is not the media_conn auth"}
        if mms_type not in MMS_TYPES:
            return 400, {"error": f"unknown mms type {mms_type}"}
        if query.get("token") != token:
            return 400, {"error": "the token query parameter is not the path's token"}
        if base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode() != token:
            return 400, {"error": "token is not URL-safe base64 (with padding) of SHA-256 of the body"}
        blob = self.store(body, mms_type, "upload")
        return 200, {"url": blob.url, "direct_path": blob.direct_path}


def _json(value) -> bytes:
    return json.dumps(value).encode()


async def _read_body(reader: asyncio.StreamReader, headers: dict) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > READ_LIMIT:
                raise ValueError("body too large")
    length = int(headers.get("content-length", "0"))
    if length > READ_LIMIT:
        raise ValueError("body too large")
    return await reader.readexactly(length)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           410: "Gone", 500: "Internal Server Error", 503: "Service Unavailable"}


async def _respond(writer: asyncio.StreamWriter, status: int, headers: dict, payload: bytes, fault: dict | None) -> None:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", f"Content-Length: {len(payload)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    kind = fault.get("kind") if fault else None
    if kind == "corrupt" and payload:
        payload = payload[:len(payload) // 2] + bytes([payload[len(payload) // 2] ^ 0x01]) + payload[len(payload) // 2 + 1:]
    if kind == "truncate":
        writer.write(payload[:len(payload) // 2])
        await writer.drain()
        return
    if kind == "slow":
        pieces = 10
        step = max(1, -(-len(payload) // pieces))
        for start in range(0, len(payload), step):
            writer.write(payload[start:start + step])
            await writer.drain()
            await asyncio.sleep(fault["seconds"] / pieces)
        return
    writer.write(payload)
    await writer.drain()
