"""The job functions. Each takes a `JobContext` first and is safe to run twice."""

from __future__ import annotations

from sqlalchemy import delete

from odr.jobs import JobContext, JobFunction, Periodic
from odr.storage.models import WebSession


async def purge_expired_sessions(ctx: JobContext) -> int:
    """Delete database sessions past their expiry (Redis expires its own)."""
    async with ctx.uow() as uow:
        result = await uow.session.execute(
            delete(WebSession).where(WebSession.expires_at <= ctx.now())
        )
        await uow.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


#: Jobs that can be enqueued by name.
JOBS: dict[str, JobFunction] = {
    "purge_expired_sessions": purge_expired_sessions,
}

#: Jobs the runners start on their own.
PERIODIC: tuple[Periodic, ...] = (Periodic(purge_expired_sessions, minutes=10),)
