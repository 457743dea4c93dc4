"""Media messages of the simulated phones: what a phone sends (encrypted with media_crypto.py, kept on the
fake CDN, the Message carrying url, directPath, mediaKey, fileSha256, fileEncSha256, fileLength, mimetype)
and what it does with media a companion sent it (finds the blob its directPath names on the CDN, checks the
enc hash, the HMAC and the plain hash, decrypts, records the plaintext's SHA-256 and length and keeps the bytes).

Field numbers are those of whatsmeow's waE2E (neonize's generated modules, wa_protos.e2e): Message.imageMessage 3,
documentMessage 7, audioMessage 8, videoMessage 9, stickerMessage 26.
"""
from __future__ import annotations

import base64
import hashlib
import time

import media_crypto
import media_fixtures
from wa_protos import e2e

from .errors import ControlError

# media type -> (Message field, default fixture, default mimetype)
KINDS = {
    "image": ("imageMessage", "jpeg", "image/jpeg"),
    "sticker": ("stickerMessage", "jpeg", "image/webp"),
    "video": ("videoMessage", "mp4", "video/mp4"),
    "audio": ("audioMessage", "ogg", "audio/ogg; codecs=opus"),
    "document": ("documentMessage", "pdf", "application/pdf"),
}
FIELD_KIND = {field: kind for kind, (field, _, _) in KINDS.items()}
INLINE_LIMIT = 1 << 20  # answers carry the plaintext (base64) up to this size


def _plaintext(spec: dict, kind: str) -> bytes:
    if spec.get("data"):
        return base64.b64decode(str(spec["data"]))
    seed = int(spec.get("seed", 0))
    if spec.get("size"):
        size = int(spec["size"])
        if not 1 <= size <= 100 * 1024 * 1024:
            raise ControlError(400, "size is 1..100 MiB")
        # Deterministic bytes: SHAKE-256 of the seed, made in C (a benchmark's 50 MB files take a second).
        return hashlib.shake_256(f"buzzbridge-media-{seed}".encode()).digest(size)
    fixture = str(spec.get("fixture") or KINDS[kind][1])
    if fixture == "jpeg":
        return media_fixtures.jpeg(int(spec.get("width", 64)), int(spec.get("height", 48)), seed)
    if fixture == "ogg":
        return media_fixtures.ogg_opus(float(spec.get("seconds", 1)), seed)
    if fixture not in media_fixtures.FIXTURES:
        raise ControlError(400, f"fixture is one of {sorted(media_fixtures.FIXTURES)}")
    return media_fixtures.FIXTURES[fixture](seed=seed)


