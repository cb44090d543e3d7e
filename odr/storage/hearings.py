"""Storing hearings: a `Hearing` to and from its `HearingRow`, with the version check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.authz import CaseScope
from odr.domain.case_snapshot import restore
from odr.domain.errors import Conflict, NotFound
from odr.domain.hearings import OPEN_STATES, Hearing, HearingState
from odr.domain.numbers import MAX_ID
from odr.storage.models import CaseRow, HearingRow


def _moment(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def hearing_of(row: HearingRow, scope: CaseScope) -> Hearing:
    return Hearing(
        id=row.id,
        case_id=row.case_id,
        scope=scope,
        mediator_id=row.mediator_id,
        state=HearingState(row.state),
        slots=[_moment(s) for s in row.slots],
        created_at=row.created_at,
        choices={int(uid): [_moment(s) for s in picked] for uid, picked in row.choices.items()},
        starts_at=row.starts_at,
        duration_minutes=row.duration_minutes,
        reminders_sent=set(row.reminders_sent),
        reason=row.reason,
        started_at=row.started_at,
        ended_at=row.ended_at,
        minutes=row.minutes,
        minutes_updated_at=row.minutes_updated_at,
        sequence=row.sequence,
        version=row.version,
    )


def _columns(hearing: Hearing) -> dict[str, Any]:
    return {
        "state": hearing.state.value,
        "slots": [_iso(s) for s in hearing.slots],
        "choices": {str(uid): [_iso(s) for s in picked] for uid, picked in hearing.choices.items()},
        "starts_at": hearing.starts_at,
        "duration_minutes": hearing.duration_minutes,
        "reminders_sent": sorted(hearing.reminders_sent),
        "reason": hearing.reason,
        "started_at": hearing.started_at,
        "ended_at": hearing.ended_at,
        "minutes": hearing.minutes,
        "minutes_updated_at": hearing.minutes_updated_at,
        "sequence": hearing.sequence,
    }


async def add(session: AsyncSession, hearing: Hearing) -> int:
    """Insert a new hearing; sets and returns its id."""
    row = HearingRow(
        case_id=hearing.case_id,
        mediator_id=hearing.mediator_id,
        created_at=hearing.created_at,
        **_columns(hearing),
    )
    session.add(row)
    await session.flush()
    hearing.id = row.id
    hearing.version = row.version
    return row.id


async def save(session: AsyncSession, hearing: Hearing) -> None:
    """Write the hearing back; `Conflict` ``stale_hearing`` when someone else changed it since
    it was loaded (its version moved)."""
    assert hearing.id is not None
    result = await session.execute(
        update(HearingRow)
        .where(HearingRow.id == hearing.id, HearingRow.version == hearing.version)
        .values(**_columns(hearing), version=hearing.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "The hearing changed while you were working on it. Please reload and try again.",
            code="stale_hearing",
        )
    hearing.version += 1


async def _scope(session: AsyncSession, case_id: int) -> CaseScope:
    row = await session.get(CaseRow, case_id)
    if row is None:
        raise NotFound("No such case.", code="case_not_found")
    return restore(row.snapshot).scope()


async def load(session: AsyncSession, hearing_id: int) -> Hearing:
    """The hearing with its case's current scope; `NotFound` when there is none (callers
    authorise before telling anyone anything about it)."""
    row = await session.get(HearingRow, hearing_id) if 0 < hearing_id <= MAX_ID else None
    if row is None:
        raise NotFound("No such hearing.", code="hearing_not_found")
    await session.refresh(row)
    return hearing_of(row, await _scope(session, row.case_id))


async def of_case(session: AsyncSession, case_id: int, scope: CaseScope) -> list[Hearing]:
    stmt = select(HearingRow).where(HearingRow.case_id == case_id).order_by(HearingRow.id)
    return [hearing_of(r, scope) for r in (await session.execute(stmt)).scalars()]


async def open_hearing_of(session: AsyncSession, case_id: int) -> int | None:
    stmt = select(HearingRow.id).where(
        HearingRow.case_id == case_id, HearingRow.state.in_([s.value for s in OPEN_STATES])
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def scheduled_starting_before(session: AsyncSession, until: datetime) -> list[int]:
    """Scheduled hearings that start before ``until`` (candidates for reminders)."""
    stmt = (
        select(HearingRow.id)
        .where(
            HearingRow.state == HearingState.SCHEDULED.value,
            HearingRow.starts_at.is_not(None),
            HearingRow.starts_at <= until,
        )
        .order_by(HearingRow.starts_at)
        .limit(500)
    )
    return list((await session.execute(stmt)).scalars())
