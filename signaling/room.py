"""One hearing's room on the node that holds its media: participants, controls, chat, recording.

Sockets (local, or on another node through `signaling.cluster`) are `Connection`s; what they
send arrives here already parsed. Every change to the room is applied to `RoomState`, then the
relay is told what each participant may receive, then everyone is sent the new state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from odr.domain.errors import DomainError, Forbidden
from odr.domain.recording_names import participant_stem
from odr.metrics import Metrics
from odr.services.hearing_room import Attendee, HearingRoomService
from signaling import protocol as p
from signaling.recorder import ParticipantRecorder, Segment
from signaling.relay import Relay
from signaling.room_state import Member, RoomState

log = logging.getLogger("odr.signaling.room")

EMPTY_ROOM_GRACE = 60.0  # seconds an empty room waits for someone to come back


class Connection(Protocol):
    """One participant's socket, wherever it is served."""

    id: str

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message (never blocks; a socket that cannot keep up is closed)."""

    def close(self, code: int, reason: str) -> None: ...


class Room:
    def __init__(
        self,
        hearing_id: int,
        service: HearingRoomService,
        relay: Relay,
        recordings_dir: Path,
        *,
        ice_servers: Callable[[int], list[dict[str, Any]]] = lambda _user: [],
        on_closed: Callable[[Room], Any] | None = None,
        segment_seconds: float = 60.0,
        slots: int = 5,
        segment_entries: asyncio.Semaphore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.hearing_id = hearing_id
        self.metrics = metrics
        self.slots = slots
        self.service = service
        self.relay = relay
        self.directory = recordings_dir / str(hearing_id)
        self.state = RoomState()
        self.ice_servers = ice_servers
        self.segment_seconds = segment_seconds
        #: closed segments entered into evidence at once, shared by the node's rooms: every
        #: participant's segment closes at the same moment, and each entry is a transaction on
        #: the case (they would otherwise take the whole database pool and retry each other's
        #: version conflicts)
        self._segment_entries = segment_entries or asyncio.Semaphore(1)
        self._on_closed = on_closed
        self._conns: dict[int, Connection] = {}  # user id -> its current socket
        self._users: dict[str, int] = {}  # socket id -> user id
        self._slots: dict[int, dict[str, int]] = {}  # subscriber -> {publisher: slot}
        self._recorders: dict[int, tuple[ParticipantRecorder, Callable[[], None]]] = {}
        self._seen: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._empty_timer: asyncio.TimerHandle | None = None
        self.closed = False
        relay.on_gone(self._media_gone)

    # -- sockets --------------------------------------------------------------------------------

    async def attach(self, conn: Connection, attendee: Attendee) -> None:
        """A socket whose join was verified. A second socket of the same user replaces the
        first (a reload, or a reconnect before the old socket timed out)."""
        if self.closed or self.state.ended:
            conn.send(p.error("hearing_ended", "This hearing has ended."))
            conn.close(4410, "hearing ended")
            return
        self._cancel_empty_timer()
        uid = attendee.user_id
        old = self._conns.get(uid)
        if old is not None and old.id != conn.id:
            self._users.pop(old.id, None)
            old.send(p.notice("replaced"))
            old.close(4409, "replaced by a newer connection")
            await self._stop_media(uid)
        self._conns[uid] = conn
        self._users[conn.id] = uid
        member = self.state.arrive(attendee)
        kind = "reconnect" if uid in self._seen else "join"
        self._seen.add(uid)
        await self.service.log(self.hearing_id, kind, uid, {"lobby": not member.admitted})
        if attendee.moderates:
            await self.service.begin(attendee)
        conn.send(
            p.welcome(
                {
                    "user_id": uid,
                    "name": attendee.name,
                    "role": attendee.role,
                    "side": attendee.side,
                },
                self.ice_servers(uid),
                self.slots,
                in_lobby=not member.admitted,
            )
        )
        self._broadcast()

    async def detach(self, conn_id: str) -> None:
        uid = self._users.pop(conn_id, None)
        if uid is None or self._conns.get(uid) is None or self._conns[uid].id != conn_id:
            return
        del self._conns[uid]
        was_in = uid in self.state.members and self.state.members[uid].present
        self.state.depart(uid)
        await self._stop_media(uid)
        if was_in:
            await self.service.log(self.hearing_id, "leave", uid, {})
        self._refresh_views()
        self._broadcast()
        if not self._conns:
            self._start_empty_timer()

    async def receive(self, conn_id: str, message: Any) -> None:
        """Handle one parsed client message; every refusal is an ``error`` to the sender."""
        uid = self._users.get(conn_id)
        if uid is None:
            return
        conn = self._conns[uid]
        member = self.state.members[uid]
        try:
            await self._dispatch(conn, member, message)
        except DomainError as exc:
            conn.send(p.error(exc.code, str(exc), exc.details))
        except p.ProtocolError as exc:
            conn.send(p.error(exc.code, exc.message, exc.details))
        except Exception:
            log.exception("hearing %s: %s failed", self.hearing_id, type(message).__name__)
            conn.send(p.error("internal_error", "Something went wrong; please try again."))

    # -- messages -------------------------------------------------------------------------------

    async def _dispatch(self, conn: Connection, member: Member, m: Any) -> None:
        uid = member.user_id
        if isinstance(m, p.Ping):
            conn.send(p.pong())
            return
        if isinstance(m, p.Leave):
            await self.detach(conn.id)
            conn.close(1000, "left")
            return
        if isinstance(m, p.Join):
            raise p.ProtocolError("already_joined", "This connection has already joined.")
        if not member.admitted:
            raise Forbidden("Please wait until the mediator lets you in.", code="in_lobby")
        if isinstance(m, p.Offer):
            await self._offer(conn, member, m.sdp)
        elif isinstance(m, p.Candidate):
            await self.relay.add_ice_candidate(str(uid), m.candidate)
        elif isinstance(m, p.Chat):
            await self._chat(conn, member, m)
        elif isinstance(m, p.Mute):
            await self._mute(member, m.user_id, m.muted)
        elif isinstance(m, p.Devices):
            member.audio, member.video = m.audio, m.video
            self._broadcast()
        else:
            await self._moderate(member, m)

    async def _offer(self, conn: Connection, member: Member, sdp: str) -> None:
        uid = member.user_id
        answer = await self.relay.connect(str(uid), sdp)
        if self._conns.get(uid) is not conn or not member.admitted:
            await self.relay.disconnect(str(uid))  # left or was removed meanwhile
            return
        member.connected = True
        conn.send(p.answer(answer))
        if self.state.recording:
            self._start_recorder(uid)
        self._refresh_views()
        self._broadcast()

    async def _chat(self, conn: Connection, member: Member, m: p.Chat) -> None:
        audience = self.state.chat_audience(member)
        stored = await self.service.post_chat(
            member.attendee, client_id=m.client_id, text=m.text, audience=audience
        )
        conn.send(p.chat_ack(m.client_id, stored["id"], stored["masked"]))
        for other in self.state.inside():
            if self.state.reads(other, audience) and other.user_id in self._conns:
                self._conns[other.user_id].send(p.chat(stored))

    async def _mute(self, member: Member, target_id: int, muted: bool) -> None:
        target = self.state.members.get(target_id)
        if target is None:
            raise Forbidden("No such participant.", code="unknown_participant")
        by_self = target_id == member.user_id
        if not by_self and not (member.attendee.moderates and muted):
            raise Forbidden("Only the mediator may mute others.", code="not_moderator")
        if target.muted == muted:
            return
        target.muted = muted
        details = {"by": member.user_id}
        await self.service.log(self.hearing_id, "mute" if muted else "unmute", target_id, details)
        if not by_self and target_id in self._conns:
            self._conns[target_id].send(p.notice("muted_by_mediator"))
        self._refresh_views()
        self._broadcast()

    async def _moderate(self, member: Member, m: Any) -> None:
        if not member.attendee.moderates:
            raise Forbidden("Only the mediator may do this.", code="not_moderator")
        uid = member.user_id
        if isinstance(m, p.Caucus):
            await self._caucus(uid, m.side)
        elif isinstance(m, p.Recording):
            await self._recording(uid, m.on)
        elif isinstance(m, p.Admit):
            if self.state.admit(m.user_id) is None:
                raise Forbidden("This person is not waiting.", code="not_in_lobby")
            await self.service.log(self.hearing_id, "admit", m.user_id, {"by": uid})
            self._send(m.user_id, p.notice("admitted"))
        elif isinstance(m, p.Deny | p.Remove):
            kind = "deny" if isinstance(m, p.Deny) else "remove"
            if self.state.expel(m.user_id) is None:
                raise Forbidden("No such participant.", code="unknown_participant")
            await self._stop_media(m.user_id)
            await self.service.log(self.hearing_id, kind, m.user_id, {"by": uid})
            conn = self._conns.pop(m.user_id, None)
            if conn is not None:
                self._users.pop(conn.id, None)
                conn.send(p.notice("denied" if kind == "deny" else "removed"))
                conn.close(4403, kind)
        elif isinstance(m, p.End):
            await self.end(member.attendee)
            return
        self._refresh_views()
        self._broadcast()

    async def _caucus(self, by: int, side: str | None) -> None:
        before = self.state.caucus
        if side == before:
            return
        if before is not None:
            await self.service.log(self.hearing_id, "caucus_end", by, {"side": before})
        self.state.caucus = side
        if side is not None:
            await self.service.log(self.hearing_id, "caucus_start", by, {"side": side})
        for member in self.state.inside():
            if side is None:
                self._send(member.user_id, p.notice("caucus_ended"))
            elif self.state.excluded(member):
                self._send(member.user_id, p.notice("caucus_excluded", side=side))
            else:
                self._send(member.user_id, p.notice("caucus_started", side=side))

    async def _recording(self, by: int, on: bool) -> None:
        if self.state.recording == on:
            return
        self.state.recording = on
        await self.service.log(self.hearing_id, "recording_on" if on else "recording_off", by, {})
        if on:
            for member in self.state.inside():
                if member.connected:
                    self._start_recorder(member.user_id)
        else:
            await asyncio.gather(*(self._stop_recorder(u) for u in list(self._recorders)))

    async def end(self, by: Attendee) -> None:
        """End the hearing: close every recording (entered as evidence), record the call record
        and the transcript, tell everyone, release everything."""
        self.state.ended = True
        self.state.recording = False
        await asyncio.gather(*(self._stop_recorder(u) for u in list(self._recorders)))
        present = [m.user_id for m in self.state.members.values() if m.admitted]
        for uid in list(self._conns):
            await self.relay.disconnect(str(uid))
        await self.service.finish(by, present)
        for uid, conn in list(self._conns.items()):
            conn.send(p.notice("hearing_ended"))
            conn.close(4410, "hearing ended")
            self._users.pop(conn.id, None)
            del self._conns[uid]
        await self.close()

    # -- media ----------------------------------------------------------------------------------

    def _refresh_views(self) -> None:
        for member in self.state.members.values():
            uid = member.user_id
            if member.connected and member.present and member.admitted:
                view = [(str(pub), a, v) for pub, a, v in self.state.view(uid)]
                self._slots[uid] = self.relay.show(str(uid), view)
            else:
                self._slots.pop(uid, None)

    async def _media_gone(self, participant: str) -> None:
        uid = int(participant)
        member = self.state.members.get(uid)
        if member is None or not member.connected:
            return
        member.connected = False
        await self._stop_recorder(uid)
        await self.service.log(self.hearing_id, "media_lost", uid, {})
        self._refresh_views()
        self._broadcast()

    async def _stop_media(self, uid: int) -> None:
        member = self.state.members.get(uid)
        if member is not None:
            member.connected = False
        await self._stop_recorder(uid)
        await self.relay.disconnect(str(uid))

    def _start_recorder(self, uid: int) -> None:
        if uid in self._recorders:
            return
        self.directory.mkdir(parents=True, exist_ok=True)

        async def closed(segment: Segment) -> None:
            async with self._segment_entries:
                try:
                    await self.service.add_segment(self.hearing_id, uid, segment)
                except Exception:
                    if self.metrics is not None:
                        self.metrics.segments_failed.inc()
                    raise
            if self.metrics is not None:
                self.metrics.segment_entered(segment.ended_at.timestamp())

        recorder = ParticipantRecorder(
            self.directory,
            participant_stem(uid),
            segment_seconds=self.segment_seconds,
            on_closed=closed,
            request_keyframe=lambda: self.relay.request_keyframe(str(uid)),
        )
        self._recorders[uid] = (recorder, self.relay.tap(str(uid), recorder.feed))

    async def _stop_recorder(self, uid: int) -> None:
        entry = self._recorders.pop(uid, None)
        if entry is not None:
            recorder, untap = entry
            untap()
            await recorder.close()

    # -- state ----------------------------------------------------------------------------------

    def _send(self, uid: int, message: dict[str, Any]) -> None:
        conn = self._conns.get(uid)
        if conn is not None:
            conn.send(message)

    def _broadcast(self) -> None:
        for uid, conn in self._conns.items():
            slots = self._slots.get(uid, {})
            conn.send(p.room_state({**self.state.public(uid), "slots": slots}))

    def _start_empty_timer(self) -> None:
        if self._empty_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._empty_timer = loop.call_later(EMPTY_ROOM_GRACE, self._fire_empty)

    def _cancel_empty_timer(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
            self._empty_timer = None

    def _fire_empty(self) -> None:
        self._empty_timer = None
        if not self._conns:
            task = asyncio.ensure_future(self.close())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def empty(self) -> bool:
        return not self._conns

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_empty_timer()
        await asyncio.gather(*(self._stop_recorder(u) for u in list(self._recorders)))
        with contextlib.suppress(Exception):
            await self.relay.close()
        if self._on_closed is not None:
            await self._on_closed(self)
