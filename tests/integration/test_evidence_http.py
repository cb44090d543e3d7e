"""Evidence through HTTP: sniffed, size-limited, streamed uploads; who sees what; downloads
with ranges; an export bundle that verifies offline."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from odr.bundle import verify_bundle
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    OTHER_CONSUMER,
    complaint,
    insurer_id,
    login,
)

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 40
EXE = b"MZ\x90\x00" + b"\0" * 200


async def new_case(new_client: Any) -> tuple[Any, int]:
    consumer = await login(new_client, CONSUMER)
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    return consumer, (await resp.json())["id"]


async def put(session: Any, case_id: int, data: bytes, **query: str) -> Any:
    return await session.client.post(
        f"/api/v1/cases/{case_id}/evidence",
        data=data,
        params=query,
        headers={"X-CSRF-Token": session.token, "Content-Type": "application/octet-stream"},
    )


def stored_files(settings_dir: Path) -> list[Path]:
    return [p for p in settings_dir.rglob("*") if p.is_file()] if settings_dir.exists() else []


async def test_upload_list_download_and_ranges(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    resp = await put(consumer, case_id, PDF, name="../../etc/保单.pdf", kind="document")
    assert resp.status == 201, await resp.text()
    item = await resp.json()
    assert item["sha256"] == hashlib.sha256(PDF).hexdigest() and item["size"] == len(PDF)
    assert item["media_type"] == "application/pdf" and item["name"] == "保单.pdf"
    listed = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert [i["sequence"] for i in listed] == [item["sequence"]]
    url = f"/api/v1/cases/{case_id}/evidence/{item['sequence']}/content"
    resp = await consumer.get(url)
    assert resp.status == 200 and await resp.read() == PDF
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    resp = await consumer.client.get(url, headers={"Range": "bytes=5-9"})
    assert resp.status == 206 and await resp.read() == PDF[5:10]
    assert resp.headers["Content-Range"] == f"bytes 5-9/{len(PDF)}"
    resp = await consumer.client.get(url, headers={"Range": "bytes=-6"})
    assert await resp.read() == PDF[-6:]
    resp = await consumer.client.get(url, headers={"Range": f"bytes={len(PDF)}-"})
    assert resp.status == 416
    resp = await consumer.get(url + "?inline=1")
    assert resp.headers["Content-Disposition"].startswith("inline;")
    timeline = (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    assert timeline[-1]["kind"] == "evidence_added"
    chain = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert chain["ok"]


async def test_refused_types_and_sizes_store_nothing(new_client: Any, seeded: Any) -> None:
    consumer, case_id = await new_case(new_client)
    before = stored_files(seeded.storage_dir)
    resp = await put(consumer, case_id, EXE, name="保单.pdf")
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "unsupported_media_type"
    html = b"<!doctype html><script>alert(1)</script>"
    assert (await put(consumer, case_id, html, name="note.txt")).status == 415
    assert stored_files(seeded.storage_dir) == before
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert items == []


async def test_an_empty_file_is_refused_as_empty_everywhere(new_client: Any, seeded: Any) -> None:
    consumer, case_id = await new_case(new_client)
    before = stored_files(seeded.storage_dir)
    resp = await put(consumer, case_id, b"", name="空.pdf")  # the raw body
    assert resp.status == 422
    assert (await resp.json())["error"] == {
        "code": "file_empty",
        "message": "The file is empty.",
        "details": {"field": "file"},
    }
    form = aiohttp.FormData()
    form.add_field("file", b"", filename="空.pdf", content_type="application/pdf")
    resp = await consumer.client.post(
        f"/api/v1/cases/{case_id}/evidence", data=form, headers={"X-CSRF-Token": consumer.token}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "file_empty"
    resp = await consumer.post(  # a resumable upload of no bytes
        f"/api/v1/cases/{case_id}/uploads", {"name": "空.pdf", "kind": "document", "size": 0}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "file_empty"
    assert stored_files(seeded.storage_dir) == before
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert items == []


async def test_oversize_is_413_and_nothing_is_kept(make_client: Any, seeded: Any) -> None:
    client = await make_client(seeded.with_overrides(max_file_bytes=4096))
    session = await login(lambda: _same(client), CONSUMER)
    resp = await session.post("/api/v1/cases", complaint(await insurer_id(session)))
    case_id = (await resp.json())["id"]
    big = PDF + b"0" * 10_000
    resp = await put(session, case_id, big, name="big.pdf")
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "file_too_large"
    blobs = [p for p in stored_files(seeded.storage_dir) if "sha256" in p.parts]
    assert blobs == []
    assert (await put(session, case_id, PDF, name="small.pdf")).status == 201


async def _same(client: Any) -> Any:
    return client


async def test_mediator_only_items_and_strangers(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    resp = await put(
        consumer, case_id, PNG, name="私下材料.png", kind="image", visibility="mediator_only"
    )
    hidden = await resp.json()
    await put(consumer, case_id, PDF, name="公开.pdf")
    rep = await login(new_client, ANKANG_REP)
    names = [
        i["name"]
        for i in (await (await rep.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    ]
    assert names == ["公开.pdf"]
    url = f"/api/v1/cases/{case_id}/evidence/{hidden['sequence']}/content"
    assert (await rep.get(url)).status == 404
    assert (await consumer.get(url)).status == 200  # the submitter still sees it
    stranger = await login(new_client, OTHER_CONSUMER)
    assert (await stranger.get(url)).status == 404
    assert (await stranger.get(f"/api/v1/cases/{case_id}/evidence")).status == 404
    assert (await put(stranger, case_id, PDF, name="x.pdf")).status == 404


async def test_multipart_upload(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    form = aiohttp.FormData()
    form.add_field("kind", "image")
    form.add_field("description", "事故现场照片" * 166)  # ~3,000 bytes of UTF-8
    form.add_field("file", PNG, filename="现场.png", content_type="application/pdf")
    resp = await consumer.client.post(
        f"/api/v1/cases/{case_id}/evidence", data=form, headers={"X-CSRF-Token": consumer.token}
    )
    item = await resp.json()
    assert resp.status == 201, item
    assert item["media_type"] == "image/png" and item["name"] == "现场.png"  # not the claim
    assert item["description"] == "事故现场照片" * 166


@pytest.mark.parametrize("who", [CONSUMER, ANKANG_REP])
async def test_export_bundle_verifies_offline(new_client: Any, tmp_path: Path, who: str) -> None:
    consumer, case_id = await new_case(new_client)
    await put(consumer, case_id, PNG, name="私下.png", kind="image", visibility="mediator_only")
    await put(consumer, case_id, PDF, name="保单.pdf")
    session = consumer if who == CONSUMER else await login(new_client, who)
    resp = await session.get(f"/api/v1/cases/{case_id}/export")
    assert resp.status == 200 and resp.content_type == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(await resp.read())
    report = verify_bundle(bundle)
    assert report.ok, report.problem
    assert report.items == (2 if who == CONSUMER else 1)


async def test_an_export_and_a_client_leaving_mid_download_log_no_error(
    new_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    consumer, case_id = await new_case(new_client)
    for n in range(3):  # enough bytes that the export cannot be sent in one go
        await put(consumer, case_id, video_bytes(900 * 1024 + n), name=f"录像{n}.mp4", kind="video")
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    first = f"/api/v1/cases/{case_id}/evidence/{items[0]['sequence']}/content"
    with caplog.at_level(logging.INFO):
        resp = await consumer.get(f"/api/v1/cases/{case_id}/export")
        assert resp.status == 200
        whole = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(whole) > 2 * 1024 * 1024
        for path in (f"/api/v1/cases/{case_id}/export", first):
            resp = await consumer.get(path)
            assert resp.status == 200
            await resp.content.read(1024)
            resp.close()  # the client goes away with most of the body unread
        await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def video_bytes(size: int) -> bytes:
    head = bytes.fromhex("00000018667479706d703432") + b"\0\0\0\0mp42isom"
    body = hashlib.sha256(b"seed").digest() * (size // 32 + 1)
    return (head + body)[:size]


async def test_a_broken_upload_resumes_and_ends_with_the_same_hash(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    data = video_bytes(3 * 1024 * 1024 + 123)
    headers = {"X-CSRF-Token": consumer.token}
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads",
        {"name": "通话录像.mp4", "kind": "video", "size": len(data)},
    )
    assert resp.status == 201, await resp.text()
    url = (await resp.json())["url"]

    async def broken() -> Any:
        step = 64 * 1024
        for start in range(0, 2 * 1024 * 1024 - step, step):  # then the network drops
            yield data[start : start + step]
        raise ConnectionResetError("network dropped")

    with pytest.raises(aiohttp.ClientError):
        await consumer.client.patch(url, data=broken(), headers={**headers, "Upload-Offset": "0"})
    status = await consumer.client.head(url)
    assert status.status == 200 and int(status.headers["Upload-Length"]) == len(data)
    offset = int(status.headers["Upload-Offset"])
    # resume as a client does: from the offset the server states (it may still be writing
    # the broken request's last bytes, so trust its 409 answer over the HEAD)
    for _ in range(50):
        resp = await consumer.client.patch(
            url, data=io.BytesIO(data[offset:]), headers={**headers, "Upload-Offset": str(offset)}
        )
        if resp.status == 204:
            break
        error = (await resp.json())["error"]
        assert resp.status == 409, error
        if error["code"] == "upload_offset_mismatch":
            offset = error["details"]["offset"]
        else:
            await asyncio.sleep(0.05)  # upload_busy: the old request is still finishing
    assert resp.status == 204 and int(resp.headers["Upload-Offset"]) == len(data)
    wrong = await consumer.client.patch(url, data=b"x", headers={**headers, "Upload-Offset": "7"})
    assert wrong.status == 409
    assert (await wrong.json())["error"]["details"]["offset"] == len(data)
    resp = await consumer.client.post(url + "/finish", headers=headers)
    item = await resp.json()
    assert resp.status == 201, item
    assert item["sha256"] == hashlib.sha256(data).hexdigest() and item["media_type"] == "video/mp4"
    stranger = await login(new_client, OTHER_CONSUMER)
    assert (await stranger.get(url)).status == 404


async def test_resumable_limits_and_refusals(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    headers = {"X-CSRF-Token": consumer.token}
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads", {"name": "huge.mp4", "kind": "video", "size": 10**12}
    )
    assert resp.status == 413
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads", {"name": "x.pdf", "kind": "recording", "size": 10}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid_evidence_kind"
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads", {"name": "a.pdf", "kind": "document", "size": len(EXE)}
    )
    url = (await resp.json())["url"]
    resp = await consumer.client.patch(
        url, data=EXE + b"more", headers={**headers, "Upload-Offset": "0"}
    )
    assert resp.status == 413  # more bytes than declared
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads", {"name": "a.pdf", "kind": "document", "size": len(EXE)}
    )
    url = (await resp.json())["url"]
    await consumer.client.patch(url, data=EXE, headers={**headers, "Upload-Offset": "0"})
    resp = await consumer.client.post(url + "/finish", headers=headers)
    assert resp.status == 415
    resp = await consumer.post(
        f"/api/v1/cases/{case_id}/uploads", {"name": "b.pdf", "kind": "document", "size": len(PDF)}
    )
    url = (await resp.json())["url"]
    resp = await consumer.client.post(url + "/finish", headers=headers)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "upload_incomplete"
    assert (await consumer.client.delete(url, headers=headers)).status == 204
    assert (await consumer.client.get(url)).status == 404
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert items == []


async def test_withdraw_retention_and_the_daily_digest(new_client: Any, seeded: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from odr.domain.ledger import daily_digest
    from odr.http.keys import EVIDENCE, SESSIONMAKER
    from odr.services.digests import record_digest
    from tests.integration.helpers import SUPERVISOR

    consumer, case_id = await new_case(new_client)
    first = await (await put(consumer, case_id, PDF, name="a.pdf")).json()
    second = await (await put(consumer, case_id, PNG, name="b.png", kind="image")).json()
    rep = await login(new_client, ANKANG_REP)
    url = f"/api/v1/cases/{case_id}/evidence/{first['sequence']}/withdraw"
    assert (await rep.post(url, {})).status in (403, 404)  # only the submitter
    assert (await consumer.post(url, {"reason": "传错了"})).status == 204
    items = (await (await consumer.get(f"/api/v1/cases/{case_id}/evidence")).json())["items"]
    assert [i["name"] for i in items] == ["b.png"]
    kinds = [
        e["kind"]
        for e in (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    ]
    assert kinds[-1] == "evidence_withdrawn"
    # close the case, then let the retention period pass
    await consumer.post(f"/api/v1/cases/{case_id}/actions/withdraw")
    supervisor = await login(new_client, SUPERVISOR)
    assert (await supervisor.post(f"/api/v1/cases/{case_id}/actions/close")).status == 200
    app = consumer.client.app
    service = app[EVIDENCE]
    assert await service.apply_retention(datetime.now(UTC), 5) == 0  # not yet
    later = datetime.now(UTC) + timedelta(days=5 * 366)
    # the two uploads and the closing report entered at the close: every file of the case
    assert await service.apply_retention(later, 5) == 3
    assert await service.apply_retention(later, 5) == 0  # once
    assert not await service.store.exists(second["sha256"])
    check = await (await consumer.get(f"/api/v1/cases/{case_id}/chain")).json()
    assert check["ok"]
    timeline = (await (await consumer.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
    assert timeline[-1]["kind"] == "evidence_purged"
    export = await consumer.get(f"/api/v1/cases/{case_id}/export")
    assert export.status == 409  # no complete bundle once bytes are gone; the chain verifies
    assert (await export.json())["error"]["code"] == "evidence_purged"
    # the day's digest pins every case's head
    today = datetime.now(UTC).astimezone().date()
    digest = await record_digest(app[SESSIONMAKER], today, seeded.timezone, datetime.now(UTC))
    assert (
        await record_digest(app[SESSIONMAKER], today, seeded.timezone, datetime.now(UTC)) == digest
    )
    got = await (await supervisor.get(f"/api/v1/digests/{today.isoformat()}")).json()
    assert got["digest"] == digest == daily_digest(today, got["heads"])
    assert (await consumer.get(f"/api/v1/digests/{today.isoformat()}")).status == 403


async def test_the_timeline_does_not_leak_caucus_items(new_client: Any) -> None:
    consumer, case_id = await new_case(new_client)
    await put(
        consumer, case_id, PNG, name="秘密材料甲.png", kind="image", visibility="mediator_only"
    )
    await put(consumer, case_id, PDF, name="公开.pdf")
    rep = await login(new_client, ANKANG_REP)
    for session, expected in ((consumer, 2), (rep, 1)):
        items = (await (await session.get(f"/api/v1/cases/{case_id}/timeline")).json())["items"]
        added = [e for e in items if e["kind"] == "evidence_added"]
        assert len(added) == expected
    text = await (await rep.get(f"/api/v1/cases/{case_id}/timeline")).text()
    assert "秘密材料甲" not in text
    page = await (await rep.client.get(f"/cases/{case_id}")).text()
    assert "秘密材料甲" not in page
