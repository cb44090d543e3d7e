"""The rooms of this node, and links from sockets to rooms here or on the node holding them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odr.domain.errors import AtCapacity
from odr.metrics import Metrics
from odr.services.bus import Bus
from odr.services.hearing_room import Attendee, HearingRoomService
from signaling import protocol as p
from signaling.cluster import Leases, cancel, keep_lease, room_topic, socket_topic
from signaling.relay import Relay
from signaling.room import Connection, Room

log = logging.getLogger("odr.signaling.host")

ROOM_SLOTS = 5  # a hearing has at most 6 participants: each receives up to 5 others
ATTACH_RETRIES = 5  # a remote attach is repeated until the room answers (it may be starting)
ATTACH_RETRY_SECONDS = 1.0
#: Recording segments of the node's hearings entered into evidence at the same time.
SEGMENT_ENTRIES = 2
#: What a join refused for capacity tells the client to wait before trying again (seconds).
CAPACITY_RETRY_AFTER = 30


def at_capacity(limit: int) -> AtCapacity:
    """The refusal of a join that would open one more live hearing than `limit`."""
    return AtCapacity(
        f"This server already holds {limit} live hearings, as many as it can. "
        "Please try again in a minute.",
        code="hearings_at_capacity",
        retry_after=CAPACITY_RETRY_AFTER,
    )


class Link:
    """A socket's way to its room."""

    async def receive(self, message: Any) -> None: ...

    async def detach(self) -> None: ...


class LocalLink(Link):
    def __init__(self, room: Room, conn: Connection) -> None:
        self.room, self.conn = room, conn

    async def receive(self, message: Any) -> None:
        await self.room.receive(self.conn.id, message)

    async def detach(self) -> None:
        await self.room.detach(self.conn.id)


class RemoteLink(Link):
    """A socket on this node joined to a room on another node, over the bus."""

    def __init__(self, host: RoomHost, hearing_id: int, conn: Connection) -> None:
        self.host, self.hearing_id, self.conn = host, hearing_id, conn
        self._pump: asyncio.Task[None] | None = None
        self._answered = asyncio.Event()

    async def start(self, attendee: Attendee) -> None:
        ready = asyncio.Event()
        self._pump = asyncio.create_task(self._forward(ready))
        await ready.wait()
        message = {"op": "attach", "conn": self.conn.id, "attendee": attendee.to_dict()}
        for _ in range(ATTACH_RETRIES):
            await self.host.bus.publish(room_topic(self.hearing_id), message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), ATTACH_RETRY_SECONDS)
                return
        self.conn.send(p.error("room_unavailable", "The hearing room is not answering; retry."))
        self.conn.close(4503, "room unavailable")

    async def _forward(self, ready: asyncio.Event) -> None:
        """Deliver what the room sends to this socket; close it if the holder goes away."""
        topic = socket_topic(self.hearing_id, self.conn.id)
        async with self.host.bus.subscribe(topic) as messages:
            ready.set()
            watch = asyncio.create_task(self._watch_holder())
            try:
                async for envelope in messages:
                    self._answered.set()
                    if envelope.get("op") == "close":
                        self.conn.close(int(envelope.get("code", 1000)), envelope.get("reason", ""))
                        return
                    if envelope.get("op") == "send":
                        self.conn.send(envelope["message"])
            finally:
                await cancel(watch)

    async def _watch_holder(self) -> None:
        holder = await self.host.leases.holder(self.hearing_id)
        while True:
            await asyncio.sleep(2.0)
            now = await self.host.leases.holder(self.hearing_id)
            if now != holder:
                self.conn.send(p.error("room_moved", "The hearing moved; reconnecting."))
                self.conn.close(4503, "room moved")
                return

    async def receive(self, message: Any) -> None:
        await self.host.bus.publish(
            room_topic(self.hearing_id),
            {"op": "message", "conn": self.conn.id, "message": message.model_dump()},
        )

    async def detach(self) -> None:
        await self.host.bus.publish(
            room_topic(self.hearing_id), {"op": "detach", "conn": self.conn.id}
        )
        await cancel(self._pump)


class BusConnection:
    """A socket served by another node, as the room sees it."""

    def __init__(self, bus: Bus, hearing_id: int, conn_id: str) -> None:
        self.id = conn_id
        self._bus = bus
        self._topic = socket_topic(hearing_id, conn_id)
        self._tasks: set[asyncio.Task[None]] = set()

    def _publish(self, envelope: dict[str, Any]) -> None:
        task = asyncio.create_task(self._bus.publish(self._topic, envelope))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, message: dict[str, Any]) -> None:
        self._publish({"op": "send", "message": message})

    def close(self, code: int, reason: str) -> None:
        self._publish({"op": "close", "code": code, "reason": reason})


