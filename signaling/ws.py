"""The hearing socket, ``/ws/hearings/{id}``: one per participant.

Checked before the upgrade: the Origin (a browser page of another site cannot open it) and the
login session. Then the first message must be ``join`` with the protocol version, the consent to
recording and a join token of the same user for this hearing, within `JOIN_TIMEOUT` seconds.
After that each message is rate-limited and handed to the room; what the room sends goes
through a bounded queue (a socket that cannot keep up is closed; the client reconnects and gets
the whole state again). Heartbeats find dead sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from odr.domain.errors import AtCapacity, DomainError
from odr.domain.numbers import parse_int
from odr.http.auth import current_user
from odr.http.errors import json_error
from odr.http.keys import METRICS, SETTINGS
from signaling import protocol as p
from signaling.host import Link, RoomHost

log = logging.getLogger("odr.signaling.ws")

HOST: web.AppKey[RoomHost] = web.AppKey("hearing_rooms", RoomHost)

JOIN_TIMEOUT = 10.0
HEARTBEAT = 15.0
SEND_QUEUE = 256  # messages waiting for a slow socket before it is closed
RATE = 20.0  # messages per second, sustained
BURST = 40
MAX_REFUSALS = 100  # rate-limited messages before the socket is closed
MAX_FRAME = 4 * p.MAX_MESSAGE_BYTES  # larger frames close the socket (1009)


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SocketConnection:
    """A local socket as the room sees it: sends are queued, never awaited by the room."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.id = uuid.uuid4().hex
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SEND_QUEUE)
        self.closing: tuple[int, str] | None = None
        self.writer: asyncio.Future[Any] = asyncio.create_task(self._write())

    def send(self, message: dict[str, Any]) -> None:
        if self.closing is not None:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("socket %s cannot keep up; closing it", self.id)
            self.close(4008, "too slow")

    def close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            if self.queue.full():  # the writer is stuck behind a full queue: close now
                self.writer.cancel()
                self.writer = asyncio.ensure_future(
                    self.ws.close(code=code, message=reason.encode())
                )

    async def _write(self) -> None:
        try:
            while (message := await self.queue.get()) is not None:
                await self.ws.send_str(json.dumps(message, ensure_ascii=False))
        except (ConnectionError, RuntimeError):
            return
        code, reason = self.closing or (1000, "")
        await self.ws.close(code=code, message=reason.encode())

    async def finish(self) -> None:
        self.close(1000, "")
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.writer, 2.0)


def origin_allowed(request: web.Request) -> bool:
    """Same-origin pages only. Non-browser clients send no Origin and are let through (the
    session and the join token still have to be right)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    public = urlsplit(request.app[SETTINGS].public_url)
    allowed = {f"{public.scheme}://{public.netloc}", f"{request.scheme}://{request.host}"}
    return origin.rstrip("/") in allowed


async def hearing_socket(request: web.Request) -> web.StreamResponse:
    hearing_id = parse_int(request.match_info["hearing_id"], minimum=1)
    if hearing_id is None:
        return json_error(404, "hearing_not_found", "No such hearing.")
    if not origin_allowed(request):
        return json_error(403, "origin_not_allowed", "This page may not open the hearing.")
    user = await current_user(request)
    if user is None:
        return json_error(401, "unauthenticated", "Please log in.")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    conn = SocketConnection(ws)
    link: Link | None = None
    sockets = request.app[METRICS].socket_connections
    sockets.inc()
    try:
        link = await _join(request, ws, conn, hearing_id, user.actor)
        if link is not None:
            await _serve(ws, conn, link)
    finally:
        # The handler may be cancelled (a client that vanished): the cleanup runs to the end
        # anyway, or the participant's media connection and this socket's writer would leak.
        cleanup = asyncio.ensure_future(_leave(link, conn))
        _CLEANUPS.add(cleanup)
        cleanup.add_done_callback(_CLEANUPS.discard)
        sockets.dec()
        await asyncio.shield(cleanup)
    return ws


_CLEANUPS: set[asyncio.Future[None]] = set()


async def _leave(link: Link | None, conn: SocketConnection) -> None:
    if link is not None:
        try:
            await link.detach()
        except Exception:
            log.exception("leaving the room failed")
    await conn.finish()


async def _join(
    request: web.Request,
    ws: web.WebSocketResponse,
    conn: SocketConnection,
    hearing_id: int,
    actor: Any,
) -> Link | None:
    try:
        first = await asyncio.wait_for(ws.receive(), JOIN_TIMEOUT)
    except TimeoutError:
        conn.send(p.error("join_timeout", "Send join first."))
        conn.close(4408, "join timeout")
        return None
    if first.type is WSMsgType.BINARY:  # answered like a bad text message, not dropped
        conn.send(p.error("malformed_message", "Send text messages."))
        conn.close(4401, "join refused")
        return None
    if first.type is not WSMsgType.TEXT:
        return None
    try:
        join = p.parse(first.data)
        if not isinstance(join, p.Join):
            raise p.ProtocolError("join_first", "The first message must be join.")
        if join.v != p.VERSION:
            raise p.ProtocolError(
                "unsupported_version", "Please reload the page.", {"supported": p.VERSION}
            )
        if not join.consent_recording:
            raise p.ProtocolError(
                "consent_required", "Please read and accept the recording notice first."
            )
        host = request.app[HOST]
        attendee = await host.service.verify(join.token, actor, hearing_id)
        return await host.attach(hearing_id, conn, attendee)
    except p.ProtocolError as exc:
        conn.send(p.error(exc.code, exc.message, exc.details))
    except AtCapacity as exc:  # not final: the page tries again after a while
        conn.send(p.error(exc.code, str(exc), exc.details))
        conn.close(4503, "at capacity")
        return None
    except DomainError as exc:
        conn.send(p.error(exc.code, str(exc), exc.details))
    conn.close(4401, "join refused")
    return None


async def _serve(ws: web.WebSocketResponse, conn: SocketConnection, link: Link) -> None:
    bucket = TokenBucket(RATE, BURST)
    refusals = 0
    async for frame in ws:
        if conn.closing is not None:
            break
        if frame.type is not WSMsgType.TEXT:
            if frame.type is WSMsgType.BINARY:
                conn.send(p.error("malformed_message", "Send text messages."))
            continue
        if not bucket.take():
            refusals += 1
            if refusals > MAX_REFUSALS:
                conn.close(4429, "too many messages")
                break
            conn.send(p.error("rate_limited", "Too many messages; slow down."))
            continue
        try:
            message = p.parse(frame.data)
        except p.ProtocolError as exc:
            conn.send(p.error(exc.code, exc.message, exc.details))
            continue
        await link.receive(message)
        if isinstance(message, p.Leave):
            break


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/ws/hearings/{hearing_id}", hearing_socket)
