"""Keyset pagination cursors: an opaque token naming one row of a list by its sort key and id,
and which way to read from it.

A token is ``base64url(JSON) "." checksum``; the JSON holds the list's name, the direction
(``after``: the rows that follow, ``before``: the rows that precede) and the key. The checksum
is not a secret (a cursor grants nothing: every list is filtered by its reader's rights), it
only tells a damaged or edited token from a real one. Anything that does not decode to a key of
the expected list is `BadCursor` (400 ``bad_cursor``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from odr.domain.errors import DomainError

#: Page sizes of every keyset list: what a reader gets without asking, and the most it may ask.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: A token longer than this is refused before decoding.
MAX_TOKEN = 512

_VERSION = 1


class BadCursor(DomainError):
    """A cursor that is not one this service gave out (edited, cut short, another list's)."""

    code = "bad_cursor"


class Direction(StrEnum):
    AFTER = "after"
    BEFORE = "before"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in list ``name``: the rows ``direction`` of the row whose key is ``key``."""

    name: str
    direction: Direction
    key: tuple[Any, ...]


def _checksum(payload: bytes) -> str:
    return hashlib.sha256(b"odr-cursor:" + payload).hexdigest()[:12]


def encode(cursor: Cursor) -> str:
    body = [_VERSION, cursor.name, str(cursor.direction), list(cursor.key)]
    payload = json.dumps(body, separators=(",", ":")).encode()
    text = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{text}.{_checksum(payload)}"


def _refuse() -> BadCursor:
    return BadCursor(
        "This page link is not valid (it may have been cut short or changed). "
        "Start again from the first page.",
        details={"field": "cursor"},
    )


def decode(token: str, name: str, shape: Sequence[type | tuple[type, ...]]) -> Cursor:
    """The cursor of list ``name`` in ``token``; each key part must be of the type ``shape``
    gives at its place (a tuple of types: any of them)."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        raise _refuse()
    text, check = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _refuse() from None
    if _checksum(payload) != check:
        raise _refuse()
    try:
        version, list_name, direction, key = json.loads(payload)
    except (ValueError, TypeError):
        raise _refuse() from None
    if version != _VERSION or list_name != name or direction not in set(Direction):
        raise _refuse()
    if not isinstance(key, list) or len(key) != len(shape):
        raise _refuse()
    for part, kind in zip(key, shape, strict=True):
        # bool is an int in Python: an id must not be True, a flag must not be 1
        if not isinstance(part, kind) or (isinstance(part, bool) and kind is int):
            raise _refuse()
    return Cursor(name, Direction(direction), tuple(key))


def page_limit(asked: int | None) -> int:
    """The page size: the default when not asked, at least 1 and at most `MAX_LIMIT`."""
    if asked is None:
        return DEFAULT_LIMIT
    return min(max(asked, 1), MAX_LIMIT)
