"""The evidence ledger: one hash chain per case over its events and evidence items.

Everything here is defined byte for byte so that an independent verifier, in any language,
can recompute every hash from an export bundle's ``manifest.json`` alone.

**Canonical JSON** (`canonical_json`). The UTF-8 bytes of the value written as JSON with:

- object keys sorted by Unicode code point (Python's ``sorted`` on ``str``; note this is not
  RFC 8785's UTF-16 order, which differs only for keys holding characters above U+FFFF);
  keys must be strings;
- no whitespace at all: ``,`` between members and elements, ``:`` between key and value;
- strings written literally (not as ``\\uXXXX``) except: ``"`` → ``\\"``, ``\\`` → ``\\\\``,
  U+0008/0009/000A/000C/000D → ``\\b \\t \\n \\f \\r``, and every other character below U+0020 →
  ``\\u00xx`` with lower-case hex; lone surrogates are refused;
- ``true``, ``false``, ``null``; integers in decimal with no leading zeros or ``+``, limited to
  ±(2**53 − 1) so a verifier using IEEE doubles reads them exactly;
- finite floats as Python's ``repr`` (the shortest string that reads back to the same double,
  e.g. ``0.1``, ``1e+16``, ``-0.0``); NaN and infinities are refused. Prefer integers (money in
  fen, sizes in bytes) and strings (times in ISO 8601) for anything that matters;
- arrays from lists and tuples; nothing else (no dates, bytes, sets, decimals) is accepted.

It is exactly ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False).encode("utf-8")`` on the plain value.

**Entry hash** (`entry_hash`)::

    entry_hash(previous, entry) = hex(SHA-256(ascii(previous) || 0x0A || canonical_json(entry)))

where ``previous`` is 64 lower-case hex characters and the result is lower-case hex.

**Chain entries** (`ChainEntry`). Entry *n* (sequences are 1, 2, 3, …) has a ``kind``
(``"event"`` or ``"evidence"``), a ``visibility`` (``"all_parties"`` or ``"mediator_only"``) and
a ``body`` (any canonical-JSON object). What the chain hashes is the entry's *header*::

    body_sha256 = hex(SHA-256(canonical_json(body)))
    header      = {"body_sha256": body_sha256, "kind": kind, "sequence": n,
                   "visibility": visibility}
    hash        = entry_hash(previous_hash, header)

with ``previous_hash`` the hash of entry *n − 1*, or `GENESIS` (64 zeros) for entry 1. The body
is hashed through its digest so that an export may *redact* an entry (drop the body, keep
``body_sha256``) that the requester may not see — caucus material — without breaking the chain;
the header still commits to the entry's visibility, so an export cannot pass an all-parties entry
off as hidden.

**Daily digest** (`daily_digest`)::

    hex(SHA-256(canonical_json({"day": "YYYY-MM-DD", "heads": {str(case_id): head, ...}})))

over the chain heads of the cases that changed that day (canonical JSON sorts the case ids as
strings). Publishing it lets anyone later prove that a case's head existed on that day.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from odr.domain.authz import Visibility
from odr.domain.frozen import freeze, thaw

GENESIS = "0" * 64
MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64

_HEX64 = re.compile(r"[0-9a-f]{64}")


class NotCanonicalJson(ValueError):
    """A value that canonical JSON cannot represent; the message names where it is."""


class EntryKind(StrEnum):
    EVENT = "event"
    EVIDENCE = "evidence"


class ChainFault(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    BROKEN_LINK = "broken_link"
    SEQUENCE_GAP = "sequence_gap"
    BAD_GENESIS = "bad_genesis"


def is_sha256_hex(value: object) -> bool:
    """True for 64 lower-case hex characters (how every hash here is written)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


