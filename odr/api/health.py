"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from odr.http.keys import ENGINE, REDIS

CHECK_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}

    async def database() -> None:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        await request.app[REDIS].ping()

    probes = {"database": database}
    if REDIS in request.app:
        probes["redis"] = redis
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready
            checks[name] = f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
