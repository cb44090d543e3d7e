"""The regulatory clock: with a controlled clock, each reminder and escalation happens exactly
once, however many workers run it at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from odr.bootstrap import build_services
from odr.config import Settings
from odr.domain.accounts import Actor, Role
from odr.jobs import JobContext
from odr.jobs.runners import arq_worker
from odr.jobs.tasks import JOBS
from odr.services.bus import MemoryBus
from odr.services.cases import TERMS_VERSION, CaseService, ComplaintForm, case_service
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import CaseEventRow, CaseRow, Notification, Organisation, User

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def file_case(settings: Settings) -> tuple[int, datetime]:
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    service = case_service(settings, maker, MemoryBus())
    service.clock = lambda: T0
    async with maker() as s:
        consumer = (await s.execute(select(User).where(User.mobile == "13800000001"))).scalar_one()
        insurer = (
            await s.execute(select(Organisation).where(Organisation.name == "安康人寿"))
        ).scalar_one()
    form = ComplaintForm(
        insurer_id=insurer.id,
        policy_numbers=("AK1",),
        category="claims",
        description="理赔申请提交四十天了一直没有结果，客服只让我继续等待。",
        terms_version=TERMS_VERSION,
    )
    intake = await service.file(Actor(consumer.id, Role.CONSUMER), form, consumer_id=consumer.id)
    async with maker() as s:
        row = await s.get(CaseRow, intake.case_id)
        assert row is not None and row.due_at is not None
        due = row.due_at
    await engine.dispose()
    return intake.case_id, due


async def clock_events(settings: Settings, case_id: int) -> list[tuple[str, str]]:
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as s:
        rows = (
            await s.execute(
                select(CaseEventRow)
                .where(
                    CaseEventRow.case_id == case_id,
                    CaseEventRow.kind.in_(["reminder", "escalated"]),
                )
                .order_by(CaseEventRow.sequence)
            )
        ).scalars()
        result = [(r.kind, r.payload["key"]) for r in rows]
    await engine.dispose()
    return result


async def notification_count(settings: Settings, kind: str) -> int:
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as s:
        n = (
            await s.execute(
                select(func.count()).select_from(Notification).where(Notification.kind == kind)
            )
        ).scalar_one()
    await engine.dispose()
    return int(n)


def moments(due: datetime) -> list[datetime]:
    span = due - T0
    return [
        T0 + span * 0.5 + timedelta(seconds=1),
        T0 + span * 0.8 + timedelta(seconds=1),
        due + timedelta(seconds=1),
        due + timedelta(days=3),
    ]


async def test_two_workers_racing_record_each_action_once(seeded: Settings) -> None:
    case_id, due = await file_case(seeded)
    engines = [make_engine(seeded.database_url) for _ in range(2)]
    workers: list[CaseService] = [
        case_service(seeded, make_sessionmaker(e), MemoryBus()) for e in engines
    ]
    try:
        for moment in moments(due):
            for _ in range(3):
                await asyncio.gather(*(w.run_clock(moment) for w in workers))
    finally:
        for e in engines:
            await e.dispose()
    kinds = [kind for kind, _ in await clock_events(seeded, case_id)]
    assert kinds == ["reminder", "reminder", "escalated"]
    assert await notification_count(seeded, "reminder") == 2  # one insurer rep, twice
    assert await notification_count(seeded, "escalated") == 2  # the supervisor and the rep


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_arq_workers_on_redis(scaled: Settings) -> None:
    seeded = scaled
    assert seeded.redis_url
    from arq import create_pool
    from arq.connections import RedisSettings

    case_id, due = await file_case(seeded)
    services = [build_services(seeded) for _ in range(2)]  # each worker on its own engine
    contexts = [JobContext(s) for s in services]
    pool = await create_pool(RedisSettings.from_dsn(seeded.redis_url))
    try:
        for moment in moments(due):
            for _ in range(4):
                await pool.enqueue_job("run_case_clock", now=moment.isoformat())
            workers = [
                arq_worker(ctx, seeded.redis_url, JOBS, (), burst=True, poll_delay=0.01, max_jobs=2)
                for ctx in contexts
            ]
            try:
                await asyncio.gather(*(w.main() for w in workers))
            finally:
                for w in workers:
                    await w.close()
            assert sum(w.jobs_complete for w in workers) == 4
            assert sum(w.jobs_failed for w in workers) == 0
    finally:
        await pool.aclose()
        for s in services:
            await s.aclose()
    kinds = [kind for kind, _ in await clock_events(seeded, case_id)]
    assert kinds == ["reminder", "reminder", "escalated"]
    assert await notification_count(seeded, "reminder") == 2
