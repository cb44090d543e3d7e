"""The agreement over HTTP: drafted from the template, signed after re-authentication, voided
by an edit, countersigned by the mediator, entered as a PDF whose text can be read back."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from odr.services import demo
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR
from tests.integration.outcome_setup import draft, hearing_case, next_otp, sign


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_sign_after_reauthentication_edit_voids_mediator_countersigns(
    new_client: Any,
) -> None:
    case_id, people, _app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    url = f"/api/v1/cases/{case_id}/agreement"

    # only the mediator drafts
    resp = await consumer.post(url, {"facts": "x", "terms": "y"})
    assert resp.status == 403
    first = await draft(people, case_id)
    text = first["agreement"]["text"]
    assert text.startswith("调解协议书")
    assert "王芳" in text and "安康人寿" in text and "3,000.00" in text
    assert "保密" in text
    sha = first["agreement"]["sha256"]

    # signing without re-authentication, or with a wrong password, is refused
    resp = await consumer.post(f"{url}/sign", {"sha256": sha})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "reauthentication_required"
    resp = await consumer.post(f"{url}/sign", {"sha256": sha, "password": "wrong-password-1"})
    assert resp.status == 401
    # staff need the second factor as well
    resp = await rep.post(f"{url}/sign", {"sha256": sha, "password": demo.DEMO_PASSWORD})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "otp_required"
    view = await (await consumer.get(url)).json()
    assert view["signatures"] == [] and view["state"] == "agreement_pending"

    resp = await sign(people, CONSUMER, case_id, sha)
    assert resp.status == 200, await resp.text()
    [signature] = (await resp.json())["signatures"]
    assert signature["party"] == "consumer" and signature["method"] == "password"
    assert signature["sha256"] == sha and signature["at"] and signature["name"] == "王芳"

    # an edit voids every signature; the old text can no longer be signed
    second = await draft(people, case_id, terms="保险公司赔付3200元，双方再无争议。", amount="3200")
    new_sha = second["agreement"]["sha256"]
    assert new_sha != sha and second["signatures"] == []
    for who in (CONSUMER, ANKANG_REP):  # refused before any code is spent
        resp = await sign(people, who, case_id, sha)
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "agreement_changed"

    for who in (CONSUMER, ANKANG_REP):
        resp = await sign(people, who, case_id, new_sha)
        assert resp.status == 200, await resp.text()
    resp = await sign(people, CONSUMER, case_id, new_sha)  # once per party
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "already_signed"
    view = await (await rep.get(url)).json()
    assert view["state"] == "agreement_pending"
    assert {s["method"] for s in view["signatures"]} == {"password", "password+totp"}

    # the mediator's countersignature settles the case and enters the PDF as evidence
    resp = await mediator.post(
        f"{url}/sign",
        {"sha256": new_sha, "password": demo.DEMO_PASSWORD, "otp": next_otp(MEDIATOR)},
    )
    assert resp.status == 200, await resp.text()
    final = await resp.json()
    assert final["state"] == "settled" and final["all_signed"] is True
    assert [s["party"] for s in final["signatures"]] == ["consumer", "insurer", "mediator"]
    assert final["evidence_sequence"]

    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    [item] = [i for i in items if i["kind"] == "agreement"]
    assert item["media_type"] == "application/pdf"
    assert new_sha in item["description"]
    content = await consumer.get(f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/content")
    assert content.status == 200
    data = await content.read()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "调解协议书" in text and new_sha in text and "王芳" in text
    assert "3,200.00" in text
    assert "密码 + 动态验证码" in text.replace("\n", "")  # how the staff signed

    # the live PDF is the same document, for anyone on the case
    resp = await rep.get(f"{url}.pdf")
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert new_sha in pdf_text(await resp.read())
    # the chain still verifies, with every signature in it
    chain = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert chain["ok"] is True


async def test_strangers_neither_read_nor_sign(new_client: Any) -> None:
    from tests.integration.helpers import HUAXIN_REP, OTHER_CONSUMER, login

    case_id, people, _app = await hearing_case(new_client)
    view = await draft(people, case_id)
    for name in (OTHER_CONSUMER, HUAXIN_REP):
        stranger = await login(new_client, name)
        assert (await stranger.get(f"/api/v1/cases/{case_id}/agreement")).status == 404
        resp = await stranger.post(
            f"/api/v1/cases/{case_id}/agreement/sign",
            {"sha256": view["agreement"]["sha256"], "password": demo.DEMO_PASSWORD},
        )
        assert resp.status == 404
