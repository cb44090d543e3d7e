"""Real restarts and kills under load: the test starts its own PostgreSQL and Redis (never the
shared ones), puts consumers to work on the app — filing complaints, reading case pages,
uploading evidence — and then restarts the database, restarts Redis, kills the app with
``kill -9``, and kills the worker with ``kill -9`` in the middle of a job.

What must hold: while a dependency is down, requests fail fast with 503
``service_unavailable`` (never a 500, never a hang); the service answers again by itself
within seconds of the dependency's return; every complaint acknowledged with 201 is in the
database afterwards; jobs that must take effect once still do. Each test prints its time to
recover (``pytest -s`` shows it): the seconds from the dependency's (or the process's) return
to the first successful request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from odr.app import create_app
from odr.config import Settings
from odr.services import demo
from odr.services.passwords import current_totp
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import CaseEventRow, CaseRow, Notification
from odr.storage.redis import make_job_queue_redis
from tests.builders import ANKANG, CONSUMER, OTHER_CONSUMER, USERS, complaint
from tests.conftest import FAST_PASSWORDS
from tests.servers import (
    OdrProcess,
    OwnPostgres,
    OwnRedis,
    free_port,
    need_binary,
    odr_environment,
    postgres_bindir,
    redis_binary,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

#: while a dependency is down, a request must have failed within this many seconds (the
#: deadlines of `odr.storage.db` and `odr.storage.redis`, with some slack for a busy machine)
FAIL_FAST = 6.0
#: any request taking longer than this is a hang (the machine may be busy: some slack)
HANG = 10.0
#: the service must answer again within this many seconds of a dependency's return
RECOVERY = 10.0
NOTE = b"Receipt of the hospital stay, 2026-02-11.\n"


# --- the servers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnPostgres]:
    """One PostgreSQL cluster for the module (each test gets its own database on it)."""
    pg = OwnPostgres(need_binary(postgres_bindir(), "PostgreSQL (initdb and pg_ctl)"))
    try:
        pg.init()
        pg.start_now()
        yield pg
    finally:
        pg.stop_now()
        pg.remove()


@pytest.fixture
async def own_database(own_cluster: OwnPostgres) -> str:
    """A migrated database with the demo data on the test's own cluster."""
    return await own_cluster.database()


@pytest.fixture
async def own_redis() -> AsyncIterator[OwnRedis]:
    redis = OwnRedis(need_binary(redis_binary(), "redis-server"))
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()
        redis.remove()


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Attempt:
    what: str
    started: float
    elapsed: float
    status: int | None  # None: no HTTP answer at all (refused, reset: the process is gone)
    code: str | None = None  # the error code of a JSON error

    @property
    def ended(self) -> float:
        return self.started + self.elapsed

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Browser:
    """One person's HTTP client (own cookies) on ``base``."""

    def __init__(self, base: str, login: str, load: Load) -> None:
        self.login = login
        self.load = load
        self.http = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.token: str | None = None

    async def call(
        self, what: str, method: str, path: str, **kwargs: Any
    ) -> tuple[int | None, Any]:
        """One request, recorded; (status, JSON body or None)."""
        headers = dict(kwargs.pop("headers", {}))
        if self.token and method != "GET":
            headers["X-CSRF-Token"] = self.token
        started = time.monotonic()
        status: int | None = None
        code: str | None = None
        body: Any = None
        try:
            async with asyncio.timeout(HANG * 2):
                async with self.http.request(
                    method, path, headers=headers, allow_redirects=False, **kwargs
                ) as resp:
                    status = resp.status
                    code = resp.headers.get("X-Error-Code")  # pages and JSON alike
                    raw = await resp.read()
                    if resp.content_type == "application/json" and raw:
                        body = await resp.json()
        except (aiohttp.ClientError, OSError):
            status = None
        except TimeoutError:
            status = -1  # a hang: fails the test below
        if isinstance(body, dict) and "error" in body:
            code = body["error"]["code"]
        self.load.attempts.append(Attempt(what, started, time.monotonic() - started, status, code))
        return status, body

    async def log_in(self) -> bool:
        user = USERS[self.login]
        form = {"login": self.login, "password": demo.DEMO_PASSWORD}
        if user.totp_secret:
            form["otp"] = current_totp(user.totp_secret)
        status, body = await self.call("login", "POST", "/api/v1/auth/login", json=form)
        if status == 200:
            self.token = body["csrf_token"]
            self.load.logins += 1
        return status == 200

    async def aclose(self) -> None:
        await self.http.close()