def media_content(cdn, spec: dict, uploader: str) -> tuple["e2e.Message", dict]:
    """POST /contacts/send "media": encrypts, stores on the CDN, builds the Message; returns it and the record
    the control API shows (plaintext SHA-256/length/bytes, keys and hashes as hex)."""
    kind = str(spec.get("type", ""))
    if kind not in KINDS:
        raise ControlError(400, f"media.type is one of {sorted(KINDS)}")
    field, _, default_mime = KINDS[kind]
    plaintext = _plaintext(spec, kind)
    ptt = bool(spec.get("ptt", False)) and kind == "audio"
    crypto_kind = kind
    encrypted = media_crypto.encrypt(plaintext, crypto_kind)
    blob = encrypted.blob
    tamper = str(spec.get("tamper", ""))
    if tamper not in ("", "hmac", "sha256", "enc-sha256", "missing"):
        raise ControlError(400, "media.tamper is hmac, sha256, enc-sha256 or missing")
    if tamper == "hmac":  # a ciphertext byte flipped after the MAC: the enc hash still matches what is stored
        blob = bytes([blob[0] ^ 0x01]) + blob[1:]
    file_enc_sha256 = hashlib.sha256(blob).digest()
    file_sha256 = encrypted.file_sha256
    if tamper == "sha256":
        file_sha256 = hashlib.sha256(b"not the file").digest()
    mms_type = media_crypto.MMS_TYPE[crypto_kind]
    if tamper == "missing":
        stored = cdn.store(blob, mms_type, uploader)
        del cdn.blobs[stored.path]  # a direct path the CDN does not know: 404
    else:
        stored = cdn.store(blob, mms_type, uploader)
    declared_enc = hashlib.sha256(b"not the blob").digest() if tamper == "enc-sha256" else file_enc_sha256
    mimetype = str(spec.get("mimetype") or default_mime)
    common = {"URL": stored.url, "directPath": stored.direct_path, "mediaKey": encrypted.media_key, "fileSHA256": file_sha256,
              "fileEncSHA256": declared_enc, "fileLength": len(plaintext), "mimetype": mimetype,
              "mediaKeyTimestamp": int(time.time())}
    caption = str(spec.get("caption", ""))
    if kind == "image":
        width, height = int(spec.get("width", 64)), int(spec.get("height", 48))
        message = e2e.ImageMessage(**common, width=width, height=height, **({"caption": caption} if caption else {}))
        if spec.get("thumbnail", True):
            message.JPEGThumbnail = media_fixtures.jpeg(16, 12, int(spec.get("seed", 0)), quality=50)
    elif kind == "sticker":
        message = e2e.StickerMessage(**common, width=int(spec.get("width", 64)), height=int(spec.get("height", 48)))
    elif kind == "video":
        message = e2e.VideoMessage(**common, seconds=int(spec.get("seconds", 1)), width=int(spec.get("width", 64)),
                                   height=int(spec.get("height", 48)), **({"caption": caption} if caption else {}))
        if spec.get("thumbnail", True):
            message.JPEGThumbnail = media_fixtures.jpeg(16, 12, int(spec.get("seed", 0)), quality=50)
    elif kind == "audio":
        message = e2e.AudioMessage(**common, seconds=int(spec.get("seconds", 1)), PTT=ptt)
    else:
        file_name = str(spec.get("fileName") or "document.pdf")
        message = e2e.DocumentMessage(**common, fileName=file_name, title=str(spec.get("title") or file_name),
                                      **({"caption": caption} if caption else {}))
    content = e2e.Message(**{field: message})
    mediatype = "ptt" if ptt else kind  # send.go getMediaTypeFromMessage: the enc's mediatype attribute
    record = {"type": kind, "mediatype": mediatype, "mimetype": mimetype, "caption": caption,
              "fileName": getattr(message, "fileName", "") if kind == "document" else "", "ptt": ptt,
              "sha256": hashlib.sha256(plaintext).hexdigest(), "length": len(plaintext), "mediaKey": encrypted.media_key.hex(),
              "fileSha256": file_sha256.hex(), "fileEncSha256": declared_enc.hex(), "directPath": stored.direct_path,
              "url": stored.url, "tamper": tamper or None}
    if len(plaintext) <= INLINE_LIMIT:
        record["data"] = base64.b64encode(plaintext).decode()
    return content, record


def _media_part(message: "e2e.Message"):
    if message.HasField("documentWithCaptionMessage"):
        message = message.documentWithCaptionMessage.message
    for field, kind in FIELD_KIND.items():
        if message.HasField(field):
            return kind, getattr(message, field)
    return None, None


def receive_media(cdn, message: "e2e.Message", device: str, msg_id: str) -> dict | None:
    """A phone got a media message: fetch the blob its directPath (or url) names, verify, decrypt, record."""
    kind, part = _media_part(message)
    if kind is None:
        return None
    record = {"type": kind, "mimetype": part.mimetype, "directPath": part.directPath, "url": part.URL,
              "fileLength": part.fileLength, "ok": False}
    for name in ("caption", "fileName", "title", "width", "height", "seconds", "PTT"):
        if any(f.name == name for f in part.DESCRIPTOR.fields) and part.HasField(name):
            record["ptt" if name == "PTT" else name] = getattr(part, name)
    if any(f.name == "JPEGThumbnail" for f in part.DESCRIPTOR.fields):
        record["thumbnailLength"] = len(part.JPEGThumbnail)
    where = part.directPath or part.URL
    if not where:
        record["error"] = "no directPath or url"
        return record
    if part.directPath and not part.directPath.startswith("/"):
        record["error"] = "directPath does not start with /"
        return record
    blob = cdn.lookup(where)
    cdn.downloads.append({"method": "GET", "by": device, "path": where.split("?")[0], "status": 200 if blob else 404, "t": time.time()})
    if blob is None:
        record["error"] = "404: the CDN has no such path"
        return record
    blob.downloads += 1
    if len(part.mediaKey) != 32:
        record["error"] = "mediaKey is not 32 bytes"
        return record
    try:
        plaintext = media_crypto.decrypt(blob.data, kind, part.mediaKey, part.fileSHA256 if part.HasField("fileSHA256") else None,
                                         part.fileEncSHA256 if part.HasField("fileEncSHA256") else None)
    except media_crypto.MediaError as error:
        record["error"] = error.reason
        return record
    missing = [name for name in ("fileSHA256", "fileEncSHA256", "mediaKey", "fileLength", "mimetype") if not part.HasField(name)]
    record.update(ok=True, sha256=hashlib.sha256(plaintext).hexdigest(), length=len(plaintext),
                  lengthMatches=part.fileLength == len(plaintext), missingFields=missing)
    cdn.received[(device, msg_id)] = plaintext
    return record