# --- canonical JSON --------------------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    """The canonical JSON bytes of ``value`` (rules in the module docstring)."""
    plain = _plain(value, "$", 0)
    text = json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _plain(value: object, where: str, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise NotCanonicalJson(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        plain = str.__str__(value)
        try:
            plain.encode("utf-8")
        except UnicodeEncodeError:
            raise NotCanonicalJson(f"{where}: string is not valid Unicode") from None
        return plain
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonicalJson(f"{where}: integer beyond ±(2**53 - 1)")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotCanonicalJson(f"{where}: {value!r} is not a finite number")
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalJson(f"{where}: key {key!r} is not a string")
            name = str.__str__(key)
            if name in out:
                raise NotCanonicalJson(f"{where}: key {name!r} appears twice")
            out[name] = _plain(item, f"{where}.{name}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise NotCanonicalJson(f"{where}: {type(value).__name__} is not a JSON type")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def body_digest(body: Mapping[str, Any]) -> str:
    """``hex(SHA-256(canonical_json(body)))``."""
    return sha256_hex(canonical_json(body))


def entry_hash(previous_hash: str, entry: Mapping[str, Any]) -> str:
    """``hex(SHA-256(ascii(previous_hash) + b"\\n" + canonical_json(entry)))``."""
    if not is_sha256_hex(previous_hash):
        raise ValueError("previous_hash must be 64 lower-case hex characters")
    return sha256_hex(previous_hash.encode("ascii") + b"\n" + canonical_json(entry))


# --- chain entries ---------------------------------------------------------------------------


_ENTRY_FIELDS = frozenset(
    {"sequence", "kind", "visibility", "body", "body_sha256", "previous_hash", "hash"}
)


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One link of a case's chain. ``body`` is None when the entry is redacted (the requester
    may not see it); ``body_sha256`` still commits to it. Immutable all the way down."""

    sequence: int
    kind: str
    body: Mapping[str, Any] | None
    previous_hash: str
    hash: str
    body_sha256: str
    visibility: str = Visibility.ALL_PARTIES

    def __post_init__(self) -> None:
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise ValueError("sequence must be an integer")
        if self.sequence < 1:
            raise ValueError("sequence must be 1 or more")
        for name in ("kind", "visibility"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        for name in ("previous_hash", "hash", "body_sha256"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string")
        if self.body is not None and not isinstance(self.body, Mapping):
            raise ValueError("body must be an object or null")
        object.__setattr__(self, "kind", str.__str__(self.kind))
        object.__setattr__(self, "visibility", str.__str__(self.visibility))
        object.__setattr__(self, "body", None if self.body is None else freeze(self.body))

    def __deepcopy__(self, memo: dict[int, Any]) -> ChainEntry:
        return self  # immutable (a mappingproxy cannot be deep-copied)

    @property
    def is_redacted(self) -> bool:
        return self.body is None

    def header(self) -> dict[str, Any]:
        """What `hash` is computed over (with `previous_hash`)."""
        return {
            "body_sha256": self.body_sha256,
            "kind": self.kind,
            "sequence": self.sequence,
            "visibility": self.visibility,
        }

    def body_dict(self) -> dict[str, Any] | None:
        """The body as plain dicts and lists (None when redacted)."""
        plain: dict[str, Any] | None = None if self.body is None else thaw(self.body)
        return plain

    def redacted(self) -> ChainEntry:
        """The same entry without its body (for an export to someone who may not see it)."""
        return ChainEntry(
            self.sequence,
            self.kind,
            None,
            self.previous_hash,
            self.hash,
            self.body_sha256,
            self.visibility,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "kind": self.kind,
            "visibility": self.visibility,
            "body": self.body_dict(),
            "body_sha256": self.body_sha256,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: object) -> ChainEntry:
        """Parse `to_dict`'s form strictly; `ValueError` names the first problem."""
        if not isinstance(data, Mapping):
            raise ValueError("not an object")
        missing = sorted(_ENTRY_FIELDS - data.keys())
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        extra = sorted(str(k) for k in data.keys() - _ENTRY_FIELDS)
        if extra:
            raise ValueError(f"unexpected field {extra[0]!r}")
        return cls(
            sequence=data["sequence"],
            kind=data["kind"],
            body=data["body"],
            previous_hash=data["previous_hash"],
            hash=data["hash"],
            body_sha256=data["body_sha256"],
            visibility=data["visibility"],
        )


def append(
    chain_head: str,
    sequence: int,
    kind: str,
    body: Mapping[str, Any],
    *,
    visibility: str = Visibility.ALL_PARTIES,
) -> ChainEntry:
    """The entry that follows ``chain_head`` (`GENESIS` for a new chain) as number ``sequence``.

    Raises `NotCanonicalJson` when the body holds something canonical JSON cannot represent,
    `ValueError` for a malformed head or sequence."""
    digest = body_digest(body)
    entry = ChainEntry(
        sequence=sequence,
        kind=kind,
        body=body,
        previous_hash=chain_head,
        hash="",
        body_sha256=digest,
        visibility=visibility,
    )
    computed = entry_hash(chain_head, entry.header())
    return ChainEntry(
        sequence, entry.kind, entry.body, chain_head, computed, digest, entry.visibility
    )


def head_of(entries: Iterable[ChainEntry]) -> str:
    """The chain's head: the last entry's hash, or `GENESIS` for an empty chain."""
    head = GENESIS
    for entry in entries:
        head = entry.hash
    return head


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The verdict on a chain. ``first_bad_sequence`` is the 1-based position of the first bad
    entry (the sequence it should carry)."""

    ok: bool
    first_bad_sequence: int | None = None
    reason: ChainFault | None = None
    detail: str = ""


def verify_chain(entries: Iterable[ChainEntry]) -> ChainCheck:
    """Check every entry in order and stop at the first bad one. For entry number n (1-based):
    entry 1 must link to `GENESIS` (``bad_genesis``); its sequence must be n
    (``sequence_gap``); it must link to entry n − 1's hash (``broken_link``); a present body
    must match ``body_sha256`` and the header must hash to ``hash`` (``hash_mismatch``).
    An empty chain is valid."""
    previous: ChainEntry | None = None
    for position, entry in enumerate(entries, start=1):
        if previous is None and entry.previous_hash != GENESIS:
            return ChainCheck(False, position, ChainFault.BAD_GENESIS, "does not start at genesis")
        if entry.sequence != position:
            return ChainCheck(
                False, position, ChainFault.SEQUENCE_GAP, f"sequence {entry.sequence} at {position}"
            )
        if previous is not None and entry.previous_hash != previous.hash:
            return ChainCheck(
                False, position, ChainFault.BROKEN_LINK, "previous_hash is not the entry before's"
            )
        if entry.body is not None:
            try:
                digest = body_digest(entry.body)
            except NotCanonicalJson as exc:
                return ChainCheck(False, position, ChainFault.HASH_MISMATCH, str(exc))
            if digest != entry.body_sha256:
                return ChainCheck(
                    False, position, ChainFault.HASH_MISMATCH, "body does not match body_sha256"
                )
        try:
            computed = entry_hash(entry.previous_hash, entry.header())
        except ValueError as exc:
            return ChainCheck(False, position, ChainFault.HASH_MISMATCH, str(exc))
        if computed != entry.hash:
            return ChainCheck(
                False, position, ChainFault.HASH_MISMATCH, "hash does not match the entry"
            )
        previous = entry
    return ChainCheck(True)


# --- daily digest ----------------------------------------------------------------------------


def daily_digest(
    day: date, heads: Mapping[str, str] | Mapping[int, str] | Mapping[str | int, str]
) -> str:
    """``hex(SHA-256(canonical_json({"day": ISO day, "heads": {str(case_id): head}})))``.

    Case ids may be ints or strings; two ids with the same string form are refused, as is a
    head that is not 64 lower-case hex characters. A day with no heads has a digest too."""
    table: dict[str, str] = {}
    for case_id, head in heads.items():
        if isinstance(case_id, bool) or not isinstance(case_id, int | str):
            raise ValueError(f"case id {case_id!r} must be an int or a string")
        key = str(case_id)
        if key in table:
            raise ValueError(f"case id {key!r} appears twice")
        if not is_sha256_hex(head):
            raise ValueError(f"head of case {key!r} is not 64 lower-case hex characters")
        table[key] = head
    return sha256_hex(canonical_json({"day": day.isoformat(), "heads": table}))
