"""One set of job functions, run in-process (embedded) and by arq workers (Redis)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from odr.bootstrap import open_services
from odr.config import Settings
from odr.jobs import JobContext, Periodic, claim_once
from odr.jobs.runners import InProcessRunner, arq_worker
from odr.jobs.tasks import JOBS, purge_expired_sessions
from odr.storage.db import UnitOfWork
from odr.storage.models import JobRun, LoginSession, User, WebSession


@pytest.fixture
async def ctx(database_url: str) -> Any:
    async with open_services(Settings(database_url=database_url, secret_key="x" * 40)) as s:
        yield JobContext(s)


async def add_sessions(ctx: JobContext) -> None:
    now = datetime.now(UTC)
    async with ctx.uow() as uow:
        uow.session.add_all(
            [
                WebSession(key_hash="a" * 64, data={}, expires_at=now - timedelta(minutes=1)),
                WebSession(key_hash="b" * 64, data={}, expires_at=now + timedelta(hours=1)),
            ]
        )
        await uow.commit()


async def remaining(ctx: JobContext) -> set[str]:
    async with ctx.uow() as uow:
        return set((await uow.session.execute(select(WebSession.key_hash))).scalars())


async def test_purge_is_idempotent(ctx: JobContext) -> None:
    await add_sessions(ctx)
    assert await purge_expired_sessions(ctx) == 1
    assert await purge_expired_sessions(ctx) == 0
    assert await remaining(ctx) == {"b" * 64}


async def test_in_process_runner_runs_periodic_and_enqueued_jobs(ctx: JobContext) -> None:
    await add_sessions(ctx)
    calls: list[str] = []

    async def every_two(c: JobContext) -> None:
        calls.append("two")

    periodic = (Periodic(purge_expired_sessions, minutes=10), Periodic(every_two, minutes=2))
    runner = InProcessRunner(ctx, JOBS, periodic, tick=0.01)
    for _ in range(3):
        await runner.run_due()
    assert calls == ["two", "two"]  # ticks 0 and 2
    assert await remaining(ctx) == {"b" * 64}
    await add_sessions_again(ctx)
    await runner.enqueue("purge_expired_sessions")
    await asyncio.sleep(0.2)
    assert await remaining(ctx) == {"b" * 64}
    runner.start()
    await runner.stop()


async def test_stopping_lets_a_running_job_finish_and_cancels_one_past_the_grace(
    ctx: JobContext,
) -> None:
    finished: list[str] = []

    async def slow(c: JobContext, name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    runner = InProcessRunner(ctx, {"slow": slow}, (), tick=60)
    await runner.enqueue("slow", name="quick", seconds=0.1)
    await runner.stop()
    assert finished == ["quick"]
    await runner.enqueue("slow", name="stuck", seconds=30)
    started = asyncio.get_running_loop().time()
    await runner.stop(grace=0.2)
    assert finished == ["quick"]
    assert asyncio.get_running_loop().time() - started < 5


async def test_stopping_waits_for_the_periodic_job_under_way(ctx: JobContext) -> None:
    finished: list[str] = []

    async def at_start(c: JobContext) -> None:
        await asyncio.sleep(0.1)
        finished.append("at start")

    runner = InProcessRunner(ctx, JOBS, (Periodic(at_start, minutes=1),), tick=60)
    runner.start()
    await asyncio.sleep(0)  # the first tick begins its job
    await runner.stop()
    assert finished == ["at start"]


async def test_the_purge_deletes_ended_and_expired_login_sessions(ctx: JobContext) -> None:
    async with ctx.uow() as uow:
        user = User(display_name="王芳", password_hash="x", role="consumer", mobile="13800000009")
        uow.session.add(user)
        await uow.commit()
        user_id = user.id
    logins = ctx.services.login_sessions
    now = datetime.now(UTC)
    running = await logins.open(user_id, "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0", now)
    ended = await logins.open(user_id, None, now)
    await logins.end(ended, now)
    expired = await logins.open(user_id, None, now - logins.ttl - timedelta(hours=1))
    await purge_expired_sessions(ctx)
    async with ctx.uow() as uow:
        left = set((await uow.session.execute(select(LoginSession.id))).scalars())
    assert left == {running} and expired not in left
    assert await logins.session_user(user_id, running, now.date(), now) is not None


async def add_sessions_again(ctx: JobContext) -> None:
    async with ctx.uow() as uow:
        uow.session.add(
            WebSession(
                key_hash="c" * 64, data={}, expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
        await uow.commit()


async def test_claim_once_under_concurrency(ctx: JobContext) -> None:
    results = await asyncio.gather(
        *(claim_once(ctx, "reminder:case-1:0.5", "remind") for _ in range(8))
    )
    assert results.count(True) == 1
    async with UnitOfWork(ctx.services.sessionmaker) as uow:
        count = (await uow.session.execute(select(func.count()).select_from(JobRun))).scalar()
    assert count == 1


@pytest.mark.redis
async def test_arq_worker_runs_the_same_jobs(ctx: JobContext, redis_url: str) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    await add_sessions(ctx)
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    await pool.enqueue_job("purge_expired_sessions")
    worker = arq_worker(ctx, redis_url, JOBS, (), burst=True, poll_delay=0.05)  # no cron ticks
    try:
        await worker.main()
    finally:
        await worker.close()
        await pool.aclose()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await remaining(ctx) == {"b" * 64}
