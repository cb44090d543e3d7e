"""One builder for test data: the demo people, a complaint, and a case brought over the API
step by step — filed, answered, mediation requested, a mediator assigned, a hearing confirmed.

Every step goes through the public API as the person who may take it, so a test that starts
from "a case with a hearing ten minutes ahead" gets the same events, notifications and chain
entries a real case has. The steps take any `Caller`: the in-process test client's `Session`
(through `checked`) and the browser tests' `Api` against a server process alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from odr.http.keys import SESSIONMAKER
from odr.services import demo
from odr.services.cases import TERMS_VERSION
from odr.storage.models import User

USERS = {u.login: u for u in demo.USERS}
CONSUMER = "13800000001"
OTHER_CONSUMER = "13800000002"
ANKANG_REP = "rep@ankang.demo"
HUAXIN_REP = "rep@huaxin.demo"
MEDIATOR = "mediator@binjiang.demo"
LEAD = "lead@binjiang.demo"
SUPERVISOR = "supervisor@odr.demo"

ANKANG = "安康人寿"
REJECTION = {"kind": "reject", "text": "不予赔付"}


class Caller(Protocol):
    """A logged-in user's API session answering in JSON, the status checked."""

    async def get(self, path: str) -> Any: ...

    async def post(
        self, path: str, body: dict[str, Any] | None = None, status: int = 200
    ) -> Any: ...


class _Responding(Protocol):
    async def get(self, path: str) -> Any: ...

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any: ...


def checked(session: _Responding) -> Caller:
    """A session whose calls return responses (the test client's `Session`), as a `Caller`."""
    return _Checked(session)


class _Checked:
    def __init__(self, session: _Responding) -> None:
        self.session = session

    async def get(self, path: str) -> Any:
        resp = await self.session.get(path)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        resp = await self.session.post(path, body)
        assert resp.status == status, await resp.text()
        return await resp.json()


def complaint(insurer: int, **changes: Any) -> dict[str, Any]:
    """The body of a complaint against ``insurer`` about a hospital claim left unanswered."""
    body: dict[str, Any] = {
        "insurer_id": insurer,
        "policy_numbers": ["AK2023100188"],
        "category": "claims",
        "amount_yuan": 3200,
        "description": "我因急性阑尾炎住院手术，按医疗险提交了全部材料，保险公司一直说在审核，"
        "已经过去40天了还没有结果。",
        "desired_outcome": "尽快赔付",
        "contact_preference": "sms",
        "terms_version": TERMS_VERSION,
    }
    body.update(changes)
    return body


async def insurer_of(caller: Caller, name: str = ANKANG) -> int:
    items = (await caller.get("/api/v1/insurers"))["items"]
    return int(next(i["id"] for i in items if i["name"] == name))


async def user_id(app: Any, login_name: str) -> int:
    """A demo user's id, read from the application's database."""
    async with app[SESSIONMAKER]() as s:
        stmt = select(User.id).where((User.email == login_name) | (User.mobile == login_name))
        return int((await s.execute(stmt)).scalar_one())


def _actions(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/actions"


async def filed_case(people: dict[str, Caller]) -> int:
    """A case filed by the consumer against 安康人寿 (``awaiting_insurer``)."""
    consumer = people[CONSUMER]
    case = await consumer.post("/api/v1/cases", complaint(await insurer_of(consumer)), status=201)
    return int(case["id"])


async def answered_case(people: dict[str, Caller]) -> int:
    """A filed case the insurer's rep answered with a rejection (``insurer_answered``)."""
    case_id = await filed_case(people)
    await people[ANKANG_REP].post(f"{_actions(case_id)}/answer", REJECTION)
    return case_id


async def mediation_case(people: dict[str, Caller]) -> int:
    """An answered case the consumer took to mediation (``mediation_requested``)."""
    case_id = await answered_case(people)
    await people[CONSUMER].post(f"{_actions(case_id)}/request_mediation")
    return case_id


async def assign_mediator(people: dict[str, Caller], case_id: int, mediator_id: int) -> None:
    """The centre's lead assigns the mediator ``mediator_id``."""
    await people[LEAD].post(f"{_actions(case_id)}/assign_mediator", {"mediator_id": mediator_id})


async def assigned_case(people: dict[str, Caller], mediator_id: int) -> int:
    """A case in mediation with the demo mediator assigned by the lead."""
    case_id = await mediation_case(people)
    await assign_mediator(people, case_id, mediator_id)
    return case_id


async def hearing_ahead(
    people: dict[str, Caller], mediator_id: int, minutes: int = 10
) -> tuple[int, int]:
    """A case brought to a hearing ``minutes`` ahead (ten: its join window is open): assigned,
    the mediator accepting, one time proposed, chosen by both parties and confirmed.
    Returns (hearing id, case id)."""
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    case_id = await assigned_case(people, mediator_id)
    await mediator.post(f"{_actions(case_id)}/accept_assignment")
    slot = (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()
    hearing = await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [slot]}, 201)
    hearings = f"/api/v1/hearings/{hearing['id']}"
    for party in (consumer, rep):
        await party.post(f"{hearings}/choose", {"slots": [slot]})
    await mediator.post(f"{hearings}/confirm", {"starts_at": slot})
    return int(hearing["id"]), case_id
