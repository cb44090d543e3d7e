"""The one place where errors become HTTP responses.

API requests (under ``/api/``) get ``{"error": {"code", "message"}}``; pages get an HTML page
from the renderer the web package registers (or a plain one), and a login redirect when the
visitor is not logged in.
"""

from __future__ import annotations

import logging

from aiohttp import web

from odr.domain.cursors import BadCursor
from odr.domain.errors import (
    AtCapacity,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from odr.http.keys import PAGE_ERROR_RENDERER
from odr.http.unavailable import ServiceUnavailable
from odr.services.evidence import UnsupportedMediaType
from odr.storage.blobs import RangeNotSatisfiable, TooLarge

log = logging.getLogger("odr.http")

STATUS_BY_KIND: tuple[tuple[type[DomainError], int], ...] = (
    (TooLarge, 413),
    (UnsupportedMediaType, 415),
    (RangeNotSatisfiable, 416),
    (BadCursor, 400),
    (ValidationFailed, 422),
    (NotFound, 404),
    (Forbidden, 403),
    (Unauthenticated, 401),
    (Conflict, 409),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
    (AtCapacity, 503),
)

#: Codes and messages for the HTTP errors aiohttp raises itself (unknown route, ...).
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthenticated", "Please log in."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept this method."),
    413: ("payload_too_large", "The request is too large."),
    415: ("unsupported_media_type", "This type of content is not accepted here."),
    429: ("rate_limited", "Too many requests. Please wait and try again."),
    500: ("internal_error", "Something went wrong on our side. Please try again."),
    503: ("service_unavailable", "The service is briefly unavailable. Please try again."),
}


class HttpError(DomainError):
    """An error that only exists at the HTTP edge (bad JSON, CSRF, size), with its status."""

    def __init__(self, status: int, code: str, message: str, **details: object) -> None:
        super().__init__(message, code=code, details=details)
        self.status = status


def status_of(error: DomainError) -> int:
    if isinstance(error, HttpError):
        return error.status
    for kind, status in STATUS_BY_KIND:
        if isinstance(error, kind):
            return status
    return 400


#: Paths read by machines (probes, scrapers) outside /api/: their errors are JSON too.
MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in MACHINE_PATHS


def json_error(
    status: int,
    code: str,
    message: str,
    details: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return web.json_response({"error": body}, status=status, headers=headers)


async def render_error(request: web.Request, error: DomainError) -> web.StreamResponse:
    status = status_of(error)
    headers = {"X-Error-Code": error.code}
    if isinstance(error, RateLimited | ServiceUnavailable | AtCapacity):
        headers["Retry-After"] = str(error.retry_after)
    if is_api(request):
        return json_error(status, error.code, error.message, error.details, headers)
    if status == 401 and request.method == "GET":
        login = request.app.router["login"].url_for().with_query(next=request.path_qs)
        raise web.HTTPSeeOther(location=str(login))
    response = await page_error(request, status, error.code, error.message)
    response.headers.update(headers)
    return response


async def render_http_exception(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    code, message = HTTP_CODES.get(exc.status, ("http_error", exc.reason))
    if is_api(request):
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return json_error(exc.status, code, message, headers=headers)
    return await page_error(request, exc.status, code, message)


async def page_error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    renderer = request.app.get(PAGE_ERROR_RENDERER)
    if renderer is not None:
        response = await renderer(request, status, code, message)
    else:
        response = web.Response(text=f"{status} {message} ({code})", content_type="text/html")
    response.set_status(status)
    return response
