#!/usr/bin/env python3
"""Independent Signal peer for the SignalProtocol tests, driving python-axolotl.

Usage: signal_peer.py STATE_FILE < commands.json > results.json

stdin holds a JSON list of commands ({"op": ..., ...}); stdout gets a JSON list with one
result per command. Bytes travel as hex strings. The peer's stores (identity, prekeys,
sessions, sender keys) are pickled to STATE_FILE between invocations, so a test can run a
multi-step conversation through several invocations.
"""
import json
import os
import pickle
import sys

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

import axolotl_curve25519 as curve
from axolotl.ecc.curve import Curve
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder
from axolotl.groups.senderkeyname import SenderKeyName
from axolotl.axolotladdress import AxolotlAddress
from axolotl.identitykey import IdentityKey
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage
from axolotl.protocol.whispermessage import WhisperMessage
from axolotl.sessionbuilder import SessionBuilder
from axolotl.sessioncipher import SessionCipher
from axolotl.state.prekeybundle import PreKeyBundle
from axolotl.groups.state.senderkeyrecord import SenderKeyRecord
from axolotl.groups.state.senderkeystore import SenderKeyStore
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore
from axolotl.util.keyhelper import KeyHelper


def unhex(value):
    return bytes.fromhex(value)


def op_curve_keypair(state, command):
    private = curve.generatePrivateKey(os.urandom(32))
    return {"private": private.hex(), "public": curve.generatePublicKey(private).hex()}


def op_curve_sign(state, command):
    random = unhex(command["random"]) if "random" in command else os.urandom(64)
    signature = curve.calculateSignature(random, unhex(command["private"]), unhex(command["message"]))
    return {"signature": signature.hex()}


def op_curve_verify(state, command):
    public = unhex(command["public"])
    if len(public) == 33:
        public = public[1:]
    valid = curve.verifySignature(public, unhex(command["message"]), unhex(command["signature"])) == 0
    return {"valid": valid}


class SerializedSenderKeyStore(SenderKeyStore):
    """Keeps records serialized so the peer state pickles (the protobuf objects do not)."""

    def __init__(self):
        self.records = {}

    @staticmethod
    def key(name):
        return (name.getGroupId(), name.getSender().getName(), name.getSender().getDeviceId())

    def storeSenderKey(self, senderKeyName, senderKeyRecord):
        self.records[self.key(senderKeyName)] = senderKeyRecord.serialize()

    def loadSenderKey(self, senderKeyName):
        serialized = self.records.get(self.key(senderKeyName))
        return SenderKeyRecord(serialized=serialized) if serialized else SenderKeyRecord()


def store(state):
    if "store" not in state:
        state["store"] = InMemoryAxolotlStore()
        state["senderKeys"] = SerializedSenderKeyStore()
    return state["store"]


def public_key(value):
    return Curve.decodePoint(bytearray(unhex(value)), 0)


def op_setup(state, command):
    """Generates prekeys and a signed prekey; returns the bundle the Swift side starts from."""
    axolotl = store(state)
    identity = axolotl.getIdentityKeyPair()
    signed = KeyHelper.generateSignedPreKey(identity, command.get("signedPreKeyId", 1))
    axolotl.storeSignedPreKey(signed.getId(), signed)
    pre_keys = KeyHelper.generatePreKeys(command.get("preKeyStart", 1), command.get("preKeys", 1))
    for record in pre_keys:
        axolotl.storePreKey(record.getId(), record)
    return {
        "registrationId": axolotl.getLocalRegistrationId(),
        "identityKey": identity.getPublicKey().serialize().hex(),
        "signedPreKeyId": signed.getId(),
        "signedPreKey": signed.getKeyPair().getPublicKey().serialize().hex(),
        "signature": bytes(signed.getSignature()).hex(),
        "preKeys": [{"id": r.getId(), "public": r.getKeyPair().getPublicKey().serialize().hex()} for r in pre_keys],
    }


def op_process_bundle(state, command):
    axolotl = store(state)
    pre_key = command.get("preKeyId")
    bundle = PreKeyBundle(
        command["registrationId"], command.get("device", 1),
        pre_key, public_key(command["preKey"]) if pre_key is not None else None,
        command["signedPreKeyId"], public_key(command["signedPreKey"]), unhex(command["signature"]),
        IdentityKey(public_key(command["identityKey"])),
    )
    SessionBuilder(axolotl, axolotl, axolotl, axolotl, command["name"], command.get("device", 1)).processPreKeyBundle(bundle)
    return {}


def session_cipher(state, command):
    axolotl = store(state)
    return SessionCipher(axolotl, axolotl, axolotl, axolotl, command["name"], command.get("device", 1))


def op_encrypt(state, command):
    message = session_cipher(state, command).encrypt(unhex(command["plaintext"]))
    kind = "pkmsg" if isinstance(message, PreKeyWhisperMessage) else "msg"
    return {"type": kind, "ciphertext": bytes(message.serialize()).hex()}


def op_decrypt(state, command):
    cipher = session_cipher(state, command)
    data = unhex(command["ciphertext"])
    if command["type"] == "pkmsg":
        plaintext = cipher.decryptPkmsg(PreKeyWhisperMessage(serialized=data))
    else:
        plaintext = cipher.decryptMsg(WhisperMessage(serialized=data))
    return {"plaintext": bytes(plaintext).hex()}


def op_identity(state, command):
    axolotl = store(state)
    return {"identityKey": axolotl.getIdentityKeyPair().getPublicKey().serialize().hex(),
            "registrationId": axolotl.getLocalRegistrationId()}


def sender_key_name(command):
    return SenderKeyName(command["group"], AxolotlAddress(command["name"], command.get("device", 1)))


def op_group_create(state, command):
    store(state)
    message = GroupSessionBuilder(state["senderKeys"]).create(sender_key_name(command))
    return {"distribution": bytes(message.serialize()).hex()}


def op_group_process(state, command):
    store(state)
    message = SenderKeyDistributionMessage(serialized=unhex(command["distribution"]))
    GroupSessionBuilder(state["senderKeys"]).process(sender_key_name(command), message)
    return {}


def op_group_encrypt(state, command):
    store(state)
    ciphertext = GroupCipher(state["senderKeys"], sender_key_name(command)).encrypt(unhex(command["plaintext"]))
    return {"ciphertext": bytes(ciphertext).hex()}


def op_group_decrypt(state, command):
    store(state)
    plaintext = GroupCipher(state["senderKeys"], sender_key_name(command)).decrypt(unhex(command["ciphertext"]))
    return {"plaintext": bytes(plaintext).hex()}


OPERATIONS = {name[3:]: function for name, function in globals().items() if name.startswith("op_")}


def main():
    state_path = sys.argv[1] if len(sys.argv) > 1 else None
    state = {}
    if state_path and os.path.exists(state_path) and os.path.getsize(state_path) > 0:
        with open(state_path, "rb") as handle:
            state = pickle.load(handle)
    commands = json.load(sys.stdin)
    results = []
    for command in commands:
        operation = OPERATIONS.get(command["op"])
        if operation is None:
            raise SystemExit("unknown op %r" % command["op"])
        try:
            results.append(operation(state, command))
        except Exception as error:  # reported per command so tests can expect failures
            results.append({"error": "%s: %s" % (type(error).__name__, error)})
    if state_path:
        with open(state_path, "wb") as handle:
            pickle.dump(state, handle)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
