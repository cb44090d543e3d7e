"""The inbox of notifications (everyone logged in) and the supervisors' early warnings."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from odr.http.auth import require_user
from odr.http.keys import INBOX, WARNINGS
from web import case_lists, inbox
from web.rendering import render, use_language, zone_of


async def inbox_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    lang = await use_language(request)
    zone = zone_of(request)
    page = await request.app[INBOX].page(user.id, cursor=request.query.get("cursor") or None)
    entries = [inbox.entry(n, lang, zone) for n in page.items]
    return await render(
        request,
        "inbox.html",
        {
            "entries": entries,
            "unread": await request.app[INBOX].unread_count(user.id),
            "prev_url": _page_url(request, page.previous),
            "next_url": _page_url(request, page.next),
        },
    )


def _page_url(request: web.Request, cursor: str | None) -> str | None:
    return None if cursor is None else str(request.rel_url.update_query(cursor=cursor))


async def inbox_read(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    await request.app[INBOX].mark_all_read(user.id, datetime.now(UTC))
    raise web.HTTPSeeOther(location=str(request.app.router["inbox"].url_for()))


async def warnings_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    lang = await use_language(request)
    # supervisors only: others get the 403 page
    items = await request.app[WARNINGS].list_warnings(user.actor)
    names = case_lists.names(await case_lists.insurers(request, lang))
    for item in items:
        item["insurer_name"] = names.get(item["insurer"]["id"], item["insurer"]["name"])
    return await render(request, "warnings.html", {"warnings": items})
