"""A user's in-app notifications as pages and the API read them (`odr.storage.notifications`
opens a session for each call)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.storage import notifications as store
from odr.storage.models import Notification


class Inbox:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def unread_count(self, user_id: int) -> int:
        return await store.unread_count(self.sessionmaker, user_id)

    async def latest(self, user_id: int) -> list[Notification]:
        """The user's notifications, newest first."""
        return await store.latest(self.sessionmaker, user_id)

    async def mark_all_read(self, user_id: int, now: datetime) -> None:
        await store.mark_all_read(self.sessionmaker, user_id, now)

    async def mark_case_read(self, user_id: int, case_id: int, now: datetime) -> int:
        """The user has the case in front of them: what they were told about it is read."""
        return await store.mark_all_read(self.sessionmaker, user_id, now, case_id=case_id)
