"""Paired companion devices: who they are (PN and LID JIDs), their keys, uploaded prekeys, logouts.

Kept for the life of the process; with a state file, saved after every change and loaded at start.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Device:
    phone: str
    device: int
    lid_user: str
    noise_key: str  # hex; the static Noise key the companion must log in with
    identity_key: str  # hex
    registration_id: int = 0
    signed_prekey: dict = field(default_factory=dict)  # {"id", "value", "signature"} hex
    prekeys: dict = field(default_factory=dict)  # str(id) -> hex public key
    prekeys_uploaded: list = field(default_factory=list)  # ids in upload order
    push_name: str = ""
    platform: str = ""
    paired_at: int = 0
    paired_by: str = ""  # "qr" or "code"

    @property
    def jid(self) -> str:
        return f"{self.phone}:{self.device}@s.whatsapp.net"

    @property
    def lid(self) -> str:
        return f"{self.lid_user}:{self.device}@lid"

    def summary(self) -> dict:
        return {
            "jid": self.jid, "lid": self.lid, "pairedBy": self.paired_by, "pairedAt": self.paired_at,
            "pushName": self.push_name, "registrationId": self.registration_id,
            "prekeyCount": len(self.prekeys), "prekeyIds": sorted(int(i) for i in self.prekeys),
            "signedPreKeyId": self.signed_prekey.get("id"),
        }


class Registry:
    def __init__(self, seed: str, state_file: str | None = None) -> None:
        self.seed = seed
        self.state_file = state_file
        self.devices: dict[str, Device] = {}
        self.logouts: list[dict] = []
        self.removed: list[dict] = []
        self.next_device: dict[str, int] = {}
        if state_file and os.path.exists(state_file):
            with open(state_file, encoding="utf-8") as file:
                state = json.load(file)
            self.devices = {jid: Device(**d) for jid, d in state["devices"].items()}
            self.logouts, self.removed, self.next_device = state["logouts"], state["removed"], state["nextDevice"]

    def save(self) -> None:
        if not self.state_file:
            return
        state = {"devices": {jid: asdict(d) for jid, d in self.devices.items()}, "logouts": self.logouts,
                 "removed": self.removed, "nextDevice": self.next_device}
        temporary = self.state_file + ".tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(state, file)
        os.replace(temporary, self.state_file)

    def lid_user(self, phone: str) -> str:
        digits = int.from_bytes(hashlib.sha256(f"{self.seed}/lid/{phone}".encode()).digest()[:8], "big")
        return str(10**14 + digits % (9 * 10**14))

    def allocate(self, phone: str, noise_key: bytes, identity_key: bytes, paired_by: str) -> Device:
        number = self.next_device.get(phone, 1)
        self.next_device[phone] = number + 1
        device = Device(phone=phone, device=number, lid_user=self.lid_user(phone), noise_key=noise_key.hex(),
                        identity_key=identity_key.hex(), paired_at=int(time.time()), paired_by=paired_by)
        return device

    def add(self, device: Device) -> None:
        self.devices[device.jid] = device
        self.save()

    def find(self, phone: str, number: int) -> Device | None:
        return self.devices.get(f"{phone}:{number}@s.whatsapp.net")

    def by_jid(self, jid: str) -> Device | None:
        if jid in self.devices:
            return self.devices[jid]
        return next((d for d in self.devices.values() if d.lid == jid), None)

    def remove(self, jid: str, reason: str) -> Device | None:
        device = self.by_jid(jid)
        if device is not None:
            del self.devices[device.jid]
            self.removed.append({"jid": device.jid, "reason": reason, "t": int(time.time())})
            self.save()
        return device

    def state(self) -> dict:
        return {
            "devices": [d.summary() for d in self.devices.values()],
            "logouts": self.logouts,
            "removed": self.removed,
        }
