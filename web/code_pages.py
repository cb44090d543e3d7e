"""Pages proved by one-time codes: registering with a code, "忘记密码" (a code, then a new
password), and the activation of an account a partner channel or a regulator referral created
(the same steps: a first password).

Between the two steps the login being confirmed is kept in the visitor's session (never the
password: the registration's details wait, hashed, with the code). The pages say the same
whether or not an account exists.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from odr.domain.errors import DomainError
from odr.domain.one_time_codes import Purpose, destination_of, mask
from odr.http.auth import start_login, today
from odr.http.clients import login_client
from odr.http.keys import ACCOUNT_CODES
from odr.services.codes import CodeSent
from web import i18n
from web.forms import birth_date
from web.i18n import N_, _
from web.rendering import use_language
from web.views import form_page

REGISTERING = "registering"  # the session's login waiting for its registration code
RECOVERING = "recovering"  # the session's login waiting for its reset or activation code
MODE = "recovery_mode"  # "reset" or "activate": the wording of the recovery pages

#: The two wordings of the recovery pages.
RECOVERY_TITLES = {
    "reset": N_("Forgot your password?"),
    "activate": N_("Activate your account"),
}


def _sent_extra(sent: CodeSent | None, login: str, notice: str | None = None) -> dict[str, Any]:
    if sent is not None:
        where = sent.destination
    else:
        try:
            medium, dest = destination_of(login)
            where = mask(medium, dest)
        except DomainError:
            where = ""
    return {"destination": where, "notice": notice}


async def _pending(request: web.Request, key: str) -> str | None:
    value = (await get_session(request)).get(key)
    return value if isinstance(value, str) else None


# --- registration ----------------------------------------------------------------------------


async def register_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("login", "display_name", "birth_date")}
    try:
        sent = await request.app[ACCOUNT_CODES].start_registration(
            login=values["login"],
            password=str(form.get("password", "")),
            display_name=values["display_name"],
            birth_date=birth_date(values["birth_date"]),
            locale=request.cookies.get(i18n.COOKIE),
            today=today(request),
            client=login_client(request).address,
        )
    except DomainError as error:
        return await form_page(request, "register.html", error=error, values=values)
    _, login = destination_of(values["login"])
    (await get_session(request))[REGISTERING] = login
    return await form_page(request, "register_code.html", extra=_sent_extra(sent, login))


async def register_code_form(request: web.Request) -> web.StreamResponse:
    login = await _pending(request, REGISTERING)
    if login is None:
        raise web.HTTPSeeOther(location=str(request.app.router["register"].url_for()))
    return await form_page(request, "register_code.html", extra=_sent_extra(None, login))


async def register_confirm(request: web.Request) -> web.StreamResponse:
    login = await _pending(request, REGISTERING)
    if login is None:
        raise web.HTTPSeeOther(location=str(request.app.router["register"].url_for()))
    form = await request.post()
    try:
        user = await request.app[ACCOUNT_CODES].confirm_registration(
            login=login, code=str(form.get("code", "")), today=today(request)
        )
    except DomainError as error:
        return await form_page(
            request, "register_code.html", error=error, extra=_sent_extra(None, login)
        )
    await start_login(request, user)  # a new session: the pending login goes with the old
    raise web.HTTPSeeOther(location="/home")


async def register_resend(request: web.Request) -> web.StreamResponse:
    login = await _pending(request, REGISTERING)
    if login is None:
        raise web.HTTPSeeOther(location=str(request.app.router["register"].url_for()))
    await use_language(request)
    try:
        sent = await request.app[ACCOUNT_CODES].resend(
            Purpose.REGISTER, login, client=login_client(request).address
        )
    except DomainError as error:
        return await form_page(
            request, "register_code.html", error=error, extra=_sent_extra(None, login)
        )
    return await form_page(
        request,
        "register_code.html",
        extra=_sent_extra(sent, login, _("A new code was sent.")),
    )


# --- password reset and activation -----------------------------------------------------------


def _mode(request: web.Request) -> str:
    return "activate" if request.path.startswith("/activate") else "reset"


def _recovery_extra(mode: str, **more: Any) -> dict[str, Any]:
    return {"mode": mode, "title": RECOVERY_TITLES[mode], **more}


async def recovery_form(request: web.Request) -> web.StreamResponse:
    return await form_page(request, "password_reset.html", extra=_recovery_extra(_mode(request)))


async def recovery_submit(request: web.Request) -> web.StreamResponse:
    mode = _mode(request)
    form = await request.post()
    login = str(form.get("login", ""))
    try:
        sent = await request.app[ACCOUNT_CODES].request_password_code(
            login=login,
            client=login_client(request).address,
            language=request.cookies.get(i18n.COOKIE),
        )
    except DomainError as error:
        return await form_page(
            request,
            "password_reset.html",
            error=error,
            values={"login": login},
            extra=_recovery_extra(mode),
        )
    _, normalised = destination_of(login)
    session = await get_session(request)
    session[RECOVERING] = normalised
    session[MODE] = mode
    return await form_page(
        request,
        "password_reset_code.html",
        extra=_recovery_extra(mode, **_sent_extra(sent, normalised)),
    )


async def _recovering(request: web.Request) -> tuple[str, str]:
    session = await get_session(request)
    login, mode = session.get(RECOVERING), session.get(MODE)
    if not isinstance(login, str):
        raise web.HTTPSeeOther(location=str(request.app.router["password_reset"].url_for()))
    return login, mode if mode in RECOVERY_TITLES else "reset"


async def recovery_code_form(request: web.Request) -> web.StreamResponse:
    login, mode = await _recovering(request)
    return await form_page(
        request, "password_reset_code.html", extra=_recovery_extra(mode, **_sent_extra(None, login))
    )


async def recovery_confirm(request: web.Request) -> web.StreamResponse:
    login, mode = await _recovering(request)
    form = await request.post()
    try:
        user = await request.app[ACCOUNT_CODES].reset_password(
            login=login,
            code=str(form.get("code", "")),
            password=str(form.get("password", "")),
            today=today(request),
        )
    except DomainError as error:
        return await form_page(
            request,
            "password_reset_code.html",
            error=error,
            extra=_recovery_extra(mode, **_sent_extra(None, login)),
        )
    await start_login(request, user)  # every other session of the account was ended
    raise web.HTTPSeeOther(location="/home")


async def recovery_resend(request: web.Request) -> web.StreamResponse:
    login, mode = await _recovering(request)
    await use_language(request)
    try:
        sent = await request.app[ACCOUNT_CODES].resend_password_code(
            login=login, client=login_client(request).address
        )
    except DomainError as error:
        return await form_page(
            request,
            "password_reset_code.html",
            error=error,
            extra=_recovery_extra(mode, **_sent_extra(None, login)),
        )
    return await form_page(
        request,
        "password_reset_code.html",
        extra=_recovery_extra(mode, **_sent_extra(sent, login, _("A new code was sent."))),
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/register/confirm", register_code_form, name="register_confirm")
    router.add_post("/register/confirm", register_confirm)
    router.add_post("/register/resend", register_resend, name="register_resend")
    router.add_get("/password/reset", recovery_form, name="password_reset")
    router.add_post("/password/reset", recovery_submit)
    router.add_get("/activate", recovery_form, name="activate")
    router.add_post("/activate", recovery_submit)
    router.add_get("/password/reset/confirm", recovery_code_form, name="password_reset_confirm")
    router.add_post("/password/reset/confirm", recovery_confirm)
    router.add_post("/password/reset/resend", recovery_resend, name="password_reset_resend")
