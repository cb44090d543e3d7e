"""Helpers for driving the product's pages in Chromium: a person with their own browser
context, logged in through the login page; a watch on every page for console errors and for
requests to any address but the server; forms sent and followed; screenshots."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Request,
    WebSocket,
)
from playwright.async_api import Error as PlaywrightError

from odr.services import demo
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, ROOT, USERS, Server, totp_for

#: The few screenshots committed under docs/ (README "Screenshots"); rewritten only when
#: ODR_UPDATE_SCREENSHOTS=1, so that a CI run never changes them.
DOCS_SHOTS = ROOT / "docs" / "screenshots"
DOCS_WIDTH = 960  # pixels: small enough for the README, large enough to read


async def launch(pw: Playwright) -> Browser:
    return await pw.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
    )


async def until(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0, every: float = 0.25
) -> Any:
    """Poll ``check`` until it returns something true; fail with the last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def inbound(stats: dict[str, Any], publisher: int, kind: str) -> dict[str, Any] | None:
    """The inbound stream of ``kind`` from ``publisher`` in `window.odrHearing.stats()`."""
    return next(
        (i for i in stats["inbound"] if i["publisher"] == publisher and i["kind"] == kind), None
    )


@dataclass
class Watch:
    """What the pages of one browser context did wrong: console errors, uncaught exceptions,
    and requests (HTTP or WebSocket) to any address but the server. Each entry names the page
    it happened on."""

    base: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        origins = (self.base + "/", self.base.replace("http", "ws", 1) + "/", "data:", "blob:")
        return url.startswith(origins) or url in (self.base, "about:blank")

    def attach(self, page: Page) -> None:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"{page.url}: {message.text}")

        def request(r: Request) -> None:
            if not self.allowed(r.url):
                self.foreign.append(f"{page.url}: {r.url}")

        def websocket(ws: WebSocket) -> None:
            if not self.allowed(ws.url):
                self.foreign.append(f"{page.url}: {ws.url}")

        def navigated(frame: Any) -> None:
            if frame == page.main_frame:
                self.visited.append(frame.url)

        page.on("console", console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))
        page.on("request", request)
        page.on("websocket", websocket)
        page.on("framenavigated", navigated)

    def assert_clean(self, who: str) -> None:
        assert self.errors == [], (who, self.errors)
        assert self.foreign == [], (who, self.foreign)


@dataclass
class Person:
    """One user in their own browser context (own cookies, own language)."""

    login: str
    context: BrowserContext
    page: Page
    watch: Watch
    base: str

    async def goto(self, path: str) -> None:
        """Shows ``path``. A case page reloads itself when its case changes; when such a
        reload cuts this navigation short, it is made again."""
        for attempt in (1, 2):
            try:
                response = await self.page.goto(self.base + path)
            except PlaywrightError as exc:
                if attempt == 2 or not ("ERR_ABORTED" in str(exc) or "interrupted" in str(exc)):
                    raise
                await self.page.wait_for_load_state()
                continue
            assert response is not None, path
            assert response.status == 200, (path, response.status)
            return

    async def api(self, path: str) -> Any:
        """Reads state through the JSON API with this person's session (assertions only)."""
        response = await self.context.request.get(self.base + path)
        assert response.status == 200, (path, response.status, await response.text())
        return await response.json()

    async def status(self, path: str) -> int:
        response = await self.context.request.get(self.base + path)
        return response.status

    async def post_form(self, path: str, fields: dict[str, str] | None = None) -> None:
        """Sends what a page form would send (with the CSRF token of the page shown now) and
        shows the page it leads to. Only for a step the pages do not offer yet."""
        token = await self.page.input_value("input[name=csrf_token] >> nth=0")
        response = await self.context.request.post(
            self.base + path, form={"csrf_token": token, **(fields or {})}, max_redirects=0
        )
        assert response.status == 303, (path, response.status, await response.text())
        await self.goto(response.headers["location"])


async def new_person(
    browser: Browser,
    server: Server,
    login: str,
    *,
    locale: str = "zh-CN",
    otp_ahead: int = 0,
    width: int = 1280,
    height: int = 860,
) -> Person:
    """A new browser context for ``login``, logged in through the login page (staff: then the
    second-factor page, with the code ``otp_ahead`` steps from now), on the desk page."""
    context = await browser.new_context(
        locale=locale,
        viewport={"width": width, "height": height},
        permissions=["camera", "microphone"],
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
    if USERS[login].totp_secret:
        assert "/login/second-factor" in page.url, page.url
        await page.fill("#otp", totp_for(login, ahead=otp_ahead))
        await submit(page, "main form button[type=submit]")
    assert page.url.endswith("/home"), (login, page.url)
    return person


async def submit(page: Page, target: str | Locator) -> None:
    """Clicks a form's button and waits until the page it leads to has loaded."""
    button = page.locator(target) if isinstance(target, str) else target
    async with page.expect_navigation():
        await button.click()


async def shot(page: Page, directory: Path, name: str, *, publish: bool = False) -> Path:
    """A full-page screenshot under ``directory``; with ``publish`` and ODR_UPDATE_SCREENSHOTS=1
    also a small copy (the visible part, scaled, palette PNG) under docs/screenshots/."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if publish and os.environ.get("ODR_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        visible = directory / f"{name}.visible.png"
        await page.screenshot(path=str(visible), full_page=False)
        _shrink(visible, DOCS_SHOTS / f"{name}.png")
    return path


def _shrink(source: Path, target: Path) -> None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with the PDF library
        shutil.copy(source, target)
        return
    with Image.open(source) as image:
        rgb = image.convert("RGB")
        if rgb.width > DOCS_WIDTH:
            height = round(rgb.height * DOCS_WIDTH / rgb.width)
            rgb = rgb.resize((DOCS_WIDTH, height), Image.Resampling.LANCZOS)
        rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
