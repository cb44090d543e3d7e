"""A hearing of a case (a video session), as an aggregate with an explicit state machine.

The mediator proposes slots, the parties (the consumer and the insurer's staff) say which they
can attend, the mediator confirms one; a hearing can be rescheduled (back to proposing) or
cancelled with a reason, started from half an hour before its time and ended by the mediator.

Every method takes the acting `Actor` and ``now`` (timezone-aware; the domain never reads the
clock), asks `authorize` with the hearing's scope first (so a stranger learns nothing), then
checks the state (`Conflict` with code ``illegal_hearing_transition``), then its input
(`ValidationFailed` naming the field).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from odr.domain.accounts import Actor
from odr.domain.authz import Action, CaseScope, HearingScope, authorize
from odr.domain.deadlines import require_aware
from odr.domain.errors import Conflict, ValidationFailed


class HearingState(StrEnum):
    PROPOSED = "proposed"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"


_H = HearingState
#: States in which a hearing still lies ahead or is running (a case has at most one).
OPEN_STATES = frozenset({_H.PROPOSED, _H.SCHEDULED, _H.IN_PROGRESS})
#: States of a confirmed hearing: it has its time, a calendar invitation and a room.
CONFIRMED_STATES = frozenset({_H.SCHEDULED, _H.IN_PROGRESS})
#: States in which a hearing may have been recorded.
RECORDED_STATES = frozenset({_H.IN_PROGRESS, _H.ENDED})

MAX_SLOTS = 6
MAX_REASON_LENGTH = 500
MAX_MINUTES_LENGTH = 20_000
MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 240
DEFAULT_DURATION_MINUTES = 60
#: The mediator may start, and everyone may enter the lobby, this long before the time.
JOIN_OPENS_BEFORE = timedelta(minutes=30)
#: Reminders by name and how long before the start each is sent, earliest first.
REMINDERS: tuple[tuple[str, timedelta], ...] = (
    ("24h", timedelta(hours=24)),
    ("15m", timedelta(minutes=15)),
)
_REMINDER_NAMES = frozenset(name for name, _ in REMINDERS)


def _bad(message: str, code: str, name: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"field": name, **details})


def check_slots(slots: Sequence[datetime], now: datetime) -> list[datetime]:
    """1 to `MAX_SLOTS` distinct, timezone-aware moments in the future, returned sorted."""
    if isinstance(slots, datetime) or not slots:
        raise _bad("Propose at least one time.", "slots_required", "slots")
    if len(slots) > MAX_SLOTS:
        raise _bad(f"Propose at most {MAX_SLOTS} times.", "too_many_slots", "slots", max=MAX_SLOTS)
    for slot in slots:
        if not isinstance(slot, datetime) or slot.tzinfo is None:
            raise _bad("A time needs a date, an hour and a time zone.", "invalid_slot", "slots")
        if slot <= now:
            raise _bad("Every proposed time must be in the future.", "slot_in_past", "slots")
    if len(set(slots)) != len(slots):
        raise _bad("The same time is proposed twice.", "duplicate_slot", "slots")
    return sorted(slots)


def check_reason(reason: str) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise _bad("Give a reason.", "reason_required", "reason")
    if len(text) > MAX_REASON_LENGTH:
        raise _bad(
            f"The reason may have at most {MAX_REASON_LENGTH} characters.",
            "hearing_reason_too_long",
            "reason",
            max=MAX_REASON_LENGTH,
        )
    return text


def _duration(minutes: int) -> int:
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES
    ):
        raise _bad(
            f"A hearing lasts {MIN_DURATION_MINUTES} to {MAX_DURATION_MINUTES} minutes.",
            "invalid_duration",
            "duration_minutes",
            min=MIN_DURATION_MINUTES,
            max=MAX_DURATION_MINUTES,
        )
    return minutes


@dataclass(eq=False)
class Hearing:
    """One hearing. ``scope`` is its case's authorisation scope (not stored with the hearing:
    it is read from the case when the hearing is loaded). ``sequence`` is the iCalendar
    SEQUENCE of the invitation: it grows on every reschedule and on cancellation."""

    id: int | None
    case_id: int
    scope: CaseScope
    mediator_id: int
    state: HearingState
    slots: list[datetime]
    created_at: datetime
    choices: dict[int, list[datetime]] = field(default_factory=dict)
    starts_at: datetime | None = None
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    reminders_sent: set[str] = field(default_factory=set)
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    minutes: str = ""
    minutes_updated_at: datetime | None = None
    sequence: int = 0
    version: int = 0

    # -- scheduling --

    @classmethod
    def propose(
        cls,
        actor: Actor,
        now: datetime,
        *,
        case_id: int,
        case: CaseScope,
        slots: Sequence[datetime],
        duration_minutes: int = DEFAULT_DURATION_MINUTES,
    ) -> Hearing:
        """The case's mediator proposes 1 to `MAX_SLOTS` future times."""
        require_aware(now)
        authorize(actor, Action.SCHEDULE_HEARING, HearingScope(case))
        assert actor.user_id is not None  # a mediator is a person
        return cls(
            id=None,
            case_id=case_id,
            scope=case,
            mediator_id=actor.user_id,
            state=_H.PROPOSED,
            slots=check_slots(slots, now),
            created_at=now,
            duration_minutes=_duration(duration_minutes),
        )

    def choose(self, actor: Actor, now: datetime, *, slots: Sequence[datetime]) -> None:
        """A party marks the proposed times it can attend (none at all is an answer too:
        the mediator then proposes others). A new choice replaces the party's earlier one."""
        self._check(actor, now, Action.CHOOSE_HEARING_SLOT, {_H.PROPOSED}, "choose")
        assert actor.user_id is not None
        picked = list(slots)
        unknown = [s for s in picked if s not in self.slots]
        if unknown:
            raise _bad("Choose among the proposed times.", "slot_not_proposed", "slots")
        if len(set(picked)) != len(picked):
            raise _bad("The same time is chosen twice.", "duplicate_slot", "slots")
        self.choices[actor.user_id] = sorted(picked)

    def confirm(self, actor: Actor, now: datetime, *, starts_at: datetime) -> None:
        """The mediator fixes one of the proposed times. Reminders whose moment has already
        come count as sent: the invitation itself tells the parties."""
        self._check(actor, now, Action.SCHEDULE_HEARING, {_H.PROPOSED}, "confirm")
        if starts_at not in self.slots:
            raise _bad("Confirm one of the proposed times.", "slot_not_proposed", "starts_at")
        if starts_at <= now:
            raise _bad("This time has passed.", "slot_in_past", "starts_at")
        self.starts_at = starts_at
        self.state = _H.SCHEDULED
        self.reminders_sent = {n for n, lead in REMINDERS if now >= starts_at - lead}

    def reschedule(
        self, actor: Actor, now: datetime, *, slots: Sequence[datetime], reason: str
    ) -> None:
        """Back to proposing, with new times and a reason; earlier choices and reminders go."""
        self._check(actor, now, Action.SCHEDULE_HEARING, {_H.PROPOSED, _H.SCHEDULED}, "reschedule")
        text = check_reason(reason)
        self.slots = check_slots(slots, now)
        self.choices = {}
        self.starts_at = None
        self.reminders_sent = set()
        self.reason = text
        self.state = _H.PROPOSED
        self.sequence += 1

    def cancel(self, actor: Actor, now: datetime, *, reason: str) -> None:
        self._check(actor, now, Action.SCHEDULE_HEARING, {_H.PROPOSED, _H.SCHEDULED}, "cancel")
        self.reason = check_reason(reason)
        self.state = _H.CANCELLED
        self.sequence += 1

    # -- running --

    def start(self, actor: Actor, now: datetime) -> None:
        """The mediator opens the hearing, at the earliest `JOIN_OPENS_BEFORE` its time."""
        self._check(actor, now, Action.MODERATE_HEARING, {_H.SCHEDULED}, "start")
        assert self.starts_at is not None
        if now < self.starts_at - JOIN_OPENS_BEFORE:
            raise Conflict(
                "The hearing cannot start yet.",
                code="hearing_too_early",
                details={"opens_at": (self.starts_at - JOIN_OPENS_BEFORE).isoformat()},
            )
        self.state = _H.IN_PROGRESS
        self.started_at = now

    def end(self, actor: Actor, now: datetime) -> None:
        self._check(actor, now, Action.MODERATE_HEARING, {_H.IN_PROGRESS}, "end")
        self.state = _H.ENDED
        self.ended_at = now

    def write_minutes(self, actor: Actor, now: datetime, text: str) -> None:
        """The mediator's minutes (笔录), during the hearing or after it; replaces the text."""
        self._check(
            actor, now, Action.MODERATE_HEARING, {_H.IN_PROGRESS, _H.ENDED}, "write_minutes"
        )
        if not isinstance(text, str) or len(text) > MAX_MINUTES_LENGTH:
            raise _bad(
                f"The minutes may have at most {MAX_MINUTES_LENGTH} characters.",
                "minutes_too_long",
                "minutes",
                max=MAX_MINUTES_LENGTH,
            )
        self.minutes = text
        self.minutes_updated_at = now

    # -- reminders and the join window --

    def reminders_due(self, now: datetime) -> list[str]:
        """The reminders to send now: each once its moment has come, before the start. When a
        later reminder is due too, the earlier ones are skipped (one message, not two)."""
        require_aware(now)
        if self.state is not _H.SCHEDULED or self.starts_at is None or now >= self.starts_at:
            return []
        reached = [name for name, lead in REMINDERS if now >= self.starts_at - lead]
        if not reached:
            return []
        latest = reached[-1]
        return [] if latest in self.reminders_sent else [latest]

    def mark_reminded(self, which: str) -> None:
        """Record a reminder as sent, with every earlier one it stood in for."""
        if which not in _REMINDER_NAMES:
            raise ValueError(f"no reminder named {which!r}")
        for name, _ in REMINDERS:
            self.reminders_sent.add(name)
            if name == which:
                break

    def join_window(self) -> tuple[datetime, datetime] | None:
        """From when to when people may come in: from `JOIN_OPENS_BEFORE` the time to its
        planned end (a running hearing stays open until the mediator ends it)."""
        if self.starts_at is None or self.state not in (_H.SCHEDULED, _H.IN_PROGRESS):
            return None
        return (
            self.starts_at - JOIN_OPENS_BEFORE,
            self.starts_at + timedelta(minutes=self.duration_minutes),
        )

    def is_join_open(self, now: datetime) -> bool:
        if self.state is _H.IN_PROGRESS:
            return True
        window = self.join_window()
        return window is not None and window[0] <= now <= window[1]

    # -- helpers --

    def hearing_scope(self) -> HearingScope:
        return HearingScope(self.scope)

    def _check(
        self,
        actor: Actor,
        now: datetime,
        action: Action,
        allowed: set[HearingState],
        transition: str,
    ) -> None:
        require_aware(now)
        authorize(actor, action, self.hearing_scope())
        if self.state not in allowed:
            raise Conflict(
                f"Cannot {transition.replace('_', ' ')} the hearing: it is {self.state}.",
                code="illegal_hearing_transition",
                details={"state": str(self.state), "transition": transition},
            )
