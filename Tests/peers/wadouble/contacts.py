"""Simulated WhatsApp users whose devices are real Signal peers (python-axolotl, signaldevice.py):
the contacts a companion paired on the double talks to, and the account's own primary phone.

An `Account` is a phone number with its LID user (the same seed-derived LID the registry gives
companions of that number), a push name, how the double addresses stanzas from it ("lid": `from`
is the LID device, `sender_pn` gives the number, as current WhatsApp does; "pn": `from` is the
phone-number device, `sender_lid` gives the LID) and devices: 0 = the phone, N = linked web
clients. A number that also has companions paired here is the account's OWN phone: its device 0
identity is the account key that signed those companions.

Simulated devices take part in everything the double does for companions: usync device lists,
prekey bundles (`encrypt`/`key`), message and receipt relay, `devices` notifications. What they
send and receive is recorded for tests (GET /contacts).

Sending (whatsmeow send.go and message.go read from the sender's side): one stanza per target
device, `pkmsg` until the peer answers, `msg` after; copies for the sender's own other devices
wrap the message in a DeviceSentMessage; groups send a SenderKeyDistributionMessage (in a
pkmsg/msg) to devices that lack it, and the content once as `skmsg`. A retry receipt from a
companion makes the device re-send (retry.go handleRetryReceipt: a new session from the receipt's
keys when present, `enc count=N`). Receiving: decrypt, record, answer with a delivery receipt;
`fail_next` makes a device answer the next messages with retry receipts instead (retry.go
sendRetryReceipt, keys from the second retry).
"""
from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import axolotl_curve25519 as curve
from google.protobuf.json_format import MessageToDict

from wa_protos import adv, e2e

from .binary import JID, Node
from .errors import ControlError
from .media import media_content, receive_media
from .phone import PrimaryPhone
from .signaldevice import SignalDevice, corrupt

if TYPE_CHECKING:
    from .registry import Device
    from .session import Server

MAX_RETRIES = 10  # retry.go: a sender stops answering retry receipts for a message after this many


def message_id() -> str:
    """The current WhatsApp id form: 3EB0 + 18 upper-case hex digits (send.go GenerateMessageID)."""
    return "3EB0" + os.urandom(9).hex().upper()


def signal_name(lid_user: str) -> str:
    """Session key for a peer: its LID user, like whatsmeow's LID SignalAddress."""
    return f"{lid_user}_1"


def participant_hash(devices: list[JID]) -> str:
    """send.go participantListHashV2: sorted `user.agent:device@server` strings, SHA-256, first 6 bytes,
    unpadded standard base64, prefixed "2:"."""
    joined = "".join(sorted(f"{d.user}.{d.agent}:{d.device}@{d.server}" for d in devices))
    return "2:" + base64.b64encode(hashlib.sha256(joined.encode()).digest()[:6]).decode().rstrip("=")


@dataclass(eq=False)
class PhoneDevice:
    """One simulated device; shares the attributes messaging.py reads from registry.Device."""
    account: "Account"
    device: int
    signal: SignalDevice
    inbox: list = field(default_factory=list)
    fail_next: int = 0
    retry_counts: dict = field(default_factory=dict)  # message id -> retry receipts this device sent
    simulated = True

    @property
    def phone(self) -> str:
        return self.account.phone

    @property
    def lid_user(self) -> str:
        return self.account.lid_user

    @property
    def push_name(self) -> str:
        return self.account.push_name

    @property
    def jid(self) -> str:
        return f"{self.phone}:{self.device}@s.whatsapp.net"

    @property
    def lid(self) -> str:
        return f"{self.lid_user}:{self.device}@lid"

    def address(self, server: str) -> JID:
        return JID(self.lid_user if server == "lid" else self.phone, server, self.device)

    def summary(self) -> dict:
        return {"device": self.device, "jid": str(self.address("s.whatsapp.net")), "lid": str(self.address("lid")),
                "identityKey": self.signal.identity_public.hex(), "registrationId": self.signal.registration_id,
                "unclaimedPreKeys": len(self.signal.unclaimed), "failNext": self.fail_next, "inbox": self.inbox}


