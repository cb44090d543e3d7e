"""Helpers for HTTP tests: logging in demo users, filing complaints, signing channel calls."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp.test_utils import TestClient

from odr.domain.signing import sign
from odr.services import demo
from odr.services.cases import TERMS_VERSION
from odr.services.passwords import current_totp

USERS = {u.login: u for u in demo.USERS}
CONSUMER = "13800000001"
OTHER_CONSUMER = "13800000002"
ANKANG_REP = "rep@ankang.demo"
HUAXIN_REP = "rep@huaxin.demo"
MEDIATOR = "mediator@binjiang.demo"
LEAD = "lead@binjiang.demo"
SUPERVISOR = "supervisor@odr.demo"


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


async def insurer_id(session: Session, name: str = "安康人寿") -> int:
    items = (await (await session.get("/api/v1/insurers")).json())["items"]
    return next(i["id"] for i in items if i["name"] == name)


def complaint(insurer: int, **changes: Any) -> dict[str, Any]:
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
