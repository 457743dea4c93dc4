#!/usr/bin/env python3
"""File-to-file front end of media_crypto.py (the independent implementation of WhatsApp media
encryption) for MediaCryptoTests, with the Swift `MediaKind` names.

    media_peer.py encrypt KIND MEDIAKEY_HEX IN OUT   -> prints {"file_sha256", "file_enc_sha256", "file_length"}
    media_peer.py decrypt KIND MEDIAKEY_HEX IN OUT   -> exits 3 with "mac mismatch" when the MAC fails
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from media_crypto import MediaError, decrypt, encrypt  # noqa: E402

# Swift MediaKind raw values that media_crypto.py spells otherwise.
KIND = {"appState": "app-state", "stickerPack": "sticker-pack", "linkThumbnail": "thumbnail-link"}


def main() -> int:
    op, swift_kind, key_hex, source, destination = sys.argv[1:6]
    kind = KIND.get(swift_kind, swift_kind)
    media_key = bytes.fromhex(key_hex)
    with open(source, "rb") as f:
        data = f.read()
    if op == "encrypt":
        result = encrypt(data, kind, media_key)
        out = result.blob
        summary = {"file_sha256": result.file_sha256.hex(), "file_enc_sha256": result.file_enc_sha256.hex(),
                   "file_length": result.file_length}
    elif op == "decrypt":
        try:
            out = decrypt(data, kind, media_key)
        except MediaError as error:
            print("mac mismatch" if error.reason == "hmac" else str(error), file=sys.stderr)
            return 3 if error.reason == "hmac" else 2
        summary = {"file_sha256": hashlib.sha256(out).hexdigest(), "file_length": len(out)}
    else:
        sys.exit(f"unknown op {op}")
    with open(destination, "wb") as f:
        f.write(out)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
