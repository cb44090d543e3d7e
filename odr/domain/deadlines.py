"""The regulatory clock: deadlines per category, reminders (催办) and escalations (升级).

Pure computation: the caller passes ``now``; nothing here reads the clock or stores anything.

How a deadline is counted (calendar days in the configured time zone)
----------------------------------------------------------------------
* The day on which a stage starts (the complaint is received, mediation is requested) is day 0
  and is not counted; a deadline of N days runs to the END of local day N.
* ``due_at`` is the first instant after the deadline: 00:00 local time of day N + 1. At
  ``due_at`` and later the deadline is missed. Days are calendar days (weekends and holidays
  count) and are counted on the local calendar, so a DST change never moves a deadline off
  midnight; a day with a DST change is simply 23 or 25 hours long.
* Reminders fall at fractions of the stage's span ``[started_at, due_at)`` in elapsed time.

Stages and their defaults (the rules for insurance complaints)
--------------------------------------------------------------
* ``answer``: the insurer's answer, which is its decision on the complaint, runs from receipt.
  ``answer_days`` (a category may ask for a faster answer) may not exceed the regulatory
  ``decision_days`` (15); extensions take it to 30 and then to 60 days from receipt.
* ``mediation``: runs from the request for mediation, 30 days, extendable once to 60.
Each extension needs a reason and an approver (the case records who asked and notifies the
consumer).

Exactly-once
------------
`due_actions` names each reminder and escalation by a stable key, unique within one case; the
caller records the key (`Clock.mark_fired`) in the same transaction as the action, so a worker
running on several nodes acts once per key. Keys carry the stage and the deadline in UTC, so an
extension (a new deadline) brings new reminders, and a round trip through storage in another
time zone does not change a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from odr.domain.errors import Conflict, ValidationFailed

DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Stage(StrEnum):
    ANSWER = "answer"  # the insurer's answer (decision) on the complaint
    MEDIATION = "mediation"


class DueKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


def _policy_error(message: str, name: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_deadline_policy", details={"field": name})


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """Deadlines of one category, in calendar days from the start of each stage.

    The extension tuples hold the *total* days after each successive extension.
    """

    answer_days: int = 15
    decision_days: int = 15
    decision_extension_days: tuple[int, ...] = (30, 60)
    mediation_days: int = 30
    mediation_extension_days: tuple[int, ...] = (60,)
    reminder_fractions: tuple[float, ...] = (0.5, 0.8)

    def __post_init__(self) -> None:
        for name in ("answer_days", "decision_days", "mediation_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _policy_error(f"{name} must be a whole number of days, at least 1", name)
        if self.answer_days > self.decision_days:
            raise _policy_error("answer_days may not exceed decision_days", "answer_days")
        _check_ladder(self.decision_extension_days, self.decision_days, "decision_extension_days")
        _check_ladder(
            self.mediation_extension_days, self.mediation_days, "mediation_extension_days"
        )
        previous = 0.0
        for fraction in self.reminder_fractions:
            if isinstance(fraction, bool) or not isinstance(fraction, int | float):
                raise _policy_error("reminder fractions must be numbers", "reminder_fractions")
            if not previous < fraction < 1:
                raise _policy_error(
                    "reminder fractions must rise strictly between 0 and 1", "reminder_fractions"
                )
            previous = fraction

    def base_days(self, stage: Stage) -> int:
        return self.answer_days if stage is Stage.ANSWER else self.mediation_days

    def extension_ladder(self, stage: Stage) -> tuple[int, ...]:
        """Total days after the first, second, ... extension of ``stage``."""
        if stage is Stage.ANSWER:
            return self.decision_extension_days
        return self.mediation_extension_days

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], *, base: DeadlinePolicy | None = None
    ) -> DeadlinePolicy:
        """``base`` (the defaults when omitted) with the fields that ``mapping`` names."""
        if not isinstance(mapping, Mapping):
            raise _policy_error("deadline settings must be a table", "deadlines")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise _policy_error(f"unknown deadline setting {unknown[0]!r}", unknown[0])
        changes: dict[str, Any] = {}
        for name, value in mapping.items():
            if name.endswith(("_extension_days", "_fractions")):
                if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                    raise _policy_error(f"{name} must be a list", name)
                value = tuple(value)
            changes[name] = value
        return replace(base or cls(), **changes)


def _check_ladder(ladder: tuple[int, ...], base: int, name: str) -> None:
    previous = base
    for days in ladder:
        if isinstance(days, bool) or not isinstance(days, int) or days <= previous:
            raise _policy_error(f"{name} must rise strictly above {base} days", name)
        previous = days


@dataclass(frozen=True, slots=True)
class DeadlineRules:
    """Deadline policies per category and the time zone their days are counted in."""

    time_zone: str = DEFAULT_TIME_ZONE
    default: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    by_category: Mapping[str, DeadlinePolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        zone_of(self.time_zone)
        object.__setattr__(self, "by_category", MappingProxyType(dict(self.by_category)))

    def for_category(self, category: str) -> DeadlinePolicy:
        return self.by_category.get(category, self.default)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], *, categories: Iterable[str] | None = None
    ) -> DeadlineRules:
        """Build from configuration::

            {"time_zone": "Asia/Shanghai",
             "default": {"answer_days": 15, "reminder_fractions": [0.5, 0.8]},
             "categories": {"payment_refund": {"answer_days": 7}}}

        Every key is optional; a category's settings override the default's. With
        ``categories``, a category not in it is refused.
        """
        if not isinstance(mapping, Mapping) or not isinstance(
            mapping.get("categories") or {}, Mapping
        ):
            raise _policy_error("deadline settings must be a table", "categories")
        unknown = sorted(set(mapping) - {"time_zone", "default", "categories"})
        if unknown:
            raise _policy_error(f"unknown deadline setting {unknown[0]!r}", unknown[0])
        default = DeadlinePolicy.from_mapping(mapping.get("default") or {})
        allowed = None if categories is None else {str(c) for c in categories}
        by_category: dict[str, DeadlinePolicy] = {}
        for name, settings in (mapping.get("categories") or {}).items():
            if allowed is not None and name not in allowed:
                raise _policy_error(f"unknown category {name!r}", "categories")
            by_category[name] = DeadlinePolicy.from_mapping(settings, base=default)
        return cls(
            time_zone=mapping.get("time_zone") or DEFAULT_TIME_ZONE,
            default=default,
            by_category=by_category,
        )


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; `ValidationFailed` when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationFailed(
            f"Unknown time zone {name!r}.", code="invalid_time_zone", details={"field": "time_zone"}
        ) from None


def require_aware(moment: datetime, name: str = "now") -> datetime:
    """The domain only works with timezone-aware instants; a naive one is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (where midnight is skipped by DST, the first
    instant that exists: zoneinfo resolves a skipped wall time with the earlier offset)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).astimezone(zone)


