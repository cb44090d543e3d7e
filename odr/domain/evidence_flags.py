"""Flags for the mediator: wording in the evidence that usually marks mis-selling (guaranteed
returns, "as safe as a deposit"), key facts (amounts, dates, policy numbers), and what sales
material leaves out (the cooling-off period). The rules are data (`odr/data/evidence_flags.toml`).

Patterns are Python regular expressions matched line by line against the text read from the
evidence, after full-width characters are folded to half-width and spaces removed (OCR puts
spaces where the page had none). A flag points at its item, page and line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from odr.domain.errors import ValidationFailed
from odr.domain.evidence_text import Box, PageText, part_box

#: Flags listed at most per case (the list says when there were more).
MAX_FLAGS = 300


class FlagKind(StrEnum):
    PHRASE = "phrase"  # wording that usually marks mis-selling
    FACT = "fact"  # an amount, a date, a policy number
    MISSING = "missing"  # sales material that never mentions something it must


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    kind: FlagKind
    patterns: tuple[re.Pattern[str], ...]
    #: for MISSING: the rule fires when one of these is found and none of ``patterns`` is
    when: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True, slots=True)
class FlagRules:
    version: str
    rules: tuple[Rule, ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FlagRules:
        rules = []
        for kind in FlagKind:
            for key, spec in (data.get(kind.value) or {}).items():
                if not isinstance(spec, Mapping) or not spec.get("patterns"):
                    raise ValidationFailed(
                        f"Flag rule {kind.value}.{key} needs patterns.", code="invalid_rules"
                    )
                try:
                    patterns = tuple(re.compile(p) for p in spec["patterns"])
                    when = tuple(re.compile(p) for p in spec.get("when", ()))
                except re.error as exc:
                    raise ValidationFailed(
                        f"Flag rule {kind.value}.{key}: {exc}", code="invalid_rules"
                    ) from None
                if kind is FlagKind.MISSING and not when:
                    raise ValidationFailed(
                        f"Flag rule missing.{key} needs 'when'.", code="invalid_rules"
                    )
                rules.append(Rule(str(key), kind, patterns, when))
        return cls(str(data.get("version", "")), tuple(rules))


@dataclass(frozen=True, slots=True)
class Flag:
    key: str
    kind: FlagKind
    sequence: int  # the evidence item
    page: int | None  # None for what is missing
    line: int | None
    box: Box | None
    excerpt: str  # what matched (a MISSING flag: the line that made it apply)


def fold(text: str) -> tuple[str, list[int]]:
    """``text`` with full-width forms made half-width and spaces removed, and for each
    character kept its index in ``text``."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        folded = unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" else ch
        for part in folded:
            out.append(part)
            index.append(i)
    return "".join(out), index


def find_flags(rules: FlagRules, items: Iterable[tuple[int, Sequence[PageText]]]) -> list[Flag]:
    """The flags of the items' pages ((sequence, pages) pairs), in the order of the items,
    their pages and lines; each rule at most once per line."""
    flags: list[Flag] = []
    missing = [r for r in rules.rules if r.kind is FlagKind.MISSING]
    triggered: dict[str, Flag] = {}
    mentioned: set[str] = set()
    for sequence, pages in items:
        for page in pages:
            for number, line in enumerate(page.lines):
                folded, index = fold(line.text)
                for rule in rules.rules:
                    if rule.kind is FlagKind.MISSING:
                        if any(p.search(folded) for p in rule.patterns):
                            mentioned.add(rule.key)
                        elif rule.key not in triggered and any(p.search(folded) for p in rule.when):
                            triggered[rule.key] = Flag(
                                rule.key,
                                rule.kind,
                                sequence,
                                page.number,
                                number,
                                line.box,
                                line.text,
                            )
                        continue
                    for pattern in rule.patterns:
                        match = pattern.search(folded)
                        if match is None or match.end() == match.start():
                            continue
                        start, end = index[match.start()], index[match.end() - 1] + 1
                        flags.append(
                            Flag(
                                rule.key,
                                rule.kind,
                                sequence,
                                page.number,
                                number,
                                part_box(line, start, end),
                                line.text[start:end],
                            )
                        )
                        break
    for rule in missing:
        if rule.key in triggered and rule.key not in mentioned:
            flags.append(triggered[rule.key])
    return flags
