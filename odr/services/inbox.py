"""A user's in-app notifications as pages and the API read them (`odr.storage.notifications`
opens a session for each call)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain import cursors
from odr.storage import notifications as store
from odr.storage.models import Notification

#: The inbox's cursor: (created at, id) of a notification.
NOTIFICATIONS_LIST = "notifications"
_KEY: tuple[type, ...] = (str, int)


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox, newest first, with the cursors of the pages around it."""

    items: list[Notification]
    next: str | None
    previous: str | None


def _cursor(n: Notification, direction: cursors.Direction) -> str:
    key = (n.created_at.isoformat(), n.id)
    return cursors.encode(cursors.Cursor(NOTIFICATIONS_LIST, direction, key))


def _key(at: cursors.Cursor) -> tuple[datetime, int]:
    created, last_id = at.key
    try:
        return datetime.fromisoformat(created), last_id
    except ValueError:
        raise cursors.BadCursor(
            "This page link is not valid. Start again from the first page.",
            details={"field": "cursor"},
        ) from None


class Inbox:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def unread_count(self, user_id: int) -> int:
        return await store.unread_count(self.sessionmaker, user_id)

    async def page(
        self, user_id: int, cursor: str | None = None, limit: int | None = None
    ) -> InboxPage:
        """One page of the user's notifications, newest first, from ``cursor`` (a page's
        ``next`` or ``previous``; None: the first page). It reads one row more than it
        shows, to know whether another page follows."""
        size = cursors.page_limit(limit)
        at = None if cursor is None else cursors.decode(cursor, NOTIFICATIONS_LIST, _KEY)
        forward = at is None or at.direction is cursors.Direction.AFTER
        key = None if at is None else _key(at)
        rows = await store.page(
            self.sessionmaker,
            user_id,
            size + 1,
            after=key if forward else None,
            before=None if forward else key,
        )
        more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        after = more if forward else True
        before = (at is not None) if forward else more
        return InboxPage(
            items=rows,
            next=_cursor(rows[-1], cursors.Direction.AFTER) if rows and after else None,
            previous=_cursor(rows[0], cursors.Direction.BEFORE) if rows and before else None,
        )

    async def mark_all_read(self, user_id: int, now: datetime) -> None:
        await store.mark_all_read(self.sessionmaker, user_id, now)

    async def mark_case_read(self, user_id: int, case_id: int, now: datetime) -> int:
        """The user has the case in front of them: what they were told about it is read."""
        return await store.mark_all_read(self.sessionmaker, user_id, now, case_id=case_id)
