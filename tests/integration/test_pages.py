"""Pages: forms with CSRF, the two-step staff login, languages."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from odr.http.keys import CODES
from odr.services import demo
from odr.services.passwords import current_totp
from odr.services.sms import DevelopmentSender

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(client: TestClient, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200
    match = TOKEN.search(await resp.text())
    assert match
    return match.group(1)


async def test_form_post_without_csrf_is_refused_with_a_code(client: TestClient) -> None:
    await form_token(client, "/login")  # the visitor has a session
    resp = await client.post(
        "/login",
        data={"login": "13800000001", "password": demo.DEMO_PASSWORD},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert resp.headers["X-Error-Code"] == "csrf_failed"
    page = await resp.text()
    assert "csrf_failed" in page and "This form has expired" in page
    # and without any session at all
    client.session.cookie_jar.clear()
    resp = await client.post("/register", data={"login": "x"}, allow_redirects=False)
    assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"


async def test_consumer_logs_in_with_the_form(client: TestClient) -> None:
    token = await form_token(client, "/login?next=/home")
    resp = await client.post(
        "/login?next=/home",
        allow_redirects=False,
        data={"csrf_token": token, "login": "13800000001", "password": demo.DEMO_PASSWORD},
    )
    assert resp.status == 303 and resp.headers["Location"] == "/home"
    home = await client.get("/home", headers={"Accept-Language": "zh-CN"})
    text = await home.text()
    assert home.status == 200 and "我的案件" in text and "王芳" in text


async def test_wrong_password_rerenders_the_form(client: TestClient) -> None:
    token = await form_token(client, "/login")
    resp = await client.post(
        "/login",
        headers={"Accept-Language": "en"},
        data={"csrf_token": token, "login": "13800000001", "password": "wrong-password-1"},
    )
    assert resp.status == 401
    text = await resp.text()
    assert "The login or the password is wrong." in text and 'value="13800000001"' in text


async def test_staff_log_in_in_two_steps(client: TestClient) -> None:
    lead = next(u for u in demo.USERS if u.login == "lead@binjiang.demo")
    token = await form_token(client, "/login")
    resp = await client.post(
        "/login",
        allow_redirects=False,
        data={"csrf_token": token, "login": lead.login, "password": demo.DEMO_PASSWORD},
    )
    assert resp.status == 303 and resp.headers["Location"].startswith("/login/second-factor")
    assert (await client.get("/home", allow_redirects=False)).status == 303  # not yet
    token = await form_token(client, "/login/second-factor")
    resp = await client.post(
        "/login/second-factor",
        data={"csrf_token": token, "otp": "123"},
        headers={"Accept-Language": "en"},
    )
    assert resp.status == 401 and "The code is wrong or has expired." in await resp.text()
    resp = await client.post(
        "/login/second-factor?next=/home",
        allow_redirects=False,
        data={"csrf_token": token, "otp": current_totp(lead.totp_secret or "")},
    )
    assert resp.status == 303 and resp.headers["Location"] == "/home"
    home = await client.get("/home", headers={"Accept-Language": "en"})
    assert "Cases waiting for a mediator" in await home.text()
    # logging out needs the token of the new session, which the page carries
    token = TOKEN.search(await home.text())
    assert token
    resp = await client.post("/logout", data={"csrf_token": token.group(1)}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/home", allow_redirects=False)).status == 303


async def test_register_with_the_form(client: TestClient) -> None:
    token = await form_token(client, "/register")
    resp = await client.post(
        "/register",
        headers={"Accept-Language": "en"},
        data={
            "csrf_token": token,
            "display_name": "张三",
            "login": "13900000001",
            "password": "short",
            "birth_date": "",
        },
    )
    assert resp.status == 422
    text = await resp.text()
    assert "at least 10 characters" in text and 'aria-invalid="true"' in text
    resp = await client.post(
        "/register",
        allow_redirects=False,
        data={
            "csrf_token": token,
            "display_name": "张三",
            "login": "13900000001",
            "password": "long-enough-1",
            "birth_date": "1950-05-05",
        },
    )
    assert resp.status == 200 and "139****0001" in await resp.text()  # a code is on its way
    assert (await client.get("/home", allow_redirects=False)).status == 303  # no account yet
    codes = client.app[CODES]
    await codes.drain()
    sms = codes.senders["sms"]
    assert isinstance(sms, DevelopmentSender)
    sent = sms.last_to("13900000001")
    assert sent is not None
    code = re.search(r"\b(\d{6})\b", sent.body)
    assert code
    resp = await client.post(
        "/register/confirm",
        allow_redirects=False,
        data={"csrf_token": token, "code": code.group(1)},
    )
    assert resp.status == 303
    home = await client.get("/home")
    assert 'class="care"' in await home.text()  # 60 or older: care mode


async def test_open_redirects_are_refused(client: TestClient) -> None:
    token = await form_token(client, "/login")
    resp = await client.post(
        "/login?next=//evil.example/x",
        allow_redirects=False,
        data={"csrf_token": token, "login": "13800000002", "password": demo.DEMO_PASSWORD},
    )
    assert resp.headers["Location"] == "/home"


async def test_language_from_browser_and_switch(client: TestClient) -> None:
    resp = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert resp.headers["Content-Language"] == "en" and '<html lang="en">' in await resp.text()
    resp = await client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert resp.headers["Content-Language"] == "zh-CN"
    assert "在线解决您与保险公司的纠纷" in await resp.text()
    resp = await client.get("/", headers={"Accept-Language": "fr"})
    assert resp.headers["Content-Language"] == "zh-CN"  # the default
    resp = await client.get("/lang/en?next=/login", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    resp = await client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert resp.headers["Content-Language"] == "en"  # the choice is remembered
    assert (await client.get("/lang/fr")).status == 404


async def test_static_assets_are_served(client: TestClient) -> None:
    for name in ("app.css", "app.js"):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200


async def test_openapi_lists_every_route(client: Any) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    app = client.app
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not path or not (path.startswith("/api/") or path in ("/healthz", "/readyz")):
            continue
        for route in resource:
            if route.method == "HEAD":
                continue
            assert route.method.lower() in doc["paths"].get(path, {}), (route.method, path)
    for path, operations in doc["paths"].items():
        for method in operations:
            assert any(
                (r.resource.get_info().get("path") or r.resource.get_info().get("formatter"))
                == path
                and r.method.lower() == method
                for r in app.router.routes()
                if r.resource is not None
            ), (method, path)
