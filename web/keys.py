"""Application keys of the web package."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

#: The case page handler: sections of the case page (outcomes) render it again, with the refused
#: form, without importing the module that includes them.
CASE_PAGE: web.AppKey[Callable[[web.Request], Awaitable[web.StreamResponse]]] = web.AppKey(
    "case_page"
)
