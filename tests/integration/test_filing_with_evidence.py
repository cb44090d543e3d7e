"""Files attached to the complaint form: sniffed and limited as any evidence upload, entered as
the new case's first evidence in the change that files it (so hashed in its chain), or, when a
file is refused, the form shown again with the error and nothing filed, nothing kept."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import aiohttp

from odr.bundle import verify_bundle
from odr.services.filing import MAX_FILING_FILES
from tests.integration.helpers import CONSUMER, Session, login
from tests.integration.test_case_pages import DESCRIPTION, EN, ZH, complaint_form, page

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 40
EXE = b"MZ\x90\x00" + b"\0" * 200


def form(fields: dict[str, str], files: list[tuple[str, bytes]]) -> aiohttp.FormData:
    """The complaint form as a browser sends it: the token first, the fields, the files last
    (an empty file input sends one part with no name)."""
    data = aiohttp.FormData()
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content in files or [("", b"")]:
        data.add_field("file", content, filename=filename, content_type="application/octet-stream")
    return data


async def send(
    consumer: Session, files: list[tuple[str, bytes]], headers: dict[str, str] = EN, **changes: str
) -> aiohttp.ClientResponse:
    fields = complaint_form(await page(consumer, "/complaints/new"), **changes)
    return await consumer.client.post(
        "/complaints/new", data=form(fields, files), headers=headers, allow_redirects=False
    )


async def case_ids(consumer: Session) -> list[int]:
    items = (await (await consumer.get("/api/v1/cases")).json())["items"]
    return sorted(int(i["id"]) for i in items)


def blobs(storage: Path) -> list[Path]:
    return [p for p in storage.rglob("*") if p.is_file() and "sha256" in p.parts]


async def test_the_form_offers_files_and_streams_them(new_client: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    text = await page(consumer, "/complaints/new", ZH)
    assert 'enctype="multipart/form-data"' in text
    assert re.search(r'<input type="file" id="complaint-files" name="file" multiple', text)
    assert text.index('name="terms_version"') < text.index('id="complaint-files"')  # last
    assert f"最多 {MAX_FILING_FILES} 个文件" in text


async def test_a_complaint_filed_with_two_files(new_client: Any, tmp_path: Path) -> None:
    consumer = await login(new_client, CONSUMER)
    resp = await send(consumer, [("拒赔通知.pdf", PDF), ("病历照片.png", PNG)])
    assert resp.status == 303, await resp.text()
    case_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert [(i["name"], i["kind"], i["media_type"], i["sha256"]) for i in items] == [
        ("拒赔通知.pdf", "document", "application/pdf", hashlib.sha256(PDF).hexdigest()),
        ("病历照片.png", "image", "image/png", hashlib.sha256(PNG).hexdigest()),
    ]
    assert {i["submitted_by"]["role"] for i in items} == {"consumer"}
    # in the chain with the filing: the events of one change, verified end to end
    chain = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert chain["ok"], chain
    timeline = (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[:2] == ["filed", "triaged"] and kinds.count("evidence_added") == 2
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(await (await consumer.get(f"/api/v1/cases/{case_id}/export")).read())
    report = verify_bundle(bundle)
    assert report.ok and report.items == 2, report.problem
    shown = await page(consumer, f"/cases/{case_id}", EN)
    assert "拒赔通知.pdf" in shown and "病历照片.png" in shown
    # the longest description allowed, in Chinese (three bytes a character), with a file
    longest = ("保险公司拖延理赔" * 700)[:5000]
    assert (await send(consumer, [("a.pdf", PDF)], description=longest)).status == 303
    # no file chosen: filed as before, with no evidence
    resp = await send(consumer, [], description=DESCRIPTION + " 没有附件。")
    assert resp.status == 303
    other = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert (await (await consumer.get(f"/api/v1/cases/{other}/evidence")).json())["items"] == []


async def test_a_refused_file_files_nothing(new_client: Any, seeded: Any) -> None:
    consumer = await login(new_client, CONSUMER)
    before = await case_ids(consumer)
    # a good file first, then an executable named .pdf: the form again, in Chinese
    resp = await send(consumer, [("保单.pdf", PDF), ("理赔单.pdf", EXE)], ZH)
    assert resp.status == 415 and resp.headers["X-Error-Code"] == "unsupported_media_type"
    text = await resp.text()
    assert "不接受这种类型的文件" in text and "理赔单.pdf" in text
    assert re.search(r'<input type="file" id="complaint-files"[^>]*aria-invalid="true"', text)
    assert DESCRIPTION in text  # what was written is kept
    assert await case_ids(consumer) == before
    assert blobs(seeded.storage_dir) == []  # the accepted first file is forgotten too
    # an empty file: refused as empty
    resp = await send(consumer, [("空白.pdf", b"")], ZH)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "file_empty"
    assert "文件是空的" in await resp.text()
    # more files than a complaint may bring
    resp = await send(consumer, [(f"{n}.pdf", PDF) for n in range(MAX_FILING_FILES + 1)])
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "too_many_files"
    assert "Too many files for one complaint" in await resp.text()
    # a complaint error is found before any file is stored
    resp = await send(consumer, [("保单.pdf", PDF)], description="")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "description_required"
    assert await case_ids(consumer) == before and blobs(seeded.storage_dir) == []


async def test_an_oversize_file_files_nothing(make_client: Any, seeded: Any) -> None:
    client = await make_client(seeded.with_overrides(max_file_bytes=4096))

    async def same() -> Any:
        return client

    consumer = await login(same, CONSUMER)
    before = await case_ids(consumer)
    resp = await send(consumer, [("小.pdf", PDF), ("大.pdf", PDF + b"0" * 10_000)], ZH)
    assert resp.status == 413 and resp.headers["X-Error-Code"] == "file_too_large"
    text = await resp.text()
    assert "文件太大" in text and "大.pdf" in text
    assert await case_ids(consumer) == before
    assert blobs(seeded.storage_dir) == []
    # within the limit: filed
    assert (await send(consumer, [("小.pdf", PDF)])).status == 303
