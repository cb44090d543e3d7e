"""Realtime hearings: the WebSocket protocol, rooms, the media relay, recording.

It uses `odr`'s services, never its tables, and knows nothing of `web`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from odr.http import keys

log = logging.getLogger("odr.signaling")


def setup(app: web.Application) -> None:
    """The hearing socket route, and this node's rooms (made when the app starts)."""
    # aiortc and PyAV are heavy: the realtime modules load when the app is set up, not at import
    from signaling.ws import setup_routes

    setup_routes(app)
    app.cleanup_ctx.append(_rooms)


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    # aiortc and PyAV are heavy: loaded when the rooms start, not when the package is imported
    from aiortc import RTCIceServer

    from signaling.cluster import Leases, LocalLeases, RedisLeases
    from signaling.host import ROOM_SLOTS, RoomHost
    from signaling.ice import harden_ice
    from signaling.media_addresses import use_media_addresses
    from signaling.metrics import HearingCollector
    from signaling.relay import MediaTotals, Relay
    from signaling.ws import HOST

    settings = app[keys.SETTINGS]
    use_media_addresses(settings.media_addresses)
    harden_ice()
    leases: Leases = RedisLeases(app[keys.REDIS]) if keys.REDIS in app else LocalLeases()
    # the relay needs STUN (to learn its public address), not TURN: it is the public side
    servers = [
        RTCIceServer(server["urls"])
        for server in settings.ice_servers
        if all(str(u).startswith("stun") for u in _urls(server))
    ]
    totals = MediaTotals()  # every relay of this node adds to it
    metrics = app[keys.METRICS]
    host = RoomHost(
        app[keys.HEARING_ROOM],
        app[keys.BUS],
        leases,
        settings.recordings_dir,
        relay_factory=lambda: Relay(ice_servers=servers, slots=ROOM_SLOTS, totals=totals),
        segment_seconds=settings.recording_segment_seconds,
        max_rooms=settings.max_live_hearings,
        metrics=metrics,
    )
    app[HOST] = host
    collector = HearingCollector(host, totals)
    metrics.register(collector)
    # in the background: the node serves (and /readyz says why not ready) while the database
    # is away at start, and enters what a crash left out once it is back
    recovery = asyncio.create_task(_recover_segments(app))
    yield
    recovery.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await recovery
    await host.close()
    metrics.unregister(collector)


async def _recover_segments(app: web.Application) -> None:
    wait = 0.5
    while True:
        try:
            recovered = await app[keys.HEARING_ROOM].recover_segments()
        except Exception as error:  # the database is not there yet: try again
            log.warning(
                "could not look for recording segments yet (%s); again in %.0fs", error, wait
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)
            continue
        if recovered:
            log.warning("entered %d recording segments a crash had left out", recovered)
        return


def _urls(server: Mapping[str, Any]) -> list[str]:
    urls = server["urls"]
    return urls if isinstance(urls, list) else [urls]
