"""Languages of pages: Simplified Chinese (default) and English, from the catalogue of
`odr.i18n` (compiled once, when the app starts). The language of a request comes from the
``odr_lang`` cookie, else the user's saved choice, else Accept-Language; the page renders in it.
"""

from __future__ import annotations

import contextvars
import gettext
from typing import Any

from babel import Locale, UnknownLocaleError

from odr.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, catalogue

COOKIE = "odr_lang"

_NONE = gettext.NullTranslations()
_current: contextvars.ContextVar[gettext.NullTranslations | None] = contextvars.ContextVar(
    "translations", default=None
)


def negotiate(cookie: str | None, saved: str | None, accept_language: str) -> str:
    for choice in (cookie, saved):
        if choice in LANGUAGES:
            return choice
    preferred = []
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            preferred.append(tag.replace("-", "_"))
    try:
        match = Locale.negotiate(preferred, ["zh_CN", "zh", "en"], sep="_")
    except (UnknownLocaleError, ValueError):
        match = None
    if match is None:
        return DEFAULT_LANGUAGE
    return "en" if match.language == "en" else "zh-CN"


def activate(lang: str) -> None:
    """Texts of this request (its context) read from the catalogue of ``lang``."""
    _current.set(catalogue(lang))


def gettext_(message: str, **variables: Any) -> str:
    text = (_current.get() or _NONE).gettext(message)
    return text % variables if variables else text


def ngettext_(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = (_current.get() or _NONE).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext_


__all__ = [
    "COOKIE",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "activate",
    "gettext_",
    "negotiate",
    "ngettext_",
]
