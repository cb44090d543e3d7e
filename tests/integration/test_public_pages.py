"""Public pages: the landing page, questions and answers, the privacy notice and the staff
identity check (found, ended, unknown, rate-limited), in Chinese and English."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from odr.config import Settings
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.models import Membership
from web.public_pages import CHECKS_PER_WINDOW

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


async def text_of(client: TestClient, path: str, headers: dict[str, str]) -> str:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200, (path, resp.status)
    lang = headers["Accept-Language"].split(",")[0]
    assert resp.headers["Content-Language"] == lang
    text = await resp.text()
    assert f'<html lang="{lang}">' in text
    return text


async def test_public_pages_render_in_both_languages(client: TestClient) -> None:
    for path in ("/", "/faq", "/privacy", "/staff-check"):
        zh = await text_of(client, path, ZH)
        assert "服务条款与隐私声明" in zh and "登录" in zh  # the shared frame, in Chinese
        for link in ('href="/faq"', 'href="/privacy"', 'href="/staff-check"'):
            assert link in zh, (path, link)
        assert "<script>" not in zh and " style=" not in zh  # nothing inline (CSP)
    landing = await text_of(client, "/", EN)
    for words in ("15 days", "up to 30 days", "60 days", "30 days from your request", "hearing"):
        assert words in landing
    assert "Free for consumers." in landing
    faq = await text_of(client, "/faq", EN)
    assert "What is a hearing?" in faq and "free for consumers" in faq
    privacy = await text_of(client, "/privacy", EN)
    assert "deleted 5 years after it closes" in privacy  # ODR_RETENTION_YEARS
    assert "138****5678" in privacy and "Recordings are evidence" in privacy


async def test_retention_comes_from_the_settings(
    seeded: Settings, make_client: Callable[[Settings], Awaitable[TestClient]]
) -> None:
    client = await make_client(replace(seeded, retention_years=1))
    text = await text_of(client, "/privacy", EN)
    assert "deleted 1 year after it closes" in text


async def test_staff_check_finds_an_active_badge(client: TestClient) -> None:
    text = await text_of(client, "/staff-check?badge=ak-1001", ZH)  # typed in lower case
    assert "陈静" in text and "安康人寿" in text and "status-active" in text
    text = await text_of(client, "/staff-check?badge=%EF%BC%A1%EF%BC%AB-1001", EN)  # full-width
    assert "Ankang Life" in text and "Insurer&#39;s complaint staff" in text
    assert "Active: this badge is in use today" in text
    assert "rep@ankang.demo" not in text  # nothing more than name, organisation and role


async def test_staff_check_reports_an_ended_membership(
    client: TestClient, seeded: Settings
) -> None:
    engine = make_engine(seeded.database_url)
    async with make_sessionmaker(engine)() as s:
        await s.execute(
            update(Membership)
            .where(Membership.badge_number == "HX-2001")
            .values(ended_on=date.today() - timedelta(days=1))
        )
        await s.commit()
    await engine.dispose()
    text = await text_of(client, "/staff-check?badge=HX-2001", EN)
    assert "赵磊" in text and "Huaxin P&amp;C" in text
    assert "status-inactive" in text and "Not active" in text


async def test_unknown_badge_says_no_such_staff_member(client: TestClient) -> None:
    for badge in ("AK-9999", "x", "' OR 1=1 --"):
        text = await text_of(client, f"/staff-check?badge={badge}", EN)
        assert "No such staff member" in text
        assert "<dt>Name</dt>" not in text


async def test_staff_check_is_rate_limited_per_address(client: TestClient) -> None:
    assert (await client.get("/staff-check")).status == 200  # the empty form is not counted
    for _ in range(CHECKS_PER_WINDOW):
        assert (await client.get("/staff-check?badge=MC-3001")).status == 200
    resp = await client.get("/staff-check?badge=MC-3001", headers=EN)
    assert resp.status == 429
    wait = int(resp.headers["Retry-After"])
    assert 0 < wait <= 60
    text = await resp.text()
    assert "Too many checks" in text and re.search(rf"wait {wait} seconds?", text)
    assert "周敏" not in text
