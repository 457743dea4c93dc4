"""A local stand-in for wss://web.whatsapp.com/ws/chat, for the WebSocket transport tests.

Started once per test; prints one JSON line {"wsPort", "httpProxyPort", "socksPort", "caFile"}
and serves until its stdin closes:
  - a TLS WebSocket server (PyPI `websockets`, certificate for `localhost` and
    `web.whatsapp.test` from a throwaway CA written to `caFile`) at /ws/chat that refuses (403) any
    other path or an Origin other than https://web.whatsapp.com, then speaks the Noise frame
    protocol of wa_noise_server.py's stream mode, every frame sent as two WebSocket messages;
  - an HTTP CONNECT proxy and a SOCKS5 proxy (username "user", password "secret") that send
    every tunnel to the WebSocket server, whatever host is asked for. `web.whatsapp.test` does not
    resolve, so reaching it proves the tunnel was used.
argv[1]: the stream-mode config JSON (seed, now, serverFrames, echo).
"""
import datetime
import json
import os
import socket
import socketserver
import ssl
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.server import serve

import wa_noise_server

ORIGIN = "https://web.whatsapp.com"


def certificates(directory: str) -> tuple[str, str, str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BuzzBridge test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName("web.whatsapp.test")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = [os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as file:
        file.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as file:
        file.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tuple(paths)


class MessageStream:
    """The byte-stream view of a WebSocket connection that stream mode reads and writes."""

    def __init__(self, connection):
        self.connection = connection
        self.buffer = b""

    def read(self, count: int) -> bytes:
        while not self.buffer:
            self.buffer = self.connection.recv()
            if isinstance(self.buffer, str):
                raise SystemExit("text message received")
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def write(self, data: bytes) -> None:
        # Split every write in two messages: the client must join frames across messages.
        middle = len(data) // 2
        self.connection.send(data[:middle])
        self.connection.send(data[middle:])

    def flush(self) -> None:
        pass


def check_request(connection, request):
    """Refuses the upgrade itself (HTTP 403) for a wrong path or Origin."""
    if request.path != "/ws/chat" or request.headers.get("Origin") != ORIGIN:
        return connection.respond(403, "unexpected path or origin\n")
    return None


def websocket_handler(config: dict):
    def handle(connection):
        stream = MessageStream(connection)
        wa_noise_server.stream_mode(config, source=stream, sink=stream)
    return handle


def pipe(source: socket.socket, destination: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            destination.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, destination):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def tunnel(client: socket.socket, target_port: int) -> None:
    upstream = socket.create_connection(("127.0.0.1", target_port))
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


def read_exact(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def http_proxy(target_port: int):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.request.recv(1)
                if not chunk:
                    return
                head += chunk
            if not head.startswith(b"CONNECT "):
                self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            tunnel(self.request, target_port)
    return Handler


def socks_proxy(target_port: int):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            connection = self.request
            version, count = read_exact(connection, 2)
            methods = read_exact(connection, count)
            if version != 5 or 2 not in methods:
                connection.sendall(b"\x05\xff")
                return
            connection.sendall(b"\x05\x02")
            _, user_length = read_exact(connection, 2)
            user = read_exact(connection, user_length)
            password = read_exact(connection, read_exact(connection, 1)[0])
            if (user, password) != (b"user", b"secret"):
                connection.sendall(b"\x01\x01")
                return
            connection.sendall(b"\x01\x00")
            _, command, _, address_type = read_exact(connection, 4)
            if command != 1 or address_type != 3:
                connection.sendall(b"\x05\x07\x00\x01" + bytes(6))
                return
            read_exact(connection, read_exact(connection, 1)[0] + 2)
            connection.sendall(b"\x05\x00\x00\x01" + bytes([127, 0, 0, 1]) + target_port.to_bytes(2, "big"))
            tunnel(connection, target_port)
    return Handler


def main() -> None:
    config = json.loads(sys.argv[1])
    directory = tempfile.mkdtemp(prefix="wa-ws-")
    ca_file, certificate, key = certificates(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server = serve(websocket_handler(config), "127.0.0.1", 0, ssl=context, max_size=None, process_request=check_request)
    ws_port = server.socket.getsockname()[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxies = []
    for handler in (http_proxy(ws_port), socks_proxy(ws_port)):
        proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        proxy.daemon_threads = True
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        proxies.append(proxy)
    print(json.dumps({
        "wsPort": ws_port,
        "httpProxyPort": proxies[0].server_address[1],
        "socksPort": proxies[1].server_address[1],
        "caFile": ca_file,
    }), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
