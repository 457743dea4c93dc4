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
        # A proxy that requires credentials refuses a client offering none (RFC 1928 method 0xFF).
        assert double.call("POST", "/proxy", {"socksRequireAuth": True}) == (200, {"socksRequireAuth": True})
        with socket.create_connection(("127.0.0.1", double.info["socksPort"])) as socks:
            socks.sendall(b"\x05\x01\x00")
            assert socks.recv(2) == b"\x05\xff", "no-auth refused when credentials are required"
        with socket.create_connection(("127.0.0.1", double.info["socksPort"])) as socks:
            socks.sendall(b"\x05\x02\x00\x02")
            assert socks.recv(2) == b"\x05\x02", "username/password chosen when offered"
        assert double.call("POST", "/proxy", {"socksRequireAuth": "yes"})[0] == 400
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


def https_via_proxy(double: Double, method: str, host: str, target: str, body: bytes = b"", socks: bool = False) -> tuple[int, bytes]:
    """One HTTPS request to `host` through the double's CONNECT (or SOCKS5) proxy, the certificate checked against its CA."""
    import ssl
    raw = socket.create_connection(("127.0.0.1", double.info["socksPort" if socks else "proxyPort"]), timeout=10)
    if socks:
        raw.sendall(b"\x05\x01\x00")
        assert raw.recv(2) == b"\x05\x00"
        raw.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + (443).to_bytes(2, "big"))
        assert raw.recv(10)[:2] == b"\x05\x00"
    else:
        raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += raw.recv(1024)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    context = ssl.create_default_context(cafile=double.info["caFile"])
    tls = context.wrap_socket(raw, server_hostname=host)
    tls.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nOrigin: https://web.whatsapp.com\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    tls.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), payload


def test_media_conn_and_cdn():
    """media_conn names the CDN hosts; an upload as whatsmeow builds it is stored, the direct path downloads the
    exact blob through the proxy (whatsmeow's &hash=…&mms-type=…&__wa-mms= suffix accepted), and the refusals."""
    import base64
    import hashlib
    import json
    import media_crypto
    double = start()
    try:
        companion, connection, outcome = pair(double)
        assert connection.receive().attr("code") == "515"
        login = Connection(double.info, companion, login=(int(companion.jid.user), companion.jid.device))
        assert [login.receive().tag for _ in range(2)] == ["success", "ib"]
        login.send(Node("iq", {"id": "m1", "to": JID("", "s.whatsapp.net"), "type": "set", "xmlns": "w:m"}, [Node("media_conn")]))
        answer = login.receive()
        media_conn = answer.child("media_conn")
        assert answer.attr("type") == "result" and media_conn is not None, answer
        assert {"auth", "ttl", "auth_ttl", "max_buckets"} <= set(media_conn.attrs), media_conn.attrs
        hosts = [h.attr("hostname") for h in media_conn.children()]
        assert hosts == ["mmg.whatsapp.net", "mmg-fallback.whatsapp.net"], hosts
        auth = media_conn.attr("auth")

        encrypted = media_crypto.encrypt(b"%PDF-1.4 tiny" * 50, "document")
        token = encrypted.token
        from urllib.parse import urlencode
        status, body = https_via_proxy(double, "POST", hosts[0], f"/mms/document/{token}?{urlencode({'auth': auth, 'token': token})}",
                                       encrypted.blob)
        assert status == 200, (status, body)
        uploaded = json.loads(body)
        assert uploaded["direct_path"].startswith("/v/") and "?" in uploaded["direct_path"], uploaded
        assert uploaded["url"].startswith("https://mmg.whatsapp.net" + uploaded["direct_path"]), uploaded
        suffix = f"&hash={base64.urlsafe_b64encode(encrypted.file_enc_sha256).decode()}&mms-type=document&__wa-mms="
        for host in hosts:
            status, blob = https_via_proxy(double, "GET", host, uploaded["direct_path"] + suffix)
            assert status == 200 and blob == encrypted.blob, (host, status, len(blob))
        status, blob = https_via_proxy(double, "GET", hosts[1], uploaded["direct_path"], socks=True)
        assert status == 200 and blob == encrypted.blob, "the SOCKS5 proxy routes media hosts to the CDN too"
        plain = media_crypto.decrypt(blob, "document", encrypted.media_key, encrypted.file_sha256, encrypted.file_enc_sha256)
        assert plain == b"%PDF-1.4 tiny" * 50
        targets = [t["target"] for t in double.ok("GET", "/clients")["tunnels"]]
        assert "mmg.whatsapp.net:443" in targets and "mmg-fallback.whatsapp.net:443" in targets, targets

        wrong_auth = f"/mms/document/{token}?{urlencode({'auth': 'nope', 'token': token})}"
        assert https_via_proxy(double, "POST", hosts[0], wrong_auth, encrypted.blob)[0] == 401
        other = media_crypto.encrypt(b"other", "image").token
        assert https_via_proxy(double, "POST", hosts[0], f"/mms/image/{other}?{urlencode({'auth': auth, 'token': other})}",
                               encrypted.blob)[0] == 400, "a token that is not the body's hash"
        path = uploaded["direct_path"]
        assert https_via_proxy(double, "GET", hosts[0], path.replace("oh=01_", "oh=02_"))[0] == 403
        assert https_via_proxy(double, "GET", hosts[0], "/v/t62.7119-24/none.enc?oh=x")[0] == 404
        double.ok("POST", "/cdn/fault", {"status": 404})
        assert https_via_proxy(double, "GET", hosts[0], path)[0] == 404
        double.ok("POST", "/cdn/fault", {"kind": "corrupt"})
        status, corrupted = https_via_proxy(double, "GET", hosts[0], path)
        assert status == 200 and len(corrupted) == len(encrypted.blob) and corrupted != encrypted.blob
        try:
            media_crypto.decrypt(corrupted, "document", encrypted.media_key, encrypted.file_sha256, encrypted.file_enc_sha256)
            raise AssertionError("a corrupted download decrypted")
        except media_crypto.MediaError as error:
            assert error.reason == "enc-sha256", error
        double.ok("POST", "/cdn/fault", {"kind": "slow", "seconds": 1.0})
        import time
        started = time.monotonic()
        status, slow = https_via_proxy(double, "GET", hosts[0], path)
        assert status == 200 and slow == encrypted.blob and time.monotonic() - started >= 0.9
        summary = double.ok("GET", "/cdn")
        assert summary["blobs"][0]["downloads"] == 5 and summary["uploads"][0]["origin"] == "https://web.whatsapp.com", summary
        assert double.call("POST", "/cdn/fault", {"kind": "nonsense"})[0] == 400
    finally:
        double.stop()
        shutil.rmtree(double.directory, ignore_errors=True)


