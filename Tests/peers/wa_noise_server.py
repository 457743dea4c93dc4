"""A stand-in WhatsApp server for the Noise handshake, built on the `noiseprotocol` package.

The Swift client talks to it in two runs, because each run is one process fed through stdin:
  root   — prints the test root public key the client must trust.
  hello  — reads the client's HandshakeMessage(clientHello), answers serverHello.
  stream — config JSON as argument; speaks header + frames on stdin/stdout as the server end of
           the WebSocket: handshake, configured frames, then echoes client frames.
  finish — replays the same deterministic server (keys derived from `seed`), then reads
           clientFinish, prints the client's static key and decrypted ClientPayload, decrypts
           the client's transport frames and encrypts the server's.
Input and output are JSON with hex strings. The certificate chain is signed with
python-axolotl-curve25519 (libsignal's XEdDSA) by a test root derived from the seed; `cert`
selects a good chain or one broken in a specific way.
"""
import hashlib
import json
import sys

import axolotl_curve25519 as curve
from noise.connection import Keypair, NoiseConnection

from wa_protos import cert, wa6

PROLOGUE = b"WA\x06\x03"


def derive(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"{seed}/{label}".encode()).digest()


def private_key(seed: str, label: str) -> bytes:
    return curve.generatePrivateKey(derive(seed, label))


def public_key(private: bytes) -> bytes:
    return curve.generatePublicKey(private)


def sign(seed: str, private: bytes, message: bytes) -> bytes:
    random64 = derive(seed, "sig1") + derive(seed, "sig2")
    return curve.calculateSignature(random64, private, message)


def certificate_chain(seed: str, server_static_public: bytes, mode: str, now: int) -> bytes:
    root = private_key(seed, "root")
    intermediate = private_key(seed, "intermediate")
    not_before, not_after = now - 3600, now + 3600
    if mode == "expired":
        not_before, not_after = now - 7200, now - 3600
    intermediate_details = cert.CertChain.NoiseCertificate.Details(
        serial=7,
        issuerSerial=1 if mode == "wrong-issuer-serial" else 0,
        key=public_key(intermediate),
        notBefore=not_before,
        notAfter=not_after,
    ).SerializeToString()
    signer = private_key(seed, "other-root") if mode == "wrong-root" else root
    leaf_key = public_key(private_key(seed, "someone-else")) if mode == "wrong-leaf-key" else server_static_public
    leaf_details = cert.CertChain.NoiseCertificate.Details(
        serial=8, issuerSerial=7, key=leaf_key, notBefore=not_before, notAfter=not_after
    ).SerializeToString()
    leaf_signature = sign(seed, intermediate, leaf_details)
    if mode == "bad-leaf-signature":
        leaf_signature = bytes([leaf_signature[0] ^ 1]) + leaf_signature[1:]
    chain = cert.CertChain(
        intermediate=cert.CertChain.NoiseCertificate(details=intermediate_details, signature=sign(seed, signer, intermediate_details)),
        leaf=cert.CertChain.NoiseCertificate(details=leaf_details, signature=leaf_signature),
    )
    return chain.SerializeToString()


def server(seed: str) -> NoiseConnection:
    noise = NoiseConnection.from_name(b"Noise_XX_25519_AESGCM_SHA256")
    noise.set_as_responder()
    noise.set_prologue(PROLOGUE)
    noise.set_keypair_from_private_bytes(Keypair.STATIC, private_key(seed, "static"))
    noise.set_keypair_from_private_bytes(Keypair.EPHEMERAL, private_key(seed, "ephemeral"))
    noise.start_handshake()
    return noise


def read_client_hello(noise: NoiseConnection, frame: bytes) -> None:
    hello = wa6.HandshakeMessage.FromString(frame).clientHello
    # WhatsApp does not mix message 1's empty payload into the hash; stock Noise does.
    # This is the one override: skip DecryptAndHash for that empty payload.
    symmetric = noise.noise_protocol.handshake_state.symmetric_state
    original = symmetric.decrypt_and_hash
    symmetric.decrypt_and_hash = lambda data: b""
    try:
        noise.read_message(hello.ephemeral)
    finally:
        symmetric.decrypt_and_hash = original


