"""When Redis or the database stalls (a half-open network: connections stay open, nothing
comes back) or goes away: calls fail fast instead of hanging, and everything recovers by
itself once the network heals. The faults are made by a proxy on loopback in front of the
test Redis and PostgreSQL; the shared servers themselves are never touched."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from odr.app import create_app
from odr.services import demo
from odr.services.bus import RedisBus
from odr.storage.redis import make_redis
from tests.conftest import FAST_PASSWORDS, fresh_redis, postgres_database
from tests.faults import StallingProxy, stalling_proxy
from tests.integration.conftest import seed
from tests.integration.helpers import CONSUMER

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_proxy() -> AsyncIterator[StallingProxy]:
    url = make_url(await fresh_redis())
    async with stalling_proxy(url.host or "127.0.0.1", url.port or 6379) as proxy:
        yield proxy


async def next_message(queue: Any, timeout: float) -> dict[str, Any] | None:
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return None


async def test_redis_commands_fail_fast_while_stalled_and_recover(
    redis_proxy: StallingProxy,
) -> None:
    client = make_redis(redis_proxy.url("redis", "/15"), deadline=1.0)
    try:
        assert await client.ping()
        redis_proxy.stall()
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            await client.set("odr:test:k", "v")
        assert time.monotonic() - started < 3, "a stalled Redis must not hang a command"
        assert (
            "Timeout" in type(raised.value).__name__ or "Connection" in type(raised.value).__name__
        )
        redis_proxy.heal()
        deadline = time.monotonic() + 10
        while True:  # the broken connection is replaced on a following command
            try:
                assert await client.set("odr:test:k", "v")
                break
            except Exception:
                assert time.monotonic() < deadline, "Redis did not recover within 10 s"
                await asyncio.sleep(0.2)
    finally:
        await client.aclose()


async def test_a_bus_subscription_survives_a_half_open_connection(
    redis_proxy: StallingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RedisBus, "PING_EVERY", 0.3)
    monkeypatch.setattr(RedisBus, "DEAD_AFTER", 1.0)
    subscriber = make_redis(redis_proxy.url("redis", "/15"), deadline=1.0)
    publisher = make_redis(await fresh_redis())
    bus = RedisBus(subscriber)
    try:
        async with bus.subscribe("case:1") as queue:
            await RedisBus(publisher).publish("case:1", {"n": 1})
            assert await next_message(queue, 3) == {"n": 1}
            redis_proxy.stall()
            await asyncio.sleep(2.5)  # the subscriber notices no answer and starts again
            redis_proxy.heal()
            got = None
            deadline = time.monotonic() + 10
            while got is None and time.monotonic() < deadline:
                await RedisBus(publisher).publish("case:1", {"n": 2})
                got = await next_message(queue, 0.5)
            # what was published before the stall may arrive late; then the new ones
            while got == {"n": 1}:
                got = await next_message(queue, 2)
            assert got == {"n": 2}, "the subscription did not recover within 10 s"
    finally:
        await subscriber.aclose()
        await publisher.aclose()


@pytest.fixture
async def proxied_app(
    make_settings: Any, aiohttp_client: Any
) -> AsyncIterator[tuple[Any, StallingProxy, StallingProxy]]:
    """The app on PostgreSQL and Redis, each reached through its own stalling proxy."""
    redis = make_url(await fresh_redis())
    async with postgres_database() as direct:
        await seed(make_settings(direct))
        db = make_url(direct)
        async with (
            stalling_proxy(db.host or "127.0.0.1", db.port or 5432) as db_proxy,
            stalling_proxy(redis.host or "127.0.0.1", redis.port or 6379) as redis_proxy,
        ):
            settings = make_settings(
                db.set(port=db_proxy.port).render_as_string(hide_password=False),
                redis_url=redis_proxy.url("redis", f"/{redis.database or 0}"),
            )
            client = await aiohttp_client(create_app(settings, passwords=FAST_PASSWORDS))
            yield client, db_proxy, redis_proxy
            db_proxy.heal()
            redis_proxy.heal()


async def until_ok(request: Any, limit: float = 10.0) -> float:
    """Seconds until ``request()`` answers 2xx again."""
    started = time.monotonic()
    while True:
        resp = await request()
        if resp.status < 300:
            return time.monotonic() - started
        assert resp.status == 503, (resp.status, await resp.text())
        assert time.monotonic() - started < limit, "not recovered in time"
        await asyncio.sleep(0.25)


async def answered_unavailable_fast(request: Any, limit: float = 5.0) -> None:
    started = time.monotonic()
    resp = await request()
    elapsed = time.monotonic() - started
    print(f"503 after {elapsed:.2f} s")
    assert resp.status == 503, (resp.status, await resp.text())
    body = await resp.json()
    assert body["error"]["code"] == "service_unavailable"
    assert int(resp.headers["Retry-After"]) > 0
    assert elapsed < limit, f"answered after {elapsed:.1f} s"


@pytest.mark.postgres
async def test_a_stalled_database_gives_503_fast_and_recovers(proxied_app: Any) -> None:
    client, db_proxy, _ = proxied_app

    async def insurers() -> Any:
        return await client.get("/api/v1/insurers")

    assert (await insurers()).status == 200
    db_proxy.stall()
    await answered_unavailable_fast(insurers)
    ready = await client.get("/readyz")
    assert ready.status == 503 and "database" in (await ready.json())["checks"]
    db_proxy.heal()
    stalled = await until_ok(insurers)
    db_proxy.cut()  # the database goes away altogether: refused connections
    await answered_unavailable_fast(insurers)
    db_proxy.heal()
    refused = await until_ok(insurers)
    print(f"database recovered {stalled:.2f} s after a stall, {refused:.2f} s after a cut")
    assert stalled < 10 and refused < 10


@pytest.mark.postgres
async def test_a_stalled_redis_gives_503_fast_on_login_and_recovers(proxied_app: Any) -> None:
    client, _, redis_proxy = proxied_app

    async def log_in() -> Any:
        return await client.post(
            "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
        )

    assert (await log_in()).status == 200
    client.session.cookie_jar.clear()
    redis_proxy.stall()
    await answered_unavailable_fast(log_in)
    redis_proxy.heal()
    recovered = await until_ok(log_in)
    print(f"login recovered {recovered:.2f} s after Redis came back")
    assert recovered < 10


@pytest.mark.postgres
async def test_serve_starts_while_the_database_and_redis_are_away(
    make_settings: Any, tmp_path: Any
) -> None:
    """`odr serve` listens at once, says on /readyz what is missing, and becomes ready by
    itself when the database and Redis come back."""
    redis = make_url(await fresh_redis())
    async with postgres_database() as direct:
        await seed(make_settings(direct))
        db = make_url(direct)
        async with (
            stalling_proxy(db.host or "127.0.0.1", db.port or 5432) as db_proxy,
            stalling_proxy(redis.host or "127.0.0.1", redis.port or 6379) as redis_proxy,
        ):
            db_proxy.cut()
            redis_proxy.cut()
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("ODR_")},
                "ODR_VAR_DIR": str(tmp_path / "var"),
                "ODR_LOG_LEVEL": "WARNING",
                "ODR_DATABASE_URL": db.set(port=db_proxy.port).render_as_string(
                    hide_password=False
                ),
                "ODR_REDIS_URL": redis_proxy.url("redis", f"/{redis.database or 0}"),
                "ODR_RECORDINGS_DIR": str(tmp_path / "recordings"),
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "odr.cli",
                "serve",
                "--port",
                str(port),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                async with aiohttp.ClientSession() as http:
                    assert await poll(http, f"{base}/healthz", 200, limit=20)
                    async with http.get(f"{base}/readyz") as resp:
                        assert resp.status == 503
                        checks = (await resp.json())["checks"]
                    assert checks["database"].startswith("failed")
                    assert checks["redis"].startswith("failed")
                    async with http.get(f"{base}/api/v1/insurers") as resp:
                        assert resp.status == 503
                    db_proxy.heal()
                    redis_proxy.heal()
                    started = time.monotonic()
                    assert await poll(http, f"{base}/readyz", 200, limit=10)
                    assert await poll(http, f"{base}/api/v1/insurers", 200, limit=10)
                    assert time.monotonic() - started < 10
            finally:
                proc.terminate()
                output = (await asyncio.wait_for(proc.communicate(), 15))[0].decode()
            assert proc.returncode is not None
            assert "Traceback" not in output, output


async def poll(http: aiohttp.ClientSession, url: str, status: int, *, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            async with http.get(url) as resp:
                if resp.status == status:
                    return True
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
