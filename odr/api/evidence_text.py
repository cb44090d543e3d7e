"""The text of evidence over the API: an item's text layer (pages, lines, boxes), search
across a case, the mediator's flags, and the uploader's request for more redaction."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from odr.api.parsing import parse_json
from odr.api.schemas import Body
from odr.http.auth import require_actor
from odr.http.keys import EVIDENCE_TEXT
from odr.http.params import path_id

MAX_SEQUENCE = 10**9 - 1


class LineOut(BaseModel):
    text: str
    box: list[int] = Field(description="x0, y0, x1, y1 in the page image's pixels")


class PageOut(BaseModel):
    page: int
    width: int
    height: int
    lines: list[LineOut]


class RedactionOut(BaseModel):
    page: int
    kind: str = Field(description="resident_id, bank_card or mobile")
    box: list[int]


class TextOut(BaseModel):
    sequence: int
    status: str = Field(description="pending, done or unavailable")
    method: str = Field(description="ocr, pdf_text, mixed or none")
    reason: str
    pages_total: int
    copy_: str = Field(alias="copy", description="original or redacted: what you get")
    may_switch: bool = Field(description="you may ask for the other copy (?copy=)")
    redacted: bool
    redactions: list[RedactionOut] = Field(description="what was blacked out (uploader, staff)")
    pages: list[PageOut]


class HitOut(BaseModel):
    source: str = Field(description="evidence, message, chat or minutes")
    excerpt: str
    sequence: int | None
    page: int | None
    box: list[int] | None
    hearing_id: int | None
    at: str | None


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]
    more: bool


class FlagOut(BaseModel):
    key: str
    kind: str = Field(description="phrase, fact or missing")
    sequence: int
    page: int | None
    line: int | None
    box: list[int] | None
    excerpt: str


class FlagsOut(BaseModel):
    flags: list[FlagOut]
    more: bool


class RedactionRequest(Body):
    note: str = Field(min_length=1, max_length=1000, description="what else to black out")


def _sequence(request: web.Request) -> int:
    return path_id(request, "sequence", maximum=MAX_SEQUENCE)


async def text(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    view = await request.app[EVIDENCE_TEXT].text(actor, path_id(request), _sequence(request))
    return web.json_response(view.public())


async def search(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    found = await request.app[EVIDENCE_TEXT].search(
        actor, path_id(request), request.query.get("q", "")
    )
    return web.json_response(found.public())


async def flags(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    found, more = await request.app[EVIDENCE_TEXT].flags(actor, path_id(request))
    return web.json_response(
        {
            "flags": [
                {
                    "key": f.key,
                    "kind": str(f.kind),
                    "sequence": f.sequence,
                    "page": f.page,
                    "line": f.line,
                    "box": list(f.box) if f.box else None,
                    "excerpt": f.excerpt,
                }
                for f in found
            ],
            "more": more,
        }
    )


async def request_redaction(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, RedactionRequest)
    await request.app[EVIDENCE_TEXT].request_redaction(
        actor, path_id(request), _sequence(request), body.note
    )
    return web.Response(status=204)
