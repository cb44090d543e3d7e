"""One-time codes in real Chromium: registering with the code sent by SMS, and "忘记密码" → the
code → a new password, after which the session of the consumer's other browser is over; and
signing an agreement with a code sent by SMS instead of the password. The codes are read from
the server's console, where the development sender prints them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.browser.conftest import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    Server,
    api_login,
    case_to_hearing,
    require_chromium,
    running_server,
)
from tests.browser.pages import launch, new_person, submit, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
def verbose_server(tmp_path: Path) -> Iterator[Server]:
    """A server that logs at INFO: the development sender's messages show on its console."""
    require_chromium()
    with running_server(tmp_path, ODR_LOG_LEVEL="INFO") as running:
        yield running


def code_sent_to(server: Server, number: str) -> str | None:
    """The last code the development sender printed for ``number``."""
    found = re.findall(rf"development sms to {number}: .*?(\d{{6}})", server.output())
    return found[-1] if found else None


async def test_register_with_a_code_then_forget_the_password(verbose_server: Server) -> None:
    server = verbose_server
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            # registering: the form, then the code the SMS brought
            context = await browser.new_context(locale="zh-CN")
            page = await context.new_page()
            await page.goto(server.base + "/register")
            await page.fill("#display_name", "周明")
            await page.fill("#login", "13900000456")
            await page.fill("#password", "zhou-ming-2026")
            await submit(page, "main form button[type=submit]")
            assert "139****0456" in await page.inner_text("#code-sent")
            code = await until(lambda: _async(code_sent_to(server, "13900000456")), "the code")
            await page.fill("#code", code)
            await submit(page, "main form[action='/register/confirm'] button[type=submit]")
            assert page.url.endswith("/home"), page.url
            assert "周明" in await page.inner_text("body")

            # 王芳 is logged in on another browser, then forgets her password on this one
            other = await new_person(browser, server, CONSUMER)
            visitor = await browser.new_context(locale="zh-CN")
            page = await visitor.new_page()
            await page.goto(server.base + "/login")
            await submit(page, "text=忘记密码？")
            assert page.url.endswith("/password/reset"), page.url
            await page.fill("#login", CONSUMER)
            await submit(page, "main form button[type=submit]")
            code = await until(lambda: _async(code_sent_to(server, CONSUMER)), "the reset code")
            await page.fill("#code", code)
            await page.fill("#password", "wang-fang-new-2026")
            await submit(page, "main form[action='/password/reset/confirm'] button[type=submit]")
            assert page.url.endswith("/home"), page.url
            # the other browser's session is over: the next page asks it to log in
            await other.page.goto(server.base + "/home")
            assert "/login" in other.page.url, other.page.url
            # the old password no longer works, the new one does
            login = await browser.new_context(locale="zh-CN")
            page = await login.new_page()
            await page.goto(server.base + "/login")
            await page.fill("#login", CONSUMER)
            await page.fill("#password", "odr-demo-2026")
            await submit(page, "main form button[type=submit]")
            assert "/login" in page.url
            await page.fill("#login", CONSUMER)
            await page.fill("#password", "wang-fang-new-2026")
            await submit(page, "main form button[type=submit]")
            assert page.url.endswith("/home"), page.url
        finally:
            await browser.close()
    assert "Traceback" not in server.output(), server.output()[-4000:]


async def test_sign_an_agreement_with_a_code_sent_by_sms(verbose_server: Server) -> None:
    server = verbose_server
    people = {
        login: await api_login(server.base, login)
        for login in (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)
    }
    try:
        _, case_id = await case_to_hearing(people)
        await people[MEDIATOR].post(
            f"/api/v1/cases/{case_id}/agreement",
            {
                "facts": "消费者住院手术后申请理赔，保险公司拒赔。",
                "terms": "保险公司赔付3000元，双方再无争议。",
                "amount_yuan": "3000.00",
                "due_on": (date.today() + timedelta(days=10)).isoformat(),
                "confidential": True,
            },
        )
    finally:
        for api in people.values():
            await api.http.close()
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            consumer = await new_person(browser, server, CONSUMER)
            page = consumer.page
            await consumer.goto(f"/cases/{case_id}")
            await submit(page, "#outcome-sign-by-sms button[type=submit]")
            assert "短信验证码已发到您的手机" in await page.inner_text("body")
            code = await until(lambda: _async(code_sent_to(server, CONSUMER)), "the code")
            await page.check("#outcome-sign-read")
            await page.fill("#outcome-sign-code", code)
            await submit(page, "#outcome-sign button[type=submit]")
            assert await page.locator("#outcome-sign").count() == 0
            signed = await page.inner_text(".signatures .signed")
            assert "短信验证码" in signed, signed
            consumer.watch.assert_clean(CONSUMER)
        finally:
            await browser.close()
    assert "Traceback" not in server.output(), server.output()[-4000:]


async def _async(value: str | None) -> str | None:
    return value
