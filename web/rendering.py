"""Rendering pages in the visitor's language."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, is_allowed
from odr.http.auth import csrf_token, current_user, treat_as_visitor
from odr.http.keys import INBOX, SETTINGS
from odr.http.unavailable import is_dependency_failure
from web import formatting, i18n, labels, next_steps
from web.i18n import N_
from web.messages import message_for

log = logging.getLogger(__name__)
LANGUAGE = web.RequestKey("web.language", str)


def make_environment(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext_, i18n.ngettext_, newstyle=True
    )
    env.filters.update(
        moment=_moment,
        deadline=_deadline,
        day=_day,
        money=_money,
        countdown_text=_countdown_text,
        filesize=_filesize,
    )
    env.globals.update(labels.TEMPLATE_GLOBALS)
    env.globals.update(next_steps.TEMPLATE_GLOBALS)
    env.globals["urgency_label"] = formatting.urgency_label
    return env


def zone_of(request: web.Request) -> ZoneInfo:
    """The time zone pages show times in (the deadlines' zone)."""
    return ZoneInfo(request.app[SETTINGS].timezone)


# Filters read the page's language and request from the template context.


@jinja2.pass_context
def _moment(context: jinja2.runtime.Context, value: Any) -> str:
    return formatting.format_moment(value, context["lang"], zone_of(context["request"]))


@jinja2.pass_context
def _deadline(context: jinja2.runtime.Context, value: Any) -> str:
    return formatting.format_deadline(value, context["lang"], zone_of(context["request"]))


@jinja2.pass_context
def _day(context: jinja2.runtime.Context, value: Any) -> str:
    return formatting.format_day(value, context["lang"], zone_of(context["request"]))


@jinja2.pass_context
def _money(context: jinja2.runtime.Context, fen: int | None) -> str:
    return formatting.format_money(fen, context["lang"])


@jinja2.pass_context
def _filesize(context: jinja2.runtime.Context, size: int) -> str:
    return formatting.format_size(size, context["lang"])


@jinja2.pass_context
def _countdown_text(context: jinja2.runtime.Context, value: formatting.Countdown) -> str:
    return formatting.format_left(value, context["lang"])


async def use_language(request: web.Request) -> str:
    """Negotiate the request's language once and make it the active catalogue."""
    if LANGUAGE in request:
        lang: str = request[LANGUAGE]
    else:
        user = await current_user(request)
        lang = i18n.negotiate(
            request.cookies.get(i18n.COOKIE),
            user.locale if user else None,
            request.headers.get("Accept-Language", ""),
        )
        request[LANGUAGE] = lang
    i18n.activate(lang)
    return lang


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    lang = await use_language(request)
    user = await current_user(request)
    base: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "user": user,
        "care": bool(user and user.care_mode),
    }
    if user is not None:
        base["csrf_token"] = await csrf_token(request)
        base["inbox_unread"] = await _unread(request, user.id)
        base["may"] = navigation_rights(user.actor)
        base["cases_title"] = CASES_TITLES.get(user.role, ALL_CASES)
        base["home_title"] = HOME_TITLES.get(user.role, STAFF_HOME)
    response = aiohttp_jinja2.render_template(
        template, request, {**base, **(context or {})}, status=status
    )
    response.headers["Content-Language"] = lang
    return response


#: The navigation's links that depend on what the user may do, and the action each needs.
NAVIGATION_ACTIONS = {
    "file_complaint": Action.FILE_COMPLAINT,
    "request_callback": Action.REQUEST_CALLBACK,
    "view_callbacks": Action.VIEW_CALLBACKS,
    "manage_users": Action.MANAGE_USERS,
    "register_referral": Action.REGISTER_REFERRAL,
    "view_dashboard": Action.VIEW_DASHBOARD,
}


#: The title of the user's home page (`/home`) and of its link: a consumer's own page, a staff
#: member's desk.
HOME_TITLES = {Role.CONSUMER: N_("My home page")}
STAFF_HOME = N_("My desk")


#: The title of the case list (and of its link) after the user's desk; staff above see all.
CASES_TITLES = {
    Role.CONSUMER: N_("My cases"),
    Role.INSURER_REP: N_("Complaint queue"),
    Role.MEDIATOR: N_("Queue"),
    Role.CENTRE_LEAD: N_("Queue"),
}
ALL_CASES = N_("All cases")


def navigation_rights(actor: Actor) -> dict[str, bool]:
    """Which of the navigation's links the actor gets (`odr.domain.authz` decides)."""
    return {link: is_allowed(actor, action) for link, action in NAVIGATION_ACTIONS.items()}


async def _unread(request: web.Request, user_id: int) -> int | None:
    """The navigation's unread count; a page still renders (without it) when it cannot be had,
    as the error page must while the database is down."""
    try:
        return await request.app[INBOX].unread_count(user_id)
    except (SQLAlchemyError, OSError):
        log.warning("could not count the unread notifications", exc_info=True)
        return None


async def error_page(request: web.Request, status: int, code: str, message: str) -> web.Response:
    try:
        await use_language(request)
    except Exception as failure:
        if not is_dependency_failure(failure):
            raise
        # who is asking cannot be looked up, since that is what failed: a visitor's page
        treat_as_visitor(request)
        await use_language(request)
    return await render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message_for(code, message)},
        status=status,
    )
