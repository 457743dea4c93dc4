"""Real whatsmeow (neonize 0.5.2 bundles its Go code) driven against the WhatsApp server double.

neonize pins WhatsApp's Noise root key (whatsmeow WACertPubKey, 32 bytes found exactly once in
its shared library). `patched_neonize` copies the installed package to a directory of our own
with those bytes replaced by the double's test root, so the real client accepts the double's
certificate chain; nothing else in the library changes. The WebSocket goes through the
double's HTTP CONNECT proxy and TLS is checked against the double's CA (SSL_CERT_FILE).

Run one client per process (the Go library keeps global state):
    python Tests/peers/neonize_client.py --root HEX --proxy PORT --ca FILE --db FILE
Commands, one per line on stdin:  connect | pair-code PHONE | presence available|unavailable | logout
                                  | disconnect | store-push-name NAME | privacy-settings | send PHONE TEXT
                                  | send-jid JID TEXT (a LID user or group JID) | mark-read CHAT SENDER ID
                                  | group-info GROUP_JID | on-whatsapp PHONE... | user-info JID... | exit
                                  | send-media PHONE|JID image|video|audio|ptt|document FILE [CAPTION]
  send-media uploads FILE with neonize's upload (whatsmeow Upload: media_conn, encrypt, POST to the media host)
  and sends an imageMessage/videoMessage/audioMessage (ptt: PTT set)/documentMessage (fileName = FILE's name).
  store-push-name (before connect) writes the push name into whatsmeow's sqlite device row: WhatsApp
  delivers it by app-state sync from the phone (Signal-encrypted), which the double does not play, and
  whatsmeow refuses to send presence without one.
Output, one JSON object per line on stdout: {"event": "qr", "codes": [...]} | {"event": "pair-code", "code"}
  | {"event": "paired", "jid"} | {"event": "connected"} | {"event": "logged-out", "reason"} | {"event": "disconnected"}
  | {"event": "stream-replaced"} | {"event": "connect-failure", "reason"} | {"event": "done", "command", "error"}
  | {"event": "sent", "id"} | {"event": "message", "id", "text", "chat", "sender", "senderAlt", "fromMe", "pushName",
  "isGroup", "quoted": {"id", "participant", "text"}, "recipientAlt"} | {"event": "receipt", "ids", "type", "sender", "chat"}
  | {"event": "group-info", "name", "participants"} | {"event": "on-whatsapp", "results": [{"query", "jid", "isIn"}]}
  | {"event": "user-info", "users": [{"jid", "devices"}]} (whatsmeow GetUserInfo: the usync full/background with <lid/>)
  | {"event": "sent-media", "id", "type", "url", "directPath", "fileSha256", "fileEncSha256", "fileLength", "sha256", "length"}
  | {"event": "media", "id", "type", "mimetype", "caption", "fileName", "ptt", "fileLength", "sha256", "length", "error"}
    (a received media message, downloaded with neonize's download_any = whatsmeow DownloadAny; "message" has "mediaType")
whatsmeow's own log goes to stderr.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import threading

WHATSAPP_ROOT_KEY = bytes.fromhex("142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")


def patched_neonize(root_key: bytes, directory: str) -> str:
    """Copies neonize into directory/neonize with the pinned root key replaced; returns directory."""
    spec = importlib.util.find_spec("neonize")
    if spec is None or spec.origin is None:
        raise SystemExit("neonize is not installed: run scripts/setup-test-env")
    source = os.path.dirname(spec.origin)
    target = os.path.join(directory, "neonize")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    libraries = [name for name in os.listdir(target) if name.endswith(".so")]
    if len(libraries) != 1:
        raise SystemExit(f"expected one shared library in neonize, found {libraries}")
    path = os.path.join(target, libraries[0])
    with open(path, "rb") as file:
        data = file.read()
    if data.count(WHATSAPP_ROOT_KEY) != 1:
        raise SystemExit(f"the WhatsApp root key occurs {data.count(WHATSAPP_ROOT_KEY)} times in {path}, expected once")
    with open(path, "wb") as file:
        file.write(data.replace(WHATSAPP_ROOT_KEY, root_key))
    return directory


_print_lock = threading.Lock()


def emit(event: str, **fields) -> None:
    with _print_lock:
        print(json.dumps({"event": event, **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the double's noiseRootPublicKey (hex)")
    parser.add_argument("--proxy", required=True, type=int, help="the double's HTTP CONNECT proxy port")
    parser.add_argument("--proxy-url", default=None, help="another proxy URL instead, e.g. socks5://user:secret@127.0.0.1:PORT")
    parser.add_argument("--ca", required=True, help="the double's caFile")
    parser.add_argument("--db", required=True, help="neonize's sqlite store (kept between runs to log in again)")
    parser.add_argument("--workdir", default=None, help="where to put the patched neonize copy")
    arguments = parser.parse_args()

    os.environ["SSL_CERT_FILE"] = arguments.ca
    os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    workdir = arguments.workdir or tempfile.mkdtemp(prefix="neonize-")
    if not os.path.isdir(os.path.join(workdir, "neonize")):
        patched_neonize(bytes.fromhex(arguments.root), workdir)
    sys.path.insert(0, workdir)
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from neonize.client import NewClient  # noqa: E402 - after the patched copy is on sys.path
    from neonize._binder import ProxySettings  # noqa: E402
    from neonize.events import (  # noqa: E402
        ConnectedEv, ConnectFailureEv, DisconnectedEv, LoggedOutEv, PairStatusEv, StreamReplacedEv, ClientOutdatedEv,
        KeepAliveTimeoutEv, KeepAliveRestoredEv, StreamErrorEv, MessageEv, ReceiptEv,
    )
    from neonize.utils.enum import Presence  # noqa: E402
    import neonize

    if not os.path.dirname(neonize.__file__).startswith(workdir):
        raise SystemExit(f"imported {neonize.__file__}, not the patched copy in {workdir}")

    client = NewClient(arguments.db)

    def on_qr(_client, data: bytes) -> None:
        emit("qr", codes=[data.decode()])

    client.event.qr(on_qr)

    @client.event(PairStatusEv)
    def _paired(_client, event) -> None:
        emit("paired", jid=f"{event.ID.User}:{event.ID.Device}@{event.ID.Server}" if event.ID.User else "",
             error=getattr(event, "Error", ""))

    @client.event(ConnectedEv)
    def _connected(_client, _event) -> None:
        emit("connected")

    @client.event(LoggedOutEv)
    def _logged_out(_client, event) -> None:
        emit("logged-out", reason=int(event.Reason), onConnect=bool(event.OnConnect))

    @client.event(DisconnectedEv)
    def _disconnected(_client, _event) -> None:
        emit("disconnected")

    @client.event(StreamReplacedEv)
    def _replaced(_client, _event) -> None:
        emit("stream-replaced")

    @client.event(ConnectFailureEv)
    def _failure(_client, event) -> None:
        emit("connect-failure", reason=int(event.Reason), message=event.Message)

    @client.event(ClientOutdatedEv)
    def _outdated(_client, _event) -> None:
        emit("client-outdated")

    @client.event(StreamErrorEv)
    def _stream_error(_client, event) -> None:
        emit("stream-error", code=event.Code)

    @client.event(KeepAliveTimeoutEv)
    def _keepalive_timeout(_client, event) -> None:
        emit("keepalive-timeout", errorCount=int(event.ErrorCount))

    @client.event(KeepAliveRestoredEv)
    def _keepalive_restored(_client, _event) -> None:
        emit("keepalive-restored")

    def jid_text(jid) -> str:
        return f"{jid.User}{':' + str(jid.Device) if jid.Device else ''}@{jid.Server}" if jid.User else ""

    media_fields = {"imageMessage": "image", "videoMessage": "video", "audioMessage": "audio", "documentMessage": "document",
                    "stickerMessage": "sticker"}

    def download(msg_id: str, kind: str, message) -> None:
        import hashlib
        part = getattr(message, next(f for f, k in media_fields.items() if k == kind))
        info = {"id": msg_id, "type": kind, "mimetype": part.mimetype, "caption": getattr(part, "caption", ""),
                "fileName": getattr(part, "fileName", ""), "ptt": bool(getattr(part, "PTT", False)), "fileLength": int(part.fileLength)}
        try:
            data = client.download_any(message)
        except Exception as error:  # noqa: BLE001 - reported to the driver
            emit("media", **info, error=repr(error))
            return
        emit("media", **info, sha256=hashlib.sha256(data).hexdigest(), length=len(data), error="")

    @client.event(MessageEv)
    def _message(_client, event) -> None:
        source = event.Info.MessageSource
        message = event.Message
        media_kind = next((kind for field, kind in media_fields.items() if message.HasField(field)), None)
        if media_kind is not None:  # downloaded off the event thread: the download calls back into Go
            threading.Thread(target=download, args=(event.Info.ID, media_kind, message), daemon=True).start()
        text = message.conversation or message.extendedTextMessage.text
        context = message.extendedTextMessage.contextInfo
        quoted = {"id": context.stanzaID, "participant": context.participant,
                  "text": context.quotedMessage.conversation} if context.stanzaID else None
        emit("message", id=event.Info.ID, text=text, chat=jid_text(source.Chat), sender=jid_text(source.Sender),
             senderAlt=jid_text(source.SenderAlt), fromMe=bool(source.IsFromMe), pushName=event.Info.Pushname,
             isGroup=bool(source.IsGroup), quoted=quoted, recipientAlt=jid_text(source.RecipientAlt), mediaType=media_kind)

    @client.event(ReceiptEv)
    def _receipt(_client, event) -> None:
        emit("receipt", ids=list(event.MessageIDs), type=int(event.Type), sender=jid_text(event.MessageSource.Sender),
             chat=jid_text(event.MessageSource.Chat))

    def parse_jid(text: str):
        from neonize.utils.jid import build_jid
        user, _, server = text.partition("@")
        user, _, device = user.partition(":")
        jid = build_jid(user, server or "s.whatsapp.net")
        if device:
            jid.Device = int(device)
        return jid

    def connect() -> None:
        try:
            client.connect(ProxySettings(proxy_address=arguments.proxy_url or f"http://127.0.0.1:{arguments.proxy}"))
        except Exception as error:  # noqa: BLE001 - reported to the driver
            emit("connect-returned", error=repr(error))
        else:
            emit("connect-returned", error="")

    def send_media(target: str, kind: str, path: str, caption: str = "") -> None:
        import hashlib
        from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e
        from neonize.utils.enum import MediaType
        with open(path, "rb") as file:
            data = file.read()
        media_type = {"image": MediaType.MediaImage, "video": MediaType.MediaVideo, "audio": MediaType.MediaAudio,
                      "ptt": MediaType.MediaAudio, "document": MediaType.MediaDocument}[kind]
        uploaded = client.upload(data, media_type)
        common = {"URL": uploaded.url, "directPath": uploaded.DirectPath, "mediaKey": uploaded.MediaKey,
                  "fileEncSHA256": uploaded.FileEncSHA256, "fileSHA256": uploaded.FileSHA256, "fileLength": uploaded.FileLength}
        if kind == "image":
            message = e2e.Message(imageMessage=e2e.ImageMessage(**common, mimetype="image/jpeg", caption=caption, width=64, height=48))
        elif kind == "video":
            message = e2e.Message(videoMessage=e2e.VideoMessage(**common, mimetype="video/mp4", caption=caption, seconds=1))
        elif kind in ("audio", "ptt"):
            message = e2e.Message(audioMessage=e2e.AudioMessage(**common, mimetype="audio/ogg; codecs=opus", seconds=1, PTT=kind == "ptt"))
        else:
            message = e2e.Message(documentMessage=e2e.DocumentMessage(**common, mimetype="application/pdf", fileName=os.path.basename(path),
                                                                      title=os.path.basename(path), caption=caption))
        response = client.send_message(parse_jid(target) if "@" in target else build_jid_text(target), message)
        emit("sent-media", id=response.ID, type=kind, url=uploaded.url, directPath=uploaded.DirectPath,
             fileSha256=bytes(uploaded.FileSHA256).hex(), fileEncSha256=bytes(uploaded.FileEncSHA256).hex(),
             fileLength=int(uploaded.FileLength), sha256=hashlib.sha256(data).hexdigest(), length=len(data))

    def build_jid_text(phone: str):
        from neonize.utils.jid import build_jid
        return build_jid(phone)

    def run(command: str, argument: str) -> None:
        if command == "connect":
            threading.Thread(target=connect, daemon=True).start()
        elif command == "pair-code":
            emit("pair-code", code=client.PairPhone(argument, True))
        elif command == "store-push-name":
            import sqlite3
            with sqlite3.connect(arguments.db) as database:
                changed = database.execute("UPDATE whatsmeow_device SET push_name = ?", (argument,)).rowcount
            if changed != 1:
                raise RuntimeError(f"{changed} device rows in {arguments.db}")
        elif command == "presence":
            client.send_presence(Presence.AVAILABLE if argument == "available" else Presence.UNAVAILABLE)
        elif command == "send":
            phone, _, text = argument.partition(" ")
            from neonize.utils.jid import build_jid
            response = client.send_message(build_jid(phone), text)
            emit("sent", id=response.ID, timestamp=int(response.Timestamp))
        elif command == "send-jid":
            target, _, text = argument.partition(" ")
            response = client.send_message(parse_jid(target), text)
            emit("sent", id=response.ID, timestamp=int(response.Timestamp))
        elif command == "send-media":
            send_media(*argument.split(" ", 3))
        elif command == "mark-read":
            chat, sender, message_id = argument.split(" ")
            from neonize.utils.enum import ReceiptType
            client.mark_read(message_id, chat=parse_jid(chat), sender=parse_jid(sender), receipt=ReceiptType.READ)
        elif command == "group-info":
            info = client.get_group_info(parse_jid(argument))
            emit("group-info", name=info.GroupName.Name, participants=[jid_text(p.JID) for p in info.Participants])
        elif command == "on-whatsapp":
            results = client.is_on_whatsapp(*argument.split())
            emit("on-whatsapp", results=[{"query": r.Query, "jid": jid_text(r.JID), "isIn": bool(r.IsIn)} for r in results])
        elif command == "user-info":
            users = client.get_user_info(*[parse_jid(text) for text in argument.split()])
            emit("user-info", users=[{"jid": jid_text(u.JID), "devices": [jid_text(d) for d in u.UserInfo.Devices]} for u in users])
        elif command == "privacy-settings":  # an IQ the double does not implement: expect its 501
            client.get_privacy_settings()
        elif command == "logout":
            client.logout()
        elif command == "disconnect":
            client.disconnect()
        else:
            raise ValueError(f"unknown command {command!r}")

    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if not command:
            continue
        if command == "exit":
            break
        try:
            run(command, argument)
            emit("done", command=command, error="")
        except Exception as error:  # noqa: BLE001 - reported to the driver
            emit("done", command=command, error=repr(error))
    emit("exiting")
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
