"""What a user may do in the outcome part of a case now: draft and sign the agreement, offer,
record and confirm payment, end the mediation, close, rate, take the evidence packages.

Each answer is the aggregate's own: the change is tried on a copy of the case, so pages never
hold a rule of their own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize, is_allowed
from odr.domain.cases import Case, CaseState
from odr.domain.errors import DomainError
from odr.domain.sides import side_of
from odr.storage import cases as repo


@dataclass(frozen=True)
class OutcomeRights:
    state: CaseState
    agreement_sha256: str  # empty while there is no agreement
    may_draft: bool
    may_sign: bool
    may_end: bool
    may_close: bool
    may_offer: bool
    may_record_payment: bool
    may_confirm_payment: bool
    may_rate: bool
    may_export: bool  # the referral and confirmation packages


def _may(case: Case, change: Callable[[Case], object]) -> bool:
    """Whether the aggregate allows ``change`` now (tried on a copy)."""
    try:
        change(copy.deepcopy(case))
    except DomainError:
        return False
    return True


def rights_on(case: Case, actor: Actor, now: datetime) -> OutcomeRights:
    sha = case.agreement.sha256 if case.agreement else ""
    scope = case.scope()
    return OutcomeRights(
        state=case.state,
        agreement_sha256=sha,
        may_draft=_may(case, lambda c: c.propose_agreement(actor, now, terms="-")),
        may_sign=bool(sha)
        and _may(case, lambda c: c.sign_agreement(actor, now, agreement_sha256=sha)),
        may_end=_may(case, lambda c: c.declare_not_settled(actor, now, reason="-")),
        may_close=_may(case, lambda c: c.close(actor, now)),
        may_offer=side_of(actor.role) is not None
        and _may(case, lambda c: c.make_offer(actor, now, amount_fen=1)),
        may_record_payment=_may(case, lambda c: c.record_payment(actor, now)),
        may_confirm_payment=_may(case, lambda c: c.confirm_payment(actor, now)),
        may_rate=case.state is CaseState.CLOSED and is_allowed(actor, Action.RATE_SERVICE, scope),
        may_export=is_allowed(actor, Action.EXPORT_EVIDENCE, scope),
    )


async def outcome_rights(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, case_id: int
) -> OutcomeRights:
    """`OutcomeRights` of ``actor`` on the case; `NotFound` for a case they may not see."""
    async with sessionmaker() as s:
        _row, case = await repo.load(s, case_id)
    authorize(actor, Action.VIEW_CASE, case.scope())
    return rights_on(case, actor, datetime.now(UTC))
