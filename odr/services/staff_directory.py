"""The public staff identity check: is the person on the phone really staff?

A consumer types the badge number a caller gave; the answer is that badge's holder, their
organisation and role, and whether the badge is in use today. Nothing else about the person is
told, and an unknown badge gets the same plain answer whatever it looks like (no hint of which
badges exist). Callers rate-limit the check (`odr.services.ratelimit`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from odr.domain.accounts import Role
from odr.storage.models import Membership

MAX_BADGE_LENGTH = 32


@dataclass(frozen=True, slots=True)
class StaffCheck:
    badge_number: str
    display_name: str
    organisation_name: str
    organisation_name_en: str | None
    role: Role
    active: bool  # the badge is in use today: membership running, account and employer active


def normalise_badge(raw: str) -> str:
    """What a person types (full-width letters, spaces, lower case) as a badge number; an
    empty string when it cannot be one."""
    text = unicodedata.normalize("NFKC", raw).strip().upper().replace(" ", "")
    return text if 0 < len(text) <= MAX_BADGE_LENGTH else ""


async def check_badge(session: AsyncSession, raw: str, today: date) -> StaffCheck | None:
    """The badge's holder, or None when there is no such badge."""
    badge = normalise_badge(raw)
    stmt = (
        select(Membership)
        .options(joinedload(Membership.user), joinedload(Membership.organisation))
        .where(Membership.badge_number == badge)
    )
    membership = (await session.execute(stmt)).unique().scalar_one_or_none()
    if membership is None:
        return None
    running = membership.started_on <= today and (
        membership.ended_on is None or membership.ended_on > today
    )
    return StaffCheck(
        badge_number=membership.badge_number,
        display_name=membership.user.display_name,
        organisation_name=membership.organisation.name,
        organisation_name_en=membership.organisation.name_en,
        role=Role(membership.role),
        active=running and membership.user.active and membership.organisation.active,
    )


class StaffDirectory:
    """`check_badge` in a session of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def check_badge(self, raw: str, today: date) -> StaffCheck | None:
        async with self.sessionmaker() as s:
            return await check_badge(s, raw, today)
