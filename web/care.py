"""Care mode (老年人关爱) and "call me back" (请给我回电).

* The care switch: ``POST /care`` for logged-in users (remembered on the account), ``GET
  /care/{on|off}`` for visitors (a cookie, like the language). `base.html` puts the ``care``
  class on ``<body>`` and the CSS makes text and controls larger and contrast stronger.
* ``/callback``: a consumer asks to be called back, about one of their cases or in general;
  ``/callbacks``: the requests that reached a member of staff, with the whole number.

Register with `setup_care_pages(app)` after `web.routes.setup` made the environment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from odr.domain.authz import Action, authorize
from odr.domain.errors import DomainError
from odr.domain.numbers import parse_int
from odr.http.auth import require_user
from odr.http.keys import CALLBACKS, CARE, CASE_VIEWS
from odr.services import callbacks
from odr.services.accounts import UserInfo
from odr.services.case_views import CaseFilter
from web.form_errors import form_again
from web.i18n import N_, _
from web.rendering import render, use_language, zone_of
from web.views import safe_next

#: A visitor's choice (`base.html` reads it when no one is logged in).
COOKIE = "odr_care"

#: When the consumer would like the call (`odr.services.notifications.CALLBACK_TIMES`).
CALLBACK_TIMES: dict[str, str] = {
    "any": N_("Any time"),
    "morning": N_("Morning, 9:00–12:00"),
    "afternoon": N_("Afternoon, 14:00–17:00"),
    "evening": N_("Evening, 18:00–20:00"),
}


def setup_care_pages(app: web.Application) -> None:
    """The routes ``care_switch``, ``care_visitor``, ``callback`` and ``callbacks``; once per
    app."""
    if "care_switch" in app.router.named_resources():
        return
    r = app.router
    r.add_post("/care", care_switch, name="care_switch")
    r.add_get("/care/{state:on|off}", care_visitor, name="care_visitor")
    r.add_get("/callback", callback_form, name="callback")
    r.add_post("/callback", callback_submit)
    r.add_get("/callbacks", callback_list, name="callbacks")


def _remember(response: web.StreamResponse, on: bool) -> None:
    response.set_cookie(
        COOKIE,
        "on" if on else "off",
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        path="/",
    )


async def care_switch(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    on = form.get("care") == "on"
    await request.app[CARE].set_care_mode(user.id, on)
    response = web.HTTPSeeOther(location=safe_next(str(form.get("next", "")), "/home"))
    _remember(response, on)
    raise response


async def care_visitor(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther(location=safe_next(request.query.get("next"), "/"))
    _remember(response, request.match_info["state"] == "on")
    raise response


# --- call me back -------------------------------------------------------------------------


async def _consumer(request: web.Request) -> UserInfo:
    user = await require_user(request)
    authorize(user.actor, Action.REQUEST_CALLBACK)
    return user


async def _form_context(request: web.Request, user: UserInfo) -> dict[str, Any]:
    cases = (await request.app[CASE_VIEWS].list_cases(user.actor, CaseFilter(limit=50))).items
    mobile = user.login if user.login.isascii() and user.login.isdigit() else None
    return {
        "cases": cases,
        "times": CALLBACK_TIMES,
        "account_phone": callbacks.mask_phone(mobile) if mobile else None,
    }


def _case_choice(raw: str | None, cases: list[dict[str, Any]]) -> str:
    """The case chosen beforehand: the one asked for, else the only one."""
    if parse_int(raw, minimum=1) is not None:
        return str(raw)
    return str(cases[0]["id"]) if len(cases) == 1 else ""


async def callback_form(request: web.Request) -> web.Response:
    user = await _consumer(request)
    await use_language(request)
    context = await _form_context(request, user)
    values = {
        "case_id": _case_choice(request.query.get("case"), context["cases"]),
        "time": "any",
        "phone": "",
        "note": "",
    }
    return await render(
        request, "callback.html", {**context, "values": values, "error": None, "error_field": None}
    )


async def callback_submit(request: web.Request) -> web.Response:
    user = await _consumer(request)
    await use_language(request)
    raw = await request.post()
    values = {name: str(raw.get(name, "")) for name in ("case_id", "time", "phone", "note")}
    case_text = values["case_id"].strip()
    form = callbacks.CallbackForm(
        case_id=parse_int(case_text, minimum=1),
        time=values["time"],
        phone=values["phone"],
        note=values["note"],
    )
    try:
        sent = await request.app[CALLBACKS].request_callback(user.actor, form, datetime.now(UTC))
    except DomainError as error:
        context = await _form_context(request, user)
        return await form_again(request, "callback.html", error, {**context, "values": values})
    return await render(
        request,
        "callback_sent.html",
        {"sent": sent, "time_label": _(CALLBACK_TIMES[form.time]), "case_id": form.case_id},
    )


async def callback_list(request: web.Request) -> web.Response:
    user = await require_user(request)
    authorize(user.actor, Action.VIEW_CALLBACKS)
    await use_language(request)
    rows = await request.app[CALLBACKS].addressed_to(user.id)
    zone = zone_of(request)
    requests = [
        {
            "case_id": n.case_id,
            "number": n.params.get("number") or "",
            "name": n.params.get("name", ""),
            "phone": n.params.get("phone", ""),
            "time": _(CALLBACK_TIMES.get(str(n.params.get("time")), CALLBACK_TIMES["any"])),
            "note": n.params.get("note", ""),
            "at": n.created_at.astimezone(zone),
            "unread": n.read_at is None,
        }
        for n in rows
    ]
    return await render(request, "callbacks.html", {"requests": requests})
