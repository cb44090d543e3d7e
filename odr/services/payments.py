"""Payment under the agreement: the insurer records it, the consumer confirms it or objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor
from odr.domain.cases import Case
from odr.domain.errors import ValidationFailed
from odr.services.case_changes import CaseChanges, tell_parties


@dataclass
class PaymentService:
    changes: CaseChanges

    async def record_payment(
        self, actor: Actor, case_id: int, *, amount_fen: int, paid_on: date, reference: str
    ) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            if paid_on > now.astimezone(self.changes.zone()).date():
                raise ValidationFailed(
                    "A payment cannot be in the future.",
                    code="invalid_paid_on",
                    details={"field": "paid_on"},
                )
            case.record_payment(
                actor, now, amount_fen=amount_fen, reference=reference, paid_on=paid_on
            )

        case, _ = await self.changes.change(actor, case_id, apply, notice=tell_parties)
        return case

    async def confirm_payment(self, actor: Actor, case_id: int) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.confirm_payment(actor, now)

        case, _ = await self.changes.change(actor, case_id, apply, notice=tell_parties)
        return case

    async def dispute_payment(self, actor: Actor, case_id: int, *, reason: str) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.dispute_payment(actor, now, reason=reason)

        case, _ = await self.changes.change(
            actor, case_id, apply, notice=lambda c, e: {"params": {"reason": reason}}
        )
        return case
