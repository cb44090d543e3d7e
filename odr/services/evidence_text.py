"""The text of evidence: read in the background after an upload, searched across a case,
redacted for the other side, and flagged for the mediator.

`EvidenceTextService.read` is the job (`odr.jobs.tasks.read_evidence_text`): it reads an image
or a PDF with `odr.services.ocr.TextReader` (out of process, bounded), stores the text and boxes
of each page, stores the redacted copy when personal numbers were found and records the
redaction in the case's log and chain, all in one unit of work. It runs once per item (a row
in ``evidence_texts`` says it ran; a second run finds it and stops). A failure stores
"unavailable" and leaves the item as it is.

Who sees which copy is `odr.domain.evidence_text.copy_for`, applied to downloads by
`EvidenceService.open_item`; the text an actor is shown is masked the same way when they get the
redacted copy, and search only finds what they are shown.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import tomllib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor
from odr.domain.authz import Action, CaseScope, authorize, is_allowed, relations
from odr.domain.case_snapshot import restore
from odr.domain.cases import EventKind
from odr.domain.errors import Conflict
from odr.domain.evidence_flags import MAX_FLAGS, Flag, FlagRules, find_flags
from odr.domain.evidence_text import (
    MAX_HITS,
    Copy,
    PageText,
    TextLine,
    TextStatus,
    copy_for,
    occurrences,
    page_hits,
    search_query,
)
from odr.domain.masking import mask_personal_numbers
from odr.services.bus import Bus
from odr.services.evidence import EvidenceService, Item
from odr.services.evidence import _item as item_of_row
from odr.services.ocr import TextReader, Unreadable
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import (
    CaseEventRow,
    EvidencePage,
    EvidenceText,
    HearingMessage,
    HearingRow,
)

log = logging.getLogger("odr.evidence_text")

#: The media whose text is read (the others have none to read: audio, video, text, Word).
READABLE = ("image/", "application/pdf")
#: A redacted copy is at most this large (a rendered PDF of many pages).
MAX_COPY_BYTES = 512 * 1024 * 1024
RECORD_ATTEMPTS = 8
PACKAGED_FLAGS = "data/evidence_flags.toml"
STAFF = ("mediator", "centre_lead", "supervisor")


def readable(media_type: str) -> bool:
    return media_type.startswith(READABLE)


def load_flag_rules(path: str | Path | None = None) -> FlagRules:
    """The packaged flag rules, or the file at ``path`` instead."""
    if path is None:
        return packaged_flag_rules()
    with Path(path).open("rb") as fh:
        return FlagRules.from_mapping(tomllib.load(fh))


@cache
def packaged_flag_rules() -> FlagRules:
    raw = resources.files("odr").joinpath(PACKAGED_FLAGS).read_text(encoding="utf-8")
    return FlagRules.from_mapping(tomllib.loads(raw))


@dataclass(frozen=True)
class TextView:
    """An item's text as one reader is shown it."""

    sequence: int
    status: TextStatus
    method: str
    reason: str
    pages: tuple[PageText, ...]
    pages_total: int
    copy: Copy  # the copy the reader gets by default
    may_switch: bool  # the reader may ask for the other copy
    redacted: bool  # a redacted copy exists
    regions: tuple[dict[str, Any], ...]  # what was blacked out (uploader and staff only)

    def public(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "status": str(self.status),
            "method": self.method,
            "reason": self.reason,
            "pages_total": self.pages_total,
            "copy": str(self.copy),
            "may_switch": self.may_switch,
            "redacted": self.redacted,
            "redactions": list(self.regions),
            "pages": [
                {
                    "page": p.number,
                    "width": p.width,
                    "height": p.height,
                    "lines": [{"text": line.text, "box": list(line.box)} for line in p.lines],
                }
                for p in self.pages
            ],
        }


