#!/usr/bin/env python3
"""WhatsApp media encryption written independently of the Swift code, with `cryptography`.

The same scheme as whatsmeow's upload.go/download.go: HKDF-SHA256 (no salt, a per-type info
string) expands the 32-byte media key to 112 bytes = iv | cipher key | MAC key | ref key; the
file is AES-256-CBC encrypted with PKCS#7 padding and followed by the first 10 bytes of
HMAC-SHA256(MAC key, iv | ciphertext).

    media_peer.py encrypt KIND MEDIAKEY_HEX IN OUT   -> prints {"file_sha256", "file_enc_sha256", "file_length"}
    media_peer.py decrypt KIND MEDIAKEY_HEX IN OUT   -> exits 3 with "mac mismatch" when the MAC fails
"""
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = {
    "image": b"WhatsApp Image Keys",
    "sticker": b"WhatsApp Image Keys",
    "video": b"WhatsApp Video Keys",
    "audio": b"WhatsApp Audio Keys",
    "document": b"WhatsApp Document Keys",
    "history": b"WhatsApp History Keys",
    "appState": b"WhatsApp App State Keys",
    "stickerPack": b"WhatsApp Sticker Pack Keys",
    "linkThumbnail": b"WhatsApp Link Thumbnail Keys",
}


def keys(kind, media_key):
    expanded = HKDF(algorithm=hashes.SHA256(), length=112, salt=None, info=INFO[kind]).derive(media_key)
    return expanded[:16], expanded[16:48], expanded[48:80]


def encrypt(kind, media_key, plain):
    iv, cipher_key, mac_key = keys(kind, media_key)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10]
    return ciphertext + mac


def decrypt(kind, media_key, blob):
    iv, cipher_key, mac_key = keys(kind, media_key)
    ciphertext, mac = blob[:-10], blob[-10:]
    if not hmac.compare_digest(hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10], mac):
        print("mac mismatch", file=sys.stderr)
        sys.exit(3)
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def main():
    op, kind, key_hex, source, destination = sys.argv[1:6]
    media_key = bytes.fromhex(key_hex)
    with open(source, "rb") as f:
        data = f.read()
    if op == "encrypt":
        out = encrypt(kind, media_key, data)
        summary = {
            "file_sha256": hashlib.sha256(data).hexdigest(),
            "file_enc_sha256": hashlib.sha256(out).hexdigest(),
            "file_length": len(data),
        }
    elif op == "decrypt":
        out = decrypt(kind, media_key, data)
        summary = {"file_sha256": hashlib.sha256(out).hexdigest(), "file_length": len(out)}
    else:
        sys.exit(f"unknown op {op}")
    with open(destination, "wb") as f:
        f.write(out)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
