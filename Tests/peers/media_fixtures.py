"""Small media files made by code at test time (nothing fetched or committed as a binary):
a JPEG (pillow), a one-page PDF with a correct xref table, an Ogg/Opus voice note (OpusHead, OpusTags and
silent 20 ms Opus packets in CRC-checked Ogg pages), and an MP4 header (ftyp + mdat: the container's first
boxes, not a playable video). `seed` varies the bytes so two files of one kind differ."""
from __future__ import annotations

import io
import struct


def jpeg(width: int = 64, height: int = 48, seed: int = 0, quality: int = 85) -> bytes:
    from PIL import Image
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 4 + seed) % 256, (y * 5 + seed * 3) % 256, (x + y + seed * 7) % 256)
                   for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def pdf(text: str = "BuzzBridge test document", seed: int = 0) -> bytes:
    content = f"BT /F1 18 Tf 72 720 Td ({text} #{seed}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _ogg_page(packets: list[bytes], granule: int, serial: int, sequence: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, serial, sequence, 0, len(lacing)) + bytes(lacing)
    page = bytearray(header + b"".join(packets))
    page[22:26] = struct.pack("<I", _ogg_crc(bytes(page)))
    return bytes(page)


def ogg_opus(seconds: float = 1.0, seed: int = 0) -> bytes:
    """A mono 48 kHz Opus stream of silent 20 ms packets (TOC 0xF8: CELT fullband 20 ms, one frame, no data = silence)."""
    serial = 0x42420000 + seed
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 10) + b"BuzzBridge" + struct.pack("<I", 1) + struct.pack("<I", 13) + f"SEED={seed:08d}".encode()
    frames = max(1, int(seconds * 50))
    pages = [_ogg_page([head], 0, serial, 0, 0x02), _ogg_page([tags], 0, serial, 1, 0)]
    audio = [b"\xf8" for _ in range(frames)]
    per_page, sequence = 50, 2
    for start in range(0, frames, per_page):
        chunk = audio[start:start + per_page]
        last = start + per_page >= frames
        granule = 312 + (start + len(chunk)) * 960  # 48 kHz samples, pre-skip included
        pages.append(_ogg_page(chunk, granule, serial, sequence, 0x04 if last else 0))
        sequence += 1
    return b"".join(pages)


def mp4(seed: int = 0) -> bytes:
    ftyp = b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    payload = bytes((seed + n * 31) % 256 for n in range(600))
    return struct.pack(">I", 8 + len(ftyp)) + ftyp + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload


FIXTURES = {"jpeg": jpeg, "pdf": pdf, "ogg": ogg_opus, "mp4": mp4}
MIME_TYPES = {"jpeg": "image/jpeg", "pdf": "application/pdf", "ogg": "audio/ogg; codecs=opus", "mp4": "video/mp4"}
