"""Realtime hearings: the WebSocket protocol, rooms, the media relay, recording.

It uses `odr`'s services, never its tables, and knows nothing of `web`.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register the hearing socket routes (added by the hearings work)."""
