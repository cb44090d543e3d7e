"""Whole numbers written by people or programs: ASCII digits only, bounded.

``str.isdigit`` also accepts ``¹`` (which ``int`` rejects) and ``١`` (which ``int`` reads as 1);
this parser accepts neither, nor signs, spaces, underscores or exponents.
"""

from __future__ import annotations

#: Ids are 64-bit in the database; a larger number names nothing.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = frozenset("0123456789")


def is_ascii_number(text: str | None) -> bool:
    """Whether ``text`` is a whole number written in ASCII digits only, of any length."""
    return text is not None and text != "" and set(text) <= _ASCII_DIGITS


def parse_int(text: str | None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The number written in ASCII digits in ``text`` (no sign, no spaces, no exponent) if it
    lies in ``[minimum, maximum]``, else ``None``."""
    if text is None or len(text) > len(str(maximum)) or not is_ascii_number(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None
