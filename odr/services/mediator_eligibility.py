"""Who may mediate a case: the mediators of the case's centre, each eligible or not with the
reasons (recusal, 回避, decided by `odr.domain.recusal`), and the check before an assignment.

Scheduling lists the options and the case commands check an assignment; both use this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Role
from odr.domain.cases import Case
from odr.domain.errors import Conflict, ValidationFailed
from odr.domain.recusal import (
    PARTY_ROLES,
    EarlierCase,
    Employment,
    Finding,
    recusal_findings,
)
from odr.storage.models import CaseEventRow, CaseRow, Membership, User

MEDIATING_ROLES = (Role.MEDIATOR.value, Role.CENTRE_LEAD.value)


@dataclass(frozen=True)
class MediatorOption:
    """A mediator of the case's centre, eligible or not (with the reasons)."""

    user_id: int
    name: str
    eligible: bool
    reasons: tuple[Finding, ...] = ()

    def as_dict(self, *, with_reasons: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.user_id, "name": self.name, "eligible": self.eligible}
        if with_reasons:
            item["reasons"] = [f.as_dict() for f in self.reasons]
        return item


async def _case_centre_members(s: AsyncSession, centre_id: int, today: date) -> list[User]:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == centre_id,
            Membership.role.in_(MEDIATING_ROLES),
            (Membership.ended_on.is_(None)) | (Membership.ended_on >= today),
            Membership.started_on <= today,
            User.active.is_(True),
        )
        .order_by(User.id)
    )
    return list((await s.execute(stmt)).scalars().unique())


async def _party_actors(s: AsyncSession, case_id: int) -> set[int]:
    stmt = select(CaseEventRow.actor_user_id).where(
        CaseEventRow.case_id == case_id,
        CaseEventRow.actor_role.in_(sorted(PARTY_ROLES)),
        CaseEventRow.actor_user_id.is_not(None),
    )
    return {int(uid) for uid in (await s.execute(stmt)).scalars() if uid is not None}


async def _earlier_cases(s: AsyncSession, case: Case, mediator_id: int) -> list[EarlierCase]:
    stmt = select(CaseRow.id, CaseRow.number).where(
        CaseRow.consumer_id == case.consumer_id,
        CaseRow.insurer_id == case.insurer_id,
        CaseRow.mediator_id == mediator_id,
        CaseRow.id != case.id,
    )
    rows = (await s.execute(stmt)).all()
    if not rows:
        return []
    failed = set(
        (
            await s.execute(
                select(CaseEventRow.case_id).where(
                    CaseEventRow.case_id.in_([r[0] for r in rows]),
                    CaseEventRow.kind == "not_settled",
                )
            )
        ).scalars()
    )
    return [EarlierCase(cid, number, cid in failed) for cid, number in rows]


async def findings_for(s: AsyncSession, case: Case, user: User, today: date) -> list[Finding]:
    """Why ``user`` may not mediate ``case`` (empty: they may)."""
    employments = [
        Employment(m.organisation_id, m.started_on, m.ended_on) for m in user.memberships
    ]
    return recusal_findings(
        mediator_id=user.id,
        insurer_id=case.insurer_id,
        today=today,
        employments=employments,
        party_actors=await _party_actors(s, case.id),
        earlier_cases=await _earlier_cases(s, case, user.id),
    )


async def mediator_options(s: AsyncSession, case: Case, today: date) -> list[MediatorOption]:
    """Every mediator of the case's centre, eligible first, with the reasons of the rest."""
    if case.centre_id is None:
        return []
    options = []
    for user in await _case_centre_members(s, case.centre_id, today):
        found = await findings_for(s, case, user, today)
        options.append(MediatorOption(user.id, user.display_name, not found, tuple(found)))
    return sorted(options, key=lambda o: (not o.eligible, o.user_id))


async def check_assignable(s: AsyncSession, case: Case, mediator_id: int, today: date) -> None:
    """Refuse a mediator who is not one of the case's centre (`ValidationFailed`
    ``mediator_not_in_centre``) or who must recuse themself (`Conflict` ``mediator_recused``
    with the reasons in ``details['reasons']``)."""
    options = {o.user_id: o for o in await mediator_options(s, case, today)}
    option = options.get(mediator_id)
    if option is None:
        raise ValidationFailed(
            "Choose a mediator of the case's mediation centre.",
            code="mediator_not_in_centre",
            details={"field": "mediator_id"},
        )
    if not option.eligible:
        raise Conflict(
            "This mediator may not take the case (recusal).",
            code="mediator_recused",
            details={
                "field": "mediator_id",
                "mediator_id": mediator_id,
                "reasons": [f.as_dict() for f in option.reasons],
            },
        )
