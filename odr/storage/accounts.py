"""Queries about users, organisations and memberships."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.storage.models import Membership, Organisation, User


async def user_by_login(session: AsyncSession, kind: str, value: str) -> User | None:
    column = User.email if kind == "email" else User.mobile
    return (await session.execute(select(User).where(column == value))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def organisation_by_name(session: AsyncSession, name: str) -> Organisation | None:
    stmt = select(Organisation).where(Organisation.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def membership_by_badge(session: AsyncSession, badge: str) -> Membership | None:
    stmt = select(Membership).where(Membership.badge_number == badge)
    return (await session.execute(stmt)).scalar_one_or_none()


def active_membership(user: User, today: date) -> Membership | None:
    for m in user.memberships:
        if m.started_on <= today and (m.ended_on is None or m.ended_on > today):
            return m
    return None


async def count_users(session: AsyncSession) -> int:
    from sqlalchemy import func

    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    return list((await session.execute(select(Organisation).order_by(Organisation.id))).scalars())
