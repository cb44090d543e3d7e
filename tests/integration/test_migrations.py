"""Migrations on SQLite and PostgreSQL: they build the schema the models describe, and go
down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from odr.storage.db import make_engine
from odr.storage.migrate import downgrade, upgrade
from odr.storage.models import Base, include_name


async def test_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": include_name}),
                    Base.metadata,
                )
            )
        assert diff == []
    finally:
        await engine.dispose()


async def test_down_to_nothing_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await upgrade(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert set(Base.metadata.tables) <= set(tables)
    finally:
        await engine.dispose()
