"""The whole product in real Chromium browsers, through its pages (forms and buttons; the JSON
API only to read state for the assertions): a consumer files a complaint, the insurer's rep
answers, the consumer asks for mediation, the centre's lead assigns the mediator, who accepts
and proposes a time; both parties tick it, the mediator confirms; three browsers hold the
hearing (they see each other; recording, a caucus, the end); the mediator drafts the agreement,
the parties sign it after re-authentication, the mediator countersigns; the insurer records
the payment, the consumer confirms it, the mediator closes and the closing report shows, with
its PDF. No page logs a console error or reaches any address but the server."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, async_playwright

from odr.services import demo
from tests.browser.conftest import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    USERS,
    Server,
    totp_for,
)
from tests.browser.pages import Person, inbound, launch, new_person, shot, submit, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # Chromium start-up and whole walks

ZONE = ZoneInfo("Asia/Shanghai")  # the server's default ODR_TIMEZONE: datetime-local inputs
POLICY = "AK2023100188"
DESCRIPTION = (
    "我因急性阑尾炎住院手术，按医疗险提交了全部材料，保险公司一直说在审核，"
    "已经过去40天了还没有结果。"
)


async def test_the_whole_path_through_the_pages(server: Server, tmp_path: Path) -> None:
    started = time.monotonic()
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            await whole_path(browser, server, tmp_path / "screenshots")
        finally:
            await browser.close()
    print(f"the whole path took {time.monotonic() - started:.1f} s")
    assert "Traceback" not in server.output(), server.output()[-4000:]


async def whole_path(browser: Browser, server: Server, shots: Path) -> None:
    consumer = await new_person(browser, server, CONSUMER)
    case_id = await file_complaint(consumer, shots)
    case = f"/cases/{case_id}"

    async def state() -> str:
        detail = await consumer.api(f"/api/v1/cases/{case_id}")
        return str(detail["state"])

    # the insurer's rep finds the complaint on the desk and answers it
    rep = await new_person(browser, server, ANKANG_REP)
    await rep.page.click(f"main a[href='{case}']")
    await rep.page.wait_for_url(f"**{case}")
    await rep.page.check("#answer-kind-reject")
    await rep.page.fill("#answer-text", "根据保单第5条免责条款，本次住院不属于保险责任，不予赔付。")
    await submit(rep.page, "#op-answer button[type=submit]")
    await done(rep)
    assert await state() == "insurer_answered"

    # the consumer reads the answer and asks for mediation
    await consumer.goto(case)
    assert "不予赔付" in await consumer.page.inner_text("#answer-heading + p + p")
    await submit(consumer.page, "#op-reject_answer button[type=submit]")
    await done(consumer)

    # the centre's lead assigns the mediator in the hearing section
    lead = await new_person(browser, server, LEAD)
    await lead.goto(case)
    await lead.page.select_option("#assign-mediator", label=USERS[MEDIATOR].name)
    await submit(lead.page, "#hearings form[action$='/mediator'] button[type=submit]")
    await hearing_done(lead)

    # the mediator accepts the case and proposes a time about ten minutes ahead
    mediator = await new_person(browser, server, MEDIATOR)
    await mediator.goto(case)
    accept = mediator.page.locator("#op-accept_assignment button[type=submit]")
    await submit(mediator.page, accept)
    await done(mediator)
    assert await mediator.page.locator("#op-accept_assignment").count() == 0
    starts = (datetime.now(ZONE) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    await mediator.page.fill("#propose-slot-0", starts.strftime("%Y-%m-%dT%H:%M"))
    await mediator.page.fill("#propose-duration", "30")
    await submit(mediator.page, "#propose-hearing button[type=submit]")
    await hearing_done(mediator)

    # both parties tick the time; the mediator confirms it
    for party in (consumer, rep):
        await party.goto(case)
        slot = party.page.locator("#hearings form[action$='/choose'] input[name=slot]")
        assert await slot.count() == 1
        await slot.check()
        await submit(party.page, "#hearings form[action$='/choose'] button[type=submit]")
        await hearing_done(party)
    await mediator.goto(case)
    await mediator.page.check("#hearings input[name=starts_at]")
    await submit(mediator.page, "#hearings form[action$='/confirm'] button[type=submit]")
    await hearing_done(mediator)
    assert await state() == "hearing_scheduled"

    # the hearing: each joins from the case page; they see each other
    people = (mediator, consumer, rep)
    ids = {p.login: (await p.api("/api/v1/me"))["user"]["id"] for p in people}
    for person in people:
        await person.goto(case)
        await submit(person.page, "#hearings a.button[href$='/room']")
        assert re.search(r"/hearings/\d+/room$", person.page.url), person.page.url
    await hold_hearing(mediator, consumer, rep, ids, shots)

    # the agreement: drafted by the mediator, signed by both parties, countersigned
    await mediator.goto(case)
    await mediator.page.fill("#outcome-draft-facts", "消费者住院手术后申请理赔，保险公司拒赔。")
    await mediator.page.fill("#outcome-draft-terms", "保险公司赔付3000元，双方再无争议。")
    await mediator.page.fill("#outcome-draft-amount", "3000")
    due = (datetime.now(ZONE) + timedelta(days=10)).date().isoformat()
    await mediator.page.fill("#outcome-draft-due_on", due)
    await submit(mediator.page, "#outcome-draft button[type=submit]")
    await outcome_done(mediator)
    assert "3000" in await mediator.page.inner_text(".agreement-text")
    for person, otp in ((consumer, False), (rep, True), (mediator, True)):
        await sign(person, case, otp)
    assert await state() == "settled"

    # the insurer records the payment; the consumer confirms it arrived
    await rep.goto(case)
    assert await rep.page.input_value("#outcome-payment-amount") == "3000.00"
    await rep.page.fill("#outcome-payment-reference", "TX-20240601-88")
    await submit(rep.page, "#outcome-payment button[type=submit]")
    await outcome_done(rep)
    await consumer.goto(case)
    assert "TX-20240601-88" in await consumer.page.inner_text("#outcome .payments")
    await submit(consumer.page, "#outcome-confirm button[type=submit]")
    await outcome_done(consumer)
    assert await state() == "fulfilled"

    # the mediator closes: the closing report, in the page and as a PDF
    await mediator.goto(case)
    await mediator.page.check("#outcome-close-confirm")  # closing cannot be undone
    await submit(mediator.page, "#outcome-close button[type=submit]")
    assert mediator.page.url.endswith(f"{case}/report"), mediator.page.url
    report = await mediator.page.inner_text("#closing-report")
    assert demo.USERS[0].name in report and "安康人寿" in report
    assert await state() == "closed"
    await shot(mediator.page, shots, "closing-report-zh-CN", publish=True)
    await consumer.goto(case)
    await submit(consumer.page, "#outcome .documents a[href$='/report']")
    assert consumer.page.url.endswith(f"{case}/report")
    pdf = await consumer.page.get_attribute("#closing-report a[href*='report.pdf']", "href")
    assert pdf
    response = await consumer.context.request.get(server.base + pdf)
    assert response.status == 200 and (await response.body()).startswith(b"%PDF")

    for person in (consumer, rep, lead, mediator):
        assert len(person.watch.visited) > 3, (person.login, person.watch.visited)
        person.watch.assert_clean(person.login)
        await person.context.close()


async def file_complaint(consumer: Person, shots: Path) -> int:
    """The consumer files through the guided form from the desk; returns the case id."""
    page = consumer.page
    await submit(page, "main a.button[href='/complaints/new']")
    await page.select_option("#insurer_id", label="安康人寿")
    await page.fill("#policy_numbers", POLICY)
    await page.select_option("#category", "claims")
    await page.fill("#amount", "3200")
    await page.fill("#description", DESCRIPTION)
    assert str(len(DESCRIPTION)) in await page.inner_text("#description-count")  # the counter
    await page.fill("#desired_outcome", "尽快赔付")
    await page.check("#contact-sms")
    await page.check("#terms_version")
    await shot(page, shots, "complaint-form-zh-CN")
    await submit(page, "main form button[type=submit]")
    match = re.search(r"/cases/(\d+)$", page.url)
    assert match, page.url
    case_id = int(match.group(1))
    number = (await consumer.api(f"/api/v1/cases/{case_id}"))["number"]
    assert number in await page.inner_text(".notice.success")
    return case_id


async def done(person: Person) -> None:
    """A case-page form came back with its 'done' notice and no error."""
    await person.page.wait_for_selector(".notice.success[role=status]")
    assert await person.page.locator("main [role=alert]").count() == 0, await alerts(person)


async def hearing_done(person: Person) -> None:
    assert "#hearings" in person.page.url or "/cases/" in person.page.url, person.page.url
    await person.page.wait_for_selector("#hearings .notice.success")
    assert await person.page.locator("#hearings .alert").count() == 0, await alerts(person)


async def outcome_done(person: Person) -> None:
    await person.page.wait_for_selector("#outcome .notice.success")
    assert await person.page.locator("#outcome .alert").count() == 0, await alerts(person)


async def alerts(person: Person) -> list[str]:
    return [await a.inner_text() for a in await person.page.locator("[role=alert]").all()]


async def sign(person: Person, case: str, otp: bool) -> None:
    """Signs after reading, with the password (and, for staff, a code of the next 30-second
    step: the code used at login may not be used twice)."""
    await person.goto(case)
    await person.page.check("#outcome-sign-read")
    await person.page.fill("#outcome-sign-password", demo.DEMO_PASSWORD)
    if otp:
        await person.page.fill("#outcome-sign-otp", totp_for(person.login, ahead=1))
    else:
        assert await person.page.locator("#outcome-sign-otp").count() == 0
    await submit(person.page, "#outcome-sign button[type=submit]")
    await outcome_done(person)
    assert await person.page.locator("#outcome-sign").count() == 0


async def hold_hearing(
    mediator: Person, consumer: Person, rep: Person, ids: dict[str, int], shots: Path
) -> None:
    everyone = (mediator, consumer, rep)
    await mediator.page.click("#join-button")
    await mediator.page.wait_for_selector("#room:not([hidden])")
    for party in (consumer, rep):
        await party.page.click("#join-button")
        await party.page.wait_for_selector("#lobby-screen:not([hidden])")
    for party in (consumer, rep):
        admit = f"#lobby-list button[data-action=admit][data-user-id='{ids[party.login]}']"
        await mediator.page.click(admit)
    for party in (consumer, rep):
        await party.page.wait_for_selector("#lobby-screen", state="hidden")

    async def sees_everyone(person: Person) -> bool:
        stats = await person.page.evaluate("window.odrHearing.stats()")
        for other in everyone:
            if other is not person:
                video = inbound(stats, ids[other.login], "video")
                if not (video and video["framesDecoded"] > 0):
                    return False
        return True

    for person in everyone:
        await until(partial(sees_everyone, person), f"{person.login} to see the others", 45)

    # recording, with its indicator for everyone
    await mediator.page.click("#recording-toggle")
    for person in everyone:
        await person.page.wait_for_selector("#recording-indicator:not([hidden])")
    await asyncio.sleep(2.2)  # one whole recording segment
    await shot(mediator.page, shots, "hearing-room-mediator-zh-CN", publish=True)

    # a caucus with the consumer's side: the rep is told, then brought back
    await mediator.page.click("#caucus-consumer")
    await rep.page.wait_for_selector("#caucus-notice:not([hidden])")
    assert await consumer.page.is_hidden("#caucus-notice")
    await mediator.page.click("#caucus-end")
    await rep.page.wait_for_selector("#caucus-notice", state="hidden")

    # the end, after confirming
    await mediator.page.click("#end-hearing")
    await mediator.page.wait_for_selector("#end-dialog[open]")
    await mediator.page.click("#end-confirm")
    for person in everyone:
        await person.page.wait_for_selector("#ended:not([hidden])")
