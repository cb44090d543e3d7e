"""The hearing pages: the case page's hearings section in both languages, its forms with
CSRF, the lead's eligible mediators, and the readiness check."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.builders import user_id
from tests.integration.helpers import ANKANG_REP, CONSUMER, LEAD, MEDIATOR
from tests.integration.test_scheduling import scheduled_case, to_mediation

ZONE = ZoneInfo("Asia/Shanghai")


def local(days: int, hour: int) -> str:
    """A datetime-local input's value."""
    day = datetime.now(ZONE).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00"


async def page(session: Any, path: str, lang: str) -> str:
    session.client.session.cookie_jar.update_cookies({"odr_lang": lang})
    resp = await session.get(path)
    assert resp.status == 200, path
    return str(await resp.text())


async def form_post(session: Any, path: str, data: list[tuple[str, str]]) -> Any:
    return await session.client.post(
        path, data=[("csrf_token", session.token), *data], allow_redirects=False
    )


async def test_the_whole_schedule_through_the_pages(new_client: Any) -> None:
    case_id, people, _app = await scheduled_case(new_client)
    mediator, consumer = people[MEDIATOR], people[CONSUMER]

    html = await page(mediator, f"/cases/{case_id}", "zh-CN")
    assert "调解会议" in html and 'id="propose-hearing"' in html
    html = await page(mediator, f"/cases/{case_id}", "en")
    assert "Propose hearing times" in html

    # without the CSRF token, nothing happens
    resp = await mediator.client.post(
        f"/cases/{case_id}/hearings", data={"slot": local(3, 10)}, allow_redirects=False
    )
    assert resp.status == 403

    resp = await form_post(
        mediator,
        f"/cases/{case_id}/hearings",
        [("slot", local(3, 10)), ("slot", local(3, 15)), ("slot", ""), ("duration_minutes", "60")],
    )
    assert resp.status == 303, await resp.text()
    html = await page(mediator, f"/cases/{case_id}", "en")
    assert "The times were proposed" in html
    hid = int(re.search(r'id="hearing-(\d+)"', html)[1])  # type: ignore[index]

    html = await page(consumer, f"/cases/{case_id}", "zh-CN")
    assert "请勾选您能参加的所有时间" in html
    values = re.findall(r'name="slot" value="([^"]+)"', html)
    assert len(values) == 2
    resp = await form_post(consumer, f"/hearings/{hid}/choose", [("slot", values[1])])
    assert resp.status == 303
    html = await page(consumer, f"/cases/{case_id}", "en")
    assert "Your choice was saved" in html

    # a refusal comes back as a notice in the reader's language
    resp = await form_post(mediator, f"/hearings/{hid}/reschedule", [("slot", local(5, 9))])
    assert resp.status == 303
    html = await page(mediator, f"/cases/{case_id}", "zh-CN")
    assert "请说明理由" in html

    resp = await form_post(mediator, f"/hearings/{hid}/confirm", [("starts_at", values[1])])
    assert resp.status == 303
    html = await page(consumer, f"/cases/{case_id}", "en")
    assert f"/api/v1/hearings/{hid}/invitation.ics" in html
    assert f"/hearings/{hid}/check" in html
    html = await page(consumer, f"/cases/{case_id}", "zh-CN")
    assert "下载日历邀请" in html

    resp = await form_post(mediator, f"/hearings/{hid}/cancel", [("reason", "当事人已和解")])
    assert resp.status == 303
    html = await page(consumer, f"/cases/{case_id}", "en")
    assert "Hearing cancelled" in html and "当事人已和解" in html

    resp = await consumer.get(f"/hearings/{hid}")
    assert str(resp.url).endswith(f"/cases/{case_id}")  # the fragment stays in the browser


async def test_the_lead_sees_eligible_mediators_and_assigns(new_client: Any) -> None:
    case_id, people = await to_mediation(new_client)
    lead = people[LEAD]
    html = await page(lead, f"/cases/{case_id}", "en")
    assert "Eligible mediators" in html
    app = lead.client.app
    mediator = await user_id(app, MEDIATOR)
    assert f'<option value="{mediator}">' in html
    html = await page(people[ANKANG_REP], f"/cases/{case_id}", "zh-CN")
    assert "推荐这位调解员" in html
    resp = await form_post(lead, f"/cases/{case_id}/mediator", [("mediator_id", str(mediator))])
    assert resp.status == 303
    html = await page(lead, f"/cases/{case_id}", "en")
    assert "The mediator was assigned" in html


async def test_the_readiness_check_in_both_languages(new_client: Any) -> None:
    case_id, people, _app = await scheduled_case(new_client)
    resp = await people[MEDIATOR].post(
        f"/api/v1/cases/{case_id}/hearings", {"slots": [local(2, 10)]}
    )
    hid = (await resp.json())["id"]
    consumer = people[CONSUMER]
    html = await page(consumer, f"/hearings/{hid}/check", "zh-CN")
    assert "检查摄像头和麦克风" in html and "check.js" in html and "<script>" not in html
    assert 'data-health="/healthz"' in html and "data-text-camera-ok=" in html
    html = await page(consumer, "/check", "en")
    assert "Check your camera and microphone" in html
    resp = await people[ANKANG_REP].get("/static/check.js")
    assert resp.status == 200
    stranger = await new_client()
    resp = await stranger.get(f"/hearings/{hid}/check", allow_redirects=False)
    assert resp.status in (302, 303, 401)
