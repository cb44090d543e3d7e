"""The case rules through HTTP: in every state a case reaches over the API, each role is
offered exactly the operations the table below says (the insurer's staff may correct the
category triage suggested in every state), every other operation is refused with a
4xx and changes nothing, and strangers get 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from odr.http.keys import CASES
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

OPERATIONS = [
    "withdraw",
    "answer",
    "accept_answer",
    "reject_answer",
    "request_mediation",
    "request_extension",
    "approve_extension",
    "refuse_extension",
    "refer_to_mediation",
    "return_to_insurer",
    "send_message",
    "correct_category",
    "close",
]
ARGS: dict[str, dict[str, Any]] = {
    "answer": {"kind": "reject", "text": "不予赔付"},
    "request_extension": {"reason": "需要调取材料"},
    "send_message": {"text": "您好"},
    "correct_category": {"category": "claims"},
}
HIDDEN = None  # the case is not visible: 404 everywhere

# state -> role -> the operations offered (hand-written from the product rules)
EXPECTED: dict[str, dict[str, set[str] | None]] = {
    "awaiting_insurer": {
        CONSUMER: {"withdraw", "send_message"},
        ANKANG_REP: {"answer", "request_extension", "send_message", "correct_category"},
        SUPERVISOR: set(),
        LEAD: HIDDEN,
    },
    "insurer_answered": {
        CONSUMER: {
            "withdraw",
            "accept_answer",
            "reject_answer",
            "request_mediation",
            "send_message",
        },
        ANKANG_REP: {"send_message", "correct_category"},
        SUPERVISOR: set(),
        LEAD: HIDDEN,
    },
    "mediation_requested": {
        CONSUMER: {"withdraw", "send_message"},
        ANKANG_REP: {"send_message", "correct_category"},
        SUPERVISOR: set(),
        LEAD: set(),  # the centre's queue: it assigns (hearings issue), nothing here
    },
    "escalated": {
        CONSUMER: {"withdraw", "send_message"},
        ANKANG_REP: {"send_message", "correct_category"},
        SUPERVISOR: {"refer_to_mediation", "return_to_insurer"},
        LEAD: HIDDEN,
    },
    "withdrawn": {
        CONSUMER: {"send_message"},
        ANKANG_REP: {"send_message", "correct_category"},
        SUPERVISOR: {"close"},
        LEAD: HIDDEN,
    },
    "resolved": {
        CONSUMER: {"send_message"},
        ANKANG_REP: {"send_message", "correct_category"},
        SUPERVISOR: {"close"},
        LEAD: HIDDEN,
    },
}
STRANGERS = (OTHER_CONSUMER, HUAXIN_REP, MEDIATOR)


async def case_in(state: str, people: dict[str, Any]) -> int:
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case_id: int = (await resp.json())["id"]
    act = f"/api/v1/cases/{case_id}/actions"
    if state in ("insurer_answered", "mediation_requested", "resolved"):
        assert (await rep.post(f"{act}/answer", ARGS["answer"])).status == 200
    if state == "mediation_requested":
        assert (await consumer.post(f"{act}/reject_answer")).status == 200
    if state == "resolved":
        assert (await consumer.post(f"{act}/accept_answer")).status == 200
    if state == "withdrawn":
        assert (await consumer.post(f"{act}/withdraw")).status == 200
    if state == "escalated":
        later = datetime.now(UTC) + timedelta(days=40)
        assert await consumer.client.app[CASES].run_clock(later) >= 1
    detail = await (await consumer.get(f"/api/v1/cases/{case_id}")).json()
    assert detail["state"] == state
    return case_id


@pytest.mark.parametrize("state", sorted(EXPECTED))
async def test_each_role_is_offered_exactly_its_operations(state: str, new_client: Any) -> None:
    people = {who: await login(new_client, who) for who in (*EXPECTED[state], *STRANGERS)}
    case_id = await case_in(state, people)
    base = f"/api/v1/cases/{case_id}"
    for who, expected in [*EXPECTED[state].items(), *((s, HIDDEN) for s in STRANGERS)]:
        session = people[who]
        resp = await session.get(base)
        if expected is HIDDEN:
            assert resp.status == 404, (state, who)
            for operation in OPERATIONS:
                resp = await session.post(f"{base}/actions/{operation}", ARGS.get(operation))
                assert resp.status == 404, (state, who, operation)
            continue
        detail = await resp.json()
        assert set(detail["allowed"]) == expected, (state, who)
        version = detail["version"]
        for operation in sorted(set(OPERATIONS) - expected):
            resp = await session.post(f"{base}/actions/{operation}", ARGS.get(operation))
            assert resp.status in (403, 409, 422), (state, who, operation, resp.status)
        after = await (await people[CONSUMER].get(base)).json()
        assert after["version"] == version and after["state"] == state  # nothing changed
