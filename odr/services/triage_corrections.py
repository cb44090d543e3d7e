"""Staff corrections of the category as labelled examples, and how often triage agreed.

A correction is the ``category_corrected`` event of a case (`Case.correct_category`: the
insurer's staff or the mediator set the category, or confirm it by choosing the same one). Each
is exported (``odr triage-export-corrections``) as one JSON line in the corpus format
(`odr.services.triage_model.parse_lines`): the complaint's text labelled with the category the
staff chose, ready to be passed to ``odr triage-train --extra``. The dashboard compares, per
category, triage's suggestion with the staff's latest choice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.cases import EventKind
from odr.storage.models import CaseEventRow, CaseRow

KIND = EventKind.CATEGORY_CORRECTED.value


async def _latest_corrections(
    s: AsyncSession, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[CaseEventRow, CaseRow]]:
    """The last correction of each corrected case (in the period, when given), oldest first."""
    stmt = (
        select(CaseEventRow, CaseRow)
        .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
        .where(CaseEventRow.kind == KIND)
        .order_by(CaseEventRow.case_id, CaseEventRow.sequence)
    )
    if since is not None:
        stmt = stmt.where(CaseEventRow.at >= since)
    if until is not None:
        stmt = stmt.where(CaseEventRow.at < until)
    latest: dict[int, tuple[CaseEventRow, CaseRow]] = {}
    for event, case in (await s.execute(stmt)).all():
        latest[case.id] = (event, case)
    return sorted(latest.values(), key=lambda pair: (pair[0].at, pair[0].case_id))


async def export_corrections(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[dict[str, Any]]:
    """Every corrected case's text with the category staff chose last, as corpus lines."""
    async with sessionmaker() as s:
        rows = await _latest_corrections(s)
    return [
        {
            "id": f"correction:{case.number}:{event.sequence}",
            "category": event.payload.get("category"),
            "text": case.description,
            "channel": case.channel_kind,
            "suggested_category": (case.triage or {}).get("suggested_category"),
            "previous_category": event.payload.get("previous_category"),
            "corrected_at": event.at.isoformat(),
        }
        for event, case in rows
    ]


async def agreement_by_category(
    s: AsyncSession, since: datetime | None = None, until: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Per category staff chose: how many corrected or confirmed cases triage had suggested
    that category for (``agreed``), of how many (``corrections``), and the rate."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for event, case in await _latest_corrections(s, since, until):
        chosen = str(event.payload.get("category"))
        suggested = (case.triage or {}).get("suggested_category")
        counts[chosen][1] += 1
        counts[chosen][0] += suggested == chosen
    return {
        cat: {"agreed": agreed, "corrections": total, "rate": round(agreed / total, 4)}
        for cat, (agreed, total) in sorted(counts.items())
    }
