"""Users, devices and 1:1 message relay: usync (devices, lid, contact; a LID user asked about with <lid/>
is answered with its phone number in pn_jid), and `message`/`receipt`
stanzas carried between the companions paired on this double (whatsmeow user.go, send.go,
message.go, receipt.go read from the server's side).

The double relays ciphertext it cannot read: Signal runs end to end between the clients. A
message for a device that is offline waits and is delivered after that device's next `success`.
A user's devices are its companions paired here and its simulated devices (contacts.py: the
phone, device 0, and linked web clients, played by python-axolotl); a number with neither has
no device list and is reported as not on WhatsApp (`contact type="out"`, no `lid`).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .binary import JID, Node
from .contacts import participant_hash

if TYPE_CHECKING:
    from .registry import Device
    from .session import Connection, Server

SERVER = JID("", "s.whatsapp.net")


def pn_jid(device: "Device", with_device: bool = True) -> JID:
    return JID(device.phone, "s.whatsapp.net", device.device if with_device else 0)


def lid_jid(device: "Device", with_device: bool = True) -> JID:
    return JID(device.lid_user, "lid", device.device if with_device else 0)


def _as_jid(value) -> JID | None:
    return value if isinstance(value, JID) else JID.parse(str(value)) if value else None


def devices_of(server: "Server", user: JID) -> list["Device"]:
    """A user's companions and simulated devices (PN or LID user JID, device part ignored), by device number."""
    found = [d for d in server.registry.devices.values()
             if (user.server == "s.whatsapp.net" and d.phone == user.user) or (user.server == "lid" and d.lid_user == user.user)]
    return sorted(found + server.contacts.devices_of(user), key=lambda d: d.device)


def is_simulated(device) -> bool:
    return getattr(device, "simulated", False)


def participant_hash_for(server: "Server", users: list[JID]) -> str:
    """The `phash` of a 1:1 send: every device of the recipient and of the sender, in the addressing of `to`
    (send.go sendDM: participantListHashV2 over GetUserDevices([to, own user]))."""
    seen, devices = set(), []
    for user in users:
        for device in devices_of(server, user):
            jid = JID(device.lid_user if user.server == "lid" else device.phone, user.server, device.device)
            if jid not in seen:
                seen.add(jid)
                devices.append(jid)
    return participant_hash(devices)


def device_by_jid(server: "Server", jid: JID) -> "Device | None":
    return next((d for d in devices_of(server, jid) if d.device == jid.device), None)


def _lid_user(server: "Server", user: JID) -> str | None:
    """The LID behind a phone-number user; none for a user already named by LID (whatsmeow's GetUserInfo would
    otherwise store the LID as its own phone number)."""
    if user.server == "lid":
        return None
    known = devices_of(server, user)
    return known[0].lid_user if known else None


def _phone_of_lid(server: "Server", user: JID) -> str | None:
    """The phone number behind a LID user with devices here (a contact or a paired account)."""
    if user.server != "lid":
        return None
    known = devices_of(server, user)
    return known[0].phone if known else None


def _contact_number(item: Node) -> str:
    contact = item.child("contact")
    return contact.data().decode(errors="replace").split("@")[0].lstrip("+") if contact is not None else ""


def usync_result(server: "Server", request: Node) -> Node:
    usync = request.child("usync")
    queries = [child.tag for child in (usync.child("query").children() if usync.child("query") else [])]
    users = []
    for item in usync.child("list").children() if usync.child("list") else []:
        jid = _as_jid(item.attrs.get("jid"))
        contact = item.child("contact")
        if jid is None and contact is not None:
            jid = JID(_contact_number(item), "s.whatsapp.net")
        if jid is None:
            continue
        jid = jid.non_device()
        devices = devices_of(server, jid)
        children = []
        for query in queries:
            if query == "devices":
                children.append(Node("devices", {}, [Node("device-list", {}, [
                    Node("device", {"id": str(d.device), **({"key-index": str(d.device)} if d.device else {})}) for d in devices])]))
            elif query == "lid":
                lid = _lid_user(server, jid)
                children.append(Node("lid", {"val": JID(lid, "lid")} if lid else {}))
            elif query == "contact":
                # IsOnWhatsApp (user.go) reads type="in"|"out" and the query echoed as content.
                children.append(Node("contact", {"type": "in" if devices else "out"}, contact.data() if contact is not None else None))
            else:
                children.append(Node(query))
        attrs = {"jid": jid}
        phone = _phone_of_lid(server, jid) if "lid" in queries else None
        if phone:
            # A LID user asked about with <lid/>: named by LID with its number in pn_jid, as LID-mode answers
            # name users (user.go IsOnWhatsApp reads jid + pn_jid); how a client learns the number of a LID
            # that sent without sender_pn.
            attrs["pn_jid"] = JID(phone, "s.whatsapp.net")
        users.append(Node("user", attrs, children))
    attrs = {k: usync.attrs[k] for k in ("sid", "mode", "context", "index", "last") if k in usync.attrs}
    return Node("iq", {"from": SERVER, "type": "result", "id": request.attr("id")}, [
        Node("usync", attrs, [Node("result", {}, [Node(q) for q in queries]), Node("list", {}, users)])])


