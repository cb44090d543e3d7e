"""The job functions. Each takes a `JobContext` first and is safe to run twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from odr.jobs import JobContext, JobFunction, JobQueue, Periodic
from odr.services import digests, outbox, warnings
from odr.services.evidence import Item
from odr.services.evidence_text import readable
from odr.storage.models import WebSession


async def purge_expired_sessions(ctx: JobContext) -> int:
    """Delete database sessions past their expiry (Redis expires its own), the rows of login
    sessions ended or expired, and the rows of one-time codes older than a day."""
    async with ctx.uow() as uow:
        result = await uow.session.execute(
            delete(WebSession).where(WebSession.expires_at <= ctx.now())
        )
        await uow.commit()
    purged = int(result.rowcount or 0)  # type: ignore[attr-defined]
    purged += await ctx.services.login_sessions.purge(ctx.now())
    return purged + await ctx.services.codes.purge()  # one-time codes older than a day


async def run_case_clock(ctx: JobContext, now: str | None = None) -> int:
    """Record the reminders and escalations that are due (each exactly once)."""
    moment = datetime.fromisoformat(now) if now else ctx.now()
    return await ctx.services.cases.run_clock(moment)


async def send_hearing_reminders(ctx: JobContext, now: str | None = None) -> int:
    """Send the hearing reminders that are due (24 h and 15 min before; each exactly once)."""
    moment = datetime.fromisoformat(now) if now else ctx.now()
    return await ctx.services.scheduling.send_reminders(moment)


async def run_outcome_clock(ctx: JobContext, now: str | None = None) -> int:
    """Record overdue-payment reminders and escalations and judicial-confirmation window
    reminders that are due (each exactly once)."""
    moment = datetime.fromisoformat(now) if now else ctx.now()
    return await ctx.services.outcome_clock.run_clock(moment)


async def send_outbox(ctx: JobContext) -> int:
    """Send the e-mail and SMS waiting in the outbox."""
    return await outbox.send_due(ctx.services.sessionmaker, ctx.services.senders, ctx.now())


async def detect_early_warnings(ctx: JobContext) -> int:
    """Look for clusters of similar complaints (early warnings for supervisors)."""
    services = ctx.services
    return await warnings.detect_early_warnings(
        services.sessionmaker, services.cases.triage_rules, ctx.now()
    )


async def record_daily_digest(ctx: JobContext) -> str:
    """Keep yesterday's digest of every case's chain head (idempotent)."""
    services = ctx.services
    zone = ZoneInfo(services.settings.timezone)
    yesterday = ctx.now().astimezone(zone).date() - timedelta(days=1)
    return await digests.record_digest(
        services.sessionmaker, yesterday, services.settings.timezone, ctx.now()
    )


async def apply_retention(ctx: JobContext) -> int:
    """Delete evidence bytes of cases closed longer ago than the retention period."""
    services = ctx.services
    return await services.evidence.apply_retention(ctx.now(), services.settings.retention_years)


async def purge_stale_uploads(ctx: JobContext) -> int:
    """Remove temporary files and abandoned resumable uploads that crashed work left."""
    return await ctx.services.evidence.purge_stale_uploads(ctx.now())


async def read_evidence_text(
    ctx: JobContext, case_id: int | None = None, sequence: int | None = None
) -> str:
    """Read the text of one evidence item (OCR or its text layer), store it and the redacted
    copy; once per item. Without an item: every item whose text was never read (an upload
    whose job was lost)."""
    texts = ctx.services.evidence_text
    if case_id is not None and sequence is not None:
        return await texts.read(case_id, sequence)
    pending = await texts.pending()
    for pending_case, pending_sequence in pending:
        await texts.read(pending_case, pending_sequence)
    return f"{len(pending)} read"


def read_text_after_upload(queue: JobQueue) -> Callable[[int, Item], Awaitable[None]]:
    """The hook `EvidenceService.added` calls: an image or a PDF is queued for reading (the
    request that added it does not wait)."""

    async def hook(case_id: int, item: Item) -> None:
        if readable(item.media_type):
            await queue.enqueue("read_evidence_text", case_id=case_id, sequence=item.sequence)

    return hook


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
    "purge_stale_uploads": purge_stale_uploads,
    "read_evidence_text": read_evidence_text,
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
    Periodic(purge_stale_uploads, minutes=15, at_start=True),
    Periodic(read_evidence_text, minutes=5),
)
