"""Who is in a hearing room and who may see and hear whom: pure rules, no I/O.

The mediator enters at once; parties wait in the lobby until the mediator admits them, and a
party admitted once comes back in by itself after a dropped connection (same mute, same
caucus). During a caucus (背对背) with one side, that side and the mediator see and hear only
each other; the other side receives nothing from them and its own media does not reach them.
A muted participant's audio reaches no one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from odr.services.hearing_room import MEDIATOR_SIDE as MEDIATOR
from odr.services.hearing_room import Attendee

SIDES = ("consumer", "insurer")


@dataclass(slots=True)
class Member:
    attendee: Attendee
    admitted: bool = False
    present: bool = False
    connected: bool = False  # its media connection is up
    muted: bool = False
    audio: bool = True  # what the participant switched on itself
    video: bool = True

    @property
    def user_id(self) -> int:
        return self.attendee.user_id

    @property
    def side(self) -> str:
        return self.attendee.side

    def public(self) -> dict[str, Any]:
        a = self.attendee
        return {
            "user_id": a.user_id,
            "name": a.name,
            "role": a.role,
            "side": a.side,
            "present": self.present,
            "lobby": self.present and not self.admitted,
            "muted": self.muted,
            "audio": self.audio,
            "video": self.video,
        }


@dataclass(slots=True)
class RoomState:
    members: dict[int, Member] = field(default_factory=dict)
    caucus: str | None = None
    recording: bool = False
    ended: bool = False

    def arrive(self, attendee: Attendee) -> Member:
        """A participant's socket joined; the mediator (and anyone admitted before) is in."""
        member = self.members.get(attendee.user_id)
        if member is None:
            member = self.members[attendee.user_id] = Member(attendee)
        member.attendee = attendee
        member.present = True
        if attendee.moderates:
            member.admitted = True
        return member

    def depart(self, user_id: int) -> None:
        member = self.members.get(user_id)
        if member is not None:
            member.present = False
            member.connected = False

    def admit(self, user_id: int) -> Member | None:
        member = self.members.get(user_id)
        if member is None or not member.present or member.admitted:
            return None
        member.admitted = True
        return member

    def expel(self, user_id: int) -> Member | None:
        """Deny (from the lobby) or remove (from the room): out, and not admitted again
        without the mediator."""
        member = self.members.get(user_id)
        if member is None or member.attendee.moderates:
            return None
        member.admitted = False
        member.present = False
        member.connected = False
        return member

    def inside(self) -> list[Member]:
        return [m for m in self.members.values() if m.present and m.admitted]

    def lobby(self) -> list[Member]:
        return [m for m in self.members.values() if m.present and not m.admitted]

    def excluded(self, member: Member) -> bool:
        """Whether the member is on the side left out of the current caucus."""
        return self.caucus is not None and member.side not in (self.caucus, MEDIATOR)

    def reaches(self, publisher: Member, subscriber: Member) -> bool:
        """Whether anything of ``publisher`` may reach ``subscriber`` now."""
        if publisher.user_id == subscriber.user_id or self.ended:
            return False
        if not (publisher.admitted and publisher.present):
            return False
        if not (subscriber.admitted and subscriber.present):
            return False
        return self.excluded(publisher) == self.excluded(subscriber)

    def view(self, subscriber_id: int) -> list[tuple[int, bool, bool]]:
        """What the subscriber receives: (publisher, audio on, video on), in a stable order."""
        subscriber = self.members.get(subscriber_id)
        if subscriber is None:
            return []
        return [
            (p.user_id, not p.muted, True)
            for p in sorted(self.members.values(), key=lambda m: m.user_id)
            if self.reaches(p, subscriber)
        ]

    def chat_audience(self, sender: Member) -> str:
        """Who may read what the sender writes now: "all", or one side (and the mediator)."""
        if self.caucus is None:
            return "all"
        return self.caucus if not self.excluded(sender) else _other(self.caucus)

    def reads(self, member: Member, audience: str) -> bool:
        return audience == "all" or member.side in (audience, MEDIATOR)

    def public(self, viewer_id: int) -> dict[str, Any]:
        """The room as one participant may see it (the lobby is shown to the mediator only)."""
        viewer = self.members.get(viewer_id)
        moderates = viewer is not None and viewer.attendee.moderates
        people = [
            m.public()
            for m in sorted(self.members.values(), key=lambda m: m.user_id)
            if m.admitted or (moderates and m.present) or m.user_id == viewer_id
        ]
        return {
            "participants": people,
            "caucus": self.caucus,
            "excluded": viewer is not None and self.excluded(viewer),
            "recording": self.recording,
            "ended": self.ended,
        }


def _other(side: str) -> str:
    return SIDES[1] if side == SIDES[0] else SIDES[0]