def _deliverable(sender: "Device", target: "Device", message: Node, enc: Node, chat: JID | None) -> Node:
    attrs = {"from": lid_jid(sender), "id": message.attr("id"), "type": message.attr("type") or "text",
             "t": str(int(time.time())), "notify": sender.push_name, "sender_pn": pn_jid(sender, with_device=False)}
    if target.phone == sender.phone and chat is not None:
        attrs["recipient"] = chat  # a copy for the sender's own other device (DeviceSentMessage)
    children = [enc]
    identity = message.child("device-identity")
    if identity is not None and enc.attr("type") == "pkmsg":
        children.append(identity)
    return Node("message", attrs, children)


async def relay_message(connection: "Connection", message: Node) -> None:
    server, sender = connection.server, connection.device
    if connection.drop_messages:  # the drop_messages fault: the message vanishes, no relay, no ack
        server.dropped.append(message.attr("id"))
        return
    chat = _as_jid(message.attrs.get("to"))
    if sender is None or chat is None:
        await connection.send(Node("ack", {"class": "message", "id": message.attr("id"), "from": SERVER, "error": "401"}))
        return
    deliveries, simulated = [], []
    participants = message.child("participants")
    targets = [(_as_jid(to.attrs.get("jid")), to.child("enc")) for to in participants.children()] if participants else []
    if not targets and message.child("enc") is not None:
        if chat.device or message.attr("device_fanout") == "false":
            # A retry answer (retry.go: to = the device that asked, device_fanout="false"): that device only.
            targets = [(chat, message.child("enc"))]
        else:
            targets = [(JID(chat.user, chat.server, d.device), message.child("enc")) for d in devices_of(server, chat)]
    for jid, enc in targets:
        target = device_by_jid(server, jid) if jid else None
        if target is None or enc is None:
            deliveries.append({"to": str(jid), "delivered": False, "reason": "unknown device"})
            continue
        stanza = _deliverable(sender, target, message, enc, chat)
        if is_simulated(target):
            simulated.append((target, stanza))
            deliveries.append({"to": target.lid, "delivered": True, "simulated": True})
            continue
        if await deliver_message(server, target.jid, stanza):
            deliveries.append({"to": target.lid, "delivered": True})
        else:
            deliveries.append({"to": target.lid, "delivered": False, "reason": "offline, queued"})
    ack = {"class": "message", "id": message.attr("id"), "from": chat, "t": str(int(time.time()))}
    if participants is not None and chat.server in ("lid", "s.whatsapp.net"):
        ack["phash"] = participant_hash_for(server, [chat.non_device(), JID(sender.lid_user if chat.server == "lid" else sender.phone, chat.server)])
    server.messages.append({"id": message.attr("id"), "from": sender.jid, "to": str(chat), "t": int(time.time()),
                            "deliveries": deliveries, "receipts": [], "phash": ack.get("phash")})
    if connection.drop_next_ack:
        connection.drop_next_ack = False  # fault: relayed, but the sender never hears back
        server.messages[-1]["ackDropped"] = True
    else:
        await connection.send(Node("ack", ack))
    for target, stanza in simulated:  # the phones answer after the server's ack, as a real peer would
        await server.contacts.receive(target, sender, stanza, connection)


