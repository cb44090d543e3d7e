"""Queries on the in-app inbox, shared by the API and the pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.storage.models import Notification


async def unread_count(maker: async_sessionmaker[AsyncSession], user_id: int) -> int:
    """One COUNT query, for the navigation of every page."""
    async with maker() as s:
        stmt = (
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int((await s.execute(stmt)).scalar_one())


async def page(
    maker: async_sessionmaker[AsyncSession],
    user_id: int,
    limit: int,
    *,
    after: tuple[datetime, int] | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Notification]:
    """Up to ``limit`` of the user's notifications, newest first: the first ones, or those
    that follow the one keyed (created, id) ``after``, or those that precede ``before``
    (nearest first: the caller reverses them). One range of ``ix_notifications_user_list``."""
    key = tuple_(Notification.created_at, Notification.id)
    stmt = select(Notification).where(Notification.user_id == user_id)
    if before is not None:
        stmt = stmt.where(key > before).order_by(
            Notification.created_at.asc(), Notification.id.asc()
        )
    else:
        if after is not None:
            stmt = stmt.where(key < after)
        stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    async with maker() as s:
        return list((await s.execute(stmt.limit(limit))).scalars())


async def mark_all_read(
    maker: async_sessionmaker[AsyncSession],
    user_id: int,
    now: datetime,
    *,
    case_id: int | None = None,
) -> int:
    """Marks the user's unread notifications read (only those about ``case_id`` when given);
    returns how many."""
    async with maker() as s:
        stmt = update(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        if case_id is not None:
            stmt = stmt.where(Notification.case_id == case_id)
        result = await s.execute(stmt.values(read_at=now))
        await s.commit()
        return int(getattr(result, "rowcount", 0) or 0)
