"""Satisfaction: the parties rate the service once the case is closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize
from odr.domain.cases import CaseState
from odr.domain.errors import Conflict, ValidationFailed
from odr.services.case_changes import CaseChanges, iso
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import SatisfactionRating


@dataclass
class RatingService:
    changes: CaseChanges

    async def rate(self, actor: Actor, case_id: int, *, score: int, comment: str = "") -> None:
        """A party rates the service once the case is closed (1-5 and a comment); rating again
        replaces the earlier rating."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValidationFailed(
                "Choose 1 to 5 stars.", code="invalid_score", details={"field": "score"}
            )
        text = comment.strip()
        if len(text) > 2000:
            raise ValidationFailed(
                "The comment may have at most 2000 characters.",
                code="comment_too_long",
                details={"field": "comment"},
            )
        now = self.changes.now()
        async with UnitOfWork(self.changes.sessionmaker) as uow:
            s = uow.session
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.RATE_SERVICE, case.scope())
            if case.state is not CaseState.CLOSED:
                raise Conflict(
                    "The service can be rated once the case is closed.", code="case_not_closed"
                )
            existing = await s.get(SatisfactionRating, (case_id, actor.user_id))
            if existing is None:
                s.add(
                    SatisfactionRating(
                        case_id=case_id,
                        user_id=actor.user_id,
                        role=actor.role.value,
                        score=score,
                        comment=text,
                        rated_at=now,
                    )
                )
            else:
                existing.score, existing.comment, existing.rated_at = score, text, now
            await uow.commit()

    async def my_rating(self, actor: Actor, case_id: int) -> dict[str, Any] | None:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            row = await s.get(SatisfactionRating, (case_id, actor.user_id or 0))
        if row is None:
            return None
        return {"score": row.score, "comment": row.comment, "rated_at": iso(row.rated_at)}


async def satisfaction_summary(
    s: AsyncSession, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The ratings of a period for the dashboard: count, mean and how many of each score."""
    stmt = select(SatisfactionRating.score, func.count()).group_by(SatisfactionRating.score)
    if start is not None:
        stmt = stmt.where(SatisfactionRating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(SatisfactionRating.rated_at < end)
    counts = {int(score): int(n) for score, n in (await s.execute(stmt)).all()}
    total = sum(counts.values())
    mean = sum(k * v for k, v in counts.items()) / total if total else None
    return {
        "ratings": total,
        "mean_score": None if mean is None else round(mean, 2),
        "by_score": {str(k): counts.get(k, 0) for k in range(1, 6)},
    }
