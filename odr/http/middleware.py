"""Middlewares: request id and access log, security headers, CSRF, error mapping."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import get_session

from odr.domain.errors import DomainError, ValidationFailed
from odr.http.auth import CSRF_FIELD, CSRF_HEADER, csrf_ok
from odr.http.errors import HttpError, render_error, render_http_exception
from odr.http.keys import METRICS, SETTINGS
from odr.http.multipart import leading_token
from odr.http.sessions import COOKIE_NAME
from odr.http.unavailable import ServiceUnavailable, is_dependency_failure
from odr.json_input import has_control_character
from odr.logs import request_id
from odr.metrics import UNMATCHED

log = logging.getLogger("odr.http")
access = logging.getLogger("odr.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Served over https (the public URL says so): browsers keep to https for a year.
HSTS = "max-age=31536000; includeSubDomains"

#: Paths authenticated by a request signature rather than a cookie; CSRF does not apply.
CSRF_EXEMPT_PREFIXES: tuple[str, ...] = ("/api/v1/channel/",)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get("X-Request-Id", "")
    rid = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    timed = True
    try:
        response = await handler(request)
        status = response.status
        # a stream or a socket lasts as long as the client stays: counted, not timed
        timed = not isinstance(response, web.WebSocketResponse) and (
            response.content_type != "text/event-stream"
        )
        response.headers["X-Request-Id"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        access.info("%s %s %s %.1fms", request.method, request.path, status, elapsed * 1000)
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.observe_request(
                request.method, route_template(request), status, elapsed if timed else None
            )
        request_id.reset(token)


def route_template(request: web.Request) -> str:
    """The matched route's template (``/api/v1/cases/{case_id}``), never the raw path: a
    metric label per id would grow without bound."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED
    return resource.canonical


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response as it is sent (streamed ones too): an ``on_response_prepare``
    signal handler, not a middleware, which would come too late for a streamed body."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[SETTINGS].public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as error:
        return await render_error(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await render_http_exception(request, exc)
    except Exception as error:
        if is_dependency_failure(error):
            log.warning(
                "a dependency failed on %s %s: %s: %s",
                request.method,
                request.path,
                type(error).__name__,
                error,
            )
            return await render_error(request, ServiceUnavailable())
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await render_http_exception(request, web.HTTPInternalServerError())


#: The longest query string accepted; no page or endpoint needs more than a few filters.
MAX_QUERY_BYTES = 4096


@web.middleware
async def input_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Query strings and form fields are bounded and carry no control characters (NUL and
    the like): refused here for every route, in the error shape, before any handler or
    database sees them. JSON bodies get the same rule from `odr.json_input`."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise HttpError(
            414, "query_too_long", f"The query string may have at most {MAX_QUERY_BYTES} bytes."
        )
    fields: list[tuple[str, object]] = list(request.query.items())
    if request.method in UNSAFE and request.content_type == "application/x-www-form-urlencoded":
        fields.extend((await request.post()).items())
    for name, value in fields:
        if has_control_character(name) or (isinstance(value, str) and has_control_character(value)):
            raise ValidationFailed(
                "Text may not contain control characters (such as NUL).",
                code="invalid_characters",
                details={"field": name if not has_control_character(name) else None},
            )
    return await handler(request)


async def logged_in_session(request: web.Request) -> bool:
    if COOKIE_NAME not in request.cookies:
        return False
    return "uid" in await get_session(request)


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request made with a session cookie must prove it came from our
    pages: the token in the ``X-CSRF-Token`` header, or in the ``csrf_token`` form field (the
    first part of a multipart form). A token in the query string is not accepted: URLs end
    up in address bars, histories, logs and Referer headers."""
    if request.method not in UNSAFE or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return await handler(request)
    if request.path.startswith("/api/") and not await logged_in_session(request):
        # No login to abuse. A cross-site form cannot send JSON, so login CSRF is out too.
        if request.content_type != "application/json":
            raise HttpError(415, "json_required", "Send the request body as JSON.")
        return await handler(request)
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied and request.content_type == "application/x-www-form-urlencoded":
        supplied = str((await request.post()).get(CSRF_FIELD) or "")
    elif not supplied and request.content_type == "multipart/form-data":
        supplied = await leading_token(request)  # never in the URL: the form's first part
    if not await csrf_ok(request, supplied):
        raise HttpError(
            403,
            "csrf_failed",
            "This form has expired or did not come from this site. "
            "Please reload the page and try again.",
        )
    return await handler(request)