class Load:
    """Consumers at work, each in a bounded loop: file a complaint, read its page and its
    API view, upload a note to it; log in again when the session is gone."""

    def __init__(self, base: str, insurer: int, *, users: int = 4, pause: float = 0.05) -> None:
        logins = [CONSUMER, OTHER_CONSUMER]
        self.browsers = [Browser(base, logins[i % 2], self) for i in range(users)]
        self.insurer = insurer
        self.pause = pause
        self.attempts: list[Attempt] = []
        self.acknowledged: dict[int, str] = {}  # case id -> number, from the 201s
        self.logins = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._serial = 0

    async def start(self) -> None:
        for browser in self.browsers:
            assert await browser.log_in(), "logging in before the load failed"
        self._tasks = [asyncio.create_task(self._work(b)) for b in self.browsers]

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 30)
        for task in self._tasks:
            task.cancel()
        for browser in self.browsers:
            await browser.aclose()
        for task in self._tasks:
            if not task.cancelled() and task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _work(self, b: Browser, rounds: int = 2000) -> None:
        case_id: int | None = None
        for _ in range(rounds):
            if self._stop.is_set():
                return
            await asyncio.sleep(self.pause)
            if b.token is None and not await b.log_in():
                continue
            self._serial += 1
            body = complaint(self.insurer, policy_numbers=[f"RS{self._serial:08d}"])
            status, made = await b.call("file", "POST", "/api/v1/cases", json=body)
            if status is None:  # nobody listening: the process is gone
                await asyncio.sleep(0.2)
            elif status == 201:
                case_id = int(made["id"])
                self.acknowledged[case_id] = made["number"]
            elif status == 401:
                b.token = None
                continue
            if case_id is None:
                continue
            status, _ = await b.call("page", "GET", f"/cases/{case_id}")
            if status in (302, 303):
                b.token = None  # the page sends a visitor without a session to the login
                continue
            await b.call("case", "GET", f"/api/v1/cases/{case_id}")
            status, _ = await b.call(
                "upload",
                "POST",
                f"/api/v1/cases/{case_id}/evidence",
                params={"name": "receipt.txt"},
                data=NOTE,
                headers={"Content-Type": "application/octet-stream"},
            )
            if status in (401, 415):  # 415 json_required: a raw body without a session
                b.token = None

    # --- what the attempts tell ---------------------------------------------------------------

    async def run_until_recovered(self, back: float, *, after: float = 1.0) -> float:
        """Wait until a request that started at or after ``back`` succeeded (and ``after``
        seconds more of load); the seconds from ``back`` to that first success."""
        deadline = back + RECOVERY + HANG
        while time.monotonic() < deadline:
            first = self.first_success(back)
            if first is not None and time.monotonic() > first.ended + after:
                return first.ended - back
            await asyncio.sleep(0.05)
        first = self.first_success(back)
        assert first is not None, f"no request succeeded within {RECOVERY} s of the return"
        return first.ended - back

    def first_success(
        self, since: float, what: Callable[[Attempt], bool] = lambda a: True
    ) -> Attempt | None:
        done = [a for a in self.attempts if a.started >= since and a.ok and what(a)]
        return min(done, key=lambda a: a.ended, default=None)

    def during(self, start: float, end: float) -> list[Attempt]:
        return [a for a in self.attempts if start <= a.started and a.ended <= end]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self.attempts:
            key = f"{a.what}:{a.status}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def assert_no_errors_nor_hangs(self, allowed: set[int | None]) -> None:
        bad = [a for a in self.attempts if a.status not in allowed]
        assert not bad, f"unexpected answers: {bad[:5]} ({self.summary()})"
        slow = [a for a in self.attempts if a.elapsed > HANG]
        assert not slow, f"requests took longer than {HANG} s: {slow[:5]}"
        unavailable = [a for a in self.attempts if a.status == 503]
        assert all(a.code == "service_unavailable" for a in unavailable), unavailable[:5]


