"""The server's side of one client connection, and the server that owns them all.

Connection: handshake (Noise XX responder), then encrypted binary nodes. A registration payload
gets `pair-device` with six refs; a login payload gets `success` (or `failure` when the device is
unknown, its Noise key differs, or a fault asks for one). IQs are answered as whatsmeow expects
(pair.go, pair-code.go, prekeys.go, keepalive.go, connectionevents.go, client.go: Logout, mediaconn.go); IQs
the double does not know get `<error code="501">`.

Server: the device registry, the phones (pairing.py), faults waiting for their client, relayed
messages (messaging.py), every connection.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import os
import time

from websockets.exceptions import ConnectionClosed

from wa_protos import companion_reg

from . import messaging
from .binary import JID, Node, marshal, unmarshal
from .cdn import MediaCdn
from .contacts import Contacts
from .noise import NoiseResponder, PROLOGUE
from .errors import ControlError
from .pairing import Phones
from .registry import Device, Registry
from .transcript import Transcript, normalise, signature
from .transport import FrameReader, frame

SERVER = JID("", "s.whatsapp.net")
REF_COUNT = 6
IMMEDIATE_FAULTS = {"stream_error_515", "stream_error_503", "device_removed", "replaced", "cut_socket", "prekeys_low"}
LOW_PREKEYS = 3
CONNECTION_FAULTS = {"stop_answering_pings", "cut_during_next_iq", "no_ack_for_next_message", "drop_messages"}
REPLY_TIMEOUT = 20.0


def is_failure_fault(kind: str) -> bool:
    return kind.startswith("failure_") and kind[len("failure_"):].isdigit()


def is_immediate_fault(kind: str) -> bool:
    """Faults applied to a logged-in connection at once: stream_error_N for any code, and the named ones."""
    return kind in IMMEDIATE_FAULTS or (kind.startswith("stream_error_") and kind[len("stream_error_"):].isdigit())


class Connection:
    def __init__(self, server: "Server", number: int, websocket) -> None:
        self.server, self.number, self.websocket = server, number, websocket
        self.reader = FrameReader(websocket)
        self.noise = NoiseResponder(server.seed)
        self.transcript = Transcript()
        self.state = "handshake"
        self.device: Device | None = None
        self.payload_kind = ""
        self.registration: dict = {}
        self.refs: list[str] = []
        self.presence = ""
        self.push_name = ""
        self.active: bool | None = None
        self.stop_pings = False
        self.cut_next_iq = False
        self.drop_next_ack = False
        self.drop_messages = False
        self.closed = False
        self.closed_by = ""
        self.waiting: dict[str, asyncio.Future] = {}
        self.code_request: dict | None = None
        self.companion_finish: asyncio.Future | None = None
        self.opened_at = time.time()
        self.send_lock = asyncio.Lock()  # one writer: frames leave in the order their Noise nonces were used

    # -- sending -------------------------------------------------------------------------------
    async def send(self, node: Node) -> None:
        if self.closed:
            raise ConnectionError("connection closed")
        async with self.send_lock:
            self.transcript.record("out", node)
            try:
                await self.websocket.send(frame(self.noise.encrypt(marshal(node))))
            except ConnectionClosed as error:
                raise ConnectionError("client connection closed") from error

    async def request(self, node: Node, timeout: float = REPLY_TIMEOUT) -> Node:
        """Sends a server IQ and waits for the client's result/error with the same id."""
        future = asyncio.get_running_loop().create_future()
        self.waiting[node.attrs["id"]] = future
        await self.send(node)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.waiting.pop(node.attrs["id"], None)

    async def close(self, by: str, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self.closed:
            return
        self.closed, self.closed_by = True, by
        self.transcript.record("out", pseudo={"tag": "#closed", "attrs": {"by": by}})
        try:
            if by == "cut":
                self.websocket.transport.abort()
            else:
                await asyncio.wait_for(self.websocket.close(), 2)
        except Exception:  # noqa: BLE001 - closing an already broken socket
            self.websocket.transport.abort()

    async def stream_error(self, code: str | None, conflict: str | None = None) -> None:
        if self.state == "logged-in":
            self.state = "closing"  # the stream is over for this connection, whatever the socket still does
        children = [Node("conflict", {"type": conflict})] if conflict else None
        await self.send(Node("stream:error", {"code": code} if code else {}, children))
        self.server.spawn(self.close("server", delay=0.5))

    def summary(self) -> dict:
        return {
            "conn": self.number, "state": "closed" if self.closed else self.state, "payload": self.payload_kind,
            "jid": self.device.jid if self.device else None, "lid": self.device.lid if self.device else None,
            "pushName": self.push_name, "presence": self.presence, "active": self.active,
            "refs": self.refs, "closedBy": self.closed_by, "stanzas": len(self.transcript.entries),
            "codeRequested": bool(self.code_request), "openedAt": round(self.opened_at, 3),
        }

    # -- the connection's life --------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self.handshake()
            while True:
                plaintext = self.noise.decrypt(await self.reader.read_frame())
                node = unmarshal(plaintext)
                self.transcript.record("in", node)
                await self.dispatch(node)
        except Exception as error:  # noqa: BLE001 - the client went away or broke the protocol
            if not self.closed:
                by_client = "ConnectionClosed" in type(error).__name__ or isinstance(error, ConnectionError)
                self.closed, self.closed_by = True, "client" if by_client else "error"
                attrs = {"by": self.closed_by} if by_client else {"by": "error", "detail": repr(error)}
                self.transcript.record("in", pseudo={"tag": "#closed", "attrs": attrs})
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("client connection closed"))
            if self.companion_finish and not self.companion_finish.done():
                self.companion_finish.set_exception(ConnectionError("client connection closed"))

    async def handshake(self) -> None:
        header = await self.reader.read_exact(4)
        if header != PROLOGUE:
            raise ConnectionError(f"unexpected header {header.hex()}")
        hello = self.noise.answer_hello(await self.reader.read_frame())
        await self.websocket.send(frame(hello))
        payload = self.noise.read_finish(await self.reader.read_frame())
        agent = payload.userAgent
        record = {
            "kind": "login" if payload.HasField("username") else "registration",
            "passive": str(payload.passive).lower(), "pull": str(payload.pull).lower(),
            "platform": str(agent.platform), "appVersion": f"{agent.appVersion.primary}.{agent.appVersion.secondary}.{agent.appVersion.tertiary}",
            "connectType": str(payload.connectType), "connectReason": str(payload.connectReason),
        }
        if payload.HasField("username"):
            record.update(username=str(payload.username), device=str(payload.device))
        if payload.HasField("pushName"):
            record["pushName"] = payload.pushName
        self.transcript.record("in", pseudo={"tag": "#client-payload", "attrs": record})
        if payload.HasField("username"):
            await self.login(str(payload.username), payload.device)
        else:
            await self.begin_registration(payload)

    async def begin_registration(self, payload) -> None:
        self.payload_kind = "registration"
        data = payload.devicePairingData
        self.registration = {
            "registrationId": int.from_bytes(data.eRegid, "big"), "identity": bytes(data.eIdent),
            "signedPreKey": {"id": int.from_bytes(data.eSkeyID, "big"), "value": data.eSkeyVal.hex(), "signature": data.eSkeySig.hex()},
            "deviceProps": companion_reg.DeviceProps.FromString(data.deviceProps) if data.deviceProps else None,
        }
        self.state = "unpaired"
        self.refs = [f"2@{base64.b64encode(os.urandom(48)).decode()}" for _ in range(REF_COUNT)]
        await self.send(Node("iq", {"from": SERVER, "type": "set", "id": self.server.new_id(), "xmlns": "md"},
                             [Node("pair-device", {}, [Node("ref", {}, ref.encode()) for ref in self.refs])]))

    async def login(self, user: str, number: int) -> None:
        self.payload_kind = "login"
        device = self.server.registry.find(user, number)
        fault = self.server.take_fault(device.jid if device else f"{user}:{number}@s.whatsapp.net", is_failure_fault)
        if fault is not None:
            await self.fail(fault["kind"][len("failure_"):])
            return
        if device is None or bytes.fromhex(device.noise_key) != self.noise.client_static:
            await self.fail("401")
            return
        self.device = device
        for other in self.server.live_connections(device.jid):
            if other is not self and other.state == "logged-in":
                await other.stream_error(None, "replaced")
        self.state = "logged-in"
        for fault in self.server.take_faults(device.jid, lambda kind: kind in CONNECTION_FAULTS):
            self.apply_connection_fault(fault["kind"])
        await self.send(Node("success", {
            "t": str(int(time.time())), "props": "1", "abprops": "1", "location": "frc",
            "creation": str(device.paired_at), "lid": JID(device.lid_user, "lid", device.device),
        }))
        delivered = await messaging.deliver_offline(self)
        await self.send(Node("ib", {}, [Node("offline", {"count": str(delivered)})]))
        for fault in self.server.take_faults(device.jid, is_immediate_fault):
            self.server.spawn(self.server.apply_now(self, fault["kind"]))

    async def fail(self, reason: str) -> None:
        self.state = "failed"
        await self.send(Node("failure", {"reason": reason, "location": "frc"}))
        self.server.spawn(self.close("server", delay=0.5))

    def apply_connection_fault(self, kind: str) -> None:
        if kind == "stop_answering_pings":
            self.stop_pings = True
        elif kind == "cut_during_next_iq":
            self.cut_next_iq = True
        elif kind == "no_ack_for_next_message":
            self.drop_next_ack = True
        elif kind == "drop_messages":
            self.drop_messages = True

    # -- incoming stanzas ---------------------------------------------------------------------------
    async def dispatch(self, node: Node) -> None:
        if node.tag == "iq":
            kind = node.attr("type")
            if kind in ("result", "error"):
                future = self.waiting.get(node.attr("id"))
                if future is not None and not future.done():
                    future.set_result(node)
                return
            if self.cut_next_iq:
                self.cut_next_iq = False
                await self.close("cut")
                return
            await self.answer_iq(node)
        elif node.tag == "message" and self.state == "logged-in":
            await messaging.relay_message(self, node)
        elif node.tag == "receipt" and self.state == "logged-in":
            await messaging.relay_receipt(self, node)
        elif node.tag == "ack" and self.device is not None:
            if node.attr("class") == "message":
                messaging.settle(self.server, self.device.jid, [node.attr("id")])
            self.server.contacts.record_ack(self.device, node)  # a companion's ack of a simulated device's message
        elif node.tag == "presence":
            self.presence = node.attr("type")
            if node.attr("name"):
                self.push_name = node.attr("name")
                if self.device is not None:
                    self.device.push_name = self.push_name
                    self.server.registry.save()

    def result(self, request: Node, children=None) -> Node:
        return Node("iq", {"from": SERVER, "type": "result", "id": request.attr("id")}, children)

    def error(self, request: Node, code: int, text: str) -> Node:
        return Node("iq", {"from": SERVER, "type": "error", "id": request.attr("id")}, [Node("error", {"code": str(code), "text": text})])

    async def answer_iq(self, node: Node) -> None:
        xmlns, kind = node.attr("xmlns"), node.attr("type")
        children = node.children()
        first = children[0].tag if children else ""
        if xmlns == "w:p":
            if not self.stop_pings:
                await self.send(self.result(node))
        elif xmlns == "passive" and first in ("active", "passive"):
            self.active = first == "active"
            await self.send(self.result(node))
        elif xmlns == "encrypt" and kind == "get" and first == "count":
            count = len(self.device.prekeys) if self.device else 0
            await self.send(self.result(node, [Node("count", {"value": str(count)})]))
        elif xmlns == "encrypt" and kind == "set" and node.child("list") is not None:
            await self.upload_prekeys(node)
        elif xmlns == "encrypt" and kind == "get" and first == "key":
            await self.send(self.result(node, [Node("list", {}, [messaging.prekey_bundle(self.server, u) for u in node.child("key").children()])]))
        elif xmlns == "privacy" and kind == "set" and first == "tokens":
            # Privacy tokens a client issues to its contacts (whatsmeow tctoken.go): recorded, accepted.
            for token in children[0].children():
                self.server.privacy_tokens.append({"from": self.device.jid if self.device else None,
                                                   "to": token.attr("jid"), "type": token.attr("type")})
            await self.send(self.result(node))
        elif xmlns == "w:g2" and kind == "get" and first == "query":
            group = self.server.contacts.group_info(JID.parse(node.attr("to")) or SERVER)
            if group is None:
                await self.send(self.error(node, 404, "item-not-found"))
            else:
                await self.send(Node("iq", {"from": node.attrs.get("to"), "type": "result", "id": node.attr("id")}, [group]))
        elif xmlns == "w:m" and kind == "set" and first == "media_conn":
            await self.send(self.result(node, [self.server.cdn.media_conn()]))
        elif xmlns == "usync" and first == "usync":
            await self.send(messaging.usync_result(self.server, node))
        elif xmlns == "md" and first == "remove-companion-device":
            await self.logout(node)
        elif xmlns == "md" and first == "link_code_companion_reg":
            await self.link_code_stage(node, children[0])
        else:
            await self.send(self.error(node, 501, "feature-not-implemented"))

    async def upload_prekeys(self, node: Node) -> None:
        if self.device is None:
            await self.send(self.error(node, 401, "not-authorized"))
            return
        device = self.device
        device.registration_id = int.from_bytes(node.child("registration").data(), "big") if node.child("registration") else 0
        for key in node.child("list").children():
            key_id = str(int.from_bytes(key.child("id").data(), "big"))
            device.prekeys[key_id] = key.child("value").data().hex()
            device.prekeys_uploaded.append(int(key_id))
        skey = node.child("skey")
        if skey is not None:
            device.signed_prekey = {"id": int.from_bytes(skey.child("id").data(), "big"), "value": skey.child("value").data().hex(),
                                    "signature": skey.child("signature").data().hex()}
        if node.child("identity") is not None:
            device.identity_key = node.child("identity").data().hex()
        self.server.registry.save()
        await self.send(self.result(node))

    async def logout(self, node: Node) -> None:
        target = node.child("remove-companion-device")
        jid, reason = target.attr("jid"), target.attr("reason")
        self.server.registry.logouts.append({"jid": jid, "reason": reason, "conn": self.number, "t": int(time.time())})
        if self.device is not None and jid in (self.device.jid, self.device.lid):
            self.server.registry.remove(jid, "logout")
            self.state = "logged-out"
        else:
            self.server.registry.save()
        await self.send(self.result(node))

    async def link_code_stage(self, node: Node, registration: Node) -> None:
        stage = registration.attr("stage")
        if stage == "companion_hello" and self.state == "unpaired":
            phone = registration.attr("jid").split("@")[0]
            ref = f"2@{base64.b64encode(os.urandom(24)).decode()}"
            self.code_request = {
                "phone": phone, "ref": ref, "at": time.time(),
                "wrapped": registration.child("link_code_pairing_wrapped_companion_ephemeral_pub").data(),
                "noise": registration.child("companion_server_auth_key_pub").data(),
                "platform": registration.child("companion_platform_display").data().decode(errors="replace")
                if registration.child("companion_platform_display") else "",
            }
            await self.send(self.result(node, [Node("link_code_companion_reg", {}, [Node("link_code_pairing_ref", {}, ref.encode())])]))
        elif stage == "companion_finish" and self.companion_finish is not None and not self.companion_finish.done():
            self.companion_finish.set_result(node)
        else:
            await self.send(self.error(node, 400, "bad-request"))


