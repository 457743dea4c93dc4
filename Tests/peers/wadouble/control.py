"""The control API: HTTP/1.1 with JSON bodies on 127.0.0.1, one request per connection.

Errors are {"error": message} with a 4xx/5xx status. Pairing, faults and transcripts are described
in wa_server_double.py; the simulated phones (contacts.py, python-axolotl) are driven by:

  POST /contacts/defaults {"own": "60123456789"}
       The contacts of issue #17's scenarios: "twoDevices" (60111222333, "Tom Two-Devices", phone 0 and web
       client 2, PN-addressed: stanzas come from 60111222333:N@s.whatsapp.net with sender_lid), "lidOnly"
       (60144455566, "Lena Lid", phone only, LID-addressed: from LID:0@lid with sender_pn) and, with "own",
       "own": device 0 of the linked account itself (its identity is the account key that signed the
       companions). Answer {"twoDevices": ACCOUNT, "lidOnly": ACCOUNT, "own": ACCOUNT}.
  POST /contacts {"phone", "pushName"?, "devices"?: [0, 2], "addressing"?: "lid"|"pn", "senderPn"?: false}   one account
       → ACCOUNT; "senderPn": false leaves sender_pn off LID-addressed stanzas (the receiver must already know the number)
       ACCOUNT = {"phone", "lid": "<lid>@lid", "pn": "<phone>@s.whatsapp.net", "pushName", "addressing", "senderPn", "own",
                  "devices": [{"device", "jid", "lid", "identityKey", "registrationId", "unclaimedPreKeys",
                               "failNext", "inbox": [INBOX ENTRY...]}]}
  GET  /contacts   {"contacts": [ACCOUNT...], "groups": [{"jid", "subject", "participants", "creator", "creation"}],
                    "sent": [SENT...]}
       INBOX ENTRY (a message a companion sent to that device): {"id", "device", "from" (sender LID device),
         "fromJid", "attrs" (the relayed stanza's attributes), "children" (tags), "encTypes", "count" (enc count
         of a retried message), "text", "quoted": {"id", "participant", "text"}?, "deviceSent":
         {"destinationJID"}? (own-device copy), "group", "message" (the decrypted Message as JSON), "receiptSent"
         ("delivery" | "sender"), "receiptsSent" (later ones, e.g. ["read"]), "retryReceipt": N (when fail-next
         answered it), "error" (decryption failed)}.
  POST /contacts/send {"from": "PHONE" | "PHONE:N", "to": "PHONE" | "<lid>@lid", "text", "replyTo"?: {"id",
                       "participant", "text"}, "corrupt"?: true | [device JIDs], "corruptRetries"?: N, "id"?}
       The device sends a text (extendedTextMessage with contextInfo for replyTo) to every device of `to`
       (companions and simulated) and a DeviceSentMessage to its own account's other devices: pkmsg until the
       peer has answered, then msg; `notify`, `t`, a 3EB0… id, padding 1-15 bytes, device-identity with a pkmsg
       from a linked device (N > 0). From the own phone (device 0 of the paired account) the companions get the
       DeviceSentMessage with recipient/peer_recipient_pn. "corrupt" flips the MAC of those devices' copies, so
       they answer with a retry receipt, which the device answers by re-sending (new session from the receipt's
       keys when present, enc count=N); "corruptRetries": N breaks the first N re-sends too (whatsmeow adds keys
       to its second retry receipt).
       With {"from", "group": "<id>@g.us", "text"} instead of "to": a group message, from=GROUP
       participant=SENDER_LID:N participant_pn addressing_mode=lid: a SenderKeyDistributionMessage in a
       pkmsg/msg to each device that lacks it, then one skmsg.
       With "repeat": N (no "id"): N messages "TEXT #1".."TEXT #N" in turn, answer {"ids", "sentAt"} (for benchmarks);
       with "media" too: N files (seeds seed..seed+N-1), all prepared before the first message is sent.
       Answer SENT = {"id", "from", "to", "toPn", "group", "text", "content", "t", "sentAt", "deliveries": [{"to", "jid",
         "type" | "types", "ownCopy", "corrupted", "delivered": "live"|"queued"|"simulated"}], "acks": [companion
         acks], "receipts": [{"from", "type": "inactive"|"delivery"|"read"|"retry"|..., "t"}], "retries":
         [{"from", "count", "keys", "resent", "type"}]}; GET /contacts shows receipts as they arrive.
  POST /contacts/receipt {"from": "PHONE[:N]", "ids": [...], "type"?: "read"}
       The device sends that receipt for messages it decrypted (one sender) to the sending companion.
       Answer {"sent", "ids", "to"}.
  POST /contacts/fail-next {"device": "PHONE[:N]", "count": N}
       The device answers its next N incoming messages with retry receipts instead of decrypting them (keys
       included from the second retry of a message, retry.go sendRetryReceipt).
  POST /contacts/device {"phone", "add": N, "notify"?: false} | {"phone", "remove": N, "notify"?: false}
       Links/unlinks a device of a contact and (unless "notify": false: companions keep a stale device list, so
       their next send's phash differs from the ack's) sends every logged-in companion of another account
       <notification from=LID_USER type="devices"><add|remove device_hash><device jid=LID:N/></…></notification>.
       Answer {"phone", "add"|"remove", "devices", "notified": [conn numbers], "deviceHash"}.
  POST /groups {"subject", "participants": [phones], "creator"?, "jid"?}
       A group of contacts and paired accounts; `w:g2` group-info IQs for it are answered (LID participants
       with phone_number). Answer {"jid", "subject", "participants", "creator", "creation"}.
Media (issue #18; wadouble/cdn.py, wadouble/media.py, media_crypto.py):
  POST /contacts/send {"from", "to", "media": MEDIA}   (1:1 only; "text" may be omitted)
       The device sends a media message: the file is encrypted (media_crypto.py), kept on the fake CDN, and the
       Message carries URL, directPath, mediaKey, fileSHA256, fileEncSHA256, fileLength, mimetype, mediaKeyTimestamp
       (+ caption, width/height and a JPEGThumbnail for images and video, seconds, PTT for audio, fileName/title for
       documents); the stanza has type="media" and its enc mediatype (image, video, audio, ptt, document, sticker).
       MEDIA = {"type": "image"|"video"|"audio"|"document"|"sticker", "caption"?, "mimetype"?, "fileName"?, "ptt"?: true,
                "seconds"?, "width"?, "height"?, "thumbnail"?: false, "seed"?: N (varies the fixture's bytes),
                "fixture"?: "jpeg"|"pdf"|"ogg"|"mp4" (default by type: image jpeg, video mp4, audio ogg, document pdf),
                "data"?: base64 (your own bytes instead), "size"?: N (N deterministic bytes, SHAKE-256 of the seed, instead),
                "tamper"?: "hmac" (a ciphertext byte flipped after the MAC; fileEncSha256 matches: the MAC check fails)
                          | "sha256" (wrong fileSha256) | "enc-sha256" (wrong fileEncSha256) | "missing" (not on the CDN: 404)}
       The answer (SENT) gains "media": {"type", "mediatype", "mimetype", "caption", "fileName", "ptt", "sha256" and
       "length" (of the plaintext), "data" (base64 plaintext, up to 1 MiB), "mediaKey", "fileSha256", "fileEncSha256",
       "directPath", "url", "tamper"}.
  Receiving: a media message a companion sends to a phone is fetched from the CDN by its directPath (or url),
       checked (fileEncSha256, HMAC, padding, fileSha256) and decrypted; the INBOX ENTRY gains "encMediaTypes" and
       "media": {"type", "mimetype", "directPath", "url", "fileLength", "caption", "fileName", "width", "height",
       "seconds", "ptt", "thumbnailLength", "ok", "sha256", "length", "lengthMatches", "missingFields" (of fileSHA256,
       fileEncSHA256, mediaKey, fileLength, mimetype), "error": "enc-sha256"|"hmac"|"padding"|"sha256"|"404: …"|…}.
  GET  /contacts/media?device=PHONE[:N]&id=MESSAGE_ID   {"device", "id", "sha256", "length", "data" (base64)}: the bytes
       that device decrypted (404 if none).
  GET  /cdn   {"hosts", "auth", "ttl", "mediaConnQueries", "blobs": [{"directPath", "url", "mmsType", "length",
              "fileEncSha256", "uploader", "downloads"}], "uploads": [{"method", "host", "path", "query", "origin",
              "referer", "length", "status", "answer"}], "downloads": [{"method", "host", "path", "query", "origin",
              "status", "fault"} | {"by": phone device, "path", "status"}], "faults"}
  POST /cdn/fault {"status": N} | {"kind": "slow", "seconds": S} | {"kind": "corrupt"} | {"kind": "truncate"}
                  | {"op": "upload", "status": N}, each with "count"?: N (default 1), "host"?, "match"?: path substring;
                  {"clear": true} removes them. Answer {"faults"}. See cdn.py.
  The `media_conn` IQ (<iq xmlns="w:m" type="set"><media_conn/></iq>) is answered with <media_conn auth ttl auth_ttl
  max_buckets><host hostname="mmg.whatsapp.net"/><host hostname="mmg-fallback.whatsapp.net"/></media_conn>; both names
  are in the double's certificate and the proxies send tunnels to them to the CDN (also reachable directly on cdnPort).
Numbers neither paired nor simulated have no devices: usync answers `contact type="out"`, no `lid`, an empty
device list, and prekey requests for them get <error code="404"/>. A LID user (paired or simulated) asked about
in a usync whose query has <lid/> is answered <user jid=LID pn_jid=PHONE@s.whatsapp.net> with an empty <lid/>:
how a receiver learns the number of a contact that sends by LID without sender_pn ("senderPn": false).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
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

def received_media(server: Server, query: dict) -> dict:
    """GET /contacts/media?device=PHONE[:N]&id=MESSAGE_ID: the plaintext a phone decrypted, base64."""
    device = server.contacts.device(str(query.get("device", "")))
    data = server.cdn.received.get((device.lid, str(query.get("id", ""))))
    if data is None:
        raise ControlError(404, f"{device.lid} has no decrypted media for message {query.get('id')!r}")
    return {"device": device.lid, "id": query.get("id"), "sha256": hashlib.sha256(data).hexdigest(), "length": len(data),
            "data": base64.b64encode(data).decode()}


DEFAULT_CONTACTS = [
    {"phone": "60111222333", "pushName": "Tom Two-Devices", "devices": [0, 2], "addressing": "pn"},
    {"phone": "60144455566", "pushName": "Lena Lid", "devices": [0], "addressing": "lid"},
]


def defaults(server: Server, body: dict) -> dict:
    """POST /contacts/defaults {"own": PHONE}: the contacts of issue #17's scenarios in one call."""
    made = [server.contacts.add_account(c["phone"], c["pushName"], c["devices"], c["addressing"]) for c in DEFAULT_CONTACTS]
    own = str(body.get("own", ""))
    if own:
        made.append(server.contacts.add_account(own, str(body.get("ownPushName", "")) or "Owner's phone", [0], "lid"))
    names = ["twoDevices", "lidOnly", "own"]
    return {name: account.summary(server.contacts.is_own(account)) for name, account in zip(names, made)}


