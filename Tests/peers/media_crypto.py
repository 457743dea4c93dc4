"""WhatsApp media encryption, written from the protocol description (whatsmeow download.go/upload.go,
Baileys messages-media.ts) with `cryptography` only: an independent vector source for the Swift code
and what the server double's phones use.

A 32-byte media key is expanded with HKDF-SHA256 (no salt, info "WhatsApp <Kind> Keys") to 112 bytes:
iv = [0:16], cipherKey = [16:48], macKey = [48:80], refKey = [80:112] (unused). The file is encrypted
with AES-256-CBC (PKCS#7 padding, the iv is not prepended); the uploaded blob is ciphertext followed by
the first 10 bytes of HMAC-SHA256(macKey, iv || ciphertext). fileSha256 = SHA-256(plaintext),
fileEncSha256 = SHA-256(blob), fileLength = len(plaintext).

CLI (stdin -> stdout, keys as hex):
  media_crypto.py encrypt --type image [--media-key HEX] [--json]
      stdout: the blob (ciphertext || mac); with --json one JSON object instead:
      {"type", "mediaKey", "fileSha256", "fileEncSha256", "fileLength", "token", "blob" (base64)}
      Without --json the same JSON minus "blob" goes to stderr.
  media_crypto.py decrypt --type image --media-key HEX [--file-sha256 HEX] [--file-enc-sha256 HEX]
      stdout: the plaintext; exit status 2 and {"error": "enc-sha256"|"hmac"|"padding"|"sha256"|"too-short"}
      on stderr when a check fails.
  media_crypto.py keys --type image --media-key HEX      {"iv", "cipherKey", "macKey", "refKey"} (hex)
  media_crypto.py fixture jpeg|pdf|ogg|mp4               a small test file made by code (media_fixtures.py)
Types: image, sticker, video, gif, audio, ptt, document, history, app-state, sticker-pack, thumbnail-link.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# HKDF info string per media kind (whatsmeow download.go MediaType constants; Baileys MEDIA_HKDF_KEY_MAPPING).
HKDF_INFO = {
    "image": b"WhatsApp Image Keys",
    "sticker": b"WhatsApp Image Keys",
    "video": b"WhatsApp Video Keys",
    "gif": b"WhatsApp Video Keys",
    "audio": b"WhatsApp Audio Keys",
    "ptt": b"WhatsApp Audio Keys",
    "document": b"WhatsApp Document Keys",
    "history": b"WhatsApp History Keys",
    "app-state": b"WhatsApp App State Keys",
    "sticker-pack": b"WhatsApp Sticker Pack Keys",
    "thumbnail-link": b"WhatsApp Link Thumbnail Keys",
}

# The `mms-type` path/query component whatsmeow uses for each kind (download.go mediaTypeToMMSType).
MMS_TYPE = {
    "image": "image", "sticker": "image", "video": "video", "gif": "video", "audio": "audio", "ptt": "audio",
    "document": "document", "history": "md-msg-hist", "app-state": "md-app-state", "sticker-pack": "sticker-pack",
    "thumbnail-link": "thumbnail-link",
}

EXPANDED_LENGTH = 112
MAC_LENGTH = 10  # download.go mediaHMACLength


class MediaError(Exception):
    """A check failed; `reason` is one of enc-sha256, hmac, padding, sha256, too-short."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaKeys:
    iv: bytes
    cipher_key: bytes
    mac_key: bytes
    ref_key: bytes


@dataclass(frozen=True)
class EncryptedMedia:
    media_key: bytes
    blob: bytes  # ciphertext || 10-byte mac: what is uploaded
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int

    @property
    def token(self) -> str:
        """The upload token: URL-safe base64 with padding of fileEncSha256 (upload.go rawUpload)."""
        return base64.urlsafe_b64encode(self.file_enc_sha256).decode()

    def summary(self, kind: str) -> dict:
        return {"type": kind, "mediaKey": self.media_key.hex(), "fileSha256": self.file_sha256.hex(),
                "fileEncSha256": self.file_enc_sha256.hex(), "fileLength": self.file_length, "token": self.token}


def info_for(kind: str) -> bytes:
    try:
        return HKDF_INFO[kind]
    except KeyError:
        raise ValueError(f"unknown media type {kind!r}; one of {', '.join(HKDF_INFO)}") from None


