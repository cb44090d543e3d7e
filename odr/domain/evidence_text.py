"""The text of an evidence item, read from its pages (OCR of images and scans, or a PDF's own
text layer), and the rules over it: where the personal numbers are to black out, where a
search finds a phrase, who is shown the redacted copy.

The text is derived data: the stored bytes and their SHA-256 stay the evidence. A page is a
list of lines, each with its box in the page image's pixels (x0, y0, x1, y1). A part of a line
(a number, a phrase) gets a box cut from the line's box by the widths of its characters: wide
(CJK) characters count one em, the others about half.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from odr.domain.authz import Relation
from odr.domain.errors import ValidationFailed
from odr.domain.masking import MaskKind, find_personal_numbers

Box = tuple[int, int, int, int]

#: The longest search a person may type (characters).
MAX_QUERY = 100
#: Search results shown at most (the rest is counted).
MAX_HITS = 200
#: How much wider than the number itself a black box is, in ems of the line (each side).
REDACTION_MARGIN = 0.35
_NARROW = 0.55  # the width of a narrow (Latin, digit) character, in ems


class TextStatus(StrEnum):
    PENDING = "pending"  # not read yet (the background job has not run)
    DONE = "done"
    UNAVAILABLE = "unavailable"  # could not be read; the item itself is unaffected


class Copy(StrEnum):
    ORIGINAL = "original"
    REDACTED = "redacted"


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    box: Box

    def stored(self) -> list[object]:
        return [self.text, *self.box]

    @classmethod
    def of(cls, raw: Sequence[object]) -> TextLine:
        text, x0, y0, x1, y1 = raw
        return cls(str(text), (int(x0), int(y0), int(x1), int(y1)))  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class PageText:
    number: int  # from 1
    width: int
    height: int
    lines: tuple[TextLine, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True, slots=True)
class Region:
    """A box to black out: on ``page``, a number of ``kind``."""

    page: int
    kind: MaskKind
    box: Box

    def public(self) -> dict[str, object]:
        return {"page": self.page, "kind": str(self.kind), "box": list(self.box)}


def _width(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else _NARROW


def part_box(line: TextLine, start: int, end: int, *, margin: float = 0.0) -> Box:
    """The box of ``line.text[start:end]``, cut from the line's box by character widths,
    widened by ``margin`` ems on each side (within the line)."""
    x0, y0, x1, y1 = line.box
    widths = [_width(ch) for ch in line.text] or [1.0]
    total = sum(widths)
    em = (x1 - x0) / total
    left = x0 + em * (sum(widths[:start]) - margin)
    right = x0 + em * (sum(widths[:end]) + margin)
    return (max(x0, int(left)), y0, min(x1, int(right + 0.999)), y1)


def redaction_regions(pages: Iterable[PageText]) -> list[Region]:
    """Where each resident ID, bank card and mobile number of the pages stands (the same
    rules as the masking of messages), a little wider than the number."""
    found = []
    for page in pages:
        for line in page.lines:
            for span in find_personal_numbers(line.text):
                box = part_box(line, span.start, span.end, margin=REDACTION_MARGIN)
                found.append(Region(page.number, span.kind, box))
    return found


def search_query(raw: str) -> str:
    """The phrase a person searches for: spaces at the ends dropped, runs of space made one;
    refused when empty or longer than `MAX_QUERY`."""
    query = " ".join(raw.split())
    if not query:
        raise ValidationFailed("Type what to search for.", code="search_empty")
    if len(query) > MAX_QUERY:
        raise ValidationFailed(
            f"Search for at most {MAX_QUERY} characters.",
            code="search_too_long",
            details={"limit": MAX_QUERY},
        )
    return query


def occurrences(text: str, query: str) -> list[tuple[int, int]]:
    """Where ``query`` occurs in ``text`` (case-insensitive), as (start, end) pairs."""
    haystack, needle = text.casefold(), query.casefold()
    if len(haystack) != len(text) or not needle:
        # casefolding changed the length (ß and the like): exact matches only
        haystack, needle = text, query
    found, at = [], haystack.find(needle)
    while at >= 0:
        found.append((at, at + len(needle)))
        at = haystack.find(needle, at + len(needle))
    return found


@dataclass(frozen=True, slots=True)
class PageHit:
    page: int
    line: int  # the line's index on the page
    box: Box
    excerpt: str  # the line


def page_hits(page: PageText, query: str) -> list[PageHit]:
    """Every occurrence of ``query`` on the page, with its box (within one line)."""
    hits = []
    for index, line in enumerate(page.lines):
        for start, end in occurrences(line.text, query):
            hits.append(PageHit(page.number, index, part_box(line, start, end), line.text))
    return hits


def copy_for(
    relations: frozenset[Relation],
    *,
    mine: bool,
    has_redacted: bool,
    redact_for_mediator: bool,
) -> tuple[Copy, bool]:
    """Which copy of an item a reader gets by default, and whether they may ask for the other.

    The uploader and the forum's staff (mediator, centre lead, supervisor) keep the original
    and may switch to the redacted copy; staff get the redacted copy by default when the
    deployment says so (``redact_for_mediator``). The other party gets the redacted copy and
    nothing else. Without a redacted copy (no personal number found) everyone gets the
    original."""
    if not has_redacted:
        return Copy.ORIGINAL, False
    if mine:
        return Copy.ORIGINAL, True
    if relations & {Relation.MEDIATOR, Relation.CENTRE_LEAD, Relation.SUPERVISOR}:
        return (Copy.REDACTED if redact_for_mediator else Copy.ORIGINAL), True
    return Copy.REDACTED, False


__all__ = [
    "MAX_HITS",
    "MAX_QUERY",
    "Box",
    "Copy",
    "PageHit",
    "PageText",
    "Region",
    "TextLine",
    "TextStatus",
    "copy_for",
    "occurrences",
    "page_hits",
    "part_box",
    "redaction_regions",
    "search_query",
]
