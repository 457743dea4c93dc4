"""A minimal companion written in Python, for checking how the double treats clients that get
things wrong (which real whatsmeow never does): the Noise initiator with WhatsApp's one deviation,
registration and login payloads, and the companion side of pair-success with optional mistakes.
Test tooling only; the proof of faithfulness is neonize (test_double_with_neonize.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl

import axolotl_curve25519 as curve
from noise.connection import Keypair, NoiseConnection
from websockets.sync.client import connect

from wa_protos import adv, wa6

from .binary import JID, Node, marshal, unmarshal
from .noise import PROLOGUE
from .phone import QR_PREFIX
from .transport import ORIGIN, frame


def key_pair() -> tuple[bytes, bytes]:
    private = curve.generatePrivateKey(os.urandom(32))
    return private, curve.generatePublicKey(private)


class Companion:
    """Keys of one companion device, as whatsmeow's store/sqlstore NewDevice makes them."""

    def __init__(self) -> None:
        self.noise_private, self.noise_public = key_pair()
        self.identity_private, self.identity_public = key_pair()
        self.signed_private, self.signed_public = key_pair()
        self.signed_signature = curve.calculateSignature(os.urandom(64), self.identity_private, b"\x05" + self.signed_public)
        self.adv_secret = os.urandom(32)
        self.registration_id = int.from_bytes(os.urandom(4), "big")
        self.jid: JID | None = None

    def payload(self, login: tuple[int, int] | None = None) -> bytes:
        payload = wa6.ClientPayload(
            userAgent=wa6.ClientPayload.UserAgent(platform=wa6.ClientPayload.UserAgent.WEB,
                                                  appVersion=wa6.ClientPayload.UserAgent.AppVersion(primary=2, secondary=3000, tertiary=1)),
            connectType=wa6.ClientPayload.WIFI_UNKNOWN, connectReason=wa6.ClientPayload.USER_ACTIVATED,
        )
        if login is None:
            payload.devicePairingData.CopyFrom(wa6.ClientPayload.DevicePairingRegistrationData(
                eRegid=self.registration_id.to_bytes(4, "big"), eKeytype=b"\x05", eIdent=self.identity_public,
                eSkeyID=(1).to_bytes(3, "big"), eSkeyVal=self.signed_public, eSkeySig=self.signed_signature,
                buildHash=hashlib.md5(b"2.3000.1").digest()))
            payload.passive, payload.pull = False, False
        else:
            payload.username, payload.device = login
            payload.passive, payload.pull = True, True
        return payload.SerializeToString()

    def qr(self, ref: str, noise_public: bytes | None = None) -> str:
        keys = [noise_public or self.noise_public, self.identity_public, self.adv_secret]
        return QR_PREFIX + ",".join([ref] + [base64.b64encode(k).decode() for k in keys] + ["9"])

    def sign_pair_success(self, identity_bytes: bytes, mistake: str = "") -> tuple[bytes, int]:
        """Checks pair-success as pair.go does and returns (pair-device-sign content, key index)."""
        container = adv.ADVSignedDeviceIdentityHMAC.FromString(identity_bytes)
        expected = hmac.new(self.adv_secret, container.details, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, container.HMAC):
            raise ValueError("hmac-mismatch")
        signed = adv.ADVSignedDeviceIdentity.FromString(container.details)
        if curve.verifySignature(signed.accountSignatureKey, b"\x06\x00" + signed.details + self.identity_public,
                                 signed.accountSignature) != 0:
            raise ValueError("signature-mismatch")
        message = b"\x06\x01" + signed.details + self.identity_public + signed.accountSignatureKey
        signed.deviceSignature = curve.calculateSignature(os.urandom(64), self.identity_private, message)
        if mistake == "device-signature":
            signed.deviceSignature = bytes([signed.deviceSignature[0] ^ 1]) + signed.deviceSignature[1:]
        if mistake != "keep-account-key":
            signed.ClearField("accountSignatureKey")
        return signed.SerializeToString(), adv.ADVDeviceIdentity.FromString(signed.details).keyIndex


class Connection:
    """One WebSocket + Noise session to the double (directly, not through a proxy)."""

    def __init__(self, info: dict, companion: Companion, login: tuple[int, int] | None = None,
                 origin: str = ORIGIN, path: str = "/ws/chat") -> None:
        context = ssl.create_default_context(cafile=info["caFile"])
        self.socket = connect(f"wss://127.0.0.1:{info['wsPort']}{path}", ssl=context, server_hostname="web.whatsapp.com",
                              additional_headers={"Origin": origin}, max_size=None, open_timeout=60)
        self.buffer = b""
        noise = NoiseConnection.from_name(b"Noise_XX_25519_AESGCM_SHA256")
        noise.set_as_initiator()
        noise.set_prologue(PROLOGUE)
        noise.set_keypair_from_private_bytes(Keypair.STATIC, companion.noise_private)
        noise.start_handshake()
        symmetric = noise.noise_protocol.handshake_state.symmetric_state
        original = symmetric.encrypt_and_hash
        symmetric.encrypt_and_hash = lambda data: b""  # WhatsApp does not hash message 1's empty payload
        ephemeral = bytes(noise.write_message())
        symmetric.encrypt_and_hash = original
        self.socket.send(PROLOGUE + frame(wa6.HandshakeMessage(clientHello=wa6.HandshakeMessage.ClientHello(ephemeral=ephemeral))
                                          .SerializeToString()))
        hello = wa6.HandshakeMessage.FromString(self.read_frame()).serverHello
        noise.read_message(hello.ephemeral + hello.static + hello.payload)
        finish = bytes(noise.write_message(companion.payload(login)))
        self.socket.send(frame(wa6.HandshakeMessage(clientFinish=wa6.HandshakeMessage.ClientFinish(static=finish[:48], payload=finish[48:]))
                               .SerializeToString()))
        self.noise = noise

    def read_frame(self) -> bytes:
        while len(self.buffer) < 3 or len(self.buffer) < 3 + int.from_bytes(self.buffer[:3], "big"):
            self.buffer += self.socket.recv(timeout=10)
        length = int.from_bytes(self.buffer[:3], "big")
        data, self.buffer = self.buffer[3:3 + length], self.buffer[3 + length:]
        return data

    def receive(self) -> Node:
        return unmarshal(bytes(self.noise.decrypt(self.read_frame())))

    def send(self, node: Node) -> None:
        self.socket.send(frame(bytes(self.noise.encrypt(marshal(node)))))

    def close(self) -> None:
        self.socket.close()
