"""The account page in Chromium: a field changed through its form, and "log out everywhere"
with two browser contexts of the same person (the other one is logged out at its next page)."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.browser.conftest import CONSUMER, Server
from tests.browser.pages import launch, new_person, submit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


async def test_change_a_field_and_log_out_everywhere(server: Server) -> None:
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            phone = await new_person(browser, server, CONSUMER, locale="en")
            laptop = await new_person(browser, server, CONSUMER, locale="en")
            # the header links every signed-in person to the page
            await submit(laptop.page, "header a.account-link")
            assert laptop.page.url.endswith("/account")
            # a field changed through its form
            await laptop.page.fill("#display_name", "李明 (new)")
            await submit(laptop.page, "form[action='/account/name'] button[type=submit]")
            assert await laptop.page.locator("p.notice.success").count() == 1
            assert await laptop.page.input_value("#display_name") == "李明 (new)"
            assert "李明 (new)" in await laptop.page.locator("header .who").inner_text()
            # both sessions are listed, this one marked
            rows = laptop.page.locator("table.sessions tbody tr")
            assert await rows.count() == 2
            assert await laptop.page.locator("tr.current-session").count() == 1
            assert "Chrome" in await rows.first.inner_text()
            # log out everywhere else: the phone's next page is the login page
            await submit(laptop.page, "form[action='/account/sessions/end-others'] button")
            assert await laptop.page.locator("table.sessions tbody tr").count() == 1
            await phone.goto("/home")
            assert "/login" in phone.page.url, phone.page.url
            await laptop.goto("/home")
            assert laptop.page.url.endswith("/home")
            phone.watch.assert_clean("phone")
            laptop.watch.assert_clean("laptop")
        finally:
            await browser.close()