def proxy_settings(server: Server, body: dict) -> dict:
    """POST /proxy {"socksRequireAuth": bool}: whether the SOCKS5 proxy refuses clients without credentials."""
    if "socksRequireAuth" in body:
        if not isinstance(body["socksRequireAuth"], bool):
            raise ControlError(400, "socksRequireAuth is true or false")
        server.proxy_settings["socksRequireAuth"] = body["socksRequireAuth"]
    return dict(server.proxy_settings)


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           422: "Unprocessable Entity", 500: "Internal Server Error", 504: "Gateway Timeout"}


def control_api(server: Server):
    async def route(method: str, path: str, query: dict, body: dict):
        if method == "GET" and path == "/clients":
            return {"clients": [c.summary() for c in server.connections.values()], "faults": server.faults, "tunnels": server.tunnels}
        if method == "GET" and path == "/state":
            return {**server.registry.state(), "messages": server.messages, "dropped": server.dropped,
                    "offline": {jid: len(queued) for jid, queued in server.offline.items() if queued},
                    "unacked": {jid: [s.attr("id") for s in pending] for jid, pending in server.unacked.items() if pending}}
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
        if method == "GET" and path == "/contacts":
            return server.contacts.summary()
        if method == "POST" and path == "/contacts":
            devices = body.get("devices")
            account = server.contacts.add_account(str(body.get("phone", "")), str(body.get("pushName", "")),
                                                  list(devices) if devices is not None else None, str(body.get("addressing", "lid")),
                                                  bool(body.get("senderPn", True)))
            return account.summary(server.contacts.is_own(account))
        if method == "POST" and path == "/contacts/defaults":
            return defaults(server, body)
        if method == "POST" and path == "/contacts/send":
            return await server.contacts.send_many(body)
        if method == "POST" and path == "/contacts/receipt":
            return await server.contacts.send_receipt(body)
        if method == "POST" and path == "/contacts/fail-next":
            device = server.contacts.device(str(body.get("device", "")))
            device.fail_next = int(body.get("count", 1))
            return {"device": device.lid, "failNext": device.fail_next}
        if method == "POST" and path == "/contacts/device":
            return await server.contacts.change_device(body)
        if method == "POST" and path == "/groups":
            return server.contacts.add_group(str(body.get("subject", "")), list(body.get("participants", [])),
                                             body.get("creator"), body.get("jid"))
        if method == "GET" and path == "/cdn":
            return server.cdn.summary()
        if method == "POST" and path == "/cdn/fault":
            return server.cdn.add_fault(body)
        if method == "GET" and path == "/contacts/media":
            return received_media(server, query)
        if method == "POST" and path == "/proxy":
            return proxy_settings(server, body)
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
