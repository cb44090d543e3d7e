"""The partner API: signatures, timestamps, idempotency, and what a channel may read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import func, select

from odr.http.keys import SESSIONMAKER
from odr.storage.models import CaseRow
from tests.integration.helpers import (
    SUPERVISOR,
    complaint,
    dumps,
    insurer_id,
    login,
    signed_headers,
)

PATH = "/api/v1/channel/complaints"


async def body_for(new_client: Any, **changes: Any) -> tuple[Any, bytes]:
    client = await new_client()
    items = (await (await client.get("/api/v1/insurers")).json())["items"]
    data = complaint(items[0]["id"], **changes)  # the partner confirms the terms were accepted
    data["consumer"] = {"name": "张伟", "mobile": "13700000009"}
    return client, dumps(data)


async def count_cases(client: Any) -> int:
    async with client.app[SESSIONMAKER]() as s:
        return int((await s.execute(select(func.count()).select_from(CaseRow))).scalar_one())


async def test_a_signed_submission_files_a_case(new_client: Any) -> None:
    client, body = await body_for(new_client)
    resp = await client.post(PATH, data=body, headers=signed_headers(PATH, body))
    assert resp.status == 201, await resp.text()
    number = (await resp.json())["number"]
    status_path = f"/api/v1/channel/cases/{number}"
    resp = await client.get(status_path, headers=signed_headers(status_path, b"", "GET"))
    status = await resp.json()
    assert resp.status == 200 and status["state"] == "awaiting_insurer"
    assert set(status) == {"number", "state", "received_at", "due_at", "updated_at"}


async def test_bad_signatures_and_stale_timestamps_are_refused(new_client: Any) -> None:
    client, body = await body_for(new_client)
    attempts = [
        (signed_headers(PATH, body, secret="wrong-secret"), "bad_signature"),
        (signed_headers(PATH, body + b" "), "bad_signature"),
        (signed_headers(PATH, body, at=time.time() - 301), "stale_timestamp"),
        (signed_headers(PATH, body, at=time.time() + 301), "stale_timestamp"),
        (signed_headers(PATH, body, key="no-such-key"), "unknown_api_key"),
        ({"Content-Type": "application/json"}, "signature_required"),
    ]
    for headers, code in attempts:
        resp = await client.post(PATH, data=body, headers=headers)
        assert resp.status == 401, code
        assert (await resp.json())["error"]["code"] == code
    assert await count_cases(client) == 0


async def test_idempotency_key(new_client: Any) -> None:
    client, body = await body_for(new_client)
    headers = {**signed_headers(PATH, body), "Idempotency-Key": "retry-7f3a"}
    first = await client.post(PATH, data=body, headers=headers)
    assert first.status == 201
    again = await client.post(
        PATH, data=body, headers={**signed_headers(PATH, body), "Idempotency-Key": "retry-7f3a"}
    )
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["number"] == (await first.json())["number"]
    assert await count_cases(client) == 1
    _, other = await body_for(
        new_client, description="另一件事：退保手续费被多扣了，至今没有退回。"
    )
    resp = await client.post(
        PATH, data=other, headers={**signed_headers(PATH, other), "Idempotency-Key": "retry-7f3a"}
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "idempotency_key_reused"
    assert await count_cases(client) == 1


async def test_concurrent_retries_make_one_case(new_client: Any) -> None:
    client, body = await body_for(new_client)
    results = await asyncio.gather(
        *(
            client.post(
                PATH,
                data=body,
                headers={**signed_headers(PATH, body), "Idempotency-Key": "burst-1"},
            )
            for _ in range(4)
        )
    )
    assert sorted(r.status for r in results) == [200, 200, 200, 201]
    assert len({(await r.json())["number"] for r in results}) == 1
    assert await count_cases(client) == 1


async def test_a_channel_reads_only_its_own_cases(new_client: Any) -> None:
    consumer = await login(new_client, "13800000001")
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    number = (await resp.json())["number"]
    path = f"/api/v1/channel/cases/{number}"
    resp = await consumer.client.get(path, headers=signed_headers(path, b"", "GET"))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "case_not_found"


async def test_supervisor_registers_a_regulator_referral(new_client: Any) -> None:
    supervisor = await login(new_client, SUPERVISOR)
    data = complaint(
        await insurer_id(supervisor),
        regulator_reference="12378-2026-000451",
        consumer={"name": "赵敏", "mobile": "13600000001"},
    )
    data.pop("terms_version")
    resp = await supervisor.post("/api/v1/referrals", data)
    assert resp.status == 201, await resp.text()
    case = await resp.json()
    detail = await (await supervisor.get(f"/api/v1/cases/{case['id']}")).json()
    assert detail["channel_kind"] == "regulator_referral"
    assert detail["regulator_reference"] == "12378-2026-000451"
    consumer = await login(new_client, "13800000001")
    assert (await consumer.post("/api/v1/referrals", data)).status == 403


async def test_a_refused_complaint_leaves_no_consumer_account(new_client: Any) -> None:
    """Finding or creating the consumer and filing are one transaction: a complaint refused
    for its own content creates no account, through the channel or a referral."""
    from odr.storage.models import User

    async def accounts(client: Any, mobile: str) -> int:
        async with client.app[SESSIONMAKER]() as s:
            stmt = select(func.count()).select_from(User).where(User.mobile == mobile)
            return int((await s.execute(stmt)).scalar_one())

    client, body = await body_for(new_client, category="no_such_category")
    resp = await client.post(PATH, data=body, headers=signed_headers(PATH, body))
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid_category"
    assert await accounts(client, "13700000009") == 0
    supervisor = await login(new_client, SUPERVISOR)
    data = complaint(
        await insurer_id(supervisor),
        regulator_reference="12378-2026-000452",
        consumer={"name": "钱七", "mobile": "13600000002"},
        category="no_such_category",
    )
    data.pop("terms_version")
    resp = await supervisor.post("/api/v1/referrals", data)
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid_category"
    assert await accounts(supervisor.client, "13600000002") == 0
