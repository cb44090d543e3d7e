"""Bringing a case to mediation with a hearing, and to a signed agreement, over HTTP (the
hearing itself is scheduled through the aggregate and the real store: scheduling is tested
elsewhere)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from odr.domain.accounts import Actor, Role
from odr.http.keys import SESSIONMAKER
from odr.services import demo
from odr.services.passwords import current_totp
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import Membership, User
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    USERS,
    Session,
    complaint,
    insurer_id,
    login,
)

PEOPLE = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)


async def answered_case(new_client: Any) -> tuple[int, dict[str, Session]]:
    """A case against Ankang that the insurer answered (rejected), everyone logged in."""
    people = {name: await login(new_client, name) for name in PEOPLE}
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    assert resp.status == 201, await resp.text()
    case_id = (await resp.json())["id"]
    resp = await rep.post(
        f"/api/v1/cases/{case_id}/actions/answer", {"kind": "reject", "text": "不予赔付"}
    )
    assert resp.status == 200, await resp.text()
    return case_id, people


async def user_id(app: Any, login_name: str) -> int:
    async with app[SESSIONMAKER]() as s:
        stmt = select(User.id).where((User.email == login_name) | (User.mobile == login_name))
        return int((await s.execute(stmt)).scalar_one())


async def hearing_case(new_client: Any) -> tuple[int, dict[str, Session], Any]:
    """A case in ``hearing_scheduled`` with the demo mediator."""
    case_id, people = await answered_case(new_client)
    resp = await people[CONSUMER].post(f"/api/v1/cases/{case_id}/actions/request_mediation")
    assert resp.status == 200, await resp.text()
    app = people[LEAD].client.app
    mediator = await user_id(app, MEDIATOR)
    resp = await people[LEAD].post(
        f"/api/v1/cases/{case_id}/actions/assign_mediator", {"mediator_id": mediator}
    )
    assert resp.status == 200, await resp.text()
    async with app[SESSIONMAKER]() as s:
        centre = (
            await s.execute(
                select(Membership.organisation_id).where(Membership.user_id == mediator)
            )
        ).scalar_one()
    async with UnitOfWork(app[SESSIONMAKER]) as uow:
        _, case = await repo.load(uow.session, case_id)
        before, now = case.version, datetime.now(UTC)
        case.schedule_hearing(
            Actor(mediator, Role.MEDIATOR, centre), now, starts_at=now + timedelta(days=1)
        )
        await repo.save(uow.session, case, before, now)
        await uow.commit()
    return case_id, people, app


def next_otp(login_name: str) -> str:
    """A code of the next time step (the login used the current one; replays are refused)."""
    secret = USERS[login_name].totp_secret
    assert secret
    return current_totp(secret, time.time() + 30)


async def sign(people: dict[str, Session], who: str, case_id: int, sha: str) -> Any:
    body: dict[str, Any] = {"sha256": sha, "password": demo.DEMO_PASSWORD}
    if USERS[who].totp_secret:
        body["otp"] = next_otp(who)
    return await people[who].post(f"/api/v1/cases/{case_id}/agreement/sign", body)


async def draft(
    people: dict[str, Session],
    case_id: int,
    *,
    terms: str = "保险公司赔付3000元，双方再无争议。",
    amount: str = "3000.00",
    due_on: date | None = None,
) -> dict[str, Any]:
    resp = await people[MEDIATOR].post(
        f"/api/v1/cases/{case_id}/agreement",
        {
            "facts": "消费者住院手术后申请理赔，保险公司以免责条款为由拒赔。",
            "terms": terms,
            "amount_yuan": amount,
            "due_on": (due_on or date.today() + timedelta(days=10)).isoformat(),
            "confidential": True,
        },
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def settled_case(
    new_client: Any, due_on: date | None = None
) -> tuple[int, dict[str, Session], Any, dict[str, Any]]:
    case_id, people, app = await hearing_case(new_client)
    view = await draft(people, case_id, due_on=due_on)
    sha = view["agreement"]["sha256"]
    for who in (CONSUMER, ANKANG_REP, MEDIATOR):
        resp = await sign(people, who, case_id, sha)
        assert resp.status == 200, await resp.text()
    view = dict(await resp.json())
    assert view["state"] == "settled"
    return case_id, people, app, view
