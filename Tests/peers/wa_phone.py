"""Plays the primary phone in QR pairing (whatsmeow pair.go, commit 33cfac51, read in reverse).

  issue — builds the pair-success <device-identity> content: an ADVSignedDeviceIdentityHMAC
          around an ADVSignedDeviceIdentity whose account signature (libsignal XEdDSA via
          python-axolotl-curve25519) covers the companion's identity key. `tamper` breaks the
          HMAC or the signature on purpose.
  check — verifies the companion's pair-device-sign reply: the device signature over
          {6,1} || details || identity || account key, the details untouched, no account key.
stdin/stdout: JSON with hex strings.
"""
import hashlib
import hmac
import json
import sys

import axolotl_curve25519 as curve

from wa_protos import adv


def account_private(seed: str) -> bytes:
    return curve.generatePrivateKey(hashlib.sha256(f"{seed}/account".encode()).digest())


def issue(request: dict) -> dict:
    seed, hosted, tamper = request["seed"], request.get("hosted", False), request.get("tamper", "none")
    identity = bytes.fromhex(request["identityKey"])
    account = account_private(seed)
    account_public = curve.generatePublicKey(account)
    details = adv.ADVDeviceIdentity(
        rawID=123456, timestamp=1700000000, keyIndex=request.get("keyIndex", 3),
        accountType=adv.HOSTED if hosted else adv.E2EE, deviceType=adv.HOSTED if hosted else adv.E2EE,
    ).SerializeToString()
    prefix = b"\x06\x05" if hosted else b"\x06\x00"
    random64 = hashlib.sha512(seed.encode()).digest()
    signature = curve.calculateSignature(random64, account, prefix + details + identity)
    if tamper == "signature":
        signature = bytes([signature[0] ^ 0x80]) + signature[1:]
    signed = adv.ADVSignedDeviceIdentity(details=details, accountSignatureKey=account_public, accountSignature=signature).SerializeToString()
    secret = bytes.fromhex(request["advSecret"])
    mac = hmac.new(secret, (b"\x06\x05" if hosted else b"") + signed, hashlib.sha256).digest()
    if tamper == "hmac":
        mac = bytes(32)
    container = adv.ADVSignedDeviceIdentityHMAC(details=signed, HMAC=mac, accountType=adv.HOSTED if hosted else adv.E2EE)
    return {"deviceIdentity": container.SerializeToString().hex(), "accountKey": account_public.hex(), "details": details.hex()}


def check(request: dict) -> dict:
    reply = adv.ADVSignedDeviceIdentity.FromString(bytes.fromhex(request["reply"]))
    identity = bytes.fromhex(request["identityKey"])
    account_public = curve.generatePublicKey(account_private(request["seed"]))
    message = b"\x06\x01" + reply.details + identity + account_public
    return {
        "deviceSignatureValid": curve.verifySignature(identity, message, reply.deviceSignature) == 0,
        "hasAccountSignatureKey": reply.HasField("accountSignatureKey"),
        "details": reply.details.hex(),
        "accountSignatureValid": curve.verifySignature(
            account_public, (b"\x06\x05" if request.get("hosted") else b"\x06\x00") + reply.details + identity, reply.accountSignature
        ) == 0,
    }


if __name__ == "__main__":
    request = json.load(sys.stdin)
    json.dump(issue(request) if sys.argv[1] == "issue" else check(request), sys.stdout)
