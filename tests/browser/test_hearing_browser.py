"""A whole hearing in three real Chromium browsers (mediator, consumer, insurer's rep) through
the product's pages: login, consent, lobby, media both ways through the server's relay,
recording, a caucus that cuts one side off, chat with masking, the end, and the recordings
page. No page may log a console error or reach any address but the server."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from odr.services import demo
from tests.browser.conftest import (
    ANKANG_REP,
    CHROMIUM,
    CHROMIUM_FLAGS,
    CONSUMER,
    MEDIATOR,
    OTHER_CONSUMER,
    SUPERVISOR,
    USERS,
    Server,
    api_login,
    open_hearing,
    totp_for,
)
from tests.browser.pages import inbound, until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # Chromium start-up and whole walks

NOTES = Path("/work/notes/screenshots")

#: The caucus notices a participant's screen shows (banners and the passing message).
CAUCUS_NOTICES = """() => {
  const texts = JSON.parse(document.getElementById("hearing-texts").textContent);
  const caucus = [texts.caucus_started_consumer, texts.caucus_started_insurer];
  const notice = document.getElementById("caucus-notice");
  return ["caucus-notice", "caucus-info", "room-message"]
    .map((id) => document.getElementById(id))
    .filter((e) => !e.hidden && e.textContent.trim())
    .filter((e) => e === notice || caucus.includes(e.textContent.trim()))
    .map((e) => e.textContent.trim());
}"""


@dataclass
class Person:
    login: str
    user_id: int
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("window.odrHearing.stats()")
        return result

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("window.odrHearing.state")
        return result


def by_slot(stats: dict[str, Any], slot: int, kind: str) -> dict[str, Any]:
    return next(i for i in stats["inbound"] if i["slot"] == slot and i["kind"] == kind)


async def enter(browser: Browser, server: Server, login: str, user_id: int, room: str) -> Person:
    """A new browser context, logged in through the login page (staff: then the second
    factor), landing on the room page."""
    context = await browser.new_context(
        locale="zh-CN",
        viewport={"width": 1280, "height": 860},
        permissions=["camera", "microphone"],
    )
    context.set_default_timeout(20_000)
    page = await context.new_page()
    person = Person(login, user_id, context, page)
    allowed = (server.base, server.base.replace("http", "ws", 1), "data:", "blob:")

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            person.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: person.errors.append(f"uncaught: {exc}"))
    page.on(
        "request",
        lambda r: None if r.url.startswith(allowed) else person.foreign.append(r.url),
    )
    page.on(
        "websocket",
        lambda ws: None if ws.url.startswith(allowed) else person.foreign.append(ws.url),
    )
    await page.goto(server.base + room)
    assert "/login" in page.url  # not logged in: the room sends to the login page and back
    await page.fill("#login", login)
    await page.fill("#password", demo.DEMO_PASSWORD)
    await page.click("main form button[type=submit]")
    if USERS[login].totp_secret:
        await page.wait_for_url("**/login/second-factor**")
        await page.fill("#otp", totp_for(login, ahead=1))
        await page.click("main form button[type=submit]")
    await page.wait_for_url(f"**{room}")
    return person


async def shot(page: Page, tmp: Path, name: str, keep: bool = False) -> None:
    path = tmp / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if keep and NOTES.parent.is_dir():
        NOTES.mkdir(exist_ok=True)
        shutil.copy(path, NOTES / path.name)


async def test_a_hearing_in_three_browsers(server: Server, tmp_path: Path) -> None:
    started = time.monotonic()
    hearing_id, _case_id, api = await open_hearing(server.base)
    ids = {login: api[login].user_id for login in (MEDIATOR, CONSUMER, ANKANG_REP)}
    room = f"/hearings/{hearing_id}/room"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
            )
            try:
                await run_hearing(browser, server, hearing_id, ids, room, shots, api)
            finally:
                await browser.close()
    finally:
        for session in api.values():
            await session.http.close()
    print(f"browser test took {time.monotonic() - started:.1f} s")
    assert "Traceback" not in server.output(), server.output()


async def run_hearing(
    browser: Browser,
    server: Server,
    hearing_id: int,
    ids: dict[str, int],
    room: str,
    shots: Path,
    api: dict[str, Any],
) -> None:
    mediator = await enter(browser, server, MEDIATOR, ids[MEDIATOR], room)
    consumer = await enter(browser, server, CONSUMER, ids[CONSUMER], room)
    rep = await enter(browser, server, ANKANG_REP, ids[ANKANG_REP], room)
    everyone = [mediator, consumer, rep]

    # the notice comes first, in plain words, with the readiness check
    for person in everyone:
        assert await person.page.is_visible("#before .consent-text")
        assert await person.page.get_attribute("#before a[href$='/check']", "href")
    await mediator.page.click("#join-button")
    await mediator.page.wait_for_selector("#room:not([hidden])")
    for party in (consumer, rep):
        await party.page.click("#join-button")
        await party.page.wait_for_selector("#lobby-screen:not([hidden])")
    for party in (consumer, rep):
        admit = f"#lobby-list button[data-action=admit][data-user-id='{party.user_id}']"
        await mediator.page.click(admit)
    for party in (consumer, rep):
        await party.page.wait_for_selector("#lobby-screen", state="hidden")

    # everyone receives everyone else's video (decoded frames) and audio
    async def receives_all(person: Person) -> bool:
        stats = await person.stats()
        for other in everyone:
            if other is person:
                continue
            video = inbound(stats, other.user_id, "video")
            audio = inbound(stats, other.user_id, "audio")
            if not (
                video and video["framesDecoded"] > 0 and audio and audio["packetsReceived"] > 0
            ):
                return False
        return True

    for person in everyone:
        try:
            await until(partial(receives_all, person), f"{person.login}'s media", 45)
        except AssertionError as exc:
            report = {
                p.login: {
                    "stats": await p.stats(),
                    "state": await p.state(),
                    "timings": await p.page.evaluate("window.odrHearing.timings"),
                    "errors": p.errors,
                }
                for p in everyone
            }
            raise AssertionError(f"{exc}\n{report}\n{server.output()[-4000:]}") from None
    timings = {p.login: await p.page.evaluate("window.odrHearing.timings") for p in everyone}
    for login, t in timings.items():
        print(f"{login}: {t}; first frame {t['firstFrame'] - t['media']} ms after admission")

    # recording: the red dot shows for everyone
    await mediator.page.click("#recording-toggle")
    for person in everyone:
        await person.page.wait_for_selector("#recording-indicator:not([hidden])")
    await asyncio.sleep(2.5)  # at least one whole segment

    # caucus with the consumer side: the insurer's rep gets nothing from them, and is told
    rep_slots = (await rep.state())["slots"]
    consumer_slots = (await consumer.state())["slots"]
    assert set(rep_slots) == {str(mediator.user_id), str(consumer.user_id)}
    await mediator.page.click("#caucus-consumer")
    await rep.page.wait_for_selector("#caucus-notice:not([hidden])")
    assert await consumer.page.is_hidden("#caucus-notice")
    await consumer.page.wait_for_selector("#caucus-info:not([hidden])")
    for person in (mediator, consumer, rep):  # one notice of the caucus on each screen
        said = await person.page.evaluate(CAUCUS_NOTICES)
        assert len(said) == 1, said
    await shot(rep.page, shots, "room-caucus-notice", keep=True)
    await asyncio.sleep(1.0)  # what was in flight has arrived
    rep_before, consumer_before = await rep.stats(), await consumer.stats()
    await asyncio.sleep(2.0)
    rep_after, consumer_after = await rep.stats(), await consumer.stats()
    for slot in rep_slots.values():
        for kind in ("audio", "video"):
            a, b = by_slot(rep_before, slot, kind), by_slot(rep_after, slot, kind)
            assert b["bytesReceived"] == a["bytesReceived"], (kind, slot, a, b)
            assert b["framesDecoded"] == a["framesDecoded"], (kind, slot, a, b)
    from_mediator = (
        by_slot(consumer_before, consumer_slots[str(mediator.user_id)], "video"),
        by_slot(consumer_after, consumer_slots[str(mediator.user_id)], "video"),
    )
    assert from_mediator[1]["framesDecoded"] > from_mediator[0]["framesDecoded"] + 10
    assert from_mediator[1]["bytesReceived"] > from_mediator[0]["bytesReceived"]
    from_rep = (
        by_slot(consumer_before, consumer_slots[str(rep.user_id)], "video"),
        by_slot(consumer_after, consumer_slots[str(rep.user_id)], "video"),
    )
    assert from_rep[1]["bytesReceived"] == from_rep[0]["bytesReceived"]

    # the caucus ends: the rep sees and hears the others again
    await mediator.page.click("#caucus-end")
    await rep.page.wait_for_selector("#caucus-notice", state="hidden")
    resumed = await rep.stats()

    async def rep_sees_mediator_again() -> bool:
        now = inbound(await rep.stats(), mediator.user_id, "video")
        then = inbound(resumed, mediator.user_id, "video")
        return bool(now and then and now["framesDecoded"] > then["framesDecoded"] + 5)

    await until(rep_sees_mediator_again, "the rep's video of the mediator after the caucus", 15)

    # chat: the consumer writes a mobile number; it is hidden before anyone sees it
    await consumer.page.fill("#chat-input", "我的手机号是13912345678，请联系我")
    await consumer.page.press("#chat-input", "Enter")
    await consumer.page.wait_for_selector("#chat-masked:not([hidden])")
    for person in everyone:
        item = person.page.locator("#chat-log li", has_text="请联系我")
        await item.wait_for()
        assert "13912345678" not in await item.inner_text()
    transcript = await api[CONSUMER].get(f"/api/v1/hearings/{hearing_id}/chat")
    said = [m for m in transcript["messages"] if "请联系我" in m["text"]]
    assert len(said) == 1 and said[0]["masked"] and "13912345678" not in said[0]["text"]

    # the mediator's minutes are saved
    await mediator.page.fill("#minutes", "双方陈述了各自意见。")
    await mediator.page.click("#minutes-save")
    await mediator.page.wait_for_selector("#minutes-status[data-saved]")
    minutes = await api[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/minutes")
    assert minutes["text"] == "双方陈述了各自意见。"

    # the consumer's network drops: the page comes back by itself, still let in, media again
    await consumer.page.evaluate("window.odrHearing.drop()")
    await consumer.page.wait_for_selector("#reconnecting:not([hidden])")
    await consumer.page.wait_for_selector("#reconnecting", state="hidden")

    async def consumer_sees_mediator() -> bool:
        video = inbound(await consumer.stats(), mediator.user_id, "video")
        return bool(video and video["framesDecoded"] > 5)

    await until(consumer_sees_mediator, "the consumer's video after reconnecting", 20)
    assert await consumer.page.is_hidden("#lobby-screen")
    record = await api[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/call-record")
    mine = next(p for p in record["participants"] if p["user_id"] == consumer.user_id)
    assert mine["reconnects"] >= 1, record

    # at phone width the room still fits (nothing wider than the screen)
    await rep.page.set_viewport_size({"width": 390, "height": 844})
    await asyncio.sleep(0.3)
    overflow = await rep.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, overflow
    await shot(rep.page, shots, "room-phone")

    # stop recording; end the hearing (after confirming)
    await mediator.page.click("#recording-toggle")
    for person in everyone:
        await person.page.wait_for_selector("#recording-indicator", state="hidden")
    await shot(mediator.page, shots, "room-mediator", keep=True)
    await shot(consumer.page, shots, "room-consumer")
    await mediator.page.click("#end-hearing")
    await mediator.page.wait_for_selector("#end-dialog[open]")
    await mediator.page.click("#end-confirm")
    for person in everyone:
        await person.page.wait_for_selector("#ended:not([hidden])")
        assert await person.page.is_visible("#ended a[href*='/cases/']")

    # the recordings: every participant's segments, listed and playable
    async def recorded() -> list[dict[str, Any]] | None:
        items = (await api[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/recordings"))["recordings"]
        people = {i["user_id"] for i in items}
        return items if people == {p.user_id for p in everyone} else None

    await until(recorded, "recordings of all three", 20)
    files = sorted((server.recordings / str(hearing_id)).glob("*.webm"))

    async def all_entered() -> list[dict[str, Any]] | None:
        items = await recorded()
        return items if items and len(items) == len(files) else None

    # every closed segment on disk is in the list (and so in the case's evidence)
    try:
        items = await until(all_entered, "every segment file to be entered", 10)
    except AssertionError:
        listed = {i["file"] for i in (await recorded() or [])}
        missing = [f.name for f in files if f.name not in listed]
        raise AssertionError(f"segments not entered as evidence: {missing}") from None
    page = mediator.page
    await page.goto(f"{server.base}/hearings/{hearing_id}/recordings")
    assert await page.locator("tr.segment").count() == len(items)
    for item in items:
        assert await page.locator(f"tr.segment[data-recording-id='{item['id']}']").inner_text()
        assert item["sha256"] in await page.inner_text("main")

    # before Play: every participant was recorded from the start, so every tile shows its
    # video (the first frame), and none says that nothing was recorded
    async def loaded() -> list[dict[str, Any]] | None:
        tracks: list[dict[str, Any]] = await page.evaluate("window.odrPlayer.tracks()")
        return tracks if all(t["readyState"] >= 1 for t in tracks) else None

    tracks = await until(loaded, "every tile to load its first segment", 15)
    assert [t["says"] for t in tracks] == [""] * len(everyone), tracks
    assert await page.locator(".tile .placeholder:visible").count() == 0
    await page.click("#player-toggle")

    async def playing() -> bool:
        tracks = await page.evaluate("window.odrPlayer.tracks()")
        return any(t["readyState"] >= 2 and t["time"] > 0.3 for t in tracks)

    await until(playing, "the player to play", 15)
    await shot(page, shots, "recordings", keep=True)

    # who may see the pages: a stranger learns nothing, a supervisor watches the recordings
    stranger = await api_login(server.base, OTHER_CONSUMER)
    supervisor = await api_login(server.base, SUPERVISOR)
    try:
        for who, path, status in (
            (stranger, room, 404),
            (stranger, f"/hearings/{hearing_id}/recordings", 404),
            (supervisor, f"/hearings/{hearing_id}/recordings", 200),
            (supervisor, room, 403),
        ):
            async with who.http.get(path, allow_redirects=False) as resp:
                assert resp.status == status, (path, resp.status)
    finally:
        await stranger.http.close()
        await supervisor.http.close()

    for person in everyone:
        assert person.errors == [], (person.login, person.errors)
        assert person.foreign == [], (person.login, person.foreign)
        await person.context.close()
