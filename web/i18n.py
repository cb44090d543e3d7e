"""Languages: Simplified Chinese (default) and English, from gettext catalogues.

Catalogues are the ``.po`` files under ``translations/``, compiled in memory when the app
starts (no generated ``.mo`` files in the tree). The language of a request comes from the
``odr_lang`` cookie, else the user's saved choice, else Accept-Language.
"""

from __future__ import annotations

import contextvars
import gettext
import io
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
COOKIE = "odr_lang"
_CATALOGUE_DIRS = {"zh-CN": "zh_CN"}

Translations = dict[str, gettext.NullTranslations]
_NONE = gettext.NullTranslations()
_current: contextvars.ContextVar[gettext.NullTranslations | None] = contextvars.ContextVar(
    "translations", default=None
)


def load_translations() -> Translations:
    loaded: Translations = {"en": gettext.NullTranslations()}
    root = resources.files("web") / "translations"
    for lang, folder in _CATALOGUE_DIRS.items():
        po = root / folder / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=folder)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        loaded[lang] = gettext.GNUTranslations(buf)
    return loaded


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


def activate(translations: gettext.NullTranslations) -> None:
    _current.set(translations)


def gettext_(message: str, **variables: Any) -> str:
    text = (_current.get() or _NONE).gettext(message)
    return text % variables if variables else text


def ngettext_(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = (_current.get() or _NONE).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext_


def N_(message: str) -> str:
    """Mark a text for extraction without translating it yet."""
    return message
