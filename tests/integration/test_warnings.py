"""Early warnings: similar complaints piling up against one insurer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from odr.http.keys import CASES, SESSIONMAKER
from odr.services.warnings import detect_early_warnings
from odr.storage.models import Notification
from tests.integration.helpers import CONSUMER, SUPERVISOR, complaint, insurer_id, login

TEXTS = [
    "业务员说这是银行存款产品，利息比定期高，结果是分红保险，现在取不出钱，我们小区很多老人都被骗了。",
    "业务员在银行推销时说是存款，利息比定期存款高，后来才发现买的是分红险，钱取不出来。",
    "在银行被业务员误导，说是高利息存款，实际是分红型保险，想取钱才发现，损失很大。",
    "银行里的业务员把分红保险说成是存款，承诺利息比定期高，现在想取出本金却取不出来。",
]


async def test_a_cluster_raises_one_warning_that_grows(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    for n, text in enumerate(TEXTS[:3]):
        resp = await consumer.post(
            "/api/v1/cases",
            complaint(
                insurer, description=text, category="mis_selling", policy_numbers=[f"AK-M{n}"]
            ),
        )
        assert resp.status == 201
    app = consumer.client.app
    maker, rules = app[SESSIONMAKER], app[CASES].triage_rules
    now = datetime.now(UTC) + timedelta(minutes=1)
    assert await detect_early_warnings(maker, rules, now) == 1
    assert await detect_early_warnings(maker, rules, now) == 0  # recorded once
    supervisor = await login(new_client, SUPERVISOR)
    items = (await (await supervisor.get("/api/v1/warnings")).json())["items"]
    assert len(items) == 1 and len(items[0]["cases"]) == 3
    assert items[0]["insurer"]["name"] == "安康人寿" and items[0]["category"] == "mis_selling"
    await consumer.post(
        "/api/v1/cases",
        complaint(insurer, description=TEXTS[3], category="mis_selling", policy_numbers=["AK-M9"]),
    )
    assert await detect_early_warnings(maker, rules, now + timedelta(minutes=1)) == 0
    items = (await (await supervisor.get("/api/v1/warnings")).json())["items"]
    assert len(items) == 1 and len(items[0]["cases"]) == 4
    async with maker() as s:
        sent = await s.execute(
            select(Notification.user_id).where(Notification.kind == "cluster_warning")
        )
        told = list(sent.scalars())  # the supervisor and the insurer's staff, once each
        assert len(told) == len(set(told)) >= 2
    assert (await consumer.get("/api/v1/warnings")).status == 403


async def test_unrelated_complaints_raise_nothing(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    for n, text in enumerate(
        [
            "车险定损金额偏低，修理厂报价四千多，保险公司只认两千。",
            "退保后说好三个工作日到账，半个月了钱还没退回来。",
            "回访电话里客服语速很快，没听清楚免责条款就被挂断。",
        ]
    ):
        await consumer.post(
            "/api/v1/cases", complaint(insurer, description=text, policy_numbers=[f"AK-U{n}"])
        )
    app = consumer.client.app
    now = datetime.now(UTC) + timedelta(minutes=1)
    assert await detect_early_warnings(app[SESSIONMAKER], app[CASES].triage_rules, now) == 0