async def cases_in(database_url: str, ids: set[int]) -> dict[int, str]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = await s.execute(select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids)))
            return {int(i): str(n) for i, n in rows}
    finally:
        await engine.dispose()


async def ankang_id(base: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/v1/insurers") as resp:
        items = (await resp.json())["items"]
    return int(next(i["id"] for i in items if i["name"] == ANKANG))


def report(fault: str, figures: dict[str, Any]) -> None:
    shown = ", ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(f"\n[restart] {fault}: {shown}")


@pytest.fixture
async def app_on_own_servers(
    own_database: str, own_redis: OwnRedis, make_settings: Any, aiohttp_server: Any
) -> tuple[str, Settings]:
    """The app in process (scaled setup: PostgreSQL and Redis, both the test's own)."""
    settings = make_settings(own_database, redis_url=own_redis.url())
    server = await aiohttp_server(create_app(settings, passwords=FAST_PASSWORDS))
    return str(server.make_url("")).rstrip("/"), settings


# --- 1. PostgreSQL restarted ------------------------------------------------------------------


async def test_postgres_restarted_under_load(
    app_on_own_servers: tuple[str, Settings], own_cluster: OwnPostgres
) -> None:
    base, settings = app_on_own_servers
    load = Load(base, await ankang_id(base))
    await load.start()
    try:
        await asyncio.sleep(1.5)
        # a plain `pg_ctl restart -m fast`: the server is away for a moment
        await own_cluster.restart("fast")
        back = time.monotonic()
        after_restart = await load.run_until_recovered(back)
        # then stopped for a few seconds: every request in between must be a quick 503
        await own_cluster.stop("fast")
        down = time.monotonic()
        await asyncio.sleep(3)
        restarting = time.monotonic()  # from here on it may answer before `start` returns
        await own_cluster.start()
        back = time.monotonic()
        recovered = await load.run_until_recovered(back)
    finally:
        await load.stop()
    load.assert_no_errors_nor_hangs({200, 201, 503})
    while_down = load.during(down, restarting)
    assert while_down, load.summary()
    assert all(a.status == 503 for a in while_down), [a for a in while_down if a.status != 503]
    assert max(a.elapsed for a in while_down) < FAIL_FAST, max(a.elapsed for a in while_down)
    assert recovered < RECOVERY and after_restart < RECOVERY
    stored = await cases_in(settings.database_url, set(load.acknowledged))
    assert stored == load.acknowledged, "an acknowledged complaint is missing"
    report(
        "PostgreSQL",
        {
            "recover_after_restart_s": after_restart,
            "recover_after_stop_start_s": recovered,
            "requests": len(load.attempts),
            "503_while_down": len(while_down),
            "slowest_503_s": max(a.elapsed for a in while_down),
            "acknowledged_complaints": len(load.acknowledged),
        },
    )


# --- 2. Redis restarted -----------------------------------------------------------------------


def needs_session(a: Attempt) -> bool:
    return a.what != "login"


async def test_redis_restarted_under_load(
    app_on_own_servers: tuple[str, Settings], own_redis: OwnRedis
) -> None:
    """Sessions live in Redis in the scaled setup. This Redis keeps nothing on disk, so its
    restart ends every session: people log in again (the API says 401, pages send them to the
    login), which is accepted; what is not is a 500, a hang, or a service that stays down."""
    base, settings = app_on_own_servers
    load = Load(base, await ankang_id(base))
    await load.start()
    try:
        await asyncio.sleep(1.5)
        await own_redis.stop()
        down = time.monotonic()
        await asyncio.sleep(3)
        restarting = time.monotonic()  # from here on it may answer before `start` returns
        await own_redis.start()
        back = time.monotonic()
        recovered = await load.run_until_recovered(back, after=1.5)
    finally:
        await load.stop()
    load.assert_no_errors_nor_hangs({200, 201, 303, 401, 415, 503})
    refused = [a for a in load.attempts if a.status in (303, 401, 415)]
    assert all(a.started >= down for a in refused), "a session was lost before Redis was"
    assert all(a.code == "json_required" for a in refused if a.status == 415), refused
    while_down = load.during(down, restarting)
    assert while_down, load.summary()
    assert all(a.status == 503 for a in while_down), [a for a in while_down if a.status != 503]
    assert max(a.elapsed for a in while_down) < FAIL_FAST, max(a.elapsed for a in while_down)
    first_with_session = load.first_success(back, needs_session)
    assert first_with_session is not None, "no request with a session succeeded after Redis"
    with_session = first_with_session.ended - back
    assert recovered < RECOVERY and with_session < RECOVERY
    logged_in_again = [
        a for a in load.attempts if a.what == "login" and a.started >= restarting and a.ok
    ]
    assert len(logged_in_again) >= len(load.browsers), "the sessions lost were not replaced"
    stored = await cases_in(settings.database_url, set(load.acknowledged))
    assert stored == load.acknowledged, "an acknowledged complaint is missing"
    report(
        "Redis",
        {
            "recover_s": recovered,
            "first_request_with_a_new_session_s": with_session,
            "requests": len(load.attempts),
            "503_while_down": len(while_down),
            "slowest_503_s": max(a.elapsed for a in while_down),
            "logins_again": len(logged_in_again),
            "acknowledged_complaints": len(load.acknowledged),
        },
    )


# --- 3. the app killed with -9 ----------------------------------------------------------------


async def healthy(base: str, limit: float) -> bool:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    return False


@pytest.mark.timeout(120)
async def test_the_app_killed_and_restarted_under_load(
    own_database: str, own_redis: OwnRedis, tmp_path: Path
) -> None:
    """``odr serve`` killed with -9 while consumers file complaints, then started again:
    every complaint it acknowledged is kept; the sessions (in Redis) outlive the process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = odr_environment(tmp_path, database_url=own_database, redis_url=own_redis.url())
    serve = OdrProcess(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    await serve.start()
    try:
        assert await healthy(base, 30), serve.output()
        load = Load(base, await ankang_id(base))
        await load.start()
        try:
            # the first complaint may wait for the node to build its triage model
            for _ in range(300):
                if load.acknowledged:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)
            before_kill = len(load.acknowledged)
            await serve.kill()
            killed = time.monotonic()
            await serve.start()
            assert await healthy(base, 30), serve.output()
            back = time.monotonic()
            recovered = await load.run_until_recovered(back)
        finally:
            await load.stop()
    finally:
        await serve.stop()
    # no answer at all while the process is gone; no session lost with it (no 401, no
    # redirect to the login); a 503 is allowed if a request meets a deadline on a busy machine
    load.assert_no_errors_nor_hangs({200, 201, 503, None})
    refused = load.during(killed, back)
    assert any(a.status is None for a in refused), load.summary()  # it was gone
    assert before_kill > 0 and len(load.acknowledged) > before_kill
    stored = await cases_in(own_database, set(load.acknowledged))
    assert stored == load.acknowledged, "an acknowledged complaint is missing"
    assert "unhandled error" not in serve.output(), serve.output()
    report(
        "odr serve kill -9",
        {
            "recover_after_ready_s": recovered,
            "kill_to_ready_s": back - killed,
            "kill_to_first_success_s": recovered + (back - killed),
            "requests": len(load.attempts),
            "acknowledged_complaints": len(load.acknowledged),
            "acknowledged_before_kill": before_kill,
        },
    )


# --- 4. the worker killed with -9 in the middle of a job --------------------------------------


CASES = 40


async def clock_counts(database_url: str) -> tuple[dict[int, int], dict[int, int]]:
    """Reminder events per case, and reminder notifications per case."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            events = await s.execute(
                select(CaseEventRow.case_id, func.count())
                .where(CaseEventRow.kind == "reminder")
                .group_by(CaseEventRow.case_id)
            )
            notified = await s.execute(
                select(Notification.case_id, func.count())
                .where(Notification.kind == "reminder")
                .group_by(Notification.case_id)
            )
            return {int(c): int(n) for c, n in events}, {int(c): int(n) for c, n in notified}
    finally:
        await engine.dispose()


