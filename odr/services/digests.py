"""The daily digest: one hash over every case's chain head at the end of a day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize
from odr.domain.errors import NotFound
from odr.domain.ledger import daily_digest
from odr.storage.models import ChainEntryRow, DailyDigest


async def heads_at(s: AsyncSession, end: datetime) -> dict[str, str]:
    """Each case's last chain hash recorded before ``end``."""
    last = (
        select(ChainEntryRow.case_id, func.max(ChainEntryRow.sequence).label("sequence"))
        .where(ChainEntryRow.at < end)
        .group_by(ChainEntryRow.case_id)
        .subquery()
    )
    stmt = select(ChainEntryRow.case_id, ChainEntryRow.hash).join(
        last,
        (last.c.case_id == ChainEntryRow.case_id) & (last.c.sequence == ChainEntryRow.sequence),
    )
    return {str(case_id): head for case_id, head in (await s.execute(stmt)).all()}


async def record_digest(
    sessionmaker: async_sessionmaker[AsyncSession], day: date, zone: str, now: datetime
) -> str:
    """Compute and keep the digest of ``day`` (a calendar day in ``zone``); idempotent."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(zone))
    async with sessionmaker() as s:
        existing = await s.get(DailyDigest, day)
        if existing is not None:
            return existing.digest
        heads = await heads_at(s, end)
        digest = daily_digest(day, heads)
        s.add(DailyDigest(day=day, digest=digest, heads=heads, created_at=now))
        try:
            await s.commit()
        except IntegrityError:  # another worker recorded it a moment ago
            await s.rollback()
            again = await s.get(DailyDigest, day)
            assert again is not None
            return again.digest
    return digest


async def get_digest(s: AsyncSession, actor: Actor, day: date) -> dict[str, Any]:
    authorize(actor, Action.VIEW_DASHBOARD)
    row = await s.get(DailyDigest, day)
    if row is None:
        raise NotFound("No digest for that day yet.", code="digest_not_found")
    return {
        "day": row.day.isoformat(),
        "digest": row.digest,
        "cases": len(row.heads),
        "heads": row.heads,
        "created_at": row.created_at.isoformat(),
    }


class Digests:
    """The daily digests as supervisors read them, in a session of their own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def get(self, actor: Actor, day: date) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            return await get_digest(s, actor, day)
