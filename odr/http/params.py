"""The one parser for numbers that arrive in a request: path ids, query integers, header integers.

Only ASCII digits count (``str.isdigit`` also accepts ``¹`` and ``١``, which ``int`` either
rejects or reads as another number), values are bounded, and a bad value is a 4xx with a stable
code — never a 500. A bad id in the path names nothing: ``404`` (the not-found page for pages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

from aiohttp import web

from odr.domain.errors import ValidationFailed
from odr.domain.numbers import MAX_ID, is_ascii_number, parse_int


def path_id(request: web.Request, name: str = "case_id", *, maximum: int = MAX_ID) -> int:
    """A positive id from the path; anything else names nothing (``404``)."""
    value = parse_int(request.match_info.get(name), minimum=1, maximum=maximum)
    if value is None:
        raise web.HTTPNotFound()
    return value


@overload
def query_int(
    query: Mapping[str, str],
    name: str,
    default: int,
    *,
    minimum: int = 0,
    maximum: int = MAX_ID,
    message: str | None = None,
    clamp: bool = False,
) -> int: ...


@overload
def query_int(
    query: Mapping[str, str],
    name: str,
    default: None = None,
    *,
    minimum: int = 0,
    maximum: int = MAX_ID,
    message: str | None = None,
    clamp: bool = False,
) -> int | None: ...


def query_int(
    query: Mapping[str, str],
    name: str,
    default: int | None = None,
    *,
    minimum: int = 0,
    maximum: int = MAX_ID,
    message: str | None = None,
    clamp: bool = False,
) -> int | None:
    """An integer query parameter, ``default`` when absent or empty; ``422 invalid_field``
    naming the parameter otherwise. With ``clamp``, a number above ``maximum`` counts as
    ``maximum`` (a page far past the end is an empty page, not an error)."""
    raw = query.get(name)
    if not raw:
        return default
    if clamp and is_ascii_number(raw):
        given = int(raw) if len(raw) <= len(str(maximum)) else maximum
        return max(minimum, min(given, maximum))
    value = parse_int(raw, minimum=minimum, maximum=maximum)
    if value is None:
        raise ValidationFailed(
            message or f"{name} must be a whole number from {minimum} to {maximum}.",
            code="invalid_field",
            details={"field": name},
        )
    return value


def header_int(
    request: web.Request, name: str, *, code: str, message: str, maximum: int = MAX_ID
) -> int:
    """A required integer header; ``422`` with ``code`` when it is missing or not a number."""
    value = parse_int(request.headers.get(name), maximum=maximum)
    if value is None:
        raise ValidationFailed(message, code=code, details={"field": name})
    return value
