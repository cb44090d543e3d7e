"""Complaints and cases through HTTP: intake, who sees what, transitions by role, messages,
notifications, live status."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from odr.http.keys import SESSIONMAKER
from odr.storage.models import CaseRow, Notification, OutboxMessage
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    LEAD,
    MEDIATOR,
    OTHER_CONSUMER,
    SUPERVISOR,
    complaint,
    insurer_id,
    login,
)


async def file(new_client: Any, **changes: Any) -> tuple[Any, dict[str, Any]]:
    consumer = await login(new_client, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer), **changes))
    assert resp.status == 201, await resp.text()
    return consumer, await resp.json()


async def test_intake_gives_a_number_and_routes_to_the_insurer(new_client: Any) -> None:
    consumer, case = await file(new_client)
    assert re.fullmatch(r"ODR-\d{4}-000001", case["number"])
    assert case["state"] == "awaiting_insurer" and case["duplicate_of"] is None
    detail = await (await consumer.get(f"/api/v1/cases/{case['id']}")).json()
    assert detail["due_at"] and detail["next_step"] == "insurer_answer"
    assert detail["steps"] == ["withdraw"] and detail["primary_step"] is None
    assert "triage" not in detail and "risk_score" not in detail  # internal to staff
    assert "withdraw" in detail["allowed"] and "answer" not in detail["allowed"]
    rep = await login(new_client, ANKANG_REP)
    inbox = (await (await rep.get("/api/v1/cases")).json())["items"]
    assert [c["number"] for c in inbox] == [case["number"]]
    staff_view = await (await rep.get(f"/api/v1/cases/{case['id']}")).json()
    assert staff_view["triage"]["risk_score"] == staff_view["risk_score"]
    assert "answer" in staff_view["allowed"]


async def test_strangers_get_404(new_client: Any) -> None:
    _, case = await file(new_client)
    for who in (OTHER_CONSUMER, HUAXIN_REP, MEDIATOR):
        stranger = await login(new_client, who)
        for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases/{case['id']}/timeline"):
            resp = await stranger.get(path)
            assert resp.status == 404, (who, path)
            assert (await resp.json())["error"]["code"] == "case_not_found"
        resp = await stranger.post(f"/api/v1/cases/{case['id']}/actions/withdraw")
        assert resp.status == 404
        listed = (await (await stranger.get("/api/v1/cases")).json())["items"]
        assert case["number"] not in [c["number"] for c in listed]
    supervisor = await login(new_client, SUPERVISOR)
    assert (await supervisor.get(f"/api/v1/cases/{case['id']}")).status == 200


async def test_validation_names_the_field(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    cases = [
        ({"description": "长" * 5001}, "description"),
        ({"description": "   "}, "description"),
        ({"terms_version": "2020-01"}, "terms_version"),
        ({"category": "weather"}, "category"),
        ({"insurer_id": 999999}, "insurer_id"),
        ({"policy_numbers": []}, "policy_numbers"),
        ({"contact_preference": "pigeon"}, "contact_preference"),
        ({"amount_yuan": -1}, "amount_yuan"),
    ]
    for change, field in cases:
        resp = await consumer.post("/api/v1/cases", complaint(insurer, **change))
        assert resp.status == 422, (change, await resp.text())
        assert (await resp.json())["error"]["details"]["field"] == field, change
    supervisor = await login(new_client, SUPERVISOR)
    async with supervisor.client.app[SESSIONMAKER]() as s:  # nothing half-written
        assert (await s.execute(select(func.count()).select_from(CaseRow))).scalar() == 0


async def test_the_same_rules_hold_through_http(new_client: Any) -> None:
    consumer, case = await file(new_client)
    url = f"/api/v1/cases/{case['id']}/actions"
    rep = await login(new_client, ANKANG_REP)
    # the consumer cannot answer; the insurer cannot accept its own answer
    resp = await consumer.post(f"{url}/answer", {"kind": "reject", "text": "no"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await rep.post(f"{url}/accept_answer")
    assert resp.status == 403
    resp = await rep.post(f"{url}/answer", {"kind": "maybe", "text": "x"})
    assert resp.status == 422 and (await resp.json())["error"]["details"]["field"] == "kind"
    resp = await rep.post(
        f"{url}/answer",
        {"kind": "propose", "text": "我们愿意赔付2000元。", "offered_amount_fen": 200000},
    )
    assert resp.status == 200 and (await resp.json())["state"] == "insurer_answered"
    # answering twice is an illegal transition
    resp = await rep.post(f"{url}/answer", {"kind": "propose", "text": "again"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "illegal_transition"
    resp = await consumer.post(f"{url}/reject_answer", {"reason": "金额太低"})
    assert resp.status == 200 and (await resp.json())["state"] == "mediation_requested"
    lead = await login(new_client, LEAD)
    queue = (await (await lead.get("/api/v1/cases")).json())["items"]
    assert case["number"] in [c["number"] for c in queue]
    resp = await consumer.post(f"{url}/fly_to_the_moon")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "unknown_operation"
    timeline = await (await consumer.get(f"/api/v1/cases/{case['id']}/timeline")).json()
    kinds = [e["kind"] for e in timeline["items"]]
    assert kinds == ["filed", "triaged", "answered", "answer_rejected"]


async def test_withdraw_by_the_consumer(new_client: Any) -> None:
    consumer, case = await file(new_client)
    url = f"/api/v1/cases/{case['id']}/actions/withdraw"
    rep = await login(new_client, ANKANG_REP)
    assert (await rep.post(url)).status == 403
    resp = await consumer.post(url, {"reason": "已自行解决"})
    assert (await resp.json())["state"] == "withdrawn"
    assert (await consumer.post(url)).status == 409


async def test_messages_are_masked_and_the_sender_told(new_client: Any) -> None:
    consumer, case = await file(new_client)
    resp = await consumer.post(
        f"/api/v1/cases/{case['id']}/actions/send_message",
        {"text": "请打我电话13912345678，卡号6222021234567890128"},
    )
    body = await resp.json()
    assert resp.status == 200 and body["masked"]["count"] == 2
    assert "13912345678" not in body["masked"]["text"]
    rep = await login(new_client, ANKANG_REP)
    timeline = (await (await rep.get(f"/api/v1/cases/{case['id']}/timeline")).json())["items"]
    message = timeline[-1]
    assert message["kind"] == "message_sent"
    assert "13912345678" not in message["payload"]["text"]
    assert "6222021234567890128" not in message["payload"]["text"]
    inbox = (await (await rep.get("/api/v1/notifications")).json())["items"]
    assert {"case_new", "message_received"} <= {n["kind"] for n in inbox}


async def test_notifications_and_outbox(new_client: Any) -> None:
    consumer, case = await file(new_client)
    rep = await login(new_client, ANKANG_REP)
    await rep.post(
        f"/api/v1/cases/{case['id']}/actions/answer", {"kind": "accept", "text": "同意全额赔付"}
    )
    inbox = (await (await consumer.get("/api/v1/notifications")).json())["items"]
    assert [n["kind"] for n in inbox] == ["case_answered", "case_received"]
    assert inbox[1]["params"]["number"] == case["number"]
    async with consumer.client.app[SESSIONMAKER]() as s:
        rows = list((await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
        # the consumer has only a mobile number: SMS; the insurer's staff: e-mail
        assert [(r.medium, r.recipient) for r in rows] == [
            ("sms", CONSUMER),
            ("email", ANKANG_REP),
            ("sms", CONSUMER),
        ]
        assert case["number"] in rows[0].body and "保险公司须在" in rows[0].body
        unread = await s.execute(select(func.count()).select_from(Notification))
        assert unread.scalar() == 3
    assert (await consumer.post("/api/v1/notifications/read")).status == 204


async def test_live_status_reaches_an_open_page(
    new_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("odr.api.cases.HEARTBEAT_SECONDS", 0.2)
    consumer, case = await file(new_client)
    resp = await consumer.client.get(f"/api/v1/cases/{case['id']}/stream")
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    assert (await resp.content.readline()).startswith(b": connected")
    # heartbeats keep the stream open (the filing's own change may come among them on a busy
    # machine), and changes still arrive after them
    beats = 0
    async with asyncio.timeout(5):
        while beats < 3:
            beats += await resp.content.readline() == b": heartbeat\n"
    rep = await login(new_client, ANKANG_REP)
    await rep.post(f"/api/v1/cases/{case['id']}/actions/answer", {"kind": "accept", "text": "同意"})
    lines = []
    async with asyncio.timeout(5):
        while not any(line.startswith(b"data:") and b'"version": 0' not in line for line in lines):
            lines.append(await resp.content.readline())
    assert b"event: changed\n" in lines
    resp.close()
    stranger = await login(new_client, OTHER_CONSUMER)
    assert (await stranger.get(f"/api/v1/cases/{case['id']}/stream")).status == 404


@pytest.mark.postgres
@pytest.mark.redis
async def test_live_status_crosses_nodes(
    scaled: Any, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    """Two app nodes on one PostgreSQL and Redis: a page open on node A hears of a change
    made on node B."""
    from odr.app import create_app
    from tests.conftest import FAST_PASSWORDS

    node_a = await aiohttp_server(create_app(scaled, passwords=FAST_PASSWORDS))
    node_b = await aiohttp_server(create_app(scaled, passwords=FAST_PASSWORDS))

    async def on(node: Any) -> Any:
        return await aiohttp_client(node)

    consumer = await login(lambda: on(node_a), CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case = await resp.json()
    stream = await consumer.client.get(f"/api/v1/cases/{case['id']}/stream")
    assert (await stream.content.readline()).startswith(b": connected")
    rep = await login(lambda: on(node_b), ANKANG_REP)
    resp = await rep.post(
        f"/api/v1/cases/{case['id']}/actions/answer", {"kind": "accept", "text": "同意"}
    )
    assert resp.status == 200
    lines: list[bytes] = []
    async with asyncio.timeout(5):
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(await stream.content.readline())
    assert b"event: changed\n" in lines
    stream.close()


S03 = (
    "销售人员当时承诺随时退保无手续费，而且保证收益6%，结果退保时被扣了一半多的保费。"
    "我保留了聊天记录，如果不解决我就向金融监管总局投诉，也会找媒体曝光。"
)
S04 = (
    "销售人员承诺随时可以退保、没有手续费，还保证6%的收益，但退保时被扣了超过一半的保费。"
    "聊天记录我都有，再不处理就向监管投诉并找媒体。"
)


async def test_duplicates_are_linked_never_dropped(new_client: Any) -> None:
    first = await login(new_client, CONSUMER)
    insurer = await insurer_id(first)
    one = await (
        await first.post(
            "/api/v1/cases", complaint(insurer, description=S03, policy_numbers=["HX88012003"])
        )
    ).json()
    # the same consumer, insurer and policy while the first case is open
    again = await (
        await first.post(
            "/api/v1/cases",
            complaint(
                insurer,
                description="上次投诉的事情还没有处理，这是我第二次投诉。",
                policy_numbers=["HX-88012003"],
            ),
        )
    ).json()
    assert again["duplicate_of"] == one["number"]
    # a near copy of the text by someone else is no duplicate (several make a cluster warning)
    other = await login(new_client, OTHER_CONSUMER)
    copied = await (
        await other.post(
            "/api/v1/cases", complaint(insurer, description=S04, policy_numbers=["HX99"])
        )
    ).json()
    assert copied["duplicate_of"] is None
    # the same consumer's near copy, about another policy, is
    near = await (
        await first.post(
            "/api/v1/cases", complaint(insurer, description=S04, policy_numbers=["HX97"])
        )
    ).json()
    assert near["duplicate_of"] == one["number"]
    unrelated = await (
        await other.post("/api/v1/cases", complaint(insurer, policy_numbers=["HX98"]))
    ).json()
    assert unrelated["duplicate_of"] is None
    rep = await login(new_client, ANKANG_REP)
    detail = await (await rep.get(f"/api/v1/cases/{near['id']}")).json()
    assert detail["duplicate_of"]["number"] == one["number"]
    assert detail["triage"]["duplicates"][0]["reason"] == "near_duplicate_text"
    assert set(r["signal"] for r in detail["triage"]["reasons"]) >= {"regulator", "media"}
    assert detail["state"] == "awaiting_insurer"  # linked, still a case of its own


async def test_out_of_range_numbers_are_client_errors(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    huge = "9" * 25
    assert (await consumer.get(f"/api/v1/cases/{huge}")).status == 404
    assert (await consumer.get("/api/v1/cases/0")).status == 404
    assert (await consumer.get(f"/api/v1/cases?insurer_id={huge}")).status == 422
    assert (await consumer.get(f"/api/v1/cases?offset={huge}")).status == 200
    resp = await consumer.post("/api/v1/cases", complaint(int(huge)))
    assert resp.status == 422 and (await resp.json())["error"]["details"]["field"] == "insurer_id"
    resp = await consumer.post(f"/api/v1/cases/{huge}/actions/withdraw")
    assert resp.status == 404


async def test_every_event_is_chained_and_tampering_shows(new_client: Any) -> None:
    from sqlalchemy import update

    from odr.storage.models import ChainEntryRow

    consumer, case = await file(new_client)
    rep = await login(new_client, ANKANG_REP)
    await rep.post(f"/api/v1/cases/{case['id']}/actions/answer", {"kind": "accept", "text": "同意"})
    await consumer.post(f"/api/v1/cases/{case['id']}/actions/accept_answer")
    check = await (await consumer.get(f"/api/v1/cases/{case['id']}/chain")).json()
    assert check["ok"] and check["entries"] == check["events"] == 4
    async with consumer.client.app[SESSIONMAKER]() as s:
        await s.execute(
            update(ChainEntryRow)
            .where(ChainEntryRow.case_id == case["id"], ChainEntryRow.sequence == 3)
            .values(body_sha256="0" * 64)
        )
        await s.commit()
    check = await (await consumer.get(f"/api/v1/cases/{case['id']}/chain")).json()
    assert not check["ok"] and check["first_bad_sequence"] == 3
    stranger = await login(new_client, OTHER_CONSUMER)
    assert (await stranger.get(f"/api/v1/cases/{case['id']}/chain")).status == 404


async def test_subscribers_hear_of_every_committed_change(new_client: Any) -> None:
    """`CaseService.subscribe`: after the commit, with the case and its new events; nothing
    for a refused operation."""
    from odr.http.keys import CASES
    from odr.services.cases import CaseChange

    consumer, case = await file(new_client)
    heard: list[tuple[int, list[str]]] = []

    async def listen(change: CaseChange) -> None:
        heard.append((change.case.id, [e.kind.value for e in change.events]))

    consumer.client.app[CASES].subscribe(listen)
    url = f"/api/v1/cases/{case['id']}/actions"
    assert (await consumer.post(f"{url}/answer", {"kind": "accept", "text": "x"})).status == 403
    assert (await consumer.post(f"{url}/withdraw", {"reason": "已解决"})).status == 200
    assert heard == [(case["id"], ["withdrawn"])]
