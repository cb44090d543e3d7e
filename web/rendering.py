"""Rendering pages in the visitor's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from odr.http.auth import csrf_token, current_user
from web import i18n
from web.keys import TRANSLATIONS
from web.messages import message_for

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
    return env


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
    i18n.activate(request.app[TRANSLATIONS][lang])
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
    base = {
        "request": request,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "user": user,
        "care": bool(user and user.care_mode),
    }
    if user is not None:
        base["csrf_token"] = await csrf_token(request)
    response = aiohttp_jinja2.render_template(
        template, request, {**base, **(context or {})}, status=status
    )
    response.headers["Content-Language"] = lang
    return response


async def error_page(request: web.Request, status: int, code: str, message: str) -> web.Response:
    await use_language(request)
    return await render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message_for(code, message)},
        status=status,
    )
