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
