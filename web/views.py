"""Page handlers: parse the form, call a service, render or redirect."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from odr.domain.accounts import Role, requires_second_factor
from odr.domain.cases import CaseState
from odr.domain.errors import DomainError, RateLimited
from odr.http.auth import csrf_token, current_user, end_login, require_user, start_login, today
from odr.http.clients import login_client, remember_device
from odr.http.errors import status_of
from odr.http.keys import ACCOUNTS, LOGINS
from odr.services.case_views import CaseFilter
from web import case_lists, i18n
from web.forms import form_field
from web.i18n import N_
from web.messages import message_for, wait_text
from web.rendering import render, use_language, zone_of

PENDING_SECONDS = 300  # time allowed between the password and the second factor


def safe_next(raw: str | None, default: str = "/home") -> str:
    """Only local paths: never redirect a visitor to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default


async def form_page(
    request: web.Request,
    template: str,
    *,
    error: DomainError | None = None,
    values: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    lang = await use_language(request)  # before any message is translated
    context: dict[str, Any] = {
        **(extra or {}),
        "csrf_token": await csrf_token(request),
        "values": values or {},
        "next": safe_next(request.query.get("next")),
        "error": None,
        "error_field": None,
    }
    status = 200
    headers: dict[str, str] = {}
    if error is not None:
        status = status_of(error)
        context["error"] = message_for(error.code, error.message)
        if isinstance(error, RateLimited):
            context["error"] += " " + wait_text(error.retry_after, lang, zone_of(request))
        context["error_field"] = form_field(error.details.get("field"))
        headers["X-Error-Code"] = error.code
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after)
    response = await render(request, template, context, status=status)
    response.headers.update(headers)
    return response


async def index(request: web.Request) -> web.Response:
    return await render(request, "index.html")


async def login_form(request: web.Request) -> web.Response:
    return await form_page(request, "login.html")


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", ""))
    password = str(form.get("password", ""))
    logins = request.app[LOGINS]
    try:
        user = await request.app[ACCOUNTS].check_password(
            login, password, today(request), login_client(request)
        )
    except DomainError as error:
        return await form_page(request, "login.html", error=error, values={"login": login})
    target = safe_next(request.query.get("next"))
    if user.has_second_factor or requires_second_factor(user.role):
        session = await get_session(request)
        session["pending_uid"] = user.id
        session["pending_at"] = int(time.time())
        url = request.app.router["second_factor"].url_for().with_query(next=target)
        raise web.HTTPSeeOther(location=str(url))
    await logins.succeeded(user.login, login_client(request))
    await start_login(request, user)
    done = web.HTTPSeeOther(location=target)
    remember_device(request, done, logins.new_device_token(user.login))
    raise done


async def _pending_user(request: web.Request) -> int | None:
    session = await get_session(request)
    uid, at = session.get("pending_uid"), session.get("pending_at")
    if isinstance(uid, int) and isinstance(at, int) and time.time() - at < PENDING_SECONDS:
        return uid
    return None


async def second_factor_form(request: web.Request) -> web.StreamResponse:
    if await _pending_user(request) is None:
        raise web.HTTPSeeOther(location=str(request.app.router["login"].url_for()))
    return await form_page(request, "second_factor.html")


async def second_factor_submit(request: web.Request) -> web.StreamResponse:
    uid = await _pending_user(request)
    if uid is None:
        raise web.HTTPSeeOther(location=str(request.app.router["login"].url_for()))
    form = await request.post()
    try:
        user = await request.app[ACCOUNTS].check_second_factor(
            uid, str(form.get("otp", "")), today(request), client=login_client(request)
        )
    except DomainError as error:
        return await form_page(request, "second_factor.html", error=error)
    await start_login(request, user)
    done = web.HTTPSeeOther(location=safe_next(request.query.get("next")))
    remember_device(request, done, request.app[LOGINS].new_device_token(user.login))
    raise done


async def register_form(request: web.Request) -> web.Response:
    return await form_page(request, "register.html")


async def logout(request: web.Request) -> web.StreamResponse:
    await end_login(request)
    raise web.HTTPSeeOther(location="/")


async def home(request: web.Request) -> web.Response:
    user = await require_user(request)
    lang = await use_language(request)
    names = case_lists.names(await case_lists.insurers(request, lang))
    rows = await case_lists.load(request, user, _home_filter(user.role), names)
    return await render(
        request,
        "home.html",
        {
            "csrf_token": await csrf_token(request),
            "role": user.role.value,
            "desk": DESKS.get(user.role, STAFF_DESK),
            "rows": rows,
            "more": len(rows) == case_lists.HOME_ROWS,
        },
    )


@dataclass(frozen=True)
class Desk:
    """The texts of a desk's case list: its heading, what it says when empty, the link to all."""

    heading: str
    empty: str
    all_link: str


DESKS = {
    Role.CONSUMER: Desk(N_("My cases"), N_("You have no complaints yet."), N_("All my cases")),
    Role.INSURER_REP: Desk(
        N_("Complaints to answer"),
        N_("No complaint is waiting for an answer."),
        N_("The whole inbox"),
    ),
    Role.MEDIATOR: Desk(
        N_("My mediation queue"), N_("No case is assigned to you."), N_("The whole queue")
    ),
    Role.CENTRE_LEAD: Desk(
        N_("Cases waiting for a mediator"),
        N_("No case is waiting for assignment."),
        N_("The whole queue"),
    ),
}
STAFF_DESK = Desk(
    N_("Escalations and warnings"), N_("Nothing needs your attention."), N_("All cases")
)


def _home_filter(role: Role) -> CaseFilter:
    """What each desk shows first: an insurer's complaints to answer, a centre's cases
    waiting for a mediator, a supervisor's escalations, everyone else's own cases."""
    state = {
        Role.INSURER_REP: CaseState.AWAITING_INSURER,
        Role.CENTRE_LEAD: CaseState.MEDIATION_REQUESTED,
        Role.SUPERVISOR: CaseState.ESCALATED,
    }.get(role)
    return CaseFilter(state=state.value if state else None, limit=case_lists.HOME_ROWS)


async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in i18n.LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(location=safe_next(request.query.get("next"), "/"))
    response.set_cookie(
        i18n.COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", path="/"
    )
    raise response


async def logged_in(request: web.Request) -> bool:
    return await current_user(request) is not None
