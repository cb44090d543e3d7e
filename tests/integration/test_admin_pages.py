"""User and organisation administration pages: only supervisors with admin rights; creating an
organisation and a staff account (whose second-factor secret is shown once and works); forms
need their token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from odr.services.passwords import current_totp
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    SUPERVISOR,
    Session,
    login,
)

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


async def page(session: Session, path: str, headers: dict[str, str] = EN) -> str:
    resp = await session.client.get(path, headers=headers)
    assert resp.status == 200, (path, resp.status)
    return await resp.text()


async def post(session: Session, path: str, **fields: str) -> Any:
    return await session.client.post(
        path, data={"csrf_token": session.token, **fields}, headers=EN, allow_redirects=False
    )


async def test_admin_pages_list_users_and_organisations(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    desk = await page(admin, "/home")
    assert 'href="/admin/users"' in desk  # in the navigation
    users = await page(admin, "/admin/users")
    for words in ("陈静 (安康人寿)", "AK-1001", "安康人寿", "rep@ankang.demo", "Administrator"):
        assert words in users
    assert "13800000002" in users  # consumers too, after the staff
    assert users.index("AK-1001") < users.index("13800000002")
    only = await page(admin, "/admin/users?role=mediator")
    assert "MC-3001" in only and "AK-1001" not in only
    zh = await page(admin, "/admin/users", ZH)
    assert '<html lang="zh-CN">' in zh and "安康人寿" in zh
    organisations = await page(admin, "/admin/organisations")
    assert "Ankang Life" in organisations and "1200000" in organisations
    assert "滨江保险纠纷调解中心" in organisations
    assert '<html lang="zh-CN">' in await page(admin, "/admin/organisations", ZH)


async def test_admin_pages_refuse_everyone_else(new_client: Callable[[], Any]) -> None:
    anonymous = await new_client()
    resp = await anonymous.get("/admin/users", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    for name in (CONSUMER, ANKANG_REP):
        who = await login(new_client, name)
        for path in ("/admin/users", "/admin/organisations"):
            assert (await who.client.get(path)).status == 403, (name, path)
        resp = await post(who, "/admin/organisations", kind="insurer", name="冒名保险")
        assert resp.status == 403
        resp = await post(
            who,
            "/admin/users",
            display_name="X",
            login="x@example.com",
            role="insurer_rep",
            organisation="安康人寿",
            badge_number="AK-6666",
        )
        assert resp.status == 403
        assert 'href="/admin/users"' not in await page(who, "/home")


async def test_create_an_organisation(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    resp = await post(
        admin,
        "/admin/organisations",
        kind="insurer",
        name="  平安喜乐 人寿 ",
        name_en="Ping Xi Life",
        policy_count="2,500,000",
    )
    assert resp.status == 303, await resp.text()
    listed = await page(admin, resp.headers["Location"])
    assert "The organisation was created." in listed
    assert "平安喜乐 人寿" in listed and "Ping Xi Life" in listed and "2500000" in listed
    # the new insurer can be complained about
    insurers = await (await admin.get("/api/v1/insurers")).json()
    assert "平安喜乐 人寿" in [i["name"] for i in insurers["items"]]
    resp = await post(admin, "/admin/organisations", kind="insurer", name="平安喜乐 人寿")
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "organisation_exists"
    resp = await post(admin, "/admin/organisations", kind="bank", name="某银行")
    assert resp.status == 422
    text = await resp.text()
    assert "Choose the kind of organisation." in text and 'value="某银行"' in text
    resp = await post(
        admin, "/admin/organisations", kind="insurer", name="新保险", policy_count="many"
    )
    assert resp.status == 422 and 'aria-invalid="true"' in await resp.text()


async def test_create_a_staff_account_whose_secret_works_once_shown(
    new_client: Callable[[], Any],
) -> None:
    admin = await login(new_client, SUPERVISOR)
    resp = await post(
        admin,
        "/admin/users",
        display_name="吴倩",
        login="wu@ankang.demo",
        password="",
        role="insurer_rep",
        organisation="安康人寿",
        badge_number="ak-1002",
    )
    assert resp.status == 201, await resp.text()
    text = await resp.text()
    secret = re.search(r'<code class="secret">([A-Z2-7]{16,})</code>', text)
    password = re.search(r"<dt>First password</dt><dd><code>([^<]+)</code>", text)
    assert secret and password and "otpauth://totp/" in text and "AK-1002" in text
    # the new account logs in with what was shown
    fresh = await new_client()
    resp = await fresh.post(
        "/api/v1/auth/login",
        json={
            "login": "wu@ankang.demo",
            "password": password.group(1),
            "otp": current_totp(secret.group(1)),
        },
    )
    assert resp.status == 200, await resp.text()
    me = (await resp.json())["user"]
    assert me["organisation_name"] == "安康人寿" and me["badge_number"] == "AK-1002"
    # listed, and known to the public staff check
    assert "wu@ankang.demo" in await page(admin, "/admin/users")
    check = await (await fresh.get("/staff-check?badge=AK-1002", headers=EN)).text()
    assert "吴倩" in check and "status-active" in check
    # the secret is not shown again anywhere
    assert secret.group(1) not in await page(admin, "/admin/users")


async def test_staff_account_errors_point_at_their_field(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    base = {
        "display_name": "郑浩",
        "login": "zheng@binjiang.demo",
        "password": "chosen-password-1",
        "role": "mediator",
        "organisation": "滨江保险纠纷调解中心",
        "badge_number": "MC-3002",
    }
    cases = [
        ({"badge_number": "AK-1001"}, 409, "badge_number_taken", "badge_number"),
        ({"organisation": "安康人寿"}, 422, "wrong_organisation_kind", "organisation"),
        ({"role": "consumer"}, 422, "invalid_role", "role"),
        ({"login": "rep@ankang.demo"}, 409, "login_taken", "login"),
        ({"password": "short"}, 422, "password_too_short", "password"),
    ]
    for change, status, code, field in cases:
        resp = await post(admin, "/admin/users", **{**base, **change})
        assert resp.status == status and resp.headers["X-Error-Code"] == code, change
        text = await resp.text()
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', text, re.S), change
        assert "chosen-password-1" not in text  # a password is never sent back
    resp = await post(admin, "/admin/users", **base)
    assert resp.status == 201
    assert "First password" not in await resp.text()  # the admin chose it


async def test_a_supervisor_without_admin_rights_is_refused(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    resp = await post(
        admin,
        "/admin/users",
        display_name="钱明",
        login="qian@odr.demo",
        role="supervisor",
        organisation="ODR 平台运营中心",
        badge_number="SV-0002",
    )
    assert resp.status == 201
    text = await resp.text()
    secret = re.search(r'<code class="secret">([A-Z2-7]{16,})</code>', text)
    password = re.search(r"<dt>First password</dt><dd><code>([^<]+)</code>", text)
    assert secret and password
    plain = await new_client()
    resp = await plain.post(
        "/api/v1/auth/login",
        json={
            "login": "qian@odr.demo",
            "password": password.group(1),
            "otp": current_totp(secret.group(1)),
        },
    )
    token = (await resp.json())["csrf_token"]
    supervisor = Session(plain, token)
    assert (await plain.get("/admin/users")).status == 403
    assert (await post(supervisor, "/admin/organisations", kind="insurer", name="X")).status == 403


async def test_admin_forms_need_their_token(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    for path, fields in (
        ("/admin/organisations", {"kind": "insurer", "name": "无令牌保险"}),
        ("/admin/users", {"display_name": "X", "login": "x@odr.demo", "role": "supervisor"}),
    ):
        resp = await admin.client.post(path, data=fields, allow_redirects=False)
        assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"
    assert "无令牌保险" not in await page(admin, "/admin/organisations")
