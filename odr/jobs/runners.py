"""The two runners of the job functions in `odr.jobs.tasks`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name
from arq.worker import Function, Worker, func

from odr.jobs import JobContext, JobFunction, Periodic

log = logging.getLogger("odr.jobs")

#: How long stopping waits for running jobs before it cancels them (seconds).
STOP_GRACE = 5.0


class InProcessRunner:
    """Runs periodic jobs on a timer and enqueued jobs as tasks, inside the serving process."""

    def __init__(
        self,
        ctx: JobContext,
        jobs: Mapping[str, JobFunction],
        periodic: Sequence[Periodic],
        tick: float = 60.0,
    ) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.periodic = periodic
        self.tick = tick
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._minute = 0

    async def enqueue(self, name: str, /, **kwargs: Any) -> None:
        function = self.jobs[name]
        task = asyncio.create_task(self._run(name, function, kwargs, time.monotonic()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def queued(self) -> int:
        """Enqueued jobs not finished yet."""
        return len(self._tasks)

    async def _run(
        self, name: str, function: JobFunction, kwargs: Mapping[str, Any], due: float
    ) -> None:
        try:
            with self.ctx.services.metrics.job(name, time.monotonic() - due):
                await function(self.ctx, **kwargs)
        except Exception:
            log.exception("job failed", extra={"job": name})

    async def run_due(self) -> None:
        """Run every periodic job due at this tick (all of them on the first tick); each one's
        lag is counted from the tick."""
        tick = time.monotonic()
        for job in self.periodic:
            if self._minute % job.minutes == 0:
                await self._run(job.name, job.function, {}, tick)
        self._minute += 1

    async def _loop(self) -> None:
        while True:
            self._idle.clear()
            try:
                await self.run_due()
            finally:
                self._idle.set()
            await asyncio.sleep(self.tick)

    def start(self) -> None:
        self._timer = asyncio.create_task(self._loop())

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let running jobs finish (for up to ``grace`` seconds), then cancel what is left: a job
        is not cut off in the middle of its transaction when the server stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
                if self._tasks:
                    await asyncio.wait(list(self._tasks))
        tasks = [*self._tasks, *([self._timer] if self._timer else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ArqQueue:
    """Enqueues jobs for arq workers on Redis."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(self, name: str, /, **kwargs: Any) -> None:
        await self.redis.enqueue_job(name, **kwargs)

    async def queued(self) -> int:
        """Jobs waiting in arq's queue (cron ticks included)."""
        return int(await self.redis.zcard(default_queue_name))


def _arq_function(name: str, function: JobFunction) -> Function:
    async def call(ctx: dict[str, Any], **kwargs: Any) -> Any:
        odr: JobContext = ctx["odr"]
        enqueued = ctx.get("enqueue_time")  # arq's: when the job (or its cron tick) was due
        lag = (datetime.now(UTC) - enqueued).total_seconds() if enqueued else None
        with odr.services.metrics.job(name, lag):
            return await function(odr, **kwargs)

    call.__name__ = call.__qualname__ = name
    return func(call, name=name)


def arq_worker(
    ctx: JobContext,
    redis_url: str,
    jobs: Mapping[str, JobFunction],
    periodic: Sequence[Periodic],
    **options: Any,
) -> Worker:
    """An arq worker that runs the same job functions; periodic jobs are arq cron jobs,
    which arq makes unique per tick across every worker."""
    crons = [
        cron(
            _arq_function(p.name, p.function).coroutine,
            name=f"cron:{p.name}",
            minute=set(range(0, 60, p.minutes)),
            second=0,
            run_at_startup=p.at_start,
            unique=True,
        )
        for p in periodic
    ]

    async def on_startup(arq_ctx: dict[Any, Any]) -> None:
        arq_ctx["odr"] = ctx

    return Worker(
        functions=[_arq_function(name, f) for name, f in jobs.items()],
        cron_jobs=crons,
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=on_startup,  # type: ignore[arg-type]  # arq types it as a Protocol
        handle_signals=False,
        **options,
    )
