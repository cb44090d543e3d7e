"""A hearing's call record: the log of joins, leaves, reconnects, mutes, caucuses and recording,
summed up into per-participant time present and the periods of caucus and recording.

Time present runs from a ``join``/``reconnect``/``admit`` to the next ``leave``/``remove``/
``deny`` of the same person, or to the ``end`` of the hearing (or the last entry, for a
hearing that never ended cleanly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Entry = tuple[datetime, str, int | None, str, dict[str, Any]]  # at, kind, user, name, details

KINDS = frozenset(
    {
        "join",
        "reconnect",
        "leave",
        "media_lost",
        "admit",
        "deny",
        "remove",
        "mute",
        "unmute",
        "caucus_start",
        "caucus_end",
        "recording_on",
        "recording_off",
        "end",
        "no_show",
    }
)
_IN = {"join", "reconnect"}
_OUT = {"leave", "remove", "deny"}


@dataclass
class Presence:
    user_id: int
    name: str
    seconds: float = 0.0
    joins: int = 0
    reconnects: int = 0
    mutes: int = 0
    no_show: bool = False
    _since: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "seconds": round(self.seconds, 1),
            "joins": self.joins,
            "reconnects": self.reconnects,
            "mutes": self.mutes,
            "no_show": self.no_show,
        }


@dataclass
class CallRecord:
    hearing_id: int
    entries: list[Entry]
    participants: dict[int, Presence] = field(default_factory=dict)
    caucuses: list[tuple[datetime, datetime | None, str]] = field(default_factory=list)
    recordings: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def seconds(self) -> float:
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return (self.ended_at - self.started_at).total_seconds()

    def public(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "hearing_id": self.hearing_id,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "seconds": round(self.seconds, 1),
            "participants": [p.public() for p in self.participants.values()],
            "caucuses": [{"from": iso(a), "to": iso(b), "side": s} for a, b, s in self.caucuses],
            "recordings": [{"from": iso(a), "to": iso(b)} for a, b in self.recordings],
            "entries": [
                {"at": at.isoformat(), "kind": kind, "user_id": uid, "name": name, **details}
                for at, kind, uid, name, details in self.entries
            ],
        }


def summarise(hearing_id: int, entries: Sequence[Entry]) -> CallRecord:
    """The call record of a hearing from its log entries, in time order."""
    record = CallRecord(hearing_id, list(entries))
    if not entries:
        return record
    record.started_at = entries[0][0]
    last = entries[-1][0]
    for at, kind, uid, name, details in entries:
        if kind == "caucus_start":
            record.caucuses.append((at, None, str(details.get("side", ""))))
        elif kind == "caucus_end" and record.caucuses and record.caucuses[-1][1] is None:
            start, _, side = record.caucuses[-1]
            record.caucuses[-1] = (start, at, side)
        elif kind == "recording_on":
            record.recordings.append((at, None))
        elif kind == "recording_off" and record.recordings and record.recordings[-1][1] is None:
            record.recordings[-1] = (record.recordings[-1][0], at)
        elif kind == "end":
            record.ended_at = at
        if uid is None:
            continue
        person = record.participants.get(uid)
        if person is None:
            person = record.participants[uid] = Presence(uid, name)
        if kind in _IN:
            person.joins += kind == "join"
            person.reconnects += kind == "reconnect"
            if person._since is None:
                person._since = at
        elif kind in _OUT and person._since is not None:
            person.seconds += (at - person._since).total_seconds()
            person._since = None
        elif kind == "mute":
            person.mutes += 1
        elif kind == "no_show":
            person.no_show = True
    close = record.ended_at or last
    for person in record.participants.values():
        if person._since is not None:
            person.seconds += (close - person._since).total_seconds()
            person._since = None
    for i, (start, stop, side) in enumerate(record.caucuses):
        if stop is None:
            record.caucuses[i] = (start, close, side)
    for i, (start, stop) in enumerate(record.recordings):
        if stop is None:
            record.recordings[i] = (start, close)
    if record.ended_at is None:
        record.ended_at = last
    return record
