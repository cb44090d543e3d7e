"""What happens inside a hearing, for the realtime layer and the pages: join tokens, starting
and ending (with the case), chat stored before it is shown, the call record, recording segments
entered as evidence, the mediator's minutes, and the transcript and call record as evidence.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, authorize
from odr.domain.call_record import CallRecord, summarise
from odr.domain.deadlines import DEFAULT_TIME_ZONE
from odr.domain.errors import DomainError, Forbidden, NotFound
from odr.domain.hearings import Hearing, HearingState
from odr.domain.join_tokens import (
    JOIN_TOKEN_SECONDS,
    JoinClaim,
    ice_servers_for,
    issue_join_token,
    read_join_token,
)
from odr.domain.masking import mask_personal_numbers
from odr.domain.numbers import parse_int
from odr.domain.recording_names import parse_segment_name, participant_of
from odr.domain.sides import side_of
from odr.services.access_log import AccessKind, AccessLog
from odr.services.bus import Bus
from odr.services.evidence import EvidenceService
from odr.services.scheduling import record_no_shows
from odr.storage import cases as case_repo
from odr.storage import hearings as hearing_repo
from odr.storage.db import UnitOfWork
from odr.storage.models import HearingLogEntry, HearingMessage, HearingRecording, User
from odr.times import format_moment

log = logging.getLogger("odr.hearings")

MEDIATOR_SIDE = "mediator"


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone let into a hearing (from a verified join token and the same user's session)."""

    hearing_id: int
    case_id: int
    user_id: int
    name: str
    role: str
    side: str  # "consumer", "insurer" or "mediator"
    organisation_id: int | None = None

    @property
    def moderates(self) -> bool:
        return self.side == MEDIATOR_SIDE

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id, role=Role(self.role), organisation_id=self.organisation_id
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attendee:
        return cls(**data)


class SegmentLike(Protocol):
    """A closed recording segment (`signaling.recorder.Segment`)."""

    @property
    def path(self) -> Path: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime: ...


