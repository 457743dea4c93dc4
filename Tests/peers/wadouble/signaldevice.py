"""One simulated WhatsApp device's Signal state, played by python-axolotl (independent of the Swift
SignalProtocol and of whatsmeow's libsignal port).

A `SignalDevice` has an identity key pair (device 0: the account key the primary phone signs
companions with, so a phone's identity is its account identity as on WhatsApp), a registration id,
a signed prekey and a pool of one-time prekeys it hands out through the double's prekey-bundle IQ.
It encrypts to and decrypts from companions (1:1 `pkmsg`/`msg`, WhatsApp's 1-15 byte padding,
message.go padMessage/unpadMessage) and keeps sender keys for groups (`skmsg`).

Sessions are keyed by the peer's LID user and device number: the address whatsmeow itself uses
once a LID is known (types/jid.go SignalAddress), so a session survives PN/LID addressing changes.
"""
from __future__ import annotations

import hashlib
import os

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

import axolotl_curve25519 as curve  # noqa: E402
from axolotl.axolotladdress import AxolotlAddress  # noqa: E402
from axolotl.ecc.curve import Curve  # noqa: E402
from axolotl.ecc.djbec import DjbECPrivateKey, DjbECPublicKey  # noqa: E402
from axolotl.groups.groupcipher import GroupCipher  # noqa: E402
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder  # noqa: E402
from axolotl.groups.senderkeyname import SenderKeyName  # noqa: E402
from axolotl.groups.state.senderkeyrecord import SenderKeyRecord  # noqa: E402
from axolotl.groups.state.senderkeystore import SenderKeyStore  # noqa: E402
from axolotl.identitykey import IdentityKey  # noqa: E402
from axolotl.identitykeypair import IdentityKeyPair  # noqa: E402
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage  # noqa: E402
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage  # noqa: E402
from axolotl.protocol.whispermessage import WhisperMessage  # noqa: E402
from axolotl.sessionbuilder import SessionBuilder  # noqa: E402
from axolotl.sessioncipher import SessionCipher  # noqa: E402
from axolotl.state.prekeybundle import PreKeyBundle  # noqa: E402
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore  # noqa: E402
from axolotl.untrustedidentityexception import UntrustedIdentityException  # noqa: E402
from axolotl.util.keyhelper import KeyHelper  # noqa: E402

PREKEY_POOL = 30
PREKEY_LOW = 5


def pad(plaintext: bytes) -> bytes:
    """WhatsApp's v2 padding: n = a random 1..15 (0 becomes 15), n bytes of value n."""
    n = os.urandom(1)[0] & 0x0F or 15
    return plaintext + bytes([n]) * n


def unpad(plaintext: bytes) -> bytes:
    if not plaintext:
        raise ValueError("empty plaintext")
    n = plaintext[-1]
    if n == 0 or n > len(plaintext) or plaintext[-n:] != bytes([n]) * n:
        raise ValueError(f"bad padding (last byte {n})")
    return plaintext[:-n]


def public_key(raw: bytes) -> DjbECPublicKey:
    return Curve.decodePoint(bytearray(raw if len(raw) == 33 else b"\x05" + raw), 0)


class _SenderKeys(SenderKeyStore):
    def __init__(self) -> None:
        self.records: dict = {}

    @staticmethod
    def _key(name: SenderKeyName) -> tuple:
        return name.getGroupId(), name.getSender().getName(), name.getSender().getDeviceId()

    def storeSenderKey(self, senderKeyName, senderKeyRecord) -> None:
        self.records[self._key(senderKeyName)] = senderKeyRecord.serialize()

    def loadSenderKey(self, senderKeyName):
        serialized = self.records.get(self._key(senderKeyName))
        return SenderKeyRecord(serialized=serialized) if serialized else SenderKeyRecord()


