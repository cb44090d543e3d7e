"""Background work: one set of job functions, two runners.

With Redis configured, arq runs the jobs (`odr worker`, any number of workers); on the
embedded default, an in-process runner inside `odr serve` runs the same functions. Jobs must be
idempotent: a job that must take effect once claims its key with `claim_once` first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import IntegrityError

from odr.storage.db import UnitOfWork
from odr.storage.models import JobRun

if TYPE_CHECKING:  # the composition root imports every service; jobs only need the type
    from odr.bootstrap import Services


@dataclass(frozen=True)
class JobContext:
    """What a job runs with: the process's services, as `odr.bootstrap` built them."""

    services: Services

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.services.sessionmaker)

    def now(self) -> datetime:
        return self.services.clock()


JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Periodic:
    """A job run every ``minutes`` minutes (aligned on the clock), once across all workers."""

    function: JobFunction
    minutes: int = 1
    at_start: bool = False  # also once when a worker starts (the in-process runner always)

    @property
    def name(self) -> str:
        return self.function.__name__


class JobQueue(Protocol):
    async def enqueue(self, name: str, /, **kwargs: Any) -> None: ...


async def claim_once(ctx: JobContext, key: str, job: str) -> bool:
    """Record that ``key`` is done; False when another run already did it.

    Call it in the same unit of work as the job's effect would be ideal; for effects outside
    the database (an e-mail), claim first, so a crash errs towards not repeating."""
    async with ctx.uow() as uow:
        uow.session.add(JobRun(key=key, job=job, finished_at=ctx.now()))
        try:
            await uow.commit()
        except IntegrityError:
            return False
    return True
