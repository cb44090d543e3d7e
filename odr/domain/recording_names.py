"""How recording segment files are named: ``<stem>-<index>.webm`` (``.webm.part`` while open).

The stem names the participant (``u<user id>``), the index counts from ``0000`` and grows past
four digits when it must (``u7-10000.webm``). The recorder writes these names and the hearing
service reads them back; both go through this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLOSED_SUFFIX = ".webm"
OPEN_SUFFIX = ".webm.part"

_NAME = re.compile(r"(?P<stem>.+)-(?P<index>[0-9]{4,})\.webm(?P<part>\.part)?")
_PARTICIPANT = re.compile(r"u(?P<user>[1-9][0-9]{0,18})")


@dataclass(frozen=True)
class SegmentName:
    stem: str
    index: int
    open: bool  # still being written (``.webm.part``)


def participant_stem(user_id: int) -> str:
    """The stem of one participant's segments."""
    return f"u{user_id}"


def participant_of(stem: str) -> int | None:
    """The user id a stem names, ``None`` for a stem that names no participant."""
    match = _PARTICIPANT.fullmatch(stem)
    return int(match["user"]) if match else None


def segment_base(stem: str, index: int) -> str:
    """The file name without its suffix: add `CLOSED_SUFFIX` or `OPEN_SUFFIX`."""
    return f"{stem}-{index:04d}"


def parse_segment_name(name: str) -> SegmentName | None:
    """The parts of a segment file's name; ``None`` for any other file."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return SegmentName(match["stem"], int(match["index"]), bool(match["part"]))
