"""Pages over the text of evidence: the viewer (the page image with the text layer beside it,
search hits and flags marked on the image, the original/redacted switch for those allowed, the
uploader's request for more redaction), the case's search page, and the mediator's flags on
the case page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from odr.domain.accounts import Actor
from odr.domain.errors import DomainError, Forbidden, NotFound
from odr.domain.evidence_text import Box, Copy, PageText, occurrences, page_hits
from odr.http.auth import require_user
from odr.http.keys import EVIDENCE, EVIDENCE_TEXT
from odr.http.params import path_id
from web.i18n import N_, _
from web.messages import message_for
from web.rendering import render, use_language

MAX_SEQUENCE = 10**9 - 1

#: The names of the flag rules of odr/data/evidence_flags.toml, by key.
FLAG_NAMES = {
    "guaranteed_returns": N_("Promises guaranteed returns"),
    "like_a_deposit": N_("Compares the policy to a bank deposit"),
    "free_or_refund": N_("Promises a free or full refund"),
    "pressure": N_("Pressure to buy at once"),
    "amount": N_("Amount"),
    "date": N_("Date"),
    "policy_number": N_("Policy number"),
    "cooling_off": N_("Sales material never mentions the cooling-off period"),
}
FLAG_KINDS = {
    "phrase": N_("Wording that may mark mis-selling"),
    "fact": N_("Key facts"),
    "missing": N_("What the sales material leaves out"),
}
SOURCES = {
    "evidence": N_("Evidence"),
    "message": N_("Message"),
    "chat": N_("Hearing chat"),
    "minutes": N_("Hearing minutes"),
}
NUMBER_KINDS = {
    "resident_id": N_("ID card number"),
    "bank_card": N_("Bank card number"),
    "mobile": N_("Mobile number"),
}
STATUS_TEXTS = {
    "pending": N_("The text of this item is being read. Reload the page in a minute."),
    "unavailable": N_("Text unavailable: it could not be read from this item."),
}


def flag_name(key: str) -> str:
    text = FLAG_NAMES.get(key)
    return _(text) if text else key


def _sequence(request: web.Request) -> int:
    return path_id(request, "sequence", maximum=MAX_SEQUENCE)


@dataclass(frozen=True)
class Mark:
    box: Box
    kind: str  # hit | flag


@dataclass(frozen=True)
class PageView:
    page: PageText
    marks: tuple[Mark, ...]
    lines: tuple[tuple[int, list[tuple[str, bool]]], ...]  # (index, [(text, highlighted)])


def _pieces(text: str, query: str) -> list[tuple[str, bool]]:
    if not query:
        return [(text, False)]
    out, at = [], 0
    for start, end in occurrences(text, query):
        out += [(text[at:start], False), (text[start:end], True)]
        at = end
    out.append((text[at:], False))
    return [p for p in out if p[0]]


def _box(raw: str) -> Box | None:
    parts = raw.split(",")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
        return None
    x0, y0, x1, y1 = (int(p) for p in parts)
    return (x0, y0, x1, y1)


async def _gone(
    request: web.Request, actor: Actor, case_id: int, sequence: int, error: NotFound
) -> web.HTTPException:
    """An item withdrawn by its submitter: back to the case's evidence. Anything else the
    reader does not see (another party's material for the mediator, an item that never
    existed, a case they do not stand to) stays a 404."""
    if error.code == "evidence_not_found" and await request.app[EVIDENCE_TEXT].was_withdrawn(
        actor, case_id, sequence
    ):
        url = request.app.router["case"].url_for(case_id=str(case_id))
        return web.HTTPSeeOther(location=f"{url}#evidence")
    raise error


async def viewer(request: web.Request) -> web.Response:
    user = await require_user(request)
    case_id, sequence = path_id(request, "case_id"), _sequence(request)
    try:
        item = await request.app[EVIDENCE].item(user.actor, case_id, sequence)
        view = await request.app[EVIDENCE_TEXT].text(user.actor, case_id, sequence)
    except NotFound as error:
        raise await _gone(request, user.actor, case_id, sequence, error) from None
    await use_language(request)
    asked = request.query.get("copy")
    copy = Copy(asked) if view.may_switch and asked in ("original", "redacted") else view.copy
    query = " ".join(request.query.get("q", "").split())[:100]
    marked_page = request.query.get("page", "")
    marked = _box(request.query.get("box", ""))
    pages = []
    for page in view.pages:
        marks = [Mark(h.box, "hit") for h in page_hits(page, query)] if query else []
        if marked and marked_page == str(page.number):
            marks.append(Mark(marked, "flag"))
        lines = tuple((i, _pieces(line.text, query)) for i, line in enumerate(page.lines))
        pages.append(PageView(page, tuple(marks), lines))
    content = request.app.router["api.evidence.content"].url_for(
        case_id=str(case_id), sequence=str(sequence)
    )
    image = None
    if item.media_type.startswith("image/") and view.status == "done":
        image = str(content.with_query(inline="1", copy=copy.value))
    return await render(
        request,
        "evidence_viewer.html",
        {
            "case_id": case_id,
            "item": item,
            "view": view,
            "copy": copy.value,
            "pages": pages,
            "image_url": image,
            "download_url": str(content.with_query(copy=copy.value)),
            "pdf_url": str(content.with_query(inline="1", copy=copy.value))
            if item.media_type.startswith("application/pdf")
            else None,
            "query": query,
            "status_text": _(STATUS_TEXTS[view.status]) if view.status in STATUS_TEXTS else "",
            "number_kinds": NUMBER_KINDS,
            "mine": item.submitter_id == user.id,
            "requested": request.query.get("requested") == "1",
            "error": request.get("redaction_error"),
        },
    )


async def redaction_request_submit(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    case_id, sequence = path_id(request, "case_id"), _sequence(request)
    posted = await request.post()
    note = str(posted.get("note", ""))
    try:
        await request.app[EVIDENCE_TEXT].request_redaction(user.actor, case_id, sequence, note)
    except NotFound as error:
        raise await _gone(request, user.actor, case_id, sequence, error) from None
    except DomainError as error:
        request["redaction_error"] = message_for(error.code, error.message)
        return await viewer(request)
    url = request.app.router["case_evidence_item"].url_for(
        case_id=str(case_id), sequence=str(sequence)
    )
    raise web.HTTPSeeOther(location=str(url.with_query(requested="1")))


async def search_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    case_id = path_id(request, "case_id")
    raw = request.query.get("q", "")
    result, error = None, None
    try:
        result = await request.app[EVIDENCE_TEXT].search(user.actor, case_id, raw)
    except NotFound:
        raise
    except DomainError as failed:
        if failed.code not in ("search_empty", "search_too_long"):
            raise
        error = failed
    await use_language(request)
    viewer_route = request.app.router["case_evidence_item"]
    hits = []
    for hit in result.hits if result else ():
        link = None
        if hit.source == "evidence" and hit.sequence is not None:
            url = viewer_route.url_for(case_id=str(case_id), sequence=str(hit.sequence))
            link = str(url.with_query(q=result.query if result else "", page=str(hit.page)))
        elif hit.source in ("chat", "minutes") and hit.hearing_id is not None:
            link = str(request.app.router["hearing"].url_for(hearing_id=str(hit.hearing_id)))
        elif hit.source == "message":
            case_url = request.app.router["case"].url_for(case_id=str(case_id))
            link = f"{case_url}#timeline-heading"
        hits.append(
            {
                "source": _(SOURCES[hit.source]),
                "pieces": _pieces(hit.excerpt, result.query if result else ""),
                "page": hit.page,
                "sequence": hit.sequence,
                "link": link,
            }
        )
    return await render(
        request,
        "case_search.html",
        {
            "case_id": case_id,
            "query": " ".join(raw.split())[:100],
            "result": result,
            "hits": hits,
            "error": message_for(error.code, error.message) if error else None,
        },
    )


async def flags_for(request: web.Request, actor: Actor, case_id: int) -> dict[str, Any]:
    """The case page's flags section, for those who may see it (else nothing)."""
    try:  # the service decides who may see flags; a refusal means no section
        flags, more = await request.app[EVIDENCE_TEXT].flags(actor, case_id)
    except (Forbidden, NotFound):
        return {"evidence_flags": None}
    route = request.app.router["case_evidence_item"]
    shown = []
    for f in flags:
        url = route.url_for(case_id=str(case_id), sequence=str(f.sequence))
        query = {}
        if f.page is not None and f.box is not None:
            query = {"page": str(f.page), "box": ",".join(str(v) for v in f.box)}
        shown.append(
            {
                "kind": f.kind.value,
                "name": flag_name(f.key),
                "excerpt": f.excerpt,
                "sequence": f.sequence,
                "page": f.page,
                "link": str(url.with_query(query)) + (f"#page-{f.page}" if f.page else ""),
            }
        )
    groups = [
        (_(FLAG_KINDS[kind]), [f for f in shown if f["kind"] == kind])
        for kind in ("phrase", "missing", "fact")
    ]
    return {"evidence_flags": [g for g in groups if g[1]], "evidence_flags_more": more}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(r"/cases/{case_id:\d+}/search", search_page, name="case_search")
    router.add_get(
        r"/cases/{case_id:\d+}/evidence/{sequence:\d+}", viewer, name="case_evidence_item"
    )
    router.add_post(
        r"/cases/{case_id:\d+}/evidence/{sequence:\d+}/redaction-request",
        redaction_request_submit,
        name="case_redaction_request",
    )