async def _file_chunks(path: Path, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, size):
            yield chunk
    finally:
        fh.close()


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class HearingRoomService:
    sessionmaker: async_sessionmaker[AsyncSession]
    evidence: EvidenceService
    bus: Bus
    secret_key: str
    recordings_dir: Path
    ice_servers: tuple[Any, ...] = ()
    turn_secret: str | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    access: AccessLog | None = None  # where staff openings of a recording are logged
    #: the zone the chat transcript's times are written in (ODR_TIMEZONE)
    time_zone: str = DEFAULT_TIME_ZONE

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    # -- getting in -------------------------------------------------------------------------

    async def join_ticket(self, actor: Actor, hearing_id: int) -> dict[str, Any]:
        """A join token for the actor (a party or the hearing's mediator) while the hearing is
        open to join, with the ICE servers its browser should use."""
        async with self.sessionmaker() as s:
            hearing = await hearing_repo.load(s, hearing_id)
        side = _side(actor, hearing)
        if not hearing.is_join_open(self.clock()):
            raise Forbidden("The hearing is not open to join now.", code="hearing_not_open")
        assert actor.user_id is not None
        expires = int(time.time()) + JOIN_TOKEN_SECONDS
        claim = JoinClaim(actor.user_id, hearing_id, str(actor.role), expires)
        return {
            "token": issue_join_token(self.secret_key, claim),
            "expires": expires,
            "hearing_id": hearing_id,
            "side": side,
            "socket": f"/ws/hearings/{hearing_id}",
            "ice_servers": self.ice_servers_for(actor.user_id),
        }

    def ice_servers_for(self, user_id: int) -> list[dict[str, Any]]:
        return ice_servers_for(self.ice_servers, self.turn_secret, user_id, time.time())

    async def verify(self, token: str, actor: Actor, hearing_id: int) -> Attendee:
        """The attendee behind a join token presented by a logged-in actor; refused unless the
        token is the actor's own, for this hearing, in its role, unexpired, and the hearing is
        still open."""
        holder = (actor.user_id, hearing_id, str(actor.role))
        claim = read_join_token(self.secret_key, token, time.time(), holder)
        async with self.sessionmaker() as s:
            hearing = await hearing_repo.load(s, hearing_id)
            side = _side(actor, hearing)
            if not hearing.is_join_open(self.clock()):
                raise Forbidden("The hearing is not open to join now.", code="hearing_not_open")
            user = await s.get(User, actor.user_id)
            assert user is not None
            name = user.display_name
        return Attendee(
            hearing_id=hearing_id,
            case_id=hearing.case_id,
            user_id=claim.user_id,
            name=name,
            role=str(actor.role),
            side=side,
            organisation_id=actor.organisation_id,
        )

    async def begin(self, mediator: Attendee) -> None:
        """The mediator came in: the hearing (and its case) is in progress, if not already."""
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing = await hearing_repo.load(s, mediator.hearing_id)
            if hearing.state is not HearingState.SCHEDULED:
                return
            hearing.start(mediator.actor, now)
            await hearing_repo.save(s, hearing)
            _, case = await case_repo.load(s, hearing.case_id)
            before = case.version
            case.start_hearing(mediator.actor, now)
            await case_repo.save(s, case, before, now)
            await uow.commit()
        await self._published(case.id, case.version)

    async def _published(self, case_id: int, version: int) -> None:
        await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": version})

    # -- during -------------------------------------------------------------------------------

    async def post_chat(
        self, sender: Attendee, *, client_id: str, text: str, audience: str = "all"
    ) -> dict[str, Any]:
        """Store a chat message (personal numbers masked) and return it as everyone sees it.
        The same ``client_id`` from the same sender is the same message (a retry)."""
        result = mask_personal_numbers(text)
        now = self.clock()
        for _attempt in range(3):
            try:
                async with self.uow() as uow:
                    s = uow.session
                    existing = await _message_by_client_id(s, sender, client_id)
                    if existing is not None:
                        return _chat_public(existing, sender.name)
                    sequence = 1 + (
                        await s.scalar(
                            select(func.coalesce(func.max(HearingMessage.sequence), 0)).where(
                                HearingMessage.hearing_id == sender.hearing_id
                            )
                        )
                        or 0
                    )
                    row = HearingMessage(
                        hearing_id=sender.hearing_id,
                        sequence=sequence,
                        sender_id=sender.user_id,
                        sender_role=sender.role,
                        client_id=client_id,
                        text=result.text,
                        masked=result.masked,
                        audience=audience,
                        at=now,
                    )
                    s.add(row)
                    await s.flush()
                    await uow.commit()
                    return _chat_public(row, sender.name)
            except IntegrityError:
                continue  # another message took the sequence number: take the next one
        raise Forbidden("The message could not be stored; send it again.", code="chat_busy")

    async def log(
        self, hearing_id: int, kind: str, user_id: int | None, details: dict[str, Any]
    ) -> None:
        """One entry of the call record."""
        async with self.uow() as uow:
            uow.session.add(
                HearingLogEntry(
                    hearing_id=hearing_id,
                    at=self.clock(),
                    kind=kind,
                    user_id=user_id,
                    details=details,
                )
            )
            await uow.commit()

    async def add_segment(self, hearing_id: int, user_id: int, segment: SegmentLike) -> None:
        """A closed recording segment: into the case's evidence (bytes and hash) and the list
        of the hearing's recordings."""
        async with self.sessionmaker() as s:
            hearing = await hearing_repo.load(s, hearing_id)
            user = await s.get(User, user_id)
        who = user.display_name if user else str(user_id)
        item = await self.evidence.enter_record(
            hearing.case_id,
            _file_chunks(segment.path),
            name=f"hearing-{hearing_id}-{segment.path.name}",
            kind="recording",
            media_type="video/webm",
            description=who,
        )
        relative = segment.path.relative_to(self.recordings_dir).as_posix()
        async with self.uow() as uow:
            uow.session.add(
                HearingRecording(
                    hearing_id=hearing_id,
                    user_id=user_id,
                    path=relative,
                    sha256=segment.sha256,
                    size=segment.size,
                    started_at=segment.started_at,
                    ended_at=segment.ended_at,
                    evidence_sequence=item.sequence,
                )
            )
            await uow.commit()

    async def recover_segments(self) -> int:
        """Enter closed segments that a crash kept out of the evidence (the node died between
        closing a segment and entering it). Open segments (``.part``) are left as they are."""
        root = self.recordings_dir
        if not await asyncio.to_thread(root.is_dir):
            return 0
        async with self.sessionmaker() as s:
            known = set((await s.execute(select(HearingRecording.path))).scalars())
        found = await asyncio.to_thread(_closed_segments, root)
        entered = 0
        for hearing_id, user_id, path in found:
            if path.relative_to(root).as_posix() in known:
                continue
            segment = await asyncio.to_thread(_RecoveredSegment.of, path)
            try:
                await self.add_segment(hearing_id, user_id, segment)
            except DomainError:
                log.warning("recording %s belongs to no hearing; left alone", path)
                continue
            entered += 1
        return entered

    # -- ending -------------------------------------------------------------------------------

    async def finish(self, mediator: Attendee, present: Sequence[int]) -> None:
        """End the hearing and its case's hearing stage; record who never came; enter the chat
        transcript and the call record as evidence."""
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            hearing = await hearing_repo.load(s, mediator.hearing_id)
            if hearing.state is HearingState.IN_PROGRESS:
                hearing.end(mediator.actor, now)
                await hearing_repo.save(s, hearing)
                _, case = await case_repo.load(s, hearing.case_id)
                before = case.version
                case.end_hearing(mediator.actor, now)
                await case_repo.save(s, case, before, now)
                await uow.commit()
                await self._published(case.id, case.version)
        await record_no_shows(self.sessionmaker, mediator.hearing_id, list(present), now=now)
        await self.log(mediator.hearing_id, "end", mediator.user_id, {})
        await self._enter_records(hearing)

    async def _enter_records(self, hearing: Hearing) -> None:
        assert hearing.id is not None
        transcript = await self._transcript(hearing.id)
        if transcript:
            # read by people: local time to the second, in the case's language
            async with self.sessionmaker() as s:
                row = await case_repo.row_of(s, hearing.case_id)
                consumer = await s.get(User, row.consumer_id)
            lang = "en" if consumer is not None and consumer.locale == "en" else "zh-CN"
            zone = ZoneInfo(self.time_zone)
            text = "\n".join(
                f"[{format_moment(m['at'], lang, zone, seconds=True)}] "
                f"{m['sender']['name']} ({m['sender']['role']}): {m['text']}"
                for m in transcript
            )
            await self.evidence.enter_record(
                hearing.case_id,
                _bytes(text.encode() + b"\n"),
                name=f"hearing-{hearing.id}-chat.txt",
                kind="chat_transcript",
                media_type="text/plain",
                # caucus messages are in it: only the mediator may read the whole transcript
                visibility="mediator_only"
                if any(m["audience"] != "all" for m in transcript)
                else "all_parties",
            )
        record = await self._call_record(hearing.id)
        await self.evidence.enter_record(
            hearing.case_id,
            _bytes(json.dumps(record.public(), ensure_ascii=False, indent=2).encode()),
            name=f"hearing-{hearing.id}-call-record.json",
            kind="call_record",
            media_type="application/json",
        )

    # -- reading ------------------------------------------------------------------------------

    async def _readable(self, actor: Actor, hearing_id: int) -> Hearing:
        async with self.sessionmaker() as s:
            hearing = await hearing_repo.load(s, hearing_id)
        authorize(actor, Action.VIEW_HEARING, hearing.hearing_scope())
        return hearing

    async def transcript(self, actor: Actor, hearing_id: int) -> list[dict[str, Any]]:
        """The chat as this reader may see it (caucus messages only for their side)."""
        hearing = await self._readable(actor, hearing_id)
        side = _side_or_none(actor, hearing)
        return [
            m
            for m in await self._transcript(hearing_id)
            if m["audience"] == "all" or side in (m["audience"], MEDIATOR_SIDE)
        ]

    async def _transcript(self, hearing_id: int) -> list[dict[str, Any]]:
        async with self.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(HearingMessage, User.display_name)
                    .join(User, User.id == HearingMessage.sender_id)
                    .where(HearingMessage.hearing_id == hearing_id)
                    .order_by(HearingMessage.sequence)
                )
            ).all()
        return [_chat_public(row, name) for row, name in rows]

    async def call_record(self, actor: Actor, hearing_id: int) -> CallRecord:
        await self._readable(actor, hearing_id)
        return await self._call_record(hearing_id)

    async def _call_record(self, hearing_id: int) -> CallRecord:
        async with self.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(HearingLogEntry, User.display_name)
                    .outerjoin(User, User.id == HearingLogEntry.user_id)
                    .where(HearingLogEntry.hearing_id == hearing_id)
                    .order_by(HearingLogEntry.at, HearingLogEntry.id)
                )
            ).all()
        entries = [(e.at, e.kind, e.user_id, name or "", dict(e.details or {})) for e, name in rows]
        return summarise(hearing_id, entries)

    async def recordings(self, actor: Actor, hearing_id: int) -> list[dict[str, Any]]:
        await self._readable(actor, hearing_id)
        async with self.sessionmaker() as s:
            rows = (
                await s.execute(
                    select(HearingRecording, User.display_name)
                    .join(User, User.id == HearingRecording.user_id)
                    .where(HearingRecording.hearing_id == hearing_id)
                    .order_by(HearingRecording.started_at, HearingRecording.id)
                )
            ).all()
        return [
            {
                "id": r.id,
                "user_id": r.user_id,
                "name": name,
                "file": Path(r.path).name,
                "sha256": r.sha256,
                "size": r.size,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat(),
                "evidence_sequence": r.evidence_sequence,
            }
            for r, name in rows
        ]

    async def recording_path(self, actor: Actor, hearing_id: int, recording_id: int) -> Path:
        """The file of a recording segment (staff openings go to the access log)."""
        hearing = await self._readable(actor, hearing_id)
        async with self.sessionmaker() as s:
            row = await s.get(HearingRecording, recording_id)
        if row is None or row.hearing_id != hearing_id:
            raise NotFound("No such recording.", code="recording_not_found")
        path = self.recordings_dir / row.path
        if not path.is_file():
            raise NotFound("The recording file is missing.", code="recording_not_found")
        if self.access is not None:
            await self.access.record(
                actor, hearing.case_id, AccessKind.RECORDING, str(recording_id)
            )
        return path

    async def minutes(self, actor: Actor, hearing_id: int) -> dict[str, Any]:
        hearing = await self._readable(actor, hearing_id)
        updated = hearing.minutes_updated_at
        return {"text": hearing.minutes, "updated_at": updated.isoformat() if updated else None}

    async def write_minutes(self, actor: Actor, hearing_id: int, text: str) -> dict[str, Any]:
        now = self.clock()
        async with self.uow() as uow:
            hearing = await hearing_repo.load(uow.session, hearing_id)
            hearing.write_minutes(actor, now, text)
            await hearing_repo.save(uow.session, hearing)
            await uow.commit()
        return {"text": hearing.minutes, "updated_at": now.isoformat()}


