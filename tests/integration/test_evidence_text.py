"""Evidence a mediator can read and search: text read from pictures and scans in the background
(OCR with the models shipped in the rapidocr wheel; a PDF's text layer read directly), personal
numbers blacked out of the copy the other side downloads, search across the case within the
visibility rules, flags for the mediator.

Every picture is made by `tests.ocr_fixtures`. The OCR child process is the test process's
own, so the models load once for the module; each test reads a few small images.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from odr.app import create_app
from odr.config import Settings
from odr.http.keys import SERVICES
from odr.jobs import JobContext
from odr.jobs.tasks import read_evidence_text
from odr.services.ocr import Limits, TextReader
from tests import ocr_fixtures as fx
from tests.conftest import FAST_PASSWORDS, sqlite_database
from tests.integration.conftest import seed
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    SUPERVISOR,
    complaint,
    insurer_id,
    login,
)

#: A 20-page scanned PDF is read within this (bench/ocr.py: about 16 s on an idle core of the
#: development machine, 0.8 s a page; 56 s with the machine's two cores loaded seven times over).
SCANNED_PDF_SECONDS = 120
#: The OCR child's peak resident memory stays under this whatever the number of pages (the
#: pages are rendered one at a time).
PEAK_RSS_KB = 1_600_000


@pytest.fixture
async def embedded(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[Settings]:
    async with sqlite_database(tmp_path) as url:
        yield await seed(make_settings(url))


@pytest.fixture
def app_client(aiohttp_client: Any) -> Callable[[Settings], Any]:
    """A new browser (own cookies) on one app per settings."""
    apps: dict[int, Any] = {}

    async def build(settings: Settings) -> Any:
        if id(settings) not in apps:
            apps[id(settings)] = await aiohttp_client(
                create_app(settings, passwords=FAST_PASSWORDS)
            )
            return apps[id(settings)]
        server = apps[id(settings)].server
        return await aiohttp_client(server)

    return build


async def people(build: Callable[[Settings], Any], settings: Settings) -> tuple[Any, Any, int]:
    consumer = await login(lambda: build(settings), CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case_id = (await resp.json())["id"]
    rep = await login(lambda: build(settings), ANKANG_REP)
    return consumer, rep, case_id


async def put(session: Any, case_id: int, data: bytes, **query: str) -> dict[str, Any]:
    resp = await session.client.post(
        f"/api/v1/cases/{case_id}/evidence",
        data=data,
        params=query,
        headers={"X-CSRF-Token": session.token, "Content-Type": "application/octet-stream"},
    )
    assert resp.status == 201, await resp.text()
    item: dict[str, Any] = await resp.json()
    return item


async def read_now(session: Any, case_id: int, sequence: int) -> str:
    """Run the background job for the item now (it is idempotent: a run the upload already
    queued finds it done)."""
    services = session.client.server.app[SERVICES]
    return await read_evidence_text(JobContext(services), case_id=case_id, sequence=sequence)


def texts(view: dict[str, Any]) -> str:
    return "".join(line["text"] for page in view["pages"] for line in page["lines"])


async def ocr_of(data: bytes, media_type: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "item"
        path.write_bytes(data)
        result = await TextReader(Limits()).read(path, media_type, Path(tmp) / "out")
    return "".join(line.text for page in result.pages for line in page.lines)


async def test_text_is_read_accurately_from_clean_chat_and_skewed_pictures() -> None:
    reader = TextReader(Limits())
    for (data, expected), media, target in (
        (fx.clean_png(), "image/png", 0.95),
        (fx.chat_screenshot(), "image/jpeg", 0.95),
        (fx.skewed_photo(), "image/jpeg", 0.85),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "item"
            path.write_bytes(data)
            result = await reader.read(path, media, Path(tmp) / "out")
        got = "".join(line.text for page in result.pages for line in page.lines)
        assert fx.accuracy(expected, got) >= target, (media, got)
        assert result.method == "ocr" and result.redacted is None
        page = result.pages[0]
        assert all(
            0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
            for x0, y0, x1, y1 in (line.box for line in page.lines)
        )


async def test_the_insurer_downloads_the_id_card_redacted_and_the_uploader_the_original(
    embedded: Settings, app_client: Any
) -> None:
    consumer, rep, case_id = await people(app_client, embedded)
    card, number = fx.id_card()
    item = await put(consumer, case_id, card, name="身份证.png", kind="image")
    seq = item["sequence"]
    assert await read_now(consumer, case_id, seq) == "done"
    url = f"/api/v1/cases/{case_id}/evidence/{seq}/content"
    # the uploader: the original and its hash, and what was blacked out
    mine = await consumer.get(url)
    original = await mine.read()
    assert hashlib.sha256(original).hexdigest() == item["sha256"] == mine.headers["ETag"][1:-1]
    assert mine.headers["X-Evidence-Copy"] == "original"
    view = await (await consumer.get(f"/api/v1/cases/{case_id}/evidence/{seq}/text")).json()
    assert view["status"] == "done" and view["may_switch"] and view["redacted"]
    assert {r["kind"] for r in view["redactions"]} == {"resident_id", "mobile"}
    assert number in texts(view)
    switched = await consumer.get(url + "?copy=redacted")
    assert switched.headers["X-Evidence-Copy"] == "redacted"
    # the insurer: the redacted copy only, even when asking for the original
    for asked in ("", "?copy=original"):
        theirs = await rep.get(url + asked)
        assert theirs.status == 200 and theirs.headers["X-Evidence-Copy"] == "redacted"
        redacted = await theirs.read()
        assert hashlib.sha256(redacted).hexdigest() != item["sha256"]
        assert redacted == await switched.read() if asked else True
    read_back = await ocr_of(redacted, theirs.content_type)
    assert "王芳" in read_back and "公民身份号码" in read_back  # the rest is still there
    assert not re.search(r"\d{5,}", read_back), read_back  # no ID or mobile digits left
    assert number[:6] not in read_back and fx.TEST_MOBILE[-4:] not in read_back
    seen = await (await rep.get(f"/api/v1/cases/{case_id}/evidence/{seq}/text")).json()
    assert seen["copy"] == "redacted" and not seen["may_switch"] and seen["redactions"] == []
    assert number not in texts(seen) and number[:6] + "*" in texts(seen)  # masked like chat
    found = await (await rep.get(f"/api/v1/cases/{case_id}/search?q={number[6:14]}")).json()
    assert found["hits"] == []  # the insurer cannot find the number either
    # the redaction is in the log and the chain, without the number
    timeline = (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    [event] = [e for e in timeline if e["kind"] == "evidence_redacted"]
    assert event["payload"]["sequence"] == seq and number not in str(event)
    chain = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert chain["ok"]
    # the job is idempotent: a second run changes nothing
    assert await read_now(consumer, case_id, seq) == "done"
    timeline = (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    assert [e["kind"] for e in timeline].count("evidence_redacted") == 1
    # the uploader asks for more; the other side may not ask for them
    ask = f"/api/v1/cases/{case_id}/evidence/{seq}/redaction-requests"
    assert (await rep.post(ask, {"note": "住址"})).status == 403
    assert (await consumer.post(ask, {"note": ""})).status == 422
    assert (await consumer.post(ask, {"note": "住址也请遮盖"})).status == 204
    timeline = (await (await rep.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    assert timeline[-1]["kind"] == "redaction_requested"
    assert (await rep.get(url + "?copy=both")).status == 422


async def test_search_finds_a_phrase_only_in_a_screenshot_and_keeps_caucus_items_hidden(
    embedded: Settings, app_client: Any
) -> None:
    consumer, rep, case_id = await people(app_client, embedded)
    shot, _ = fx.chat_screenshot()
    chat = await put(consumer, case_id, shot, name="聊天记录.jpg", kind="image")
    private_png, _ = fx.clean_png()
    hidden = await put(
        consumer, case_id, private_png, name="私下.png", kind="image", visibility="mediator_only"
    )
    await consumer.post(f"/api/v1/cases/{case_id}/actions/send_message", {"text": "请看截图"})
    for item in (chat, hidden):
        assert await read_now(consumer, case_id, item["sequence"]) == "done"
    found = await (await rep.get(f"/api/v1/cases/{case_id}/search?q=全额退")).json()
    [hit] = found["hits"]
    assert hit["source"] == "evidence" and hit["sequence"] == chat["sequence"]
    assert hit["page"] == 1 and "全额退" in hit["excerpt"]
    x0, y0, x1, y1 = hit["box"]
    assert 0 <= x0 < x1 and 0 <= y0 < y1  # where it is on the screenshot
    # text of the item for the mediator only: its submitter finds it, the insurer does not
    phrase = "保本保息"
    mine = await (await consumer.get(f"/api/v1/cases/{case_id}/search?q={phrase}")).json()
    assert [h["sequence"] for h in mine["hits"]] == [hidden["sequence"]]
    theirs = await (await rep.get(f"/api/v1/cases/{case_id}/search?q={phrase}")).json()
    assert theirs["hits"] == []
    hidden_text = f"/api/v1/cases/{case_id}/evidence/{hidden['sequence']}/text"
    assert (await rep.get(hidden_text)).status == 404
    # messages are searched too; limits on the query
    said = await (await rep.get(f"/api/v1/cases/{case_id}/search?q=请看")).json()
    assert [h["source"] for h in said["hits"]] == ["message"]
    for bad, code in (("", "search_empty"), ("字" * 101, "search_too_long")):
        resp = await rep.get(f"/api/v1/cases/{case_id}/search?q={bad}")
        assert resp.status == 422 and (await resp.json())["error"]["code"] == code
    # the pages: the search box on the case page, hits linking to the page of the image
    page = await (await rep.get(f"/cases/{case_id}")).text()
    assert 'id="case-search"' in page and f'action="/cases/{case_id}/search"' in page
    results = await (await rep.get(f"/cases/{case_id}/search?q=全额退")).text()
    link = f"/cases/{case_id}/evidence/{chat['sequence']}?q=%E5%85%A8%E9%A2%9D%E9%80%80&amp;page=1"
    assert link in results and "<mark>全额退</mark>" in results
    viewer = await (await rep.get(link.replace("&amp;", "&"))).text()
    assert '<rect class="mark mark-hit"' in viewer and "<mark>全额退</mark>" in viewer
    assert 'class="text-lines"' in viewer  # the text layer beside the image


async def test_a_scanned_pdf_is_read_in_the_background_within_time_and_memory(
    embedded: Settings, app_client: Any
) -> None:
    consumer, rep, case_id = await people(app_client, embedded)
    scan = fx.scanned_pdf(20)
    started = time.monotonic()
    item = await put(consumer, case_id, scan, name="合同扫描件.pdf", kind="document")
    uploaded = time.monotonic() - started
    text_url = f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/text"
    status = (await (await consumer.get(text_url)).json())["status"]
    assert status == "pending" and uploaded < 3  # the request did not wait for the OCR
    # the other side waits for the check for personal numbers
    resp = await rep.get(f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/content")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "evidence_being_read"
    # the job the upload queued reads it (the in-process runner of the embedded default)
    while status == "pending" and time.monotonic() - started < SCANNED_PDF_SECONDS:
        await asyncio.sleep(0.5)
        status = (await (await consumer.get(text_url)).json())["status"]
    assert status == "done", f"not read within {SCANNED_PDF_SECONDS} s"
    # the OCR child's peak memory over its life so far, the 20 pages included
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.png"
        path.write_bytes(fx.clean_png()[0])
        result = await TextReader(Limits()).read(path, "image/png", Path(tmp) / "out")
    assert result.peak_rss_kb < PEAK_RSS_KB
    view = await (await consumer.get(text_url)).json()
    assert view["method"] == "ocr" and len(view["pages"]) == view["pages_total"] == 20
    assert "页码20" in view["pages"][19]["lines"][-1]["text"]
    assert (
        await rep.get(f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/content")
    ).status == 200


async def test_text_pdfs_unreadable_items_and_the_flags(
    embedded: Settings, app_client: Any
) -> None:
    consumer, rep, case_id = await people(app_client, embedded)
    pdf = await put(consumer, case_id, fx.text_pdf(), name="宣传页.pdf", kind="document")
    broken = await put(consumer, case_id, fx.clean_png()[0][:300], name="坏图.png", kind="image")
    assert await read_now(consumer, case_id, pdf["sequence"]) == "done"
    assert await read_now(consumer, case_id, broken["sequence"]) == "unavailable"
    view = await (
        await consumer.get(f"/api/v1/cases/{case_id}/evidence/{pdf['sequence']}/text")
    ).json()
    assert view["method"] == "pdf_text" and "保本保息" in texts(view)
    gone = await (
        await consumer.get(f"/api/v1/cases/{case_id}/evidence/{broken['sequence']}/text")
    ).json()
    assert gone["status"] == "unavailable" and gone["reason"]
    # the item itself is unaffected: listed, and downloaded as it was
    resp = await rep.get(f"/api/v1/cases/{case_id}/evidence/{broken['sequence']}/content")
    assert resp.status == 200 and hashlib.sha256(await resp.read()).hexdigest() == broken["sha256"]
    viewer = await (await consumer.get(f"/cases/{case_id}/evidence/{broken['sequence']}")).text()
    assert "文字不可用" in viewer
    # flags: for the forum's staff, not for the parties
    assert (await rep.get(f"/api/v1/cases/{case_id}/evidence-flags")).status == 403
    supervisor = await login(lambda: app_client(embedded), SUPERVISOR)
    flags = await (await supervisor.get(f"/api/v1/cases/{case_id}/evidence-flags")).json()
    keys = {(f["kind"], f["key"]) for f in flags["flags"]}
    assert {("phrase", "guaranteed_returns"), ("phrase", "like_a_deposit")} <= keys
    assert {("fact", "policy_number"), ("fact", "amount"), ("fact", "date")} <= keys
    assert ("missing", "cooling_off") in keys  # sales wording, no cooling-off period
    [promise] = [f for f in flags["flags"] if f["key"] == "guaranteed_returns"]
    assert promise["excerpt"] == "保本保息" and promise["page"] == 1 and promise["box"]
    page = await (await supervisor.get(f"/cases/{case_id}")).text()
    assert 'id="evidence-flags"' in page and "承诺保本或保证收益" in page
    assert f"/cases/{case_id}/evidence/{pdf['sequence']}?page=1&amp;box=" in page
    assert 'id="evidence-flags"' not in await (await rep.get(f"/cases/{case_id}")).text()


@pytest.mark.postgres
@pytest.mark.redis
async def test_search_on_postgresql_through_the_trigram_index(
    scaled: Settings, app_client: Any
) -> None:
    """The scaled deployment: the upload's job goes to the arq queue (run here by hand), the
    search reads PostgreSQL's trigram index (ILIKE, case-insensitive)."""
    consumer, rep, case_id = await people(app_client, scaled)
    shot, _ = fx.chat_screenshot()
    chat = await put(consumer, case_id, shot, name="聊天记录.jpg", kind="image")
    status = (
        await (
            await consumer.get(f"/api/v1/cases/{case_id}/evidence/{chat['sequence']}/text")
        ).json()
    )["status"]
    assert status == "pending"  # queued, not read in the request
    assert await read_now(consumer, case_id, chat["sequence"]) == "done"
    for query, count in (("随时可以全额退", 1), ("收益", 1), ("不存在的话", 0)):
        found = await (await rep.get(f"/api/v1/cases/{case_id}/search?q={query}")).json()
        assert len(found["hits"]) == count, (query, found)


