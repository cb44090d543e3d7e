"""Accounts through HTTP, on the embedded setup (SQLite, memory limits, database sessions) and
the scaled one (PostgreSQL, Redis sessions and rate limits)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp.test_utils import TestClient

from odr.http.keys import CODES, SETTINGS
from odr.services import demo
from odr.services.passwords import current_totp
from odr.services.sms import DevelopmentSender

PASSWORD = demo.DEMO_PASSWORD
STAFF = {u.login: u for u in demo.USERS if u.totp_secret}


async def api_login(
    client: TestClient, login: str, otp: str | None = None, password: str = PASSWORD
) -> Any:
    body: dict[str, Any] = {"login": login, "password": password}
    if otp is not None:
        body["otp"] = otp
    return await client.post("/api/v1/auth/login", json=body)


async def sent_code(client: TestClient, destination: str) -> str:
    """The one-time code the development sender sent to ``destination``."""
    codes = client.app[CODES]
    await codes.drain()
    for sender in codes.senders.values():
        message = sender.last_to(destination) if isinstance(sender, DevelopmentSender) else None
        if message is not None:
            match = re.search(r"\b(\d{6})\b", message.body)
            assert match
            return match.group(1)
    raise AssertionError(f"no code was sent to {destination}")


async def test_every_demo_login_works(client: TestClient) -> None:
    for u in demo.USERS:
        otp = current_totp(u.totp_secret) if u.totp_secret else None
        client.session.cookie_jar.clear()
        resp = await api_login(client, u.login, otp)
        assert resp.status == 200, (u.login, await resp.text())
        me = await client.get("/api/v1/me")
        data = await me.json()
        assert data["user"]["role"] == u.role.value
        assert data["user"]["organisation_name"] == u.organisation


async def test_five_wrong_passwords_then_429_with_retry_after(client: TestClient) -> None:
    statuses = []
    for _ in range(5):
        resp = await api_login(client, "13800000001", password="wrong-password-1")
        statuses.append(resp.status)
    assert statuses == [401, 401, 401, 401, 429]
    assert int(resp.headers["Retry-After"]) > 0
    # even the right password is refused until the window ends
    resp = await api_login(client, "13800000001")
    assert resp.status == 429
    body = await resp.json()
    assert body["error"]["code"] == "too_many_attempts"
    # another account is not affected
    assert (await api_login(client, "13800000002")).status == 200


async def test_staff_need_a_valid_totp(client: TestClient) -> None:
    login = "mediator@binjiang.demo"
    resp = await api_login(client, login)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "otp_required"
    resp = await api_login(client, login, "000000")
    assert (await resp.json())["error"]["code"] == "otp_invalid"
    resp = await api_login(client, login, current_totp(STAFF[login].totp_secret or ""))
    assert resp.status == 200
    assert (await client.get("/api/v1/me")).status == 200


async def test_register_me_logout(client: TestClient) -> None:
    resp = await client.post(
        "/api/v1/auth/register",
        json={
            "login": "new.user@example.com",
            "password": "a-good-pass-1",
            "display_name": "新用户",
            "birth_date": "1958-03-01",
        },
    )
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["destination"] == "n***@example.com"
    resp = await client.post(
        "/api/v1/auth/register/confirm",
        json={
            "login": "new.user@example.com",
            "code": await sent_code(client, "new.user@example.com"),
        },
    )
    assert resp.status == 201, await resp.text()
    session = await resp.json()
    assert session["user"]["care_mode"] is True
    token = session["csrf_token"]
    assert (await client.get("/api/v1/me")).status == 200
    # a state change with the session cookie needs the CSRF header
    resp = await client.post("/api/v1/auth/logout")
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "csrf_failed"
    resp = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert resp.status == 204
    assert (await client.get("/api/v1/me")).status == 401


async def test_bad_input_names_the_field(client: TestClient) -> None:
    resp = await client.post(
        "/api/v1/auth/register",
        json={"login": "13800000077", "password": "short", "display_name": "x"},
    )
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert err["code"] == "password_too_short" and err["details"]["field"] == "password"
    resp = await client.post("/api/v1/auth/register", json={"login": "13800000077"})
    err = (await resp.json())["error"]
    assert resp.status == 422 and err["code"] == "invalid_field" and err["details"]["field"]
    resp = await client.post(
        "/api/v1/auth/register", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await client.post("/api/v1/auth/register", data="login=x")
    assert resp.status == 415
    resp = await client.post("/api/v1/auth/register", json={"login": "x" * 300_000})
    assert resp.status == 413
    resp = await client.post(
        "/api/v1/auth/register",
        json={"login": "13800000001", "password": "a-good-pass-1", "display_name": "dup"},
    )
    # a number already registered is not revealed: the same answer, and no code is sent
    assert resp.status == 202 and (await resp.json())["destination"] == "138****0001"


async def test_supervisor_admin_creates_staff(client: TestClient) -> None:
    sup = STAFF["supervisor@odr.demo"]
    resp = await api_login(client, sup.login, current_totp(sup.totp_secret or ""))
    token = (await resp.json())["csrf_token"]
    resp = await client.post(
        "/api/v1/users",
        headers={"X-CSRF-Token": token},
        json={
            "login": "new.rep@ankang.demo",
            "password": "a-good-pass-1",
            "display_name": "新员工",
            "role": "insurer_rep",
            "organisation": "安康人寿",
            "badge_number": "AK-1002",
        },
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["totp_uri"].startswith("otpauth://totp/")
    client.session.cookie_jar.clear()  # the new employee logs in on their own machine
    resp = await api_login(
        client,
        "new.rep@ankang.demo",
        current_totp(created["totp_secret"]),
        password="a-good-pass-1",
    )
    assert resp.status == 200
    # an insurer's staff may not create accounts
    resp = await client.post(
        "/api/v1/users",
        headers={"X-CSRF-Token": (await resp.json())["csrf_token"]},
        json={
            "login": "x@ankang.demo",
            "password": "a-good-pass-1",
            "display_name": "x",
            "role": "insurer_rep",
            "organisation": "安康人寿",
            "badge_number": "AK-1003",
        },
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"


async def test_expired_session(make_client: Any, seeded: Any) -> None:
    client = await make_client(seeded.with_overrides(session_ttl=1))
    assert (await api_login(client, "13800000001")).status == 200
    assert (await client.get("/api/v1/me")).status == 200
    await asyncio.sleep(2.1)
    resp = await client.get("/api/v1/me")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"
    resp = await client.get("/home", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=/home")


async def test_unknown_routes(client: TestClient) -> None:
    resp = await client.get("/api/v1/no-such-thing")
    assert resp.status == 404 and resp.content_type == "application/json"
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert resp.status == 404 and resp.content_type == "text/html"
    assert "There is nothing at this address." in await resp.text()
    resp = await client.put("/api/v1/me", json={})
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_security_headers_and_request_id(client: TestClient) -> None:
    for path in ("/", "/login", "/api/v1/openapi.json", "/no-such-page"):
        resp = await client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"])
    resp = await client.get("/healthz", headers={"X-Request-Id": "client-chosen-id-1"})
    assert resp.headers["X-Request-Id"] == "client-chosen-id-1"
    page = await (await client.get("/login")).text()
    assert "<script>" not in page and " on" + "click=" not in page


async def test_hsts_only_when_served_over_https(make_client: Any, seeded: Any) -> None:
    plain = await make_client(seeded)
    assert "Strict-Transport-Security" not in (await plain.get("/")).headers
    secure = await make_client(seeded.with_overrides(public_url="https://odr.example"))
    for path in ("/", "/api/v1/openapi.json", "/static/no-such-file.css"):
        resp = await secure.get(path)
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000"), path


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200 and body["checks"]["database"] == "ok"
    assert client.app is not None
    if client.app[SETTINGS].redis_url:
        assert body["checks"]["redis"] == "ok"
    else:
        assert "redis" not in body["checks"]


async def test_not_ready_when_the_database_is_unreachable(make_client: Any, seeded: Any) -> None:
    broken = seeded.with_overrides(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    client = await make_client(broken)
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["checks"]["database"].startswith("failed")
