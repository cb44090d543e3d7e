"""Storing cases: the row and its snapshot, the event log, serial numbers, the LSH index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Role
from odr.domain.authz import Visibility
from odr.domain.case_chain import chain_entry_of
from odr.domain.case_snapshot import restore, snapshot
from odr.domain.cases import (
    CLOCK_STATES,
    Case,
    CaseEvent,
    CaseState,
    EventKind,
    format_case_number,
)
from odr.domain.deadlines import next_action_at
from odr.domain.errors import Conflict, NotFound
from odr.domain.ledger import GENESIS, ChainEntry, EntryKind, append
from odr.domain.numbers import MAX_ID
from odr.storage.models import (
    CaseEventRow,
    CasePolicy,
    CaseRow,
    CaseSerial,
    ChainEntryRow,
    ComplaintFingerprint,
    NearDuplicateBand,
)


async def next_number(session: AsyncSession, year: int) -> str:
    """Reserve the next readable number of ``year``. The row update serialises concurrent
    intakes on PostgreSQL (row lock) and SQLite (database lock)."""
    for _ in range(3):
        result = await session.execute(
            update(CaseSerial)
            .where(CaseSerial.year == year)
            .values(last=CaseSerial.last + 1)
            .returning(CaseSerial.last)
        )
        serial = result.scalar_one_or_none()
        if serial is not None:
            return format_case_number(year, serial)
        try:
            async with session.begin_nested():
                await session.execute(insert(CaseSerial).values(year=year, last=1))
            return format_case_number(year, 1)
        except IntegrityError:
            continue  # another intake created the year's row first
    raise Conflict("Could not reserve a case number; please try again.", code="busy")


def _columns(case: Case, now: datetime) -> dict[str, object]:
    return {
        "state": case.state.value,
        "category": case.category.value,
        "mediator_id": case.mediator_id,
        "centre_id": case.centre_id,
        "care_priority": case.care_priority,
        "risk_score": case.risk_score,
        "due_at": case.clock.due_at if case.clock.running else None,
        "next_action_at": next_action_at(case.clock, now) if case.state in CLOCK_STATES else None,
        "snapshot": snapshot(case),
        "version": case.version,
        "updated_at": now,
    }


def _event_row(event: CaseEvent) -> CaseEventRow:
    return CaseEventRow(
        case_id=event.case_id,
        sequence=event.sequence,
        kind=str(event.kind),
        actor_user_id=event.actor_user_id,
        actor_role=str(event.actor_role),
        actor_channel_id=event.actor_channel_id,
        at=event.at,
        from_state=str(event.from_state) if event.from_state else None,
        to_state=str(event.to_state),
        payload=event.payload_dict(),
    )


async def reserve_id(session: AsyncSession, row: CaseRow) -> int:
    session.add(row)
    await session.flush()
    return row.id


async def save(session: AsyncSession, case: Case, expected_version: int, now: datetime) -> None:
    """Write the case's new events and its row; `Conflict` when someone else changed the
    case since it was loaded (its version moved)."""
    result = await session.execute(
        update(CaseRow)
        .where(CaseRow.id == case.id, CaseRow.version == expected_version)
        .values(**_columns(case, now))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "The case changed while you were working on it. Please reload and try again.",
            code="stale_case",
        )
    session.add_all(_event_row(e) for e in case.events)
    await _extend_chain(session, case, expected_version)
    await session.flush()
    case.events.clear()


async def _extend_chain(session: AsyncSession, case: Case, before: int) -> None:
    """Append one chain entry per new event. A case whose earlier events have no entries yet
    (filed before the chain existed) gets them first, from its stored log."""
    last = (
        await session.execute(
            select(ChainEntryRow)
            .where(ChainEntryRow.case_id == case.id)
            .order_by(ChainEntryRow.sequence.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    head, done = (last.hash, last.sequence) if last else (GENESIS, 0)
    if done < before:
        for row in await events(session, case.id):
            if done < row.sequence <= before:
                head = _add_entry(session, head, event_of(row))
    for event in case.events:
        head = _add_entry(session, head, event)


def _add_entry(session: AsyncSession, head: str, event: CaseEvent) -> str:
    kind, body, visibility = chain_entry_of(event)
    entry = append(head, event.sequence, kind, body, visibility=visibility)
    session.add(
        ChainEntryRow(
            case_id=event.case_id,
            sequence=entry.sequence,
            kind=str(entry.kind),
            body=entry.body_dict() or {},
            body_sha256=entry.body_sha256,
            visibility=str(entry.visibility),
            previous_hash=entry.previous_hash,
            hash=entry.hash,
            at=event.at,
        )
    )
    return entry.hash


def event_of(row: CaseEventRow) -> CaseEvent:
    return CaseEvent(
        case_id=row.case_id,
        sequence=row.sequence,
        kind=EventKind(row.kind),
        actor_user_id=row.actor_user_id,
        actor_role=Role(row.actor_role),
        actor_channel_id=row.actor_channel_id,
        at=row.at,
        from_state=CaseState(row.from_state) if row.from_state else None,
        to_state=CaseState(row.to_state),
        payload=row.payload,
    )


async def chain(session: AsyncSession, case_id: int) -> list[ChainEntry]:
    stmt = (
        select(ChainEntryRow)
        .where(ChainEntryRow.case_id == case_id)
        .order_by(ChainEntryRow.sequence)
    )
    return [
        ChainEntry(
            sequence=r.sequence,
            kind=EntryKind(r.kind),
            body=r.body,
            previous_hash=r.previous_hash,
            hash=r.hash,
            body_sha256=r.body_sha256,
            visibility=Visibility(r.visibility),
        )
        for r in (await session.execute(stmt)).scalars()
    ]


async def row_of(session: AsyncSession, case_id: int) -> CaseRow:
    row = await session.get(CaseRow, case_id) if 0 < case_id <= MAX_ID else None
    if row is None:
        raise NotFound("No such case.", code="case_not_found")
    return row


async def load(session: AsyncSession, case_id: int) -> tuple[CaseRow, Case]:
    row = await row_of(session, case_id)
    return row, restore(row.snapshot)


async def load_by_number(session: AsyncSession, number: str) -> tuple[CaseRow, Case]:
    row = (
        await session.execute(select(CaseRow).where(CaseRow.number == number))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("No such case.", code="case_not_found")
    return row, restore(row.snapshot)


async def events(session: AsyncSession, case_id: int) -> list[CaseEventRow]:
    stmt = (
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.sequence)
    )
    return list((await session.execute(stmt)).scalars())


async def events_from(
    session: AsyncSession, case_id: int, edge: int | None, forward: bool, limit: int
) -> list[CaseEventRow]:
    """Up to ``limit`` of the case's events after sequence ``edge`` (``forward``, ascending)
    or before it (descending); from the start when ``edge`` is None."""
    stmt = select(CaseEventRow).where(CaseEventRow.case_id == case_id)
    if forward:
        if edge is not None:
            stmt = stmt.where(CaseEventRow.sequence > edge)
        stmt = stmt.order_by(CaseEventRow.sequence)
    else:
        if edge is not None:
            stmt = stmt.where(CaseEventRow.sequence < edge)
        stmt = stmt.order_by(CaseEventRow.sequence.desc())
    return list((await session.execute(stmt.limit(limit))).scalars())


async def events_at(
    session: AsyncSession, case_id: int, sequences: Iterable[int]
) -> list[CaseEventRow]:
    wanted = sorted(set(sequences))
    if not wanted:
        return []
    stmt = select(CaseEventRow).where(
        CaseEventRow.case_id == case_id, CaseEventRow.sequence.in_(wanted)
    )
    return list((await session.execute(stmt)).scalars())


async def open_cases_about(
    session: AsyncSession,
    consumer_id: int,
    insurer_id: int,
    policies: Iterable[str],
    open_states: Iterable[str],
) -> dict[int, list[str]]:
    """The consumer's open cases against the insurer about any of ``policies`` (normalised
    policy numbers), oldest first, with all their policies."""
    wanted = list(set(policies))
    if not wanted:
        return {}
    hits = (
        select(CasePolicy.case_id)
        .join(CaseRow, CaseRow.id == CasePolicy.case_id)
        .where(
            CaseRow.consumer_id == consumer_id,
            CaseRow.insurer_id == insurer_id,
            CaseRow.state.in_(list(open_states)),
            CasePolicy.policy_no.in_(wanted),
        )
    )
    stmt = (
        select(CasePolicy.case_id, CasePolicy.policy_no)
        .where(CasePolicy.case_id.in_(hits))
        .order_by(CasePolicy.case_id)
    )
    found: dict[int, list[str]] = {}
    for case_id, policy in (await session.execute(stmt)).all():
        found.setdefault(case_id, []).append(policy)
    return found


def add_policies(session: AsyncSession, case_id: int, policies: Iterable[str]) -> None:
    session.add_all(CasePolicy(case_id=case_id, policy_no=p) for p in sorted(set(policies)))


async def count_by_consumer(session: AsyncSession, consumer_id: int) -> int:
    stmt = select(func.count()).select_from(CaseRow).where(CaseRow.consumer_id == consumer_id)
    return int((await session.execute(stmt)).scalar_one())


# --- the near-duplicate index -------------------------------------------------------------------


async def index_fingerprint(
    session: AsyncSession, case_id: int, signature: bytes, keys: Sequence[tuple[int, int]]
) -> None:
    session.add(ComplaintFingerprint(case_id=case_id, signature=signature))
    if keys:
        await session.execute(
            insert(NearDuplicateBand),
            [{"band": band, "bucket": bucket, "case_id": case_id} for band, bucket in keys],
        )


async def candidates(
    session: AsyncSession, keys: Sequence[tuple[int, int]], limit: int = 50
) -> dict[int, bytes]:
    """The complaints sharing the most LSH buckets with ``keys`` (at most ``limit``: the more
    buckets two texts share, the more similar they are), with their signatures."""
    if not keys:
        return {}
    match = tuple_(NearDuplicateBand.band, NearDuplicateBand.bucket).in_(list(keys))
    hits = func.count().label("hits")
    ranked = (
        select(NearDuplicateBand.case_id, hits)
        .where(match)
        .group_by(NearDuplicateBand.case_id)
        .order_by(hits.desc(), NearDuplicateBand.case_id.desc())
        .limit(limit)
        .subquery()
    )
    stmt = select(ComplaintFingerprint.case_id, ComplaintFingerprint.signature).join(
        ranked, ranked.c.case_id == ComplaintFingerprint.case_id
    )
    return {cid: sig for cid, sig in (await session.execute(stmt)).all()}


async def owners(
    session: AsyncSession, case_ids: Iterable[int]
) -> dict[int, tuple[int, frozenset[str]]]:
    """Each case's consumer and (normalised) policy numbers."""
    ids = list(case_ids)
    if not ids:
        return {}
    found: dict[int, tuple[int, set[str]]] = {}
    rows = await session.execute(select(CaseRow.id, CaseRow.consumer_id).where(CaseRow.id.in_(ids)))
    for cid, consumer in rows.all():
        found[cid] = (consumer, set())
    policies = await session.execute(
        select(CasePolicy.case_id, CasePolicy.policy_no).where(CasePolicy.case_id.in_(ids))
    )
    for cid, policy in policies.all():
        if cid in found:
            found[cid][1].add(policy)
    return {cid: (consumer, frozenset(p)) for cid, (consumer, p) in found.items()}


async def descriptions(session: AsyncSession, case_ids: Iterable[int]) -> dict[int, str]:
    ids = list(case_ids)
    if not ids:
        return {}
    stmt = select(CaseRow.id, CaseRow.description).where(CaseRow.id.in_(ids))
    return {cid: text for cid, text in (await session.execute(stmt)).all()}
