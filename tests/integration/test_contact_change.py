"""Changing the mobile number or e-mail address on the account page: the current password,
then a one-time code sent to the new one; a number already in use by another account gets
the same answer and no message, and its code is never right."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from odr.http.keys import SERVICES, SESSIONMAKER
from odr.services import demo
from odr.services.sms import DevelopmentSender
from odr.storage.models import User
from tests.integration.helpers import CONSUMER, OTHER_CONSUMER, Session, login

EN = {"Accept-Language": "en"}
CODE = re.compile(r"\b(\d{6})\b")
NEW_NUMBER = "13900000077"


async def form(session: Session, path: str, **fields: str) -> Any:
    return await session.client.post(
        path, data={"csrf_token": session.token, **fields}, headers=EN, allow_redirects=False
    )


async def code_sent_to(session: Session, destination: str) -> str | None:
    services = session.client.app[SERVICES]
    await services.codes.drain()
    for sender in services.senders.values():
        assert isinstance(sender, DevelopmentSender)
        message = sender.last_to(destination)
        if message is not None:
            match = CODE.search(message.body)
            assert match, message.body
            return match.group(1)
    return None


async def test_a_new_mobile_number_after_its_code(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, CONSUMER)
    resp = await form(
        me, "/account/contact", new_contact=NEW_NUMBER, contact_password="wrong-pass-1"
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "wrong_password"
    resp = await form(me, "/account/contact", new_contact="12", contact_password="x")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_login"
    resp = await form(
        me, "/account/contact", new_contact=CONSUMER, contact_password=demo.DEMO_PASSWORD
    )
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "contact_unchanged"
    resp = await form(
        me, "/account/contact", new_contact=NEW_NUMBER, contact_password=demo.DEMO_PASSWORD
    )
    assert resp.status == 200
    text = await resp.text()
    assert "139****0077" in text and 'name="code"' in text
    code = await code_sent_to(me, NEW_NUMBER)
    assert code is not None
    wrong = "000000" if code != "000000" else "111111"
    resp = await form(me, "/account/contact/confirm", contact=NEW_NUMBER, code=wrong)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "code_invalid"
    resp = await form(me, "/account/contact/confirm", contact=NEW_NUMBER, code=code)
    assert resp.status == 303
    assert (
        "Your mobile number is changed."
        in await (await me.client.get("/account", headers=EN)).text()
    )
    fresh = await new_client()
    resp = await fresh.post(
        "/api/v1/auth/login", json={"login": NEW_NUMBER, "password": demo.DEMO_PASSWORD}
    )
    assert resp.status == 200
    resp = await (await new_client()).post(
        "/api/v1/auth/login", json={"login": CONSUMER, "password": demo.DEMO_PASSWORD}
    )
    assert resp.status == 401
    # the code is spent
    resp = await form(me, "/account/contact/confirm", contact=NEW_NUMBER, code=code)
    assert resp.status == 422


async def test_a_number_in_use_is_not_revealed_and_cannot_be_taken(
    new_client: Callable[[], Any],
) -> None:
    me = await login(new_client, CONSUMER)
    resp = await form(
        me, "/account/contact", new_contact=OTHER_CONSUMER, contact_password=demo.DEMO_PASSWORD
    )
    assert resp.status == 200 and "138****0002" in await resp.text()  # the same answer
    assert await code_sent_to(me, OTHER_CONSUMER) is None  # but nothing was sent
    resp = await form(me, "/account/contact/confirm", contact=OTHER_CONSUMER, code="123456")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "code_invalid"
    async with me.client.app[SESSIONMAKER]() as s:
        owners = (await s.execute(select(User.id).where(User.mobile == OTHER_CONSUMER))).scalars()
        assert len(list(owners)) == 1


async def test_an_e_mail_address_is_added_after_its_code(new_client: Callable[[], Any]) -> None:
    me = await login(new_client, OTHER_CONSUMER)
    resp = await form(
        me,
        "/account/contact",
        new_contact="Me@Example.com",
        contact_password=demo.DEMO_PASSWORD,
    )
    assert resp.status == 200
    code = await code_sent_to(me, "me@example.com")
    assert code is not None
    resp = await form(me, "/account/contact/confirm", contact="Me@Example.com", code=code)
    assert resp.status == 303
    text = await (await me.client.get("/account", headers=EN)).text()
    assert "me@example.com" in text and "Your e-mail address is changed." in text