class SignalDevice:
    """Keys and sessions of one device. `private_key` (32 bytes) fixes the identity; `seed` makes the
    registration id and prekeys reproducible enough for logs (the keys themselves are random)."""

    def __init__(self, private_key: bytes, seed: str) -> None:
        self.store = InMemoryAxolotlStore()
        identity = self.store.identityKeyStore
        identity.identityKeyPair = IdentityKeyPair(IdentityKey(DjbECPublicKey(curve.generatePublicKey(private_key))),
                                                   DjbECPrivateKey(private_key))
        identity.localRegistrationId = 1 + int.from_bytes(hashlib.sha256(f"{seed}/registration".encode()).digest()[:2], "big") % 16380
        self.signed = KeyHelper.generateSignedPreKey(identity.identityKeyPair, 1)
        self.store.storeSignedPreKey(self.signed.getId(), self.signed)
        self.next_prekey = 1
        self.unclaimed: list[int] = []  # one-time prekeys not yet handed out in a bundle
        self.sender_keys = _SenderKeys()
        self.top_up()

    # -- what the server hands out ---------------------------------------------------------------
    @property
    def identity_public(self) -> bytes:
        return self.store.getIdentityKeyPair().getPublicKey().getPublicKey().getPublicKey()

    @property
    def registration_id(self) -> int:
        return self.store.getLocalRegistrationId()

    def top_up(self) -> None:
        for record in KeyHelper.generatePreKeys(self.next_prekey, PREKEY_POOL - len(self.unclaimed)):
            self.store.storePreKey(record.getId(), record)
            self.unclaimed.append(record.getId())
            self.next_prekey = record.getId() + 1

    def claim_bundle(self) -> dict:
        """A prekey bundle as the server gives it out: one one-time prekey is taken from the pool."""
        if len(self.unclaimed) < PREKEY_LOW:
            self.top_up()
        key_id = self.unclaimed.pop(0)
        prekey = self.store.loadPreKey(key_id).getKeyPair().getPublicKey().getPublicKey()
        return {"registration": self.registration_id, "identity": self.identity_public, "prekey": (key_id, prekey),
                "signed": (self.signed.getId(), self.signed.getKeyPair().getPublicKey().getPublicKey(), bytes(self.signed.getSignature()))}

    # -- 1:1 -------------------------------------------------------------------------------------
    def _cipher(self, name: str, device: int) -> SessionCipher:
        s = self.store
        return SessionCipher(s, s, s, s, name, device)

    def has_session(self, name: str, device: int) -> bool:
        return self.store.containsSession(name, device)

    def start_session(self, name: str, device: int, bundle: dict) -> None:
        """X3DH from a peer's bundle: {"registration", "identity", "prekey": (id, pub) | None, "signed": (id, pub, sig)}."""
        self.store.identityKeyStore.trustedKeys.pop(name, None)  # a new bundle is trusted as whatsmeow does (AutoTrustIdentity)
        prekey = bundle.get("prekey")
        signed_id, signed_pub, signature = bundle["signed"]
        built = PreKeyBundle(bundle["registration"], device, prekey[0] if prekey else None,
                             public_key(prekey[1]) if prekey else None, signed_id, public_key(signed_pub), signature,
                             IdentityKey(public_key(bundle["identity"])))
        s = self.store
        SessionBuilder(s, s, s, s, name, device).processPreKeyBundle(built)

    def encrypt(self, name: str, device: int, plaintext: bytes) -> tuple[str, bytes, bytes]:
        """(enc type "pkmsg"|"msg", ciphertext, the inner WhisperMessage bytes) of padded plaintext."""
        message = self._cipher(name, device).encrypt(pad(plaintext))
        if isinstance(message, PreKeyWhisperMessage):
            return "pkmsg", bytes(message.serialize()), bytes(message.getWhisperMessage().serialize())
        return "msg", bytes(message.serialize()), bytes(message.serialize())

    def decrypt(self, name: str, device: int, kind: str, ciphertext: bytes) -> bytes:
        cipher = self._cipher(name, device)
        if kind == "pkmsg":
            try:
                plaintext = cipher.decryptPkmsg(PreKeyWhisperMessage(serialized=ciphertext))
            except UntrustedIdentityException:
                # The companion re-paired with a new identity: trust it, as whatsmeow does by default.
                self.store.identityKeyStore.trustedKeys.pop(name, None)
                self.store.deleteSession(name, device)
                plaintext = self._cipher(name, device).decryptPkmsg(PreKeyWhisperMessage(serialized=ciphertext))
        elif kind == "msg":
            plaintext = cipher.decryptMsg(WhisperMessage(serialized=ciphertext))
        else:
            raise ValueError(f"not a 1:1 ciphertext type: {kind}")
        return unpad(bytes(plaintext))

    # -- groups ------------------------------------------------------------------------------------
    def sender_key_distribution(self, group: str, own_name: str, own_device: int) -> bytes:
        """Serialized SenderKeyDistributionMessage for our sender key in `group` (created on first use)."""
        name = SenderKeyName(group, AxolotlAddress(own_name, own_device))
        return bytes(GroupSessionBuilder(self.sender_keys).create(name).serialize())

    def group_encrypt(self, group: str, own_name: str, own_device: int, plaintext: bytes) -> bytes:
        name = SenderKeyName(group, AxolotlAddress(own_name, own_device))
        return bytes(GroupCipher(self.sender_keys, name).encrypt(pad(plaintext)))

    def group_process(self, group: str, sender: str, device: int, distribution: bytes) -> None:
        name = SenderKeyName(group, AxolotlAddress(sender, device))
        GroupSessionBuilder(self.sender_keys).process(name, SenderKeyDistributionMessage(serialized=distribution))

    def group_decrypt(self, group: str, sender: str, device: int, ciphertext: bytes) -> bytes:
        name = SenderKeyName(group, AxolotlAddress(sender, device))
        return unpad(bytes(GroupCipher(self.sender_keys, name).decrypt(ciphertext)))


def corrupt(ciphertext: bytes, inner: bytes) -> bytes:
    """Flips the last byte of the inner WhisperMessage (its MAC), so the receiver's MAC check fails
    while the stanza still parses: the receiver answers with a retry receipt."""
    at = ciphertext.rfind(inner)
    if at < 0:
        raise ValueError("inner message not found in ciphertext")
    end = at + len(inner) - 1
    return ciphertext[:end] + bytes([ciphertext[end] ^ 0x01]) + ciphertext[end + 1:]
