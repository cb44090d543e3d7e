"""Helpers for HTTP tests: logging in demo users, signing channel calls (the demo people and
the complaint come from `tests.builders`)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp.test_utils import TestClient

from odr.domain.signing import sign
from odr.services import demo
from odr.services.passwords import current_totp
from tests.builders import ANKANG_REP as ANKANG_REP
from tests.builders import CONSUMER as CONSUMER
from tests.builders import HUAXIN_REP as HUAXIN_REP
from tests.builders import LEAD as LEAD
from tests.builders import MEDIATOR as MEDIATOR
from tests.builders import OTHER_CONSUMER as OTHER_CONSUMER
from tests.builders import SUPERVISOR as SUPERVISOR
from tests.builders import USERS as USERS
from tests.builders import Caller, checked, insurer_of
from tests.builders import complaint as complaint


class Session:
    """One logged-in user on a test client (its own cookie jar)."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    async def get(self, path: str) -> Any:
        return await self.client.get(path)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.post(path, json=body or {}, headers={"X-CSRF-Token": self.token})


async def login(make: Any, login_name: str) -> Session:
    """A new client (own cookies) logged in as a demo user."""
    client: TestClient = await make()
    user = USERS[login_name]
    body = {"login": login_name, "password": demo.DEMO_PASSWORD}
    if user.totp_secret:
        body["otp"] = current_totp(user.totp_secret)
    resp = await client.post("/api/v1/auth/login", json=body)
    assert resp.status == 200, await resp.text()
    return Session(client, (await resp.json())["csrf_token"])


def callers(people: dict[str, Session]) -> dict[str, Caller]:
    """The sessions of ``people`` as the builders' callers."""
    return {name: checked(session) for name, session in people.items()}


async def insurer_id(session: Session, name: str = "安康人寿") -> int:
    return await insurer_of(checked(session), name)


def signed_headers(
    path: str,
    body: bytes,
    method: str = "POST",
    *,
    key: str = demo.CHANNEL_KEY,
    secret: str = demo.CHANNEL_SECRET,
    at: float | None = None,
) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {
        "X-ODR-Key": key,
        "X-ODR-Timestamp": stamp,
        "X-ODR-Signature": sign(secret, method, path, stamp, body),
        "Content-Type": "application/json",
    }


def dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()
