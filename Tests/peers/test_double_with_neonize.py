"""Proof that the WhatsApp server double is faithful: real whatsmeow (neonize) pairs, logs in and
recovers against it (issue #16, "How it is proven" 1 and 2).

Run:  .venv-test/bin/python Tests/peers/test_double_with_neonize.py [scenario ...] [--record]
  or  .venv-test/bin/python -m pytest Tests/peers/test_double_with_neonize.py
Each scenario starts its own double and neonize processes (neonize_client.py) and asserts what
neonize reports (events) and what the double saw (state, transcripts). --record rewrites
Tests/peers/transcripts/neonize_<scenario>.json with the normalised transcripts.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from wadouble.transcript import contains_in_order, signature  # noqa: E402

PHONE = "60123456789"
TRANSCRIPTS = os.path.join(HERE, "transcripts")
RECORD = "--record" in sys.argv


class Double:
    """The double as a child process, and its control API."""

    def __init__(self, directory: str, seed: str = "1", state: str | None = None) -> None:
        self.directory = directory
        self.log = open(os.path.join(directory, "double.err"), "a")
        command = [sys.executable, os.path.join(HERE, "wa_server_double.py"), "--seed", seed, "--dir", directory]
        self.process = subprocess.Popen(command + (["--state", state] if state else []), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.info = json.loads(self.process.stdout.readline())

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.info['controlPort']}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = self.call(method, path, body)
        assert status == 200, f"{method} {path} -> {status} {answer}"
        return answer

    def clients(self) -> list[dict]:
        return self.ok("GET", "/clients")["clients"]

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Neonize:
    """One neonize_client.py process: commands in, events out."""

    def __init__(self, double: Double, directory: str, name: str = "neonize", proxy_url: str | None = None) -> None:
        info = double.info
        patched = os.path.join(directory, "patched")
        if not os.path.isdir(os.path.join(patched, "neonize")):  # made once here, so clients never race to copy it
            from neonize_client import patched_neonize
            patched_neonize(bytes.fromhex(info["noiseRootPublicKey"]), patched)
        self.stderr = open(os.path.join(directory, f"{name}.err"), "a")
        env = dict(os.environ, SSL_CERT_FILE=info["caFile"], PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
        self.process = subprocess.Popen([
            sys.executable, os.path.join(HERE, "neonize_client.py"), "--root", info["noiseRootPublicKey"],
            "--proxy", str(info["proxyPort"]), "--ca", info["caFile"], "--db", os.path.join(directory, f"{name}.db"),
            "--workdir", os.path.join(directory, "patched"),
        ] + (["--proxy-url", proxy_url] if proxy_url else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):  # neonize itself prints bare login status numbers
                self.events.put(event)
        self.events.put({"event": "process-exited"})

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait(self, name: str, timeout: float = 30, **match) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = self.events.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            self.seen.append(event)
            if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                return event
            if event["event"] == "process-exited":
                break
        raise AssertionError(f"neonize did not report {name} {match} within {timeout}s; saw {[e['event'] for e in self.seen]}")

    def command(self, command: str, timeout: float = 30) -> dict:
        self.send(command)
        event = self.wait("done", timeout, command=command.split()[0])
        assert event["error"] == "", f"{command}: {event['error']}"
        return event

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            self.send("exit")
            self.process.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
            self.process.kill()
        self.stderr.close()


def wait_until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def pair_by_qr(double: Double, neonize: Neonize, phone: str = PHONE) -> dict:
    neonize.command("connect")
    qr = neonize.wait("qr")["codes"][0]
    paired = double.ok("POST", "/phone/scan", {"qr": qr, "phone": phone})
    assert neonize.wait("paired")["jid"] == paired["jid"]
    return paired


def logged_in(double: Double, jid: str, after: int = 0, timeout: float = 20) -> dict:
    return wait_until(lambda: next((c for c in double.clients() if c["jid"] == jid and c["state"] == "logged-in"
                                    and c["conn"] > after and c["active"] is True), None), timeout, what=f"{jid} logged in")


# -- expected sequences (normalised one-line signatures, see wadouble/transcript.py) ---------------------------
REGISTRATION = "in #client-payload[appVersion,connectReason,connectType,kind=registration,passive=false,platform,pull=false]"
LOGIN = "in #client-payload[appVersion,connectReason,connectType,device,kind=login,passive=true,platform,pull=true,username]"
PAIR_DEVICE = "out iq[from,id,type=set,xmlns=md]{pair-device[]{ref[]*}}"
ACK_RESULT = "in iq[id,to,type=result]"
PAIR_SUCCESS = "out iq[from,id,t,type=set,xmlns=md]{pair-success[]{device-identity[] platform[name] device[jid,lid] client-props[]}}"
PAIR_DEVICE_SIGN = "in iq[id,to,type=result]{pair-device-sign[]{device-identity[key-index]}}"
RESTART = "out stream:error[code=515]"
SUCCESS = "out success[abprops,creation,lid,location,props,t]"
COUNT = "in iq[id,to,type=get,xmlns=encrypt]{count[]}"
COUNT_RESULT = "out iq[from,id,type=result]{count[value]}"
UPLOAD = ("in iq[id,to,type=set,xmlns=encrypt]{registration[] type[] identity[] list[]{key[]{id[] value[]}*} "
          "skey[]{id[] value[] signature[]}}")
RESULT = "out iq[from,id,type=result]"
ACTIVE = "in iq[id,to,type=set,xmlns=passive]{active[]}"
PING = "in iq[id,to,type=get,xmlns=w:p]"
PRESENCE = "in presence[name,type=available]"
LOGOUT = "in iq[id,to,type=set,xmlns=md]{remove-companion-device[jid,reason=user_initiated]}"
CODE_HELLO = ("in iq[id,to,type=set,xmlns=md]{link_code_companion_reg[jid,should_show_push_notification,stage=companion_hello]"
              "{link_code_pairing_wrapped_companion_ephemeral_pub[] companion_server_auth_key_pub[] companion_platform_id[] "
              "companion_platform_display[] link_code_pairing_nonce[]}}")
CODE_REF = "out iq[from,id,type=result]{link_code_companion_reg[]{link_code_pairing_ref[]}}"
PRIMARY_HELLO = ("out notification[from,id,t,type=link_code_companion_reg]{link_code_companion_reg[stage=primary_hello]"
                 "{link_code_pairing_ref[] link_code_pairing_wrapped_primary_ephemeral_pub[] primary_identity_pub[]}}")
CODE_FINISH = ("in iq[id,to,type=set,xmlns=md]{link_code_companion_reg[jid,stage=companion_finish]"
               "{link_code_pairing_wrapped_key_bundle[] companion_identity_public[] link_code_pairing_ref[]}}")

QR_PAIRING = [REGISTRATION, PAIR_DEVICE, ACK_RESULT, PAIR_SUCCESS, PAIR_DEVICE_SIGN, RESTART]
CODE_PAIRING = [REGISTRATION, PAIR_DEVICE, ACK_RESULT, CODE_HELLO, CODE_REF, PRIMARY_HELLO, CODE_FINISH, RESULT,
                PAIR_SUCCESS, PAIR_DEVICE_SIGN, RESTART]
FIRST_LOGIN = [LOGIN, SUCCESS, COUNT, COUNT_RESULT, UPLOAD, RESULT, ACTIVE, RESULT]
RELOGIN = [LOGIN, SUCCESS, COUNT, COUNT_RESULT, ACTIVE, RESULT]


def transcript(double: Double, conn: int) -> list[dict]:
    return double.ok("GET", f"/transcript?conn={conn}")["connections"][0]["normalised"]


def assert_sequence(double: Double, conn: int, expected: list[str]) -> list[dict]:
    normalised = transcript(double, conn)
    problems = contains_in_order(normalised, expected)
    assert not problems, "\n".join(problems)
    return normalised


def record(name: str, connections: list[tuple[str, list[dict]]]) -> None:
    if not RECORD:
        return
    os.makedirs(TRANSCRIPTS, exist_ok=True)
    with open(os.path.join(TRANSCRIPTS, f"neonize_{name}.json"), "w") as file:
        json.dump({
            "scenario": name,
            "client": "neonize 0.5.2 (whatsmeow 35ae40906e74), Tests/peers/neonize_client.py",
            "connections": [{"role": role, "signatures": [signature(e) for e in normalised], "normalised": normalised}
                            for role, normalised in connections],
        }, file, indent=1)
        file.write("\n")


class Scenario:
    """A double and one neonize process in a fresh directory; stopped however the scenario ends."""

    def __init__(self, state: bool = False, socks: bool = False) -> None:
        self.state, self.socks = state, socks

    def __enter__(self):
        self.directory = tempfile.mkdtemp(prefix="double-neonize-")
        self.state_file = os.path.join(self.directory, "double-state.json") if self.state else None
        self.double = Double(self.directory, state=self.state_file)
        self.neonize = self.start_neonize()
        return self

    def start_neonize(self) -> Neonize:
        socks = f"socks5://user:secret@127.0.0.1:{self.double.info['socksPort']}" if self.socks else None
        return Neonize(self.double, self.directory, proxy_url=socks)

    def restart_neonize(self) -> Neonize:
        self.neonize.stop()
        self.neonize = self.start_neonize()
        return self.neonize

    def restart_double(self) -> Double:
        self.double.stop()
        self.double = Double(self.directory, state=self.state_file)
        return self.double

    def __exit__(self, kind, error, trace):
        self.neonize.stop()
        self.double.stop()
        if error is not None:
            print(f"  logs kept in {self.directory}", file=sys.stderr)
        else:
            shutil.rmtree(self.directory, ignore_errors=True)  # the patched neonize copy alone is ~20 MB


def paired_and_logged_in(s: Scenario) -> tuple[dict, dict]:
    paired = pair_by_qr(s.double, s.neonize)
    s.neonize.wait("connected", 30)
    return paired, logged_in(s.double, paired["jid"])


# -- scenarios -------------------------------------------------------------------------------------------------
def test_qr_pairing_and_first_login():
    with Scenario() as s:
        paired = pair_by_qr(s.double, s.neonize)
        assert paired["jid"] == f"{PHONE}:1@s.whatsapp.net" and paired["lid"].endswith(":1@lid")
        s.neonize.wait("connected", 30)
        login = logged_in(s.double, paired["jid"])
        pairing = assert_sequence(s.double, 1, QR_PAIRING)
        first = assert_sequence(s.double, login["conn"], FIRST_LOGIN)
        state = s.double.ok("GET", "/state")
        device = next(d for d in state["devices"] if d["jid"] == paired["jid"])
        # whatsmeow's first upload is 812 one-time prekeys with ids from 1, plus signed prekey 1.
        assert device["prekeyIds"] == list(range(1, 813)), device["prekeyIds"][:5]
        assert device["signedPreKeyId"] == 1 and device["pairedBy"] == "qr"
        record("qr_pairing", [("pairing", pairing), ("first-login", first)])
        for conn, role in ((1, "pairing"), (login["conn"], "first-login")):
            answer = s.double.ok("POST", "/transcript/compare", {"conn": conn, "recording": "qr_pairing", "role": role, "mode": "exact"})
            assert answer["match"], answer["problems"]
        mismatch = s.double.ok("POST", "/transcript/compare", {"conn": 1, "recording": "qr_pairing", "role": "first-login"})
        assert not mismatch["match"] and mismatch["problems"], "a pairing transcript is not a login transcript"


def test_tampered_pair_success_refused():
    with Scenario() as s:
        refusals = []
        for tamper, text in (("hmac", "hmac-mismatch"), ("signature", "signature-mismatch")):
            neonize = s.restart_neonize() if refusals else s.neonize
            neonize.command("connect")
            qr = neonize.wait("qr")["codes"][0]
            answer = s.double.ok("POST", "/phone/scan", {"qr": qr, "phone": PHONE, "tamper": tamper})
            assert answer == {"refused": True, "code": "401", "text": text}, (tamper, answer)
            conn = max(c["conn"] for c in s.double.clients())
            # whatsmeow answers the error, ends the QR flow and disconnects (pair.go, qrchan.go).
            wait_until(lambda: next(c for c in s.double.clients() if c["conn"] == conn)["state"] == "closed", what="disconnect")
            refusals.append(assert_sequence(s.double, conn, [REGISTRATION, PAIR_DEVICE, ACK_RESULT, PAIR_SUCCESS,
                                                             "in iq[id,to,type=error]{error[code=401,text]}", "in #closed[by=client]"]))
            assert RESTART not in [signature(e) for e in refusals[-1]]
        assert s.double.ok("GET", "/state")["devices"] == []
        record("tampered_pair_success", [("hmac", refusals[0]), ("signature", refusals[1])])


def test_code_pairing():
    with Scenario() as s:
        s.neonize.command("connect")
        s.neonize.wait("qr")
        s.neonize.send(f"pair-code {PHONE}")
        code = s.neonize.wait("pair-code")["code"]
        assert len(code) == 9 and code[4] == "-", code
        wrong = "".join("Z" if c != "Z" and c != "-" else ("Y" if c == "Z" else c) for c in code)
        status, answer = s.double.call("POST", "/phone/enter-code", {"code": wrong, "phone": PHONE})
        assert status == 400 and "does not decrypt" in answer["error"], (status, answer)
        # whatsmeow forgets its pending pairing after a failed companion_finish; ask for a new code.
        s.neonize.send(f"pair-code {PHONE}")
        code = s.neonize.wait("pair-code")["code"]
        paired = s.double.ok("POST", "/phone/enter-code", {"code": code, "phone": PHONE})
        assert s.neonize.wait("paired")["jid"] == paired["jid"]
        s.neonize.wait("connected", 30)
        login = logged_in(s.double, paired["jid"])
        pairing = assert_sequence(s.double, 1, CODE_PAIRING)
        first = assert_sequence(s.double, login["conn"], FIRST_LOGIN)
        assert next(d for d in s.double.ok("GET", "/state")["devices"])["pairedBy"] == "code"
        record("code_pairing", [("pairing", pairing), ("first-login", first)])


def test_relogin_presence_logout():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        neonize = s.restart_neonize()
        neonize.command("store-push-name Alice Test")
        neonize.command("connect")
        neonize.wait("connected", 30)
        again = logged_in(s.double, paired["jid"], after=first["conn"])
        neonize.command("presence available")
        wait_until(lambda: next(c for c in s.double.clients() if c["conn"] == again["conn"])["presence"] == "available",
                   what="presence available")
        client = next(c for c in s.double.clients() if c["conn"] == again["conn"])
        assert client["pushName"] == "Alice Test", client
        relogin = assert_sequence(s.double, again["conn"], RELOGIN + [PRESENCE])
        assert UPLOAD not in [signature(e) for e in relogin], "812 keys on the server: no second upload"
        neonize.command("logout")
        state = wait_until(lambda: (lambda st: st if st["logouts"] else None)(s.double.ok("GET", "/state")), what="logout")
        assert state["logouts"][0]["jid"] == paired["jid"] and state["logouts"][0]["reason"] == "user_initiated", state
        assert state["devices"] == [], "the logged-out device is forgotten"
        logout = assert_sequence(s.double, again["conn"], RELOGIN + [PRESENCE, LOGOUT, RESULT])
        record("relogin_presence_logout", [("relogin", logout)])


def test_reconnects_after_515_503_and_cut():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        last = first["conn"]
        for kind in ("stream_error_515", "stream_error_503", "cut_socket"):
            answer = s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": kind})
            assert answer["applied"] == [last], answer
            again = logged_in(s.double, paired["jid"], after=last)
            entries = transcript(s.double, last)
            closing = {"stream_error_515": "out stream:error[code=515]", "stream_error_503": "out stream:error[code=503]",
                       "cut_socket": "out #closed[by=cut]"}[kind]
            assert closing in [signature(e) for e in entries], (kind, [signature(e) for e in entries][-4:])
            relogin = assert_sequence(s.double, again["conn"], RELOGIN)
            last = again["conn"]
        record("reconnect", [("after-cut", relogin)])


def test_prekeys_topped_up_when_low():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "prekeys_low"})
        # whatsmeow uploads a batch of 50 (prekeys.go: WantedPreKeyCount) with the next ids.
        device = wait_until(lambda: next((d for d in s.double.ok("GET", "/state")["devices"] if d["prekeyCount"] > 3), None),
                            what="a new prekey batch")
        assert device["prekeyIds"] == [810, 811, 812] + list(range(813, 863)), device["prekeyIds"]
        topped = assert_sequence(s.double, first["conn"], [
            "out notification[from,id,t,type=encrypt]{count[value]}", "in ack[class=notification,id,to,type=encrypt]", UPLOAD, RESULT])
        record("prekeys_low", [("top-up", topped)])


def test_keepalive_pings_and_cut_during_iq():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        # whatsmeow pings every 20-30 s (keepalive.go).
        wait_until(lambda: PING in [signature(e) for e in transcript(s.double, first["conn"])], timeout=40, what="a ping")
        pinged = assert_sequence(s.double, first["conn"], [PING, RESULT])
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "cut_during_next_iq"})
        again = logged_in(s.double, paired["jid"], after=first["conn"], timeout=50)
        cut = [signature(e) for e in transcript(s.double, first["conn"])]
        assert cut[-2:] == [PING, "out #closed[by=cut]"], cut[-3:]
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "stop_answering_pings"})
        s.neonize.wait("keepalive-timeout", 45)
        unanswered = [signature(e) for e in transcript(s.double, again["conn"])]
        assert unanswered[-1] == PING, unanswered[-3:]
        record("keepalive", [("pings", pinged)])


def test_device_removed_logs_out():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "device_removed"})
        event = s.neonize.wait("logged-out", 15)
        assert event["onConnect"] is False and event["reason"] == 2, event
        assert s.double.ok("GET", "/state")["devices"] == []
        time.sleep(3)
        assert not [c for c in s.double.clients() if c["conn"] > first["conn"]], "no reconnect after device_removed"
        record("device_removed", [("removed", assert_sequence(s.double, first["conn"], RELOGIN[1:2] + [
            "out stream:error[code=401]{conflict[type=device_removed]}"]))])


def test_replaced_stops_reconnecting():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "replaced"})
        s.neonize.wait("stream-replaced", 15)
        time.sleep(3)
        assert not [c for c in s.double.clients() if c["conn"] > first["conn"]], "no reconnect after replaced"


def test_failure_on_login():
    with Scenario() as s:
        paired, first = paired_and_logged_in(s)
        assert s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "failure_405"})["queued"] is True
        s.double.ok("POST", "/fault", {"jid": paired["jid"], "kind": "stream_error_515"})
        s.neonize.wait("client-outdated", 20)
        failed = wait_until(lambda: next((c for c in s.double.clients() if c["conn"] > first["conn"]), None), what="reconnect")
        assert_sequence(s.double, failed["conn"], [LOGIN, 'out failure[location,reason=405]'])
        time.sleep(3)
        assert not [c for c in s.double.clients() if c["conn"] > failed["conn"]], "no reconnect after 405"
        # A device the server does not know (removed while offline) is refused with 401: whatsmeow logs out.
        s.double.ok("POST", "/phone/remove-device", {"jid": paired["jid"]})
        neonize = s.restart_neonize()
        neonize.command("connect")
        event = neonize.wait("logged-out", 20)
        # neonize reports whatsmeow's ConnectFailureReason as its own enum: 2 = LOGGED_OUT (401).
        assert event["onConnect"] is True and event["reason"] == 2, event


def test_socks5_proxy_and_unknown_iq():
    with Scenario(socks=True) as s:
        paired, first = paired_and_logged_in(s)
        tunnels = s.double.ok("GET", "/clients")["tunnels"]
        assert tunnels and all(t == {"proxy": "socks5", "target": "web.whatsapp.com:443"} for t in tunnels), tunnels
        # neonize's get_privacy_settings swallows the error; whatsmeow logs how it parsed the answer.
        s.neonize.command("privacy-settings")
        # whatsmeow's log line can reach the file after the command has returned: wait for it.
        expected, deadline = "info query returned status 501: feature-not-implemented", time.time() + 10
        while True:
            with open(os.path.join(s.directory, "neonize.err")) as log:
                if expected in log.read():
                    break
            assert time.time() < deadline, f"whatsmeow never logged: {expected}"
            time.sleep(0.1)
        assert_sequence(s.double, first["conn"], ["in iq[id,to,type=get,xmlns=privacy]{privacy[]}",
                                                  "out iq[from,id,type=error]{error[code=501,text]}"])


def test_double_restart_keeps_devices():
    with Scenario(state=True) as s:
        paired, first = paired_and_logged_in(s)
        s.neonize.stop()
        double = s.restart_double()
        assert [d["jid"] for d in double.ok("GET", "/state")["devices"]] == [paired["jid"]]
        neonize = s.start_neonize()
        s.neonize = neonize
        neonize.command("connect")
        neonize.wait("connected", 30)
        again = logged_in(double, paired["jid"])
        assert_sequence(double, again["conn"], RELOGIN)


def test_message_between_two_companions():
    """Two phones, each with a neonize companion: Signal runs end to end between the two whatsmeow
    clients, the double relays usync, prekey bundles, messages, receipts and offline delivery."""
    bob_phone = "60198765432"
    with Scenario() as s:
        alice = s.neonize
        bob = Neonize(s.double, s.directory, "bob")
        try:
            alice_paired = pair_by_qr(s.double, alice)
            alice.wait("connected", 30)
            bob_paired = pair_by_qr(s.double, bob, bob_phone)
            bob.wait("connected", 30)
            alice_login = logged_in(s.double, alice_paired["jid"])
            bob_login = logged_in(s.double, bob_paired["jid"])
            alice.command(f"send {bob_phone} hello bob", timeout=60)
            message = bob.wait("message", 30)
            assert message["text"] == "hello bob" and not message["fromMe"], message
            assert message["sender"] == alice_paired["lid"] and message["senderAlt"] == alice_paired["jid"], message
            receipt = alice.wait("receipt", 30)
            # 9 = inactive: bob has sent no presence, so whatsmeow's delivery receipt is "inactive".
            assert receipt["ids"] == [message["id"]] and receipt["type"] == 9 and receipt["sender"] == bob_paired["lid"], receipt
            sent = assert_sequence(s.double, alice_login["conn"], [
                "in iq[id,to,type=get,xmlns=usync]{usync[context=background,index,last,mode=full,sid]{query[]{business[]{verified_name[]} "
                "status[] picture[] devices[version] lid[]} list[]{user[jid]}}}",
                "in iq[id,to,type=get,xmlns=usync]{usync[context=message,index,last,mode=query,sid]{query[]{devices[version]} list[]{user[jid]*}}}",
                "in iq[id,to,type=get,xmlns=encrypt]{key[]{user[jid,reason=identity]}}",
                "out iq[from,id,type=result]{list[]{user[jid]{registration[] type[] identity[] key[]{id[] value[]} "
                "skey[]{id[] value[] signature[]}}}}",
                "in message[id,peer_recipient_pn,to,type=text]{participants[]{to[jid]{enc[type=pkmsg,v]}} device-identity[] bot[biz_bot]}",
                "out ack[class=message,from,id,phash,t]",
                "out receipt[from,id,t,type=inactive]",
            ])
            received = assert_sequence(s.double, bob_login["conn"], [
                "out message[from,id,sender_pn,t,type=text]{enc[type=pkmsg,v] device-identity[]}",
                "in receipt[id,to,type=inactive]",
                "out ack[class=receipt,from,id,type=inactive]",
            ])
            # Bob goes offline: the next message waits, and arrives after his next success.
            bob.stop()
            alice.command(f"send {bob_phone} while you were away", timeout=60)
            state = s.double.ok("GET", "/state")
            assert state["offline"] == {bob_paired["jid"]: 1}, state["offline"]
            bob = Neonize(s.double, s.directory, "bob")
            bob.command("connect")
            late = bob.wait("message", 40)
            assert late["text"] == "while you were away" and late["sender"] == alice_paired["lid"], late
            again = logged_in(s.double, bob_paired["jid"], after=bob_login["conn"])
            # Still pkmsg: bob has not answered, so alice's Signal session has not left the prekey stage.
            offline = assert_sequence(s.double, again["conn"], [
                LOGIN, SUCCESS, "out message[from,id,sender_pn,t,type=text]{enc[type=pkmsg,v] device-identity[]}",
                "out ib[]{offline[count]}", "in receipt[id,to,type=inactive]"])
            # Bob answers on the session alice's pkmsg set up: a plain msg, which alice decrypts.
            bob.command(f"send {PHONE} hi alice", timeout=60)
            reply = alice.wait("message", 30)
            assert reply["text"] == "hi alice" and reply["sender"] == bob_paired["lid"], reply
            assert "in message[id,peer_recipient_pn,to,type=text]{participants[]{to[jid]{enc[type=msg,v]}} bot[biz_bot]}" in [
                signature(e) for e in transcript(s.double, again["conn"])]
            record("message", [("sender", sent), ("receiver", received), ("offline-receiver", offline)])
        finally:
            bob.stop()


# -- phones played by python-axolotl (wadouble/contacts.py) -------------------------------------------------
TOM, LENA = "60111222333", "60144455566"  # POST /contacts/defaults: Tom has a phone and web client 2 (PN-addressed), Lena is LID-addressed
MESSAGE_IN_PKMSG = "out message[from,id,notify,sender_lid,t,type=text]{enc[type=pkmsg,v]}"
MESSAGE_IN_MSG = "out message[from,id,notify,sender_lid,t,type=text]{enc[type=msg,v]}"


def contacts(double: Double) -> dict:
    return double.ok("GET", "/contacts")


def device_of(double: Double, phone: str, number: int) -> dict:
    account = next(a for a in contacts(double)["contacts"] if a["phone"] == phone)
    return next(d for d in account["devices"] if d["device"] == number)


def sent_record(double: Double, msg_id: str) -> dict:
    return next(m for m in contacts(double)["sent"] if m["id"] == msg_id)


def inbox_entry(double: Double, phone: str, number: int, msg_id: str, timeout: float = 20) -> dict:
    return wait_until(lambda: next((e for e in device_of(double, phone, number)["inbox"] if e["id"] == msg_id), None), timeout,
                      what=f"{phone}:{number} to receive {msg_id}")


def neonize_log(directory: str, name: str = "neonize") -> str:
    with open(os.path.join(directory, f"{name}.err")) as log:
        return log.read()


def no_phash_warning(directory: str, name: str = "neonize") -> None:
    time.sleep(0.5)  # whatsmeow's log lines reach the file a moment after the event that follows them
    assert "different participant list hash" not in neonize_log(directory, name), "whatsmeow computed another phash than the double"


def test_phones_send_to_neonize():
    """Phones played by python-axolotl send to real whatsmeow: pkmsg then msg from a PN-addressed contact,
    a LID-addressed contact (sender_pn), a reply, the own phone (DeviceSentMessage) and a group (skmsg)."""
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        made = s.double.ok("POST", "/contacts/defaults", {"own": PHONE})
        assert made["own"]["own"] and made["own"]["lid"] == paired["lid"].split(":")[0] + "@lid", made["own"]
        tom_lid = made["twoDevices"]["lid"]
        first = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "text": "hello from tom"})
        # The account's phone (0) and neonize (1), then Tom's own web client 2 (a DeviceSentMessage).
        assert [(d["jid"], d["type"], d["ownCopy"]) for d in first["deliveries"]] == [
            (f"{PHONE}:0@s.whatsapp.net", "pkmsg", False), (paired["jid"], "pkmsg", False), (f"{TOM}:2@s.whatsapp.net", "pkmsg", True)], first
        message = s.neonize.wait("message", 20, id=first["id"])
        assert message["text"] == "hello from tom" and message["pushName"] == "Tom Two-Devices" and not message["fromMe"], message
        assert message["sender"] == f"{TOM}@s.whatsapp.net" and message["senderAlt"] == tom_lid, message
        web = inbox_entry(s.double, TOM, 2, first["id"])
        assert web["text"] == "hello from tom" and web["deviceSent"]["destinationJID"] == f"{PHONE}@s.whatsapp.net", web
        wait_until(lambda: sent_record(s.double, first["id"])["receipts"], what="neonize's receipt")
        assert sent_record(s.double, first["id"])["receipts"][0] == {**sent_record(s.double, first["id"])["receipts"][0],
                                                                     "from": paired["lid"], "type": "inactive"}
        second = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "text": "second", "replyTo": {
            "id": first["id"], "participant": tom_lid, "text": "hello from tom"}})
        assert next(d for d in second["deliveries"] if d["jid"] == paired["jid"])["type"] == "pkmsg", second  # neonize has not answered yet
        reply = s.neonize.wait("message", 20, id=second["id"])
        assert reply["text"] == "second" and reply["quoted"] == {"id": first["id"], "participant": tom_lid, "text": "hello from tom"}, reply

        lena = s.double.ok("POST", "/contacts/send", {"from": LENA, "to": PHONE, "text": "hi, Lena here"})
        got = s.neonize.wait("message", 20, id=lena["id"])
        assert got["sender"] == made["lidOnly"]["lid"] and got["senderAlt"] == f"{LENA}@s.whatsapp.net", got
        assert got["pushName"] == "Lena Lid" and got["chat"] == made["lidOnly"]["lid"], got

        own = s.double.ok("POST", "/contacts/send", {"from": PHONE, "to": TOM, "text": "sent from my phone"})
        mine = s.neonize.wait("message", 20, id=own["id"])
        assert mine["fromMe"] and mine["text"] == "sent from my phone" and mine["chat"] == tom_lid, mine
        assert inbox_entry(s.double, TOM, 0, own["id"])["text"] == "sent from my phone"

        # neonize answers Tom: now Tom's session with neonize is confirmed and his next message is a msg.
        s.neonize.command(f"send {TOM} got it", timeout=60)
        wait_until(lambda: any(e.get("text") == "got it" for e in device_of(s.double, TOM, 0)["inbox"]), what="Tom to decrypt")
        third = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "text": "third"})
        assert next(d for d in third["deliveries"] if d["jid"] == paired["jid"])["type"] == "msg", third
        assert s.neonize.wait("message", 20, id=third["id"])["text"] == "third"

        group = s.double.ok("POST", "/groups", {"subject": "Support desk", "participants": [TOM, LENA, PHONE], "creator": TOM})
        posted = s.double.ok("POST", "/contacts/send", {"from": LENA, "group": group["jid"], "text": "hello group"})
        # whatsmeow reports the sender-key distribution (its own pkmsg, no text) as a message event first.
        got = s.neonize.wait("message", 20, id=posted["id"], text="hello group")
        assert got["isGroup"] and got["chat"] == group["jid"] and got["text"] == "hello group", got
        assert got["sender"] == made["lidOnly"]["lid"] and got["senderAlt"] == f"{LENA}@s.whatsapp.net", got
        assert inbox_entry(s.double, TOM, 2, posted["id"])["text"] == "hello group"
        again = s.double.ok("POST", "/contacts/send", {"from": LENA, "group": group["jid"], "text": "second in group"})
        assert all(d["types"] == ["skmsg"] for d in again["deliveries"]), again  # the sender key went out once
        assert s.neonize.wait("message", 20, id=again["id"])["text"] == "second in group"  # skmsg alone: one event
        s.neonize.send(f"group-info {group['jid']}")
        info = s.neonize.wait("group-info")
        assert info["name"] == "Support desk" and len(info["participants"]) == 3, info

        s.neonize.command(f"mark-read {made['lidOnly']['lid']} {made['lidOnly']['lid']} {lena['id']}")
        wait_until(lambda: any(r["type"] == "read" for r in sent_record(s.double, lena["id"])["receipts"]), what="read receipt")
        received = transcript(s.double, login["conn"])
        lines = [signature(e) for e in received]
        assert "out message[from,id,notify,sender_lid,t,type=text]{enc[type=pkmsg,v]}" in lines, lines
        assert "out message[from,id,notify,sender_pn,t,type=text]{enc[type=pkmsg,v]}" in lines, lines
        assert "out message[from,id,notify,peer_recipient_pn,recipient,sender_pn,t,type=text]{enc[type=pkmsg,v]}" in lines, lines
        assert ("out message[addressing_mode,from,id,notify,participant,participant_pn,t,type=text]"
                "{enc[type=pkmsg,v] enc[type=skmsg,v]}") in lines, lines
        assert "out ack[class=message,from,id,phash,t]" in lines, lines
        no_phash_warning(s.directory)
        record("phones_to_neonize", [("receiver", received)])

        # neonize is away: Lena's message waits and arrives after its next login, before <ib><offline/>.
        s.neonize.stop()
        away = s.double.ok("POST", "/contacts/send", {"from": LENA, "to": PHONE, "text": "while you were away"})
        assert next(d for d in away["deliveries"] if d["jid"] == paired["jid"])["delivered"] == "queued", away
        neonize = s.start_neonize()
        s.neonize = neonize
        neonize.command("connect")
        assert neonize.wait("message", 30, id=away["id"])["text"] == "while you were away"
        again = logged_in(s.double, paired["jid"], after=login["conn"])
        # Still pkmsg: neonize never wrote to Lena, so her session has not left the prekey stage.
        assert_sequence(s.double, again["conn"], [LOGIN, SUCCESS, "out message[from,id,notify,sender_pn,t,type=text]{enc[type=pkmsg,v]}",
                                                  "out ib[]{offline[count]}"])
        wait_until(lambda: s.double.ok("GET", "/state")["unacked"] == {}, what="neonize's receipt to settle the message")


def gather(neonize: Neonize, done, timeout: float = 30) -> list[dict]:
    """Every event neonize reports until done(events) holds (none is dropped on the way)."""
    events, deadline = [], time.time() + timeout
    while not done(events):
        if time.time() > deadline:
            raise AssertionError(f"timed out; neonize reported {events}")
        try:
            event = neonize.events.get(timeout=0.2)
        except queue.Empty:
            continue
        neonize.seen.append(event)
        events.append(event)
    return events


def receipts_for(events: list[dict], msg_id: str) -> dict:
    """{(sender, type)} of neonize's receipt events for one message id."""
    return {(e["sender"], e["type"]) for e in events if e["event"] == "receipt" and msg_id in e["ids"]}


