"""Staff second factors at rest: TOTP secrets stored sealed (and sealed by the migration that
introduced it), recovery codes shown once and usable once, an administrator's reset (logged,
ending the member's sessions)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from odr.bootstrap import open_services
from odr.config import Settings
from odr.domain.errors import Forbidden, Unauthenticated
from odr.http.keys import SESSIONMAKER
from odr.services import demo
from odr.services.accounts import NewUser
from odr.services.passwords import current_totp
from odr.storage.db import make_engine
from odr.storage.migrate import downgrade, upgrade
from odr.storage.models import AdminLogEntry, User
from odr.storage.sealed import SecretBox, is_sealed
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import ANKANG_REP, SUPERVISOR, USERS, login

EN = {"Accept-Language": "en"}
TODAY = date.today()


async def test_stored_secrets_are_sealed(seeded: Settings) -> None:
    async with open_services(seeded, passwords=FAST_PASSWORDS) as services:
        async with services.sessionmaker() as s:
            rows = (await s.execute(select(User).where(User.totp_secret.is_not(None)))).scalars()
            stored = {(u.email or u.mobile): u.totp_secret for u in rows}
        assert stored and all(v and is_sealed(v) for v in stored.values())
        for login_name, value in stored.items():
            plain = USERS[str(login_name)].totp_secret
            assert plain and plain not in str(value)
            assert services.box.open(str(value)) == plain


async def test_recovery_codes_work_once_instead_of_the_code(seeded: Settings) -> None:
    async with open_services(seeded, passwords=FAST_PASSWORDS) as services:
        admin = await services.accounts.login(
            SUPERVISOR,
            demo.DEMO_PASSWORD,
            current_totp(USERS[SUPERVISOR].totp_secret or ""),
            TODAY,
        )
        created = await services.accounts.create_staff_account(
            admin.actor,
            NewUser(
                login="new.rep@ankang.demo",
                password="good-pass-123",
                display_name="新同事",
                role=USERS[ANKANG_REP].role,
                organisation="安康人寿",
                badge_number="AK-7001",
            ),
            TODAY,
        )
        codes = created.recovery_codes
        assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
        login = "new.rep@ankang.demo"
        used = await services.accounts.login(login, "good-pass-123", codes[0].upper(), TODAY)
        assert used.id == created.user.id
        with pytest.raises(Unauthenticated) as err:
            await services.accounts.login(login, "good-pass-123", codes[0], TODAY)
        assert err.value.code == "otp_invalid"  # spent
        with pytest.raises(Unauthenticated):
            await services.accounts.login(login, "good-pass-123", "aaaaa-bbbbb", TODAY)
        # another's codes are not this account's
        assert (await services.accounts.login(login, "good-pass-123", codes[1], TODAY)).id
        view = await services.my_account.view(created.user.id, TODAY)
        assert view.recovery_codes_left == 8


async def test_an_administrator_resets_a_second_factor(seeded: Settings) -> None:
    async with open_services(seeded, passwords=FAST_PASSWORDS) as services:
        admin = await services.accounts.login(
            SUPERVISOR,
            demo.DEMO_PASSWORD,
            current_totp(USERS[SUPERVISOR].totp_secret or ""),
            TODAY,
        )
        rep = await services.accounts.check_password(ANKANG_REP, demo.DEMO_PASSWORD, TODAY)
        sid = await services.login_sessions.open(rep.id, "Firefox/128 (Linux)", datetime.now(UTC))
        with pytest.raises(Forbidden):
            await services.admin.reset_second_factor(rep.actor, rep.id, datetime.now(UTC))
        enrolment = await services.admin.reset_second_factor(admin.actor, rep.id, datetime.now(UTC))
        assert enrolment.totp_secret != USERS[ANKANG_REP].totp_secret
        # every session of theirs ended
        assert (
            await services.login_sessions.session_user(rep.id, sid, TODAY, datetime.now(UTC))
            is None
        )
        # the old secret no longer works, the new one and the new codes do
        with pytest.raises(Unauthenticated):
            await services.accounts.login(
                ANKANG_REP,
                demo.DEMO_PASSWORD,
                current_totp(USERS[ANKANG_REP].totp_secret or ""),
                TODAY,
            )
        again = await services.accounts.login(
            ANKANG_REP, demo.DEMO_PASSWORD, current_totp(enrolment.totp_secret), TODAY
        )
        assert again.id == rep.id
        assert await services.accounts.login(
            ANKANG_REP, demo.DEMO_PASSWORD, enrolment.recovery_codes[0], TODAY
        )
        log = await services.admin.admin_log(admin.actor)
        assert [(e.action, e.actor_name, e.target_name) for e in log][:1] == [
            ("second_factor_reset", admin.display_name, rep.display_name)
        ]
        async with services.sessionmaker() as s:
            entry = (await s.execute(select(AdminLogEntry))).scalars().first()
            assert entry is not None and enrolment.totp_secret not in str(entry.details)


async def test_the_reset_page(new_client: Callable[[], Any]) -> None:
    admin = await login(new_client, SUPERVISOR)
    app = admin.client.app
    async with app[SESSIONMAKER]() as s:
        rep_id = (await s.execute(select(User.id).where(User.email == ANKANG_REP))).scalar_one()
    text = await (await admin.client.get("/admin/users", headers=EN)).text()
    assert f"/admin/users/{rep_id}/second-factor" in text
    resp = await admin.client.post(
        f"/admin/users/{rep_id}/second-factor",
        data={"csrf_token": admin.token},
        headers=EN,
    )
    assert resp.status == 200, await resp.text()
    text = await resp.text()
    secret = re.search(r'<code class="secret">([A-Z2-7]{16,})</code>', text)
    assert secret and "otpauth://totp/" in text and text.count("<li><code>") == 10
    listing = await (await admin.client.get("/admin/users", headers=EN)).text()
    assert "New second factor set up" in listing and secret.group(1) not in listing
    # only administrators; a consumer's account has none to reset
    rep = await login(new_client, "rep@huaxin.demo")
    resp = await rep.client.post(
        f"/admin/users/{rep_id}/second-factor", data={"csrf_token": rep.token}, headers=EN
    )
    assert resp.status == 403
    async with app[SESSIONMAKER]() as s:
        consumer_id = (
            await s.execute(select(User.id).where(User.role == "consumer").limit(1))
        ).scalar_one()
    resp = await admin.client.post(
        f"/admin/users/{consumer_id}/second-factor",
        data={"csrf_token": admin.token},
        headers=EN,
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "not_staff"
    resp = await admin.client.post(
        "/admin/users/999999/second-factor", data={"csrf_token": admin.token}, headers=EN
    )
    assert resp.status == 404
    # the page says why, in the reader's language
    assert (
        "Only staff accounts have a second factor to reset."
        in await (
            await admin.client.post(
                f"/admin/users/{consumer_id}/second-factor",
                data={"csrf_token": admin.token},
                headers=EN,
            )
        ).text()
    )
    zh = {"Accept-Language": "zh-CN"}
    resp = await admin.client.post(
        f"/admin/users/{consumer_id}/second-factor", data={"csrf_token": admin.token}, headers=zh
    )
    assert "只有工作人员账户才有可重置的第二重验证" in await resp.text()
    resp = await admin.client.post(
        "/admin/users/999999/second-factor", data={"csrf_token": admin.token}, headers=zh
    )
    assert resp.status == 404 and "没有这个用户" in await resp.text()


async def test_the_migration_seals_existing_secrets_and_going_down_opens_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    engine = make_engine(url)
    key = "m" * 40
    try:
        await upgrade(engine, "0012")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO users (email, display_name, password_hash, role, is_admin,"
                    " totp_secret, care_mode, active, version)"
                    " VALUES ('old@staff.example', 'Old', 'x', 'mediator', 0,"
                    " 'JBSWY3DPEHPK3PXP', 0, 1, 1)"
                )
            )
        await upgrade(engine, "0013", secret_key=key)
        async with engine.connect() as conn:
            value = (await conn.execute(sa.text("SELECT totp_secret FROM users"))).scalar_one()
        assert is_sealed(value) and SecretBox(key).open(value) == "JBSWY3DPEHPK3PXP"
        await downgrade(engine, "0012", secret_key=key)
        async with engine.connect() as conn:
            value = (await conn.execute(sa.text("SELECT totp_secret FROM users"))).scalar_one()
        assert value == "JBSWY3DPEHPK3PXP"
    finally:
        await engine.dispose()