@dataclass(eq=False)
class Account:
    phone: str
    lid_user: str
    push_name: str
    addressing: str  # "lid" or "pn"
    primary: PrimaryPhone
    devices: dict = field(default_factory=dict)  # device number -> PhoneDevice
    sender_pn: bool = True  # LID-addressed stanzas carry sender_pn (False: the receiver must know the number already)

    def user(self, server: str) -> JID:
        return JID(self.lid_user if server == "lid" else self.phone, server)

    @property
    def home_server(self) -> str:
        return "lid" if self.addressing == "lid" else "s.whatsapp.net"

    def device_identity(self, device: PhoneDevice) -> bytes | None:
        """ADVSignedDeviceIdentity of a linked device (N > 0), signed by the account key as the primary
        phone signs companions (pair.go); the primary phone itself (0) has none."""
        if device.device == 0:
            return None
        details = adv.ADVDeviceIdentity(rawID=int.from_bytes(hashlib.sha256(self.phone.encode()).digest()[:4], "big"),
                                        timestamp=int(time.time()), keyIndex=device.device,
                                        accountType=adv.E2EE, deviceType=adv.E2EE).SerializeToString()
        identity = device.signal.identity_public
        account_signature = curve.calculateSignature(os.urandom(64), self.primary.account_private, b"\x06\x00" + details + identity)
        private = device.signal.store.getIdentityKeyPair().getPrivateKey().getPrivateKey()
        device_signature = curve.calculateSignature(os.urandom(64), private,
                                                    b"\x06\x01" + details + identity + self.primary.account_public)
        return adv.ADVSignedDeviceIdentity(details=details, accountSignatureKey=self.primary.account_public,
                                           accountSignature=account_signature, deviceSignature=device_signature).SerializeToString()

    def summary(self, own: bool) -> dict:
        return {"phone": self.phone, "lid": f"{self.lid_user}@lid", "pn": f"{self.phone}@s.whatsapp.net",
                "pushName": self.push_name, "addressing": self.addressing, "senderPn": self.sender_pn, "own": own,
                "devices": [d.summary() for d in sorted(self.devices.values(), key=lambda d: d.device)]}


