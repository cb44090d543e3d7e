"""Login sessions kept on the server: in Redis when configured, else in the database.

Both storages plug into aiohttp-session. The cookie holds only a random key; the database
keeps the SHA-256 of it. A session expires ``session_ttl`` seconds after it was created.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.storage.models import WebSession

COOKIE_NAME = "odr_session"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(AbstractStorage):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, max_age: int, secure: bool
    ) -> None:
        super().__init__(
            cookie_name=COOKIE_NAME,
            max_age=max_age,
            secure=secure,
            httponly=True,
            samesite="Lax",
            encoder=json.dumps,
            decoder=json.loads,
        )
        self._sessionmaker = sessionmaker

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        if not key:
            return Session(None, data=None, new=True, max_age=self.max_age)
        async with self._sessionmaker() as db:
            row = await db.get(WebSession, _hash(str(key)))
        if row is None or row.expires_at <= datetime.now(UTC):
            return Session(None, data=None, new=True, max_age=self.max_age)
        return Session(key, data=row.data, new=False, max_age=self.max_age)  # type: ignore[arg-type]

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        key = session.identity
        if key is None:
            key = secrets.token_urlsafe(32)
        key = str(key)
        if session.empty:
            self.save_cookie(response, "", max_age=session.max_age)
            async with self._sessionmaker() as db:
                await db.execute(delete(WebSession).where(WebSession.key_hash == _hash(key)))
                await db.commit()
            return
        self.save_cookie(response, key, max_age=session.max_age)
        data: dict[str, Any] = dict(self._get_session_data(session))
        created = int(data.get("created") or datetime.now(UTC).timestamp())
        expires = datetime.fromtimestamp(created, UTC) + timedelta(seconds=self.max_age or 0)
        async with self._sessionmaker() as db:
            await db.merge(WebSession(key_hash=_hash(key), data=data, expires_at=expires))
            await db.commit()