def calendar_due_at(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The instant a deadline of ``days`` calendar days from ``start`` has passed: the end of
    local day ``days`` after the start day (see the module docstring), in ``zone``."""
    first_day = require_aware(start, "start").astimezone(zone).date()
    return local_day_start(first_day + timedelta(days=days + 1), zone)


@dataclass(frozen=True, slots=True)
class Extension:
    """One extension of a stage's deadline, as granted."""

    stage: Stage
    from_days: int
    to_days: int
    reason: str
    requested_by: int | None
    approved_by: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ExtensionRequest:
    """An extension asked for and not yet decided."""

    stage: Stage
    reason: str
    requested_by: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class DueAction:
    kind: DueKind
    key: str
    stage: Stage
    at: datetime  # when it became due
    due_at: datetime  # the stage's deadline
    fraction: float | None = None  # reminders only


@dataclass(frozen=True, slots=True)
class Clock:
    """The running deadline of one stage of a case.

    The policy is a snapshot taken when the case was triaged, so a later change of the
    configuration does not move the deadlines of open cases.
    """

    stage: Stage
    started_at: datetime
    days: int
    policy: DeadlinePolicy
    time_zone: str = DEFAULT_TIME_ZONE
    extensions: tuple[Extension, ...] = ()
    fired: frozenset[str] = frozenset()  # keys of reminders/escalations already acted on
    stopped_at: datetime | None = None

    @classmethod
    def start(cls, stage: Stage, at: datetime, policy: DeadlinePolicy, time_zone: str) -> Clock:
        zone_of(time_zone)
        require_aware(at, "at")
        return cls(stage, at, policy.base_days(stage), policy, time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.time_zone)

    @property
    def due_at(self) -> datetime:
        return calendar_due_at(self.started_at, self.days, self.zone)

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def is_overdue(self, now: datetime) -> bool:
        return self.running and require_aware(now) >= self.due_at

    def next_extension_days(self) -> int | None:
        """Total days the next extension would give, or None when none is left."""
        ladder = self.policy.extension_ladder(self.stage)
        taken = len(self.extensions)
        return ladder[taken] if taken < len(ladder) else None

    def check_extension_possible(self) -> int:
        to_days = self.next_extension_days()
        if not self.running or to_days is None:
            raise Conflict(
                f"The {self.stage} deadline cannot be extended any further.",
                code="extension_not_allowed",
                details={"stage": str(self.stage), "days": self.days},
            )
        return to_days

    def extend(
        self, *, reason: str, approved_by: int | None, requested_by: int | None, at: datetime
    ) -> Clock:
        """The clock with the next extension of the ladder (15 → 30 → 60, or 30 → 60)."""
        to_days = self.check_extension_possible()
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(
                "An extension needs a reason.",
                code="extension_reason_required",
                details={"field": "reason"},
            )
        if approved_by is None:
            raise ValidationFailed(
                "An extension needs an approver.",
                code="extension_approver_required",
                details={"field": "approved_by"},
            )
        granted = Extension(
            self.stage,
            self.days,
            to_days,
            reason,
            requested_by,
            approved_by,
            require_aware(at, "at"),
        )
        return replace(self, days=to_days, extensions=(*self.extensions, granted))

    def mark_fired(self, key: str) -> Clock:
        return replace(self, fired=self.fired | {key})

    def stop(self, at: datetime) -> Clock:
        return self if self.stopped_at is not None else replace(self, stopped_at=at)

    def reminder_at(self, fraction: float) -> datetime:
        start = self.started_at.astimezone(UTC)
        return (start + (self.due_at.astimezone(UTC) - start) * fraction).astimezone(self.zone)

    def key(self, kind: DueKind, fraction: float | None = None) -> str:
        base = f"{self.stage}:{self.due_at.astimezone(UTC).isoformat()}:{kind}"
        return base if fraction is None else f"{base}:{fraction:g}"

    def checkpoints(self) -> list[DueAction]:
        """Every reminder of the current deadline, then its escalation, in time order."""
        due_at = self.due_at
        points = [
            DueAction(
                DueKind.REMINDER,
                self.key(DueKind.REMINDER, f),
                self.stage,
                self.reminder_at(f),
                due_at,
                f,
            )
            for f in self.policy.reminder_fractions
        ]
        points.append(
            DueAction(DueKind.ESCALATION, self.key(DueKind.ESCALATION), self.stage, due_at, due_at)
        )
        return points


def due_actions(clock: Clock, now: datetime) -> list[DueAction]:
    """What the clock asks for at ``now`` and has not been done yet.

    Only the latest checkpoint reached counts: once the deadline has passed only the escalation
    is due, and a reminder overtaken by a later one is dropped (a worker that was down for a
    while does not send a burst of stale reminders). A stopped clock asks for nothing.
    """
    require_aware(now)
    if not clock.running:
        return []
    reached = [point for point in clock.checkpoints() if point.at <= now]
    if not reached or reached[-1].key in clock.fired:
        return []
    return [reached[-1]]


def next_action_at(clock: Clock, now: datetime) -> datetime | None:
    """When `due_actions` will next ask for something (``now`` if it already does), or None
    when nothing is left to do; lets a worker sleep until then."""
    if due_actions(clock, now):
        return now
    if not clock.running:
        return None
    later = [p.at for p in clock.checkpoints() if p.at > now and p.key not in clock.fired]
    return min(later, default=None)
