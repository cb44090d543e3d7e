"""Shared fixtures: databases (SQLite always; PostgreSQL and Redis when their URLs are set —
and required when CI=true), settings, and the app under test."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url
from xdist.scheduler import LoadScopeScheduling

from odr.config import Settings
from odr.services.passwords import Passwords
from odr.storage.db import make_engine
from odr.storage.migrate import upgrade

PG_URL = os.environ.get("ODR_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"

#: argon2id with small costs: same code path, fast tests.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


def worker_redis_url(url: str | None, worker: str) -> str | None:
    """Each pytest-xdist worker empties its own Redis database: gw0 the configured one, gw1 the one
    below it, and so on (the suite runs on every core, and tests flush their database)."""
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base, index = int(parts.path.strip("/") or 0), int(worker.removeprefix("gw"))
    if index > base:
        raise pytest.UsageError(f"ODR_TEST_REDIS_URL database {base} leaves no room for {worker}")
    return urlunsplit(parts._replace(path=f"/{base - index}"))


REDIS_URL = worker_redis_url(
    os.environ.get("ODR_TEST_REDIS_URL"), os.environ.get("PYTEST_XDIST_WORKER", "")
)


def need(url: str | None, what: str, variable: str) -> str:
    if url:
        return url
    if IN_CI:
        pytest.fail(f"{what} is required in CI: set {variable}")
    pytest.skip(f"{what} not configured: set {variable} to run this test")


#: Migrated once per test process and copied for each test: a SQLite file and a PostgreSQL
#: template database (dropped when the session ends).
_TEMPLATES: dict[str, str] = {}


async def _migrated(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


@asynccontextmanager
async def sqlite_database(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated SQLite file in ``tmp_path``."""
    if "sqlite" not in _TEMPLATES:
        template = Path(tempfile.mkdtemp(prefix="odr-template-")) / "odr.sqlite3"
        await _migrated(f"sqlite+aiosqlite:///{template}")
        _TEMPLATES["sqlite"] = str(template)
    path = tmp_path / "odr.sqlite3"
    shutil.copyfile(_TEMPLATES["sqlite"], path)
    yield f"sqlite+aiosqlite:///{path}"


def _database_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    base = need(PG_URL, "PostgreSQL", "ODR_TEST_DATABASE_URL")
    name = f"odr_t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    try:
        if "postgres" not in _TEMPLATES:
            template = f"odr_template_{uuid.uuid4().hex[:12]}"
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
            _TEMPLATES["postgres"] = template
            await _migrated(_database_url(base, template))
        async with admin.connect() as conn:
            await conn.exec_driver_sql(
                f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATES["postgres"]}"'
            )
        try:
            yield _database_url(base, name)
        finally:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "sqlite" in _TEMPLATES:
        shutil.rmtree(Path(_TEMPLATES.pop("sqlite")).parent, ignore_errors=True)
    if "postgres" in _TEMPLATES and PG_URL:
        asyncio.run(_drop_database(PG_URL, _TEMPLATES.pop("postgres")))


async def _drop_database(base: str, name: str) -> None:
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def triage_model() -> None:
    """The triage category model, trained once per test process before any test runs (a
    node trains it on its first complaint; inside a test that would shift the timing of
    the background jobs the test runs beside)."""
    from odr.services.triage_model import ModelSource

    ModelSource(None).get()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, migrated database: a SQLite file or a new PostgreSQL database."""
    database = sqlite_database(tmp_path) if request.param == "sqlite" else postgres_database()
    async with database as url:
        yield url


async def fresh_redis() -> str:
    """The test Redis database, emptied."""
    url = need(REDIS_URL, "Redis", "ODR_TEST_REDIS_URL")
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    return url


@pytest.fixture
async def redis_url() -> str:
    return await fresh_redis()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(database_url: str, **overrides: object) -> Settings:
        base = Settings(
            var_dir=tmp_path / "var",
            database_url=database_url,
            secret_key="x" * 40,
            storage_dir=tmp_path / "evidence",
            recordings_dir=tmp_path / "recordings",
            run_jobs_in_process=False,
        )
        return base.with_overrides(**overrides)

    return build


#: Suites whose tests run media clients, servers in their own processes or a browser: they share
#: one pytest-xdist worker (one at a time) so that two of them never starve each other's frames.
HEAVY = ("tests/realtime/", "tests/browser/")


class HeavyTogether(LoadScopeScheduling):
    """``--dist loadgroup`` with the heavy suites as one unit of work and every other test
    on its own (xdist's ``xdist_group`` mark cannot rename nodes on pytest 9.2)."""

    def _split_scope(self, nodeid: str) -> str:
        return "heavy" if nodeid.startswith(HEAVY) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> HeavyTogether | None:
    return HeavyTogether(config, log) if config.getvalue("dist") == "loadgroup" else None
