"""Evidence use cases: upload (streamed, sniffed, size-limited), list, read, export.

Bytes go to the blob store under their SHA-256; the item itself is an ``evidence_added`` event
of the case, so it enters the case's hash chain in the same transaction as everything else.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.bundle import build_bundle
from odr.config import Settings
from odr.domain.accounts import Actor
from odr.domain.authz import (
    Action,
    EvidenceScope,
    Visibility,
    authorize,
    is_allowed,
    relations,
)
from odr.domain.case_chain import case_identity
from odr.domain.case_snapshot import restore
from odr.domain.cases import UPLOADABLE_EVIDENCE, CaseEvent, EventKind
from odr.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from odr.domain.evidence_text import Copy, copy_for
from odr.domain.filenames import sanitise_filename
from odr.domain.ledger import ChainEntry
from odr.domain.sniffing import HEAD_BYTES, MediaType, confirm_docx, sniff
from odr.services.access_log import AccessKind, AccessLog
from odr.services.bus import Bus
from odr.services.cases import Attachment
from odr.storage import cases as repo
from odr.storage.blobs import BlobStore, LocalBlobStore, StoredBlob, TooLarge, UploadNotFound
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseEventRow, EvidenceText, EvidenceUpload

log = logging.getLogger("odr.evidence")

DOWNLOAD_CHUNK = 256 * 1024
MAX_RECORD_BYTES = 2 * 1024**3  # one system-made item (a recording segment is ~10 MB)
RECORD_ATTEMPTS = 8
ITEM_EVENTS = (
    EventKind.EVIDENCE_ADDED.value,
    EventKind.EVIDENCE_WITHDRAWN.value,
    EventKind.EVIDENCE_PURGED.value,
)


REFUSED_TYPE = (
    "This type of file is not accepted. Send PDF, images (JPEG, PNG, WebP), audio "
    "(MP3, M4A, WAV), video (MP4, WebM), plain text or Word (DOCX)."
)


def _check_kind(kind: str, visibility: str) -> None:
    """Refuse a wrong kind or visibility before any byte is stored."""
    if kind not in {k.value for k in UPLOADABLE_EVIDENCE}:
        raise ValidationFailed(
            "Choose the kind of evidence.", code="invalid_evidence_kind", details={"field": "kind"}
        )
    if visibility not in {v.value for v in Visibility}:
        raise ValidationFailed(
            "Choose who may see it.", code="invalid_visibility", details={"field": "visibility"}
        )


async def _limited(chunks: AsyncIterable[bytes], room: int) -> AsyncIterator[bytes]:
    """The chunks, refusing more bytes than the upload declared."""
    sent = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > room:
            raise TooLarge(room)
        yield chunk


class UnsupportedMediaType(DomainError):
    """The bytes are not one of the allowed types, whatever the name or declared type say."""

    code = "unsupported_media_type"


def empty_file() -> ValidationFailed:
    """A file of no bytes: refused for what it is (empty), not for its type."""
    return ValidationFailed("The file is empty.", code="file_empty", details={"field": "file"})


def blob_store(settings: Settings) -> BlobStore:
    """The configured store: S3 when ``ODR_S3_ENDPOINT`` is set, else the local directory."""
    if settings.s3_endpoint:
        # aiobotocore is heavy and only needed with S3: imported when configured
        from odr.storage.blobs.s3 import S3BlobStore

        return S3BlobStore(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_access_key or "",
            settings.s3_secret_key or "",
        )
    return LocalBlobStore(settings.storage_dir)


@dataclass(frozen=True)
class Item:
    sequence: int
    sha256: str
    size: int
    media_type: str
    name: str
    kind: str
    visibility: str
    description: str
    submitted_at: datetime
    submitter_id: int | None
    submitter_role: str
    copy: str = "original"  # or "redacted": the bytes are the copy with numbers blacked out

    def public(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "name": self.name,
            "kind": self.kind,
            "visibility": self.visibility,
            "description": self.description,
            "submitted_at": self.submitted_at.isoformat(),
            "submitted_by": {"user_id": self.submitter_id, "role": self.submitter_role},
        }


def _item(row: CaseEventRow) -> Item:
    return _item_of_event(repo.event_of(row))


#: A one-shot upload writes all the time: a temporary file idle this long was left by a
#: process that died. A resumable upload may pause (a phone on a bad network) for days.
TEMP_IDLE = timedelta(minutes=15)
UPLOAD_IDLE = timedelta(days=7)


@dataclass
class EvidenceService:
    sessionmaker: async_sessionmaker[AsyncSession]
    store: BlobStore
    bus: Bus
    max_file_bytes: int
    max_case_bytes: int
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    access: AccessLog | None = None  # where staff openings of an item are logged
    #: the staff get the redacted copy by default too (ODR_REDACT_FOR_MEDIATOR)
    redact_for_mediator: bool = False
    #: called with (case id, item) after an item entered the case (the text reader's job)
    added: list[Callable[[int, Item], Awaitable[None]]] = field(default_factory=list)

    async def _added(self, case_id: int, item: Item) -> None:
        for hook in self.added:
            try:
                await hook(case_id, item)
            except Exception:  # the item is in; reading its text is retried by the sweep
                log.exception("after-upload hook failed")

    async def upload(
        self,
        actor: Actor,
        case_id: int,
        chunks: AsyncIterable[bytes],
        *,
        name: str,
        kind: str,
        visibility: str = "all_parties",
        description: str = "",
    ) -> Item:
        _check_kind(kind, visibility)
        async with self.sessionmaker() as s:
            room = await self._room(s, actor, case_id)
        stream = _Sniffed(chunks)
        media = await stream.sniff()
        blob = await self.store.put_stream(stream, max_bytes=room)
        return await self._enter(
            actor,
            case_id,
            blob,
            media,
            name=name,
            kind=kind,
            visibility=visibility,
            description=description,
        )

    async def _enter(
        self,
        actor: Actor,
        case_id: int,
        blob: StoredBlob,
        media: MediaType,
        *,
        name: str,
        kind: str,
        visibility: str,
        description: str,
    ) -> Item:
        """Record stored bytes as an item of the case (or forget them if that fails)."""
        if media.provisional and not await self._confirm_docx(blob.sha256):
            await self._forget(blob.sha256)
            raise UnsupportedMediaType("This file is not an allowed Word document.")
        safe = sanitise_filename(name, extension=media.extension)
        now = self.clock()
        try:
            async with UnitOfWork(self.sessionmaker) as uow:
                _, case = await repo.load(uow.session, case_id)
                before = case.version
                event = case.add_evidence(
                    actor,
                    now,
                    sha256=blob.sha256,
                    size=blob.size,
                    name=safe,
                    media_type=media.mime,
                    kind=kind,
                    visibility=visibility,
                    description=description,
                )
                await repo.save(uow.session, case, before, now)
                await uow.commit()
        except DomainError:
            await self._forget(blob.sha256)
            raise
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": case.version})
        entered = _item_of_event(event)
        await self._added(case_id, entered)
        return entered

    async def enter_record(
        self,
        case_id: int,
        chunks: AsyncIterable[bytes],
        *,
        name: str,
        kind: str,
        media_type: str,
        visibility: str = "all_parties",
        description: str = "",
    ) -> Item:
        """Store and enter something the system made itself (a recording segment, a chat
        transcript, a call record) as evidence of the case, in one transaction with its event.
        Its type is known, not sniffed; the case's size budget does not apply."""
        blob = await self.store.put_stream(chunks, max_bytes=MAX_RECORD_BYTES)
        for attempt in range(RECORD_ATTEMPTS):
            now = self.clock()
            try:
                async with UnitOfWork(self.sessionmaker) as uow:
                    _, case = await repo.load(uow.session, case_id)
                    before = case.version
                    event = case.enter_record(
                        Actor.system(),
                        now,
                        sha256=blob.sha256,
                        size=blob.size,
                        name=sanitise_filename(name),
                        media_type=media_type,
                        kind=kind,
                        visibility=visibility,
                        description=description,
                    )
                    await repo.save(uow.session, case, before, now)
                    await uow.commit()
                break
            except Conflict as exc:
                # records close together (every participant's segment at once): the system's
                # own entry is safe to repeat on the case as it now is
                if exc.code == "stale_case" and attempt + 1 < RECORD_ATTEMPTS:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                await self._forget(blob.sha256)
                raise
            except DomainError:
                await self._forget(blob.sha256)
                raise
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": case.version})
        entered = _item_of_event(event)
        await self._added(case_id, entered)
        return entered

    async def stage(self, chunks: AsyncIterable[bytes], *, name: str, room: int) -> Attachment:
        """Store one file of an item still to be entered (a complaint's attachment): sniffed
        as every upload is, an empty file refused, at most ``room`` bytes. `discard` forgets
        what was staged but not entered."""
        if room <= 0:
            raise TooLarge(0)
        stream = _Sniffed(chunks)
        media = await stream.sniff()
        blob = await self.store.put_stream(stream, max_bytes=room)
        if media.provisional and not await self._confirm_docx(blob.sha256):
            await self._forget(blob.sha256)
            raise UnsupportedMediaType("This file is not an allowed Word document.")
        safe = sanitise_filename(name, extension=media.extension)
        return Attachment(blob.sha256, blob.size, safe, media.mime, media.kind)

    async def discard(self, staged: Iterable[Attachment]) -> None:
        """Forget staged files no item refers to (the complaint was not filed)."""
        for attached in staged:
            await self._forget(attached.sha256)

    async def _room(self, s: AsyncSession, actor: Actor, case_id: int) -> int:
        """How many bytes the actor may still add to the case (authorises the upload)."""
        row = await repo.row_of(s, case_id)
        authorize(actor, Action.UPLOAD_EVIDENCE, restore(row.snapshot).scope())
        used = sum(i.size for i in await self._items(s, case_id))
        room = min(self.max_file_bytes, self.max_case_bytes - used)
        if room <= 0:
            raise TooLarge(0)
        return room

    # -- resumable uploads --

    async def begin(
        self,
        actor: Actor,
        case_id: int,
        *,
        size: int,
        name: str,
        kind: str,
        visibility: str = "all_parties",
        description: str = "",
    ) -> str:
        _check_kind(kind, visibility)
        if size == 0:
            raise empty_file()
        async with UnitOfWork(self.sessionmaker) as uow:
            room = await self._room(uow.session, actor, case_id)
            if size > room:
                raise TooLarge(room)
            upload_id = await self.store.begin_upload(max(size, 1))
            uow.session.add(
                EvidenceUpload(
                    id=upload_id,
                    case_id=case_id,
                    user_id=actor.user_id,
                    name=name[:255],
                    kind=kind,
                    visibility=visibility,
                    description=description,
                    size=size,
                    created_at=self.clock(),
                )
            )
            await uow.commit()
        return upload_id

    async def _upload(self, s: AsyncSession, actor: Actor, upload_id: str) -> EvidenceUpload:
        row = await s.get(EvidenceUpload, upload_id) if len(upload_id) <= 64 else None
        if row is None or row.user_id != actor.user_id:
            raise UploadNotFound()
        return row

    async def status(self, actor: Actor, upload_id: str) -> tuple[int, int]:
        async with self.sessionmaker() as s:
            row = await self._upload(s, actor, upload_id)
        return await self.store.upload_offset(upload_id), row.size

    async def append(
        self, actor: Actor, upload_id: str, offset: int, chunks: AsyncIterable[bytes]
    ) -> int:
        async with self.sessionmaker() as s:
            row = await self._upload(s, actor, upload_id)
        limited = _limited(chunks, row.size - offset)
        return await self.store.append(upload_id, offset, limited)

    async def finish(self, actor: Actor, upload_id: str) -> Item:
        async with self.sessionmaker() as s:
            row = await self._upload(s, actor, upload_id)
        offset = await self.store.upload_offset(upload_id)
        if offset != row.size:
            raise Conflict(
                f"The upload has {offset} of {row.size} bytes.",
                code="upload_incomplete",
                details={"offset": offset},
            )
        blob = await self.store.finish(upload_id)
        async with UnitOfWork(self.sessionmaker) as uow:
            await uow.session.delete(await self._upload(uow.session, actor, upload_id))
            await uow.commit()
        head = b""
        async for chunk in await self.store.open_range(blob.sha256, 0, HEAD_BYTES):
            head += chunk
        if not head:
            await self._forget(blob.sha256)
            raise empty_file()
        media = sniff(head)
        if media is None:
            await self._forget(blob.sha256)
            raise UnsupportedMediaType(REFUSED_TYPE)
        return await self._enter(
            actor,
            row.case_id,
            blob,
            media,
            name=row.name,
            kind=row.kind,
            visibility=row.visibility,
            description=row.description,
        )

    async def abort(self, actor: Actor, upload_id: str) -> None:
        async with UnitOfWork(self.sessionmaker) as uow:
            await uow.session.delete(await self._upload(uow.session, actor, upload_id))
            await uow.commit()
        await self.store.abort(upload_id)

    async def _confirm_docx(self, sha256: str) -> bool:
        with tempfile.TemporaryFile() as fh:
            async for chunk in await self.store.open_range(sha256):
                fh.write(chunk)
            fh.seek(0)
            return await asyncio.to_thread(confirm_docx, fh)

    async def _forget(self, sha256: str) -> None:
        """Delete bytes no kept item refers to (content addresses are shared between items
        and cases)."""
        async with self.sessionmaker() as s:
            cases = (
                await s.execute(
                    select(CaseEventRow.case_id).where(
                        CaseEventRow.kind == EventKind.EVIDENCE_ADDED.value
                    )
                )
            ).scalars()
            for case_id in set(cases):
                if any(i.sha256 == sha256 for i in await self._items(s, case_id, stored=True)):
                    return
        await self.store.delete(sha256)

    async def _items(self, s: AsyncSession, case_id: int, *, stored: bool = False) -> list[Item]:
        """The case's items, without the withdrawn ones (or, with ``stored``, every item
        whose bytes are still kept, withdrawn or not)."""
        rows = list(
            (
                await s.execute(
                    select(CaseEventRow)
                    .where(CaseEventRow.case_id == case_id, CaseEventRow.kind.in_(ITEM_EVENTS))
                    .order_by(CaseEventRow.sequence)
                )
            ).scalars()
        )
        gone: set[int] = set()
        for r in rows:
            if r.kind == EventKind.EVIDENCE_PURGED.value:
                gone |= {i["sequence"] for i in r.payload["items"]}
            elif r.kind == EventKind.EVIDENCE_WITHDRAWN.value and not stored:
                gone.add(r.payload["sequence"])
        return [
            _item(r)
            for r in rows
            if r.kind == EventKind.EVIDENCE_ADDED.value and r.sequence not in gone
        ]

    async def withdraw(self, actor: Actor, case_id: int, sequence: int, reason: str = "") -> None:
        item = await self.item(actor, case_id, sequence)
        now = self.clock()
        async with UnitOfWork(self.sessionmaker) as uow:
            _, case = await repo.load(uow.session, case_id)
            before = case.version
            case.withdraw_evidence(
                actor, now, item=_scope(case.scope(), item), sequence=sequence, reason=reason
            )
            await repo.save(uow.session, case, before, now)
            await uow.commit()
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": case.version})

    async def purge_stale_uploads(self, now: datetime) -> int:
        """Remove what crashed or abandoned uploads left: temporary files idle for
        `TEMP_IDLE`, resumable uploads idle for `UPLOAD_IDLE` (and their records). Returns
        how many were removed from the store."""
        removed = await self.store.purge_stale(
            now.timestamp(),
            temp_idle=TEMP_IDLE.total_seconds(),
            upload_idle=UPLOAD_IDLE.total_seconds(),
        )
        async with UnitOfWork(self.sessionmaker) as uow:
            old = (
                await uow.session.scalars(
                    select(EvidenceUpload).where(EvidenceUpload.created_at < now - UPLOAD_IDLE)
                )
            ).all()
            for upload in old:
                try:
                    await self.store.upload_offset(upload.id)
                except UploadNotFound:
                    await uow.session.delete(upload)
            await uow.commit()
        return removed

    async def apply_retention(self, now: datetime, years: int) -> int:
        """Delete the bytes of every item of cases closed more than ``years`` ago, and log the
        deletion in each case's chain. Returns how many items were purged."""
        cutoff = now - timedelta(days=round(365.25 * years))
        async with self.sessionmaker() as s:
            closed = (
                await s.execute(
                    select(CaseEventRow.case_id).where(
                        CaseEventRow.kind == EventKind.CLOSED.value, CaseEventRow.at <= cutoff
                    )
                )
            ).scalars()
            case_ids = sorted(set(closed))
        purged = 0
        for case_id in case_ids:
            async with UnitOfWork(self.sessionmaker) as uow:
                items = await self._items(uow.session, case_id, stored=True)
                if not items:
                    continue
                _, case = await repo.load(uow.session, case_id)
                before = case.version
                case.purge_evidence(
                    Actor.system(),
                    now,
                    items=[(i.sequence, i.sha256) for i in items],
                    policy=f"closed cases: {years} years",
                )
                await repo.save(uow.session, case, before, now)
                await uow.commit()
            for item in items:
                await self._forget(item.sha256)
            purged += len(items)
        return purged

    async def visible_items(self, actor: Actor, case_id: int) -> list[Item]:
        async with self.sessionmaker() as s:
            row = await repo.row_of(s, case_id)
            scope = restore(row.snapshot).scope()
            authorize(actor, Action.VIEW_CASE, scope)
            items = await self._items(s, case_id)
        return [i for i in items if is_allowed(actor, Action.VIEW_EVIDENCE, _scope(scope, i))]

    async def open_item(
        self, actor: Actor, case_id: int, sequence: int, copy: str | None = None
    ) -> Item:
        """`item`, for a person about to read its bytes: staff openings go to the access log.

        The bytes are those of the copy the reader gets (`odr.domain.evidence_text.copy_for`):
        the other party gets the copy with personal numbers blacked out, and must wait while an
        image or a PDF is still being read; ``copy`` asks for one copy, for those who may
        switch."""
        found = await self.item(actor, case_id, sequence)
        found = await self._copy_of(actor, case_id, found, copy)
        if self.access is not None:
            await self.access.record(actor, case_id, AccessKind.EVIDENCE, str(sequence))
        return found

    async def _copy_of(self, actor: Actor, case_id: int, item: Item, asked: str | None) -> Item:
        if asked not in (None, *(c.value for c in Copy)):
            raise ValidationFailed(
                "Ask for the original or the redacted copy.", code="invalid_copy"
            )
        async with self.sessionmaker() as s:
            row = await repo.row_of(s, case_id)
            scope = restore(row.snapshot).scope()
            text = await s.get(EvidenceText, (case_id, item.sequence))
        mine = actor.user_id is not None and actor.user_id == item.submitter_id
        rel = relations(actor, scope)
        # Documents the platform made (agreement, report, records) are never held back.
        pending = (
            text is None
            and item.kind in UPLOADABLE_EVIDENCE
            and item.media_type.startswith(("image/", "application/pdf"))
        )
        default, may_switch = copy_for(
            rel,
            mine=mine,
            has_redacted=pending or (text is not None and text.redacted_sha256 is not None),
            redact_for_mediator=self.redact_for_mediator,
        )
        wanted = Copy(asked) if asked and may_switch else default
        if wanted is Copy.ORIGINAL:
            return item
        if text is None or text.redacted_sha256 is None:
            if pending:
                raise Conflict(
                    "This item is still being checked for personal numbers; try again in a minute.",
                    code="evidence_being_read",
                )
            return item
        stem = item.name.rsplit(".", 1)[0]
        extension = {"image/png": "png", "image/jpeg": "jpg"}.get(
            text.redacted_media_type or "", "pdf"
        )
        size = await self.store.size(text.redacted_sha256)
        return replace(
            item,
            sha256=text.redacted_sha256,
            size=size or 0,
            media_type=text.redacted_media_type or item.media_type,
            name=f"{stem}-redacted.{extension}",
            copy=Copy.REDACTED.value,
        )

    async def item(self, actor: Actor, case_id: int, sequence: int) -> Item:
        async with self.sessionmaker() as s:
            row = await repo.row_of(s, case_id)
            scope = restore(row.snapshot).scope()
            authorize(actor, Action.VIEW_CASE, scope)
            found = [i for i in await self._items(s, case_id) if i.sequence == sequence]
        if not found:
            raise NotFound("No such evidence item.", code="evidence_not_found")
        authorize(actor, Action.VIEW_EVIDENCE, _scope(scope, found[0]))
        return found[0]

    async def content(
        self, item: Item, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return await self.store.open_range(item.sha256, start, end)

    async def export(self, actor: Actor, case_id: int, out: Path) -> None:
        """Write the bundle the actor may see: their visible items and the whole chain, with
        the entries they may not see redacted (the chain still verifies)."""
        async with self.sessionmaker() as s:
            row = await repo.row_of(s, case_id)
            scope = restore(row.snapshot).scope()
            authorize(actor, Action.EXPORT_EVIDENCE, scope)
            chain = await repo.chain(s, case_id)
            items = {i.sequence: i for i in await self._items(s, case_id, stored=True)}
            first = (
                await s.execute(
                    select(CaseEventRow).where(
                        CaseEventRow.case_id == case_id, CaseEventRow.sequence == 1
                    )
                )
            ).scalar_one()
        shown: list[ChainEntry] = []
        chosen: list[Item] = []
        for entry in chain:
            item = items.get(entry.sequence)
            if entry.kind == "evidence" and item is None:
                raise Conflict(
                    "Some evidence of this case was deleted under the retention policy, so a "
                    "complete bundle can no longer be made; the chain still verifies online.",
                    code="evidence_purged",
                )
            if item is not None and not is_allowed(
                actor, Action.VIEW_EVIDENCE, _scope(scope, item)
            ):
                shown.append(entry.redacted())
                continue
            shown.append(entry)
            if item is not None:
                chosen.append(item)
        case = case_identity(repo.event_of(first))
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for item in chosen:
                path = Path(tmp) / item.sha256
                if not path.exists():
                    with path.open("wb") as fh:
                        async for chunk in await self.store.open_range(item.sha256):
                            fh.write(chunk)
                files.append(path)
            handles = [p.open("rb") for p in files]
            try:
                await asyncio.to_thread(
                    build_bundle,
                    out,
                    case,
                    [({"sequence": i.sequence}, h) for i, h in zip(chosen, handles, strict=True)],
                    shown,
                )
            finally:
                for h in handles:
                    h.close()


def _scope(case_scope: Any, item: Item) -> EvidenceScope:
    return EvidenceScope(case_scope, item.submitter_id, Visibility(item.visibility))


def _item_of_event(event: CaseEvent) -> Item:
    p = event.payload_dict()
    return Item(
        event.sequence,
        p["sha256"],
        p["size"],
        p["media_type"],
        p["name"],
        p["kind"],
        p["visibility"],
        p.get("description", ""),
        event.at,
        event.actor_user_id,
        str(event.actor_role),
    )


class _Sniffed:
    """The upload's chunks, with the first `HEAD_BYTES` read ahead to decide the type."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._source = aiter(chunks)
        self._head = b""
        self._done = False

    async def sniff(self) -> Any:
        while len(self._head) < HEAD_BYTES:
            try:
                self._head += await anext(self._source)
            except StopAsyncIteration:
                self._done = True
                break
        if not self._head:
            raise empty_file()
        media = sniff(self._head)
        if media is None:
            raise UnsupportedMediaType(REFUSED_TYPE)
        return media

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        if not self._done:
            async for chunk in self._source:
                yield chunk


__all__ = ["EvidenceService", "Item", "UnsupportedMediaType", "blob_store"]
