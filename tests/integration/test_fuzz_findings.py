"""What the property-based tests found, checked through the API on both databases: each of
these was a 500 with a traceback and is now a 4xx with a code, with nothing written."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.integration.helpers import ANKANG_REP, CONSUMER, complaint, insurer_id, login


async def filed(new_client: Any) -> tuple[Any, int]:
    consumer = await login(new_client, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    assert resp.status == 201, await resp.text()
    return consumer, (await resp.json())["id"]


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, bad[:3]


MALFORMED_FORMS = [
    (b"--abc\r\n", "multipart/form-data"),  # no boundary in the header
    (b"no boundary line here", "multipart/form-data; boundary=abc"),
    (b'--abc\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndocu', None),  # cut short
    (b"--abc\r\nnot a header line\r\n\r\nx\r\n--abc--\r\n", None),
    (b"--abc\r\n", "multipart/form-data; boundary=" + "b" * 80),  # boundary too long
]


async def test_a_malformed_upload_form_is_a_400(
    new_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    consumer, case_id = await filed(new_client)
    for body, content_type in MALFORMED_FORMS:
        resp = await consumer.client.post(
            f"/api/v1/cases/{case_id}/evidence",
            data=body,
            headers={
                "Content-Type": content_type or "multipart/form-data; boundary=abc",
                "X-CSRF-Token": consumer.token,
            },
        )
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["error"]["code"] == "bad_request"
    items = await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json()
    assert items["items"] == []
    no_errors_logged(caplog)


async def test_an_amount_or_id_past_what_the_chain_can_hold_is_refused(
    new_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    consumer, case_id = await filed(new_client)
    rep = await login(new_client, ANKANG_REP)
    answer = f"/api/v1/cases/{case_id}/actions/answer"
    for amount in (10**20, 2**53):
        resp = await rep.post(
            answer, {"kind": "propose", "text": "x", "offered_amount_fen": amount}
        )
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["error"]["code"] == "invalid_amount"
    resp = await rep.post(answer, {"kind": "propose", "text": "赔付", "offered_amount_fen": 100})
    assert resp.status == 200, await resp.text()
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/actions/request_mediation", {"centre_id": 2**70}
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["details"]["field"] == "centre_id"
    chain = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert chain["ok"] is True, chain
    no_errors_logged(caplog)
