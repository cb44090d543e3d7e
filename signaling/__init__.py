"""Realtime hearings: the WebSocket protocol, rooms, the media relay, recording.

It uses `odr`'s services, never its tables, and knows nothing of `web`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from odr.http import keys

log = logging.getLogger("odr.signaling")


def setup(app: web.Application) -> None:
    """The hearing socket route, and this node's rooms (made when the app starts)."""
    from signaling.ws import setup_routes

    setup_routes(app)
    app.cleanup_ctx.append(_rooms)


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    from aiortc import RTCIceServer

    from signaling.cluster import Leases, LocalLeases, RedisLeases
    from signaling.host import ROOM_SLOTS, RoomHost
    from signaling.media_addresses import use_media_addresses
    from signaling.relay import Relay
    from signaling.ws import HOST

    settings = app[keys.SETTINGS]
    use_media_addresses(settings.media_addresses)
    leases: Leases = RedisLeases(app[keys.REDIS]) if keys.REDIS in app else LocalLeases()
    # the relay needs STUN (to learn its public address), not TURN: it is the public side
    servers = [
        RTCIceServer(server["urls"])
        for server in settings.ice_servers
        if all(str(u).startswith("stun") for u in _urls(server))
    ]
    host = RoomHost(
        app[keys.HEARINGS],
        app[keys.BUS],
        leases,
        settings.recordings_dir,
        relay_factory=lambda: Relay(ice_servers=servers, slots=ROOM_SLOTS),
        segment_seconds=settings.recording_segment_seconds,
    )
    app[HOST] = host
    recovered = await app[keys.HEARINGS].recover_segments()
    if recovered:
        log.warning("entered %d recording segments a crash had left out", recovered)
    yield
    await host.close()


def _urls(server: Mapping[str, Any]) -> list[str]:
    urls = server["urls"]
    return urls if isinstance(urls, list) else [urls]
