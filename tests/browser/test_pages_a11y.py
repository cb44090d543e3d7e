"""The main pages of every role in Chromium, in both languages: axe-core (WCAG 2 A and AA)
finds no serious or critical violation, no page logs a console error or reaches another
address, and each page is saved as a screenshot (a few also under docs/ on request). Plus the
language switch (remembered, dates and money localised) and care mode for older consumers.

One server for the module; its cases are brought to their states over the API: case A has a
hearing ten minutes ahead (the room before joining), case B was closed without agreement (the
closing report)."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.axe import check_page, fetch_axe, serious, serve_axe
from tests.browser.conftest import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    OTHER_CONSUMER,
    SUPERVISOR,
    Server,
    api_login,
    case_to_hearing,
)
from tests.browser.pages import Person, Watch, launch, new_person, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # Chromium start-up and whole walks

LANGUAGES = ("zh-CN", "en")

#: (who, name, path) of the main pages; None is a visitor. {a}, {h}: case A and its hearing;
#: {b}: the closed case B. Add every new main page here.
PAGES: list[tuple[str | None, str, str]] = [
    (None, "landing", "/"),
    (None, "login", "/login"),
    (None, "register", "/register"),
    (None, "password-reset", "/password/reset"),
    (None, "activate", "/activate"),
    (None, "terms", "/terms"),
    (None, "faq", "/faq"),
    (None, "privacy", "/privacy"),
    (None, "staff-check", "/staff-check"),
    (CONSUMER, "consumer-desk", "/home"),
    (CONSUMER, "complaint-form", "/complaints/new"),
    (CONSUMER, "consumer-cases", "/cases"),
    (CONSUMER, "consumer-case", "/cases/{a}"),
    (CONSUMER, "readiness-check", "/hearings/{h}/check"),
    (CONSUMER, "hearing-room-consumer", "/hearings/{h}/room"),
    (CONSUMER, "callback-form", "/callback"),
    (CONSUMER, "closing-report", "/cases/{b}/report"),
    (CONSUMER, "account", "/account"),
    (CONSUMER, "account-close", "/account/close"),
    (ANKANG_REP, "insurer-desk", "/home"),
    (ANKANG_REP, "insurer-queue", "/cases"),
    (ANKANG_REP, "insurer-inbox", "/inbox"),
    (ANKANG_REP, "insurer-case", "/cases/{a}"),
    (ANKANG_REP, "staff-account", "/account"),
    (MEDIATOR, "mediator-desk", "/home"),
    (MEDIATOR, "mediator-queue", "/cases"),
    (MEDIATOR, "mediator-case", "/cases/{a}"),
    (MEDIATOR, "hearing-room-mediator", "/hearings/{h}/room"),
    (MEDIATOR, "callback-requests", "/callbacks"),
    (SUPERVISOR, "supervisor-desk", "/home"),
    (SUPERVISOR, "supervisor-dashboard", "/supervisor/dashboard"),
    (SUPERVISOR, "warnings", "/warnings"),
    (SUPERVISOR, "referral-form", "/referrals/new"),
    (SUPERVISOR, "admin-users", "/admin/users"),
    (SUPERVISOR, "admin-organisations", "/admin/organisations"),
]

#: Pages also saved under docs/screenshots/ with ODR_UPDATE_SCREENSHOTS=1: none, the README's
#: pictures are made by `python -m tests.browser.screenshots` (phone and desktop).
PUBLISHED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Stage:
    server: Server
    case_a: int
    hearing_a: int
    case_b: int
    cookies: dict[str, list[dict[str, Any]]]  # API sessions' cookies, by login

    def path(self, template: str) -> str:
        return template.format(a=self.case_a, h=self.hearing_a, b=self.case_b)


@pytest.fixture(scope="module")
def stage(module_server: Server) -> Stage:
    return asyncio.run(_prepare(module_server))


async def _prepare(server: Server) -> Stage:
    logins = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD, SUPERVISOR)
    people = {login: await api_login(server.base, login) for login in logins}
    try:
        hearing_a, case_a = await case_to_hearing(people, minutes=10)
        _, case_b = await case_to_hearing(people, minutes=180)
        mediator = people[MEDIATOR]
        await mediator.post(f"/api/v1/cases/{case_b}/not-settled", {"reason": "双方对金额分歧过大"})
        await mediator.post(f"/api/v1/cases/{case_b}/close")
        cookies = {
            login: [
                {"name": c.key, "value": c.value, "url": server.base}
                for c in session.http.cookie_jar
            ]
            for login, session in people.items()
        }
    finally:
        for session in people.values():
            await session.http.close()
    return Stage(server, case_a, hearing_a, case_b, cookies)


@pytest.fixture(scope="module")
def axe_source(request: pytest.FixtureRequest) -> str:
    cache = getattr(request.config, "cache", None)  # none with -p no:cacheprovider
    where = cache.mkdir("axe-core") if cache else Path(tempfile.gettempdir()) / "odr-axe-core"
    return fetch_axe(where)


async def visitor(browser: Browser, stage: Stage, who: str | None, lang: str) -> Person:
    """A browser context for ``who`` (a visitor when None), with the session of its API login,
    in ``lang`` chosen with the language switch."""
    base = stage.server.base
    context = await browser.new_context(locale=lang, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    if who is not None:
        await context.add_cookies(stage.cookies[who])  # type: ignore[arg-type]
    page = await context.new_page()
    watch = Watch(base)
    watch.attach(page)
    person = Person(who or "visitor", context, page, watch, base)
    await person.goto(f"/lang/{lang}?next=/")
    return person


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_main_pages_are_accessible(
    stage: Stage, axe_source: str, lang: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    found: dict[str, list[dict[str, Any]]] = {}
    minor: set[str] = set()
    shots = tmp_path / "screenshots" / lang
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            for who in dict.fromkeys(who for who, _, _ in PAGES):
                person = await visitor(browser, stage, who, lang)
                await serve_axe(person.context, stage.server.base, axe_source)
                for _, name, template in (p for p in PAGES if p[0] == who):
                    await person.goto(stage.path(template))
                    assert await person.page.get_attribute("html", "lang") == lang, name
                    violations = await check_page(person.page)
                    minor.update(f"{v['id']} ({v['impact']})" for v in violations)
                    bad = serious(violations)
                    if bad:
                        found[name] = bad
                    await shot(
                        person.page, shots, f"{name}-{lang}", publish=(name, lang) in PUBLISHED
                    )
                if who is None:
                    await checker_sees_a_violation(person)
                person.watch.assert_clean(person.login)
                await person.context.close()
        finally:
            await browser.close()
    print(f"{len(PAGES)} pages in {lang} checked in {time.monotonic() - started:.1f} s")
    print(f"all violations found ({lang}): {sorted(minor) or None}")
    assert not found, "serious accessibility violations:\n" + "\n".join(
        f"{name}: {v['id']} ({v['impact']}, {v['count']}×) {v['help']}: {v['nodes']}"
        for name, violations in found.items()
        for v in violations
    )


async def test_the_language_switch_is_remembered_and_localises(stage: Stage) -> None:
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            consumer = await new_person(browser, stage.server, CONSUMER, locale="zh-CN")
            page = consumer.page
            await consumer.goto(stage.path("/cases/{a}"))
            assert await page.get_attribute("html", "lang") == "zh-CN"
            facts = await page.inner_text(".case-head .facts")
            assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", facts), facts  # 2026年11月3日
            assert "¥3,200.00" in facts and "CN¥" not in facts
            assert "保险公司" in await page.inner_text(".case-head")

            # the page's own switch; the next page stays in English
            await page.click(".languages a[hreflang=en]")
            await page.wait_for_function("document.documentElement.lang === 'en'")
            assert page.url.endswith(stage.path("/cases/{a}")), page.url
            facts = await page.inner_text(".case-head .facts")
            assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", facts), facts  # Nov 3, 2026
            assert "CN¥3,200.00" in facts and "Insurer" in facts
            await page.click("header.site a[href='/home']")
            await page.wait_for_url("**/home")
            assert await page.get_attribute("html", "lang") == "en"
            assert "My home page" in await page.inner_text("header.site")

            # and back
            await page.click(".languages a[hreflang=zh-CN]")
            await page.wait_for_function("document.documentElement.lang === 'zh-CN'")
            await consumer.goto("/cases")
            assert await page.get_attribute("html", "lang") == "zh-CN"
            consumer.watch.assert_clean(consumer.login)
        finally:
            await browser.close()


async def test_care_mode_for_a_consumer_born_in_1952(stage: Stage) -> None:
    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            sizes = {}
            for login in (OTHER_CONSUMER, CONSUMER):  # 李建国, born 1952; 王芳, born 1985
                person = await new_person(browser, stage.server, login)
                page = person.page
                classes = (await page.get_attribute("body", "class") or "").split()
                assert ("care" in classes) == (login == OTHER_CONSUMER), (login, classes)
                sizes[login] = await page.evaluate(
                    """() => ({
                      text: parseFloat(getComputedStyle(document.body).fontSize),
                      button: parseFloat(getComputedStyle(
                        document.querySelector("main button, main .button")).fontSize),
                    })"""
                )
                person.watch.assert_clean(login)
                await person.context.close()
        finally:
            await browser.close()
    older, younger = sizes[OTHER_CONSUMER], sizes[CONSUMER]
    assert older["text"] > younger["text"], sizes
    assert older["button"] > younger["button"], sizes


async def checker_sees_a_violation(person: Person) -> None:
    """The checker runs for real: a field without a label and an image without a text are
    found (then the page is loaded again)."""
    await person.page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML(
             "beforeend", '<input id="unlabelled"><img src="/static/favicon.svg">')"""
    )
    ids = {v["id"] for v in serious(await check_page(person.page))}
    assert {"label", "image-alt"} <= ids, ids
    await person.page.reload()
