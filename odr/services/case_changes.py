"""What the outcome services share: the unit of work of one change to a case, the rules of
``odr/data/outcomes.toml``, and a few small readers.

Every change is one unit of work like `CaseService.act`: load the case, let the aggregate
decide, save with the version check (with the service's own rows in the same transaction),
notify, commit, then tell live pages over the bus.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor, Role
from odr.domain.agreements import ConfirmationRules, FulfilmentRules, rules_from_mapping
from odr.domain.authz import Action, authorize
from odr.domain.cases import Case, CaseEvent
from odr.domain.offers import BlindOfferRules
from odr.services import notifications as notify
from odr.services.cases import CaseService
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import User

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "outcomes.toml"
T = TypeVar("T")

#: What a change tells people: ``None`` nobody, else `CaseChanges.tell`'s keyword arguments.
Notice = Callable[[Case, list[CaseEvent]], dict[str, Any] | None]


@dataclass(frozen=True)
class OutcomeRules:
    blind: BlindOfferRules = field(default_factory=BlindOfferRules)
    fulfilment: FulfilmentRules = field(default_factory=FulfilmentRules)
    confirmation: ConfirmationRules = field(default_factory=ConfirmationRules)


def load_rules(path: Path | None = None) -> OutcomeRules:
    data = tomllib.loads((path or RULES_FILE).read_text(encoding="utf-8"))
    fulfilment, confirmation = rules_from_mapping(data)
    return OutcomeRules(
        BlindOfferRules.from_mapping(data.get("blind_offers", {})), fulfilment, confirmation
    )


def tell_parties(case: Case, events: list[CaseEvent]) -> dict[str, Any]:
    """The usual notice: the parties other than the actor, of the last event."""
    return {}


@dataclass(frozen=True)
class CaseChanges:
    """Changes to a case in one unit of work each, with the case service's clock, time zone,
    notifications and live updates."""

    cases: CaseService

    @property
    def sessionmaker(self) -> Any:
        return self.cases.sessionmaker

    def now(self) -> datetime:
        return self.cases.clock()

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cases.deadlines.time_zone)

    async def change(
        self,
        actor: Actor,
        case_id: int,
        apply: Callable[[AsyncSession, Case, datetime], Awaitable[T]],
        *,
        notice: Notice | None = None,
        now: datetime | None = None,
    ) -> tuple[Case, T]:
        now = now or self.now()
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE_STATUS, case.scope())
            before = case.version
            value = await apply(s, case, now)
            events = list(case.events)
            await repo.save(s, case, before, now)
            tell = notice(case, events) if notice else None
            if tell is not None:
                await self.tell(s, case, events, now, **tell)
            await uow.commit()
        await self.cases.publish(case_id, case.version)
        return case, value

    async def tell(
        self,
        s: AsyncSession,
        case: Case,
        events: Sequence[CaseEvent],
        now: datetime,
        *,
        to: str = "parties",
        kind: str = "state_changed",
        params: dict[str, Any] | None = None,
    ) -> None:
        """Notify the parties (all but the actor), the insurer's staff, or the supervisors too,
        of the last of ``events``. Parameters never carry a blind-offer figure."""
        if not events:
            return
        last = events[-1]
        people = await self.cases._parties(s, case)
        if to == "insurer":
            people = await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value)
        elif to == "supervisors":
            people += await notify.users_with_role(s, Role.SUPERVISOR.value)
        recipients = [p for p in people if to == "all" or p.user_id != last.actor_user_id]
        notify.notify(
            s,
            recipients,
            kind=kind,
            key=f"case:{case.id}:event:{last.sequence}",
            case_id=case.id,
            params={"number": case.number, "due": "", "reason": "", **(params or {})},
            now=now,
        )


def iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


def case_language(consumer: User | None) -> str:
    """The case's language: the consumer's, Chinese unless they chose English."""
    return "en" if consumer is not None and consumer.locale == "en" else "zh-CN"


async def display_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(User.id, User.display_name).where(User.id.in_(ids))
    return {i: n for i, n in (await s.execute(stmt)).all()}


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as the stream `EvidenceService.enter_record` reads."""
    yield data
