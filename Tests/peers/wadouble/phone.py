"""The primary phone: what it signs when it links a companion (pair.go and pair-code.go read in reverse).

- `PrimaryPhone.device_identity` builds pair-success's <device-identity>: an
  ADVSignedDeviceIdentityHMAC (HMAC-SHA256 under the companion's ADV secret) around an
  ADVSignedDeviceIdentity whose account signature (XEdDSA, python-axolotl-curve25519) covers
  {6,0} || details || companion identity key.
- `PrimaryPhone.check_device_signature` verifies the companion's pair-device-sign reply.
- `CodeLinking` is the phone side of pairing by 8-character code: it unwraps the companion's
  ephemeral key with PBKDF2-SHA256(code, salt, 2<<16 rounds) + AES-256-CTR, wraps its own the
  same way, and opens the companion's key bundle (HKDF-SHA256 + AES-256-GCM) to derive the ADV
  secret the companion will check pair-success against. Written with `cryptography` alone,
  independently of the Swift code.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

import axolotl_curve25519 as curve
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from wa_protos import adv

QR_PREFIX = "https://wa.me/settings/linked_devices#"
LINK_CODE_ROUNDS = 2 << 16


@dataclass
class ScannedQR:
    ref: str
    noise_key: bytes
    identity_key: bytes
    adv_secret: bytes
    client_type: str


def parse_qr(text: str) -> ScannedQR:
    body = text[len(QR_PREFIX):] if text.startswith(QR_PREFIX) else text
    parts = body.split(",")
    if len(parts) < 4:
        raise ValueError("QR string has fewer than 4 comma-separated parts")
    # The ref itself never contains a comma; the keys are standard base64 with padding.
    ref, noise, identity, secret = parts[0], *(base64.b64decode(p, validate=True) for p in parts[1:4])
    if len(noise) != 32 or len(identity) != 32 or len(secret) != 32:
        raise ValueError("QR keys are not 32 bytes each")
    return ScannedQR(ref, noise, identity, secret, parts[4] if len(parts) > 4 else "")


def _derive(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"{seed}/{label}".encode()).digest()


class PrimaryPhone:
    """One phone number's primary device: its account (identity) key pair, derived from the seed."""

    def __init__(self, seed: str, phone: str) -> None:
        self.phone = phone
        self.seed = f"{seed}/phone/{phone}"
        self.account_private = curve.generatePrivateKey(_derive(self.seed, "account"))
        self.account_public = curve.generatePublicKey(self.account_private)

    def device_identity(self, companion_identity: bytes, adv_secret: bytes, key_index: int, tamper: str = "") -> tuple[bytes, bytes]:
        """Returns (pair-success <device-identity> bytes, the ADVDeviceIdentity details signed).
        tamper "hmac" breaks the HMAC, "signature" the account signature (under a valid HMAC), so a
        companion's refusal (pair.go: 401 hmac-mismatch / signature-mismatch) can be tested."""
        details = adv.ADVDeviceIdentity(
            rawID=int.from_bytes(os.urandom(4), "big"), timestamp=int(time.time()), keyIndex=key_index,
            accountType=adv.E2EE, deviceType=adv.E2EE,
        ).SerializeToString()
        signature = curve.calculateSignature(os.urandom(64), self.account_private, b"\x06\x00" + details + companion_identity)
        if tamper == "signature":
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
        signed = adv.ADVSignedDeviceIdentity(
            details=details, accountSignatureKey=self.account_public, accountSignature=signature,
        ).SerializeToString()
        mac = hmac.new(adv_secret, signed, hashlib.sha256).digest()
        if tamper == "hmac":
            mac = bytes([mac[0] ^ 0x01]) + mac[1:]
        container = adv.ADVSignedDeviceIdentityHMAC(details=signed, HMAC=mac, accountType=adv.E2EE)
        return container.SerializeToString(), details

    def check_device_signature(self, reply: bytes, companion_identity: bytes, details: bytes) -> list[str]:
        """Problems with a pair-device-sign <device-identity> (empty list = valid)."""
        problems = []
        try:
            signed = adv.ADVSignedDeviceIdentity.FromString(reply)
        except Exception as error:  # noqa: BLE001 - any parse failure is a finding
            return [f"device-identity does not parse: {error}"]
        if signed.details != details:
            problems.append("details changed")
        if signed.HasField("accountSignatureKey") and signed.accountSignatureKey:
            problems.append("accountSignatureKey not removed")
        if len(signed.deviceSignature) != 64 or curve.verifySignature(
            companion_identity, b"\x06\x01" + details + companion_identity + self.account_public, signed.deviceSignature
        ) != 0:
            problems.append("device signature invalid")
        if curve.verifySignature(self.account_public, b"\x06\x00" + details + companion_identity, signed.accountSignature) != 0:
            problems.append("account signature changed")
        return problems


def _link_code_key(code: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=LINK_CODE_ROUNDS).derive(code.encode())


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    context = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return context.update(data) + context.finalize()


def _hkdf(secret: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def normalise_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


class CodeLinking:
    """The phone's half of one code-pairing attempt."""

    def __init__(self, phone: PrimaryPhone, code: str, wrapped_companion_ephemeral: bytes) -> None:
        if len(wrapped_companion_ephemeral) != 80:
            raise ValueError(f"wrapped companion ephemeral key is {len(wrapped_companion_ephemeral)} bytes, not 80")
        self.phone = phone
        self.code = normalise_code(code)
        salt, iv, encrypted = wrapped_companion_ephemeral[:32], wrapped_companion_ephemeral[32:48], wrapped_companion_ephemeral[48:]
        self.companion_ephemeral = _ctr(_link_code_key(self.code, salt), iv, encrypted)
        self.ephemeral = X25519PrivateKey.generate()

    def wrapped_primary_ephemeral(self) -> bytes:
        public = self.ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        salt, iv = os.urandom(32), os.urandom(16)
        return salt + iv + _ctr(_link_code_key(self.code, salt), iv, public)

    def open_key_bundle(self, wrapped_bundle: bytes, companion_identity: bytes) -> bytes:
        """Decrypts the companion_finish key bundle and returns the ADV secret both sides now share.
        Raises ValueError when the code typed differs from the companion's (the GCM tag fails)."""
        ephemeral_shared = self.ephemeral.exchange(X25519PublicKey.from_public_bytes(self.companion_ephemeral))
        salt, nonce, sealed = wrapped_bundle[:32], wrapped_bundle[32:44], wrapped_bundle[44:]
        key = _hkdf(ephemeral_shared, salt, b"link_code_pairing_key_bundle_encryption_key")
        try:
            bundle = AESGCM(key).decrypt(nonce, sealed, None)
        except Exception as error:  # noqa: BLE001 - InvalidTag: wrong code or corrupted bundle
            raise ValueError("key bundle does not decrypt: the code does not match") from error
        if len(bundle) != 96:
            raise ValueError(f"key bundle is {len(bundle)} bytes, not 96")
        if bundle[:32] != companion_identity:
            raise ValueError("key bundle's companion identity differs from companion_identity_public")
        if bundle[32:64] != self.phone.account_public:
            raise ValueError("key bundle's primary identity is not this phone's")
        identity_private = X25519PrivateKey.from_private_bytes(self.phone.account_private)
        identity_shared = identity_private.exchange(X25519PublicKey.from_public_bytes(companion_identity))
        return _hkdf(ephemeral_shared + identity_shared + bundle[64:], None, b"adv_secret")
