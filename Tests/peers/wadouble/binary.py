"""WhatsApp binary nodes (WABinary, dictionary version 3): a Node type, JIDs, and the codec.

Written from the wire format as whatsmeow's binary/encoder.go and decoder.go read and write it
(tokens in tokens.json, taken from binary/token/token.go). Content is None, bytes, str (a token
or packed string in content position) or a list of Nodes. Attribute values are str or JID;
strings that look like user JIDs are written as JIDs, because whatsmeow reads `jid`, `lid`,
`from` … as JID values and ignores them when they arrive as raw strings.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field

with open(os.path.join(os.path.dirname(__file__), "tokens.json"), encoding="utf-8") as _file:
    _TOKENS = json.load(_file)
SINGLE: list[str] = _TOKENS["single"]
DOUBLE: list[list[str]] = _TOKENS["double"]
_SINGLE_INDEX = {token: index for index, token in enumerate(SINGLE) if index > 0}
_DOUBLE_INDEX = {token: (d, i) for d, tokens in enumerate(DOUBLE) for i, token in enumerate(tokens)}

LIST_EMPTY, DICTIONARY_0, INTEROP_JID, FB_JID, AD_JID = 0, 236, 245, 246, 247
LIST_8, LIST_16, JID_PAIR, HEX_8, BINARY_8, BINARY_20, BINARY_32, NIBBLE_8 = 248, 249, 250, 251, 252, 253, 254, 255
PACKED_MAX = 127

# Domain byte of an AD JID (types/jid.go: WhatsAppDomain, LIDDomain, HostedDomain, HostedLIDDomain).
_DOMAIN_SERVER = {0: "s.whatsapp.net", 1: "lid", 128: "hosted", 129: "hosted.lid"}
_SERVER_DOMAIN = {server: domain for domain, server in _DOMAIN_SERVER.items()}
_KNOWN_SERVERS = {"s.whatsapp.net", "lid", "g.us", "broadcast", "newsletter", "hosted", "hosted.lid", "bot", "c.us", "call"}


@dataclass(frozen=True)
class JID:
    user: str
    server: str
    device: int = 0
    agent: int = 0

    @staticmethod
    def parse(text: str) -> "JID | None":
        if "@" not in text:
            return None
        user_part, server = text.rsplit("@", 1)
        if server not in _KNOWN_SERVERS:
            return None
        device = agent = 0
        if ":" in user_part:
            user_part, device_text = user_part.split(":", 1)
            if not device_text.isdigit():
                return None
            device = int(device_text)
        if "." in user_part and server in ("s.whatsapp.net", "lid"):
            user_part, agent_text = user_part.split(".", 1)
            agent = int(agent_text) if agent_text.isdigit() else 0
        return JID(user_part, server, device, agent)

    def __str__(self) -> str:
        user = self.user + (f".{self.agent}" if self.agent else "") + (f":{self.device}" if self.device else "")
        return f"{user}@{self.server}" if user else self.server

    def non_device(self) -> "JID":
        return JID(self.user, self.server)


@dataclass
class Node:
    tag: str
    attrs: dict = field(default_factory=dict)
    content: object = None

    def children(self) -> list["Node"]:
        return self.content if isinstance(self.content, list) else []

    def child(self, *path: str) -> "Node | None":
        node = self
        for tag in path:
            node = next((c for c in node.children() if c.tag == tag), None)
            if node is None:
                return None
        return node

    def attr(self, name: str, default: str = "") -> str:
        value = self.attrs.get(name)
        return default if value is None else str(value)

    def data(self) -> bytes:
        if isinstance(self.content, bytes):
            return self.content
        if isinstance(self.content, str):
            return self.content.encode()
        return b""

    def __str__(self) -> str:
        attrs = "".join(f' {k}="{v}"' for k, v in self.attrs.items())
        if self.content is None:
            return f"<{self.tag}{attrs}/>"
        if isinstance(self.content, list):
            inner = "".join(str(c) for c in self.content)
        elif isinstance(self.content, bytes):
            inner = f"<!-- {len(self.content)} bytes -->"
        else:
            inner = str(self.content)
        return f"<{self.tag}{attrs}>{inner}</{self.tag}>"


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def list_start(self, size: int) -> None:
        if size == 0:
            self.out.append(LIST_EMPTY)
        elif size < 256:
            self.out += bytes([LIST_8, size])
        else:
            self.out += bytes([LIST_16]) + size.to_bytes(2, "big")

    def byte_length(self, length: int) -> None:
        if length < 256:
            self.out += bytes([BINARY_8, length])
        elif length < 1 << 20:
            self.out += bytes([BINARY_20]) + length.to_bytes(3, "big")
        else:
            self.out += bytes([BINARY_32]) + length.to_bytes(4, "big")

    def packed(self, value: str, kind: int) -> None:
        alphabet = "0123456789-." if kind == NIBBLE_8 else "0123456789ABCDEF"
        nibbles = [alphabet.index(ch) for ch in value] + ([15] if len(value) % 2 else [])
        self.out += bytes([kind, (len(nibbles) // 2) | (0x80 if len(value) % 2 else 0)])
        self.out += bytes((nibbles[i] << 4) | nibbles[i + 1] for i in range(0, len(nibbles), 2))

    def string(self, value: str) -> None:
        if value in _SINGLE_INDEX:
            self.out.append(_SINGLE_INDEX[value])
        elif value in _DOUBLE_INDEX:
            dictionary, index = _DOUBLE_INDEX[value]
            self.out += bytes([DICTIONARY_0 + dictionary, index])
        elif value and len(value) <= PACKED_MAX and all(ch in "0123456789-." for ch in value):
            self.packed(value, NIBBLE_8)
        elif value and len(value) <= PACKED_MAX and all(ch in "0123456789ABCDEF" for ch in value):
            self.packed(value, HEX_8)
        else:
            raw = value.encode()
            self.byte_length(len(raw))
            self.out += raw

    def jid(self, jid: JID) -> None:
        if (jid.server in ("s.whatsapp.net", "lid") and jid.device > 0) or jid.server in ("hosted", "hosted.lid"):
            agent = _SERVER_DOMAIN[jid.server] if jid.server != "s.whatsapp.net" else jid.agent
            self.out += bytes([AD_JID, agent, jid.device])
            self.string(jid.user)
        else:
            self.out.append(JID_PAIR)
            if jid.user:
                self.string(jid.user)
            else:
                self.out.append(LIST_EMPTY)
            self.string(jid.server)

    def value(self, value) -> None:
        if isinstance(value, JID):
            self.jid(value)
        elif isinstance(value, str):
            parsed = JID.parse(value)
            if parsed is not None:
                self.jid(parsed)
            else:
                self.string(value)
        elif isinstance(value, (bytes, bytearray)):
            self.byte_length(len(value))
            self.out += value
        elif isinstance(value, bool):
            self.string("true" if value else "false")
        elif isinstance(value, int):
            self.string(str(value))
        else:
            raise TypeError(f"cannot encode {type(value)}")

    def node(self, node: Node) -> None:
        attrs = {k: v for k, v in node.attrs.items() if v not in (None, "")}
        has_content = node.content is not None
        self.list_start(1 + 2 * len(attrs) + (1 if has_content else 0))
        self.string(node.tag)
        for key, value in attrs.items():
            self.string(key)
            self.value(value)
        if isinstance(node.content, list):
            self.list_start(len(node.content))
            for child in node.content:
                self.node(child)
        elif isinstance(node.content, str):
            raw = node.content.encode()
            self.byte_length(len(raw))
            self.out += raw
        elif has_content:
            self.value(node.content)


def marshal(node: Node) -> bytes:
    """A frame payload: the flag byte 0 (uncompressed), then the node."""
    writer = _Writer()
    writer.node(node)
    return b"\x00" + bytes(writer.out)


class DecodeError(ValueError):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.index = data, 0

    def take(self, count: int) -> bytes:
        if self.index + count > len(self.data):
            raise DecodeError("unexpected end of node")
        chunk = self.data[self.index:self.index + count]
        self.index += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def integer(self, count: int) -> int:
        return int.from_bytes(self.take(count), "big")

    def list_size(self, tag: int) -> int:
        if tag == LIST_EMPTY:
            return 0
        if tag == LIST_8:
            return self.byte()
        if tag == LIST_16:
            return self.integer(2)
        raise DecodeError(f"bad list tag {tag}")

    def packed(self, tag: int) -> str:
        start = self.byte()
        alphabet = "0123456789-.\x00\x00\x00\x00" if tag == NIBBLE_8 else "0123456789ABCDEF"
        text = "".join(alphabet[b >> 4] + alphabet[b & 15] for b in self.take(start & 127))
        return text[:-1] if start & 0x80 else text

    def read(self, as_string: bool):
        tag = self.byte()
        if tag == LIST_EMPTY:
            return None
        if tag in (LIST_8, LIST_16):
            return [self.node() for _ in range(self.list_size(tag))]
        if tag in (BINARY_8, BINARY_20, BINARY_32):
            size = self.integer({BINARY_8: 1, BINARY_20: 3, BINARY_32: 4}[tag])
            if tag == BINARY_20:
                size &= 0xFFFFF
            raw = self.take(size)
            return raw.decode("utf-8", "replace") if as_string else raw
        if DICTIONARY_0 <= tag <= DICTIONARY_0 + 3:
            return DOUBLE[tag - DICTIONARY_0][self.byte()]
        if tag == JID_PAIR:
            user, server = self.read(True), self.read(True)
            if server is None:
                raise DecodeError("JID pair without server")
            return JID(user or "", server)
        if tag == AD_JID:
            agent, device = self.byte(), self.byte()
            user = self.read(True)
            server = _DOMAIN_SERVER.get(agent, "s.whatsapp.net")
            return JID(user, server, device, agent if server == "s.whatsapp.net" else 0)
        if tag == FB_JID:
            user = self.read(True)
            device = self.integer(2)
            return JID(user, self.read(True), device)
        if tag == INTEROP_JID:
            user = self.read(True)
            device, _integrator = self.integer(2), self.integer(2)
            return JID(user, self.read(True), device)
        if tag in (NIBBLE_8, HEX_8):
            return self.packed(tag)
        if 1 <= tag < len(SINGLE):
            return SINGLE[tag]
        raise DecodeError(f"invalid token {tag} at {self.index}")

    def node(self) -> Node:
        size = self.list_size(self.byte())
        tag = self.read(True)
        if size == 0 or not tag:
            raise DecodeError("invalid node")
        attrs = {}
        for _ in range((size - 1) >> 1):
            key = self.read(True)
            attrs[key] = self.read(True)
        content = None if size % 2 == 1 else self.read(False)
        return Node(tag, attrs, content)


def unmarshal(frame: bytes) -> Node:
    """A decrypted frame: flag byte (bit 2 = zlib-compressed), then one node."""
    if not frame:
        raise DecodeError("empty frame")
    data = frame[1:]
    if frame[0] & 2:
        data = zlib.decompress(data)
    return _Reader(data).node()