class RoomHost:
    """This node's rooms. `attach` joins a socket to its hearing's room, wherever it is."""

    def __init__(
        self,
        service: HearingRoomService,
        bus: Bus,
        leases: Leases,
        recordings_dir: Path,
        *,
        relay_factory: Callable[[], Relay],
        segment_seconds: float = 60.0,
        node: str | None = None,
        max_rooms: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.bus = bus
        self.leases = leases
        self.recordings_dir = recordings_dir
        self.relay_factory = relay_factory
        self.segment_seconds = segment_seconds
        self.node = node or uuid.uuid4().hex
        #: live hearings this node holds at most (None: no limit)
        self.max_rooms = max_rooms
        self.rooms: dict[int, Room] = {}
        self._segment_entries = asyncio.Semaphore(SEGMENT_ENTRIES)
        self._room_tasks: dict[int, list[asyncio.Task[Any]]] = {}
        self._opening: dict[int, asyncio.Lock] = {}

    @property
    def live(self) -> int:
        """Hearings held live on this node (a room stays live for a while once empty)."""
        return sum(not room.closed for room in self.rooms.values())

    def _full(self, hearing_id: int) -> bool:
        """Whether opening `hearing_id` here would exceed the limit (it is not live here)."""
        room = self.rooms.get(hearing_id)
        if room is not None and not room.closed:
            return False
        return self.max_rooms is not None and self.live >= self.max_rooms

    async def attach(self, hearing_id: int, conn: Connection, attendee: Attendee) -> Link:
        """Join `conn` to its hearing's room: here, or over the bus on the node holding it.
        A hearing nobody holds that this node has no room left for is refused
        (`AtCapacity`, ``hearings_at_capacity``) before its lease is claimed."""
        if self._full(hearing_id) and await self.leases.holder(hearing_id) in (None, self.node):
            raise at_capacity(self.max_rooms or 0)
        holder = await self.leases.claim(hearing_id, self.node)
        if holder != self.node:
            link = RemoteLink(self, hearing_id, conn)
            await link.start(attendee)
            return link
        room = await self._room(hearing_id)
        await room.attach(conn, attendee)
        return LocalLink(room, conn)

    async def _room(self, hearing_id: int) -> Room:
        lock = self._opening.setdefault(hearing_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(hearing_id)
            if room is not None and not room.closed:
                return room
            if self._full(hearing_id):  # other hearings opened meanwhile
                with contextlib.suppress(Exception):
                    await self.leases.release(hearing_id, self.node)
                raise at_capacity(self.max_rooms or 0)
            room = Room(
                hearing_id,
                self.service,
                self.relay_factory(),
                self.recordings_dir,
                ice_servers=self.service.ice_servers_for,
                on_closed=self._closed,
                segment_seconds=self.segment_seconds,
                slots=ROOM_SLOTS,
                segment_entries=self._segment_entries,
                metrics=self.metrics,
            )
            self.rooms[hearing_id] = room
            lost = asyncio.Event()
            listening = asyncio.Event()
            self._room_tasks[hearing_id] = [
                asyncio.create_task(keep_lease(self.leases, hearing_id, self.node, lost)),
                asyncio.create_task(self._serve_remote(room, listening)),
            ]
            await listening.wait()
            return room

    async def _serve_remote(self, room: Room, listening: asyncio.Event) -> None:
        """Sockets of other nodes, attached over the bus."""
        remote: dict[str, BusConnection] = {}
        async with self.bus.subscribe(room_topic(room.hearing_id)) as envelopes:
            listening.set()
            async for envelope in envelopes:
                try:
                    await self._remote(room, remote, envelope)
                except Exception:
                    log.exception("hearing %s: remote %s failed", room.hearing_id, envelope)

    async def _remote(
        self, room: Room, remote: dict[str, BusConnection], envelope: dict[str, Any]
    ) -> None:
        op, conn_id = envelope.get("op"), str(envelope.get("conn"))
        if op == "attach" and conn_id not in remote:
            conn = remote[conn_id] = BusConnection(self.bus, room.hearing_id, conn_id)
            await room.attach(conn, Attendee.from_dict(envelope["attendee"]))
        elif op == "message" and conn_id in remote:
            try:
                message = p.parse_dict(envelope["message"])
            except p.ProtocolError as exc:
                remote[conn_id].send(p.error(exc.code, exc.message, exc.details))
                return
            await room.receive(conn_id, message)
        elif op == "detach" and conn_id in remote:
            del remote[conn_id]
            await room.detach(conn_id)

    async def _closed(self, room: Room) -> None:
        if self.rooms.get(room.hearing_id) is room:
            del self.rooms[room.hearing_id]
            for task in self._room_tasks.pop(room.hearing_id, []):
                if task is not asyncio.current_task():
                    await cancel(task)
            with contextlib.suppress(Exception):
                await self.leases.release(room.hearing_id, self.node)

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
