"""One JSON endpoint as declared in `odr.api.routes`: what the router and the OpenAPI document
both read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    name: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    #: the success response's media type when it is not JSON (its body is then text)
    media_type: str = "application/json"
    #: the error responses of an endpoint outside /api/ (status, description); those under
    #: /api/ get the common ones of `odr.api.openapi`
    errors: tuple[tuple[str, str], ...] = ()
    #: query parameters the OpenAPI document describes (names of `odr.api.openapi.QUERY`)
    query: tuple[str, ...] = ()
