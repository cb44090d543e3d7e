"""Evidence endpoints: upload (raw body or multipart, streamed), list, download with ranges,
export bundle."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from pydantic import Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.http.auth import require_actor
from odr.http.keys import DIGESTS, EVIDENCE
from odr.http.multipart import READ_CHUNK, read_upload_form
from odr.http.params import header_int, path_id
from odr.services.evidence import Item

log = logging.getLogger("odr.http")

UPLOAD_FIELDS = ("name", "kind", "visibility", "description")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.ASCII)
MAX_SEQUENCE = 10**9 - 1
MAX_UPLOAD_OFFSET = 10**15 - 1
PREVIEWABLE = ("image/", "application/pdf")


async def upload(request: web.Request) -> web.Response:
    """The file as the raw body (``?name=…&kind=…``) or as the ``file`` part of a
    multipart form (fields ``name``, ``kind``, ``visibility``, ``description`` may come before
    it). Streamed to storage; never held whole."""
    actor = await require_actor(request)
    case_id = path_id(request)
    fields = dict(request.query)
    chunks: AsyncIterator[bytes]
    if request.content_type == "multipart/form-data":
        form = await read_upload_form(request, UPLOAD_FIELDS)
        chunks = form.require_file()
        fields.update({k: v for k, v in form.fields.items() if v})
        fields.setdefault("name", form.name)
    else:
        chunks = request.content.iter_chunked(READ_CHUNK)
    item = await request.app[EVIDENCE].upload(
        actor,
        case_id,
        chunks,
        name=fields.get("name") or "file",
        kind=fields.get("kind") or "document",
        visibility=fields.get("visibility") or "all_parties",
        description=fields.get("description") or "",
    )
    return web.json_response(item.public(), status=201)


async def list_items(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    items = await request.app[EVIDENCE].visible_items(actor, path_id(request))
    return web.json_response({"items": [i.public() for i in items]})


def _sequence(request: web.Request) -> int:
    return path_id(request, "sequence", maximum=MAX_SEQUENCE)


async def download(request: web.Request) -> web.StreamResponse:
    """The bytes, only for who may see the item: attachment by default; ``?inline=1`` shows
    images and PDFs in a sandbox that runs nothing. Honors a single byte range."""
    actor = await require_actor(request)
    service = request.app[EVIDENCE]
    copy = request.query.get("copy")  # original | redacted, for those who may switch
    item = await service.open_item(actor, path_id(request), _sequence(request), copy)
    start, end = _range(request.headers.get("Range"), item.size)
    inline = request.query.get("inline") == "1" and item.media_type.startswith(PREVIEWABLE)
    response = web.StreamResponse(status=206 if (start, end) != (0, item.size) else 200)
    response.content_type = item.media_type.split(";")[0]
    if item.media_type.startswith("text/"):
        response.charset = "utf-8" if "utf-8" in item.media_type else "gb18030"
    response.content_length = end - start
    response.headers["Accept-Ranges"] = "bytes"
    if response.status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{item.size}"
    response.headers["Content-Disposition"] = _disposition(item, inline)
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    )
    response.headers["ETag"] = f'"{item.sha256}"'
    response.headers["X-Evidence-Copy"] = item.copy
    stream = await service.content(item, start, end)
    return await _send(request, response, stream)


async def _send(
    request: web.Request, response: web.StreamResponse, chunks: AsyncIterator[bytes]
) -> web.StreamResponse:
    """Prepare ``response`` and write ``chunks`` to it. A client that goes away mid-way is
    not an error of the server: noted at INFO, and the rest is not read."""
    await response.prepare(request)
    try:
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        log.info("client left during %s %s", request.method, request.path)
    return response


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, READ_CHUNK):
            yield chunk


def _range(header: str | None, size: int) -> tuple[int, int]:
    if not header:
        return 0, size
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return 0, size  # unsupported forms (several ranges) get the whole file
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    else:
        start, end = max(0, size - int(last)), size
    if start >= size or start >= end:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _disposition(item: Item, inline: bool) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = item.name.encode("ascii", "replace").decode().replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item.name)}"


async def export(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    case_id = path_id(request)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle.zip"
        await request.app[EVIDENCE].export(actor, case_id, out)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"',
            },
        )
        response.content_length = out.stat().st_size
        # the whole body is written before the temporary directory goes
        return await _send(request, response, _file_chunks(out))


# --- resumable uploads: create, send chunks at offsets, finish ------------------------------


class UploadRequest(Body):
    name: str = Field(min_length=1, max_length=255)
    kind: str = Field(default="document", max_length=32)
    visibility: str = Field(default="all_parties", max_length=16)
    description: str = Field(default="", max_length=1000)
    size: int = Field(ge=0, le=2**53)  # 0: refused as file_empty by the service


def _upload_url(request: web.Request, upload_id: str) -> str:
    return str(request.app.router["api.uploads.status"].url_for(upload_id=upload_id))


async def begin_upload(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, UploadRequest)
    upload_id = await request.app[EVIDENCE].begin(
        actor,
        path_id(request),
        size=body.size,
        name=body.name,
        kind=body.kind,
        visibility=body.visibility,
        description=body.description,
    )
    url = _upload_url(request, upload_id)
    return web.json_response(
        {"id": upload_id, "offset": 0, "url": url}, status=201, headers={"Location": url}
    )


async def upload_status(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    offset, size = await request.app[EVIDENCE].status(actor, request.match_info["upload_id"])
    return web.json_response(
        {"offset": offset, "size": size},
        headers={"Upload-Offset": str(offset), "Upload-Length": str(size)},
    )


async def append_upload(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    at = header_int(
        request,
        "Upload-Offset",
        code="upload_offset_required",
        message="Send the Upload-Offset header.",
        maximum=MAX_UPLOAD_OFFSET,
    )
    offset = await request.app[EVIDENCE].append(
        actor, request.match_info["upload_id"], at, request.content.iter_chunked(READ_CHUNK)
    )
    return web.Response(status=204, headers={"Upload-Offset": str(offset)})


async def finish_upload(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    item = await request.app[EVIDENCE].finish(actor, request.match_info["upload_id"])
    return web.json_response(item.public(), status=201)


async def abort_upload(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await request.app[EVIDENCE].abort(actor, request.match_info["upload_id"])
    return web.Response(status=204)


class WithdrawRequest(Body):
    reason: str = Field(default="", max_length=1000)


async def withdraw(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, WithdrawRequest)
    await request.app[EVIDENCE].withdraw(actor, path_id(request), _sequence(request), body.reason)
    return web.Response(status=204)


async def digest(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise web.HTTPNotFound() from None
    return web.json_response(await request.app[DIGESTS].get(actor, day))