class Contacts:
    """The simulated accounts, their groups, and every message they sent (with acks and receipts)."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.accounts: dict[str, Account] = {}
        self.groups: dict[str, dict] = {}  # group JID string -> {"subject", "participants": [phone], "creator", "creation"}
        self.sent: dict[str, dict] = {}  # message id -> record
        self.skdm_sent: set = set()  # (group, sender device jid, target device jid) that have our sender key

    # -- registry ------------------------------------------------------------------------------------
    def add_account(self, phone: str, push_name: str = "", devices: list | None = None, addressing: str = "lid",
                    sender_pn: bool = True) -> Account:
        if not phone.isdigit() or len(phone) < 7:
            raise ControlError(400, "phone must be the international number, digits only")
        if addressing not in ("lid", "pn"):
            raise ControlError(400, "addressing must be lid or pn")
        numbers = sorted({int(n) for n in (devices if devices is not None else [0])})
        if not numbers or numbers[0] < 0 or numbers[-1] > 99:
            raise ControlError(400, "devices must be device numbers 0..99")
        account = self.accounts.get(phone)
        if account is None:
            account = Account(phone=phone, lid_user=self.server.registry.lid_user(phone), push_name=push_name or f"Contact {phone[-4:]}",
                              addressing=addressing, primary=PrimaryPhone(self.server.seed, phone))
            self.accounts[phone] = account
        else:
            account.push_name = push_name or account.push_name
            account.addressing = addressing
        account.sender_pn = sender_pn
        companions = {d.device for d in self.server.registry.devices.values() if d.phone == phone}
        for number in numbers:
            if number in companions:
                raise ControlError(409, f"device {number} of {phone} is a companion paired on the double")
            if number not in account.devices:
                self.make_device(account, number)
        return account

    def make_device(self, account: Account, number: int) -> PhoneDevice:
        if number == 0:
            private = account.primary.account_private  # the phone's identity is the account key
        else:
            private = curve.generatePrivateKey(hashlib.sha256(f"{self.server.seed}/contact/{account.phone}/{number}".encode()).digest())
        device = PhoneDevice(account=account, device=number, signal=SignalDevice(private, f"{self.server.seed}/{account.phone}/{number}"))
        account.devices[number] = device
        return device

    def is_own(self, account: Account) -> bool:
        return any(d.phone == account.phone for d in self.server.registry.devices.values())

    def account_of(self, user: JID) -> Account | None:
        if user.server == "lid":
            return next((a for a in self.accounts.values() if a.lid_user == user.user), None)
        if user.server in ("s.whatsapp.net", "c.us"):
            return self.accounts.get(user.user)
        return None

    def devices_of(self, user: JID) -> list[PhoneDevice]:
        account = self.account_of(user)
        return list(account.devices.values()) if account else []

    def device(self, text: str) -> PhoneDevice:
        """"PHONE" (device 0), "PHONE:N", or a PN/LID device JID."""
        jid = JID.parse(text) if "@" in text else None
        if jid is None:
            phone, _, number = text.partition(":")
            jid = JID(phone, "s.whatsapp.net", int(number) if number.isdigit() else 0)
        account = self.account_of(jid)
        if account is None or jid.device not in account.devices:
            raise ControlError(404, f"no simulated device {text!r}")
        return account.devices[jid.device]

    def summary(self) -> dict:
        return {"contacts": [a.summary(self.is_own(a)) for a in self.accounts.values()],
                "groups": [{"jid": jid, **group} for jid, group in self.groups.items()],
                "sent": [self.public(msg_id) for msg_id in self.sent]}

    def add_group(self, subject: str, participants: list, creator: str | None = None, jid: str | None = None) -> dict:
        members = [str(p) for p in participants]
        if not members:
            raise ControlError(400, "participants must list phone numbers")
        for member in members:
            if member not in self.accounts and not any(d.phone == member for d in self.server.registry.devices.values()):
                raise ControlError(404, f"{member} is neither a contact nor a paired account")
        jid = jid or f"120363{int.from_bytes(os.urandom(6), 'big') % 10**12:012d}@g.us"
        if not jid.endswith("@g.us"):
            raise ControlError(400, "a group JID ends with @g.us")
        self.groups[jid] = {"subject": subject or "Group", "participants": members, "creator": creator or members[0],
                            "creation": int(time.time())}
        return {"jid": jid, **self.groups[jid]}

    def group_info(self, group: JID) -> Node | None:
        """The <group> of a w:g2 group-info answer (group.go parseGroupNode), LID-addressed."""
        info = self.groups.get(str(group))
        if info is None:
            return None
        lid = self.server.registry.lid_user
        participants = [Node("participant", {"jid": JID(lid(p), "lid"), "phone_number": JID(p, "s.whatsapp.net"),
                                             **({"type": "superadmin"} if p == info["creator"] else {})}) for p in info["participants"]]
        creator = JID(lid(info["creator"]), "lid")
        return Node("group", {"id": group.user, "subject": info["subject"], "s_t": str(info["creation"]), "s_o": creator,
                              "creation": str(info["creation"]), "creator": creator, "creator_pn": JID(info["creator"], "s.whatsapp.net"),
                              "addressing_mode": "lid", "size": str(len(participants))}, participants)

    # -- sending from a simulated device --------------------------------------------------------------
    def _targets(self, users: list[JID], sender: PhoneDevice) -> list:
        from .messaging import devices_of
        seen, found = set(), []
        for user in users:
            for device in devices_of(self.server, user):
                if device is sender or device.jid in seen:
                    continue
                seen.add(device.jid)
                found.append(device)
        return found

    def _stanza_attrs(self, sender: PhoneDevice, target, msg_id: str, chat: Account | None, group: str | None) -> dict:
        account, server = sender.account, sender.account.home_server
        attrs = {"id": msg_id, "type": "media" if self._media_type(msg_id) else "text", "t": str(int(time.time())),
                 "notify": account.push_name}
        if group:
            attrs.update({"from": JID.parse(group), "participant": sender.address("lid"),
                          "participant_pn": account.user("s.whatsapp.net"), "addressing_mode": "lid"})
            return attrs
        attrs["from"] = sender.address(server)
        if server == "lid":
            if account.sender_pn:
                attrs["sender_pn"] = account.user("s.whatsapp.net")
        else:
            attrs["sender_lid"] = account.user("lid")
        if chat is not None and target.phone == account.phone:  # our own other device: the chat it was sent to
            attrs["recipient"] = chat.user(server)
            attrs["peer_recipient_pn" if server == "lid" else "peer_recipient_lid"] = chat.user("s.whatsapp.net" if server == "lid" else "lid")
        return attrs

    def _encrypt_for(self, sender: PhoneDevice, target, plaintext: bytes, bundle: dict | None = None) -> tuple[str, bytes, bytes]:
        name = signal_name(target.lid_user)
        if bundle is not None or not sender.signal.has_session(name, target.device):
            if bundle is None:
                bundle = self.bundle_of(target)
                if bundle is None:
                    raise ControlError(409, f"{target.jid} has no prekeys on the double")
            sender.signal.start_session(name, target.device, bundle)
        return sender.signal.encrypt(name, target.device, plaintext)

    def bundle_of(self, target) -> dict | None:
        """The bundle the server hands out for a device, consuming one one-time prekey (as messaging.prekey_bundle)."""
        if getattr(target, "simulated", False):
            return target.signal.claim_bundle()
        if not target.signed_prekey:
            return None
        prekey = None
        if target.prekeys:
            key_id = min(target.prekeys, key=int)
            prekey = (int(key_id), bytes.fromhex(target.prekeys.pop(key_id)))
            self.server.registry.save()
        skey = target.signed_prekey
        return {"registration": target.registration_id, "identity": bytes.fromhex(target.identity_key), "prekey": prekey,
                "signed": (int(skey["id"]), bytes.fromhex(skey["value"]), bytes.fromhex(skey["signature"]))}

    async def send_many(self, body: dict) -> dict:
        """POST /contacts/send with "repeat": N: N messages one after another ("text #1" … "text #N"), for
        benchmarks; answer {"ids", "sentAt"} (sentAt: seconds, float, when each left the phone)."""
        repeat = int(body.get("repeat", 1))
        if repeat < 1 or repeat > 10000 or (repeat > 1 and body.get("id")):
            raise ControlError(400, "repeat is 1..10000; several messages take no id")
        if repeat == 1:
            return await self.send(body)
        media = body.get("media")
        if isinstance(media, dict):
            # N files (seed, seed+1, …), all encrypted and on the CDN before the first message leaves, so the
            # messages go out back to back (a benchmark of concurrent downloads).
            sender = self.device(str(body.get("from", "")))
            seed = int(media.get("seed", 0))
            prepared = [media_content(self.server.cdn, {**media, "seed": seed + n}, sender.jid) for n in range(repeat)]
            sent = [await self.send({**body, "repeat": 1}, prepared=p) for p in prepared]
        else:
            sent = [await self.send({**body, "text": f"{body.get('text', '')} #{n}", "repeat": 1}) for n in range(1, repeat + 1)]
        return {"ids": [m["id"] for m in sent], "sentAt": [m["sentAt"] for m in sent]}

    async def send(self, body: dict, prepared: tuple | None = None) -> dict:
        sender = self.device(str(body.get("from", "")))
        text = str(body.get("text", ""))
        media = body.get("media")
        if not text and not media:
            raise ControlError(400, "text (or media) is required")
        msg_id = str(body.get("id") or message_id())
        if msg_id in self.sent:
            raise ControlError(409, f"message {msg_id} was already sent")
        media_record = None
        if media:
            if not isinstance(media, dict):
                raise ControlError(400, "media is an object")
            content, media_record = prepared or media_content(self.server.cdn, media, sender.jid)
            text = text or media_record.get("caption", "")
        else:
            content = self._content(text, body.get("replyTo"))
        corrupt_for = body.get("corrupt") or []
        corrupt_retries = int(body.get("corruptRetries", 0))
        group = body.get("group")
        if group:
            return await self._send_group(sender, str(group), msg_id, content, corrupt_for)
        to_text = str(body.get("to", ""))
        to_jid = JID.parse(to_text) if "@" in to_text else JID(to_text, "s.whatsapp.net")
        if to_jid is None:
            raise ControlError(400, "to must be a phone number or a user JID")
        from .messaging import devices_of
        recipients = devices_of(self.server, to_jid.non_device())
        if not recipients:
            raise ControlError(404, f"{to_text} has no devices on the double")
        chat_account = self._chat_account(to_jid)
        targets = self._targets([to_jid.non_device(), sender.account.user("s.whatsapp.net")], sender)
        dsm = e2e.Message(deviceSentMessage=e2e.DeviceSentMessage(destinationJID=str(chat_account.user(sender.account.home_server)),
                                                                  message=content))
        record = {"id": msg_id, "from": str(sender.address(sender.account.home_server)), "to": str(chat_account.user("lid")),
                  "toPn": str(chat_account.user("s.whatsapp.net")), "group": None, "text": text, "content": MessageToDict(content),
                  "t": int(time.time()), "sentAt": time.time(), "deliveries": [], "acks": [], "receipts": [], "retries": []}
        if media_record is not None:
            record["media"] = media_record
        self.sent[msg_id] = {**record, "_content": content, "_sender": sender, "_chat": chat_account, "_corrupt_left": {}}
        for target in targets:
            own_copy = target.phone == sender.phone
            plaintext = (dsm if own_copy else content).SerializeToString()
            kind, ciphertext, inner = self._encrypt_for(sender, target, plaintext)
            broken = corrupt_for is True or target.jid in corrupt_for or target.lid in corrupt_for
            if broken:
                ciphertext = corrupt(ciphertext, inner)
                self.sent[msg_id]["_corrupt_left"][target.jid] = corrupt_retries
            children = [Node("enc", self._enc_attrs(kind, msg_id), ciphertext)]
            identity = sender.account.device_identity(sender)
            if kind == "pkmsg" and identity:
                children.append(Node("device-identity", {}, identity))
            stanza = Node("message", self._stanza_attrs(sender, target, msg_id, chat_account, None), children)
            where = await self._deliver(stanza, target, sender)
            self.sent[msg_id]["deliveries"].append({"to": target.lid, "jid": target.jid, "type": kind, "ownCopy": own_copy,
                                                    "corrupted": broken, "delivered": where})
        return self.public(msg_id)

    def _media_type(self, msg_id: str) -> str | None:
        record = self.sent.get(msg_id)
        return record["media"]["mediatype"] if record and record.get("media") else None

    def _enc_attrs(self, kind: str, msg_id: str) -> dict:
        """send.go: the enc of a media message carries mediatype (image, video, ptt, audio, document, …)."""
        media_type = self._media_type(msg_id)
        return {"v": "2", "type": kind, **({"mediatype": media_type} if media_type else {})}

    def _chat_account(self, to_jid: JID) -> Account:
        account = self.account_of(to_jid)
        if account is not None:
            return account
        registry = self.server.registry
        phone = to_jid.user if to_jid.server != "lid" else next(
            (d.phone for d in registry.devices.values() if d.lid_user == to_jid.user), "")
        return Account(phone=phone, lid_user=registry.lid_user(phone) if phone else to_jid.user, push_name="", addressing="lid",
                       primary=None)

    @staticmethod
    def _content(text: str, reply: dict | None) -> "e2e.Message":
        if not reply:
            return e2e.Message(conversation=text)
        context = e2e.ContextInfo(stanzaID=str(reply.get("id", "")), participant=str(reply.get("participant", "")),
                                  quotedMessage=e2e.Message(conversation=str(reply.get("text", ""))))
        return e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(text=text, contextInfo=context))

    async def _send_group(self, sender: PhoneDevice, group: str, msg_id: str, content, corrupt_for) -> dict:
        info = self.groups.get(group)
        if info is None:
            raise ControlError(404, f"no group {group}")
        if sender.phone not in info["participants"]:
            raise ControlError(409, f"{sender.phone} is not in {group}")
        own_name = signal_name(sender.lid_user)
        distribution = sender.signal.sender_key_distribution(group, own_name, sender.device)
        skdm = e2e.Message(senderKeyDistributionMessage=e2e.SenderKeyDistributionMessage(
            groupID=group, axolotlSenderKeyDistributionMessage=distribution))
        skmsg = sender.signal.group_encrypt(group, own_name, sender.device, content.SerializeToString())
        targets = self._targets([JID(p, "s.whatsapp.net") for p in info["participants"]], sender)
        self.sent[msg_id] = {"id": msg_id, "from": str(sender.address("lid")), "to": group, "toPn": None, "group": group,
                             "text": content.conversation or content.extendedTextMessage.text, "content": MessageToDict(content),
                             "t": int(time.time()), "sentAt": time.time(), "deliveries": [], "acks": [], "receipts": [], "retries": [],
                             "_content": content, "_sender": sender, "_chat": None}
        for target in targets:
            children, kinds = [], []
            key = (group, sender.jid, target.jid)
            if key not in self.skdm_sent:
                kind, ciphertext, _ = self._encrypt_for(sender, target, skdm.SerializeToString())
                children.append(Node("enc", {"v": "2", "type": kind}, ciphertext))
                kinds.append(kind)
                self.skdm_sent.add(key)
            broken = corrupt_for is True or target.jid in corrupt_for or target.lid in corrupt_for
            data = skmsg[:-1] + bytes([skmsg[-1] ^ 0x01]) if broken else skmsg  # breaks the sender-key signature
            children.append(Node("enc", {"v": "2", "type": "skmsg"}, data))
            kinds.append("skmsg")
            identity = sender.account.device_identity(sender)
            if "pkmsg" in kinds and identity:
                children.append(Node("device-identity", {}, identity))
            stanza = Node("message", self._stanza_attrs(sender, target, msg_id, None, group), children)
            where = await self._deliver(stanza, target, sender)
            self.sent[msg_id]["deliveries"].append({"to": target.lid, "jid": target.jid, "types": kinds, "corrupted": broken,
                                                    "delivered": where})
        return self.public(msg_id)

    async def _deliver(self, stanza: Node, target, sender: PhoneDevice) -> str:
        """To a companion's live connections (or its offline queue), or into another simulated device."""
        if getattr(target, "simulated", False):
            await self.receive(target, sender, stanza)
            return "simulated"
        from .messaging import deliver_message
        return "live" if await deliver_message(self.server, target.jid, stanza) else "queued"

    def public(self, msg_id: str) -> dict:
        return {k: v for k, v in self.sent[msg_id].items() if not k.startswith("_")}

    # -- what companions answer to a simulated device's message -------------------------------------------
    def record_ack(self, companion: "Device", ack: Node) -> None:
        record = self.sent.get(ack.attr("id"))
        if record is not None:
            record["acks"].append({"from": companion.lid, "class": ack.attr("class"), "type": ack.attr("type"),
                                   "error": ack.attr("error"), "t": int(time.time())})

    def owns_message(self, msg_id: str) -> bool:
        return msg_id in self.sent

    async def on_receipt(self, connection, receipt: Node) -> None:
        """A companion's receipt for a message a simulated device sent: recorded; a retry is answered."""
        companion = connection.device
        ids = [receipt.attr("id")] + [i.attr("id") for i in (receipt.child("list").children() if receipt.child("list") else [])]
        for msg_id in ids:
            record = self.sent.get(msg_id)
            if record is None:
                continue
            entry = {"from": companion.lid, "type": receipt.attr("type") or "delivery", "t": int(time.time())}
            if receipt.attr("participant"):
                entry["participant"] = receipt.attr("participant")
            record["receipts"].append(entry)
            if receipt.attr("type") == "retry" and msg_id == receipt.attr("id"):
                await self._answer_retry(record, companion, receipt)

    async def _answer_retry(self, record: dict, companion: "Device", receipt: Node) -> None:
        sender: PhoneDevice = record["_sender"]
        retry = receipt.child("retry")
        count = int(retry.attr("count") or "1") if retry is not None else 1
        answered = {"from": companion.lid, "count": count, "keys": receipt.child("keys") is not None}
        record["retries"].append(answered)
        if count > MAX_RETRIES:
            answered["resent"] = False
            return
        bundle = None
        keys = receipt.child("keys")
        if keys is not None:
            registration = receipt.child("registration")
            key, skey = keys.child("key"), keys.child("skey")
            bundle = {"registration": int.from_bytes(registration.data(), "big") if registration else companion.registration_id,
                      "identity": keys.child("identity").data(),
                      "prekey": (int.from_bytes(key.child("id").data(), "big"), key.child("value").data()) if key else None,
                      "signed": (int.from_bytes(skey.child("id").data(), "big"), skey.child("value").data(), skey.child("signature").data())}
        content = record["_content"]
        if record["group"]:
            distribution = sender.signal.sender_key_distribution(record["group"], signal_name(sender.lid_user), sender.device)
            plaintext_message = e2e.Message()
            plaintext_message.CopyFrom(content)
            plaintext_message.senderKeyDistributionMessage.CopyFrom(e2e.SenderKeyDistributionMessage(
                groupID=record["group"], axolotlSenderKeyDistributionMessage=distribution))
        elif companion.phone == sender.phone:
            plaintext_message = e2e.Message(deviceSentMessage=e2e.DeviceSentMessage(
                destinationJID=str(record["_chat"].user(sender.account.home_server)), message=content))
        else:
            plaintext_message = content
        kind, ciphertext, inner = self._encrypt_for(sender, companion, plaintext_message.SerializeToString(), bundle)
        corrupt_left = record.get("_corrupt_left", {})
        if corrupt_left.get(companion.jid, 0) > 0:  # "corruptRetries": this re-send breaks too
            corrupt_left[companion.jid] -= 1
            ciphertext = corrupt(ciphertext, inner)
            answered["corrupted"] = True
        children = [Node("enc", {**self._enc_attrs(kind, record["id"]), "count": str(count)}, ciphertext)]
        identity = sender.account.device_identity(sender)
        if kind == "pkmsg" and identity:
            children.append(Node("device-identity", {}, identity))
        attrs = self._stanza_attrs(sender, companion, record["id"], record["_chat"], record["group"])
        if retry is not None and retry.attr("t"):
            attrs["t"] = retry.attr("t")
        answered.update(resent=True, type=kind, delivered=await self._deliver(Node("message", attrs, children), companion, sender))

    # -- receiving on a simulated device -----------------------------------------------------------------------
    async def receive(self, device: PhoneDevice, sender, stanza: Node, connection=None) -> dict:
        """Decrypts a relayed message for `device`, records it, and answers the sender with a receipt
        (delivery, `sender` for the account's own devices) or, when fail_next is set, a retry receipt."""
        attrs = {k: str(v) for k, v in stanza.attrs.items()}
        entry = {"id": attrs.get("id", ""), "device": device.lid, "from": sender.lid, "fromJid": sender.jid,
                 "attrs": attrs, "children": [c.tag for c in stanza.children()],
                 "encTypes": [c.attr("type") for c in stanza.children() if c.tag == "enc"],
                 "encMediaTypes": [c.attr("mediatype") for c in stanza.children() if c.tag == "enc" and c.attr("mediatype")],
                 "count": next((int(c.attr("count")) for c in stanza.children() if c.tag == "enc" and c.attr("count")), 0),
                 "t": int(time.time())}
        device.inbox.append(entry)
        chat_server = JID.parse(attrs["from"]).server if JID.parse(attrs.get("from", "")) else "lid"
        if device.fail_next > 0:
            device.fail_next -= 1
            count = device.retry_counts.get(entry["id"], 0) + 1
            device.retry_counts[entry["id"]] = count
            entry["retryReceipt"] = count
            await self._send_retry_receipt(device, sender, stanza, count, connection, chat_server)
            return entry
        name = signal_name(sender.lid_user)
        message = e2e.Message()
        group = stanza.attr("from") if str(stanza.attrs.get("from", "")).endswith("@g.us") else None
        try:
            for enc in stanza.children():
                if enc.tag != "enc":
                    continue
                kind = enc.attr("type")
                if kind == "skmsg":
                    plaintext = device.signal.group_decrypt(group, name, sender.device, enc.data())
                else:
                    plaintext = device.signal.decrypt(name, sender.device, kind, enc.data())
                part = e2e.Message.FromString(plaintext)
                if part.HasField("senderKeyDistributionMessage") and group:
                    device.signal.group_process(group, name, sender.device,
                                                part.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage)
                    part.ClearField("senderKeyDistributionMessage")
                message.MergeFrom(part)
        except Exception as error:  # noqa: BLE001 - recorded for the test to see
            entry["error"] = f"{type(error).__name__}: {error}"
            return entry
        entry["message"] = MessageToDict(message)
        inner = message.deviceSentMessage.message if message.HasField("deviceSentMessage") else message
        if message.HasField("deviceSentMessage"):
            entry["deviceSent"] = {"destinationJID": message.deviceSentMessage.destinationJID}
        entry["text"] = inner.conversation or inner.extendedTextMessage.text
        media = receive_media(self.server.cdn, inner, device.lid, entry["id"])
        if media is not None:
            entry["media"] = media
        if inner.extendedTextMessage.HasField("contextInfo"):
            context = inner.extendedTextMessage.contextInfo
            entry["quoted"] = {"id": context.stanzaID, "participant": context.participant,
                               "text": context.quotedMessage.conversation or context.quotedMessage.extendedTextMessage.text}
        entry["group"] = group
        if not entry["text"] and not message.ListFields():
            entry["empty"] = True
        receipt = {"from": device.address(chat_server if not group else "lid"), "id": entry["id"], "t": str(int(time.time()))}
        if group:
            receipt["from"] = JID.parse(group)
            receipt["participant"] = device.address("lid")
        elif device.phone == sender.phone:
            receipt["type"] = "sender"
            if stanza.attrs.get("recipient"):
                receipt["recipient"] = stanza.attrs["recipient"]
        entry["receiptSent"] = receipt.get("type", "delivery")
        await self._to_companion(sender, Node("receipt", receipt))
        return entry

    async def _send_retry_receipt(self, device: PhoneDevice, sender, stanza: Node, count: int, connection, chat_server: str) -> None:
        attrs = {"from": device.address(chat_server), "id": stanza.attr("id"), "type": "retry", "t": str(int(time.time()))}
        if str(stanza.attrs.get("from", "")).endswith("@g.us"):
            attrs["from"] = stanza.attrs["from"]
            attrs["participant"] = device.address("lid")
        children = [Node("retry", {"count": str(count), "id": stanza.attr("id"), "t": stanza.attr("t"), "v": "1"}),
                    Node("registration", {}, device.signal.registration_id.to_bytes(4, "big"))]
        if count > 1:
            bundle = device.signal.claim_bundle()
            key_id, key_pub = bundle["prekey"]
            signed_id, signed_pub, signature = bundle["signed"]
            keys = [Node("type", {}, b"\x05"), Node("identity", {}, bundle["identity"]),
                    Node("key", {}, [Node("id", {}, key_id.to_bytes(3, "big")), Node("value", {}, key_pub)]),
                    Node("skey", {}, [Node("id", {}, signed_id.to_bytes(3, "big")), Node("value", {}, signed_pub),
                                      Node("signature", {}, signature)])]
            identity = device.account.device_identity(device)
            if identity:
                keys.append(Node("device-identity", {}, identity))
            children.append(Node("keys", {}, keys))
        await self._to_companion(sender, Node("receipt", attrs, children))

    async def _to_companion(self, companion, stanza: Node) -> None:
        if getattr(companion, "simulated", False):
            return  # between simulated devices receipts are only recorded
        live = [c for c in self.server.live_connections(companion.jid) if c.state == "logged-in"]
        for connection in live:
            await connection.send(stanza)
        if not live:
            self.server.offline.setdefault(companion.jid, []).append(stanza)

    async def send_receipt(self, body: dict) -> dict:
        """POST /contacts/receipt: a simulated device marks messages it received as read (or another type)."""
        device = self.device(str(body.get("from", "")))
        ids = [str(i) for i in body.get("ids", [])]
        kind = str(body.get("type", "read"))
        if not ids:
            raise ControlError(400, "ids must list message ids the device received")
        received = [next((e for e in device.inbox if e["id"] == i and "text" in e), None) for i in ids]
        if any(e is None for e in received):
            raise ControlError(404, f"{device.lid} has not decrypted all of {ids}")
        senders = {e["fromJid"] for e in received}
        if len(senders) != 1:
            raise ControlError(400, "a receipt covers messages of one sender")
        first = received[0]
        from_attr = JID.parse(first["attrs"]["from"])
        attrs = {"id": ids[0], "type": kind, "t": str(int(time.time()))}
        if first.get("group"):
            attrs.update({"from": from_attr, "participant": device.address("lid")})
        else:
            attrs["from"] = device.address(from_attr.server if from_attr else "lid")
        children = [Node("list", {}, [Node("item", {"id": i}) for i in ids[1:]])] if len(ids) > 1 else None
        companion = self.server.registry.by_jid(first["fromJid"])
        if companion is None:
            raise ControlError(404, f"the sender {first['fromJid']} is not paired any more")
        await self._to_companion(companion, Node("receipt", attrs, children))
        for entry in received:
            entry.setdefault("receiptsSent", []).append(kind)
        return {"sent": kind, "ids": ids, "to": companion.lid}

    # -- device list changes -------------------------------------------------------------------------------------
    async def change_device(self, body: dict) -> dict:
        """POST /contacts/device {"phone", "add": N} or {"phone", "remove": N}: changes the account's devices and
        (unless "notify": false, which leaves companions with a stale list and a phash mismatch on their next send)
        sends every logged-in companion of another account a `devices` notification (notification.go
        handleDeviceNotification: <notification from=LID_USER type="devices"><add|remove device_hash><device jid/></…>)."""
        account = self.accounts.get(str(body.get("phone", "")))
        if account is None:
            raise ControlError(404, "no such contact")
        if "add" in body:
            number, tag = int(body["add"]), "add"
            if number in account.devices:
                raise ControlError(409, f"device {number} exists")
            self.make_device(account, number)
        elif "remove" in body:
            number, tag = int(body["remove"]), "remove"
            if number not in account.devices or number == 0:
                raise ControlError(404 if number not in account.devices else 400, "the phone (0) stays; remove a linked device")
            del account.devices[number]
        else:
            raise ControlError(400, "add or remove a device number")
        from .messaging import devices_of
        # From the LID user, devices as LID JIDs: whatsmeow keys its device cache by the JID it sent to, the LID
        # after its PN->LID rewrite, and ignores a notification whose `from` has no cached list.
        lid = [JID(account.lid_user, "lid", d.device) for d in devices_of(self.server, account.user("lid"))]
        change = Node(tag, {"device_hash": participant_hash(lid)}, [Node("device", {"jid": JID(account.lid_user, "lid", number)})])
        notified = []
        for connection in list(self.server.connections.values()) if body.get("notify", True) else []:
            if connection.closed or connection.state != "logged-in" or connection.device is None or connection.device.phone == account.phone:
                continue
            await connection.send(Node("notification", {"from": account.user("lid"), "type": "devices", "id": self.server.new_id(),
                                                         "t": str(int(time.time()))}, [change]))
            notified.append(connection.number)
        return {"phone": account.phone, tag: number, "devices": sorted(account.devices), "notified": notified,
                "deviceHash": change.attrs["device_hash"]}
