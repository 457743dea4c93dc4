"""A WhatsApp server double: what BuzzBridge's live engine is tested against (issue #16).

Run:   python Tests/peers/wa_server_double.py [--seed N] [--state FILE] [--dir DIR]
       (with .venv-test's python: scripts/setup-test-env installs what it needs)
Prints ONE JSON line on stdout, then serves until its stdin closes:
  {"proxyPort": int, "wsPort": int, "controlPort": int, "caFile": "/path/ca.pem",
   "noiseRootPublicKey": "<64 hex>", "socksPort": int, "cdnPort": int}
  - wsPort: TLS WebSocket server; path /ws/chat, Origin https://web.whatsapp.com (else 403).
    Certificate for web.whatsapp.com, web.whatsapp.test, localhost, 127.0.0.1 from a throwaway
    CA written to caFile (valid two days).
  - proxyPort: HTTP CONNECT proxy; a tunnel to a media host (mmg.whatsapp.net, mmg-fallback.whatsapp.net) goes to
    the fake CDN (cdnPort, wadouble/cdn.py: uploads, downloads, faults), any other host to the WebSocket server.
  - socksPort: SOCKS5 proxy (user "user", password "secret", RFC 1929, or no auth), same tunnels.
    POST /proxy {"socksRequireAuth": true} makes it refuse a client that offers no credentials (answer: the settings).
  - noiseRootPublicKey: the Curve25519 key the Noise certificate chain is signed under
    (stands in for whatsmeow's WACertPubKey). Same seed, same key; default seed is random.
  - controlPort: the control API, HTTP/1.1 JSON on 127.0.0.1, one request per connection.

Control API (JSON bodies and answers; errors {"error": "..."} with status 400/404/409/422/504;
409 also when the client's connection closed during the request):
  POST /phone/scan         {"qr": "https://wa.me/settings/linked_devices#ref,noise,identity,adv[,type]",
                            "phone": "60123456789"}
       The phone scans a QR: the ref must be one the double sent on an open unpaired connection,
       the keys those of its handshake and registration. Sends pair-success, waits for and
       verifies pair-device-sign, then sends stream:error 515. Answer {"jid": "60123456789:1@s.whatsapp.net",
       "lid": "<lid>:1@lid"} once the companion's device signature checked out (422 if not).
       With "tamper": "hmac" | "signature" the phone sends a broken device identity instead; the answer
       is the companion's refusal {"refused": true, "code": "401", "text": "hmac-mismatch"} (422 if it accepted).
  POST /phone/enter-code   {"code": "ABCD-1234", "phone": "60123456789"}
       The phone types the code the companion showed after its companion_hello for that number:
       primary_hello notification, companion_finish checked (400 when the code is wrong), then as scan.
  POST /phone/remove-device {"jid": "..."}   unlink (stream:error 401 device_removed if connected).
  POST /fault              {"jid": "... (omit: every logged-in client, or the next to log in)", "kind": K}
       K: stream_error_515, stream_error_503 (any stream_error_N), device_removed, replaced, cut_socket,
       prekeys_low (keeps 3 one-time prekeys, sends <notification type="encrypt"><count value="3"/>) (now; queued
       for the next login when no such client is connected), failure_N e.g. failure_405 (at the
       next login), stop_answering_pings, cut_during_next_iq (closes the socket on the next IQ
       the client sends, before answering), no_ack_for_next_message (the client's next message is relayed but
       never acked), drop_messages (the client's messages vanish: neither relayed nor acknowledged; their ids
       are listed in GET /state "dropped"). Answer {"queued": bool, "applied": [conn numbers]}.
  GET  /clients            {"clients": [{"conn", "state": handshake|unpaired|pairing|paired|logged-in|
                            closing|logged-out|failed|closed, "payload": registration|login, "jid", "lid",
                            "pushName", "presence", "active", "refs", "closedBy", ...}], "faults", "tunnels"}
  GET  /state              {"devices": [{"jid", "lid", "pushName", "prekeyIds", "prekeyCount",
                            "signedPreKeyId", "registrationId", "pairedBy"}], "logouts": [...], "removed": [...]}
  GET  /transcript?conn=N  or ?jid=J   {"connections": [{"conn", "jid", "entries": [...], "normalised": [...]}]}
       entries: every stanza in order, {"seq", "dir": "in"|"out", "tag", "attrs", "children"|"content"},
       plus "#client-payload" (the handshake's payload) and "#closed"; "normalised" keeps only what
       every client must share (see wadouble/transcript.py); "signatures" is one line per normalised stanza.
  POST /transcript/compare {"conn": N, "recording": "qr_pairing", "role": "pairing", "mode": "in-order"|"exact"}
       compares connection N with a role of Tests/peers/transcripts/neonize_<recording>.json (what real
       whatsmeow did): in-order = every recorded stanza occurs in this order; exact = the same stanzas
       in the same order, ignoring ib telemetry and #closed. Answer {"match", "problems", "expected", "actual"}.

Pairing as WhatsApp does it: a registration connection gets one pair-device IQ with six refs; the
client shows them in turn (60 s, then 20 s each, whatsmeow qrchan.go) and disconnects when they run
out; the double accepts a scan of any ref of a connection that is still open and unpaired. Device
numbers count from 1 per phone number; the LID user is derived from the seed and the number.

A login payload for a paired device whose Noise key matches gets `<success t lid props abprops
location creation/>` then `<ib><offline count=N/></ib>`; an unknown device or another Noise key
gets `<failure reason="401"/>`; a second login of the same device sends the first connection
`<stream:error><conflict type="replaced"/></stream:error>`. --state FILE keeps paired devices,
their prekeys, logouts and removals across runs of the double (not queued messages).

What the double answers after `success`: prekey count (`encrypt`/`count`), prekey upload (stored),
prekey bundle fetch (`encrypt`/`key`, one-time key consumed), usync (`devices`, `lid`, `contact`;
other query tags echoed empty), privacy tokens (accepted), media_conn (`w:m`, the CDN's hosts), passive/active, ping (`w:p`),
`remove-companion-device` logout (recorded, device forgotten), presence (push name recorded);
any other IQ gets <error code="501" text="feature-not-implemented"/>.
Messages: a client's 1:1 `message` is acked (`ack class=message`) and each `<participants><to jid>`
ciphertext is relayed to that device as `<message from=SENDER_LID_DEVICE sender_pn=… id t type
[notify] [recipient for the sender's own devices]><enc/>[<device-identity/> for pkmsg]</message>`,
queued while the device is offline and delivered right after its next `success` (before
`<ib><offline count=N/></ib>`); a message stays pending until the receiving companion answers it
(a receipt or `ack class=message`), and one delivered to a connection that closed first is
delivered again after the device's next `success` (GET /state "unacked"); the ack carries `phash` (send.go participantListHashV2 of the
recipient's and the sender's devices in the addressing of `to`). Receipts are acked and relayed to
the sender's devices. Device lists hold the companions paired here and the simulated phones and web
clients of /contacts (python-axolotl Signal peers: wadouble/contacts.py; their control calls are
described in wadouble/control.py). GET /state also lists "messages" (deliveries, receipts, phash)
and "offline" (queued per device). A `w:g2` group-info IQ is answered for groups made by POST /groups.
"""
import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")  # python-axolotl's generated protobufs need it

from wadouble.app import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", default=None, help="derives the Noise root/static keys and the phones' account keys")
    parser.add_argument("--state", default=None, help="JSON file that keeps paired devices across runs")
    parser.add_argument("--dir", default=None, help="where to write ca.pem (default: a new temporary directory)")
    arguments = parser.parse_args()
    seed = arguments.seed if arguments.seed is not None else os.urandom(8).hex()
    asyncio.run(run(str(seed), arguments.state, arguments.dir))


if __name__ == "__main__":
    main()