def usync_device_queries(double: Double, conn: int) -> int:
    return sum(1 for line in (signature(e) for e in transcript(double, conn))
               if line.startswith("in iq[id,to,type=get,xmlns=usync]{usync[context=message"))


def test_neonize_sends_to_phones():
    """Real whatsmeow sends to phones played by python-axolotl: both devices of a contact and the account's own
    phone decrypt the exact text; their delivery and read receipts reach whatsmeow; the ack's phash matches
    whatsmeow's; usync reports an unknown number as not on WhatsApp; `devices` notifications keep whatsmeow's
    device list current without a new usync."""
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        made = s.double.ok("POST", "/contacts/defaults", {"own": PHONE})
        tom_lid, lena_lid, own_lid = made["twoDevices"]["lid"], made["lidOnly"]["lid"], made["own"]["lid"]
        tom0, tom2 = tom_lid.replace("@", ":0@"), tom_lid.replace("@", ":2@")

        s.neonize.send(f"send {TOM} hello tom")
        events = gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev) and len(receipts_for(
            ev, next(e for e in ev if e["event"] == "sent")["id"])) >= 3)
        msg_id = next(e for e in events if e["event"] == "sent")["id"]
        assert len(msg_id) == 22 and msg_id.startswith("3EB0"), msg_id
        for number in (0, 2):
            entry = inbox_entry(s.double, TOM, number, msg_id)
            assert entry["text"] == "hello tom" and entry["encTypes"] == ["pkmsg"] and entry["from"] == paired["lid"], entry
            assert entry["attrs"]["sender_pn"] == f"{PHONE}@s.whatsapp.net" and "device-identity" in entry["children"], entry
        own = inbox_entry(s.double, PHONE, 0, msg_id)
        assert own["text"] == "hello tom" and own["deviceSent"] == {"destinationJID": tom_lid}, own
        assert own["attrs"]["recipient"] == tom_lid and own["receiptSent"] == "sender", own
        # Delivered (1) from both of Tom's devices, sender (2) from the own phone.
        assert receipts_for(events, msg_id) == {(tom_lid, 1), (tom2, 1), (own_lid, 2)}, receipts_for(events, msg_id)
        relayed = next(m for m in s.double.ok("GET", "/state")["messages"] if m["id"] == msg_id)
        assert relayed["phash"] and len(relayed["deliveries"]) == 3, relayed

        s.double.ok("POST", "/contacts/receipt", {"from": TOM, "ids": [msg_id], "type": "read"})
        read = gather(s.neonize, lambda ev: (tom_lid, 4) in receipts_for(ev, msg_id))
        assert receipts_for(read, msg_id) == {(tom_lid, 4)}, read

        s.neonize.send(f"send-jid {lena_lid} hello lena")
        events = gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev))
        lena_msg = next(e for e in events if e["event"] == "sent")["id"]
        assert inbox_entry(s.double, LENA, 0, lena_msg)["text"] == "hello lena"

        s.neonize.send(f"on-whatsapp +{TOM} +60999000111")
        answer = s.neonize.wait("on-whatsapp")["results"]
        assert {r["query"]: r["isIn"] for r in answer} == {f"+{TOM}": True, "+60999000111": False}, answer

        # Tom links a third device and unlinks the web client: whatsmeow follows the notifications.
        queries = usync_device_queries(s.double, login["conn"])
        added = s.double.ok("POST", "/contacts/device", {"phone": TOM, "add": 3})
        assert added["notified"] == [login["conn"]] and added["devices"] == [0, 2, 3], added
        removed = s.double.ok("POST", "/contacts/device", {"phone": TOM, "remove": 2})
        assert removed["devices"] == [0, 3], removed
        wait_until(lambda: sum(1 for line in (signature(e) for e in transcript(s.double, login["conn"]))
                               if line == "in ack[class=notification,id,to,type=devices]") == 2, what="acks of both notifications")
        s.neonize.send(f"send {TOM} after the change")
        events = gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev))
        changed = next(e for e in events if e["event"] == "sent")["id"]
        assert inbox_entry(s.double, TOM, 3, changed)["text"] == "after the change"
        assert inbox_entry(s.double, TOM, 0, changed)["text"] == "after the change"
        assert usync_device_queries(s.double, login["conn"]) == queries, "whatsmeow asked usync again: a notification did not match"
        relayed = next(m for m in s.double.ok("GET", "/state")["messages"] if m["id"] == changed)
        assert sorted(d["to"] for d in relayed["deliveries"]) == sorted([tom_lid.replace("@", ":0@"), tom_lid.replace("@", ":3@"),
                                                                         own_lid.replace("@", ":0@")]), relayed
        no_phash_warning(s.directory)
        sent = transcript(s.double, login["conn"])
        lines = [signature(e) for e in sent]
        assert "out notification[from,id,t,type=devices]{add[device_hash]{device[jid]}}" in lines, lines
        record("neonize_to_phones", [("sender", sent)])

        # A device linked without a notification: the ack's phash tells whatsmeow its list is stale; it drops the
        # cached list and asks usync again on its next send, which then reaches the new device.
        s.double.ok("POST", "/contacts/device", {"phone": TOM, "add": 4, "notify": False})
        s.neonize.send(f"send {TOM} stale list")
        gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev))
        wait_until(lambda: "different participant list hash" in neonize_log(s.directory), 10, what="whatsmeow to notice the phash mismatch")
        s.neonize.send(f"send {TOM} fresh list")
        fresh = next(e for e in gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev)) if e["event"] == "sent")["id"]
        assert usync_device_queries(s.double, login["conn"]) == queries + 1
        assert inbox_entry(s.double, TOM, 4, fresh)["text"] == "fresh list"


