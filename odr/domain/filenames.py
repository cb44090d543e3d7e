"""Safe names for uploaded files: what a name may look like when we store, show or export it.

`sanitise_filename` keeps what a person wrote (Chinese included) and removes what could hurt:

1. Unicode NFC; only the part after the last ``/`` or ``\\`` is kept (no directories, so
   ``../../etc/passwd`` is ``passwd`` and ``C:\\Windows\\x.exe`` is ``x.exe``);
2. control characters are removed (tab, newline and other whitespace controls become spaces),
   and so are format characters (bidi overrides and isolates, zero-width characters, the BOM),
   surrogates, private-use and unassigned code points;
3. the characters Windows forbids in names (``< > : " | ? *``) become ``_``;
4. runs of whitespace (including U+3000 and no-break spaces) become one space; leading dots
   and spaces and trailing dots and spaces are removed (no hidden files, no ``..``);
5. the extension is what follows the last dot when it is 1 to 10 ASCII letters or digits;
   given ``extension`` (the sniffed canonical one) it replaces it, lower-cased;
6. a stem that Windows reserves (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``–``COM9``,
   ``LPT0``–``LPT9``, their superscript-digit forms, ``CONIN$``, ``CONOUT$``; case-insensitive,
   up to the first dot) gets a leading ``_``;
7. the stem is shortened so the whole name has at most ``max_chars`` characters (120) and,
   when ``max_bytes`` is given, at most that many UTF-8 bytes — the extension is kept;
8. an empty stem becomes ``file``.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 120
FALLBACK_STEM = "file"

_SEPARATORS = re.compile(r"[/\\]")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_WINDOWS_FORBIDDEN = str.maketrans(dict.fromkeys('<>:"|?*', "_"))
_DIGITS = "0123456789¹²³"
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{d}" for d in _DIGITS}
    | {f"LPT{d}" for d in _DIGITS}
)


def sanitise_filename(
    name: str,
    *,
    extension: str | None = None,
    max_chars: int = MAX_CHARS,
    max_bytes: int | None = None,
) -> str:
    """A safe, non-empty file name made from ``name`` (rules in the module docstring)."""
    text = unicodedata.normalize("NFC", name)
    text = _SEPARATORS.split(text)[-1]
    text = "".join(_clean_char(ch) for ch in text)
    text = " ".join(text.translate(_WINDOWS_FORBIDDEN).split())
    text = text.strip(". ")
    stem, ext = _split_extension(text)
    if extension is not None:
        ext = _normal_extension(extension)
    stem = stem.rstrip(". ")
    if stem.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = _fit(stem or FALLBACK_STEM, ext, max_chars, max_bytes)
    return f"{stem}.{ext}" if ext else stem


def _clean_char(ch: str) -> str:
    if ch.isspace():
        return " "
    return "" if unicodedata.category(ch) in _DROPPED_CATEGORIES else ch


def _split_extension(text: str) -> tuple[str, str]:
    dot = text.rfind(".")
    if dot > 0 and _EXTENSION.fullmatch(text[dot + 1 :]):
        return text[:dot], text[dot + 1 :]
    return text, ""


def _normal_extension(extension: str) -> str:
    ext = extension.lower().removeprefix(".")
    if not _EXTENSION.fullmatch(ext):
        raise ValueError(f"extension {extension!r} must be 1 to 10 ASCII letters or digits")
    return ext


def _fit(stem: str, ext: str, max_chars: int, max_bytes: int | None) -> str:
    suffix = f".{ext}" if ext else ""
    budget = max_chars - len(suffix)
    if budget < 1 or (max_bytes is not None and max_bytes - len(suffix) < 1):
        raise ValueError("the limits leave no room for a name")
    stem = stem[:budget]
    if max_bytes is not None:
        while len((stem + suffix).encode("utf-8")) > max_bytes:
            stem = stem[:-1]
    return stem.rstrip(". ") or FALLBACK_STEM
