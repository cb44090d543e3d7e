"""The inbox page and its unread count, regulator referrals through the form, and the
supervisors' early warnings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from odr.http.keys import CASES, SESSIONMAKER, SETTINGS
from odr.services.warnings import detect_early_warnings
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    SUPERVISOR,
    Session,
    complaint,
    insurer_id,
    login,
)
from tests.integration.test_case_pages import DESCRIPTION, EN, ZH, file_case, page, token_of
from tests.integration.test_warnings import TEXTS

NAV_COUNT = re.compile(r'<span aria-hidden="true">(?:Inbox|收件箱) \((\d+)\)</span>')


def unread_in_nav(text: str) -> int:
    match = NAV_COUNT.search(text)
    assert match, "no inbox count in the navigation"
    return int(match.group(1))


async def test_the_consumer_reads_the_receipt_and_marks_it_read(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, number = await file_case(consumer)
    english = await page(consumer, "/inbox", EN)
    assert f"Your complaint {number} was registered" in english
    assert f'href="/cases/{case_id}"' in english
    assert "Unread" in english and "Mark all as read" in english
    assert unread_in_nav(english) >= 1
    chinese = await page(consumer, "/inbox", ZH)
    assert f"您的投诉 {number} 已登记" in chinese and "未读" in chinese
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", chinese)  # the deadline, localised

    resp = await consumer.client.post(
        "/inbox/read", data={"csrf_token": token_of(english)}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/inbox"
    after = await page(consumer, "/inbox", EN)
    assert unread_in_nav(after) == 0
    assert f"Your complaint {number} was registered" in after  # still listed, now read
    assert "Mark all as read" not in after
    assert unread_in_nav(await page(consumer, "/cases", EN)) == 0  # on every page

    # the form needs the session's token
    resp = await consumer.client.post("/inbox/read", data={}, allow_redirects=False)
    assert resp.status == 403


async def test_opening_a_case_marks_what_was_said_about_it_read(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    first, _ = await file_case(consumer)
    second, _ = await file_case(consumer, description=DESCRIPTION + " 另一份保单的问题。")
    rep = await login(new_client, ANKANG_REP)
    unread_before = unread_in_nav(await page(rep, "/inbox", EN))

    def unread(items: list[dict[str, Any]]) -> set[Any]:
        return {n["case_id"] for n in items if not n["read"]}

    listed = (await (await consumer.get("/api/v1/notifications")).json())["items"]
    assert {first, second} <= unread(listed)
    shown = await page(consumer, f"/cases/{first}", EN)
    listed = (await (await consumer.get("/api/v1/notifications")).json())["items"]
    assert first not in unread(listed) and second in unread(listed)  # only that case's
    assert unread_in_nav(shown) == len([n for n in listed if not n["read"]])  # counted after
    # the other side's notifications about the case stay as they were
    assert unread_in_nav(await page(rep, "/inbox", EN)) == unread_before
    await page(rep, f"/cases/{first}", EN)
    assert unread_in_nav(await page(rep, "/inbox", EN)) == unread_before - 1


async def test_the_insurer_reps_inbox_shows_the_new_complaint(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    case_id, number = await file_case(consumer)
    rep = await login(new_client, ANKANG_REP)
    text = await page(rep, "/inbox", EN)
    assert f"Complaint {number} is waiting for your answer" in text
    assert f'href="/cases/{case_id}"' in text
    assert unread_in_nav(text) >= 1
    # the consumer's own notifications are not the rep's
    assert f"Your complaint {number}" not in text
    assert f"投诉 {number} 待贵公司答复" in await page(rep, "/inbox", ZH)


async def referral_page(session: Session) -> str:
    return await page(session, "/referrals/new", EN)


async def test_a_supervisor_registers_a_referral_through_the_form(new_client: Any) -> None:
    supervisor = await login(new_client, SUPERVISOR)
    text = await referral_page(supervisor)
    assert "terms_version" not in text  # the consumer did not file it
    insurer = re.search(r'<option value="(\d+)"[^>]*>Ankang Life</option>', text)
    assert insurer
    zone = ZoneInfo(supervisor.client.app[SETTINGS].timezone)
    received = datetime.now(zone) - timedelta(days=2)
    data = {
        "csrf_token": token_of(text),
        "consumer_name": "赵敏",
        "consumer_mobile": "13600000077",
        "regulator_reference": "12378-2026-000321",
        "received_at": received.strftime("%Y-%m-%dT%H:%M"),
        "insurer_id": insurer.group(1),
        "policy_numbers": "AK2023100188",
        "category": "claims",
        "amount": "3200",
        "description": DESCRIPTION,
        "desired_outcome": "",
        "contact_preference": "sms",
        "birth_date": "",
    }

    missing = await supervisor.client.post(
        "/referrals/new", data={**data, "regulator_reference": ""}, headers=EN
    )
    assert missing.status == 422
    body = await missing.text()
    assert re.search(r'id="regulator_reference"[^>]*aria-invalid="true"', body)
    assert "赵敏" in body and "AK2023100188" in body  # what was typed is kept

    resp = await supervisor.client.post(
        "/referrals/new", data=data, headers=EN, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    location = resp.headers["Location"]
    assert re.fullmatch(r"/cases/\d+", location)
    case_page = await page(supervisor, location, EN)
    assert "12378-2026-000321" in case_page and "Referred by the regulator" in case_page
    assert "The referral was registered as case" in case_page
    assert received.strftime("%b %-d, %Y") in case_page  # the regulator's date counts

    # a number that is not a mobile number is refused on its field
    bad = await supervisor.client.post(
        "/referrals/new", data={**data, "consumer_mobile": "12345"}, headers=EN
    )
    assert bad.status == 422
    assert re.search(r'id="consumer_mobile"[^>]*aria-invalid="true"', await bad.text())


async def test_only_supervisors_register_referrals_and_see_warnings(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    for path in ("/referrals/new", "/warnings"):
        resp = await consumer.client.get(path, headers=EN)
        assert resp.status == 403, path
        assert "You are not allowed to do this." in await resp.text()
    resp = await consumer.client.post(
        "/referrals/new", data={"csrf_token": consumer.token}, headers=EN
    )
    assert resp.status == 403
    assert "Register a referral" not in await page(consumer, "/home", EN)


async def test_the_supervisor_sees_the_early_warnings(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    numbers = []
    for n, text in enumerate(TEXTS[:3]):
        resp = await consumer.post(
            "/api/v1/cases",
            complaint(
                insurer, description=text, category="mis_selling", policy_numbers=[f"AK-M{n}"]
            ),
        )
        assert resp.status == 201
        numbers.append((await resp.json())["number"])
    app = consumer.client.app
    now = datetime.now(UTC) + timedelta(minutes=1)
    assert await detect_early_warnings(app[SESSIONMAKER], app[CASES].triage_rules, now) == 1

    supervisor = await login(new_client, SUPERVISOR)
    cases = await page(supervisor, "/cases", EN)
    assert 'href="/warnings"' in cases and 'href="/referrals/new"' in cases
    assert 'href="/warnings"' in await page(supervisor, "/home", EN)
    english = await page(supervisor, "/warnings", EN)
    assert "Early warnings" in english and "Ankang Life" in english
    assert "Mis-sold or misleading sales" in english
    assert all(number in english for number in numbers)
    chinese = await page(supervisor, "/warnings", ZH)
    assert "风险预警" in chinese and "安康人寿" in chinese
    # the supervisors were told in their inbox too
    inbox = await page(supervisor, "/inbox", EN)
    assert "Early warning: 3 similar complaints against 安康人寿" in inbox
