"""The primary phone acting on the double: scanning a QR, typing a pairing code, unlinking a
device (pair.go and pair-code.go read from the phone's and the server's side).
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from wa_protos import companion_reg

from .binary import JID, Node
from .errors import ControlError
from .phone import CodeLinking, PrimaryPhone, parse_qr

if TYPE_CHECKING:
    from .session import Connection, Server

SERVER = JID("", "s.whatsapp.net")
REPLY_TIMEOUT = 20.0


class Phones:
    def __init__(self, server: "Server") -> None:
        self.server = server

    def phone(self, number: str) -> PrimaryPhone:
        if not number.isdigit() or len(number) < 7:
            raise ControlError(400, "phone must be the international number, digits only")
        return PrimaryPhone(self.server.seed, number)

    async def scan(self, qr: str, phone_number: str, tamper: str = "") -> dict:
        try:
            scanned = parse_qr(qr)
        except ValueError as error:
            raise ControlError(400, f"bad QR string: {error}") from error
        phone = self.phone(phone_number)
        connection = next((c for c in self.server.connections.values()
                           if not c.closed and c.state == "unpaired" and scanned.ref in c.refs), None)
        if connection is None:
            raise ControlError(404, "no open unpaired connection was given this ref")
        if scanned.noise_key != connection.noise.client_static:
            raise ControlError(409, "the QR's Noise key is not the key the connection's handshake used")
        if scanned.identity_key != connection.registration["identity"]:
            raise ControlError(409, "the QR's identity key is not the registration payload's")
        return await self.pair(connection, phone, scanned.identity_key, scanned.adv_secret, "qr", tamper)

    async def enter_code(self, code: str, phone_number: str, tamper: str = "") -> dict:
        phone = self.phone(phone_number)
        candidates = [c for c in self.server.connections.values()
                      if not c.closed and c.state == "unpaired" and c.code_request and c.code_request["phone"] == phone_number]
        if not candidates:
            raise ControlError(404, "no open connection asked for a pairing code for this phone number")
        connection = max(candidates, key=lambda c: c.code_request["at"])
        request = connection.code_request
        linking = CodeLinking(phone, code, request["wrapped"])
        connection.state = "pairing"
        connection.companion_finish = asyncio.get_running_loop().create_future()
        await connection.send(Node("notification", {"from": SERVER, "type": "link_code_companion_reg", "id": self.server.new_id(),
                                                    "t": str(int(time.time()))}, [
            Node("link_code_companion_reg", {"stage": "primary_hello"}, [
                Node("link_code_pairing_ref", {}, request["ref"].encode()),
                Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, linking.wrapped_primary_ephemeral()),
                Node("primary_identity_pub", {}, phone.account_public),
            ])]))
        try:
            finish = await asyncio.wait_for(connection.companion_finish, REPLY_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError) as error:
            connection.state = "unpaired"
            raise ControlError(504, "the companion did not send companion_finish") from error
        stage = finish.child("link_code_companion_reg")
        identity = stage.child("companion_identity_public").data() if stage.child("companion_identity_public") else b""
        try:
            if stage.child("link_code_pairing_ref") is None or stage.child("link_code_pairing_ref").data().decode() != request["ref"]:
                raise ValueError("companion_finish carries another pairing ref")
            if identity != connection.registration["identity"]:
                raise ValueError("companion_identity_public is not the registration payload's identity key")
            adv_secret = linking.open_key_bundle(stage.child("link_code_pairing_wrapped_key_bundle").data(), identity)
        except ValueError as error:
            connection.state = "unpaired"
            await connection.send(connection.error(finish, 400, "bad-request"))
            raise ControlError(400, str(error)) from error
        await connection.send(connection.result(finish))
        return await self.pair(connection, phone, identity, adv_secret, "code", tamper)

    async def pair(self, connection: "Connection", phone: PrimaryPhone, identity: bytes, adv_secret: bytes, method: str,
                   tamper: str = "") -> dict:
        """Sends pair-success and checks the reply. With `tamper` ("hmac" or "signature") the phone sends
        a broken device identity and the answer reports the companion's refusal instead."""
        if tamper not in ("", "hmac", "signature"):
            raise ControlError(400, "tamper must be hmac or signature")
        connection.state = "pairing"
        device = self.server.registry.allocate(phone.phone, connection.noise.client_static, identity, method)
        registration = connection.registration
        device.registration_id = registration["registrationId"]
        device.signed_prekey = registration["signedPreKey"]
        device.platform = "android"
        key_index = len([d for d in self.server.registry.devices.values() if d.phone == phone.phone]) + 1
        identity_bytes, details = phone.device_identity(identity, adv_secret, key_index, tamper)
        props = companion_reg.ClientPairingProps(isChatDbLidMigrated=True, isSyncdPureLidSession=True).SerializeToString()
        try:
            reply = await connection.request(Node("iq", {"from": SERVER, "type": "set", "id": self.server.new_id(), "xmlns": "md",
                                                         "t": str(int(time.time()))}, [
                Node("pair-success", {}, [
                    Node("device-identity", {}, identity_bytes),
                    Node("platform", {"name": device.platform}),
                    Node("device", {"jid": JID(device.phone, "s.whatsapp.net", device.device), "lid": JID(device.lid_user, "lid", device.device)}),
                    Node("client-props", {}, props),
                ])]))
        except (asyncio.TimeoutError, ConnectionError) as error:
            connection.state = "unpaired"
            raise ControlError(504, "the companion did not answer pair-success") from error
        if tamper:
            connection.state = "unpaired"
            failure = reply.child("error")
            if reply.attr("type") != "error" or failure is None:
                raise ControlError(422, f"the companion accepted a pair-success with a broken {tamper}")
            return {"refused": True, "code": failure.attr("code"), "text": failure.attr("text")}
        if reply.attr("type") == "error":
            connection.state = "unpaired"
            failure = reply.child("error")
            raise ControlError(422, f"the companion refused pair-success: {failure.attr('code')} {failure.attr('text')}" if failure else "error")
        sign = reply.child("pair-device-sign", "device-identity")
        if sign is None:
            raise ControlError(422, "pair-device-sign reply without device-identity")
        problems = phone.check_device_signature(sign.data(), identity, details)
        if sign.attr("key-index") != str(key_index):
            problems.append(f"key-index {sign.attr('key-index')!r}, expected {key_index}")
        if problems:
            connection.state = "unpaired"
            raise ControlError(422, "pair-device-sign: " + "; ".join(problems))
        self.server.registry.add(device)
        connection.device = device
        connection.state = "paired"
        await connection.stream_error("515")
        return {"jid": device.jid, "lid": device.lid}

    async def remove_device(self, jid: str) -> dict:
        device = self.server.registry.by_jid(jid)
        if device is None:
            raise ControlError(404, "no such paired device")
        live = [c for c in self.server.live_connections(device.jid) if c.state == "logged-in"]
        self.server.registry.remove(device.jid, "removed_by_phone")
        for connection in live:
            await connection.stream_error("401", "device_removed")
        return {"removed": device.jid, "notified": [c.number for c in live]}