def expand(media_key: bytes, kind: str) -> MediaKeys:
    if len(media_key) != 32:
        raise ValueError("a media key is 32 bytes")
    expanded = HKDF(algorithm=hashes.SHA256(), length=EXPANDED_LENGTH, salt=None, info=info_for(kind)).derive(media_key)
    return MediaKeys(expanded[:16], expanded[16:48], expanded[48:80], expanded[80:112])


def _mac(keys: MediaKeys, ciphertext: bytes) -> bytes:
    return hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:MAC_LENGTH]


def encrypt(plaintext: bytes, kind: str, media_key: bytes | None = None) -> EncryptedMedia:
    media_key = media_key if media_key is not None else os.urandom(32)
    keys = expand(media_key, kind)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    blob = ciphertext + _mac(keys, ciphertext)
    return EncryptedMedia(media_key, blob, hashlib.sha256(plaintext).digest(), hashlib.sha256(blob).digest(), len(plaintext))


def decrypt(blob: bytes, kind: str, media_key: bytes, file_sha256: bytes | None = None,
            file_enc_sha256: bytes | None = None) -> bytes:
    """Verifies in whatsmeow's order (enc hash of the whole download, HMAC, padding, plain hash) and decrypts."""
    if len(blob) <= MAC_LENGTH:
        raise MediaError("too-short", f"{len(blob)} bytes")
    if file_enc_sha256 is not None and hashlib.sha256(blob).digest() != file_enc_sha256:
        raise MediaError("enc-sha256")
    keys = expand(media_key, kind)
    ciphertext, mac = blob[:-MAC_LENGTH], blob[-MAC_LENGTH:]
    if not hmac.compare_digest(_mac(keys, ciphertext), mac):
        raise MediaError("hmac")
    if len(ciphertext) % 16:
        raise MediaError("padding", "ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(128).unpadder()
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except ValueError as error:
        raise MediaError("padding", str(error)) from error
    if file_sha256 is not None and hashlib.sha256(plaintext).digest() != file_sha256:
        raise MediaError("sha256")
    return plaintext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WhatsApp media encryption (independent vectors)")
    commands = parser.add_subparsers(dest="command", required=True)
    enc = commands.add_parser("encrypt")
    enc.add_argument("--type", required=True, choices=sorted(HKDF_INFO))
    enc.add_argument("--media-key", default=None, help="64 hex digits (default: random)")
    enc.add_argument("--json", action="store_true", help="one JSON object with the blob in base64 on stdout")
    dec = commands.add_parser("decrypt")
    dec.add_argument("--type", required=True, choices=sorted(HKDF_INFO))
    dec.add_argument("--media-key", required=True)
    dec.add_argument("--file-sha256", default=None)
    dec.add_argument("--file-enc-sha256", default=None)
    keys = commands.add_parser("keys")
    keys.add_argument("--type", required=True, choices=sorted(HKDF_INFO))
    keys.add_argument("--media-key", required=True)
    fixture = commands.add_parser("fixture")
    fixture.add_argument("kind", choices=["jpeg", "pdf", "ogg", "mp4"])
    arguments = parser.parse_args(argv)

    if arguments.command == "encrypt":
        media_key = bytes.fromhex(arguments.media_key) if arguments.media_key else None
        result = encrypt(sys.stdin.buffer.read(), arguments.type, media_key)
        summary = result.summary(arguments.type)
        if arguments.json:
            print(json.dumps({**summary, "blob": base64.b64encode(result.blob).decode()}))
        else:
            sys.stdout.buffer.write(result.blob)
            print(json.dumps(summary), file=sys.stderr)
        return 0
    if arguments.command == "decrypt":
        try:
            plaintext = decrypt(sys.stdin.buffer.read(), arguments.type, bytes.fromhex(arguments.media_key),
                                bytes.fromhex(arguments.file_sha256) if arguments.file_sha256 else None,
                                bytes.fromhex(arguments.file_enc_sha256) if arguments.file_enc_sha256 else None)
        except MediaError as error:
            print(json.dumps({"error": error.reason, "detail": str(error)}), file=sys.stderr)
            return 2
        sys.stdout.buffer.write(plaintext)
        return 0
    if arguments.command == "keys":
        expanded = expand(bytes.fromhex(arguments.media_key), arguments.type)
        print(json.dumps({"iv": expanded.iv.hex(), "cipherKey": expanded.cipher_key.hex(), "macKey": expanded.mac_key.hex(),
                          "refKey": expanded.ref_key.hex()}))
        return 0
    from media_fixtures import FIXTURES
    sys.stdout.buffer.write(FIXTURES[arguments.kind]())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
