"""The composition root: every resource and service, built from `Settings` in one place.

The server (`odr.app.create_app`), the worker and every command line tool that touches the
database get their services from `build_services`, so they all run the same services. Building
does no network I/O (the database engine and the Redis client connect on first use); each
resource is closed in one place, `Services.aclose`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from odr.config import Settings
from odr.metrics import Metrics
from odr.services.access_log import AccessLog
from odr.services.account_codes import AccountCodes
from odr.services.accounts import Accounts, LoginPolicy, Logins
from odr.services.admin import Admin
from odr.services.agreements import AgreementService
from odr.services.bus import Bus, MemoryBus, RedisBus
from odr.services.callbacks import Callbacks
from odr.services.care import Care
from odr.services.case_changes import CaseChanges, load_rules
from odr.services.case_reactions import closing_report
from odr.services.case_views import CaseViews
from odr.services.cases import CaseService, case_service, now_utc
from odr.services.channels import Channels
from odr.services.closing import ClosingService
from odr.services.codes import Codes
from odr.services.dashboard import Dashboard
from odr.services.digests import Digests
from odr.services.evidence import EvidenceService, blob_store
from odr.services.evidence_text import EvidenceTextService, load_flag_rules
from odr.services.hearing_room import HearingRoomService
from odr.services.inbox import Inbox
from odr.services.login_sessions import LoginSessions
from odr.services.metric_probes import PoolCollector, case_gauges, count_case_changes
from odr.services.my_account import MyAccount
from odr.services.ocr import Limits, TextReader
from odr.services.offers import OfferService
from odr.services.outbox import Sender
from odr.services.outcome_clock import OutcomeClock
from odr.services.passwords import Passwords
from odr.services.payments import PaymentService
from odr.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from odr.services.ratings import RatingService
from odr.services.scheduling import SchedulingService, scheduling_service
from odr.services.sms import SmsGateway, message_senders
from odr.services.staff_directory import StaffDirectory
from odr.services.warnings import Warnings
from odr.storage.blobs.timed import TimedBlobStore
from odr.storage.db import CONNECT_DEADLINE, STATEMENT_DEADLINE, make_engine, make_sessionmaker
from odr.storage.redis import make_redis
from odr.storage.sealed import SecretBox

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Services:
    """Everything the server and the worker run on, built once per process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None  # only when Redis is configured
    bus: Bus
    limiter: RateLimiter
    passwords: Passwords
    box: SecretBox  # seals second-factor secrets, hashes recovery codes
    logins: Logins
    cases: CaseService
    scheduling: SchedulingService
    evidence: EvidenceService
    evidence_text: EvidenceTextService  # text read from evidence, search, redaction, flags
    hearing_room: HearingRoomService
    agreements: AgreementService
    offers: OfferService
    payments: PaymentService
    closing: ClosingService
    ratings: RatingService
    outcome_clock: OutcomeClock  # the worker's
    senders: dict[str, Sender]  # the outbox's senders, by medium
    codes: Codes  # one-time codes by SMS and e-mail (`odr.services.codes`)
    account_codes: AccountCodes  # registration, reset, activation, signing by code
    # the server's reads and small writes, each owning its session or unit of work
    accounts: Accounts
    case_views: CaseViews
    channels: Channels
    dashboard: Dashboard
    warnings: Warnings
    digests: Digests
    staff_directory: StaffDirectory
    care: Care
    callbacks: Callbacks
    admin: Admin
    inbox: Inbox
    login_sessions: LoginSessions
    access_log: AccessLog
    my_account: MyAccount
    metrics: Metrics  # this process's metrics (`odr.metrics`), served at /metrics

    async def aclose(self) -> None:
        """Close every resource `build_services` opened (once each)."""
        await self.codes.aclose()
        await self.evidence_text.reader.aclose()
        await self.evidence.store.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    passwords: Passwords | None = None,
    clock: Clock | None = None,
    statement_deadline: float = STATEMENT_DEADLINE,
) -> Services:
    """Every resource and service from the settings (no network I/O: clients are lazy).

    Tests may pass faster ``passwords`` and a controlled ``clock``; the worker allows its
    statements more time (``statement_deadline``). Close with `aclose`."""
    now = clock or now_utc
    engine = make_engine(
        settings.database_url,
        connect_deadline=CONNECT_DEADLINE,
        statement_deadline=statement_deadline,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    sessionmaker = make_sessionmaker(engine)
    metrics = Metrics()
    metrics.register(PoolCollector(engine.sync_engine.pool))
    metrics.probe(case_gauges(sessionmaker, metrics, now))
    redis = make_redis(settings.redis_url) if settings.redis_url else None
    bus: Bus = RedisBus(redis) if redis is not None else MemoryBus()
    limiter: RateLimiter = RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()
    passwords = passwords or Passwords()
    box = SecretBox(settings.secret_key, settings.previous_secret_keys)
    logins = Logins(
        passwords,
        limiter,
        LoginPolicy(
            max_failures=settings.login_max_failures,
            window=settings.login_window,
            device_secret=settings.secret_key,
        ),
        box,
    )
    access_log = AccessLog(sessionmaker, now)
    senders = message_senders(
        settings.smtp_url,
        settings.mail_from,
        production=settings.production,
        gateway=SmsGateway(
            settings.sms_gateway_url,
            settings.sms_gateway_key,
            settings.sms_gateway_secret,
            settings.sms_template_id,
        )
        if settings.sms_gateway_url
        else None,
    )
    codes = Codes(sessionmaker, senders, settings.code_policy, settings.secret_key, now)
    account_codes = AccountCodes(sessionmaker, passwords, codes)
    cases = case_service(settings, sessionmaker, bus)
    cases.clock = now
    scheduling = scheduling_service(settings, cases, clock=now)
    evidence = EvidenceService(
        sessionmaker,
        TimedBlobStore(blob_store(settings), metrics.observe_blob),
        bus,
        max_file_bytes=settings.max_file_bytes,
        max_case_bytes=settings.max_case_bytes,
        access=access_log,
        redact_for_mediator=settings.redact_for_mediator,
    )
    evidence_text = EvidenceTextService(
        sessionmaker,
        evidence,
        bus,
        TextReader(Limits(max_pages=settings.ocr_max_pages, timeout=settings.ocr_timeout)),
        flag_rules=load_flag_rules(settings.evidence_flags),
        redact_for_mediator=settings.redact_for_mediator,
        clock=now,
    )
    hearing_room = HearingRoomService(
        sessionmaker,
        evidence,
        bus,
        secret_key=settings.secret_key,
        recordings_dir=settings.recordings_dir,
        ice_servers=settings.ice_servers,
        turn_secret=settings.turn_secret,
        clock=now,
        access=access_log,
        time_zone=settings.timezone,
    )
    # --- outcomes -----------------------------------------------------------------------------
    changes, rules = CaseChanges(cases), load_rules()
    agreements = AgreementService(
        changes, evidence, logins, rules.confirmation, signing_codes=account_codes
    )
    closing = ClosingService(changes, evidence, agreements)
    # --- end of outcomes ----------------------------------------------------------------------
    cases.subscribe(closing_report(closing))  # closing, whichever way, enters the report
    cases.subscribe(count_case_changes(metrics))
    return Services(
        settings=settings,
        clock=now,
        engine=engine,
        sessionmaker=sessionmaker,
        redis=redis,
        bus=bus,
        limiter=limiter,
        passwords=passwords,
        box=box,
        logins=logins,
        cases=cases,
        scheduling=scheduling,
        evidence=evidence,
        evidence_text=evidence_text,
        hearing_room=hearing_room,
        agreements=agreements,
        offers=OfferService(changes, rules.blind),
        payments=PaymentService(changes),
        closing=closing,
        ratings=RatingService(changes),
        outcome_clock=OutcomeClock(changes, rules),
        senders=senders,
        codes=codes,
        account_codes=account_codes,
        accounts=Accounts(sessionmaker, passwords, logins),
        case_views=CaseViews(sessionmaker, access_log),
        channels=Channels(sessionmaker),
        dashboard=Dashboard(sessionmaker),
        warnings=Warnings(sessionmaker),
        digests=Digests(sessionmaker),
        staff_directory=StaffDirectory(sessionmaker),
        care=Care(sessionmaker),
        callbacks=Callbacks(sessionmaker, limiter),
        admin=Admin(sessionmaker, box),
        inbox=Inbox(sessionmaker),
        login_sessions=LoginSessions(sessionmaker, settings.session_ttl),
        access_log=access_log,
        my_account=MyAccount(sessionmaker, passwords, limiter, evidence, codes, now),
        metrics=metrics,
    )


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    passwords: Passwords | None = None,
    clock: Clock | None = None,
    statement_deadline: float = STATEMENT_DEADLINE,
) -> AsyncIterator[Services]:
    """`build_services`, closed on the way out: ``async with open_services(s) as services:``."""
    services = build_services(
        settings, passwords=passwords, clock=clock, statement_deadline=statement_deadline
    )
    try:
        yield services
    finally:
        await services.aclose()
