"""Failed logins slow the one who fails, not the account's owner: per account and address
with doubling delays, per address across accounts (spraying), per account from unknown
devices (spread guessing) — and the owner's known browser still gets in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from odr.app import create_app
from odr.config import Settings
from odr.services import demo
from tests.conftest import FAST_PASSWORDS
from tests.integration.conftest import seed

VICTIM = "13800000001"
PASSWORD = demo.DEMO_PASSWORD


@pytest.fixture
async def proxied(backend: Settings, aiohttp_client: Any) -> Any:
    """Clients behind a trusted proxy on loopback, so each request can come from an address."""
    settings = (await seed(backend)).with_overrides(trusted_proxies=("127.0.0.1", "::1"))
    app = create_app(settings, passwords=FAST_PASSWORDS)
    server_client: TestClient = await aiohttp_client(app)

    async def build() -> TestClient:
        return await aiohttp_client(server_client.server)

    return build


async def api_login(
    client: TestClient, address: str, password: str = PASSWORD, login: str = VICTIM
) -> Any:
    return await client.post(
        "/api/v1/auth/login",
        json={"login": login, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def test_a_stranger_cannot_lock_the_owner_out(proxied: Any) -> None:
    attacker, owner = await proxied(), await proxied()
    statuses, waits = [], []
    for _ in range(7):
        resp = await api_login(attacker, "203.0.113.7", "wrong-password-1")
        statuses.append(resp.status)
        waits.append(int(resp.headers.get("Retry-After", 0)))
    assert statuses == [401, 401, 401, 401, 429, 429, 429]
    # the fifth failure starts a delay; the next attempt is refused without a check
    assert 0 < waits[4] <= 60 and waits[5] > 0
    # the attacker's address is slowed even with the right password ...
    assert (await api_login(attacker, "203.0.113.7")).status == 429
    # ... the owner, elsewhere, gets in: through the API and the form
    assert (await api_login(owner, "198.51.100.9")).status == 200
    other = await proxied()
    form = await other.post(
        "/login",
        data={"login": VICTIM, "password": PASSWORD, "csrf_token": await csrf(other)},
        headers={"X-Forwarded-For": "198.51.100.10"},
        allow_redirects=False,
    )
    assert form.status == 303


async def test_the_login_page_says_how_long_to_wait(proxied: Any) -> None:
    browser = await proxied()
    for _ in range(5):
        resp = await browser.post(
            "/login",
            data={
                "login": VICTIM,
                "password": "wrong-password-1",
                "csrf_token": await csrf(browser),
            },
            headers={"X-Forwarded-For": "203.0.113.8", "Accept-Language": "en"},
        )
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    # how long, and from when on the clock of the service's zone (Asia/Shanghai)
    shanghai = ZoneInfo("Asia/Shanghai")
    soon = {
        (datetime.now(UTC) + timedelta(minutes=m)).astimezone(shanghai) for m in (1, 2)
    }  # the minute may turn between the answer and this line
    said = re.search(
        r"Try again in 1 minute, from (\d{1,2}):(\d{2})\W?([AP]M)\.", await resp.text()
    )
    assert said, "the lock-out does not say when"
    hour, minute = (
        int(said.group(1)) % 12 + (12 if said.group(3) == "PM" else 0),
        int(said.group(2)),
    )
    assert (hour, minute) in {(t.hour, t.minute) for t in soon}, (said.group(0), soon)
    resp = await browser.post(
        "/login",
        data={"login": VICTIM, "password": "wrong-password-1", "csrf_token": await csrf(browser)},
        headers={"X-Forwarded-For": "203.0.113.8", "Accept-Language": "zh-CN"},
    )
    assert resp.status == 429
    said = re.search(r"1 分钟后再试（(\d{2}):(\d{2}) 起可以再次尝试）", await resp.text())
    assert said, "the lock-out does not say when (zh)"
    assert (int(said.group(1)), int(said.group(2))) in {(t.hour, t.minute) for t in soon}


async def test_spraying_from_one_address_is_slowed(proxied: Any) -> None:
    sprayer, elsewhere = await proxied(), await proxied()
    statuses = []
    for n in range(40):
        resp = await api_login(sprayer, "203.0.113.50", "wrong-password-1", f"1390000{n:04d}")
        statuses.append(resp.status)
    assert statuses[:19] == [401] * 19 and set(statuses[19:]) == {429}
    # a real account with its right password from that address waits too
    assert (await api_login(sprayer, "203.0.113.50")).status == 429
    assert (await api_login(elsewhere, "198.51.100.20")).status == 200


async def test_the_owner_on_a_known_device_gets_in_despite_spread_guessing(proxied: Any) -> None:
    owner = await proxied()
    assert (await api_login(owner, "198.51.100.30")).status == 200
    assert any(c.key == "odr_device" for c in owner.session.cookie_jar)
    await owner.post("/api/v1/auth/logout", headers={"X-CSRF-Token": await token(owner)})
    botnet = await proxied()
    for n in range(50):
        resp = await api_login(botnet, f"203.0.{113 + n // 200}.{n % 200 + 1}", "wrong-1234")
        assert resp.status in (401, 429)
    assert resp.status == 429  # the account is slowed for unknown devices ...
    newcomer = await proxied()
    assert (await api_login(newcomer, "198.51.100.31")).status == 429
    # ... and its owner's browser, known from the earlier login, still gets in
    assert (await api_login(owner, "198.51.100.30")).status == 200


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(client: TestClient) -> None:
    statuses = []
    for n in range(5):
        resp = await client.post(
            "/api/v1/auth/login",
            json={"login": VICTIM, "password": "wrong-password-1"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 401, 401, 429]


async def csrf(client: TestClient) -> str:
    page = await (await client.get("/login")).text()
    start = page.index('name="csrf_token" value="') + len('name="csrf_token" value="')
    return page[start : page.index('"', start)]


async def token(client: TestClient) -> str:
    return str((await (await client.get("/api/v1/me")).json())["csrf_token"])