def test_retry_receipts():
    """Retry receipts both ways: whatsmeow cannot decrypt a phone's corrupted message and asks again, the phone
    re-sends (enc count=1); a phone that fails twice asks whatsmeow with keys the second time, and whatsmeow's
    re-send on a session built from those keys decrypts."""
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        made = s.double.ok("POST", "/contacts/defaults", {"own": PHONE})
        tom2 = made["twoDevices"]["lid"].replace("@", ":2@")
        broken = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "text": "broken on the way", "corrupt": [paired["jid"]]})
        assert next(d for d in broken["deliveries"] if d["jid"] == paired["jid"])["corrupted"], broken
        got = s.neonize.wait("message", 30, id=broken["id"])
        assert got["text"] == "broken on the way" and got["sender"] == f"{TOM}@s.whatsapp.net", got
        sent = wait_until(lambda: (lambda m: m if len(m["receipts"]) >= 2 else None)(sent_record(s.double, broken["id"])), what="receipts")
        assert [(r["from"], r["count"], r["keys"], r["resent"]) for r in sent["retries"]] == [(paired["lid"], 1, False, True)], sent
        assert [r["type"] for r in sent["receipts"] if r["from"] == paired["lid"]] == ["retry", "inactive"], sent["receipts"]
        assert [a["class"] for a in sent["acks"]] == ["message"], sent["acks"]  # whatsmeow acks what it could not decrypt

        # The re-send breaks too: whatsmeow's second retry receipt carries keys, the phone starts a new session from them.
        twice = s.double.ok("POST", "/contacts/send", {"from": LENA, "to": PHONE, "text": "broken twice", "corrupt": True,
                                                        "corruptRetries": 1})
        got = s.neonize.wait("message", 30, id=twice["id"])
        assert got["text"] == "broken twice" and got["sender"] == made["lidOnly"]["lid"], got
        retries = sent_record(s.double, twice["id"])["retries"]
        assert [(r["count"], r["keys"], r.get("corrupted", False), r["type"]) for r in retries] == [
            (1, False, True, "pkmsg"), (2, True, False, "pkmsg")], retries

        # A group message whose skmsg does not verify: the retry names the group and participant; the phone re-sends
        # 1:1 (sender key distribution and content in one pkmsg/msg) from the group, as whatsmeow does.
        group = s.double.ok("POST", "/groups", {"subject": "Retry club", "participants": [TOM, PHONE]})
        posted = s.double.ok("POST", "/contacts/send", {"from": TOM, "group": group["jid"], "text": "group retry", "corrupt": [paired["jid"]]})
        got = s.neonize.wait("message", 30, id=posted["id"], text="group retry")
        assert got["isGroup"] and got["chat"] == group["jid"] and got["sender"] == made["twoDevices"]["lid"], got
        retries = sent_record(s.double, posted["id"])["retries"]
        assert [(r["count"], r["resent"]) for r in retries] == [(1, True)], retries

        s.double.ok("POST", "/contacts/fail-next", {"device": f"{TOM}:2", "count": 2})
        s.neonize.send(f"send {TOM} please retry")
        events = gather(s.neonize, lambda ev: any(e["event"] == "sent" for e in ev) and any(
            e["event"] == "receipt" and e["sender"] == tom2 and e["type"] == 1 for e in ev), timeout=40)
        msg_id = next(e for e in events if e["event"] == "sent")["id"]
        entries = [e for e in device_of(s.double, TOM, 2)["inbox"] if e["id"] == msg_id]
        assert [(e.get("retryReceipt"), e["count"], e.get("text")) for e in entries] == [
            (1, 0, None), (2, 1, None), (None, 2, "please retry")], entries
        assert entries[2]["encTypes"] == ["pkmsg"], entries[2]  # a new session from the keys of the second retry receipt
        assert inbox_entry(s.double, TOM, 0, msg_id)["text"] == "please retry"  # the phone was not asked again
        lines = [signature(e) for e in transcript(s.double, login["conn"])]
        expected = [
            "out message[from,id,notify,sender_lid,t,type=text]{enc[type=pkmsg,v]}",
            "in receipt[id,to,type=retry]{retry[count,id,t,v] registration[]}",
            "out message[from,id,notify,sender_lid,t,type=text]{enc[count,type=pkmsg,v]}",
            "out receipt[from,id,t,type=retry]{retry[count,id,t,v] registration[]}",
            "in message[device_fanout,id,t,to,type=text]{enc[count,type=pkmsg,v] device-identity[]}",
            "out receipt[from,id,t,type=retry]{retry[count,id,t,v] registration[] keys[]{type[] identity[] key[]{id[] value[]} "
            "skey[]{id[] value[] signature[]} device-identity[]}}",
            "in message[device_fanout,id,t,to,type=text]{enc[count,type=pkmsg,v] device-identity[]}",
        ]
        assert not contains_in_order(transcript(s.double, login["conn"]), expected), "\n".join(lines)
        assert "in ack[class=message,id,to]" in lines, lines  # whatsmeow's ack of what it could not decrypt (sent asynchronously)
        record("retry_receipts", [("both-ways", transcript(s.double, login["conn"]))])


