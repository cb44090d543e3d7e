"""Application state, declared in one place as typed keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from odr.config import Settings
from odr.jobs import JobQueue
from odr.services.accounts import Logins
from odr.services.bus import Bus
from odr.services.cases import CaseService
from odr.services.evidence import EvidenceService
from odr.services.hearings import HearingRoomService
from odr.services.outcomes import OutcomeService
from odr.services.passwords import Passwords
from odr.services.ratelimit import RateLimiter
from odr.services.scheduling import SchedulingService

PageErrorRenderer = Callable[[web.Request, int, str, str], Awaitable[web.Response]]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
REDIS = web.AppKey("redis", Redis)  # present only when Redis is configured
PASSWORDS = web.AppKey("passwords", Passwords)
LIMITER = web.AppKey("limiter", RateLimiter)
LOGINS = web.AppKey("logins", Logins)
JOBS = web.AppKey("jobs", JobQueue)
BUS = web.AppKey("bus", Bus)
CASES = web.AppKey("cases", CaseService)
EVIDENCE = web.AppKey("evidence", EvidenceService)
SCHEDULING = web.AppKey("scheduling", SchedulingService)
HEARINGS = web.AppKey("hearings", HearingRoomService)
OUTCOMES = web.AppKey("outcomes", OutcomeService)
PAGE_ERROR_RENDERER: web.AppKey[PageErrorRenderer] = web.AppKey("page_error_renderer")
