"""Pairing-code crypto computed independently with `cryptography` (whatsmeow pair-code.go),
for the Swift PairingCode test vectors.

Reads one JSON object on stdin with hex fields and prints one JSON object:
  {"code", "salt", "iv", "publicKey"}                       -> {"key", "wrapped"}
  + {"ephemeralShared", "identityShared", "advRandom", "bundleSalt", "bundleNonce", "bundlePlaintext"}
                                                            -> also {"bundle", "advSecret"}
  + {"encode": hex of 5 bytes}                              -> also {"encoded"}
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def hkdf(secret: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def main() -> None:
    request = json.load(sys.stdin)
    h = {k: bytes.fromhex(v) for k, v in request.items() if k != "code"}
    code = request["code"].encode()
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=h["salt"], iterations=2 << 16).derive(code)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(h["iv"])).encryptor()
    wrapped = h["salt"] + h["iv"] + encryptor.update(h["publicKey"]) + encryptor.finalize()
    answer = {"key": key.hex(), "wrapped": wrapped.hex()}
    if "ephemeralShared" in h:
        bundle_key = hkdf(h["ephemeralShared"], h["bundleSalt"], b"link_code_pairing_key_bundle_encryption_key")
        sealed = AESGCM(bundle_key).encrypt(h["bundleNonce"], h["bundlePlaintext"], None)
        answer["bundle"] = (h["bundleSalt"] + h["bundleNonce"] + sealed).hex()
        answer["advSecret"] = hkdf(h["ephemeralShared"] + h["identityShared"] + h["advRandom"], None, b"adv_secret").hex()
    if "encode" in h:
        # Standard base32 bit order with WhatsApp's alphabet, no padding (5 bytes -> 8 chars).
        standard = base64.b32encode(h["encode"]).decode()
        answer["encoded"] = standard.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
