"""The application factory: it only wires parts together (no I/O until the app starts)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp_session
from aiohttp import web
from aiohttp_session.redis_storage import RedisStorage

from odr.api.routes import setup_api
from odr.bootstrap import Services, build_services
from odr.config import Settings
from odr.http import keys
from odr.http.middleware import (
    csrf,
    errors,
    input_guard,
    request_context,
    security_headers,
)
from odr.http.sessions import COOKIE_NAME, DatabaseStorage
from odr.jobs import JobContext
from odr.jobs.runners import ArqQueue, InProcessRunner
from odr.jobs.tasks import JOBS, PERIODIC, read_text_after_upload
from odr.services.passwords import Passwords
from odr.storage.redis import make_job_queue_redis

MAX_REQUEST_BYTES = 1024 * 1024  # bodies read whole; uploads stream past this limit


def create_app(settings: Settings, *, passwords: Passwords | None = None) -> web.Application:
    services = build_services(settings, passwords=passwords)
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[
            request_context,
            aiohttp_session.session_middleware(_session_storage(services)),
            errors,
            input_guard,
            csrf,
        ],
    )
    app.on_response_prepare.append(security_headers)
    _expose(app, services)
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_jobs)

    setup_api(app)
    import signaling
    import web as pages

    pages.setup(app)
    signaling.setup(app)
    return app


def create_metrics_app(services: Services) -> web.Application:
    """Only /metrics, for a process that serves nothing else (`odr worker`)."""
    from odr.api.health import metrics

    app = web.Application(middlewares=[request_context, errors])
    app[keys.SETTINGS] = services.settings
    app[keys.METRICS] = services.metrics
    app.router.add_get("/metrics", metrics, name="metrics")
    return app


def _session_storage(services: Services) -> aiohttp_session.AbstractStorage:
    """Login sessions in Redis when configured, else in the database."""
    settings = services.settings
    secure = settings.public_url.startswith("https://")
    if services.redis is not None:
        return RedisStorage(
            services.redis,
            cookie_name=COOKIE_NAME,
            max_age=settings.session_ttl,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
    return DatabaseStorage(services.sessionmaker, max_age=settings.session_ttl, secure=secure)


def _expose(app: web.Application, services: Services) -> None:
    """The services under `keys.SERVICES`, and each under its own key (views of the same)."""
    app[keys.SERVICES] = services
    app[keys.SETTINGS] = services.settings
    app[keys.ENGINE] = services.engine
    app[keys.SESSIONMAKER] = services.sessionmaker
    if services.redis is not None:
        app[keys.REDIS] = services.redis
    app[keys.PASSWORDS] = services.passwords
    app[keys.LIMITER] = services.limiter
    app[keys.BUS] = services.bus
    app[keys.LOGINS] = services.logins
    app[keys.CASES] = services.cases
    app[keys.SCHEDULING] = services.scheduling
    app[keys.EVIDENCE] = services.evidence
    app[keys.HEARING_ROOM] = services.hearing_room
    app[keys.AGREEMENTS] = services.agreements
    app[keys.OFFERS] = services.offers
    app[keys.PAYMENTS] = services.payments
    app[keys.CLOSING] = services.closing
    app[keys.RATINGS] = services.ratings
    app[keys.ACCOUNTS] = services.accounts
    app[keys.CODES] = services.codes
    app[keys.ACCOUNT_CODES] = services.account_codes
    app[keys.CASE_VIEWS] = services.case_views
    app[keys.CHANNELS] = services.channels
    app[keys.DASHBOARD] = services.dashboard
    app[keys.WARNINGS] = services.warnings
    app[keys.DIGESTS] = services.digests
    app[keys.STAFF_DIRECTORY] = services.staff_directory
    app[keys.CARE] = services.care
    app[keys.CALLBACKS] = services.callbacks
    app[keys.ADMIN] = services.admin
    app[keys.INBOX] = services.inbox
    app[keys.LOGIN_SESSIONS] = services.login_sessions
    app[keys.ACCESS_LOG] = services.access_log
    app[keys.MY_ACCOUNT] = services.my_account
    app[keys.EVIDENCE_TEXT] = services.evidence_text
    app[keys.METRICS] = services.metrics


async def _resources(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[keys.SERVICES].aclose()


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    services = app[keys.SERVICES]
    settings = services.settings
    if settings.run_jobs_in_process or not settings.redis_url:
        runner = InProcessRunner(JobContext(services), JOBS, PERIODIC)
        app[keys.JOBS] = runner
        services.evidence.added.append(read_text_after_upload(runner))

        async def queued_here() -> None:
            services.metrics.jobs_queued.set(runner.queued)

        services.metrics.probe(queued_here)
        runner.start()
        yield
        await runner.stop()
    else:
        pool = make_job_queue_redis(settings.redis_url)  # connects on first use
        queue = ArqQueue(pool)
        app[keys.JOBS] = queue
        services.evidence.added.append(read_text_after_upload(queue))

        async def queued_in_redis() -> None:
            services.metrics.jobs_queued.set(await queue.queued())

        services.metrics.probe(queued_in_redis)
        yield
        await pool.aclose()
