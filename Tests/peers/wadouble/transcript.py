"""Per-connection transcripts of every stanza in both directions, and the normaliser that makes
two clients' transcripts comparable.

An entry: {"seq", "dir": "in"|"out", "tag", "attrs", "children": [...] | "content": {...}}.
Pseudo-entries start with '#': "#client-payload" (what the handshake carried) and "#closed" (by: client, server, cut or error, with a detail).
`normalise` keeps tags, attribute NAMES, the values of attributes that mean the same for every
client (type, xmlns, code, reason, stage, value-free flags …), child structure and content kinds;
it drops ids, timestamps, JIDs, keys and lengths, and folds runs of same-shaped siblings into one
entry marked "repeated" (812 prekeys and 50 prekeys normalise alike).
"""
from __future__ import annotations

import time

from .binary import JID, Node

STABLE_ATTRS = {"type", "xmlns", "code", "reason", "stage", "class", "kind", "passive", "pull", "dir", "state", "by", "context", "mode"}


def summarise(node: Node) -> dict:
    # Empty attributes are not written on the wire (binary.marshal skips them), so they are not recorded either.
    attrs = {k: str(v) if isinstance(v, JID) else v for k, v in node.attrs.items() if v not in (None, "")}
    entry: dict = {"tag": node.tag, "attrs": attrs}
    if isinstance(node.content, list):
        entry["children"] = [summarise(child) for child in node.content]
    elif isinstance(node.content, bytes):
        entry["content"] = {"bytes": len(node.content), "hex": node.content[:48].hex()}
    elif isinstance(node.content, str):
        entry["content"] = {"text": node.content[:200]}
    return entry


class Transcript:
    def __init__(self) -> None:
        self.entries: list[dict] = []

    def record(self, direction: str, node: Node | None = None, pseudo: dict | None = None) -> None:
        entry = {"seq": len(self.entries), "dir": direction, "time": round(time.time(), 3)}
        entry.update(summarise(node) if node is not None else pseudo or {})
        self.entries.append(entry)


def _normalise_node(entry: dict) -> dict:
    out: dict = {"tag": entry["tag"]}
    attrs = entry.get("attrs", {})
    out["attrs"] = {name: (attrs[name] if name in STABLE_ATTRS else "*") for name in sorted(attrs)}
    if "children" in entry:
        out["children"] = _fold([_normalise_node(child) for child in entry["children"]])
    elif "content" in entry:
        out["content"] = "bytes" if "bytes" in entry["content"] else "text"
    return out


def _fold(children: list[dict]) -> list[dict]:
    folded: list[dict] = []
    for child in children:
        if folded and {k: v for k, v in folded[-1].items() if k != "repeated"} == child:
            folded[-1]["repeated"] = True
        else:
            folded.append(dict(child))
    return folded


def normalise(entries: list[dict]) -> list[dict]:
    """Drops what legitimately differs between clients; keeps direction, tags, attribute names, order."""
    out = []
    for entry in entries:
        node = _normalise_node(entry)
        node = {"dir": entry["dir"], **node}
        out.append(node)
    return out


def signature(entry: dict) -> str:
    """A one-line form of a normalised entry, e.g. 'in iq[id,to,type=get,xmlns=w:p]'."""
    attrs = ",".join(name if value == "*" else f"{name}={value}" for name, value in entry.get("attrs", {}).items())
    kids = entry.get("children")
    inner = "{" + " ".join(signature(c) + ("*" if c.get("repeated") else "") for c in kids) + "}" if kids else ""
    prefix = f"{entry['dir']} " if "dir" in entry else ""
    return f"{prefix}{entry['tag']}[{attrs}]{inner}"


def contains_in_order(normalised: list[dict], expected: list[str]) -> list[str]:
    """Problems (empty = fine) when the one-line signatures `expected` do not occur in this order
    in the normalised transcript; other stanzas may come between them."""
    lines = [signature(entry) for entry in normalised]
    position = 0
    for wanted in expected:
        while position < len(lines) and lines[position] != wanted:
            position += 1
        if position == len(lines):
            return [f"missing (in order): {wanted}", "transcript:", *lines]
        position += 1
    return []


# Stanzas whose presence or place depends on timing rather than on the protocol: telemetry and
# offline-delivery markers (ib), and the pseudo-entry for a closed socket.
OPTIONAL_PREFIXES = ("in ib[", "out ib[", "in #closed[", "out #closed[")


def compare(expected: list[str], actual: list[str], mode: str = "in-order") -> list[str]:
    """Problems (empty = match) between two lists of signatures.
    in-order: every expected signature that is not optional (OPTIONAL_PREFIXES: telemetry and socket
    closes, whose timing against the server's stanzas is a race) occurs in `actual`, in this order
    (others may come between).
    exact: after dropping optional stanzas from both, the lists are equal."""
    if mode == "in-order":
        position = 0
        for wanted in (line for line in expected if not line.startswith(OPTIONAL_PREFIXES)):
            while position < len(actual) and actual[position] != wanted:
                position += 1
            if position == len(actual):
                return [f"missing (in order): {wanted}"]
            position += 1
        return []
    if mode != "exact":
        raise ValueError(f"unknown mode {mode!r}")
    required = [line for line in expected if not line.startswith(OPTIONAL_PREFIXES)]
    seen = [line for line in actual if not line.startswith(OPTIONAL_PREFIXES)]
    for index, (wanted, got) in enumerate(zip(required, seen)):
        if wanted != got:
            return [f"stanza {index}: expected {wanted}", f"stanza {index}: got      {got}"]
    if len(required) != len(seen):
        longer = required[len(seen):] if len(required) > len(seen) else seen[len(required):]
        return [f"{'missing' if len(required) > len(seen) else 'unexpected'}: {line}" for line in longer]
    return []
