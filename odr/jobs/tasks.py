"""The job functions. Each takes a `JobContext` first and is safe to run twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from odr.jobs import JobContext, JobFunction, Periodic
from odr.services import digests, outbox, warnings
from odr.services.cases import CaseService
from odr.services.evidence import EvidenceService
from odr.storage.models import WebSession


async def purge_expired_sessions(ctx: JobContext) -> int:
    """Delete database sessions past their expiry (Redis expires its own)."""
    async with ctx.uow() as uow:
        result = await uow.session.execute(
            delete(WebSession).where(WebSession.expires_at <= ctx.now())
        )
        await uow.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def run_case_clock(ctx: JobContext, now: str | None = None) -> int:
    """Record the reminders and escalations that are due (each exactly once)."""
    moment = datetime.fromisoformat(now) if now else ctx.now()
    service: CaseService = ctx.services["cases"]
    return await service.run_clock(moment)


async def send_hearing_reminders(ctx: JobContext, now: str | None = None) -> int:
    """Send the hearing reminders that are due (24 h and 15 min before; each exactly once)."""
    from odr.services.scheduling import SchedulingService, scheduling_service

    moment = datetime.fromisoformat(now) if now else ctx.now()
    service: SchedulingService | None = ctx.services.get("scheduling")
    if service is None:  # a worker started without it: built from the case service
        service = scheduling_service(ctx.settings, ctx.services["cases"])
        ctx.services["scheduling"] = service
    return await service.send_reminders(moment)


async def run_outcome_clock(ctx: JobContext, now: str | None = None) -> int:
    """Record overdue-payment reminders and escalations and judicial-confirmation window
    reminders that are due (each exactly once)."""
    from odr.services.outcomes import OutcomeService, load_rules

    moment = datetime.fromisoformat(now) if now else ctx.now()
    service: OutcomeService | None = ctx.services.get("outcomes")
    if service is None:  # a worker started without it: built from the case service
        service = OutcomeService(
            ctx.services["cases"], ctx.services["evidence"], None, load_rules()
        )
        ctx.services["outcomes"] = service
    return await service.run_clock(moment)


async def send_outbox(ctx: JobContext) -> int:
    """Send the e-mail and SMS waiting in the outbox."""
    return await outbox.send_due(ctx.sessionmaker, ctx.services["senders"], ctx.now())


async def detect_early_warnings(ctx: JobContext) -> int:
    """Look for clusters of similar complaints (early warnings for supervisors)."""
    service: CaseService = ctx.services["cases"]
    return await warnings.detect_early_warnings(ctx.sessionmaker, service.triage_rules, ctx.now())


async def record_daily_digest(ctx: JobContext) -> str:
    """Keep yesterday's digest of every case's chain head (idempotent)."""
    zone = ZoneInfo(ctx.settings.timezone)
    yesterday = ctx.now().astimezone(zone).date() - timedelta(days=1)
    return await digests.record_digest(
        ctx.sessionmaker, yesterday, ctx.settings.timezone, ctx.now()
    )


async def apply_retention(ctx: JobContext) -> int:
    """Delete evidence bytes of cases closed longer ago than the retention period."""
    service: EvidenceService = ctx.services["evidence"]
    return await service.apply_retention(ctx.now(), ctx.settings.retention_years)


#: Jobs that can be enqueued by name.
JOBS: dict[str, JobFunction] = {
    "purge_expired_sessions": purge_expired_sessions,
    "run_case_clock": run_case_clock,
    "send_hearing_reminders": send_hearing_reminders,
    "run_outcome_clock": run_outcome_clock,
    "send_outbox": send_outbox,
    "detect_early_warnings": detect_early_warnings,
    "record_daily_digest": record_daily_digest,
    "apply_retention": apply_retention,
}

#: Jobs the runners start on their own.
PERIODIC: tuple[Periodic, ...] = (
    Periodic(purge_expired_sessions, minutes=10),
    Periodic(run_case_clock, minutes=1),
    Periodic(send_hearing_reminders, minutes=1),
    Periodic(run_outcome_clock, minutes=5),
    Periodic(send_outbox, minutes=1),
    Periodic(detect_early_warnings, minutes=10),
    Periodic(record_daily_digest, minutes=30),
    Periodic(apply_retention, minutes=60),
)
