"""What the services tell `odr.metrics`: counts after each case change (a `CaseService`
subscriber) and the gauges computed when metrics are scraped (cheap grouped counts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

from odr.domain.cases import CLOCK_STATES, CaseState, EventKind
from odr.metrics import Metrics, Probe
from odr.services.cases import CaseChange, Subscriber
from odr.storage.models import CaseRow


def count_case_changes(metrics: Metrics) -> Subscriber:
    """Complaints filed (by channel kind), triaged (by category, care priority), deadlines
    passed (by stage): counted from the events of each committed change."""

    async def count(change: CaseChange) -> None:
        for event in change.events:
            if event.kind is EventKind.FILED:
                payload = event.payload_dict()
                metrics.intake.labels(str(payload.get("channel_kind", ""))).inc()
            elif event.kind is EventKind.TRIAGED:
                payload = event.payload_dict()
                care = "yes" if payload.get("care_priority") else "no"
                metrics.triage.labels(str(payload.get("category", "")), care).inc()
            elif event.kind is EventKind.ESCALATED:
                metrics.escalations.labels(str(event.payload_dict().get("stage", ""))).inc()

    return count


def case_gauges(
    sessionmaker: async_sessionmaker[AsyncSession],
    metrics: Metrics,
    clock: Callable[[], datetime],
) -> Probe:
    """Open cases by state and overdue cases, as two grouped counts when scraped."""
    open_states = [s.value for s in CaseState if s is not CaseState.CLOSED]
    clock_states = [s.value for s in CLOCK_STATES]

    async def cases_by_state() -> None:
        async with sessionmaker() as s:
            rows = (
                await s.execute(
                    select(CaseRow.state, func.count())
                    .where(CaseRow.state.in_(open_states))
                    .group_by(CaseRow.state)
                )
            ).all()
            overdue = await s.scalar(
                select(func.count())
                .select_from(CaseRow)
                .where(CaseRow.state.in_(clock_states), CaseRow.due_at < clock())
            )
        counts = {state: int(n) for state, n in rows}
        for state in open_states:
            metrics.cases_open.labels(state).set(counts.get(state, 0))
        metrics.cases_overdue.set(int(overdue or 0))

    return cases_by_state


class PoolCollector:
    """The database pool's connections (in use, idle, overflow) when scraped."""

    def __init__(self, pool: object) -> None:
        self.pool = pool

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "odr_db_pool_connections", "Database pool connections, by use", labels=["use"]
        )
        pool = self.pool
        if isinstance(pool, QueuePool):
            family.add_metric(["in_use"], pool.checkedout())
            family.add_metric(["idle"], pool.checkedin())
            family.add_metric(["overflow"], max(pool.overflow(), 0))
            family.add_metric(["size"], pool.size())
        yield family