@dataclass(frozen=True)
class Hit:
    """One place a search found its phrase."""

    source: str  # evidence | message | chat | minutes
    excerpt: str
    sequence: int | None = None  # the evidence item or the case event
    page: int | None = None
    box: tuple[int, int, int, int] | None = None
    hearing_id: int | None = None
    at: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "excerpt": self.excerpt,
            "sequence": self.sequence,
            "page": self.page,
            "box": list(self.box) if self.box else None,
            "hearing_id": self.hearing_id,
            "at": self.at,
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    more: bool  # there were more than `MAX_HITS`

    def public(self) -> dict[str, Any]:
        return {"query": self.query, "hits": [h.public() for h in self.hits], "more": self.more}


def _masked(page: PageText) -> PageText:
    lines = tuple(TextLine(mask_personal_numbers(li.text).text, li.box) for li in page.lines)
    return PageText(page.number, page.width, page.height, lines)


def _page(row: EvidencePage) -> PageText:
    return PageText(row.page, row.width, row.height, tuple(TextLine.of(li) for li in row.lines))


def _like(query: str) -> str:
    """A LIKE pattern at least as wide as ``query`` (its own wildcards match one character:
    the exact test is made afterwards)."""
    return "%" + query.replace("\\", "_").replace("%", "_") + "%"


