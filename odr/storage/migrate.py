"""Run Alembic migrations from code (the CLI, the app factory in tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def _migrate(engine: AsyncEngine, step: Callable[[Connection], None]) -> None:
    """Run ``step`` in one transaction. On SQLite, foreign keys are not enforced meanwhile (a
    batch migration rebuilds a table by copy, drop and rename, and the drop of a table that rows
    refer to fails) and are checked before the commit instead."""
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            await conn.run_sync(step)
            if sqlite and (await conn.exec_driver_sql("PRAGMA foreign_key_check")).first():
                raise RuntimeError("the migration left rows whose parent row is missing")
            await conn.commit()
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")


async def upgrade(
    engine: AsyncEngine,
    revision: str = "head",
    *,
    secret_key: str | None = None,
    previous_secret_keys: tuple[str, ...] = (),
) -> None:
    """Migrate up. Migrations that seal stored secrets use ``secret_key`` (when not given and
    there is something to seal, the one of `Settings.from_env`)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        cfg.attributes["secret_key"] = secret_key
        cfg.attributes["previous_secret_keys"] = previous_secret_keys
        command.upgrade(cfg, revision)

    await _migrate(engine, run)


async def downgrade(
    engine: AsyncEngine,
    revision: str = "base",
    *,
    secret_key: str | None = None,
    previous_secret_keys: tuple[str, ...] = (),
) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        cfg.attributes["secret_key"] = secret_key
        cfg.attributes["previous_secret_keys"] = previous_secret_keys
        command.downgrade(cfg, revision)

    await _migrate(engine, run)
