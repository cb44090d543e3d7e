"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from sqlalchemy import text

from odr.http.errors import HttpError
from odr.http.keys import ENGINE, METRICS, REDIS, SETTINGS
from odr.metrics import CONTENT_TYPE

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


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format, for a scraper holding the metrics token."""
    token = request.app[SETTINGS].metrics_token
    if token is None:
        raise HttpError(404, "metrics_disabled", "Metrics are not enabled on this node.")
    supplied = request.headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
        raise HttpError(
            401, "metrics_token_required", "Send the metrics token: Authorization: Bearer TOKEN."
        )
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