@dataclass
class EvidenceTextService:
    sessionmaker: async_sessionmaker[AsyncSession]
    evidence: EvidenceService
    bus: Bus
    reader: TextReader
    flag_rules: FlagRules = field(default_factory=packaged_flag_rules)
    redact_for_mediator: bool = False
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _running: dict[tuple[int, int], asyncio.Future[str]] = field(default_factory=dict)

    # -- the job -------------------------------------------------------------------------------

    async def pending(self, limit: int = 100) -> list[tuple[int, int]]:
        """Items of readable media whose text was not read yet (oldest first)."""
        async with self.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(CaseEventRow.case_id, CaseEventRow.sequence, CaseEventRow.payload)
                    .where(CaseEventRow.kind == EventKind.EVIDENCE_ADDED.value)
                    .where(
                        or_(
                            CaseEventRow.payload["media_type"].as_string().like("image/%"),
                            CaseEventRow.payload["media_type"].as_string().like("application/pdf%"),
                        )
                    )
                    .where(
                        ~select(EvidenceText.case_id)
                        .where(
                            EvidenceText.case_id == CaseEventRow.case_id,
                            EvidenceText.sequence == CaseEventRow.sequence,
                        )
                        .exists()
                    )
                    .order_by(CaseEventRow.id)
                    .limit(limit)
                )
            ).all()
        return [(c, q) for c, q, p in rows if readable(str(p.get("media_type", "")))]

    async def read(self, case_id: int, sequence: int) -> str:
        """Read item ``sequence`` of the case (once); returns the text's status. A second call
        while the first runs in this process waits for it (another process's run finds the
        row written and leaves it)."""
        key = (case_id, sequence)
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._read(case_id, sequence))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)

    async def _read(self, case_id: int, sequence: int) -> str:
        async with self.sessionmaker() as s:
            existing = await s.get(EvidenceText, (case_id, sequence))
            if existing is not None:
                return existing.status
            item = await self._item(s, case_id, sequence)
        if item is None:
            # withdrawn (or deleted) before it was read: nothing to read, ever
            gone = await self._withdrawn_item(case_id, sequence)
            if gone is not None:
                await self._store_unavailable(case_id, gone, "withdrawn before it was read")
            return "skipped"
        if not readable(item.media_type):
            return "skipped"
        with tempfile.TemporaryDirectory(prefix="odr-text-") as tmp:
            original, copy = Path(tmp) / "original", Path(tmp) / "redacted"
            with original.open("wb") as fh:
                async for chunk in await self.evidence.store.open_range(item.sha256):
                    fh.write(chunk)
            try:
                result = await self.reader.read(original, item.media_type.split(";")[0], copy)
            except Unreadable as exc:
                log.info("evidence %s/%s: text unavailable: %s", case_id, sequence, exc)
                await self._store_unavailable(case_id, item, str(exc))
                return TextStatus.UNAVAILABLE.value
            redacted_sha = None
            if result.redacted is not None:
                blob = await self.evidence.store.put_stream(
                    _file_chunks(result.redacted), max_bytes=MAX_COPY_BYTES
                )
                redacted_sha = blob.sha256
        reason = ""
        if result.pages_total > len(result.pages):
            reason = f"first {len(result.pages)} of {result.pages_total} pages read"
        row = dict(
            case_id=case_id,
            sequence=sequence,
            sha256=item.sha256,
            status=TextStatus.DONE.value,
            method=result.method,
            pages=len(result.pages),
            reason=reason,
            seconds=round(result.seconds, 3),
            redacted_sha256=redacted_sha,
            redacted_media_type=result.redacted_media_type,
            redactions=[r.public() for r in result.regions],
            processed_at=self.clock(),
        )
        pages = [
            dict(
                case_id=case_id,
                sequence=sequence,
                page=p.number,
                width=p.width,
                height=p.height,
                text=p.text,
                lines=[li.stored() for li in p.lines],
            )
            for p in result.pages
        ]
        await self._store(case_id, item, row, pages)
        return TextStatus.DONE.value

    async def _withdrawn_item(self, case_id: int, sequence: int) -> Item | None:
        async with self.sessionmaker() as s:
            row = (
                await s.scalars(
                    select(CaseEventRow).where(
                        CaseEventRow.case_id == case_id,
                        CaseEventRow.sequence == sequence,
                        CaseEventRow.kind == EventKind.EVIDENCE_ADDED.value,
                    )
                )
            ).one_or_none()
        return None if row is None else item_of_row(row)

    async def _item(self, s: AsyncSession, case_id: int, sequence: int) -> Item | None:
        items = await self.evidence._items(s, case_id)
        return next((i for i in items if i.sequence == sequence), None)

    async def _store_unavailable(self, case_id: int, item: Item, reason: str) -> None:
        row = dict(
            case_id=case_id,
            sequence=item.sequence,
            sha256=item.sha256,
            status=TextStatus.UNAVAILABLE.value,
            method="none",
            pages=0,
            reason=reason[:200],
            seconds=0.0,
            redacted_sha256=None,
            redacted_media_type=None,
            redactions=[],
            processed_at=self.clock(),
        )
        await self._store(case_id, item, row, [])

    async def _store(
        self, case_id: int, item: Item, row: dict[str, Any], pages: list[dict[str, Any]]
    ) -> None:
        """The text, its pages and (with a redacted copy) the redaction event, in one unit of
        work; a run that finds the row already written leaves it."""
        for attempt in range(RECORD_ATTEMPTS):
            now = self.clock()
            try:
                async with UnitOfWork(self.sessionmaker) as uow:
                    uow.session.add(EvidenceText(**row))
                    uow.session.add_all([EvidencePage(**p) for p in pages])
                    if row["redacted_sha256"] is not None:
                        _, case = await repo.load(uow.session, case_id)
                        before = case.version
                        case.record_redaction(
                            Actor.system(),
                            now,
                            sequence=item.sequence,
                            visibility=item.visibility,
                            sha256=item.sha256,
                            redacted_sha256=row["redacted_sha256"],
                            regions=row["redactions"],
                        )
                        await repo.save(uow.session, case, before, now)
                    await uow.commit()
                break
            except IntegrityError:
                return  # another run stored it first
            except Conflict as exc:
                if exc.code == "stale_case" and attempt + 1 < RECORD_ATTEMPTS:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                raise
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "text": item.sequence})

    # -- reading -------------------------------------------------------------------------------

    async def _scope(self, s: AsyncSession, actor: Actor, case_id: int) -> CaseScope:
        row = await repo.row_of(s, case_id)
        scope = restore(row.snapshot).scope()
        authorize(actor, Action.VIEW_CASE, scope)
        return scope

    def _copy(
        self, actor: Actor, scope: CaseScope, item: Item, row: EvidenceText | None
    ) -> tuple[Copy, bool]:
        return copy_for(
            relations(actor, scope),
            mine=actor.user_id is not None and actor.user_id == item.submitter_id,
            has_redacted=row is not None and row.redacted_sha256 is not None,
            redact_for_mediator=self.redact_for_mediator,
        )

    async def text(self, actor: Actor, case_id: int, sequence: int) -> TextView:
        """The item's text as ``actor`` is shown it: masked when they get the redacted copy;
        what was blacked out only for those who may see the original."""
        item = await self.evidence.item(actor, case_id, sequence)
        async with self.sessionmaker() as s:
            scope = await self._scope(s, actor, case_id)
            row = await s.get(EvidenceText, (case_id, sequence))
            pages = (
                await s.scalars(
                    select(EvidencePage)
                    .where(EvidencePage.case_id == case_id, EvidencePage.sequence == sequence)
                    .order_by(EvidencePage.page)
                )
            ).all()
        copy, may_switch = self._copy(actor, scope, item, row)
        shown = [_page(p) for p in pages]
        if copy is Copy.REDACTED and not may_switch:
            shown = [_masked(p) for p in shown]
        if row is None:
            status = TextStatus.PENDING if readable(item.media_type) else TextStatus.UNAVAILABLE
            return TextView(
                sequence,
                status,
                "none",
                "" if status is TextStatus.PENDING else "no_text",
                (),
                0,
                copy,
                may_switch,
                False,
                (),
            )
        return TextView(
            sequence,
            TextStatus(row.status),
            row.method,
            row.reason,
            tuple(shown),
            row.pages,
            copy,
            may_switch,
            row.redacted_sha256 is not None,
            tuple(row.redactions) if may_switch else (),
        )

    async def search(self, actor: Actor, case_id: int, raw: str) -> SearchResult:
        """Every place the phrase occurs in what ``actor`` may see of the case: the text of
        its evidence items (as they are shown it), its messages, the chat of its hearings
        (caucus messages for their side only) and the hearings' minutes."""
        items = {i.sequence: i for i in await self.evidence.visible_items(actor, case_id)}
        query = search_query(raw)  # after the case check: a stranger learns nothing
        hits: list[Hit] = []
        async with self.sessionmaker() as s:
            scope = await self._scope(s, actor, case_id)
            texts = {
                r.sequence: r
                for r in (
                    await s.scalars(select(EvidenceText).where(EvidenceText.case_id == case_id))
                ).all()
            }
            for row in await _matching_pages(s, case_id, query):
                item = items.get(row.sequence)
                if item is None:
                    continue  # withdrawn, or not for this reader
                copy, may_switch = self._copy(actor, scope, item, texts.get(row.sequence))
                page = _page(row)
                if copy is Copy.REDACTED and not may_switch:
                    page = _masked(page)
                for hit in page_hits(page, query):
                    hits.append(Hit("evidence", hit.excerpt, row.sequence, hit.page, hit.box))
            events = (
                await s.scalars(
                    select(CaseEventRow)
                    .where(
                        CaseEventRow.case_id == case_id,
                        CaseEventRow.kind == EventKind.MESSAGE_SENT.value,
                    )
                    .order_by(CaseEventRow.sequence)
                )
            ).all()
            for e in events:
                said = str(e.payload.get("text", ""))
                if occurrences(said, query):
                    hits.append(Hit("message", said, e.sequence, at=e.at.isoformat()))
            if is_hearing_reader(actor, scope):
                hits += await _hearing_hits(s, actor, case_id, query)
        return SearchResult(query, tuple(hits[:MAX_HITS]), len(hits) > MAX_HITS)

    async def flags(self, actor: Actor, case_id: int) -> tuple[list[Flag], bool]:
        """The flags of the case's evidence (the mediator, the lead, supervisors), and whether
        more than `MAX_FLAGS` were found."""
        async with self.sessionmaker() as s:
            scope = await self._scope(s, actor, case_id)
            authorize(actor, Action.VIEW_EVIDENCE_FLAGS, scope)
        items = {i.sequence for i in await self.evidence.visible_items(actor, case_id)}
        async with self.sessionmaker() as s:
            rows = (
                await s.scalars(
                    select(EvidencePage)
                    .where(EvidencePage.case_id == case_id)
                    .order_by(EvidencePage.sequence, EvidencePage.page)
                )
            ).all()
        by_item: dict[int, list[PageText]] = {}
        for row in rows:
            if row.sequence in items:
                by_item.setdefault(row.sequence, []).append(_page(row))
        found = find_flags(self.flag_rules, by_item.items())
        return found[:MAX_FLAGS], len(found) > MAX_FLAGS

    async def was_withdrawn(self, actor: Actor, case_id: int, sequence: int) -> bool:
        """True when item ``sequence`` is one the actor could see and its submitter withdrew
        (its bytes still kept): gone, not hidden."""
        async with self.sessionmaker() as s:
            scope = await self._scope(s, actor, case_id)
            kept = await self.evidence._items(s, case_id, stored=True)
        return any(
            i.sequence == sequence
            and is_allowed(actor, Action.VIEW_EVIDENCE, _evidence_scope(scope, i))
            for i in kept
        )

    async def request_redaction(self, actor: Actor, case_id: int, sequence: int, note: str) -> None:
        """The uploader asks for more of the item to be blacked out (recorded in the log; the
        mediator reads it on the case page)."""
        item = await self.evidence.item(actor, case_id, sequence)
        now = self.clock()
        async with UnitOfWork(self.sessionmaker) as uow:
            _, case = await repo.load(uow.session, case_id)
            before = case.version
            case.request_redaction(
                actor, now, item=_evidence_scope(case.scope(), item), sequence=sequence, note=note
            )
            await repo.save(uow.session, case, before, now)
            await uow.commit()
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": case.version})


