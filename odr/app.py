"""The application factory: it only wires parts together (no I/O until the app starts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp_session
from aiohttp import web
from aiohttp_session.redis_storage import RedisStorage
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from odr.api.routes import setup_api
from odr.config import Settings
from odr.http import keys
from odr.http.middleware import csrf, errors, request_context, security_headers
from odr.http.sessions import COOKIE_NAME, DatabaseStorage
from odr.jobs import JobContext
from odr.jobs.runners import ArqQueue, InProcessRunner
from odr.jobs.tasks import JOBS, PERIODIC
from odr.services.accounts import LoginPolicy, Logins
from odr.services.bus import Bus, MemoryBus, RedisBus
from odr.services.cases import case_service
from odr.services.evidence import EvidenceService, blob_store
from odr.services.hearings import HearingRoomService
from odr.services.outbox import senders_for
from odr.services.outcomes import OutcomeService, load_rules
from odr.services.passwords import Passwords
from odr.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from odr.services.scheduling import scheduling_service
from odr.storage.db import make_engine, make_sessionmaker

MAX_REQUEST_BYTES = 1024 * 1024  # bodies read whole; uploads stream past this limit


def create_app(settings: Settings, *, passwords: Passwords | None = None) -> web.Application:
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    secure = settings.public_url.startswith("https://")
    if redis is not None:
        storage: aiohttp_session.AbstractStorage = RedisStorage(
            redis,
            cookie_name=COOKIE_NAME,
            max_age=settings.session_ttl,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        limiter: RateLimiter = RedisRateLimiter(redis)
    else:
        storage = DatabaseStorage(sessionmaker, max_age=settings.session_ttl, secure=secure)
        limiter = MemoryRateLimiter()

    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[
            request_context,
            aiohttp_session.session_middleware(storage),
            errors,
            csrf,
        ],
    )
    app.on_response_prepare.append(security_headers)
    app[keys.SETTINGS] = settings
    app[keys.ENGINE] = engine
    app[keys.SESSIONMAKER] = sessionmaker
    if redis is not None:
        app[keys.REDIS] = redis
    app[keys.PASSWORDS] = passwords or Passwords()
    app[keys.LIMITER] = limiter
    bus: Bus = RedisBus(redis) if redis is not None else MemoryBus()
    app[keys.BUS] = bus
    app[keys.CASES] = case_service(settings, sessionmaker, bus)
    app[keys.SCHEDULING] = scheduling_service(settings, app[keys.CASES])
    app[keys.EVIDENCE] = EvidenceService(
        sessionmaker,
        blob_store(settings),
        bus,
        max_file_bytes=settings.max_file_bytes,
        max_case_bytes=settings.max_case_bytes,
    )
    app[keys.HEARINGS] = HearingRoomService(
        sessionmaker,
        app[keys.EVIDENCE],
        bus,
        secret_key=settings.secret_key,
        recordings_dir=settings.recordings_dir,
        ice_servers=settings.ice_servers,
        turn_secret=settings.turn_secret,
    )
    app[keys.LOGINS] = Logins(
        app[keys.PASSWORDS],
        limiter,
        LoginPolicy(max_failures=settings.login_max_failures, window=settings.login_window),
    )
    app[keys.OUTCOMES] = OutcomeService(
        app[keys.CASES], app[keys.EVIDENCE], app[keys.LOGINS], load_rules()
    )
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_jobs)

    setup_api(app)
    import signaling
    import web as pages

    pages.setup(app)
    signaling.setup(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[keys.EVIDENCE].store.close()
    if keys.REDIS in app:
        await app[keys.REDIS].aclose()
    await app[keys.ENGINE].dispose()


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    ctx = JobContext(settings=settings, sessionmaker=app[keys.SESSIONMAKER])
    ctx.services["cases"] = app[keys.CASES]
    ctx.services["evidence"] = app[keys.EVIDENCE]
    ctx.services["scheduling"] = app[keys.SCHEDULING]
    ctx.services["outcomes"] = app[keys.OUTCOMES]
    ctx.services["senders"] = senders_for(settings.smtp_url, settings.mail_from)
    if settings.run_jobs_in_process or not settings.redis_url:
        runner = InProcessRunner(ctx, JOBS, PERIODIC)
        app[keys.JOBS] = runner
        runner.start()
        yield
        await runner.stop()
    else:
        pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        app[keys.JOBS] = ArqQueue(pool)
        yield
        await pool.aclose()