def _closed_segments(root: Path) -> list[tuple[int, int, Path]]:
    """(hearing id, user id, path) of every closed segment under ``root/<hearing id>/``."""
    found = []
    for folder in sorted(root.iterdir()):
        hearing_id = parse_int(folder.name, minimum=1)
        if hearing_id is None or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = parse_segment_name(path.name)
            user_id = participant_of(name.stem) if name and not name.open else None
            if user_id is not None:
                found.append((hearing_id, user_id, path))
    return found


@dataclass(frozen=True)
class _RecoveredSegment:
    path: Path
    sha256: str
    size: int
    started_at: datetime
    ended_at: datetime

    @classmethod
    def of(cls, path: Path) -> _RecoveredSegment:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        stat = path.stat()
        ended = datetime.fromtimestamp(stat.st_mtime, UTC)
        return cls(path, digest.hexdigest(), stat.st_size, ended, ended)


def _side(actor: Actor, hearing: Hearing) -> str:
    """The side the actor joins on; `Forbidden`/`NotFound` through authorisation otherwise."""
    scope = hearing.hearing_scope()
    if actor.user_id == hearing.mediator_id:
        authorize(actor, Action.MODERATE_HEARING, scope)
        return MEDIATOR_SIDE
    authorize(actor, Action.JOIN_HEARING, scope)
    side = side_of(actor.role)
    if side is None:
        raise Forbidden("Only the parties and the mediator join a hearing.", code="forbidden")
    return side.value


def _side_or_none(actor: Actor, hearing: Hearing) -> str | None:
    if actor.user_id == hearing.mediator_id:
        return MEDIATOR_SIDE
    side = side_of(actor.role)
    return side.value if side else None


async def _message_by_client_id(
    s: AsyncSession, sender: Attendee, client_id: str
) -> HearingMessage | None:
    stmt = select(HearingMessage).where(
        HearingMessage.hearing_id == sender.hearing_id,
        HearingMessage.sender_id == sender.user_id,
        HearingMessage.client_id == client_id,
    )
    return (await s.execute(stmt)).scalar_one_or_none()


def _chat_public(row: HearingMessage, name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "sequence": row.sequence,
        "at": row.at.isoformat(),
        "sender": {"user_id": row.sender_id, "name": name, "role": row.sender_role},
        "text": row.text,
        "masked": row.masked,
        "audience": row.audience,
    }
