"""Migrations on SQLite and PostgreSQL: they build the schema the models describe, and go
down and up again."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from odr.storage.db import make_engine
from odr.storage.migrate import downgrade, upgrade
from odr.storage.models import LIST_INDEXES, Base, include_name, include_object


async def test_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            # SQLite cannot reflect the list indexes' descending column; they are checked below
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified")
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"include_name": include_name, "include_object": include_object}
                    ),
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


async def test_the_list_indexes_end_with_the_newest_first(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: inspect(sync).get_indexes("cases"))
        columns = {i["name"]: i["column_names"] for i in found}
        wanted = {
            i.name: [c.name for c in i.columns] for i in Base.metadata.tables["cases"].indexes
        }
        for name in LIST_INDEXES:  # the plain columns, then id descending (an expression)
            assert columns[name][: len(wanted[name])] == wanted[name], name
            assert len(columns[name]) == len(wanted[name]) + 1, name
    finally:
        await engine.dispose()
