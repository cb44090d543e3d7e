"""Care mode (老年人关爱) and "call me back": on for consumers aged 60 or more, switched and
remembered per account (or per browser for visitors); call-back requests reach the staff of the
case, with the number masked in what leaves the platform, a few times a day at most."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from odr.http.keys import SESSIONMAKER
from odr.services import demo
from odr.services.callbacks import DAILY_LIMIT
from odr.storage.models import Notification, OutboxMessage, User
from tests.builders import assign_mediator, user_id
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    MEDIATOR,
    OTHER_CONSUMER,
    SUPERVISOR,
    Session,
    callers,
    complaint,
    insurer_id,
    login,
)
from tests.integration.outcome_setup import answered_case

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
BODY = re.compile(r"<body([^>]*)>")
EN = {"Accept-Language": "en"}


def body_classes(text: str) -> list[str]:
    match = BODY.search(text)
    assert match
    classes = re.search(r'class="([^"]*)"', match.group(1))
    return classes.group(1).split() if classes else []


async def form_login(client: TestClient, login_name: str) -> str:
    """Log in through the page, as a person would; the desk's HTML."""
    page = await client.get("/login")
    token = TOKEN.search(await page.text())
    assert token
    resp = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "login": login_name, "password": demo.DEMO_PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303
    home = await client.get("/home", headers=EN)
    assert home.status == 200
    return await home.text()


async def switch(client: TestClient, text: str, state: str, next_path: str = "/home") -> Any:
    token = TOKEN.search(text)
    assert token
    return await client.post(
        "/care",
        data={"csrf_token": token.group(1), "care": state, "next": next_path},
        allow_redirects=False,
    )


async def test_care_mode_is_on_for_the_senior_consumer_and_off_for_the_younger(
    new_client: Callable[[], Any],
) -> None:
    senior = await form_login(await new_client(), OTHER_CONSUMER)  # 李建国, born 1952
    assert "care" in body_classes(senior)
    assert "Normal text size" in senior  # the switch says what it does
    younger = await form_login(await new_client(), CONSUMER)  # 王芳, born 1985
    assert "care" not in body_classes(younger)
    assert "Larger text (care mode)" in younger
    assert "Switch on care mode" not in younger  # no offer under 60


async def test_the_switch_toggles_and_is_remembered_on_the_account(
    new_client: Callable[[], Any],
) -> None:
    client = await new_client()
    home = await form_login(client, OTHER_CONSUMER)
    resp = await switch(client, home, "off", "/cases?state=x")
    assert resp.status == 303 and resp.headers["Location"] == "/cases?state=x"
    home = await (await client.get("/home", headers=EN)).text()
    assert "care" not in body_classes(home)
    # the desk offers it back, since he is over 60
    assert "Switch on care mode" in home
    # another browser, a new login: still off
    other = await new_client()
    assert "care" not in body_classes(await form_login(other, OTHER_CONSUMER))
    resp = await switch(other, await (await other.get("/home")).text(), "on")
    assert resp.status == 303 and resp.headers["Location"] == "/home"
    assert "care" in body_classes(await (await client.get("/faq")).text())  # the first browser
    # the younger consumer may switch it on too
    young = await new_client()
    home = await form_login(young, CONSUMER)
    await switch(young, home, "on", "//evil.example/")  # an outside address is not followed
    page = await young.get("/home", headers=EN)
    assert "care" in body_classes(await page.text())


async def test_the_switch_needs_the_form_token(new_client: Callable[[], Any]) -> None:
    client = await new_client()
    await form_login(client, CONSUMER)
    resp = await client.post("/care", data={"care": "on"}, allow_redirects=False)
    assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"
    assert "care" not in body_classes(await (await client.get("/home")).text())


async def test_senior_with_a_late_birth_date_is_offered_care_mode(
    client: TestClient, new_client: Callable[[], Any]
) -> None:
    """A consumer who gave the birth date after registering (with a complaint) and has care
    mode off is offered it on the desk, in one click."""
    async with client.app[SESSIONMAKER]() as s:
        await s.execute(update(User).where(User.mobile == OTHER_CONSUMER).values(care_mode=False))
        await s.commit()
    browser = await new_client()
    home = await form_login(browser, OTHER_CONSUMER)
    assert "care" not in body_classes(home) and "Switch on care mode" in home
    offer = re.search(r'<form method="post" action="/care" class="notice care-offer">', home)
    assert offer
    await switch(browser, home, "on")
    assert "care" in body_classes(await (await browser.get("/home")).text())