async def relay_receipt(connection: "Connection", receipt: Node) -> None:
    server, sender = connection.server, connection.device
    if sender is not None:
        settle(server, sender.jid, _receipt_ids(receipt))
    await connection.send(Node("ack", {"class": "receipt", "id": receipt.attr("id"), "from": SERVER,
                                       **({"type": receipt.attr("type")} if receipt.attr("type") else {})}))
    target = _as_jid(receipt.attrs.get("to"))
    if sender is None or target is None:
        return
    ids = [receipt.attr("id")] + [item.attr("id") for item in (receipt.child("list").children() if receipt.child("list") else [])]
    if server.contacts.owns_message(receipt.attr("id")):
        await server.contacts.on_receipt(connection, receipt)  # a receipt for a simulated device's message
        return
    for record in server.messages:
        if record["id"] in ids:
            record["receipts"].append({"from": sender.jid, "type": receipt.attr("type") or "delivery"})
    attrs = {"from": lid_jid(sender), "id": receipt.attr("id"), "t": str(int(time.time()))}
    if receipt.attr("type"):
        attrs["type"] = receipt.attr("type")
    stanza = Node("receipt", attrs, receipt.content if isinstance(receipt.content, list) else None)
    for device in devices_of(server, target):
        if (target.device and device.device != target.device) or is_simulated(device):
            continue
        for other in server.live_connections(device.jid):
            if other.state == "logged-in" and other is not connection:
                await other.send(stanza)


def prekey_bundle(server: "Server", request: Node) -> Node:
    """One <user> of an `encrypt`/`key` answer: the device's bundle, consuming its lowest one-time prekey."""
    jid = _as_jid(request.attrs.get("jid"))
    device = device_by_jid(server, jid) if jid else None
    if device is not None and is_simulated(device):
        bundle = device.signal.claim_bundle()
        (key_id, key), (skey_id, skey, signature) = bundle["prekey"], bundle["signed"]
        return Node("user", {"jid": jid}, [
            Node("registration", {}, bundle["registration"].to_bytes(4, "big")), Node("type", {}, b"\x05"),
            Node("identity", {}, bundle["identity"]),
            Node("key", {}, [Node("id", {}, key_id.to_bytes(3, "big")), Node("value", {}, key)]),
            Node("skey", {}, [Node("id", {}, skey_id.to_bytes(3, "big")), Node("value", {}, skey), Node("signature", {}, signature)])])
    if device is None or not device.signed_prekey:
        return Node("user", {"jid": jid}, [Node("error", {"code": "404", "text": "item-not-found"})])
    children = [Node("registration", {}, device.registration_id.to_bytes(4, "big")), Node("type", {}, b"\x05"),
                Node("identity", {}, bytes.fromhex(device.identity_key))]
    if device.prekeys:
        key_id = min(device.prekeys, key=int)
        value = device.prekeys.pop(key_id)
        children.append(Node("key", {}, [Node("id", {}, int(key_id).to_bytes(3, "big")), Node("value", {}, bytes.fromhex(value))]))
        server.registry.save()
    skey = device.signed_prekey
    children.append(Node("skey", {}, [Node("id", {}, int(skey["id"]).to_bytes(3, "big")), Node("value", {}, bytes.fromhex(skey["value"])),
                                      Node("signature", {}, bytes.fromhex(skey["signature"]))]))
    return Node("user", {"jid": jid}, children)


def _receipt_ids(receipt: Node) -> list[str]:
    return [receipt.attr("id")] + [item.attr("id") for item in (receipt.child("list").children() if receipt.child("list") else [])]


async def deliver_message(server: "Server", device_jid: str, stanza: Node) -> bool:
    """Sends a `message` stanza to a companion's live connections, or queues it for its next login. Either way
    it stays pending until the companion answers it with a receipt or an ack: a companion that goes away
    first gets it again after its next `success` (WhatsApp re-delivers what was not acknowledged)."""
    live = [c for c in server.live_connections(device_jid) if c.state == "logged-in"]
    for connection in live:
        await connection.send(stanza)
    (server.unacked if live else server.offline).setdefault(device_jid, []).append(stanza)
    return bool(live)


def settle(server: "Server", device_jid: str, ids: list[str]) -> None:
    """The companion answered these message ids: no re-delivery."""
    pending = server.unacked.get(device_jid)
    if pending:
        server.unacked[device_jid] = [s for s in pending if s.attr("id") not in ids]


async def deliver_offline(connection: "Connection") -> int:
    """At login: messages sent before but never answered, then those queued while offline (still pending)."""
    jid = connection.device.jid
    queued = connection.server.unacked.pop(jid, []) + connection.server.offline.pop(jid, [])
    for stanza in queued:
        await connection.send(stanza)
    pending = [stanza for stanza in queued if stanza.tag == "message"]  # receipts are not re-delivered
    if pending:
        connection.server.unacked[jid] = pending
    return len(queued)
