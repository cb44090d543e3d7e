"""Blind offers and open offers over HTTP. The secret figure of one side reaches the other side
through no endpoint, page or stream before settlement: every one of them is read."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, Session
from tests.integration.outcome_setup import answered_case, hearing_case

SECRET_YUAN = "98765.43"
FORMS = ("9876543", "98765.43", "98,765.43")  # in fen, in yuan, in yuan with separators


def assert_secret_absent(where: str, text: str) -> None:
    for form in FORMS:
        assert form not in text, f"{where} shows the other side's figure ({form})"


async def read_everything(reader: Session, case_id: int) -> dict[str, str]:
    """Every GET the reader can call about the case, as text."""
    base = f"/api/v1/cases/{case_id}"
    paths = [
        base,
        f"{base}/timeline",
        f"{base}/chain",
        f"{base}/evidence",
        f"{base}/blind-offers",
        f"{base}/offers",
        f"{base}/agreement",
        f"{base}/report",
        f"{base}/hearings",
        f"{base}/rating",
        "/api/v1/notifications",
        "/api/v1/cases",
        f"/cases/{case_id}",
        f"/cases/{case_id}/report",
        "/inbox",
    ]
    found: dict[str, str] = {}
    for path in paths:
        resp = await reader.get(path)
        found[path] = await resp.text()
    export = await reader.get(f"{base}/export")
    if export.status == 200:
        with zipfile.ZipFile(io.BytesIO(await export.read())) as z:
            found["export"] = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return found


async def test_no_response_to_the_other_side_shows_a_secret_figure(new_client: Any) -> None:
    case_id, people, _app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]

    # the insurer follows the case live while the consumer submits its figure
    stream = await rep.client.get(f"/api/v1/cases/{case_id}/stream")
    assert stream.status == 200
    assert (await stream.content.readline()).startswith(b": connected")
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/blind-offers", {"amount_yuan": SECRET_YUAN}
    )
    assert resp.status == 201, await resp.text()
    mine = await resp.json()
    assert mine["rounds"][0]["my_figure_fen"] == 9876543  # the consumer sees its own figure
    received = b""
    async with asyncio.timeout(5):
        while b"event: changed" not in received:
            received += await stream.content.readline()
        received += await stream.content.readline()  # its data line
    stream.close()
    assert_secret_absent("the SSE stream", received.decode())

    for reader in (rep, mediator):
        for where, text in (await read_everything(reader, case_id)).items():
            assert_secret_absent(where, text)
    offers = await (await rep.get(f"/api/v1/cases/{case_id}/blind-offers")).json()
    [round_one] = offers["rounds"]
    assert round_one["submitted"] == {"consumer": True, "insurer": False}
    assert round_one["my_figure_fen"] is None and round_one["outcome"] is None
    # the log holds a commitment only
    timeline = (await (await rep.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    [submitted] = [e for e in timeline if e["kind"] == "blind_offer_submitted"]
    assert set(submitted["payload"]) == {"round", "side", "commitment"}

    # a second figure from the same side waits for the other side
    resp = await consumer.post(f"/api/v1/cases/{case_id}/blind-offers", {"amount_yuan": "1"})
    assert resp.status == 409
    # the mediator makes no offer
    resp = await mediator.post(f"/api/v1/cases/{case_id}/blind-offers", {"amount_yuan": "1"})
    assert resp.status == 403

    # the insurer's figure overlaps: both are told the midpoint, never the other figure
    resp = await rep.post(f"/api/v1/cases/{case_id}/blind-offers", {"amount_yuan": "100000"})
    assert resp.status == 201, await resp.text()
    midpoint = (9876543 + 10000000 + 1) // 2
    for reader in (consumer, rep):
        view = await (await reader.get(f"/api/v1/cases/{case_id}/blind-offers")).json()
        assert view["settled_amount_fen"] == midpoint
        assert view["rounds"][0]["outcome"] == "settled"
        assert view["can_submit"] is False
        notes = (await (await reader.get("/api/v1/notifications")).json())["items"]
        assert any(n["case_id"] == case_id for n in notes)
    for where, text in (await read_everything(rep, case_id)).items():
        assert_secret_absent(where, text)


async def test_no_overlap_reveals_nothing_and_rounds_are_limited(new_client: Any) -> None:
    case_id, people = await answered_case(new_client)
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    url = f"/api/v1/cases/{case_id}/blind-offers"
    for n in range(3):
        assert (await consumer.post(url, {"amount_yuan": SECRET_YUAN})).status == 201
        resp = await rep.post(url, {"amount_yuan": str(5000 + n)})
        assert resp.status == 201
        view = await resp.json()
        assert view["rounds"][n]["outcome"] == "no_overlap"
        assert view["rounds"][n]["amount_fen"] is None
        assert view["rounds"][n]["my_figure_fen"] == (5000 + n) * 100
    for where, text in (await read_everything(rep, case_id)).items():
        assert_secret_absent(where, text)
    resp = await consumer.post(url, {"amount_yuan": "1"})
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "no_rounds_left"
    assert (await (await consumer.get(f"/api/v1/cases/{case_id}")).json())["state"] == (
        "insurer_answered"
    )


async def test_offers_and_counter_offers_before_mediation(new_client: Any) -> None:
    case_id, people = await answered_case(new_client)
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    url = f"/api/v1/cases/{case_id}/offers"
    resp = await consumer.post(url, {"amount_yuan": "3000", "text": "按合同应赔3000元"})
    assert resp.status == 201, await resp.text()
    first = (await resp.json())["items"][0]
    # one cannot accept one's own offer
    resp = await consumer.post(f"{url}/{first['sequence']}/answer", {"accept": True})
    assert resp.status == 409
    resp = await rep.post(url, {"amount_yuan": "2000", "text": "最多2000元"})
    assert resp.status == 201
    items = (await resp.json())["items"]
    counter = items[1]
    assert counter["in_reply_to"] == first["sequence"] and counter["side"] == "insurer"
    # the earlier offer is superseded
    resp = await rep.post(f"{url}/{first['sequence']}/answer", {"accept": True})
    assert resp.status == 409
    resp = await consumer.post(f"{url}/{counter['sequence']}/answer", {"accept": True})
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert view["state"] == "resolved"
    assert view["items"][1]["status"] == "accepted"
    timeline = (await (await rep.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[-3:] == ["offer_made", "offer_made", "offer_answered"]
