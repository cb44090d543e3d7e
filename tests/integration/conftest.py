from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from odr.app import create_app
from odr.config import Settings
from odr.services import demo
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.sealed import SecretBox
from tests.conftest import FAST_PASSWORDS, fresh_redis, postgres_database, sqlite_database


@pytest.fixture(
    params=["embedded", pytest.param("scaled", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[Settings]:
    """'embedded': SQLite and no Redis; 'scaled': PostgreSQL and Redis."""
    if request.param == "embedded":
        async with sqlite_database(tmp_path) as url:
            yield make_settings(url)
        return
    redis = await fresh_redis()
    async with postgres_database() as url:
        yield make_settings(url, redis_url=redis)


async def seed(settings: Settings) -> Settings:
    engine = make_engine(settings.database_url)
    box = SecretBox(settings.secret_key, settings.previous_secret_keys)
    await demo.seed(make_sessionmaker(engine), FAST_PASSWORDS, date.today(), box)
    await engine.dispose()
    return settings


@pytest.fixture
async def seeded(backend: Settings) -> Settings:
    return await seed(backend)


@pytest.fixture
async def scaled(make_settings: Callable[..., Settings]) -> AsyncIterator[Settings]:
    """PostgreSQL and Redis with the demo data, for tests only the scaled setup can run."""
    redis = await fresh_redis()
    async with postgres_database() as url:
        yield await seed(make_settings(url, redis_url=redis))


@pytest.fixture
async def client(seeded: Settings, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(seeded, passwords=FAST_PASSWORDS))


@pytest.fixture
def make_client(aiohttp_client: Any) -> Callable[..., Any]:
    async def build(settings: Settings) -> TestClient:
        return await aiohttp_client(create_app(settings, passwords=FAST_PASSWORDS))

    return build


@pytest.fixture
async def server(seeded: Settings, aiohttp_server: Any) -> Any:
    return await aiohttp_server(create_app(seeded, passwords=FAST_PASSWORDS))


@pytest.fixture
def new_client(server: Any, aiohttp_client: Any) -> Callable[[], Any]:
    """Another browser on the same server: its own cookies."""

    async def build() -> TestClient:
        return await aiohttp_client(server)

    return build
