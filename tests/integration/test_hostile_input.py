"""Hostile input at the edge: deep JSON, control characters and long query strings get a
clear 4xx in the error shape on every route, on both databases, and nothing is written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from odr.api.routes import ENDPOINTS
from odr.http.keys import SESSIONMAKER
from odr.storage.models import CaseRow, Notification
from tests.integration.helpers import (
    CONSUMER,
    SUPERVISOR,
    complaint,
    insurer_id,
    login,
    signed_headers,
)

DEEP = "[" * 100_000


def concrete(path: str) -> str:
    """A route template with every ``{name}`` filled by 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


async def counts(server: Any) -> tuple[int, int]:
    async with server.app[SESSIONMAKER]() as s:
        cases = await s.scalar(select(func.count()).select_from(CaseRow))
        notes = await s.scalar(select(func.count()).select_from(Notification))
    return int(cases or 0), int(notes or 0)


async def test_deeply_nested_json_is_refused_on_every_json_endpoint(
    server: Any, new_client: Any
) -> None:
    anonymous = await new_client()
    supervisor = await login(new_client, SUPERVISOR)
    with_body = [ep for ep in ENDPOINTS if ep.body is not None]
    assert with_body
    for ep in with_body:
        path = concrete(ep.path)
        headers = {"Content-Type": "application/json", "X-CSRF-Token": supervisor.token}
        for client in (anonymous, supervisor.client):
            resp = await client.request(ep.method, path, data=DEEP, headers=headers)
            assert resp.status < 500, (ep.name, resp.status, await resp.text())
            if resp.status == 400:
                assert (await resp.json())["error"]["code"] == "invalid_json", ep.name
    for path in ("/api/v1/auth/login", "/api/v1/auth/register"):
        resp = await anonymous.post(path, data=DEEP, headers={"Content-Type": "application/json"})
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["code"] == "invalid_json" and "nest" in body["error"]["message"]


async def test_a_partner_channel_gets_the_same_json_rules(server: Any, new_client: Any) -> None:
    client = await new_client()
    path = "/api/v1/channel/complaints"
    for body, status, code in (
        (DEEP.encode(), 400, "invalid_json"),
        (b'{"description": "a\\u0000b"}', 422, "invalid_characters"),
        (b"{", 400, "invalid_json"),
    ):
        resp = await client.post(path, data=body, headers=signed_headers(path, body))
        assert resp.status == status, await resp.text()
        assert (await resp.json())["error"]["code"] == code


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x1b[31m", "\x7f", "\x08"])
async def test_control_characters_in_text_are_refused_and_nothing_is_written(
    server: Any, new_client: Any, bad: str
) -> None:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    before = await counts(server)
    for field in ("description", "desired_outcome"):
        body = complaint(insurer, **{field: complaint(insurer)[field] + bad})
        resp = await consumer.post("/api/v1/cases", body)
        assert resp.status == 422, await resp.text()
        error = (await resp.json())["error"]
        assert error["code"] == "invalid_characters" and error["details"]["field"] == field
    resp = await consumer.post("/api/v1/cases", complaint(insurer, policy_numbers=[f"AK{bad}1"]))
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "policy_numbers.0"
    assert await counts(server) == before
    # tabs, new lines and Chinese punctuation are text
    ok = await consumer.post(
        "/api/v1/cases",
        complaint(insurer, description=complaint(insurer)["description"] + "\n\t（补充）"),
    )
    assert ok.status == 201, await ok.text()


@pytest.mark.parametrize("query", ["state=%00", "category=a%00b", "%00=1", "state=%1b"])
async def test_control_characters_in_query_strings_are_refused(
    server: Any, new_client: Any, query: str
) -> None:
    consumer = await login(new_client, CONSUMER)
    for path in ("/api/v1/cases", "/cases", "/api/v1/insurers"):
        resp = await consumer.get(f"{path}?{query}")
        assert resp.status == 422, (path, resp.status)
        if path.startswith("/api/"):
            assert (await resp.json())["error"]["code"] == "invalid_characters"


async def test_control_characters_in_page_forms_are_refused(server: Any, new_client: Any) -> None:
    anonymous = await new_client()
    resp = await anonymous.post(
        "/login", data={"login": "13800000001\x00", "password": "x", "csrf_token": "x"}
    )
    assert resp.status in (403, 422)  # the CSRF check or the character rule, never a 500


async def test_a_long_query_string_gets_the_error_shape(server: Any, new_client: Any) -> None:
    anonymous = await new_client()
    resp = await anonymous.get("/api/v1/insurers?q=" + "x" * 6000)
    assert resp.status == 414
    assert (await resp.json())["error"]["code"] == "query_too_long"


@pytest.mark.parametrize("born", ["9999-12-31", "0001-01-01", "1899-12-31"])
async def test_one_birth_date_rule_for_registration_and_intake(
    server: Any, new_client: Any, born: str
) -> None:
    anonymous = await new_client()
    resp = await anonymous.post(
        "/api/v1/auth/register",
        json={
            "login": "born.test@example.com",
            "password": "a-good-pass-1",
            "display_name": "测试",
            "birth_date": born,
        },
    )
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_date" and error["details"]["field"] == "birth_date"
    consumer = await login(new_client, CONSUMER)
    before = await counts(server)
    resp = await consumer.post(
        "/api/v1/cases", complaint(await insurer_id(consumer), birth_date=born)
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["code"] == "invalid_date"
    assert await counts(server) == before
    ok = await consumer.post(
        "/api/v1/cases", complaint(await insurer_id(consumer), birth_date="1900-01-01")
    )
    assert ok.status == 201


@pytest.mark.parametrize("amount", [0.001, 12.345, -1, 1e12])
async def test_amounts_have_whole_fen_and_a_sane_range(
    server: Any, new_client: Any, amount: float
) -> None:
    consumer = await login(new_client, CONSUMER)
    before = await counts(server)
    resp = await consumer.post(
        "/api/v1/cases", complaint(await insurer_id(consumer), amount_yuan=amount)
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["code"] in ("invalid_amount", "invalid_field")
    assert await counts(server) == before
    ok = await consumer.post(
        "/api/v1/cases", complaint(await insurer_id(consumer), amount_yuan=3200.5)
    )
    assert ok.status == 201
