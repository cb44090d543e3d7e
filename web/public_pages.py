"""Public pages: frequently asked questions, the privacy notice and the staff identity check.

Register with `setup_public_pages(app)` after `web.routes.setup` made the environment.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from odr.http.auth import today
from odr.http.keys import LIMITER, SETTINGS, STAFF_DIRECTORY
from odr.services.staff_directory import MAX_BADGE_LENGTH, normalise_badge
from web.admin_pages import STAFF_ROLES
from web.i18n import _
from web.rendering import render, use_language

#: Checks one client address may make per window.
CHECKS_PER_WINDOW = 10
CHECK_WINDOW = 60  # seconds
#: Every answer of the check takes at least this long, found or not.
CHECK_FLOOR = 0.05  # seconds


def setup_public_pages(app: web.Application) -> None:
    """The routes ``faq``, ``privacy`` and ``staff_check``; once per app."""
    if "faq" in app.router.named_resources():
        return
    app.router.add_get("/faq", faq, name="faq")
    app.router.add_get("/privacy", privacy, name="privacy")
    app.router.add_get("/staff-check", staff_check, name="staff_check")


async def faq(request: web.Request) -> web.Response:
    return await render(request, "faq.html")


async def privacy(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return await render(request, "privacy.html", {"retention_years": settings.retention_years})


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def staff_check(request: web.Request) -> web.Response:
    """``GET /staff-check?badge=AK-1001``: the badge's holder, or "no such staff member";
    without ``badge``, the empty form."""
    lang = await use_language(request)
    raw = request.query.get("badge", "")
    context: dict[str, object] = {"badge": raw[: MAX_BADGE_LENGTH * 2], "checked": False}
    if not raw.strip():
        return await render(request, "staff_check.html", {**context, "result": None})
    window = await request.app[LIMITER].hit(f"staff-check:{client_address(request)}", CHECK_WINDOW)
    if window.count > CHECKS_PER_WINDOW:
        response = await render(
            request,
            "staff_check.html",
            {**context, "result": None, "wait": window.retry_after},
            status=429,
        )
        response.headers["Retry-After"] = str(window.retry_after)
        response.headers["X-Error-Code"] = "rate_limited"
        return response
    started = time.monotonic()
    found = await request.app[STAFF_DIRECTORY].check_badge(raw, today(request))
    # the same shape of answer, and no quicker, when the badge does not exist
    left = CHECK_FLOOR - (time.monotonic() - started)
    if left > 0:
        await asyncio.sleep(left)
    result = None
    if found is not None:
        result = {
            "badge": found.badge_number,
            "name": found.display_name,
            "organisation": (found.organisation_name_en or found.organisation_name)
            if lang == "en"
            else found.organisation_name,
            "role": _(STAFF_ROLES.get(found.role.value, found.role.value)),
            "active": found.active,
        }
    return await render(
        request,
        "staff_check.html",
        {
            **context,
            "checked": True,
            "normalised": normalise_badge(raw),
            "result": result,
        },
    )
