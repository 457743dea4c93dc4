"""What carries the frames: a TLS WebSocket server for web.whatsapp.com/ws/chat, an HTTP CONNECT
proxy and a SOCKS5 proxy on loopback that send every tunnel to it, and the 3-byte length framing.

The certificate comes from a throwaway CA written to caFile; it names web.whatsapp.com,
web.whatsapp.test (does not resolve: reaching it proves the tunnel was used), localhost and the media
hosts of the fake CDN (cdn.py). The proxies send a tunnel to a media host to the CDN, any other to the
WebSocket server.
"""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORIGIN = "https://web.whatsapp.com"
HOSTS = ("web.whatsapp.com", "web.whatsapp.test", "localhost", "mmg.whatsapp.net", "mmg-fallback.whatsapp.net")


def router(websocket_port: int, cdn_port: int, media_hosts) -> "callable":
    """Where a tunnel to `host` goes: the CDN for a media host, the WebSocket server for anything else."""
    hosts = {h.lower() for h in media_hosts}
    return lambda host: cdn_port if host.lower() in hosts else websocket_port


def make_certificates(directory: str) -> tuple[str, ssl.SSLContext]:
    """Writes ca.pem (the CA clients trust) and returns its path and the server's TLS context."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BuzzBridge WhatsApp double test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host) for host in HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key"))
    with open(ca_file, "wb") as file:
        file.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(cert_file, "wb") as file:
        file.write(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context


class FrameReader:
    """Joins WebSocket messages into the byte stream and cuts it into frames (3-byte big-endian length)."""

    def __init__(self, websocket) -> None:
        self.websocket = websocket
        self.buffer = bytearray()

    async def read_exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            message = await self.websocket.recv()
            if isinstance(message, str):
                raise ConnectionError("text message on the chat socket")
            self.buffer += message
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    async def read_frame(self) -> bytes:
        length = int.from_bytes(await self.read_exact(3), "big")
        return await self.read_exact(length)


def frame(payload: bytes) -> bytes:
    if len(payload) >= 1 << 24:
        raise ValueError("frame too large")
    return len(payload).to_bytes(3, "big") + payload


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - already closed
            pass


def _host_of(target: str) -> str:
    """"host:port" or "[v6]:port" -> host."""
    if target.startswith("["):
        return target[1:target.find("]")]
    return target.rsplit(":", 1)[0] if ":" in target else target


async def _tunnel(reader, writer, target_port: int) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


def http_connect_proxy(route, tunnels: list):
    """Answers CONNECT (any host) with 200 and pipes the tunnel to route(host)'s port; records the host asked for."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(request_line) < 2 or request_line[0] != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        tunnels.append({"proxy": "http", "target": request_line[1]})
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _tunnel(reader, writer, route(_host_of(request_line[1])))
    return handle


def socks5_proxy(route, tunnels: list, settings: dict, username: bytes = b"user", password: bytes = b"secret"):
    """SOCKS5 with username/password (RFC 1929) or no auth; CONNECT by domain name or IPv4. With
    settings["socksRequireAuth"] a client that offers only "no authentication" is refused (method 0xFF),
    as a proxy configured with credentials refuses it: a client that drops its credentials cannot tunnel."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await negotiate(reader, writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def negotiate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        accepted = {2} if settings.get("socksRequireAuth") else {0, 2}
        if version != 5 or not (accepted & set(methods)):
            writer.write(b"\x05\xff")
            return
        if 2 in methods:
            writer.write(b"\x05\x02")
            _, user_length = await reader.readexactly(2)
            user = await reader.readexactly(user_length)
            secret = await reader.readexactly((await reader.readexactly(1))[0])
            if (user, secret) != (username, password):
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\x00")
        _, command, _, address_type = await reader.readexactly(4)
        if command != 1 or address_type not in (1, 3):
            writer.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        if address_type == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        port = int.from_bytes(await reader.readexactly(2), "big")
        tunnels.append({"proxy": "socks5", "target": f"{host}:{port}"})
        target_port = route(host)
        writer.write(b"\x05\x00\x00\x01" + bytes([127, 0, 0, 1]) + target_port.to_bytes(2, "big"))
        await writer.drain()
        await _tunnel(reader, writer, target_port)
    return handle
