"""The pages on a phone, as most consumers see them: a 390×844 viewport with the user agent of
WeChat's in-app browser. The header is one line with a menu button; the menu opens and closes
by keyboard (with and without JavaScript); the first screen of a case page shows the case
number, its status, the next step and the one primary action; every control is at least 44 px
high (larger in care mode); axe finds nothing serious, with the menu closed and open."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, FloatRect, Page, async_playwright

from odr.services import demo
from tests.browser.axe import check_page, fetch_axe, serious, serve_axe
from tests.browser.conftest import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    OTHER_CONSUMER,
    Server,
    api_login,
)
from tests.browser.pages import Person, Watch, launch, submit
from tests.builders import assigned_case, complaint, insurer_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

WIDTH, HEIGHT = 390, 844
#: WeChat 8.0 on Android (its XWeb WebView, Chromium 116), as it announces itself.
WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 "
    "MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 "
    "Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
#: The smallest tap target (WCAG 2.5.5, Apple and Android guidance), and in care mode.
MIN_TAP = 44
MIN_TAP_CARE = 52
#: The share of the first screen the closed header may take.
MAX_HEADER_SHARE = 0.12


@dataclass(frozen=True)
class Stage:
    server: Server
    answered: int  # the consumer's case in mediation, with hearing times to choose
    senior_case: int  # a case of the consumer born in 1952, who reads in care mode


@pytest.fixture(scope="module")
def stage(module_server: Server) -> Stage:
    return asyncio.run(_prepare(module_server))


async def _prepare(server: Server) -> Stage:
    logins = (CONSUMER, OTHER_CONSUMER, ANKANG_REP, MEDIATOR, LEAD)
    people = {who: await api_login(server.base, who) for who in logins}
    try:
        # the consumer's case in mediation, a hearing time proposed: the consumer's one
        # primary action is to choose the times that suit them
        case_id = await assigned_case(dict(people), people[MEDIATOR].user_id)
        mediator = people[MEDIATOR]
        await mediator.post(f"/api/v1/cases/{case_id}/actions/accept_assignment")
        slot = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
        await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [slot]}, 201)
        senior = people[OTHER_CONSUMER]
        body = complaint(await insurer_of(senior, "安康人寿"))
        senior_case = (await senior.post("/api/v1/cases", body, 201))["id"]
    finally:
        for session in people.values():
            await session.http.close()
    return Stage(server, case_id, senior_case)


@pytest.fixture(scope="module")
def axe_source(request: pytest.FixtureRequest) -> str:
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("axe-core") if cache else Path(tempfile.gettempdir()) / "odr-axe-core"
    return fetch_axe(where)


async def phone(browser: Browser, server: Server, login: str, *, javascript: bool = True) -> Person:
    """``login`` on a phone inside WeChat, logged in through the login page, on /home."""
    context = await browser.new_context(
        locale="zh-CN",
        viewport={"width": WIDTH, "height": HEIGHT},
        user_agent=WECHAT,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=javascript,
    )
    context.set_default_timeout(20_000)
    page = await context.new_page()
    watch = Watch(server.base)
    watch.attach(page)
    person = Person(login, context, page, watch, server.base)
    await person.goto("/login")
    await page.fill("#login", login)
    await page.fill("#password", demo.DEMO_PASSWORD)
    await submit(page, "main form button[type=submit]")
    assert page.url.endswith("/home"), page.url
    return person


async def box(page: Page, selector: str) -> FloatRect:
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


async def on_first_screen(page: Page, selector: str) -> None:
    """``selector`` is visible without scrolling: inside the 390×844 screen from the top."""
    await page.evaluate("window.scrollTo(0, 0)")
    assert await page.locator(selector).first.is_visible(), f"{selector} is hidden"
    b = await box(page, selector)
    assert b["y"] >= 0 and b["y"] + b["height"] <= HEIGHT, (selector, b)
    assert b["x"] >= 0 and b["x"] + b["width"] <= WIDTH + 1, (selector, b)


async def menu_open(page: Page) -> bool:
    return bool(await page.evaluate("document.getElementById('site-menu').open"))


async def small_targets(page: Page, scope: str, minimum: int) -> list[str]:
    """The visible links, buttons and fields in ``scope`` lower than ``minimum`` pixels (links
    inside running text are left out: WCAG 2.5.8 exempts them)."""
    found: list[str] = await page.evaluate(
        """([scope, minimum]) => Array.from(document.querySelectorAll(
             scope + " a, " + scope + " button, " + scope + " summary, " + scope + " select, "
             + scope + " input:not([type=hidden])"))
           .filter((e) => e.offsetParent !== null)
           // a box or a radio button is tapped with its label: their row counts
           .map((e) => [e, (/^(checkbox|radio)$/.test(e.type) && e.labels.length
                            ? e.closest(".choice") || e : e).getBoundingClientRect()])
           .filter(([e, r]) => r.height < minimum && !e.closest("p, li, dd, td, label, .hint"))
           .map(([e, r]) => `${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${r.height}px`)""",
        [scope, minimum],
    )
    return found


async def check_axe(page: Page, where: str) -> None:
    bad = serious(await check_page(page))
    assert not bad, (where, bad)


async def keyboard_menu(page: Page, *, javascript: bool) -> None:
    """The menu opens and closes from the keyboard: Enter and Space on its button, and
    Escape with the script."""
    summary = page.locator("#site-menu > summary")
    nav = page.locator("header.site nav")
    assert not await menu_open(page) and not await nav.is_visible()
    await summary.focus()
    await page.keyboard.press("Enter")
    assert await menu_open(page) and await nav.is_visible()
    assert await page.evaluate("document.activeElement.tagName") == "SUMMARY"
    await page.keyboard.press("Enter")
    assert not await menu_open(page) and not await nav.is_visible()
    await page.keyboard.press("Space")
    assert await menu_open(page)
    if javascript:
        await page.keyboard.press("Tab")  # into the menu, then Escape from there
        assert await page.evaluate("!!document.activeElement.closest('header.site nav')")
        await page.keyboard.press("Escape")
        assert not await menu_open(page)
        assert await page.evaluate("document.activeElement.tagName") == "SUMMARY"
    else:
        await page.keyboard.press("Space")
        assert not await menu_open(page)


async def test_the_case_page_on_a_phone_in_wechat(stage: Stage, axe_source: str) -> None:
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            consumer = await phone(browser, stage.server, CONSUMER)
            await serve_axe(consumer.context, stage.server.base, axe_source)
            page = consumer.page
            await consumer.goto(f"/cases/{stage.answered}")

            # the header: one short line, the menu closed
            header = await box(page, "header.site")
            assert header["height"] <= HEIGHT * MAX_HEADER_SHARE, header
            assert not await menu_open(page)
            for part in ("h1", ".case-head .state .badge", "#next-step", ".primary-action .button"):
                await on_first_screen(page, part)
            assert "ODR-" in await page.inner_text("h1")
            assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
            await check_axe(page, "case page, menu closed")
            assert await small_targets(page, "main", MIN_TAP) == []

            await keyboard_menu(page, javascript=True)
            await page.keyboard.press("Enter")  # the focus is back on the menu's button
            assert await menu_open(page)  # the menu over the page
            await check_axe(page, "case page, menu open")
            assert await small_targets(page, "header.site", MIN_TAP) == []
            menu = await box(page, "header.site nav")
            assert menu["y"] + menu["height"] <= HEIGHT, menu  # every entry on the screen
            await page.click("header.site nav a[href='/cases']")
            await page.wait_for_url("**/cases")
            assert not await menu_open(page)  # a new page starts with the menu closed

            # the same page forms, in one column
            await consumer.goto("/complaints/new")
            widths = await page.evaluate(
                """() => Array.from(document.querySelectorAll("main form.stack select, "
                     + "main form.stack textarea, main form.stack input#policy_numbers"))
                   .map((e) => e.getBoundingClientRect().width)"""
            )
            assert widths and min(widths) >= WIDTH - 2 * 24, widths
            await check_axe(page, "complaint form")
            consumer.watch.assert_clean(CONSUMER)
            await consumer.context.close()

            # without JavaScript (a WebView with scripts off): the same menu, by keyboard
            bare = await phone(browser, stage.server, CONSUMER, javascript=False)
            await bare.goto(f"/cases/{stage.answered}")
            await keyboard_menu(bare.page, javascript=False)
            await bare.context.close()
        finally:
            await browser.close()


async def test_care_mode_on_a_phone(stage: Stage, axe_source: str) -> None:
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            senior = await phone(browser, stage.server, OTHER_CONSUMER)  # born 1952
            await serve_axe(senior.context, stage.server.base, axe_source)
            page = senior.page
            assert "care" in (await page.get_attribute("body", "class") or "")
            await senior.goto(f"/cases/{stage.senior_case}")
            header = await box(page, "header.site")
            assert header["height"] <= HEIGHT * MAX_HEADER_SHARE * 1.4, header
            for part in ("h1", ".case-head .state .badge", "#next-step"):
                await on_first_screen(page, part)
            assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
            await check_axe(page, "care mode, menu closed")
            assert await small_targets(page, "main", MIN_TAP_CARE) == []
            await keyboard_menu(page, javascript=True)
            await page.keyboard.press("Enter")
            assert await small_targets(page, "header.site", MIN_TAP_CARE) == []
            await check_axe(page, "care mode, menu open")
            senior.watch.assert_clean(OTHER_CONSUMER)
        finally:
            await browser.close()
