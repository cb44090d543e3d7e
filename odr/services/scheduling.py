"""Scheduling hearings: proposing times, the parties' choices, confirmation with calendar
invitations, reschedule and cancel with reasons, reminders, no-shows; and choosing the
mediator: who is eligible (recusal, 回避) and the parties' own choice.

Each use case is one unit of work: load, let the aggregates decide, save with their version
checks, add notifications and the outbox in the same transaction, commit, then tell live pages.
Times are shown and written in the configured zone (``ODR_TIMEZONE``): accounts carry no zone
of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.config import Settings
from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, HearingScope, Relation, authorize, is_allowed, relations
from odr.domain.cases import Case, CaseState
from odr.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from odr.domain.hearings import (
    CONFIRMED_STATES,
    OPEN_STATES,
    RECORDED_STATES,
    REMINDERS,
    Hearing,
    HearingState,
)
from odr.services import invitations
from odr.services import notifications as notify
from odr.services.cases import CaseService
from odr.services.mediator_eligibility import MediatorOption, check_assignable, mediator_options
from odr.storage import cases as case_repo
from odr.storage import hearings as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import (
    CaseRow,
    HearingLogEntry,
    MediatorChoice,
    User,
)

log = logging.getLogger("odr.scheduling")

#: Case states in which a hearing can be proposed (a first one, or another after one ended).
HEARING_CASE_STATES = frozenset({CaseState.MEDIATOR_ASSIGNED, CaseState.HEARING_SCHEDULED})
#: Roles of a centre who can mediate (a lead may take cases too).
NO_SHOW = "no_show"
#: How far ahead the reminder job looks (the earliest reminder's lead).
REMINDER_HORIZON = max(lead for _, lead in REMINDERS)


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- what callers read --------------------------------------------------------------------------


@dataclass(frozen=True)
class HearingView:
    """A hearing as one actor may see it. ``choices`` holds every party's choice for the
    mediator (and the lead and supervisors), only the actor's own for a party."""

    id: int
    case_id: int
    case_number: str
    mediator_id: int
    state: str
    slots: list[datetime]
    choices: dict[int, list[datetime]]
    starts_at: datetime | None
    duration_minutes: int
    reason: str | None
    sequence: int
    join_opens_at: datetime | None
    join_closes_at: datetime | None
    join_open: bool
    may_schedule: bool  # propose again, confirm, reschedule, cancel
    may_choose: bool
    my_choice: list[datetime] | None
    version: int
    minutes: str = ""  # the mediator's minutes (笔录), for every reader of the hearing
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Still ahead or running."""
        return self.state in OPEN_STATES

    @property
    def confirmed(self) -> bool:
        """Its time is set: it has an invitation and a room."""
        return self.state in CONFIRMED_STATES

    @property
    def may_have_recordings(self) -> bool:
        return self.state in RECORDED_STATES

    def as_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "id": self.id,
            "case_id": self.case_id,
            "case_number": self.case_number,
            "mediator_id": self.mediator_id,
            "state": self.state,
            "slots": [iso(s) for s in self.slots],
            "choices": {str(k): [iso(s) for s in v] for k, v in self.choices.items()},
            "starts_at": iso(self.starts_at),
            "duration_minutes": self.duration_minutes,
            "reason": self.reason,
            "sequence": self.sequence,
            "join_window": {
                "opens_at": iso(self.join_opens_at),
                "closes_at": iso(self.join_closes_at),
                "open": self.join_open,
            },
            "may_schedule": self.may_schedule,
            "may_choose": self.may_choose,
            "my_choice": None if self.my_choice is None else [iso(s) for s in self.my_choice],
            "version": self.version,
            "minutes": self.minutes,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
        }


@dataclass(frozen=True)
class MediatorChoices:
    """Where the parties' choice of mediator stands: each side's pick, and the assigned
    mediator once both sides picked the same."""

    case_id: int
    state: str
    consumer: int | None
    insurer: int | None
    assigned: int | None
    my_side: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "state": self.state,
            "consumer": self.consumer,
            "insurer": self.insurer,
            "assigned_mediator_id": self.assigned,
            "my_side": self.my_side,
        }


@dataclass(frozen=True)
class NoShow:
    side: str  # consumer | insurer
    user_id: int | None  # the consumer; None for the insurer's side (no one of its staff came)


# --- mediators: recusal and eligibility ----------------------------------------------------------


def _side(actor: Actor, case: Case) -> str:
    rel = relations(actor, case.scope())
    if Relation.CONSUMER in rel:
        return "consumer"
    if Relation.INSURER in rel:
        return "insurer"
    raise Forbidden("Only the parties choose a mediator.", code="forbidden")


# --- no-shows -----------------------------------------------------------------------------------


async def record_no_shows(
    sessionmaker: async_sessionmaker[AsyncSession],
    hearing_id: int,
    present_user_ids: Iterable[int],
    *,
    now: datetime,
) -> list[NoShow]:
    """Record in the call record (``hearing_log``, kind ``no_show``) each invited side of
    which no one joined: the consumer, or the insurer (none of its staff). The in-hearing
    service calls it when a hearing ends; a second call records nothing more and returns []."""
    present = set(present_user_ids)
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        hearing = await repo.load(s, hearing_id)
        done = (
            await s.execute(
                select(HearingLogEntry.id).where(
                    HearingLogEntry.hearing_id == hearing_id, HearingLogEntry.kind == NO_SHOW
                )
            )
        ).first()
        if done is not None:
            return []
        _, case = await case_repo.load(s, hearing.case_id)
        staff = await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value)
        missing: list[NoShow] = []
        if case.consumer_id not in present:
            missing.append(NoShow("consumer", case.consumer_id))
        if not {r.user_id for r in staff} & present:
            missing.append(NoShow("insurer", None))
        for gone in missing:
            details: dict[str, Any] = {"side": gone.side}
            if gone.side == "insurer":
                details["insurer_id"] = case.insurer_id
            s.add(
                HearingLogEntry(
                    hearing_id=hearing_id,
                    at=now,
                    kind=NO_SHOW,
                    user_id=gone.user_id,
                    details=details,
                )
            )
        await uow.commit()
    return missing


# --- the service ----------------------------------------------------------------------------


def scheduling_service(
    settings: Settings, cases: CaseService, clock: Callable[[], datetime] | None = None
) -> SchedulingService:
    return SchedulingService(cases.sessionmaker, cases, settings, clock=clock or cases.clock)


@dataclass
class SchedulingService:
    sessionmaker: async_sessionmaker[AsyncSession]
    cases: CaseService
    settings: Settings
    clock: Callable[[], datetime] = field(default=now_utc)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def hearing_url(self, hearing_id: int) -> str:
        return f"{self.settings.public_url}/hearings/{hearing_id}"

    # -- reading --

    async def hearings_of_case(self, actor: Actor, case_id: int) -> list[HearingView]:
        async with self.sessionmaker() as s:
            row, case = await case_repo.load(s, case_id)
            authorize(actor, Action.VIEW_HEARING, HearingScope(case.scope()))
            return [
                self._view(actor, h, row.number)
                for h in await repo.of_case(s, case_id, case.scope())
            ]

    async def hearing(self, actor: Actor, hearing_id: int) -> HearingView:
        async with self.sessionmaker() as s:
            hearing, number = await self._load(s, actor, hearing_id)
            return self._view(actor, hearing, number)

    async def invitation(self, actor: Actor, hearing_id: int, language: str = "zh-CN") -> str:
        """The ``.ics`` of a scheduled (or cancelled) hearing, for any reader of it."""
        async with self.sessionmaker() as s:
            hearing, number = await self._load(s, actor, hearing_id)
        if hearing.starts_at is None:
            raise Conflict("The hearing has no fixed time yet.", code="hearing_not_scheduled")
        return self._calendar(
            hearing, number, language, cancel=hearing.state is HearingState.CANCELLED
        )

    # -- scheduling --

    async def propose(
        self,
        actor: Actor,
        case_id: int,
        slots: Sequence[datetime],
        duration_minutes: int = 60,
    ) -> HearingView:
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            row, case = await case_repo.load(s, case_id)
            hearing = Hearing.propose(
                actor,
                now,
                case_id=case_id,
                case=case.scope(),
                slots=slots,
                duration_minutes=duration_minutes,
            )
            if case.state not in HEARING_CASE_STATES:
                raise Conflict(
                    "A hearing can be set once a mediator is assigned.",
                    code="case_not_ready_for_hearing",
                    details={"state": str(case.state)},
                )
            if await repo.open_hearing_of(s, case_id) is not None:
                raise Conflict(
                    "The case already has a hearing ahead; reschedule it instead.",
                    code="hearing_already_open",
                )
            await repo.add(s, hearing)
            assert hearing.id is not None
            self._log(s, hearing, "proposed", actor, now, {"slots": _isos(hearing.slots)})
            invitations.notify(
                s,
                await self._parties(s, case),
                kind="hearing_proposed",
                key=f"hearing:{hearing.id}:proposed:{hearing.sequence}",
                case_id=case_id,
                params=self._params(hearing, row.number),
                now=now,
            )
            await uow.commit()
        await self.cases.publish(case_id, case.version)
        return self._view(actor, hearing, row.number)

    async def choose(self, actor: Actor, hearing_id: int, slots: Sequence[datetime]) -> HearingView:
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing, number = await self._load(s, actor, hearing_id)
            hearing.choose(actor, now, slots=slots)
            await repo.save(s, hearing)
            self._log(
                s,
                hearing,
                "slots_chosen",
                actor,
                now,
                {"slots": _isos(hearing.choices[actor.user_id or 0])},
            )
            await uow.commit()
        await self.cases.publish(hearing.case_id, 0)
        return self._view(actor, hearing, number)

    async def confirm(self, actor: Actor, hearing_id: int, starts_at: datetime) -> HearingView:
        """Fix the time: the case's ``schedule_hearing`` runs in the same transaction (so the
        case's history shows it), and everyone gets the invitation with its ``.ics``."""
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing, _ = await self._load(s, actor, hearing_id)
            row, case = await case_repo.load(s, hearing.case_id)
            hearing.confirm(actor, now, starts_at=starts_at)
            before = case.version
            case.schedule_hearing(actor, now, starts_at=starts_at)
            await case_repo.save(s, case, before, now)
            await repo.save(s, hearing)
            self._log(s, hearing, "confirmed", actor, now, {"starts_at": starts_at.isoformat()})
            await self._tell_everyone(
                s, hearing, case, row.number, "hearing_invitation", "invitation", now
            )
            await uow.commit()
        await self.cases.publish(case.id, case.version)
        return self._view(actor, hearing, row.number)

    async def reschedule(
        self, actor: Actor, hearing_id: int, slots: Sequence[datetime], reason: str
    ) -> HearingView:
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing, number = await self._load(s, actor, hearing_id)
            _, case = await case_repo.load(s, hearing.case_id)
            hearing.reschedule(actor, now, slots=slots, reason=reason)
            await repo.save(s, hearing)
            assert hearing.id is not None
            self._log(
                s,
                hearing,
                "rescheduled",
                actor,
                now,
                {"slots": _isos(hearing.slots), "reason": hearing.reason},
            )
            await self._tell_everyone(
                s, hearing, case, number, "hearing_rescheduled", "rescheduled", now, calendar=False
            )
            await uow.commit()
        await self.cases.publish(case.id, case.version)
        return self._view(actor, hearing, number)

    async def cancel(self, actor: Actor, hearing_id: int, reason: str) -> HearingView:
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing, number = await self._load(s, actor, hearing_id)
            _, case = await case_repo.load(s, hearing.case_id)
            had_time = hearing.starts_at is not None
            hearing.cancel(actor, now, reason=reason)
            await repo.save(s, hearing)
            self._log(s, hearing, "cancelled", actor, now, {"reason": hearing.reason})
            # a calendar CANCEL only for a hearing that had a time in people's calendars
            await self._tell_everyone(
                s,
                hearing,
                case,
                number,
                "hearing_cancelled",
                "cancelled",
                now,
                cancel=True,
                calendar=had_time,
            )
            await uow.commit()
        await self.cases.publish(case.id, case.version)
        return self._view(actor, hearing, number)

    # -- reminders --

    async def send_reminders(self, now: datetime | None = None) -> int:
        """Send every reminder that is due, each exactly once: the hearing's version check
        (and the outbox's unique keys) let only one of several concurrent workers do it."""
        moment = now or self.clock()
        async with self.sessionmaker() as s:
            ids = await repo.scheduled_starting_before(s, moment + REMINDER_HORIZON)
        sent = 0
        for hearing_id in ids:
            try:
                sent += await self._remind(hearing_id, moment)
            except (Conflict, IntegrityError):
                log.info("hearing %s was reminded by another worker; skipped", hearing_id)
        return sent

    async def _remind(self, hearing_id: int, now: datetime) -> int:
        async with self.uow() as uow:
            s = uow.session
            hearing = await repo.load(s, hearing_id)
            due = hearing.reminders_due(now)
            if not due:
                return 0
            row, case = await case_repo.load(s, hearing.case_id)
            which = due[-1]
            hearing.mark_reminded(which)
            await repo.save(s, hearing)
            assert hearing.starts_at is not None and hearing.id is not None
            invitations.notify(
                s,
                await self._everyone(s, case, hearing),
                kind=f"hearing_reminder_{which}",
                key=f"hearing:{hearing.id}:reminder:{which}:{hearing.starts_at.isoformat()}",
                case_id=case.id,
                params=self._params(hearing, row.number),
                now=now,
            )
            self._log(s, hearing, "reminder_sent", None, now, {"reminder": which})
            await uow.commit()
        return 1

    # -- no-shows --

    async def record_no_shows(
        self, hearing_id: int, present_user_ids: Iterable[int]
    ) -> list[NoShow]:
        """See the module's `record_no_shows`."""
        return await record_no_shows(
            self.sessionmaker, hearing_id, present_user_ids, now=self.clock()
        )

    # -- mediators --

    async def eligible_mediators(self, actor: Actor, case_id: int) -> list[MediatorOption]:
        """The mediators of the case's centre. The centre's lead and supervisors see everyone
        with the reasons of those recused; the parties see the eligible ones only."""
        now = self.clock()
        async with self.sessionmaker() as s:
            _, case = await case_repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            options = await mediator_options(s, case, self.today(now))
        if self._sees_recusals(actor, case):
            return options
        if not is_allowed(actor, Action.CHOOSE_HEARING_SLOT, case.scope()):
            raise Forbidden("Only the parties and the centre see the mediators.", code="forbidden")
        return [o for o in options if o.eligible]

    async def may_propose(self, actor: Actor, case_id: int) -> bool:
        """Whether the actor may propose a hearing of the case now (its mediator, when the
        case has a mediator and no hearing ahead)."""
        async with self.sessionmaker() as s:
            _, case = await case_repo.load(s, case_id)
            busy = await repo.open_hearing_of(s, case_id) is not None
        return (
            not busy
            and case.state in HEARING_CASE_STATES
            and is_allowed(actor, Action.SCHEDULE_HEARING, HearingScope(case.scope()))
        )

    async def may_assign(self, actor: Actor, case_id: int) -> bool:
        """Whether the actor may assign the case's mediator now (the centre's lead)."""
        async with self.sessionmaker() as s:
            _, case = await case_repo.load(s, case_id)
        return case.state in (
            CaseState.MEDIATION_REQUESTED,
            CaseState.MEDIATOR_ASSIGNED,
        ) and is_allowed(actor, Action.ASSIGN_MEDIATOR, case.scope())

    def _sees_recusals(self, actor: Actor, case: Case) -> bool:
        rel = relations(actor, case.scope())
        return bool(rel & {Relation.CENTRE_LEAD, Relation.SUPERVISOR})

    async def mediator_choices(self, actor: Actor, case_id: int) -> MediatorChoices:
        async with self.sessionmaker() as s:
            _, case = await case_repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            return await self._choices(s, actor, case)

    async def _choices(self, s: AsyncSession, actor: Actor, case: Case) -> MediatorChoices:
        rows = {
            c.side: c.mediator_id
            for c in (
                await s.execute(select(MediatorChoice).where(MediatorChoice.case_id == case.id))
            ).scalars()
        }
        rel = relations(actor, case.scope())
        mine = (
            "consumer"
            if Relation.CONSUMER in rel
            else "insurer"
            if Relation.INSURER in rel
            else None
        )
        return MediatorChoices(
            case.id,
            str(case.state),
            rows.get("consumer"),
            rows.get("insurer"),
            case.mediator_id,
            mine,
        )

    async def choose_mediator(
        self, actor: Actor, case_id: int, mediator_id: int
    ) -> MediatorChoices:
        """One side of a case waiting for a mediator picks an eligible one (a new pick
        replaces its earlier one). When both sides picked the same, the case is assigned to
        them at once, by the platform itself (`Actor.system`: no person made the decision);
        otherwise the centre's lead decides, seeing both picks."""
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            await s.execute(
                select(CaseRow.id).where(CaseRow.id == case_id).with_for_update()
            )  # serialises the two sides' picks on PostgreSQL
            row, case = await case_repo.load(s, case_id)
            authorize(actor, Action.CHOOSE_HEARING_SLOT, case.scope())
            side = _side(actor, case)
            if case.state is not CaseState.MEDIATION_REQUESTED:
                raise Conflict(
                    "A mediator can be chosen only while the case waits for one.",
                    code="mediator_choice_closed",
                    details={"state": str(case.state)},
                )
            await check_assignable(s, case, mediator_id, self.today(now))
            choice = await s.get(MediatorChoice, (case_id, side))
            if choice is None:
                s.add(
                    MediatorChoice(
                        case_id=case_id,
                        side=side,
                        mediator_id=mediator_id,
                        chosen_by=actor.user_id,
                        chosen_at=now,
                    )
                )
            else:
                choice.mediator_id = mediator_id
                choice.chosen_by = actor.user_id or choice.chosen_by
                choice.chosen_at = now
            await s.flush()
            picks = await self._choices(s, actor, case)
            if picks.consumer is not None and picks.consumer == picks.insurer:
                before = case.version
                case.assign_mediator(Actor.system(), now, mediator_id=mediator_id)
                await case_repo.save(s, case, before, now)
                mediator = await s.get(User, mediator_id)
                invitations.notify(
                    s,
                    await self._parties(s, case, with_mediator=True),
                    kind="mediator_assigned_by_choice",
                    key=f"case:{case_id}:mediator_by_choice:{case.version}",
                    case_id=case_id,
                    params={
                        "number": row.number,
                        "mediator": mediator.display_name if mediator else "",
                        "url": f"{self.settings.public_url}/cases/{case_id}",
                    },
                    now=now,
                )
                picks = await self._choices(s, actor, case)
            await uow.commit()
        await self.cases.publish(case_id, case.version)
        return picks

    # -- helpers --

    async def _load(self, s: AsyncSession, actor: Actor, hearing_id: int) -> tuple[Hearing, str]:
        try:
            hearing = await repo.load(s, hearing_id)
        except NotFound:
            raise NotFound("No such hearing.", code="hearing_not_found") from None
        try:
            authorize(actor, Action.VIEW_HEARING, hearing.hearing_scope())
        except NotFound:
            raise NotFound("No such hearing.", code="hearing_not_found") from None
        row = await s.get(CaseRow, hearing.case_id)
        return hearing, row.number if row else ""

    def _view(self, actor: Actor, hearing: Hearing, number: str) -> HearingView:
        assert hearing.id is not None
        scope = hearing.hearing_scope()
        sees_all = is_allowed(actor, Action.SCHEDULE_HEARING, scope) or bool(
            relations(actor, hearing.scope) & {Relation.CENTRE_LEAD, Relation.SUPERVISOR}
        )
        mine = hearing.choices.get(actor.user_id or 0)
        choices = (
            dict(hearing.choices)
            if sees_all
            else ({actor.user_id: mine} if mine is not None and actor.user_id else {})
        )
        window = hearing.join_window()
        open_states = {HearingState.PROPOSED, HearingState.SCHEDULED}
        return HearingView(
            id=hearing.id,
            case_id=hearing.case_id,
            case_number=number,
            mediator_id=hearing.mediator_id,
            state=str(hearing.state),
            slots=list(hearing.slots),
            choices=choices,
            starts_at=hearing.starts_at,
            duration_minutes=hearing.duration_minutes,
            reason=hearing.reason,
            sequence=hearing.sequence,
            join_opens_at=window[0] if window else None,
            join_closes_at=window[1] if window else None,
            join_open=hearing.is_join_open(self.clock())
            and is_allowed(actor, Action.JOIN_HEARING, scope),
            may_schedule=hearing.state in open_states
            and is_allowed(actor, Action.SCHEDULE_HEARING, scope),
            may_choose=hearing.state is HearingState.PROPOSED
            and is_allowed(actor, Action.CHOOSE_HEARING_SLOT, scope),
            my_choice=mine,
            version=hearing.version,
            minutes=hearing.minutes,
            started_at=hearing.started_at,
            ended_at=hearing.ended_at,
        )

    def _params(self, hearing: Hearing, number: str) -> dict[str, Any]:
        assert hearing.id is not None
        when = hearing.starts_at.astimezone(self.zone) if hearing.starts_at else None
        return {
            "number": number,
            "hearing_id": hearing.id,
            "when": when.isoformat() if when else "",  # texts show it as local time
            "zone": self.settings.timezone,
            "minutes": hearing.duration_minutes,
            "reason": hearing.reason or "",
            "url": self.hearing_url(hearing.id),
        }

    def _calendar(
        self, hearing: Hearing, number: str, language: str | None, *, cancel: bool
    ) -> str:
        assert hearing.id is not None and hearing.starts_at is not None
        host = urlsplit(self.settings.public_url).hostname or "odr.invalid"
        return invitations.calendar_file(
            invitations.Invitation(
                hearing_id=hearing.id,
                case_number=number,
                starts_at=hearing.starts_at,
                duration_minutes=hearing.duration_minutes,
                sequence=hearing.sequence,
                url=self.hearing_url(hearing.id),
                organiser_name="ODR",
                domain=host,
            ),
            zone=self.zone,
            language=language or "zh-CN",
            cancel=cancel,
            now=self.clock(),
        )

    async def _tell_everyone(
        self,
        s: AsyncSession,
        hearing: Hearing,
        case: Case,
        number: str,
        kind: str,
        occasion: str,
        now: datetime,
        *,
        cancel: bool = False,
        calendar: bool = True,
    ) -> None:
        """Tell the parties and the mediator, with the invitation (or its cancellation) as an
        ``.ics`` attachment when ``calendar``."""
        assert hearing.id is not None
        invitations.notify(
            s,
            await self._everyone(s, case, hearing),
            kind=kind,
            key=f"hearing:{hearing.id}:{occasion}:{hearing.sequence}",
            case_id=case.id,
            params=self._params(hearing, number),
            now=now,
            attachment=(
                (lambda r: self._calendar(hearing, number, r.language, cancel=cancel))
                if calendar
                else None
            ),
        )

    async def _parties(
        self, s: AsyncSession, case: Case, *, with_mediator: bool = False
    ) -> list[notify.Recipient]:
        people = []
        consumer = await s.get(User, case.consumer_id)
        if consumer is not None:
            people.append(notify.recipient(consumer))
        people.extend(await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value))
        if with_mediator and case.mediator_id is not None:
            mediator = await s.get(User, case.mediator_id)
            if mediator is not None:
                people.append(notify.recipient(mediator))
        return people

    async def _everyone(
        self, s: AsyncSession, case: Case, hearing: Hearing
    ) -> list[notify.Recipient]:
        people = await self._parties(s, case)
        mediator = await s.get(User, hearing.mediator_id)
        if mediator is not None:
            people.append(notify.recipient(mediator))
        return people

    def _log(
        self,
        s: AsyncSession,
        hearing: Hearing,
        kind: str,
        actor: Actor | None,
        now: datetime,
        details: dict[str, Any],
    ) -> None:
        assert hearing.id is not None
        s.add(
            HearingLogEntry(
                hearing_id=hearing.id,
                at=now,
                kind=kind,
                user_id=actor.user_id if actor else None,
                details=details,
            )
        )


def _isos(moments: Iterable[datetime]) -> list[str]:
    return [m.astimezone(UTC).isoformat() for m in moments]


def parse_moment(raw: object, zone: ZoneInfo, field_name: str = "slots") -> datetime:
    """An ISO 8601 time; one without an offset is read in ``zone`` (a datetime-local input)."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValidationFailed(
                "Enter a date and time like 2026-12-01 14:30.",
                code="invalid_slot",
                details={"field": field_name},
            ) from None
    else:
        raise ValidationFailed(
            "Enter a date and time.", code="invalid_slot", details={"field": field_name}
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


__all__ = [
    "HearingView",
    "MediatorChoices",
    "MediatorOption",
    "NoShow",
    "SchedulingService",
    "check_assignable",
    "mediator_options",
    "parse_moment",
    "record_no_shows",
    "scheduling_service",
]