def server_hello(noise: NoiseConnection, seed: str, mode: str, now: int) -> bytes:
    static_public = public_key(private_key(seed, "static"))
    chain = certificate_chain(seed, static_public, mode, now)
    message = bytes(noise.write_message(chain))
    # Noise concatenates e (32), encrypted s (32 + 16) and the encrypted payload;
    # WhatsApp puts them in separate fields.
    return wa6.HandshakeMessage(
        serverHello=wa6.HandshakeMessage.ServerHello(ephemeral=message[:32], static=message[32:80], payload=message[80:])
    ).SerializeToString()


def read_exact(stream, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            raise SystemExit(f"stream ended after {len(data)} of {count} bytes")
        data += chunk
    return data


def read_frame(stream) -> bytes:
    length = int.from_bytes(read_exact(stream, 3), "big")
    return read_exact(stream, length)


def write_frame(stream, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(3, "big") + payload)
    stream.flush()


def stream_mode(config: dict, source=None, sink=None) -> None:
    """Speaks the frame protocol (stdin/stdout unless given), like the server end of the
    WebSocket: the handshake, then the configured server frames, then an echo of each client frame."""
    seed, cert_mode, now = config["seed"], config.get("cert", "valid"), int(config["now"])
    source, sink = source or sys.stdin.buffer, sink or sys.stdout.buffer
    header = read_exact(source, 4)
    if header != PROLOGUE:
        raise SystemExit(f"unexpected connection header {header.hex()}")
    noise = server(seed)
    read_client_hello(noise, read_frame(source))
    write_frame(sink, server_hello(noise, seed, cert_mode, now))
    finish = wa6.HandshakeMessage.FromString(read_frame(source)).clientFinish
    payload = bytes(noise.read_message(finish.static + finish.payload))
    wa6.ClientPayload.FromString(payload)
    for plaintext in config.get("serverFrames", []):
        write_frame(sink, noise.encrypt(bytes.fromhex(plaintext)))
    for _ in range(config.get("echo", 0)):
        write_frame(sink, noise.encrypt(noise.decrypt(read_frame(source))))
    print(json.dumps({"clientPayload": payload.hex()}), file=sys.stderr)


def main() -> None:
    mode = sys.argv[1]
    if mode == "stream":
        stream_mode(json.loads(sys.argv[2]))
        return
    request = json.load(sys.stdin)
    if mode == "root":
        json.dump({"rootKey": public_key(private_key(request["seed"], "root")).hex()}, sys.stdout)
        return
    seed, cert_mode, now = request["seed"], request.get("cert", "valid"), int(request["now"])
    noise = server(seed)
    read_client_hello(noise, bytes.fromhex(request["clientHello"]))
    hello = server_hello(noise, seed, cert_mode, now)
    if mode == "hello":
        root = public_key(private_key(seed, "root"))
        json.dump({"serverHello": hello.hex(), "rootKey": root.hex(), "serverStatic": public_key(private_key(seed, "static")).hex()}, sys.stdout)
        return
    finish = wa6.HandshakeMessage.FromString(bytes.fromhex(request["clientFinish"])).clientFinish
    handshake = noise.noise_protocol.handshake_state
    payload = bytes(noise.read_message(finish.static + finish.payload))
    if not noise.handshake_finished:
        raise SystemExit("handshake did not finish")
    client_static = handshake.rs.public_bytes
    received = [noise.decrypt(bytes.fromhex(frame)).hex() for frame in request.get("clientFrames", [])]
    sent = [noise.encrypt(bytes.fromhex(plain)).hex() for plain in request.get("serverPlaintexts", [])]
    client_payload = wa6.ClientPayload.FromString(payload)
    json.dump({
        "clientStatic": client_static.hex(),
        "clientPayload": payload.hex(),
        "clientPayloadText": str(client_payload),
        "clientFrames": received,
        "serverFrames": sent,
    }, sys.stdout)


if __name__ == "__main__":
    main()
