"""Masking of personal numbers in what parties write: the one function case messages and the
hearing chat both use.

What is masked
--------------
* Resident ID numbers (居民身份证号): 18 characters, 17 digits and a check character (a digit or
  X, ISO 7064 MOD 11-2); also the old 15-digit form. A number that passes the checksum is masked.
  One that fails it is masked anyway when its area code and birth date are plausible: a mistyped
  or altered ID still gives away the holder's region, birth date and most of the number, and a
  random number of that shape is rare, so erring on the side of masking costs little. The
  15-digit form has no check digit and is masked on the same plausibility test.
* Bank card numbers: 13 to 19 digits passing the Luhn check, written in one run or in groups of
  four separated by single spaces or dashes.
* Mainland mobile numbers: 1[3-9] and nine more digits, in one run or as 3-4-4 groups, with an
  optional +86, 0086 or 86 prefix.

Numbers are looked at as whole tokens: a run of digits (or letters and digits, like a policy
number ``AK2023100188``) is never masked in part, so amounts, dates, policy numbers, case numbers
and longer digit runs are left as they are. Full-width digits (０-９) count as digits.

The first and last few characters stay visible (110105********001X, 6222 **** **** 1234,
138****5678); separators and prefixes are kept, so the text keeps its shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MASK_CHAR = "*"


class MaskKind(StrEnum):
    RESIDENT_ID = "resident_id"
    BANK_CARD = "bank_card"
    MOBILE = "mobile"


@dataclass(frozen=True, slots=True)
class MaskResult:
    text: str
    kinds: tuple[str, ...]  # each kind masked, in order of first appearance
    count: int  # how many numbers were masked

    @property
    def masked(self) -> bool:
        return self.count > 0


_D = "[0-9\uff10-\uff19]"  # ASCII and full-width digits
_X = "[0-9\uff10-\uff19Xx\uff38\uff58]"  # a digit or X, the ID check character
_ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_NOT_AFTER = f"(?<![{_ALNUM}])"  # the token does not continue a word or a digit run
_NOT_BEFORE = f"(?![{_ALNUM}])"
# A grouped number must not be part of a longer grouped run either: no group of four digits
# right before it or right after it.
_GROUP_NOT_AFTER = f"{_NOT_AFTER}(?<!{_D}{{4}}[ -])"
_GROUP_NOT_BEFORE = f"{_NOT_BEFORE}(?![ -]{_D}{{4}})"

_ID18 = re.compile(f"{_NOT_AFTER}{_D}{{17}}{_X}{_NOT_BEFORE}")
_ID15 = re.compile(f"{_NOT_AFTER}{_D}{{15}}{_NOT_BEFORE}")
_CARD_RUN = re.compile(f"{_NOT_AFTER}{_D}{{13,19}}{_NOT_BEFORE}")
_CARD_GROUPED = re.compile(
    f"{_GROUP_NOT_AFTER}{_D}{{4}}(?P<sep>[ -]){_D}{{4}}(?:(?P=sep){_D}{{4}}){{1,3}}"
    f"(?:(?P=sep){_D}{{1,3}})?{_GROUP_NOT_BEFORE}"
)
_MOBILE = re.compile(
    f"(?:(?P<prefix>(?:[+\uff0b]|{_NOT_AFTER}(?:00)?)86[ -]?)|{_NOT_AFTER})"
    f"[1\uff11][3-9\uff13-\uff19](?:{_D}{{9}}{_NOT_BEFORE}"
    f"|{_D}(?P<sep>[ -]){_D}{{4}}(?P=sep){_D}{{4}}{_GROUP_NOT_BEFORE})"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _digits(text: str) -> str:
    """The digits of ``text`` as ASCII (full-width digits folded), an X kept as ``X``."""
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(str(int(ch)))
        elif ch in "Xx\uff38\uff58":
            out.append("X")
    return "".join(out)


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check of an 18-character resident ID number (ASCII)."""
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check of a card number written in ASCII digits."""
    if not (number.isascii() and number.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _plausible_id(number: str) -> bool:
    """Area code not starting with 0 and a real birth date (18 or 15 characters)."""
    if number[0] == "0":
        return False
    if len(number) == 18:
        year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
        return 1900 <= year <= 2099 and _valid_date(year, month, day)
    year, month, day = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
    return _valid_date(year, month, day)


def _keep_ends(token: str, head: int, tail: int, *, skip: int = 0) -> str:
    """Mask the digits of ``token`` except the first ``head`` and last ``tail`` (counting only
    digits and X, after the first ``skip`` characters); separators stay."""
    body = token[skip:]
    positions = [i for i, ch in enumerate(body) if ch.isdigit() or ch in "Xx\uff38\uff58"]
    hidden = set(positions[head : len(positions) - tail])
    masked = "".join(MASK_CHAR if i in hidden else ch for i, ch in enumerate(body))
    return token[:skip] + masked


#: Which reading wins when two cover the same characters: a checked ID, then a mobile (only
#: "86..." and "0086..." can also read as a card), then a Luhn-valid card, then an ID on
#: plausibility alone.
_RANK_ID, _RANK_MOBILE, _RANK_CARD, _RANK_PLAUSIBLE_ID = range(4)


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    kind: MaskKind
    rank: int  # lower wins when two readings cover the same characters
    replacement: str


def _find_ids(text: str) -> list[_Found]:
    found = []
    for pattern, tail in ((_ID18, 4), (_ID15, 3)):
        for m in pattern.finditer(text):
            number = _digits(m.group())
            if len(number) == 18 and id_checksum_ok(number):
                rank = _RANK_ID
            elif _plausible_id(number):
                rank = _RANK_PLAUSIBLE_ID
            else:
                continue
            masked = _keep_ends(m.group(), 6, tail)
            found.append(_Found(m.start(), m.end(), MaskKind.RESIDENT_ID, rank, masked))
    return found


def _find_cards(text: str) -> list[_Found]:
    found = []
    for pattern in (_CARD_RUN, _CARD_GROUPED):
        for m in pattern.finditer(text):
            number = _digits(m.group())
            if 13 <= len(number) <= 19 and luhn_ok(number):
                masked = _keep_ends(m.group(), 4, 4)
                found.append(_Found(m.start(), m.end(), MaskKind.BANK_CARD, _RANK_CARD, masked))
    return found


def _find_mobiles(text: str) -> list[_Found]:
    found = []
    for m in _MOBILE.finditer(text):
        skip = len(m.group("prefix") or "")  # "+86 " and the like stay as they are
        masked = _keep_ends(m.group(), 3, 4, skip=skip)
        found.append(_Found(m.start(), m.end(), MaskKind.MOBILE, _RANK_MOBILE, masked))
    return found


_FINDERS: tuple[Callable[[str], list[_Found]], ...] = (_find_ids, _find_cards, _find_mobiles)


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """Where a personal number stands in a text: ``text[start:end]``, of ``kind``."""

    start: int
    end: int
    kind: MaskKind


def _chosen(text: str) -> list[_Found]:
    candidates = [f for finder in _FINDERS for f in finder(text)]
    # Longest reading first (a +86 prefix belongs to the mobile), then the most certain one.
    candidates.sort(key=lambda f: (-(f.end - f.start), f.rank, f.start))
    chosen: list[_Found] = []
    for cand in candidates:
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    chosen.sort(key=lambda f: f.start)
    return chosen


def find_personal_numbers(text: str) -> list[NumberSpan]:
    """The resident ID, bank card and mobile numbers of ``text`` that `mask_personal_numbers`
    would mask, in order: the same rules, for blacking them out of an image's text boxes."""
    return [NumberSpan(f.start, f.end, f.kind) for f in _chosen(text)]


def mask_personal_numbers(text: str) -> MaskResult:
    """Mask resident ID, bank card and mobile numbers in ``text``; say what was masked."""
    chosen = _chosen(text)
    parts: list[str] = []
    kinds: list[str] = []
    position = 0
    for f in chosen:
        parts.append(text[position : f.start])
        parts.append(f.replacement)
        position = f.end
        if f.kind not in kinds:
            kinds.append(f.kind)
    parts.append(text[position:])
    return MaskResult("".join(parts), tuple(kinds), len(chosen))
