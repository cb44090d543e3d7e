"""The account page over HTTP: name, password, language and care mode, notification choices,
sessions and "log out everywhere", a copy of one's data, closing the account, and the access
log of a case (who of the staff opened it)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from odr.http.keys import SESSIONMAKER
from odr.services import demo
from odr.storage.models import AdminLogEntry, LoginSession, Notification, OutboxMessage, User
from tests.builders import user_id
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    OTHER_CONSUMER,
    SUPERVISOR,
    Session,
    callers,
    complaint,
    insurer_id,
    login,
)

EN = {"Accept-Language": "en"}


async def form(session: Session, path: str, **fields: Any) -> Any:
    return await session.client.post(
        path, data={"csrf_token": session.token, **fields}, headers=EN, allow_redirects=False
    )


async def page(session: Session, path: str = "/account") -> str:
    resp = await session.client.get(path, headers=EN)
    assert resp.status == 200, (path, resp.status, await resp.text())
    return await resp.text()


async def test_every_role_has_the_page_linked_from_the_header(
    new_client: Callable[[], Any],
) -> None:
    for who in (CONSUMER, ANKANG_REP, SUPERVISOR):
        person = await login(new_client, who)
        home = await page(person, "/home")
        assert 'href="/account"' in home
        text = await page(person)
        assert "My account" in text and "This session" in text and "Log out everywhere" in text
    visitor = await new_client()
    resp = await visitor.get("/account", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_rename_and_its_errors(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    resp = await form(me, "/account/name", display_name="  李 明  ")
    assert resp.status == 303 and resp.headers["Location"] == "/account"
    text = await page(me)
    assert "Your name is saved." in text and 'value="李 明"' in text
    resp = await form(me, "/account/name", display_name="")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "name_required"
    assert 'aria-invalid="true"' in await resp.text()
    resp = await form(me, "/account/name", display_name="x" * 81)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "name_too_long"
    # without the form's token nothing changes
    resp = await me.client.post("/account/name", data={"display_name": "Mallory"})
    assert resp.status == 403
    assert "Mallory" not in await page(me)


async def test_password_change_needs_the_current_one_and_ends_other_sessions(
    new_client: Callable[[], Any],
) -> None:
    me = await login(new_client, CONSUMER)
    elsewhere = await login(new_client, CONSUMER)
    resp = await form(
        me, "/account/password", current_password="wrong-pass-1", new_password="a-new-pass-2"
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "wrong_password"
    resp = await form(
        me, "/account/password", current_password=demo.DEMO_PASSWORD, new_password="short"
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "password_too_short"
    resp = await form(
        me,
        "/account/password",
        current_password=demo.DEMO_PASSWORD,
        new_password=demo.DEMO_PASSWORD,
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "password_unchanged"
    resp = await form(
        me,
        "/account/password",
        current_password=demo.DEMO_PASSWORD,
        new_password="a-new-pass-2",
    )
    assert resp.status == 303
    assert (await me.client.get("/api/v1/me")).status == 200  # this session goes on
    assert (await elsewhere.client.get("/api/v1/me")).status == 401  # the other one ended
    fresh = await new_client()
    old = await fresh.post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
    )
    assert old.status == 401
    new = await fresh.post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": "a-new-pass-2"}
    )
    assert new.status == 200


async def test_wrong_current_passwords_are_limited(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, OTHER_CONSUMER)
    for _ in range(5):
        resp = await form(
            me, "/account/password", current_password="wrong-pass-1", new_password="x-pass-12345"
        )
        assert resp.status == 422
    resp = await form(
        me,
        "/account/password",
        current_password=demo.DEMO_PASSWORD,
        new_password="x-pass-12345",
    )
    assert resp.status == 429 and resp.headers["X-Error-Code"] == "too_many_attempts"
    assert int(resp.headers["Retry-After"]) > 0


async def test_language_and_care_mode(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    resp = await form(me, "/account/display", language="en", care_mode="on")
    assert resp.status == 303
    text = await (await me.client.get("/account", headers={"Accept-Language": "zh-CN"})).text()
    assert '<html lang="en">' in text and 'class="care"' in text
    resp = await form(me, "/account/display", language="zh-CN")
    text = await (await me.client.get("/account")).text()
    assert '<html lang="zh-CN">' in text and 'class="care"' not in text
    resp = await form(me, "/account/display", language="fr")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_language"


async def test_notification_choices_are_kept_and_legal_notices_stay_in_the_inbox(
    client: Any, new_client: Callable[[], Any]
) -> None:
    me = await login(new_client, CONSUMER)
    # everything off that can be: legal notices keep the inbox, nothing else is left
    resp = await me.client.post(
        "/account/notifications",
        data={"csrf_token": me.token},
        headers=EN,
        allow_redirects=False,
    )
    assert resp.status == 303
    text = await page(me)
    assert 'id="pref-legal-inbox" name="legal" value="inbox" checked disabled' in text
    assert 'id="pref-messages-email" name="messages" value="email" checked' not in text
    async with me.client.app[SESSIONMAKER]() as s:
        user = (await s.execute(select(User).where(User.mobile == CONSUMER))).scalar_one()
    assert user.notification_prefs is not None
    assert user.notification_prefs["legal"]["inbox"] is True
    assert user.notification_prefs["messages"] == {"inbox": False, "email": False, "sms": False}
    # a complaint filed now: the receipt (a legal notice) still reaches the inbox, no SMS
    people = callers({CONSUMER: me})
    await people[CONSUMER].post("/api/v1/cases", complaint(await insurer_id(me)), status=201)
    async with me.client.app[SESSIONMAKER]() as s:
        kinds = (
            await s.execute(select(Notification.kind).where(Notification.user_id == user.id))
        ).scalars()
        assert "case_received" in list(kinds)
    # ticking SMS for messages is kept
    await me.client.post(
        "/account/notifications",
        data=[("csrf_token", me.token), ("messages", "sms"), ("messages", "inbox")],
        headers=EN,
    )
    assert 'id="pref-messages-sms" name="messages" value="sms" checked' in await page(me)


async def test_log_out_everywhere_else(new_client: Callable[[], Any]) -> None:
    phone = await login(new_client, CONSUMER)
    laptop = await login(new_client, CONSUMER)
    text = await page(laptop)
    assert text.count("<time") >= 4  # two sessions, each with two times
    resp = await form(laptop, "/account/sessions/end-others")
    assert resp.status == 303
    assert "Every other session was logged out." in await page(laptop)
    resp = await phone.client.get("/home", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    assert (await phone.client.get("/api/v1/me")).status == 401
    assert (await laptop.client.get("/api/v1/me")).status == 200
    # logging out ends the row too
    async with laptop.client.app[SESSIONMAKER]() as s:
        uid = await user_id(laptop.client.app, CONSUMER)
        running = (
            await s.execute(
                select(LoginSession).where(
                    LoginSession.user_id == uid, LoginSession.ended_at.is_(None)
                )
            )
        ).scalars()
        assert len(list(running)) == 1


async def _file(consumer: Session, description: str) -> dict[str, Any]:
    resp = await consumer.post(
        "/api/v1/cases", complaint(await insurer_id(consumer), description=description)
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_download_my_data_holds_mine_and_nothing_of_anyone_else(
    new_client: Callable[[], Any],
) -> None:
    me = await login(new_client, CONSUMER)
    other = await login(new_client, OTHER_CONSUMER)
    mine = await _file(me, "我的理赔被拖延了四十天，医院的发票都交齐了。")
    theirs = await _file(other, "另一位消费者的车险纠纷，细节不应出现在别人的导出里。")
    rep = await login(new_client, ANKANG_REP)
    resp = await rep.post(f"/api/v1/cases/{mine['id']}/actions/send_message", {"text": "已收到"})
    assert resp.status == 200, await resp.text()
    resp = await form(me, "/account/export")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    assert "attachment" in resp.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    assert set(archive.namelist()) == {"my-data.json", "my-data.html", "README.txt"}
    data = json.loads(archive.read("my-data.json"))
    page_text = archive.read("my-data.html").decode()
    everything = json.dumps(data, ensure_ascii=False) + page_text
    assert data["account"]["mobile"] == CONSUMER
    assert [c["number"] for c in data["cases"]] == [mine["number"]]
    assert "四十天" in everything and mine["number"] in page_text
    assert [m["text"] for m in data["cases"][0]["messages"]] == ["已收到"]
    assert data["cases"][0]["messages"][0]["by"] == "insurer_rep"
    # the readable copy names the people behind the role codes, in the export's language
    codes = ("insurer_rep", ">consumer<", ">you<", ">system<", ">centre_lead<")
    assert "保险公司" in page_text and "您本人" in page_text and "消费者" in page_text
    assert not any(c in page_text for c in codes)
    assert (await form(me, "/account/display", language="en")).status == 303
    resp = await form(me, "/account/export")
    en_text = zipfile.ZipFile(io.BytesIO(await resp.read())).read("my-data.html").decode()
    assert "the insurer" in en_text and ">You<" in en_text
    assert not any(c in en_text for c in codes)
    # nothing of another person: not the other consumer's case, not staff names or logins
    assert theirs["number"] not in everything and "车险纠纷" not in everything
    assert OTHER_CONSUMER not in everything
    for staff in (ANKANG_REP, SUPERVISOR):
        assert staff not in everything
        assert demo_name(staff) not in everything


def demo_name(login_name: str) -> str:
    return next(u.name for u in demo.USERS if u.login == login_name)


async def test_download_my_data_is_limited(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, OTHER_CONSUMER)
    for _ in range(5):
        assert (await form(me, "/account/export")).status == 200
    resp = await form(me, "/account/export")
    assert resp.status == 429 and resp.headers["X-Error-Code"] == "export_limit"
    assert re.search(r"Try again in \d+ minutes?, from \d{1,2}:\d{2}", await resp.text())


async def test_close_my_account(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    case = await _file(me, "这宗投诉仍在处理，所以账户还不能注销。")
    close_page = await page(me, "/account/close")
    assert "cannot be undone" in close_page and "5 years" in close_page
    resp = await form(me, "/account/close", password=demo.DEMO_PASSWORD)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "confirmation_required"
    resp = await form(me, "/account/close", password="wrong-pass-1", confirm="yes")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "wrong_password"
    resp = await form(me, "/account/close", password=demo.DEMO_PASSWORD, confirm="yes")
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "open_cases"
    resp = await me.post(f"/api/v1/cases/{case['id']}/actions/withdraw", {"reason": "不用了"})
    assert resp.status == 200, await resp.text()
    resp = await form(me, "/account/close", password=demo.DEMO_PASSWORD, confirm="yes")
    assert resp.status == 200 and "Account closed" in await resp.text()
    assert (await me.client.get("/api/v1/me")).status == 401
    fresh = await new_client()
    again = await fresh.post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
    )
    assert again.status == 401
    app = me.client.app
    async with app[SESSIONMAKER]() as s:
        row = await s.get(User, int(case["consumer_id"]) if "consumer_id" in case else 0)
        if row is None:
            row = (await s.execute(select(User).where(User.closed_at.is_not(None)))).scalar_one()
        assert row.mobile is None and row.email is None and not row.active
        assert row.birth_date is None and row.display_name == "—"
        notes = (
            await s.execute(select(Notification).where(Notification.user_id == row.id))
        ).scalars()
        assert list(notes) == []
        logged = (
            await s.execute(
                select(AdminLogEntry.action).where(AdminLogEntry.target_user_id == row.id)
            )
        ).scalars()
        assert list(logged) == ["account_closed"]
    # the case is kept (retention), readable by the insurer
    rep = await login(new_client, ANKANG_REP)
    resp = await rep.get(f"/api/v1/cases/{case['id']}")
    assert resp.status == 200
    assert (await resp.json())["description"].startswith("这宗投诉")


async def test_staff_cannot_close_their_own_account(new_client: Callable[[], Any]) -> None:
    rep = await login(new_client, ANKANG_REP)
    resp = await form(rep, "/account/close", password=demo.DEMO_PASSWORD, confirm="yes")
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "staff_account"


async def test_access_log_of_a_case(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    case = await _file(me, "我想知道谁看过我的案件。")
    rep = await login(new_client, ANKANG_REP)
    for _ in range(3):  # opened three times in a row: recorded once
        assert (await rep.client.get(f"/cases/{case['id']}", headers=EN)).status == 200
    assert (await rep.get(f"/api/v1/cases/{case['id']}")).status == 200
    # the consumer: organisation and role, never the name
    text = await page(me, f"/cases/{case['id']}")
    section = text[text.index('id="access-heading"') :]
    assert "Who looked at my case" in section
    assert "安康人寿" in section and demo_name(ANKANG_REP) not in section
    assert section.count("<tr>") == 2  # the header and one opening
    # a supervisor sees the names (and their own opening is logged too)
    supervisor = await login(new_client, SUPERVISOR)
    text = await page(supervisor, f"/cases/{case['id']}")
    section = text[text.index('id="access-heading"') :]
    assert "Access log" in section and demo_name(ANKANG_REP) in section
    # the insurer does not see the log; a stranger learns nothing
    text = await page(rep, f"/cases/{case['id']}")
    assert 'id="access-heading"' not in text
    stranger = await login(new_client, HUAXIN_REP)
    assert (await stranger.client.get(f"/cases/{case['id']}")).status == 404
    text = await page(supervisor, f"/cases/{case['id']}")
    assert re.search(r"ODR 平台运营中心|平台", text)


async def test_reading_evidence_is_logged(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    case = await _file(me, "附上理赔的发票。")
    resp = await me.client.post(
        f"/api/v1/cases/{case['id']}/evidence?name=invoice.txt&kind=document",
        data=b"invoice 3200 yuan\n",
        headers={"X-CSRF-Token": me.token, "Content-Type": "application/octet-stream"},
    )
    assert resp.status == 201, await resp.text()
    sequence = (await resp.json())["sequence"]
    await me.client.get(f"/api/v1/cases/{case['id']}/evidence/{sequence}/content")  # not logged
    rep = await login(new_client, ANKANG_REP)
    resp = await rep.client.get(f"/api/v1/cases/{case['id']}/evidence/{sequence}/content")
    assert resp.status == 200
    text = await page(me, f"/cases/{case['id']}")
    section = text[text.index('id="access-heading"') :]
    assert f"evidence item {sequence}" in section
    assert section.count("<tr>") == 2


async def test_closing_the_account_anonymises_call_back_requests(
    new_client: Callable[[], Any],
) -> None:
    me = await login(new_client, OTHER_CONSUMER)
    other = await login(new_client, CONSUMER)
    for who, phone in ((me, ""), (me, "010-6512 3456"), (other, "")):
        data = {"csrf_token": who.token, "case_id": "", "time": "any", "phone": phone}
        resp = await who.client.post("/callback", data={**data, "note": "下午方便"}, headers=EN)
        assert resp.status == 200, await resp.text()
    async with me.client.app[SESSIONMAKER]() as s:
        name = (
            await s.execute(select(User.display_name).where(User.mobile == "13800000002"))
        ).scalar_one()
    supervisor = await login(new_client, SUPERVISOR)
    listed = await page(supervisor, "/callbacks")
    assert "13800000002" in listed and "010-65123456" in listed and name in listed
    resp = await form(me, "/account/close", password=demo.DEMO_PASSWORD, confirm="yes")
    assert resp.status == 200 and "Account closed" in await resp.text()
    listed = await page(supervisor, "/callbacks")
    assert "13800000002" not in listed and "010-65123456" not in listed
    assert name not in listed and "tel:<" not in listed and 'href="tel:"' not in listed
    assert "13800000001" in listed  # someone else's request is left as it was
    async with me.client.app[SESSIONMAKER]() as s:
        params = (
            await s.execute(
                select(Notification.params).where(Notification.kind == "callback_requested_general")
            )
        ).scalars()
        kept = [p for p in params if p.get("phone") == "13800000001"]
        assert kept and all(p["note"] == "下午方便" for p in kept)
        outbox = (await s.execute(select(OutboxMessage.body))).scalars()
        assert not any("0002" in b and "****" in b for b in outbox)