async def file_complaints(base: str, count: int) -> set[int]:
    load = Load(base, await ankang_id(base), users=4)
    for browser in load.browsers:
        assert await browser.log_in()

    async def file(browser: Browser, n: int) -> None:
        for i in range(n):
            body = complaint(load.insurer, policy_numbers=[f"WK{id(browser) % 997:03d}{i:05d}"])
            for _ in range(5):  # a busy machine may meet a deadline: 503, try again
                status, made = await browser.call("file", "POST", "/api/v1/cases", json=body)
                if status != 503:
                    break
                await asyncio.sleep(0.5)
            assert status == 201, made
            load.acknowledged[int(made["id"])] = made["number"]

    try:
        share = count // len(load.browsers)
        await asyncio.gather(*(file(b, share) for b in load.browsers))
    finally:
        for browser in load.browsers:
            await browser.aclose()
    return set(load.acknowledged)


@pytest.mark.timeout(150)
async def test_the_worker_killed_mid_job_keeps_reminders_exactly_once(
    app_on_own_servers: tuple[str, Settings], own_redis: OwnRedis, tmp_path: Path
) -> None:
    """``odr worker`` (arq on the test's own Redis) is killed with -9 while the case clock
    records reminders, then started again and the clock run again (what the next minute's
    tick does): every case gets its reminder once, never twice, and so does its inbox."""
    base, settings = app_on_own_servers
    filed = await file_complaints(base, CASES)
    assert len(filed) == CASES
    per_case, _ = await clock_counts(settings.database_url)
    assert per_case == {}
    env = odr_environment(tmp_path, database_url=settings.database_url, redis_url=own_redis.url())
    worker = OdrProcess(["worker"], env, tmp_path / "worker.log")
    queue = make_job_queue_redis(own_redis.url())
    # halfway through the 15-day answer period of cases filed now: the 50 % reminder is due
    moment = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    await worker.start()
    try:
        first = await queue.enqueue_job("run_case_clock", now=moment)
        assert first is not None
        deadline = time.monotonic() + 60
        while not (await clock_counts(settings.database_url))[0]:
            assert time.monotonic() < deadline, worker.output()
            await asyncio.sleep(0.01)
        await worker.kill()
        await asyncio.sleep(0.3)  # what the dead worker's last statement committed, it did
        at_kill = sum((await clock_counts(settings.database_url))[0].values())
        assert 0 < at_kill < CASES, f"not killed in the middle of the job ({at_kill})"
        restarted = time.monotonic()
        await worker.start()
        again = await queue.enqueue_job("run_case_clock", now=moment)
        assert again is not None
        done_after_restart = await again.result(timeout=60, poll_delay=0.05)
        recovered = time.monotonic() - restarted
        # arq runs the killed job again once its in-progress mark expires (the job timeout
        # plus 10 s: 310 s); let that time pass at once
        await queue.pexpire(f"arq:in-progress:{first.job_id}", 1)
        done_by_the_retry = await first.result(timeout=60, poll_delay=0.05)
        # and a third worker tick for good measure
        third = await queue.enqueue_job("run_case_clock", now=moment)
        assert third is not None
        done_by_a_third_run = await third.result(timeout=60, poll_delay=0.05)
    finally:
        await worker.stop()
        await queue.aclose()
    assert done_after_restart == CASES - at_kill
    assert done_by_the_retry == 0 and done_by_a_third_run == 0
    per_case, notified = await clock_counts(settings.database_url)
    assert len(per_case) == CASES and set(per_case.values()) == {1}, per_case
    assert set(notified) == set(per_case), "a case's people were not told"
    assert len(set(notified.values())) == 1, notified  # as many for every case: told once
    report(
        "odr worker kill -9",
        {
            "cases": CASES,
            "reminders_before_kill": at_kill,
            "reminders_after_restart": done_after_restart,
            "reminders_by_the_retried_job": done_by_the_retry,
            "restart_to_job_done_s": recovered,
            "reminder_notifications": sum(notified.values()),
        },
    )
