"""Evidence on the case page: the list of what the reader may see, the export link, and the
upload form without JavaScript (a multipart POST streamed to storage)."""

from __future__ import annotations

import html
import re
from typing import Any

import aiohttp

from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    SUPERVISOR,
    Session,
    complaint,
    insurer_id,
    login,
)

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 40
EXE = b"MZ\x90\x00" + b"\0" * 200
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


async def new_case(new_client: Any) -> tuple[Session, int]:
    consumer = await login(new_client, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    assert resp.status == 201, await resp.text()
    return consumer, (await resp.json())["id"]


async def put(session: Session, case_id: int, data: bytes, **query: str) -> dict[str, Any]:
    resp = await session.client.post(
        f"/api/v1/cases/{case_id}/evidence",
        data=data,
        params=query,
        headers={"X-CSRF-Token": session.token, "Content-Type": "application/octet-stream"},
    )
    assert resp.status == 201, await resp.text()
    item: dict[str, Any] = await resp.json()
    return item


async def page(session: Session, case_id: int, headers: dict[str, str] = EN) -> str:
    resp = await session.client.get(f"/cases/{case_id}", headers=headers)
    assert resp.status == 200
    return await resp.text()


def form_action(text: str) -> str:
    """The upload form's action: the case's evidence URL (no token in it)."""
    match = re.search(r'<form [^>]*id="evidence-form"[^>]*>', text)
    assert match, "no upload form"
    action = re.search(r'action="([^"]+)"', match.group(0))
    assert action
    return html.unescape(action.group(1))


def form_token(text: str) -> str:
    """The CSRF token of the upload form: its first control, a hidden field."""
    match = re.search(
        r'<form [^>]*id="evidence-form"[^>]*>\s*(?:\{#.*?#\}\s*)?'
        r'<input type="hidden" name="csrf_token" value="([^"]+)">',
        text,
    )
    assert match, "the upload form does not start with its token"
    return match.group(1)


def upload_form(
    data: bytes, filename: str, token: str | None = None, **fields: str
) -> aiohttp.FormData:
    """The form as a browser sends it: the token first, the fields, the file last."""
    form = aiohttp.FormData()
    if token is not None:
        form.add_field("csrf_token", token)
    for name, value in {"kind": "document", "visibility": "all_parties", **fields}.items():
        form.add_field(name, value)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


async def test_the_case_page_lists_items_with_links_and_the_export(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    text = await page(consumer, case_id)
    assert 'id="evidence"' in text and "No evidence yet." in text
    assert f'href="/api/v1/cases/{case_id}/export" download' in text  # the chain alone too
    item = await put(consumer, case_id, PDF, name="保单.pdf", kind="document")
    photo = await put(consumer, case_id, PNG, name="现场.png", kind="image", description="照片")
    text = await page(consumer, case_id)
    content = f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/content"
    assert "保单.pdf" in text and f'href="{content}" download' in text
    assert f'href="{content}?inline=1" target="_blank" rel="noopener"' in text
    assert f"{len(PDF)} B" in text and "· PDF</p>" in text and "Document" in text
    assert "Added by you" in text and "odr verify-bundle" in text
    assert f'href="/api/v1/cases/{case_id}/export" download' in text
    thumb = f"/api/v1/cases/{case_id}/evidence/{photo['sequence']}/content?inline=1"
    assert f'<img class="thumb" src="{thumb}"' in text and "照片" in text
    assert 'src="/static/evidence.js' in text  # a party: the form and its script
    # in Chinese, to the insurer: who added it, in words
    rep = await login(new_client, ANKANG_REP)
    shown = await page(rep, case_id, ZH)
    assert "保单.pdf" in shown and "由消费者添加" in shown and "文件" in shown
    assert 'id="evidence-form"' in shown  # the insurer is a party too
    # a supervisor sees the evidence but may not add to it
    supervisor = await login(new_client, SUPERVISOR)
    shown = await page(supervisor, case_id)
    assert "保单.pdf" in shown and 'id="evidence-form"' not in shown
    assert "evidence.js" not in shown


async def test_the_form_uploads_without_javascript(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    text = await page(consumer, case_id)
    action = form_action(text)
    assert action == f"/cases/{case_id}/evidence"  # no token in any address
    assert "csrf_token=" not in text
    token = form_token(text)
    assert 'enctype="multipart/form-data"' in text
    form = upload_form(PNG, "事故现场.png", token, kind="image", description="事故现场照片")
    resp = await consumer.client.post(action, data=form, headers=EN, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == f"/cases/{case_id}#evidence"
    shown = await page(consumer, case_id)
    assert "Your file 事故现场.png was added to the evidence." in shown
    assert "事故现场照片" in shown and "Photo or image" in shown and "· PNG</p>" in shown
    assert "was added to the evidence" not in await page(consumer, case_id)  # once
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert [(i["name"], i["kind"]) for i in items] == [("事故现场.png", "image")]
    # a PDF, followed to the page
    form = upload_form(PDF, "policy.pdf", token)
    resp = await consumer.client.post(action, data=form, headers=EN)
    assert resp.status == 200 and str(resp.url).endswith(f"/cases/{case_id}")
    assert "policy.pdf" in await resp.text()


async def test_refused_uploads_come_back_with_the_message(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    text = await page(consumer, case_id)
    action, token = form_action(text), form_token(text)
    # an executable named .pdf: sniffed, refused, in Chinese next to the file field
    form = upload_form(EXE, "保单.pdf", token, description="说明文字", visibility="mediator_only")
    resp = await consumer.client.post(action, data=form, headers=ZH)
    assert resp.status == 415 and resp.headers["X-Error-Code"] == "unsupported_media_type"
    text = await resp.text()
    assert "不接受这种类型的文件" in text
    assert re.search(r'<input type="file" id="evidence-file"[^>]*aria-invalid="true"', text)
    assert "说明文字" in text and 'value="mediator_only" checked' in text  # what was chosen
    assert "保单.pdf" not in text
    assert str(resp.url).endswith(action)  # the address bar holds no token
    # no file chosen: the browser sends an empty file part
    form = upload_form(b"", "", token)
    resp = await consumer.client.post(action, data=form, headers=EN)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "file_required"
    assert "Choose a file to upload." in await resp.text()
    # a file of no bytes: refused for being empty, not for its type
    resp = await consumer.client.post(action, data=upload_form(b"", "空.pdf", token), headers=ZH)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "file_empty"
    text = await resp.text()
    said = re.search(r'<p class="field-error" id="form-error" role="alert">([^<]*)</p>', text)
    assert said and "文件是空的" in said.group(1) and "类型" not in said.group(1), said
    assert re.search(r'<input type="file" id="evidence-file"[^>]*aria-invalid="true"', text)
    # a kind the system makes itself
    form = upload_form(PDF, "a.pdf", token, kind="report")
    resp = await consumer.client.post(action, data=form)
    assert resp.status == 422
    assert re.search(r'<select id="evidence-kind"[^>]*aria-invalid="true"', await resp.text())
    # without the token, with it elsewhere than first, or in the query: refused, nothing stored
    for form, query in (
        (upload_form(PDF, "x.pdf"), ""),
        (upload_form(PDF, "x.pdf", kind="document"), f"?csrf_token={token}"),
    ):
        resp = await consumer.client.post(action + query, data=form, headers=EN)
        assert resp.status == 403 and resp.headers["X-Error-Code"] == "csrf_failed"
    late = upload_form(PDF, "x.pdf")
    late.add_field("csrf_token", token)
    resp = await consumer.client.post(action, data=late, headers=EN)
    assert resp.status == 403
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert items == []


async def test_too_large_comes_back_with_the_message(make_client: Any, seeded: Any) -> None:
    client = await make_client(seeded.with_overrides(max_file_bytes=4096))

    async def same() -> Any:
        return client

    consumer = await login(same, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    case_id = (await resp.json())["id"]
    text = await page(consumer, case_id, ZH)
    assert "4 KB" in text  # the limit, in the hint
    big = upload_form(PDF + b"0" * 10_000, "big.pdf", form_token(text))
    resp = await consumer.client.post(form_action(text), data=big, headers=ZH)
    assert resp.status == 413 and resp.headers["X-Error-Code"] == "file_too_large"
    assert "文件太大" in await resp.text()


async def test_mediator_only_items_are_hidden_from_the_other_side(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    await put(consumer, case_id, PNG, name="私下材料.png", kind="image", visibility="mediator_only")
    await put(consumer, case_id, PDF, name="公开.pdf")
    mine = await page(consumer, case_id)
    assert "私下材料.png" in mine and "For the mediator only" in mine
    rep = await login(new_client, ANKANG_REP)
    theirs = await page(rep, case_id)
    assert "公开.pdf" in theirs
    assert "私下材料.png" not in theirs and "For the mediator only" not in theirs


def test_the_form_offers_every_kind_a_party_may_upload() -> None:
    from odr.domain.cases import UPLOADABLE_EVIDENCE, EvidenceKind
    from web import evidence, labels

    assert set(evidence.KINDS) == {str(k) for k in UPLOADABLE_EVIDENCE}
    assert {str(k) for k in EvidenceKind} <= set(labels.EVIDENCE_KINDS)
