"""Database engine and the unit of work."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

#: Seconds to connect or to get a connection from the pool before failing (then the
#: request gets 503 instead of waiting for ever on a database that stalls).
CONNECT_DEADLINE = 1.5
#: Seconds one statement may take in the server (a request); the worker allows more. A
#: statement that times out costs up to 2 s more while asyncpg closes its connection, so a
#: stalled database answers a request within about 4.5 s.
STATEMENT_DEADLINE = 2.5
WORKER_STATEMENT_DEADLINE = 120.0


def make_engine(
    url: str,
    *,
    connect_deadline: float | None = None,
    statement_deadline: float | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine for SQLite (aiosqlite) or PostgreSQL (asyncpg).

    With deadlines (PostgreSQL), connecting and checking a connection out of the pool fail
    after ``connect_deadline`` seconds and a statement after ``statement_deadline``, instead
    of waiting for ever on a database that stalls; a broken connection is noticed by the
    pre-ping and replaced. Migrations and one-off tools run without deadlines."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:  # one connection shared (StaticPool): no pool to size
            kwargs.pop("pool_size", None)
            kwargs.pop("max_overflow", None)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    if connect_deadline is not None:
        connect_args.setdefault("timeout", connect_deadline)
        kwargs.setdefault("pool_timeout", connect_deadline)
    if statement_deadline is not None:
        connect_args.setdefault("command_timeout", statement_deadline)
    if connect_args:
        kwargs["connect_args"] = connect_args
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """One transaction. Nothing is written unless `commit()` is called; leaving the block
    without it rolls everything back (cosmicpython's rule)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessionmaker()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()
            self._session = None

    async def commit(self) -> None:
        await self.session.commit()
