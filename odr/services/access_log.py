"""The access log of cases (PIPL): every time a member of staff opens a case, one of its
evidence items or one of its hearing recordings, who, when and what is recorded.

Supervisors read the whole log of a case (names included); the case's consumer reads it by
organisation and role only ("谁查看了我的案件"), never the names of staff.

A player seeking through a recording, or a page reloaded, asks again within seconds: one
opening of the same thing by the same person is recorded once per `REPEAT_WINDOW`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, Relation, authorize, relations
from odr.storage import cases as case_repo
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseAccess, Organisation, User

REPEAT_WINDOW = timedelta(minutes=5)
LIST_LIMIT = 200
STAFF_ROLES = frozenset({Role.INSURER_REP, Role.MEDIATOR, Role.CENTRE_LEAD, Role.SUPERVISOR})


class AccessKind(StrEnum):
    CASE = "case"
    EVIDENCE = "evidence"
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class AccessRow:
    at: datetime
    kind: AccessKind
    item: str | None
    role: Role
    organisation: str  # the organisation's name ("" when the person had none)
    name: str | None  # the person's name: for supervisors only, None for the consumer


async def record_access(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    kind: AccessKind,
    item: str | None,
    now: datetime,
) -> bool:
    """Add the entry when ``actor`` is a member of staff (consumers reading their own case
    and the system's background work are not logged); False when nothing was added."""
    if actor.user_id is None or actor.role not in STAFF_ROLES:
        return False
    latest = (
        await session.execute(
            select(CaseAccess.at)
            .where(
                CaseAccess.case_id == case_id,
                CaseAccess.user_id == actor.user_id,
                CaseAccess.kind == kind.value,
                CaseAccess.item.is_(None) if item is None else CaseAccess.item == item,
            )
            .order_by(CaseAccess.at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if latest is not None and now - latest < REPEAT_WINDOW:
        return False
    session.add(
        CaseAccess(
            case_id=case_id,
            user_id=actor.user_id,
            role=actor.role.value,
            organisation_id=actor.organisation_id,
            kind=kind.value,
            item=item,
            at=now,
        )
    )
    return True


async def case_log(
    session: AsyncSession, actor: Actor, case_id: int, limit: int = LIST_LIMIT
) -> list[AccessRow]:
    """The case's log as ``actor`` may read it: a supervisor with names, the case's consumer
    by organisation and role; anyone else `Forbidden` (strangers `NotFound`)."""
    _, case = await case_repo.load(session, case_id)
    scope = case.scope()
    authorize(actor, Action.VIEW_ACCESS_LOG, scope)
    with_names = Relation.SUPERVISOR in relations(actor, scope)
    rows = (
        await session.execute(
            select(CaseAccess, User.display_name, Organisation.name)
            .join(User, User.id == CaseAccess.user_id)
            .outerjoin(Organisation, Organisation.id == CaseAccess.organisation_id)
            .where(CaseAccess.case_id == case_id)
            .order_by(CaseAccess.at.desc(), CaseAccess.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        AccessRow(
            at=a.at,
            kind=AccessKind(a.kind),
            item=a.item,
            role=Role(a.role),
            organisation=org or "",
            name=name if with_names else None,
        )
        for a, name, org in rows
    ]


class AccessLog:
    """Recording and reading the access log, each call in its own unit of work or session."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock or (lambda: datetime.now(UTC))

    async def record(
        self, actor: Actor, case_id: int, kind: AccessKind, item: str | None = None
    ) -> None:
        if actor.user_id is None or actor.role not in STAFF_ROLES:
            return
        async with UnitOfWork(self.sessionmaker) as uow:
            if await record_access(uow.session, actor, case_id, kind, item, self.clock()):
                await uow.commit()

    async def case_log(self, actor: Actor, case_id: int) -> list[AccessRow]:
        async with self.sessionmaker() as s:
            return await case_log(s, actor, case_id)