async def test_visitors_switch_care_mode_with_a_cookie(client: TestClient) -> None:
    page = await (await client.get("/", headers=EN)).text()
    assert "care" not in body_classes(page) and 'href="/care/on?next=/"' in page
    resp = await client.get("/care/on?next=/faq", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/faq"
    page = await (await client.get("/faq", headers=EN)).text()
    assert "care" in body_classes(page) and "Normal text size" in page
    await client.get("/care/off")
    assert "care" not in body_classes(await (await client.get("/faq")).text())


# --- call me back ---------------------------------------------------------------------------


async def callback_page(session: Session, query: str = "") -> str:
    resp = await session.client.get(f"/callback{query}", headers=EN)
    assert resp.status == 200
    return await resp.text()


async def ask(session: Session, **fields: str) -> Any:
    data = {"csrf_token": session.token, "case_id": "", "time": "any", "phone": "", "note": ""}
    data.update(fields)
    return await session.client.post("/callback", data=data, headers=EN)


async def callbacks_of(session: Session) -> str:
    resp = await session.client.get("/callbacks", headers=EN)
    assert resp.status == 200
    return await resp.text()


async def test_call_me_back_reaches_the_insurers_staff_of_the_case(
    new_client: Callable[[], Any],
) -> None:
    consumer = await login(new_client, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case = await resp.json()
    page = await (await consumer.client.get(f"/cases/{case['id']}")).text()
    assert f'href="/callback?case={case["id"]}"' in page  # visible on the case page
    form = await callback_page(consumer, f"?case={case['id']}")
    assert f'<option value="{case["id"]}" selected>' in form
    assert "138****0001" in form and "13800000001" not in form
    resp = await ask(
        consumer, case_id=str(case["id"]), time="afternoon", note="身份证 110105194912310021"
    )
    assert resp.status == 200, await resp.text()
    sent = await resp.text()
    assert "We will call you back" in sent and "138****0001" in sent
    assert case["number"] in sent
    # the insurer's staff see the whole number; another insurer's staff see nothing
    rep = await login(new_client, ANKANG_REP)
    listed = await callbacks_of(rep)
    assert "13800000001" in listed and "Afternoon, 14:00–17:00" in listed
    assert case["number"] in listed and "110105194912310021" not in listed
    assert "13800000001" not in await callbacks_of(await login(new_client, HUAXIN_REP))
    assert "13800000001" not in await callbacks_of(await login(new_client, MEDIATOR))
    # the inbox has it, and the e-mail that leaves the platform masks the number
    app = consumer.client.app
    rep_id = await user_id(app, ANKANG_REP)
    async with app[SESSIONMAKER]() as s:
        kinds = (
            await s.execute(select(Notification.kind).where(Notification.user_id == rep_id))
        ).scalars()
        assert "callback_requested" in list(kinds)
        mail = (
            await s.execute(select(OutboxMessage).where(OutboxMessage.recipient == ANKANG_REP))
        ).scalars()
        bodies = [m.body for m in mail if "回电" in m.subject or "Call-back" in m.subject]
    assert bodies and all("138****0001" in b and "13800000001" not in b for b in bodies)


async def test_call_me_back_reaches_the_mediator_once_assigned(
    new_client: Callable[[], Any],
) -> None:
    case_id, people = await answered_case(new_client)
    consumer = people[CONSUMER]
    await consumer.post(f"/api/v1/cases/{case_id}/actions/request_mediation")
    mediator = await user_id(consumer.client.app, MEDIATOR)
    await assign_mediator(callers(people), case_id, mediator)
    resp = await ask(consumer, case_id=str(case_id), time="morning", phone="010-6512 3456")
    assert resp.status == 200, await resp.text()
    assert "010-****3456" in await resp.text()
    listed = await callbacks_of(people[MEDIATOR])
    assert "010-65123456" in listed and "Morning, 9:00–12:00" in listed
    assert "010-65123456" not in await callbacks_of(people[ANKANG_REP])


async def test_call_me_back_without_a_case_reaches_the_supervisors(
    new_client: Callable[[], Any],
) -> None:
    consumer = await login(new_client, OTHER_CONSUMER)
    form = await callback_page(consumer)
    assert 'name="case_id" value=""' in form  # no case yet: nothing to choose
    resp = await ask(consumer, time="evening")
    assert resp.status == 200
    assert "passed to the platform's staff" in await resp.text()
    listed = await callbacks_of(await login(new_client, SUPERVISOR))
    assert "13800000002" in listed and "General question" in listed


async def test_call_me_back_checks_the_form_and_who_asks(new_client: Callable[[], Any]) -> None:
    consumer = await login(new_client, CONSUMER)
    resp = await ask(consumer, phone="12345")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_phone"
    text = await resp.text()
    assert 'id="phone"' in text and 'aria-invalid="true"' in text
    resp = await ask(consumer, time="midnight")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_callback_time"
    # not someone else's case
    other = await login(new_client, OTHER_CONSUMER)
    theirs = await (await other.post("/api/v1/cases", complaint(await insurer_id(other)))).json()
    resp = await ask(consumer, case_id=str(theirs["id"]))
    assert resp.status in (403, 404)
    # staff do not ask; consumers do not read the requests
    rep = await login(new_client, ANKANG_REP)
    assert (await rep.client.get("/callback")).status == 403
    assert (await consumer.client.get("/callbacks")).status == 403
    # and the form needs its token
    resp = await consumer.client.post("/callback", data={"time": "any"})
    assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"


async def test_call_me_back_is_limited_per_day(new_client: Callable[[], Any]) -> None:
    consumer = await login(new_client, CONSUMER)
    for _ in range(DAILY_LIMIT):
        assert (await ask(consumer)).status == 200
    resp = await ask(consumer)
    assert resp.status == 429 and resp.headers["X-Error-Code"] == "callback_limit"
    assert 0 < int(resp.headers["Retry-After"]) <= 24 * 3600
    assert "several times today" in await resp.text()
    async with consumer.client.app[SESSIONMAKER]() as s:
        count = len(
            list(
                (
                    await s.execute(
                        select(Notification.id).where(
                            Notification.kind == "callback_requested_general"
                        )
                    )
                ).scalars()
            )
        )
    supervisors = 1  # the demo has one
    assert count == DAILY_LIMIT * supervisors