def test_media_crypto_cli_and_fixtures():
    """The vector CLI the Swift tests use: encrypt with a given key, decrypt back, a flipped byte is refused (hmac),
    a wrong plain hash is refused (sha256), and the fixtures are what they claim to be."""
    import json
    import subprocess
    import media_crypto
    import media_fixtures
    script = os.path.join(HERE, "media_crypto.py")
    pdf = media_fixtures.pdf()
    key = bytes(range(32))
    done = subprocess.run([sys.executable, script, "encrypt", "--type", "document", "--media-key", key.hex(), "--json"], input=pdf,
                          capture_output=True, check=True)
    made = json.loads(done.stdout)
    blob = __import__("base64").b64decode(made["blob"])
    assert made["fileLength"] == len(pdf) and len(blob) == (len(pdf) // 16 + 1) * 16 + 10, made
    expanded = media_crypto.expand(key, "document")
    assert blob[:-10] != pdf[:len(blob) - 10] and made["mediaKey"] == key.hex()
    assert media_crypto.decrypt(blob, "document", key, bytes.fromhex(made["fileSha256"]), bytes.fromhex(made["fileEncSha256"])) == pdf
    args = [sys.executable, script, "decrypt", "--type", "document", "--media-key", key.hex(), "--file-sha256", made["fileSha256"]]
    assert subprocess.run(args, input=blob, capture_output=True, check=True).stdout == pdf
    broken = subprocess.run(args, input=bytes([blob[0] ^ 1]) + blob[1:], capture_output=True)
    assert broken.returncode == 2 and json.loads(broken.stderr)["error"] == "hmac", broken
    wrong = subprocess.run(args[:-1] + ["00" * 32], input=blob, capture_output=True)
    assert wrong.returncode == 2 and json.loads(wrong.stderr)["error"] == "sha256", wrong
    other = subprocess.run([sys.executable, script, "keys", "--type", "image", "--media-key", key.hex()], capture_output=True, check=True)
    assert json.loads(other.stdout)["iv"] != expanded.iv.hex(), "the info string separates the types"
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:xref + 4] == b"xref"
    for line, number in zip(pdf[xref:].split(b"\n")[3:8], range(1, 6)):
        assert pdf[int(line[:10]):].startswith(f"{number} 0 obj".encode()), (number, line)
    ogg = media_fixtures.ogg_opus(1.0)
    assert ogg[:4] == b"OggS" and ogg[28:36] == b"OpusHead" and ogg.count(b"OggS") == 3
    assert media_fixtures.jpeg()[:3] == b"\xff\xd8\xff" and media_fixtures.mp4()[4:8] == b"ftyp"


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