MEDIA_CONN = "in iq[id,to,type=set,xmlns=w:m]{media_conn[]}"
MEDIA_CONN_RESULT = "out iq[from,id,type=result]{media_conn[auth,auth_ttl,max_buckets,ttl]{host[hostname]*}}"


def media_event(neonize: Neonize, msg_id: str, timeout: float = 30) -> dict:
    return neonize.wait("media", timeout, id=msg_id)


def test_phones_send_media_to_neonize():
    """Phones send an image (caption, thumbnail), a PDF (file name), a voice note (ptt) and a video: real whatsmeow
    asks media_conn, downloads each from the fake CDN through the proxy with neonize's download_any and gets the
    exact bytes; a 500 is retried, a corrupted download makes it try the second host, a slow one still arrives,
    a tampered file (HMAC) and a missing one (404) fail."""
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        made = s.double.ok("POST", "/contacts/defaults", {"own": PHONE})
        sends = [
            (TOM, {"type": "image", "caption": "my passport", "seed": 1}),
            (LENA, {"type": "document", "fileName": "ticket.pdf", "caption": "your ticket", "seed": 2}),
            (TOM, {"type": "audio", "ptt": True, "seconds": 2}),
            (LENA, {"type": "video", "caption": "a clip", "seed": 3}),
        ]
        for sender, media in sends:
            sent = s.double.ok("POST", "/contacts/send", {"from": sender, "to": PHONE, "media": media})
            record = sent["media"]
            message = s.neonize.wait("message", 20, id=sent["id"])
            assert message["mediaType"] == media["type"], message
            got = media_event(s.neonize, sent["id"])
            assert got["error"] == "" and got["sha256"] == record["sha256"] and got["length"] == record["length"], (got, record)
            assert got["mimetype"] == record["mimetype"] and got["caption"] == media.get("caption", ""), got
            assert got["ptt"] == bool(media.get("ptt")) and got["fileName"] == media.get("fileName", ""), got
            # The account's own phone (device 0 of PHONE) got the same message and decrypted it too.
            own = inbox_entry(s.double, PHONE, 0, sent["id"])
            assert own["media"]["ok"] and own["media"]["sha256"] == record["sha256"], own
            assert own["encMediaTypes"] == [record["mediatype"]] and own["attrs"]["type"] == "media", own
        cdn = s.double.ok("GET", "/cdn")
        gets = [d for d in cdn["downloads"] if d["method"] == "GET" and d.get("host")]
        assert len(gets) == 4 and all(d["host"] == "mmg.whatsapp.net" and d["status"] == 200 for d in gets), gets
        assert all(d["origin"] == "https://web.whatsapp.com" and set(d["query"]) >= {"hash", "mms-type", "__wa-mms", "oh"} for d in gets), gets
        assert sorted(d["query"]["mms-type"] for d in gets) == ["audio", "document", "image", "video"], gets
        assert cdn["mediaConnQueries"] == 1, "whatsmeow caches media_conn for its ttl"
        assert "mmg.whatsapp.net:443" in [t["target"] for t in s.double.ok("GET", "/clients")["tunnels"]]
        assert_sequence(s.double, login["conn"], [MEDIA_CONN, MEDIA_CONN_RESULT])

        s.double.ok("POST", "/cdn/fault", {"status": 500})
        retried = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "media": {"type": "image", "seed": 9}})
        got = media_event(s.neonize, retried["id"])
        assert got["error"] == "" and got["sha256"] == retried["media"]["sha256"], got
        statuses = [d["status"] for d in s.double.ok("GET", "/cdn")["downloads"] if d.get("host")][-2:]
        assert statuses == [500, 200], statuses

        s.double.ok("POST", "/cdn/fault", {"kind": "corrupt", "host": "mmg.whatsapp.net"})
        fallback = s.double.ok("POST", "/contacts/send", {"from": LENA, "to": PHONE, "media": {"type": "document", "seed": 10}})
        got = media_event(s.neonize, fallback["id"])
        assert got["error"] == "" and got["sha256"] == fallback["media"]["sha256"], got
        last = [(d["host"], d.get("fault")) for d in s.double.ok("GET", "/cdn")["downloads"] if d.get("host")][-2:]
        assert last == [("mmg.whatsapp.net", "corrupt"), ("mmg-fallback.whatsapp.net", None)], last  # enc hash wrong: next host

        s.double.ok("POST", "/cdn/fault", {"kind": "slow", "seconds": 2})
        slow = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "media": {"type": "audio", "ptt": True, "seed": 11}})
        got = media_event(s.neonize, slow["id"])
        assert got["error"] == "" and got["sha256"] == slow["media"]["sha256"], got

        tampered = s.double.ok("POST", "/contacts/send", {"from": TOM, "to": PHONE, "media": {"type": "image", "tamper": "hmac"}})
        got = media_event(s.neonize, tampered["id"])
        assert "hmac" in got["error"].lower(), got
        hosts = [d["host"] for d in s.double.ok("GET", "/cdn")["downloads"] if d.get("host")][-2:]
        assert hosts == ["mmg.whatsapp.net", "mmg-fallback.whatsapp.net"], hosts  # an HMAC failure tries the next host too
        missing = s.double.ok("POST", "/contacts/send", {"from": LENA, "to": PHONE, "media": {"type": "document", "tamper": "missing"}})
        got = media_event(s.neonize, missing["id"])
        assert "404" in got["error"], got


