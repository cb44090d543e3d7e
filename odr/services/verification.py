"""`odr verify-all`: the whole deployment checked against its own hashes.

- every case's hash chain, from genesis to its head (`odr.domain.ledger.verify_chain`, the
  same check an export bundle's offline verifier makes), with one entry per event, and each
  event of the case's log is the one its chain entry records (`odr.domain.case_chain`);
- every evidence item whose bytes are kept: its chain entry names the same hash, and the bytes
  in the blob store hash to it (streamed; a missing or altered item is named by case number,
  sequence, name and hash);
- every hearing recording in the recordings directory against its recorded hash;
- every daily digest: it is the digest of the heads it lists, and those are the heads the
  chains had at the end of that day.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.case_chain import chain_entry_of
from odr.domain.cases import EventKind
from odr.domain.ledger import EntryKind, body_digest, daily_digest, verify_chain
from odr.services.digests import heads_at
from odr.storage import cases as repo
from odr.storage.blobs import BlobNotFound, BlobStore
from odr.storage.models import CaseEventRow, CaseRow, DailyDigest, HearingRecording

CHUNK = 1024 * 1024
Progress = Callable[[str], None]


@dataclass
class VerifyReport:
    cases: int = 0
    chain_entries: int = 0
    evidence_items: int = 0
    evidence_bytes: int = 0
    recordings: int = 0
    digests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def _hash_blob(store: BlobStore, sha256: str) -> tuple[str, int] | None:
    try:
        stream = await store.open_range(sha256)
    except BlobNotFound:
        return None
    digest, size = hashlib.sha256(), 0
    async with aclosing(stream):
        async for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _hash_file(path: Path) -> tuple[str, int] | None:
    if not path.is_file():
        return None
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def verify_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: BlobStore,
    recordings_dir: Path,
    timezone: str,
    progress: Progress | None = None,
) -> VerifyReport:
    report = VerifyReport()
    say = progress or (lambda _line: None)
    async with sessionmaker() as s:
        cases = (await s.execute(select(CaseRow.id, CaseRow.number).order_by(CaseRow.id))).all()
    hashes: dict[str, tuple[str, int] | None] = {}  # blobs shared by items are read once
    for case_id, number in cases:
        report.cases += 1
        await _verify_case(sessionmaker, store, case_id, number, hashes, report)
    say(f"{report.cases} cases, {report.evidence_items} evidence items checked")
    async with sessionmaker() as s:
        recordings = (
            await s.execute(
                select(HearingRecording.path, HearingRecording.sha256).order_by(HearingRecording.id)
            )
        ).all()
    for path, sha256 in recordings:
        report.recordings += 1
        found = await asyncio.to_thread(_hash_file, recordings_dir / path)
        if found is None:
            report.problems.append(f"recording {path}: missing")
        elif found[0] != sha256:
            report.problems.append(f"recording {path}: altered (expected sha256 {sha256})")
    await _verify_digests(sessionmaker, timezone, report)
    return report


async def _verify_case(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: BlobStore,
    case_id: int,
    number: str,
    hashes: dict[str, tuple[str, int] | None],
    report: VerifyReport,
) -> None:
    async with sessionmaker() as s:
        row = await repo.row_of(s, case_id)
        entries = await repo.chain(s, case_id)
        events = (
            await s.execute(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case_id)
                .order_by(CaseEventRow.sequence)
            )
        ).scalars()
        items, purged, logged = [], set(), []
        for event in events:
            logged.append(repo.event_of(event))
            if event.kind == EventKind.EVIDENCE_ADDED.value:
                items.append((event.sequence, event.payload))
            elif event.kind == EventKind.EVIDENCE_PURGED.value:
                purged |= {int(i["sequence"]) for i in event.payload["items"]}
    report.chain_entries += len(entries)
    check = verify_chain(entries)
    if not check.ok:
        report.problems.append(
            f"case {number}: chain entry {check.first_bad_sequence}: {check.reason} "
            f"({check.detail})"
        )
    elif len(entries) != row.version:
        report.problems.append(
            f"case {number}: the chain has {len(entries)} entries for {row.version} events"
        )
    by_sequence = {e.sequence: e for e in entries}
    for logged_event in logged:  # the case's log says what its chain says
        kind, body, _visibility = chain_entry_of(logged_event)
        recorded = by_sequence.get(logged_event.sequence)
        if recorded is None or recorded.kind != kind or body_digest(body) != recorded.body_sha256:
            report.problems.append(
                f"case {number}: event {logged_event.sequence} ({logged_event.kind}) is not "
                "what its chain entry records"
            )
    for sequence, payload in items:
        name, sha256 = payload.get("name", ""), payload["sha256"]
        what = f"case {number}: evidence {sequence} {name!r} (sha256 {sha256})"
        entry = by_sequence.get(sequence)
        if (
            entry is None
            or entry.kind != EntryKind.EVIDENCE
            or (entry.body is not None and entry.body.get("sha256") != sha256)
        ):
            report.problems.append(f"{what}: not the item its chain entry records")
        if sequence in purged:
            continue  # deleted under the retention rule, and the deletion is in the chain
        report.evidence_items += 1
        if sha256 not in hashes:
            hashes[sha256] = await _hash_blob(store, sha256)
        found = hashes[sha256]
        if found is None:
            report.problems.append(f"{what}: missing from the blob store")
        elif found[0] != sha256:
            report.problems.append(f"{what}: altered (its bytes hash to {found[0]})")
        else:
            report.evidence_bytes += found[1]


async def _verify_digests(
    sessionmaker: async_sessionmaker[AsyncSession], timezone: str, report: VerifyReport
) -> None:
    zone = ZoneInfo(timezone)
    async with sessionmaker() as s:
        digests = (await s.execute(select(DailyDigest).order_by(DailyDigest.day))).scalars().all()
        for row in digests:
            report.digests += 1
            day = row.day.isoformat()
            try:
                recomputed = daily_digest(row.day, row.heads)
            except ValueError as error:
                report.problems.append(f"digest {day}: unreadable heads ({error})")
                continue
            if recomputed != row.digest:
                report.problems.append(f"digest {day}: does not match the heads it lists")
            end = datetime.combine(row.day + timedelta(days=1), time(), tzinfo=zone)
            heads = await heads_at(s, end)
            for case_id in sorted(set(heads) | set(row.heads), key=int):
                if heads.get(case_id) != row.heads.get(case_id):
                    report.problems.append(
                        f"digest {day}: case {case_id}'s head is not the one the chain had"
                    )
