"""The server end of WhatsApp's Noise XX handshake (handshake.go read in reverse), on `noiseprotocol`.

The certificate chain and the two WhatsApp deviations from stock Noise come from wa_noise_server
(the peer the Swift handshake tests already use): the root, intermediate and static keys derive
from the seed; every connection gets a fresh ephemeral key.
"""
from __future__ import annotations

import os
import time
import warnings

from noise.connection import Keypair, NoiseConnection

# noiseprotocol warns when an ephemeral key is set by hand; the double sets a fresh random one on purpose.
warnings.filterwarnings("ignore", message="One of ephemeral keypairs is already set")

import wa_noise_server as peer
from wa_protos import wa6

PROLOGUE = peer.PROLOGUE


def root_public_key(seed: str) -> bytes:
    return peer.public_key(peer.private_key(seed, "root"))


class NoiseResponder:
    """One connection's handshake, then its transport cipher states."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.noise = NoiseConnection.from_name(b"Noise_XX_25519_AESGCM_SHA256")
        self.noise.set_as_responder()
        self.noise.set_prologue(PROLOGUE)
        self.noise.set_keypair_from_private_bytes(Keypair.STATIC, peer.private_key(seed, "static"))
        self.noise.set_keypair_from_private_bytes(Keypair.EPHEMERAL, peer.curve.generatePrivateKey(os.urandom(32)))
        self.noise.start_handshake()
        self.client_static: bytes = b""

    def answer_hello(self, frame: bytes) -> bytes:
        peer.read_client_hello(self.noise, frame)
        return peer.server_hello(self.noise, self.seed, "valid", int(time.time()))

    def read_finish(self, frame: bytes) -> "wa6.ClientPayload":
        """Returns the decrypted ClientPayload; the client's static key is left in client_static."""
        finish = wa6.HandshakeMessage.FromString(frame).clientFinish
        handshake = self.noise.noise_protocol.handshake_state
        payload = bytes(self.noise.read_message(finish.static + finish.payload))
        if not self.noise.handshake_finished:
            raise ValueError("handshake did not finish")
        self.client_static = bytes(handshake.rs.public_bytes)
        return wa6.ClientPayload.FromString(payload)

    def encrypt(self, plaintext: bytes) -> bytes:
        return bytes(self.noise.encrypt(plaintext))

    def decrypt(self, ciphertext: bytes) -> bytes:
        return bytes(self.noise.decrypt(ciphertext))