def test_neonize_sends_media_to_phones():
    """Real whatsmeow uploads (neonize's upload: media_conn, encrypt, POST /mms/{type}/{token}) and sends an image, a PDF,
    a voice note and a video to a contact: both of Tom's devices and the account's own phone (DeviceSentMessage) fetch
    each from the fake CDN, verify and decrypt the exact bytes; GET /contacts/media returns them."""
    import base64
    import hashlib
    import media_fixtures
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        s.double.ok("POST", "/contacts/defaults", {"own": PHONE})
        files = {"image": ("photo.jpg", media_fixtures.jpeg(seed=5)), "document": ("itinerary.pdf", media_fixtures.pdf(seed=5)),
                 "ptt": ("voice.ogg", media_fixtures.ogg_opus(2.0, seed=5)), "video": ("clip.mp4", media_fixtures.mp4(seed=5))}
        for kind, (name, data) in files.items():
            path = os.path.join(s.directory, name)
            with open(path, "wb") as file:
                file.write(data)
            s.neonize.send(f"send-media {TOM} {kind} {path} {'a caption' if kind != 'ptt' else ''}".rstrip())
            sent = s.neonize.wait("sent-media", 30)
            assert s.neonize.wait("done", 5, command="send-media")["error"] == ""
            digest = hashlib.sha256(data).hexdigest()
            assert sent["fileSha256"] == digest and sent["fileLength"] == len(data), sent
            for phone, number in ((TOM, 0), (TOM, 2), (PHONE, 0)):
                entry = inbox_entry(s.double, phone, number, sent["id"])
                media = entry.get("media") or {}
                assert media.get("ok") and media["sha256"] == digest and media["length"] == len(data), (phone, number, entry)
                assert media["lengthMatches"] and media["missingFields"] == [], media
                assert entry["attrs"]["type"] == "media" and entry["encMediaTypes"] == [kind], entry
                assert media.get("ptt", False) == (kind == "ptt"), media
            assert inbox_entry(s.double, PHONE, 0, sent["id"])["deviceSent"], "the own phone's copy is a DeviceSentMessage"
            fetched = s.double.ok("GET", f"/contacts/media?device={TOM}:2&id={sent['id']}")
            assert base64.b64decode(fetched["data"]) == data, "the phone decrypted the exact bytes"
        cdn = s.double.ok("GET", "/cdn")
        uploads = cdn["uploads"]
        assert [u["path"].split("/")[2] for u in uploads] == ["image", "document", "audio", "video"], uploads
        assert all(u["status"] == 200 and u["host"] == "mmg.whatsapp.net" and u["origin"] == "https://web.whatsapp.com"
                   and set(u["query"]) == {"auth", "token"} and u["query"]["token"] == u["path"].split("/")[3] for u in uploads), uploads
        assert_sequence(s.double, login["conn"], [MEDIA_CONN, MEDIA_CONN_RESULT])


