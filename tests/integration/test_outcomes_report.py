"""Closing: the closing report (page data and PDF in both languages, entered as evidence),
the referral of a case not settled with its evidence bundle, and the satisfaction rating."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from odr.bundle import verify_bundle
from odr.http.keys import SESSIONMAKER
from odr.services.ratings import satisfaction_summary
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, SUPERVISOR, login
from tests.integration.outcome_setup import hearing_case, settled_case
from tests.integration.test_outcomes_agreement import pdf_text


async def upload(session: Any, case_id: int) -> str:
    """A small PDF the consumer puts in evidence; its SHA-256."""
    from odr.services.pdf import Text, render_pdf

    data = render_pdf("理赔申请书", [Text("住院发票与病历")], lang="zh-CN")
    form = {"file": io.BytesIO(data), "kind": "document"}
    resp = await session.client.post(
        f"/api/v1/cases/{case_id}/evidence", data=form, headers={"X-CSRF-Token": session.token}
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["sha256"])


async def test_not_settled_referred_closed_reported_and_rated(new_client: Any) -> None:
    case_id, people, app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    sha = await upload(consumer, case_id)
    base = f"/api/v1/cases/{case_id}"

    assert (await consumer.post(f"{base}/rating", {"score": 5})).status == 409  # not closed
    assert (await consumer.post(f"{base}/not-settled", {"reason": "分歧过大"})).status == 403
    resp = await mediator.post(f"{base}/not-settled", {"reason": "双方对赔付金额分歧过大"})
    assert resp.status == 200 and (await resp.json())["state"] == "not_settled"

    resp = await consumer.post(f"{base}/close")
    assert resp.status == 403
    resp = await mediator.post(f"{base}/close")
    assert resp.status == 200, await resp.text()
    closed = await resp.json()
    assert closed["state"] == "closed" and closed["report_sequence"]

    # the report is evidence, in the case's language, with the hashes of the evidence
    items = (await (await rep.get(f"{base}/evidence")).json())["items"]
    [report] = [i for i in items if i["kind"] == "report"]
    data = await (await rep.get(f"{base}/evidence/{report['sequence']}/content")).read()
    text = pdf_text(data).replace("\n", "")
    assert "结案报告" in text and "王芳" in text and "安康人寿" in text
    assert sha in text and "调解未成" in text and "双方对赔付金额分歧过大" in text

    report_data = await (await consumer.get(f"{base}/report")).json()
    assert report_data["outcome"]["result"] == "not_settled"
    assert [d["name"] for d in report_data["deadlines"]] == ["answer", "mediation"]
    assert report_data["deadlines"][0]["status"] == "met"
    assert any(i["sha256"] == sha for i in report_data["evidence"])
    resp = await consumer.get(f"{base}/report.pdf?lang=en")
    assert resp.status == 200 and resp.content_type == "application/pdf"
    english = pdf_text(await resp.read()).replace("\n", "")
    assert "Closing report" in english and sha in english and "Deadlines" in english

    # the referral: a letter, the parties and a bundle that verifies offline
    resp = await mediator.get(f"{base}/referral-package?forum=arbitration")
    assert resp.status == 200, await resp.text()
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as z:
        assert set(z.namelist()) == {"referral-letter.pdf", "parties.json", "evidence-bundle.zip"}
        letter = pdf_text(z.read("referral-letter.pdf")).replace("\n", "")
        assert "仲裁机构" in letter and "双方对赔付金额分歧过大" in letter
        bundle = verify_bundle(io.BytesIO(z.read("evidence-bundle.zip")))
        assert bundle.ok and bundle.files >= 2  # the upload and the report

    # satisfaction, once closed: the parties rate, the dashboard counts
    assert (await mediator.post(f"{base}/rating", {"score": 5})).status == 403
    assert (await consumer.post(f"{base}/rating", {"score": 6})).status == 422
    assert (await consumer.post(f"{base}/rating", {"score": 2, "comment": "太慢"})).status == 204
    assert (await consumer.post(f"{base}/rating", {"score": 4, "comment": "还行"})).status == 204
    assert (await rep.post(f"{base}/rating", {"score": 5})).status == 204
    mine = await (await consumer.get(f"{base}/rating")).json()
    assert mine["rating"]["score"] == 4 and mine["rating"]["comment"] == "还行"
    async with app[SESSIONMAKER]() as s:
        summary = await satisfaction_summary(s)
    assert summary["ratings"] == 2 and summary["mean_score"] == 4.5
    assert summary["by_score"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}

    # the report page, printable, for a supervisor too
    supervisor = await login(new_client, SUPERVISOR)
    page = await supervisor.get(f"/cases/{case_id}/report")
    assert page.status == 200
    html = await page.text()
    assert sha in html and "王芳" in html


async def test_a_settled_case_cannot_be_referred(new_client: Any) -> None:
    case_id, people, _app, _ = await settled_case(new_client)
    resp = await people[MEDIATOR].get(f"/api/v1/cases/{case_id}/referral-package")
    assert resp.status == 409


async def test_every_way_of_closing_enters_the_closing_report(new_client: Any) -> None:
    """A supervisor closing a withdrawn complaint through the generic case action gets the
    same closing report in the evidence as the mediator's close."""
    from tests.integration.helpers import complaint, insurer_id

    consumer = await login(new_client, CONSUMER)
    supervisor = await login(new_client, SUPERVISOR)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case_id = (await resp.json())["id"]
    assert (await consumer.post(f"/api/v1/cases/{case_id}/actions/withdraw")).status == 200
    resp = await supervisor.post(f"/api/v1/cases/{case_id}/actions/close")
    assert resp.status == 200, await resp.text()
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    reports = [i for i in items if i["kind"] == "report"]
    assert len(reports) == 1 and reports[0]["media_type"] == "application/pdf"


async def test_a_hearing_cut_into_hundreds_of_segments_fits_the_closing_report(
    new_client: Any,
) -> None:
    """Recording segments are short when a camera changes often; their list may run over pages."""
    from zoneinfo import ZoneInfo

    from odr.services.reports import gather, report_pdf

    case_id, _people, app = await hearing_case(new_client)
    zone = ZoneInfo("Asia/Shanghai")
    async with app[SESSIONMAKER]() as s:
        data = await gather(s, case_id, zone)
    segments = [
        {"name": f"seg-{i:05d}.webm", "sha256": f"{i:064x}", "size": 9000, "seconds": 2}
        for i in range(400)
    ]
    hearing = {
        "state": "ended",
        "scheduled_for": "2026-12-01T02:00:00+00:00",
        "started_at": "2026-12-01T02:01:00+00:00",
        "ended_at": "2026-12-01T02:15:00+00:00",
    }
    data["hearings"] = [
        {**hearing, "id": 1, "duration_minutes": 14, "recordings": segments},
        {**hearing, "id": 2, "duration_minutes": None, "recordings": []},
    ]
    for lang in ("zh-CN", "en"):
        text = pdf_text(report_pdf(data, lang, zone))
        assert "seg-00000.webm" in text and "seg-00399.webm" in text
