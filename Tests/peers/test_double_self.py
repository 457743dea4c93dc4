"""The double's own checks: what it refuses from clients that get things wrong, and its control
API's errors. A Python companion (wadouble/probe.py) plays the client, because real whatsmeow
never makes these mistakes. Faithfulness itself is shown by test_double_with_neonize.py.

Run:  .venv-test/bin/python Tests/peers/test_double_self.py   (or with -m pytest)
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_double_with_neonize import Double  # noqa: E402
from wadouble.binary import JID, Node, marshal, unmarshal  # noqa: E402
from wadouble.probe import Companion, Connection  # noqa: E402
from wadouble.transcript import contains_in_order, normalise, signature  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

PHONE = "60123456789"


def start() -> Double:
    return Double(tempfile.mkdtemp(prefix="double-self-"))


def unpaired(double: Double) -> tuple[Companion, Connection, list[str]]:
    companion = Companion()
    connection = Connection(double.info, companion)
    pair_device = connection.receive()
    assert pair_device.attrs["from"] == JID("", "s.whatsapp.net") and pair_device.attr("xmlns") == "md", pair_device
    refs = [ref.data().decode() for ref in pair_device.child("pair-device").children()]
    assert len(refs) == 6 and len(set(refs)) == 6, refs
    connection.send(Node("iq", {"to": JID("", "s.whatsapp.net"), "id": pair_device.attr("id"), "type": "result"}))
    return companion, connection, refs


def scan_in_background(double: Double, qr: str) -> dict:
    outcome: dict = {}

    def run() -> None:
        outcome["status"], outcome["answer"] = double.call("POST", "/phone/scan", {"qr": qr, "phone": PHONE})
    thread = threading.Thread(target=run)
    thread.start()
    outcome["thread"] = thread
    return outcome


def pair(double: Double, mistake: str = "") -> tuple[Companion, Connection, dict]:
    companion, connection, refs = unpaired(double)
    outcome = scan_in_background(double, companion.qr(refs[0]))
    success = connection.receive()
    device = success.child("pair-success", "device")
    assert isinstance(device.attrs["jid"], JID) and isinstance(device.attrs["lid"], JID), device
    content, key_index = companion.sign_pair_success(success.child("pair-success", "device-identity").data(), mistake)
    connection.send(Node("iq", {"to": JID("", "s.whatsapp.net"), "id": success.attr("id"), "type": "result"}, [
        Node("pair-device-sign", {}, [Node("device-identity", {"key-index": str(key_index)}, content)])]))
    outcome["thread"].join(30)
    companion.jid = device.attrs["jid"]
    return companion, connection, outcome


def test_codec_round_trip():
    node = Node("iq", {"id": "1.2-3", "to": JID("", "s.whatsapp.net"), "from": JID("60123", "s.whatsapp.net", 3),
                       "lid": JID("99", "lid", 3), "t": "1700000000", "hex": "ABCDEF0", "text": "hello world"}, [
        Node("ref", {}, b"\x00\x01binary"), Node("count", {"value": "5"}), Node("empty")])
    data = marshal(node)
    assert data[0] == 0
    back = unmarshal(data)
    assert back == node, (back, node)
    assert unmarshal(b"\x02" + __import__("zlib").compress(data[1:])) == node, "compressed frames (flag 2) decode"


def test_pairing_with_a_correct_companion_then_login():
    double = start()
    try:
        companion, connection, outcome = pair(double)
        assert outcome["status"] == 200, outcome
        restart = connection.receive()
        assert restart.tag == "stream:error" and restart.attr("code") == "515", restart
        login = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        success = login.receive()
        assert success.tag == "success" and isinstance(success.attrs["lid"], JID) and success.attr("t").isdigit(), success
        login.send(Node("iq", {"id": "a1", "to": JID("", "s.whatsapp.net"), "type": "get", "xmlns": "w:p"}))
        answers = [login.receive() for _ in range(2)]
        assert [a.tag for a in answers] == ["ib", "iq"] and answers[1].attr("id") == "a1" and answers[1].attr("type") == "result"
        login.send(Node("iq", {"id": "a2", "to": JID("", "s.whatsapp.net"), "type": "get", "xmlns": "nonsense"}, [Node("x")]))
        error = login.receive()
        assert error.attr("type") == "error" and error.child("error").attr("code") == "501", error
        assert double.ok("POST", "/fault", {"jid": str(companion.jid), "kind": "stream_error_500"})["applied"] == [2]
        stream_error = login.receive()
        assert stream_error.tag == "stream:error" and stream_error.attr("code") == "500", stream_error
        login = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        assert [login.receive().tag for _ in range(2)] == ["success", "ib"]
        second = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        assert second.receive().tag == "success"
        replaced = login.receive()
        assert replaced.tag == "stream:error" and replaced.child("conflict").attr("type") == "replaced", replaced
        login = second
        assert login.receive().tag == "ib"
        transcript = double.ok("GET", f"/transcript?jid={companion.jid}")["connections"]
        assert len(transcript) == 4 and all(t["signatures"][0].startswith("in #client-payload[") for t in transcript)
        removed = double.ok("POST", "/phone/remove-device", {"jid": str(companion.jid)})
        assert removed["notified"] == [4], removed
        error = login.receive()
        assert error.tag == "stream:error" and error.attr("code") == "401", error
        assert error.child("conflict").attr("type") == "device_removed", error
        assert double.ok("GET", "/state")["devices"] == []
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_pair_device_sign_mistakes_are_refused():
    for mistake, words in (("device-signature", "device signature invalid"), ("keep-account-key", "accountSignatureKey not removed")):
        double = start()
        try:
            _, connection, outcome = pair(double, mistake)
            assert outcome["status"] == 422 and words in outcome["answer"]["error"], (mistake, outcome)
            assert double.ok("GET", "/state")["devices"] == [], "nothing paired"
            entries = double.ok("GET", "/transcript?conn=1")["connections"][0]["signatures"]
            assert "out stream:error[code=515]" not in entries, entries
        finally:
            double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_scan_refusals():
    double = start()
    try:
        companion, connection, refs = unpaired(double)
        status, answer = double.call("POST", "/phone/scan", {"qr": companion.qr("2@unknown"), "phone": PHONE})
        assert status == 404, answer
        status, answer = double.call("POST", "/phone/scan", {"qr": companion.qr(refs[1], noise_public=os.urandom(32)), "phone": PHONE})
        assert status == 409 and "Noise key" in answer["error"], answer
        status, answer = double.call("POST", "/phone/scan", {"qr": "https://wa.me/settings/linked_devices#a,b", "phone": PHONE})
        assert status == 400, answer
        status, answer = double.call("POST", "/phone/scan", {"qr": companion.qr(refs[1]), "phone": "0123"})
        assert status == 400, answer
        status, answer = double.call("POST", "/phone/enter-code", {"code": "ABCD-EFGH", "phone": PHONE})
        assert status == 404, answer
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_unknown_device_login_fails_401_and_faults():
    double = start()
    try:
        stranger = Connection(double.info, Companion(), login=(60111111111, 4))
        failure = stranger.receive()
        assert failure.tag == "failure" and failure.attr("reason") == "401", failure
        status, answer = double.call("POST", "/fault", {"kind": "explode"})
        assert status == 400, answer
        assert double.ok("POST", "/fault", {"kind": "failure_403"})["queued"] is True
        other = Connection(double.info, Companion(), login=(60122222222, 1))
        assert other.receive().attr("reason") == "403", "a fault without jid goes to the next client"
        assert double.ok("GET", "/clients")["faults"] == []
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_transport_and_control_refusals():
    double = start()
    try:
        for kwargs in ({"origin": "https://evil.example"}, {"path": "/ws/other"}):
            try:
                Connection(double.info, Companion(), **kwargs)
                raise AssertionError(f"{kwargs} was accepted")
            except InvalidStatus as error:
                assert error.response.status_code == 403
        with socket.create_connection(("127.0.0.1", double.info["proxyPort"])) as proxy:
            proxy.sendall(b"GET http://web.whatsapp.com/ HTTP/1.1\r\nHost: web.whatsapp.com\r\n\r\n")
            assert proxy.recv(100).startswith(b"HTTP/1.1 405")
        with socket.create_connection(("127.0.0.1", double.info["socksPort"])) as socks:
            socks.sendall(b"\x05\x01\x02")
            assert socks.recv(2) == b"\x05\x02"
            socks.sendall(b"\x01\x04user\x05wrong")
            assert socks.recv(2) == b"\x01\x01", "wrong SOCKS5 password refused"
        with socket.create_connection(("127.0.0.1", double.info["controlPort"])) as control:
            control.sendall(b"POST /fault HTTP/1.1\r\nContent-Length: 1\r\n\r\n{")
            assert control.recv(100).startswith(b"HTTP/1.1 400"), "a body that is not JSON"
        assert double.call("GET", "/nothing")[0] == 404
        assert double.call("GET", "/transcript?conn=99")[0] == 404
        assert double.call("POST", "/phone/remove-device", {"jid": "1:1@s.whatsapp.net"})[0] == 404
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_contacts_usync_and_redelivery():
    """Simulated contacts in usync (devices with key-index on linked devices only, lid, contact in/out), a
    phone's message delivered again after a login when the companion never answered it, and control errors."""
    double = start()
    try:
        companion, connection, outcome = pair(double)
        assert connection.receive().attr("code") == "515"
        made = double.ok("POST", "/contacts/defaults", {})
        tom = made["twoDevices"]
        login = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        assert [login.receive().tag for _ in range(2)] == ["success", "ib"]
        server = JID("", "s.whatsapp.net")
        login.send(Node("iq", {"id": "u1", "to": server, "type": "get", "xmlns": "usync"}, [
            Node("usync", {"sid": "s1", "mode": "query", "last": "true", "index": "0", "context": "interactive"}, [
                Node("query", {}, [Node("contact"), Node("devices", {"version": "2"}), Node("lid")]),
                Node("list", {}, [Node("user", {}, [Node("contact", {}, "+60111222333@c.us")]),
                                  Node("user", {}, [Node("contact", {}, "+60999000111@c.us")])])])]))
        users = login.receive().child("usync", "list").children()
        known, unknown = users
        assert known.child("contact").attr("type") == "in" and known.child("contact").data() == b"+60111222333@c.us", known
        assert [d.attrs for d in known.child("devices", "device-list").children()] == [{"id": "0"}, {"id": "2", "key-index": "2"}], known
        assert str(known.child("lid").attrs["val"]) == tom["lid"], known
        assert unknown.child("contact").attr("type") == "out" and unknown.child("lid").attrs == {}, unknown
        assert unknown.child("devices", "device-list").children() == [], unknown

        sent = double.ok("POST", "/contacts/send", {"from": "60111222333", "to": PHONE, "text": "never answered"})
        first = login.receive()
        assert first.tag == "message" and first.attr("id") == sent["id"] and first.child("enc").attr("type") == "pkmsg", first
        assert str(first.attrs["from"]) == "60111222333@s.whatsapp.net" and str(first.attrs["sender_lid"]) == tom["lid"], first
        login.close()
        assert double.ok("GET", "/state")["unacked"] == {str(companion.jid): [sent["id"]]}
        again = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        replayed = [again.receive() for _ in range(3)]
        assert [n.tag for n in replayed] == ["success", "message", "ib"] and replayed[1].attr("id") == sent["id"], replayed
        assert replayed[1].child("enc").data() == first.child("enc").data(), "the same ciphertext again, not a new encryption"
        again.send(Node("receipt", {"id": sent["id"], "to": first.attrs["from"]}))
        assert again.receive().tag == "ack"
        assert double.ok("GET", "/state")["unacked"] == {}
        record = double.ok("GET", "/contacts")["sent"][0]
        assert [r["type"] for r in record["receipts"]] == ["delivery"], record

        many = double.ok("POST", "/contacts/send", {"from": "60144455566", "to": PHONE, "text": "load", "repeat": 3})
        replies = [again.receive() for _ in range(3)]
        assert [n.attr("id") for n in replies] == many["ids"] and len(set(many["ids"])) == 3, (replies, many)
        assert [n.child("enc").attr("type") for n in replies] == ["pkmsg"] * 3 and many["sentAt"] == sorted(many["sentAt"])
        assert str(replies[0].attrs["sender_pn"]) == "60144455566@s.whatsapp.net", replies[0]
        double.ok("POST", "/contacts", {"phone": "60144455566", "addressing": "lid", "senderPn": False})
        hidden = double.ok("POST", "/contacts/send", {"from": "60144455566", "to": PHONE, "text": "who am I"})
        stanza = again.receive()
        assert stanza.attr("id") == hidden["id"] and "sender_pn" not in stanza.attrs and stanza.attrs["from"].server == "lid", stanza

        # Fault: the next message is relayed but never acked; the one after is acked again.
        assert double.ok("POST", "/fault", {"jid": str(companion.jid), "kind": "no_ack_for_next_message"})["applied"]
        for msg_id in ("3EB0AAAA", "3EB0BBBB"):
            again.send(Node("message", {"id": msg_id, "to": JID("60111222333", "s.whatsapp.net"), "type": "text"}, [
                Node("participants", {}, [Node("to", {"jid": JID("60111222333", "s.whatsapp.net", 2)}, [
                    Node("enc", {"v": "2", "type": "msg"}, b"\x33not a signal message")])])]))
        ack = again.receive()
        assert ack.tag == "ack" and ack.attr("id") == "3EB0BBBB" and ack.attr("phash").startswith("2:"), ack
        relayed = {m["id"]: m for m in double.ok("GET", "/state")["messages"]}
        assert relayed["3EB0AAAA"].get("ackDropped") and not relayed["3EB0BBBB"].get("ackDropped"), relayed
        web = next(d for a in double.ok("GET", "/contacts")["contacts"] if a["phone"] == "60111222333" for d in a["devices"] if d["device"] == 2)
        assert [e["id"] for e in web["inbox"] if "error" in e] == ["3EB0AAAA", "3EB0BBBB"], web["inbox"]  # garbage does not decrypt

        for body, status in (({"from": "60999000111", "to": PHONE, "text": "x"}, 404),
                             ({"from": "60111222333", "to": "60999000111", "text": "x"}, 404),
                             ({"from": "60111222333", "to": PHONE}, 400),
                             ({"from": "60111222333", "group": "1@g.us", "text": "x"}, 404)):
            assert double.call("POST", "/contacts/send", body)[0] == status, body
        assert double.call("POST", "/contacts", {"phone": PHONE, "devices": [1]})[0] == 409  # device 1 is the companion
        assert double.call("POST", "/contacts/device", {"phone": "60111222333", "remove": 0})[0] == 400
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_normaliser_folds_and_drops():
    key = {"tag": "key", "attrs": {}, "children": [{"tag": "id", "attrs": {}, "content": {"bytes": 3}}]}
    entries = [{"dir": "in", "tag": "iq", "attrs": {"id": "1", "type": "set", "xmlns": "encrypt"},
                "children": [{"tag": "list", "attrs": {}, "children": [key] * 3}]}]
    line = signature(normalise(entries)[0])
    assert line == "in iq[id,type=set,xmlns=encrypt]{list[]{key[]{id[]}*}}", line
    assert contains_in_order(normalise(entries), [line]) == []
    assert contains_in_order(normalise(entries), ["in iq[]"]) != []


def main() -> int:
    failures = 0
    for name, function in [(n, f) for n, f in globals().items() if n.startswith("test_")]:
        try:
            function()
            print(f"PASS {name}", flush=True)
        except Exception as error:  # noqa: BLE001
            failures += 1
            print(f"FAIL {name}: {error!r}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
