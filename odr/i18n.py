"""The one catalogue of every text people read: pages, PDFs, notifications, e-mail, SMS and
calendar invitations.

Texts are written in English in the code and marked for extraction: pages call ``_`` and
``ngettext`` (`web.i18n`) or name texts with ``N_``; documents and messages name theirs with
``NC_(context, text)`` — the context (``notification``, ``closing report``, ``agreement``,
``package letter``) lets one of them say a word differently from a page — and translate them
with `translate_in`. The catalogue under ``translations/`` holds the Simplified Chinese
(English is the text itself); its ``.po`` files are compiled in memory (no generated ``.mo``
files in the tree), and ``make messages`` extracts the marked texts into them.
"""

from __future__ import annotations

import functools
import gettext
import io
from importlib import resources
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
#: The catalogue folder of each language that has one (English needs none).
_CATALOGUE_DIRS = {"zh-CN": "zh_CN"}

Translations = dict[str, gettext.NullTranslations]


def load_translations() -> Translations:
    """Every language's catalogue, read and compiled now."""
    loaded: Translations = {"en": gettext.NullTranslations()}
    root = resources.files("odr") / "translations"
    for lang, folder in _CATALOGUE_DIRS.items():
        po = root / folder / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=folder)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        loaded[lang] = gettext.GNUTranslations(buf)
    return loaded


@functools.cache
def translations() -> Translations:
    """The catalogues, loaded once, when first needed."""
    return load_translations()


def language_of(lang: str | None) -> str:
    """``lang`` when it is one of `LANGUAGES`, else the default."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def catalogue(lang: str | None) -> gettext.NullTranslations:
    return translations()[language_of(lang)]


def translate(lang: str | None, message: str, **variables: Any) -> str:
    """``message`` in ``lang``, with ``%(name)s`` placeholders filled from ``variables``."""
    text = catalogue(lang).gettext(message)
    return text % variables if variables else text


def translate_in(lang: str | None, context: str, message: str, **variables: Any) -> str:
    """`translate` of a text marked with ``NC_(context, message)``."""
    text = catalogue(lang).pgettext(context, message)
    return text % variables if variables else text


def N_(message: str) -> str:
    """Mark a text for extraction without translating it yet."""
    return message


def NC_(context: str, message: str) -> str:
    """Mark a text of ``context`` for extraction; `translate_in` translates it."""
    return message
