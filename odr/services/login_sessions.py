"""Login sessions on the server's side: one row per login, so a person sees where they are
logged in and can end every other session ("log out everywhere").

The cookie's session (aiohttp-session, in Redis or the database) carries the row's id next
to the user id; `odr.http.auth.current_user` asks `session_user` on every request, so a
session whose row was ended is anonymous at its next request, whichever storage holds it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.devices import summarise_user_agent
from odr.services.accounts import UserInfo, user_info
from odr.storage.db import UnitOfWork
from odr.storage.models import LoginSession, User

#: ``last_seen_at`` is written at most this often (not on every request).
SEEN_EVERY = timedelta(minutes=5)
#: How many sessions the account page lists (newest first).
LIST_LIMIT = 20


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    device: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


async def open_session(
    session: AsyncSession, user_id: int, user_agent: str | None, now: datetime
) -> str:
    sid = secrets.token_urlsafe(24)
    session.add(
        LoginSession(
            id=sid,
            user_id=user_id,
            device=summarise_user_agent(user_agent),
            created_at=now,
            last_seen_at=now,
        )
    )
    return sid


async def end_sessions(
    session: AsyncSession, user_id: int, now: datetime, *, keep: str | None = None
) -> int:
    """End every running session of the user but ``keep``; how many were ended."""
    stmt = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    result = await session.execute(stmt.values(ended_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


class LoginSessions:
    """The login sessions of accounts, each call in its own session or unit of work."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: int) -> None:
        self.sessionmaker = sessionmaker
        self.ttl = timedelta(seconds=ttl)  # a session not seen for this long has expired

    async def open(self, user_id: int, user_agent: str | None, now: datetime) -> str:
        async with UnitOfWork(self.sessionmaker) as uow:
            sid = await open_session(uow.session, user_id, user_agent, now)
            await uow.commit()
            return sid

    async def session_user(
        self, user_id: int, sid: str | None, today: date, now: datetime
    ) -> UserInfo | None:
        """The user of a request's session, or None when the account is gone or closed or the
        session was ended (or carries no id: sessions from before the table)."""
        if not sid:
            return None
        async with UnitOfWork(self.sessionmaker) as uow:
            row = await uow.session.get(LoginSession, sid)
            if row is None or row.user_id != user_id or row.ended_at is not None:
                return None
            user = await uow.session.get(User, user_id)
            if user is None or not user.active:
                return None
            if now - row.last_seen_at >= SEEN_EVERY:
                row.last_seen_at = now
                info = user_info(user, today)
                await uow.commit()
                return info
            return user_info(user, today)

    async def end(self, sid: str | None, now: datetime) -> None:
        if not sid:
            return
        async with UnitOfWork(self.sessionmaker) as uow:
            row = await uow.session.get(LoginSession, sid)
            if row is not None and row.ended_at is None:
                row.ended_at = now
                await uow.commit()

    async def end_others(self, user_id: int, current: str | None, now: datetime) -> int:
        """Log out everywhere else: every running session of the user but ``current``."""
        async with UnitOfWork(self.sessionmaker) as uow:
            ended = await end_sessions(uow.session, user_id, now, keep=current)
            await uow.commit()
            return ended

    async def purge(self, now: datetime) -> int:
        """Delete the rows of sessions that were ended or have expired (nobody can use them)."""
        async with UnitOfWork(self.sessionmaker) as uow:
            result = await uow.session.execute(
                delete(LoginSession).where(
                    or_(
                        LoginSession.ended_at.is_not(None),
                        LoginSession.last_seen_at <= now - self.ttl - SEEN_EVERY,
                    )
                )
            )
            await uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def running(self, user_id: int, current: str | None, now: datetime) -> list[SessionRow]:
        """The user's running sessions, the current one first, then the latest seen."""
        async with self.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(LoginSession)
                    .where(
                        LoginSession.user_id == user_id,
                        LoginSession.ended_at.is_(None),
                        LoginSession.last_seen_at > now - self.ttl - SEEN_EVERY,
                    )
                    .order_by(LoginSession.last_seen_at.desc(), LoginSession.id)
                    .limit(LIST_LIMIT)
                )
            ).scalars()
            listed = [
                SessionRow(r.id, r.device, r.created_at, r.last_seen_at, r.id == current)
                for r in rows
            ]
        return sorted(listed, key=lambda r: not r.current)
