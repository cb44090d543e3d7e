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
from odr.storage.models import Membership
from tests import builders
from tests.builders import user_id
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    USERS,
    Session,
    callers,
    login,
)

PEOPLE = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)


async def answered_case(new_client: Any) -> tuple[int, dict[str, Session]]:
    """A case against Ankang that the insurer answered (rejected), everyone logged in."""
    people = {name: await login(new_client, name) for name in PEOPLE}
    return await builders.answered_case(callers(people)), people


async def hearing_case(new_client: Any) -> tuple[int, dict[str, Session], Any]:
    """A case in ``hearing_scheduled`` with the demo mediator."""
    people = {name: await login(new_client, name) for name in PEOPLE}
    app = people[LEAD].client.app
    mediator = await user_id(app, MEDIATOR)
    case_id = await builders.assigned_case(callers(people), mediator)
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