class Server:
    def __init__(self, seed: str, registry: Registry) -> None:
        self.seed, self.registry = seed, registry
        self.connections: dict[int, Connection] = {}
        self.numbers = itertools.count(1)
        self.ids = itertools.count(1)
        self.faults: list[dict] = []
        self.tunnels: list[dict] = []
        self.proxy_settings: dict = {"socksRequireAuth": False}  # POST /proxy
        self.offline: dict[str, list[Node]] = {}  # device JID -> stanzas waiting for its next login
        self.unacked: dict[str, list[Node]] = {}  # device JID -> messages delivered but not yet answered (receipt/ack)
        self.messages: list[dict] = []  # relayed messages: id, from, to, deliveries, receipts
        self.dropped: list[str] = []  # ids of messages the drop_messages fault swallowed
        self.privacy_tokens: list[dict] = []
        self.phones = Phones(self)
        self.contacts = Contacts(self)
        self.cdn = MediaCdn(seed)
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine) -> None:
        """Runs a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def new_id(self) -> str:
        return f"{next(self.ids)}"

    async def handle_websocket(self, websocket) -> None:
        connection = Connection(self, next(self.numbers), websocket)
        self.connections[connection.number] = connection
        await connection.run()

    def live_connections(self, jid: str | None = None) -> list[Connection]:
        device = self.registry.by_jid(jid) if jid else None
        names = {jid} | ({device.jid, device.lid} if device else set())
        return [c for c in self.connections.values() if not c.closed and (
            jid is None or (c.device is not None and (c.device.jid in names or c.device.lid in names)))]

    # -- faults --------------------------------------------------------------------------------------
    def _matches(self, fault: dict, jid: str) -> bool:
        if fault.get("jid") is None:
            return True
        device = self.registry.by_jid(fault["jid"])
        return fault["jid"] == jid or (device is not None and device.jid == jid)

    def take_fault(self, jid: str, kinds) -> dict | None:
        found = self.take_faults(jid, kinds, limit=1)
        return found[0] if found else None

    def take_faults(self, jid: str, kinds, limit: int | None = None) -> list[dict]:
        taken = [f for f in self.faults if kinds(f["kind"]) and self._matches(f, jid)][:limit]
        for fault in taken:
            self.faults.remove(fault)
        return taken

    async def inject(self, jid: str | None, kind: str) -> dict:
        if kind not in CONNECTION_FAULTS and not is_immediate_fault(kind) and not is_failure_fault(kind):
            raise ControlError(400, f"unknown fault kind {kind!r}")
        targets = [c for c in self.live_connections(jid) if c.state == "logged-in"]
        if is_failure_fault(kind) or not targets:
            self.faults.append({"jid": jid, "kind": kind})
            return {"queued": True, "applied": []}
        for connection in targets:
            if kind in CONNECTION_FAULTS:
                connection.apply_connection_fault(kind)
            else:
                await self.apply_now(connection, kind)
        return {"queued": False, "applied": [c.number for c in targets]}

    async def apply_now(self, connection: Connection, kind: str) -> None:
        if kind.startswith("stream_error_"):
            await connection.stream_error(kind[len("stream_error_"):])
        elif kind == "replaced":
            await connection.stream_error(None, "replaced")
        elif kind == "device_removed":
            if connection.device is not None:
                self.registry.remove(connection.device.jid, "device_removed")
            await connection.stream_error("401", "device_removed")
        elif kind == "cut_socket":
            await connection.close("cut")
        elif kind == "prekeys_low" and connection.device is not None:
            # As if contacts had used up the one-time prekeys: keep the newest few and tell the device
            # (whatsmeow notification.go: handleEncryptNotification uploads a new batch below 5).
            device = connection.device
            keep = sorted(device.prekeys, key=int)[-LOW_PREKEYS:]
            device.prekeys = {key: device.prekeys[key] for key in keep}
            self.registry.save()
            await connection.send(Node("notification", {"from": SERVER, "type": "encrypt", "id": self.new_id(),
                                                        "t": str(int(time.time()))}, [Node("count", {"value": str(len(keep))})]))

    # -- views -----------------------------------------------------------------------------------------
    def transcript(self, conn: int | None, jid: str | None) -> dict:
        if conn is not None:
            connection = self.connections.get(conn)
            if connection is None:
                raise ControlError(404, "no such connection")
            chosen = [connection]
        else:
            device = self.registry.by_jid(jid) if jid else None
            names = {jid} | ({device.jid, device.lid} if device else set())
            chosen = [c for c in self.connections.values() if c.device is not None and (c.device.jid in names or c.device.lid in names)]
        return {"connections": [{"conn": c.number, "jid": c.device.jid if c.device else None, "entries": c.transcript.entries,
                                 "normalised": normalise(c.transcript.entries),
                                 "signatures": [signature(e) for e in normalise(c.transcript.entries)]} for c in chosen]}
