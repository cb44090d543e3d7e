"""Application keys of the web package."""

from __future__ import annotations

from aiohttp import web

from web.i18n import Translations

TRANSLATIONS = web.AppKey("translations", Translations)
