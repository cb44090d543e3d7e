"""One-time codes in real Chromium: registering with the code sent by SMS, and "忘记密码" → the
code → a new password, after which the session of the consumer's other browser is over. The
codes are read from the server's console, where the development sender prints them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.browser.conftest import CONSUMER, Server, require_chromium, running_server
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


async def _async(value: str | None) -> str | None:
    return value