def test_lid_sender_without_sender_pn():
    """A contact known only by LID sends without sender_pn: real whatsmeow reports the LID with no phone number (it
    asks nothing), and its GetUserInfo about that LID (usync full/background with <lid/>) takes the double's answer,
    <user jid=LID pn_jid=PHONE> with the devices and an empty <lid/>, without an error: the answer BuzzBridge reads
    the number from, in the shape of the question BuzzBridge asks."""
    hidden = "60177788899"
    with Scenario() as s:
        paired, login = paired_and_logged_in(s)
        made = s.double.ok("POST", "/contacts", {"phone": hidden, "pushName": "Hana Hidden", "addressing": "lid", "senderPn": False})
        sent = s.double.ok("POST", "/contacts/send", {"from": hidden, "to": PHONE, "text": "no number here"})
        got = s.neonize.wait("message", 20, id=sent["id"])
        assert got["sender"] == made["lid"] and got["senderAlt"] == "" and got["text"] == "no number here", got
        s.neonize.send(f"user-info {made['lid']}")
        info = s.neonize.wait("user-info")
        assert info["users"] == [{"jid": made["lid"], "devices": [made["lid"]]}], info
        done = s.neonize.wait("done")
        assert done["command"] == "user-info" and done["error"] == "", done
        lines = [signature(e) for e in transcript(s.double, login["conn"])]
        asked = [line for line in lines if line.startswith("in iq[id,to,type=get,xmlns=usync]{usync[context=background")]
        assert asked and "lid[]" in asked[-1], lines
        assert any(line.startswith("out iq[from,id,type=result]{usync[") and "user[jid,pn_jid]" in line for line in lines), lines
        record("lid_sender_without_sender_pn", [("receiver", transcript(s.double, login["conn"]))])


SCENARIOS = {name[len("test_"):]: function for name, function in globals().items() if name.startswith("test_")}


def main() -> int:
    if "--list" in sys.argv:
        print("\n".join(SCENARIOS))
        return 0
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")] or list(SCENARIOS)
    failures = 0
    for name in chosen:
        started = time.time()
        try:
            SCENARIOS[name]()
            print(f"PASS {name} ({time.time() - started:.1f}s)", flush=True)
        except Exception as error:  # noqa: BLE001 - report every scenario
            failures += 1
            print(f"FAIL {name} ({time.time() - started:.1f}s): {error}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
