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
    rows = await request.app[INBOX].latest(user.id)
    entries = [inbox.entry(n, lang, zone) for n in rows]
    return await render(
        request,
        "inbox.html",
        {"entries": entries, "unread": sum(e.unread for e in entries)},
    )


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
