"""Triage over HTTP: clusters across consumers (never duplicates), ages in the text, staff
corrections in the case's log and chain, their export and the dashboard's agreement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from odr.http.keys import CASES, SESSIONMAKER
from odr.services.triage_corrections import export_corrections
from odr.services.warnings import detect_early_warnings
from odr.storage.models import Notification, User
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    OTHER_CONSUMER,
    SUPERVISOR,
    complaint,
    insurer_id,
    login,
)

STORY = [
    "银行理财经理说这款分红险就是存款，利息比定期高还保本，我存了五万，现在急用钱才发现是保险，取出来要亏一大半本金。",
    "在银行被理财经理推荐了分红险，说是存款产品，利息比定期高又保本，存了三万，现在要用钱才知道是保险，取出来亏一大半本金。",
    "银行的理财经理把分红险当成存款卖给我，说利息比定期高还保本，我存了八万，如今急用钱才发现是保险，退出来亏了一大半本金。",
    "理财经理在银行说这个分红险就是存款，保本，利息比定期高，我存了四万，现在要用钱才发现是保险，要亏一大半本金。",
]


async def test_four_consumers_one_insurer_one_product_make_one_cluster_not_duplicates(
    new_client: Any,
) -> None:
    first = await login(new_client, CONSUMER)
    second = await login(new_client, OTHER_CONSUMER)
    supervisor = await login(new_client, SUPERVISOR)
    insurer = await insurer_id(first)
    filed = []
    for n, who in enumerate((first, second)):
        body = complaint(insurer, description=STORY[n], category="mis_selling",
                         policy_numbers=[f"AK-C{n}"])  # fmt: skip
        resp = await who.post("/api/v1/cases", body)
        assert resp.status == 201, await resp.text()
        filed.append(await resp.json())
    for n in (2, 3):  # two more consumers, referred by the regulator within days
        body = complaint(
            insurer,
            description=STORY[n],
            category="mis_selling",
            policy_numbers=[f"AK-C{n}"],
            regulator_reference=f"12378-2026-00{n}",
            consumer={"name": f"消费者{n}", "mobile": f"1360000010{n}"},
            received_at=(datetime.now(UTC) - timedelta(days=n)).isoformat(),
        )
        body.pop("terms_version")
        resp = await supervisor.post("/api/v1/referrals", body)
        assert resp.status == 201, await resp.text()
        filed.append(await resp.json())
    assert [c["duplicate_of"] for c in filed] == [None, None, None, None]

    app = first.client.app
    maker, rules = app[SESSIONMAKER], app[CASES].triage_rules
    assert await detect_early_warnings(maker, rules, datetime.now(UTC)) == 1
    items = (await (await supervisor.get("/api/v1/warnings")).json())["items"]
    assert len(items) == 1
    assert sorted(c["number"] for c in items[0]["cases"]) == sorted(c["number"] for c in filed)
    async with maker() as s:
        told = (
            await s.execute(
                select(User.role, Notification.params)
                .join(User, User.id == Notification.user_id)
                .where(Notification.kind == "cluster_warning")
            )
        ).all()
    roles = {role for role, _ in told}
    assert {"supervisor", "insurer_rep"} <= roles  # supervisors and the insurer's own staff
    for _, params in told:
        assert all(c["number"] in params["numbers"] for c in filed)

    rep = await login(new_client, ANKANG_REP)
    for who, case in ((first, filed[0]), (second, filed[1]), (rep, filed[0]), (rep, filed[3])):
        detail = await (await who.get(f"/api/v1/cases/{case['id']}")).json()
        assert detail.get("duplicate_of") is None
        assert not (detail.get("triage") or {}).get("duplicates")
        page = await (await who.get(f"/cases/{case['id']}")).text()
        others = [c["number"] for c in filed if c["id"] != case["id"]]
        assert not any(number in page for number in others), "another consumer's case shown"


async def test_an_age_in_the_text_gives_care_priority(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    body = complaint(
        await insurer_id(consumer),
        description="我父亲今年78岁，下楼摔伤骨折住院，意外险理赔申请交上去两个月了还没有结果。",
        category="claims",
    )
    case = await (await consumer.post("/api/v1/cases", body)).json()
    rep = await login(new_client, ANKANG_REP)
    detail = await (await rep.get(f"/api/v1/cases/{case['id']}")).json()
    assert detail["care_priority"] is True
    assert detail["triage"]["care_reason"] == "aged 78 according to the text"
    assert "elderly" in {r["signal"] for r in detail["triage"]["reasons"]}


async def test_a_staff_correction_is_in_the_chain_the_export_and_the_dashboard(
    new_client: Any,
) -> None:
    consumer = await login(new_client, CONSUMER)
    text = "我在你们官网做了一次保费测算，之后每天都有陌生人打电话推销，能报出我的姓名和住址。"
    body = complaint(await insurer_id(consumer), description=text, category="service")
    case = await (await consumer.post("/api/v1/cases", body)).json()
    path = f"/api/v1/cases/{case['id']}/actions/correct_category"
    refused = await consumer.post(path, {"category": "privacy"})
    assert refused.status == 403
    rep = await login(new_client, ANKANG_REP)
    bad = await rep.post(path, {"category": "weather"})
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "invalid_field"
    done = await rep.post(path, {"category": "privacy", "reason": "个人信息被泄露"})
    assert done.status == 200, await done.text()
    detail = await (await rep.get(f"/api/v1/cases/{case['id']}")).json()
    assert detail["category"] == "privacy"
    chain = await (await rep.get(f"/api/v1/cases/{case['id']}/chain")).json()
    assert chain["ok"] and chain["entries"] == detail["version"]
    page = await (await consumer.get(f"/cases/{case['id']}")).text()
    assert "correct_category" not in page  # the consumer is not offered the form
    staff_page = await (await rep.get(f"/cases/{case['id']}")).text()
    assert 'id="op-correct_category"' in staff_page

    app = consumer.client.app
    rows = await export_corrections(app[SESSIONMAKER])
    (row,) = [r for r in rows if r["text"] == text]
    assert row["category"] == "privacy" and row["previous_category"] == "service"

    supervisor = await login(new_client, SUPERVISOR)
    figures = await (await supervisor.get("/api/v1/dashboard")).json()
    agreement = figures["triage_agreement"]["privacy"]
    assert agreement["corrections"] == 1
    assert agreement["agreed"] == (row["suggested_category"] == "privacy")