async def test_the_sweep_reads_what_was_missed_and_skips_what_has_no_text(
    embedded: Settings, app_client: Any
) -> None:
    """The periodic job without an item: readable items not read yet are read; an item
    withdrawn before it was read is marked so and never looked at again; other media are not
    picked up."""
    consumer, _, case_id = await people(app_client, embedded)
    services = consumer.client.server.app[SERVICES]
    services.evidence.added.clear()  # as if the upload's job had been lost
    clean, _ = fx.clean_png()
    kept = await put(consumer, case_id, clean, name="页.png", kind="image")
    gone = await put(consumer, case_id, fx.text_pdf(), name="撤回.pdf", kind="document")
    await put(consumer, case_id, b"just a note", name="note.txt", kind="document")
    withdraw = f"/api/v1/cases/{case_id}/evidence/{gone['sequence']}/withdraw"
    assert (await consumer.post(withdraw, {})).status == 204
    texts = services.evidence_text
    assert await texts.pending() == [(case_id, kept["sequence"]), (case_id, gone["sequence"])]
    assert await read_evidence_text(JobContext(services)) == "2 read"
    assert await texts.pending() == []
    view = await (
        await consumer.get(f"/api/v1/cases/{case_id}/evidence/{kept['sequence']}/text")
    ).json()
    assert view["status"] == "done" and "保本保息" in "".join(
        line["text"] for page in view["pages"] for line in page["lines"]
    )
