"""The account page (``/account``) of everyone logged in: name and contact, password, language
and care mode, notification preferences, the sessions and "log out everywhere", and the
rights over one's data: a copy ("download my data") and closing the account.

Every form works without JavaScript; each answers with a redirect back to the page and a
notice, or with the page again and the error next to the form's field.

Register with `setup_account_pages(app)` after `web.routes.setup` made the environment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from odr.domain.accounts import Role
from odr.domain.errors import DomainError, RateLimited
from odr.http.auth import end_login, require_user, session_id, today
from odr.http.clients import client_address
from odr.http.keys import LIMITER, LOGIN_SESSIONS, MY_ACCOUNT, SETTINGS
from odr.services import notifications
from odr.services.accounts import UserInfo
from web import i18n
from web.form_errors import form_again
from web.i18n import N_
from web.rendering import render, use_language

NOTICE = "account_notice"
#: Copies of one's data per account and hour (each is a ZIP of every case).
EXPORTS_PER_HOUR = 5

NOTICES: dict[str, str] = {
    "renamed": N_("Your name is saved."),
    "password": N_("Your password is changed. Every other session was logged out."),
    "display": N_("Your language and text size are saved."),
    "notifications": N_("Your notification choices are saved."),
    "sessions": N_("Every other session was logged out."),
    "mobile": N_("Your mobile number is changed."),
    "email": N_("Your e-mail address is changed."),
}
MEDIUM_LABELS: dict[str, str] = {
    "inbox": N_("In the app"),
    "email": N_("E-mail"),
    "sms": N_("SMS"),
}


def setup_account_pages(app: web.Application) -> None:
    """The routes ``account`` and its forms; once per app."""
    if "account" in app.router.named_resources():
        return
    r = app.router
    r.add_get("/account", account_page, name="account")
    r.add_post("/account/name", rename, name="account_name")
    r.add_post("/account/contact", start_contact_change, name="account_contact")
    r.add_post("/account/contact/confirm", confirm_contact_change, name="account_contact_confirm")
    r.add_post("/account/password", change_password, name="account_password")
    r.add_post("/account/display", set_display, name="account_display")
    r.add_post("/account/notifications", set_notifications, name="account_notifications")
    r.add_post("/account/sessions/end-others", end_other_sessions, name="account_end_others")
    r.add_post("/account/export", export, name="account_export")
    r.add_get("/account/close", close_page, name="account_close")
    r.add_post("/account/close", close)


async def _notice(request: web.Request, code: str) -> web.HTTPSeeOther:
    session = await get_session(request)
    session[NOTICE] = code
    return web.HTTPSeeOther(location=str(request.app.router["account"].url_for()))


async def _context(request: web.Request, user: UserInfo) -> dict[str, Any]:
    view = await request.app[MY_ACCOUNT].view(user.id, today(request))
    sessions = await request.app[LOGIN_SESSIONS].running(
        user.id, await session_id(request), datetime.now(UTC)
    )
    staff = user.role is not Role.CONSUMER
    groups = [g for g in notifications.PREFERENCE_GROUPS if staff or not g.staff_only]
    return {
        "account": view,
        "sessions": sessions,
        "groups": groups,
        "media": notifications.MEDIA,
        "medium_labels": MEDIUM_LABELS,
        "staff": staff,
        "retention_years": request.app[SETTINGS].retention_years,
        "values": {},
        "error_form": None,
        "pending": None,  # a new number or address waiting for its code
    }


async def account_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    await use_language(request)
    session = await get_session(request)
    code = session.pop(NOTICE, None)
    context = await _context(request, user)
    context["notice"] = NOTICES.get(code) if isinstance(code, str) else None
    context["error"] = None
    context["error_field"] = None
    return await render(request, "account.html", context)


async def _again(
    request: web.Request, user: UserInfo, form: str, error: DomainError, **values: str
) -> web.Response:
    context = await _context(request, user)
    context.update(values=values, error_form=form, notice=None)
    return await form_again(request, "account.html", error, context)


async def rename(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    name = str(form.get("display_name", ""))
    try:
        await request.app[MY_ACCOUNT].rename(user.id, name)
    except DomainError as error:
        if error.details.get("field") == "name":
            error.details["field"] = "display_name"
        return await _again(request, user, "name", error, display_name=name)
    raise await _notice(request, "renamed")


async def start_contact_change(request: web.Request) -> web.StreamResponse:
    """Send a code to the new number or address; the page then asks for it."""
    user = await require_user(request)
    form = await request.post()
    contact = str(form.get("new_contact", "")).strip()
    try:
        sent = await request.app[MY_ACCOUNT].start_contact_change(
            user.id, contact, str(form.get("contact_password", "")), client_address(request)
        )
    except DomainError as error:
        if error.details.get("field") in ("login", "current_password"):
            error.details["field"] = (
                "new_contact" if error.details["field"] == "login" else "contact_password"
            )
        return await _again(request, user, "contact", error, new_contact=contact)
    await use_language(request)
    context = await _context(request, user)
    context.update(
        pending={"contact": contact, "sent": sent}, notice=None, error=None, error_field=None
    )
    return await render(request, "account.html", context)


async def confirm_contact_change(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    contact = str(form.get("contact", "")).strip()
    try:
        changed = await request.app[MY_ACCOUNT].confirm_contact_change(
            user.id, contact, str(form.get("code", ""))
        )
    except DomainError as error:
        context = await _context(request, user)
        context.update(values={}, error_form="contact_code", notice=None)
        context["pending"] = {"contact": contact, "sent": None}
        return await form_again(request, "account.html", error, context)
    raise await _notice(request, changed)


async def change_password(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    try:
        await request.app[MY_ACCOUNT].change_password(
            user.id,
            str(form.get("current_password", "")),
            str(form.get("new_password", "")),
            await session_id(request),
        )
    except DomainError as error:
        return await _again(request, user, "password", error)
    raise await _notice(request, "password")


async def set_display(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    language = str(form.get("language", ""))
    care = form.get("care_mode") == "on"
    try:
        await request.app[MY_ACCOUNT].set_display(user.id, language, care)
    except DomainError as error:
        return await _again(request, user, "display", error)
    response = await _notice(request, "display")
    response.set_cookie(
        i18n.COOKIE, language, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", path="/"
    )
    raise response


async def set_notifications(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    chosen = {
        g.key: [str(v) for v in form.getall(g.key, [])] for g in notifications.PREFERENCE_GROUPS
    }
    await request.app[MY_ACCOUNT].set_preferences(user.id, chosen)
    raise await _notice(request, "notifications")


async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    await request.app[LOGIN_SESSIONS].end_others(
        user.id, await session_id(request), datetime.now(UTC)
    )
    raise await _notice(request, "sessions")


async def export(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    window = await request.app[LIMITER].hit(f"export:{user.id}", 3600)
    if window.count > EXPORTS_PER_HOUR:
        error = RateLimited(
            "You have downloaded your data several times this hour. Try later.",
            retry_after=window.retry_after,
            code="export_limit",
        )
        return await _again(request, user, "export", error)
    name, data = await request.app[MY_ACCOUNT].export(user.actor, today(request))
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def close_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    await use_language(request)
    return await render(
        request,
        "account_close.html",
        {
            "retention_years": request.app[SETTINGS].retention_years,
            "staff": user.role is not Role.CONSUMER,
            "error": None,
            "error_field": None,
        },
    )


async def close(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    try:
        await request.app[MY_ACCOUNT].close(
            user.actor, str(form.get("password", "")), form.get("confirm") == "yes"
        )
    except DomainError as error:
        return await form_again(
            request,
            "account_close.html",
            error,
            {
                "retention_years": request.app[SETTINGS].retention_years,
                "staff": user.role is not Role.CONSUMER,
            },
        )
    await end_login(request)
    await use_language(request)
    return await render(request, "account_closed.html", {})
