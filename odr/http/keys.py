"""Application state, declared in one place as typed keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from odr.bootstrap import Services
from odr.config import Settings
from odr.jobs import JobQueue
from odr.metrics import Metrics
from odr.services.access_log import AccessLog
from odr.services.account_codes import AccountCodes
from odr.services.accounts import Accounts, Logins
from odr.services.admin import Admin
from odr.services.agreements import AgreementService
from odr.services.bus import Bus
from odr.services.callbacks import Callbacks
from odr.services.care import Care
from odr.services.case_views import CaseViews
from odr.services.cases import CaseService
from odr.services.channels import Channels
from odr.services.closing import ClosingService
from odr.services.codes import Codes
from odr.services.dashboard import Dashboard
from odr.services.digests import Digests
from odr.services.evidence import EvidenceService
from odr.services.evidence_text import EvidenceTextService
from odr.services.hearing_room import HearingRoomService
from odr.services.inbox import Inbox
from odr.services.login_sessions import LoginSessions
from odr.services.my_account import MyAccount
from odr.services.offers import OfferService
from odr.services.passwords import Passwords
from odr.services.payments import PaymentService
from odr.services.ratelimit import RateLimiter
from odr.services.ratings import RatingService
from odr.services.scheduling import SchedulingService
from odr.services.staff_directory import StaffDirectory
from odr.services.warnings import Warnings

PageErrorRenderer = Callable[[web.Request, int, str, str], Awaitable[web.Response]]

# the keys below are views of the fields of SERVICES, except JOBS and PAGE_ERROR_RENDERER
SERVICES = web.AppKey("services", Services)
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
EVIDENCE_TEXT = web.AppKey("evidence_text", EvidenceTextService)
SCHEDULING = web.AppKey("scheduling", SchedulingService)
HEARING_ROOM = web.AppKey("hearing_room", HearingRoomService)
AGREEMENTS = web.AppKey("agreements", AgreementService)
OFFERS = web.AppKey("offers", OfferService)
PAYMENTS = web.AppKey("payments", PaymentService)
CLOSING = web.AppKey("closing", ClosingService)
RATINGS = web.AppKey("ratings", RatingService)
ACCOUNTS = web.AppKey("accounts", Accounts)
CODES = web.AppKey("codes", Codes)
ACCOUNT_CODES = web.AppKey("account_codes", AccountCodes)
CASE_VIEWS = web.AppKey("case_views", CaseViews)
CHANNELS = web.AppKey("channels", Channels)
DASHBOARD = web.AppKey("dashboard", Dashboard)
WARNINGS = web.AppKey("warnings", Warnings)
DIGESTS = web.AppKey("digests", Digests)
STAFF_DIRECTORY = web.AppKey("staff_directory", StaffDirectory)
CARE = web.AppKey("care", Care)
CALLBACKS = web.AppKey("callbacks", Callbacks)
ADMIN = web.AppKey("admin", Admin)
INBOX = web.AppKey("inbox", Inbox)
LOGIN_SESSIONS = web.AppKey("login_sessions", LoginSessions)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
MY_ACCOUNT = web.AppKey("my_account", MyAccount)
METRICS = web.AppKey("metrics", Metrics)
PAGE_ERROR_RENDERER: web.AppKey[PageErrorRenderer] = web.AppKey("page_error_renderer")