def _evidence_scope(scope: CaseScope, item: Item) -> Any:
    from odr.domain.authz import EvidenceScope, Visibility

    return EvidenceScope(scope, item.submitter_id, Visibility(item.visibility))


def is_hearing_reader(actor: Actor, scope: CaseScope) -> bool:
    from odr.domain.authz import HearingScope, is_allowed

    return is_allowed(actor, Action.VIEW_HEARING, HearingScope(scope))


async def _matching_pages(s: AsyncSession, case_id: int, query: str) -> Sequence[EvidencePage]:
    """The case's pages whose text may hold ``query``: through the trigram index on
    PostgreSQL (ILIKE), the FTS5 trigram table on SQLite (LIKE, case-insensitive for ASCII);
    another database scans the case's pages."""
    pattern = _like(query)
    dialect = s.get_bind().dialect.name
    stmt = select(EvidencePage).where(EvidencePage.case_id == case_id)
    if dialect == "sqlite":
        ids = (
            select(text("rowid"))
            .select_from(text("evidence_pages_fts"))
            .where(text("evidence_pages_fts.text LIKE :pattern"))
        )
        stmt = stmt.where(EvidencePage.id.in_(ids)).params(pattern=pattern)
    elif dialect == "postgresql":
        stmt = stmt.where(EvidencePage.text.ilike(pattern))
    else:
        stmt = stmt.where(EvidencePage.text.like(pattern))
    stmt = stmt.order_by(EvidencePage.sequence, EvidencePage.page).limit(MAX_HITS + 1)
    return (await s.scalars(stmt)).all()


async def _hearing_hits(s: AsyncSession, actor: Actor, case_id: int, query: str) -> list[Hit]:
    hearings = (await s.scalars(select(HearingRow).where(HearingRow.case_id == case_id))).all()
    hits = []
    for hearing in hearings:
        if occurrences(hearing.minutes or "", query):
            hits.append(Hit("minutes", hearing.minutes[:300], hearing_id=hearing.id))
        if actor.user_id == hearing.mediator_id:
            side: str | None = "mediator"
        else:
            side = {"consumer": "consumer", "insurer_rep": "insurer"}.get(str(actor.role))
        messages = (
            await s.scalars(
                select(HearingMessage)
                .where(HearingMessage.hearing_id == hearing.id)
                .order_by(HearingMessage.sequence)
            )
        ).all()
        for m in messages:
            if not (m.audience == "all" or side in (m.audience, "mediator")):
                continue
            if occurrences(m.text, query):
                hits.append(Hit("chat", m.text, hearing_id=hearing.id, at=m.at.isoformat()))
    return hits


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, 256 * 1024):
            yield chunk


__all__ = [
    "READABLE",
    "EvidenceTextService",
    "Hit",
    "SearchResult",
    "TextView",
    "load_flag_rules",
    "readable",
]
