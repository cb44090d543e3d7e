"""One-time codes: registration with a code, password reset, activation, signing by SMS code;
every rule and limit, through the services and over HTTP, on both setups."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from odr.app import create_app
from odr.bootstrap import Services, open_services
from odr.config import Settings
from odr.domain.accounts import Role
from odr.domain.errors import RateLimited, Unauthenticated, ValidationFailed
from odr.domain.one_time_codes import CodePolicy, Purpose
from odr.http.keys import CODES, SESSIONMAKER
from odr.services import demo
from odr.services.consumers import ConsumerIdentity, find_or_create_consumer
from odr.services.outbox import REMOVED_BODY
from odr.services.sms import DevelopmentSender
from odr.storage.db import UnitOfWork
from odr.storage.models import LoginSession, OneTimeCode, OutboxMessage, User
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR
from tests.integration.outcome_setup import draft, hearing_case, next_otp, sign
from tests.integration.test_outcomes_agreement import pdf_text

POLICY = CodePolicy(per_destination=3, per_client=6, resend_interval=60, max_attempts=3)
CODE = re.compile(r"\b(\d{6})\b")
TODAY = datetime.now(UTC).date()
NEW_NUMBER = "13900000123"
PASSWORD = "a-good-pass-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(seeded: Settings, clock: Clock) -> AsyncIterator[Services]:
    settings = seeded.with_overrides(code_policy=POLICY)
    async with open_services(settings, passwords=FAST_PASSWORDS, clock=clock) as built:
        yield built


async def last_code(services: Services, destination: str) -> str:
    """The code of the last message to ``destination``, as the development sender logged it."""
    await services.codes.drain()
    for sender in services.senders.values():
        assert isinstance(sender, DevelopmentSender)
        message = sender.last_to(destination)
        if message is not None:
            match = CODE.search(message.body)
            assert match, message.body
            return match.group(1)
    raise AssertionError(f"nothing was sent to {destination}")


def sent_to(services: Services, destination: str) -> int:
    return sum(
        1
        for sender in services.senders.values()
        if isinstance(sender, DevelopmentSender)
        for m in sender.sent
        if m.recipient == destination
    )


async def register(services: Services, login: str = NEW_NUMBER, **changes: Any) -> Any:
    details: dict[str, Any] = {
        "login": login,
        "password": PASSWORD,
        "display_name": "新用户",
        "birth_date": None,
        "locale": None,
        "today": TODAY,
        "client": "192.0.2.1",
    }
    return await services.account_codes.start_registration(**{**details, **changes})


# --- registration ---------------------------------------------------------------------------


async def test_registration_confirms_the_number_before_the_account_exists(
    services: Services,
) -> None:
    sent = await register(services)
    assert sent.destination == "139****0123" and sent.expires_in == POLICY.lifetime
    async with services.sessionmaker() as s:
        assert (await s.execute(select(User).where(User.mobile == NEW_NUMBER))).first() is None
        row = (await s.execute(select(OneTimeCode))).scalars().one()
    code = await last_code(services, NEW_NUMBER)
    assert code not in row.code_hash and len(row.code_hash) == 64  # kept as an HMAC only
    async with services.sessionmaker() as s:  # and the sent message keeps no code either
        bodies = [m.body for m in (await s.execute(select(OutboxMessage))).scalars()]
    assert bodies == [REMOVED_BODY]

    user = await services.account_codes.confirm_registration(
        login=NEW_NUMBER, code=code, today=TODAY
    )
    assert user.login == NEW_NUMBER and user.role is Role.CONSUMER
    async with services.sessionmaker() as s:
        row_user = await s.get(User, user.id)
        assert row_user is not None and row_user.mobile_verified_at is not None
    assert (await services.accounts.check_password(NEW_NUMBER, PASSWORD, TODAY)).id == user.id
    # the code is spent
    with pytest.raises(ValidationFailed) as refused:
        await services.account_codes.confirm_registration(login=NEW_NUMBER, code=code, today=TODAY)
    assert refused.value.code == "code_invalid"


async def test_registration_by_e_mail_sends_the_code_by_e_mail(services: Services) -> None:
    sent = await register(services, "New.Person@Example.com")
    assert sent.medium.value == "email" and sent.destination == "n***@example.com"
    code = await last_code(services, "new.person@example.com")
    user = await services.account_codes.confirm_registration(
        login="new.person@example.com", code=code, today=TODAY
    )
    assert user.login == "new.person@example.com"


async def test_wrong_codes_count_and_the_code_dies(services: Services) -> None:
    await register(services)
    code = await last_code(services, NEW_NUMBER)
    wrong = "000000" if code != "000000" else "111111"
    left = []
    for _ in range(POLICY.max_attempts - 1):
        with pytest.raises(ValidationFailed) as refused:
            await services.account_codes.confirm_registration(
                login=NEW_NUMBER, code=wrong, today=TODAY
            )
        assert refused.value.code == "code_invalid"
        left.append(refused.value.details["attempts_left"])
    assert left == [2, 1]
    with pytest.raises(ValidationFailed) as refused:
        await services.account_codes.confirm_registration(login=NEW_NUMBER, code=wrong, today=TODAY)
    assert refused.value.code == "code_attempts_exceeded"
    with pytest.raises(ValidationFailed) as refused:  # even the right code, now
        await services.account_codes.confirm_registration(login=NEW_NUMBER, code=code, today=TODAY)
    assert refused.value.code == "code_attempts_exceeded"
    # not a code at all: refused without counting
    with pytest.raises(ValidationFailed) as refused:
        await services.account_codes.confirm_registration(login=NEW_NUMBER, code="12", today=TODAY)
    assert refused.value.code == "code_invalid" and "attempts_left" not in refused.value.details


async def test_an_expired_code_is_refused(services: Services, clock: Clock) -> None:
    await register(services)
    code = await last_code(services, NEW_NUMBER)
    clock.advance(POLICY.lifetime)
    with pytest.raises(ValidationFailed) as refused:
        await services.account_codes.confirm_registration(login=NEW_NUMBER, code=code, today=TODAY)
    assert refused.value.code == "code_expired"


async def test_resend_interval_then_only_the_new_code_works(
    services: Services, clock: Clock
) -> None:
    await register(services)
    first = await last_code(services, NEW_NUMBER)
    clock.advance(POLICY.resend_interval - 1)
    with pytest.raises(RateLimited) as refused:
        await services.account_codes.resend(Purpose.REGISTER, NEW_NUMBER)
    assert refused.value.code == "code_resend_too_soon" and refused.value.retry_after == 1
    clock.advance(1)
    await services.account_codes.resend(Purpose.REGISTER, NEW_NUMBER)
    second = await last_code(services, NEW_NUMBER)
    if first != second:
        with pytest.raises(ValidationFailed):
            await services.account_codes.confirm_registration(
                login=NEW_NUMBER, code=first, today=TODAY
            )
    user = await services.account_codes.confirm_registration(
        login=NEW_NUMBER, code=second, today=TODAY
    )
    assert user.display_name == "新用户"  # the resent code confirms the same registration


async def test_limits_per_number_and_per_client_address(services: Services, clock: Clock) -> None:
    for _ in range(POLICY.per_destination):
        await register(services)
        clock.advance(POLICY.resend_interval)
    with pytest.raises(RateLimited) as refused:
        await register(services)
    assert refused.value.code == "code_limit_reached"
    assert refused.value.retry_after == POLICY.window
    # another number from the same client address: allowed until the client's own limit
    for i in range(POLICY.per_client - POLICY.per_destination):
        await register(services, f"1390000100{i}")
    with pytest.raises(RateLimited) as refused:
        await register(services, "13900002000")
    assert refused.value.code == "code_limit_reached"
    await register(services, "13900002000", client="192.0.2.99")  # another client
    clock.advance(POLICY.window)  # a window later, the number may have codes again
    await register(services)


async def test_a_registered_number_is_not_revealed(services: Services) -> None:
    fresh = await register(services, "13900000999")
    taken = await register(services, CONSUMER)  # 王芳's number
    assert (taken.destination, taken.expires_in, taken.resend_after) == (
        "138****0001",
        fresh.expires_in,
        fresh.resend_after,
    )
    await services.codes.drain()
    assert sent_to(services, CONSUMER) == 0
    with pytest.raises(RateLimited) as refused:  # the same limits apply
        await register(services, CONSUMER)
    assert refused.value.code == "code_resend_too_soon"
    for guess in ("000000", "123456"):
        with pytest.raises(ValidationFailed) as refused_code:
            await services.account_codes.confirm_registration(
                login=CONSUMER, code=guess, today=TODAY
            )
        assert refused_code.value.code == "code_invalid"


async def test_bad_registration_input_sends_nothing(services: Services) -> None:
    for changes, code in (
        ({"login": "12345"}, "invalid_login"),
        ({"password": "short"}, "password_too_short"),
        ({"display_name": ""}, "name_required"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            await register(services, **changes)
        assert refused.value.code == code
    async with services.sessionmaker() as s:
        assert (await s.execute(select(OneTimeCode))).first() is None


# --- password reset and activation ---------------------------------------------------------


async def test_reset_sets_the_password_and_ends_every_session(services: Services) -> None:
    info = await services.accounts.check_password(CONSUMER, demo.DEMO_PASSWORD, TODAY)
    sid = await services.login_sessions.open(info.id, "Firefox", services.clock())
    sent = await services.account_codes.request_password_code(login=CONSUMER, client="192.0.2.1")
    assert sent.destination == "138****0001"
    code = await last_code(services, CONSUMER)
    with pytest.raises(ValidationFailed):  # the new password is checked before the code
        await services.account_codes.reset_password(
            login=CONSUMER, code=code, password="short", today=TODAY
        )
    user = await services.account_codes.reset_password(
        login=CONSUMER, code=code, password=PASSWORD, today=TODAY
    )
    assert user.id == info.id
    async with services.sessionmaker() as s:
        row = await s.get(LoginSession, sid)
        assert row is not None and row.ended_at is not None
    assert await services.login_sessions.session_user(info.id, sid, TODAY, services.clock()) is None
    with pytest.raises(Unauthenticated):
        await services.accounts.check_password(CONSUMER, demo.DEMO_PASSWORD, TODAY)
    assert (await services.accounts.check_password(CONSUMER, PASSWORD, TODAY)).id == info.id


async def test_reset_answers_the_same_for_a_login_without_account(services: Services) -> None:
    known = await services.account_codes.request_password_code(login=OTHER, client="192.0.2.1")
    unknown = await services.account_codes.request_password_code(
        login="13900000777", client="192.0.2.1"
    )
    assert (known.expires_in, known.resend_after) == (unknown.expires_in, unknown.resend_after)
    await services.codes.drain()
    assert sent_to(services, "13900000777") == 0 and sent_to(services, OTHER) == 1
    with pytest.raises(RateLimited):
        await services.account_codes.request_password_code(login="13900000777")
    with pytest.raises(ValidationFailed) as refused:
        await services.account_codes.reset_password(
            login="13900000777", code="123456", password=PASSWORD, today=TODAY
        )
    assert refused.value.code == "code_invalid"


OTHER = "13800000002"


async def test_a_referred_consumer_activates_the_account_by_code(services: Services) -> None:
    async with UnitOfWork(services.sessionmaker) as uow:
        uid = await find_or_create_consumer(
            uow.session, FAST_PASSWORDS, ConsumerIdentity("赵六", "13900000555")
        )
        await uow.commit()
    async with services.sessionmaker() as s:
        user = await s.get(User, uid)
        assert user is not None and not user.password_set and user.mobile_verified_at is None
    await services.account_codes.request_password_code(login="13900000555")
    await services.codes.drain()
    async with services.sessionmaker() as s:
        purposes = [r.purpose for r in (await s.execute(select(OneTimeCode))).scalars()]
    assert purposes == ["activate"]
    code = await last_code(services, "13900000555")
    info = await services.account_codes.reset_password(
        login="13900000555", code=code, password=PASSWORD, today=TODAY
    )
    assert info.id == uid
    async with services.sessionmaker() as s:
        user = await s.get(User, uid)
        assert user is not None and user.password_set and user.mobile_verified_at is not None
    assert (await services.accounts.check_password("13900000555", PASSWORD, TODAY)).id == uid


# --- signing by SMS code ---------------------------------------------------------------------


async def test_sign_by_sms_code_records_the_method(new_client: Any) -> None:
    case_id, people, app = await hearing_case(new_client)
    codes = app[CODES]
    sha = (await draft(people, case_id))["agreement"]["sha256"]
    url = f"/api/v1/cases/{case_id}/agreement"
    consumer, rep = people[CONSUMER], people[ANKANG_REP]

    resp = await consumer.post(f"{url}/sign-code", {"sha256": "0" * 64})  # not the text read
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "agreement_changed"
    resp = await consumer.post(f"{url}/sign-code", {"sha256": sha})
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["destination"] == "138****0001"
    await codes.drain()
    sms = codes.senders["sms"]
    assert isinstance(sms, DevelopmentSender)
    message = sms.last_to(CONSUMER)
    assert message is not None
    code = CODE.search(message.body)
    assert code
    resp = await consumer.post(f"{url}/sign", {"sha256": sha, "code": "000000"})
    if code.group(1) != "000000":
        assert resp.status == 422 and (await resp.json())["error"]["code"] == "code_invalid"
    resp = await consumer.post(f"{url}/sign", {"sha256": sha, "code": code.group(1)})
    assert resp.status == 200, await resp.text()
    [signature] = (await resp.json())["signatures"]
    assert signature["method"] == "sms_code"

    # staff: the SMS code does not spare them their authenticator code
    resp = await rep.post(f"{url}/sign-code", {"sha256": sha})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "no_verified_mobile"
    async with UnitOfWork(app[SESSIONMAKER]) as uow:
        await uow.session.execute(
            update(User)
            .where(User.email == ANKANG_REP)
            .values(mobile="13700000009", mobile_verified_at=datetime.now(UTC))
        )
        await uow.commit()
    resp = await rep.post(f"{url}/sign-code", {"sha256": sha})
    assert resp.status == 202, await resp.text()
    await codes.drain()
    message = sms.last_to("13700000009")
    assert message is not None
    rep_code = CODE.search(message.body)
    assert rep_code
    resp = await rep.post(f"{url}/sign", {"sha256": sha, "code": rep_code.group(1)})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "otp_required"
    resp = await rep.post(  # the code was not spent by the refusal
        f"{url}/sign", {"sha256": sha, "code": rep_code.group(1), "otp": next_otp(ANKANG_REP)}
    )
    assert resp.status == 200, await resp.text()
    assert (await sign(people, MEDIATOR, case_id, sha)).status == 200
    view = await (await consumer.get(url)).json()
    methods = {s["party"]: s["method"] for s in view["signatures"]}
    assert methods == {
        "consumer": "sms_code",
        "insurer": "sms_code+totp",
        "mediator": "password+totp",
    }
    # the closing report says how each party signed, in the PDF and on the page
    report = await (await consumer.get(f"/api/v1/cases/{case_id}/report")).json()
    assert {r["party"]: r["method"] for r in report["signatures"]} == methods
    pdf = await consumer.get(f"/api/v1/cases/{case_id}/report.pdf?lang=zh-CN")
    assert "短信验证码" in pdf_text(await pdf.read())
    page = await consumer.client.get(f"/cases/{case_id}/report", headers={"Accept-Language": "en"})
    assert "SMS code" in await page.text()


# --- HTTP: the API and the pages --------------------------------------------------------------


@pytest.fixture
async def http(seeded: Settings, aiohttp_client: Any) -> TestClient:
    settings = seeded.with_overrides(code_policy=POLICY)
    return await aiohttp_client(create_app(settings, passwords=FAST_PASSWORDS))


async def http_code(client: TestClient, destination: str) -> str:
    codes = client.app[CODES]
    await codes.drain()
    for sender in codes.senders.values():
        assert isinstance(sender, DevelopmentSender)
        message = sender.last_to(destination)
        if message:
            match = CODE.search(message.body)
            assert match
            return match.group(1)
    raise AssertionError("no code sent")


async def test_api_registration_in_two_steps(http: TestClient) -> None:
    body = {"login": NEW_NUMBER, "password": PASSWORD, "display_name": "新用户"}
    resp = await http.post("/api/v1/auth/register", json=body)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["destination"] == "139****0123"
    assert (await http.get("/api/v1/me")).status == 401  # not logged in, no account yet
    resp = await http.post("/api/v1/auth/register", json=body)
    assert resp.status == 429 and (await resp.json())["error"]["code"] == "code_resend_too_soon"
    assert int(resp.headers["Retry-After"]) > 0
    resp = await http.post(
        "/api/v1/auth/register/confirm", json={"login": NEW_NUMBER, "code": "abc"}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "code_invalid"
    code = await http_code(http, NEW_NUMBER)
    resp = await http.post(
        "/api/v1/auth/register/confirm", json={"login": NEW_NUMBER, "code": code}
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["user"]["login"] == NEW_NUMBER
    assert (await http.get("/api/v1/me")).status == 200
    # a taken number: the same 202, nothing said
    http.session.cookie_jar.clear()
    resp = await http.post("/api/v1/auth/register", json={**body, "login": CONSUMER})
    assert resp.status == 202 and (await resp.json())["destination"] == "138****0001"


async def test_api_password_reset(http: TestClient, aiohttp_client: Any) -> None:
    other = await aiohttp_client(http.server)  # logged in on another device
    old = await other.post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
    )
    assert old.status == 200
    for login in (CONSUMER, "13900000777"):
        resp = await http.post("/api/v1/auth/password-reset", json={"login": login})
        assert resp.status == 202, await resp.text()
    resp = await http.post("/api/v1/auth/password-reset", json={"login": "not a login"})
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid_login"
    code = await http_code(http, CONSUMER)
    resp = await http.post(
        "/api/v1/auth/password-reset/confirm",
        json={"login": CONSUMER, "code": code, "password": PASSWORD},
    )
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["csrf_token"]
    assert (await http.get("/api/v1/me")).status == 200  # the new session
    assert (await other.get("/api/v1/me")).status == 401  # the other device's is over
    resp = await http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert resp.status == 204
    resp = await http.post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
    )
    assert resp.status == 401


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(client: TestClient, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200
    match = TOKEN.search(await resp.text())
    assert match
    return match.group(1)


async def test_pages_register_with_a_code(http: TestClient) -> None:
    en = {"Accept-Language": "en"}
    token = await form_token(http, "/register")
    fields = {"display_name": "张三", "login": NEW_NUMBER, "password": PASSWORD, "birth_date": ""}
    resp = await http.post("/register", data={"csrf_token": token, **fields}, headers=en)
    assert resp.status == 200
    page = await resp.text()
    assert "139****0123" in page and 'name="code"' in page
    resp = await http.post(
        "/register/confirm", data={"csrf_token": token, "code": "000001"}, headers=en
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] in {"code_invalid"}
    assert "The code is wrong" in await resp.text()
    resp = await http.post("/register/resend", data={"csrf_token": token}, headers=en)
    assert resp.status == 429 and "Please wait" in await resp.text()
    code = await http_code(http, NEW_NUMBER)
    resp = await http.post(
        "/register/confirm", data={"csrf_token": token, "code": code}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/home"
    assert (await http.get("/home", allow_redirects=False)).status == 200


async def test_pages_forgot_password(http: TestClient, aiohttp_client: Any) -> None:
    other = await aiohttp_client(http.server)  # the consumer's other browser, logged in
    token = await form_token(other, "/login")
    resp = await other.post(
        "/login",
        data={"csrf_token": token, "login": CONSUMER, "password": demo.DEMO_PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert (await other.get("/home", allow_redirects=False)).status == 200

    login_page = await (await http.get("/login", headers={"Accept-Language": "zh-CN"})).text()
    assert "忘记密码？" in login_page and 'href="/password/reset"' in login_page
    token = await form_token(http, "/password/reset")
    resp = await http.post("/password/reset", data={"csrf_token": token, "login": CONSUMER})
    assert resp.status == 200 and "138****0001" in await resp.text()
    code = await http_code(http, CONSUMER)
    resp = await http.post(
        "/password/reset/confirm",
        data={"csrf_token": token, "code": code, "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/home"
    assert (await http.get("/home", allow_redirects=False)).status == 200
    assert (await other.get("/home", allow_redirects=False)).status == 303  # logged out there

    activate = await (await http.get("/activate", headers={"Accept-Language": "en"})).text()
    assert "Activate your account" in activate


async def test_no_code_without_csrf(http: TestClient) -> None:
    resp = await http.post("/password/reset", data={"login": CONSUMER})
    assert resp.status == 403
    await http.app[CODES].drain()
    assert isinstance(http.app[CODES].senders["sms"], DevelopmentSender)
    assert http.app[CODES].senders["sms"].last_to(CONSUMER) is None


async def test_rows_of_codes_are_purged_after_a_day(services: Services, clock: Clock) -> None:
    await register(services)
    assert await services.codes.purge() == 0
    clock.advance(24 * 3600 + 1)
    assert await services.codes.purge() == 1


async def test_api_reset_limits_per_number_and_per_client(http: TestClient) -> None:
    clock = Clock()
    http.app[CODES].clock = clock
    for login in (CONSUMER, "13900000777"):  # an account or none: the same limits
        for _ in range(POLICY.per_destination):
            resp = await http.post("/api/v1/auth/password-reset", json={"login": login})
            assert resp.status == 202, await resp.text()
            resp = await http.post("/api/v1/auth/password-reset", json={"login": login})
            assert resp.status == 429
            assert (await resp.json())["error"]["code"] == "code_resend_too_soon"
            clock.advance(POLICY.resend_interval)
        resp = await http.post("/api/v1/auth/password-reset", json={"login": login})
        assert resp.status == 429 and (await resp.json())["error"]["code"] == "code_limit_reached"
        assert int(resp.headers["Retry-After"]) == POLICY.window
    # six codes asked from this client address: another number is refused too
    resp = await http.post("/api/v1/auth/password-reset", json={"login": "13900000888"})
    assert resp.status == 429 and (await resp.json())["error"]["code"] == "code_limit_reached"
