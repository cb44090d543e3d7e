"""The screenshots under docs/screenshots/: ``python -m tests.browser.screenshots``.

A server with the demo data (as the browser tests run it), Debian's Chromium, and for each
language (zh-CN, en) and each device (a phone in WeChat, 390×844; a desktop, 1280×860): the
landing page, a consumer's case page, the hearing room with the mediator and the consumer in
it (fake cameras), and a closing report. Each picture is the first screen, as a person sees it
on opening the page; desktop ones are scaled to 960 px wide. Files are named
``<page>-<device>-<language>.png``; the README shows them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.browser.conftest import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    ROOT,
    Api,
    api_login,
    case_to_hearing,
    require_chromium,
    running_server,
)
from tests.browser.pages import _shrink, launch
from tests.browser.test_phone_browser import WECHAT

TARGET = ROOT / "docs" / "screenshots"
LANGUAGES = ("zh-CN", "en")
#: name → (viewport, user agent: None for Chromium's own)
DEVICES: dict[str, tuple[dict[str, int], str | None]] = {
    "phone": ({"width": 390, "height": 844}, WECHAT),
    "desktop": ({"width": 1280, "height": 860}, None),
}
PAGES = ("landing", "consumer-case", "hearing-room", "closing-report")


@dataclass
class Stage:
    base: str
    cases: dict[str, tuple[int, int]]  # language → (case id, hearing id), a hearing soon
    closed: int  # a case closed without agreement: its closing report
    cookies: dict[str, list[dict[str, Any]]]


async def prepare(base: str) -> Stage:
    logins = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)
    people: dict[str, Api] = {login: await api_login(base, login) for login in logins}
    try:
        cases = {}
        for lang in LANGUAGES:
            hearing_id, case_id = await case_to_hearing(people, minutes=10)
            cases[lang] = (case_id, hearing_id)
        _, closed = await case_to_hearing(people, minutes=180)
        mediator = people[MEDIATOR]
        await mediator.post(f"/api/v1/cases/{closed}/not-settled", {"reason": "双方对金额分歧过大"})
        await mediator.post(f"/api/v1/cases/{closed}/close")
        cookies = {
            login: [{"name": c.key, "value": c.value, "url": base} for c in s.http.cookie_jar]
            for login, s in people.items()
        }
    finally:
        for session in people.values():
            await session.http.close()
    return Stage(base, cases, closed, cookies)


async def context_for(
    browser: Browser, stage: Stage, who: str | None, lang: str, device: str
) -> BrowserContext:
    viewport, agent = DEVICES[device]
    options: dict[str, Any] = {"locale": lang, "viewport": viewport}
    if agent:
        options.update(user_agent=agent, is_mobile=True, has_touch=True)
    context = await browser.new_context(permissions=["camera", "microphone"], **options)
    context.set_default_timeout(30_000)
    if who is not None:
        await context.add_cookies(stage.cookies[who])  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{stage.base}/lang/{lang}?next=/")
    await page.close()
    return context


async def save(page: Page, work: Path, name: str, device: str) -> Path:
    """The first screen of ``page`` as docs/screenshots/<name>.png (a palette PNG)."""
    await page.evaluate("window.scrollTo(0, 0)")
    await page.wait_for_timeout(300)
    raw = work / f"{name}.raw.png"
    await page.screenshot(path=str(raw), full_page=False)
    target = TARGET / f"{name}.png"
    _shrink(raw, target)
    print(f"{target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)", flush=True)
    return target


async def simple_pages(browser: Browser, stage: Stage, work: Path) -> None:
    for lang in LANGUAGES:
        case_id, _ = stage.cases[lang]
        for device in DEVICES:
            for who, name, path in (
                (None, "landing", "/"),
                (CONSUMER, "consumer-case", f"/cases/{case_id}"),
                (CONSUMER, "closing-report", f"/cases/{stage.closed}/report"),
            ):
                context = await context_for(browser, stage, who, lang, device)
                page = await context.new_page()
                response = await page.goto(stage.base + path)
                assert response is not None and response.status == 200, (path, response)
                await save(page, work, f"{name}-{device}-{lang}", device)
                await context.close()


async def hearing_room(browser: Browser, stage: Stage, work: Path, lang: str) -> None:
    """The mediator on a desktop and the consumer on a phone, both in the room, each seeing
    the other's camera: one picture from each."""
    _, hearing_id = stage.cases[lang]
    room = f"{stage.base}/hearings/{hearing_id}/room"
    contexts = {
        MEDIATOR: await context_for(browser, stage, MEDIATOR, lang, "desktop"),
        CONSUMER: await context_for(browser, stage, CONSUMER, lang, "phone"),
    }
    pages = {who: await c.new_page() for who, c in contexts.items()}
    for page in pages.values():
        await page.goto(room)
    mediator, consumer = pages[MEDIATOR], pages[CONSUMER]
    await mediator.click("#join-button")
    await mediator.wait_for_selector("#room:not([hidden])")
    await consumer.click("#join-button")
    await consumer.wait_for_selector("#lobby-screen:not([hidden])")
    admit = "#lobby-list button[data-action=admit]"
    await mediator.click(admit)
    await consumer.wait_for_selector("#lobby-screen", state="hidden")
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        seen = []
        for page in pages.values():
            stats = await page.evaluate("window.odrHearing.stats()")
            videos = [i for i in stats["inbound"] if i["kind"] == "video"]
            seen.append(any(v.get("framesDecoded", 0) > 5 for v in videos))
        if all(seen):
            break
        await asyncio.sleep(0.5)
    else:
        print(f"warning: the video did not flow in {lang}", file=sys.stderr)
    await asyncio.sleep(1.5)  # a few frames more: the fake cameras' picture, not black
    await save(mediator, work, f"hearing-room-desktop-{lang}", "desktop")
    await save(consumer, work, f"hearing-room-phone-{lang}", "phone")
    for context in contexts.values():
        await context.close()


@contextmanager
def server() -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory(prefix="odr-screenshots-") as tmp,
        running_server(Path(tmp)) as running,
    ):
        yield running.base


async def main(keep_old: bool) -> None:
    require_chromium()
    TARGET.mkdir(parents=True, exist_ok=True)
    if not keep_old:
        for old in TARGET.glob("*.png"):
            old.unlink()
    with server() as base, tempfile.TemporaryDirectory() as work:
        stage = await prepare(base)
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                await simple_pages(browser, stage, Path(work))
                for lang in LANGUAGES:
                    await hearing_room(browser, stage, Path(work), lang)
            finally:
                await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-old", action="store_true", help="leave other PNGs in place")
    asyncio.run(main(parser.parse_args().keep_old))
