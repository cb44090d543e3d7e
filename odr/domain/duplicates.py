"""Duplicate complaints: linked to the case they repeat, never dropped.

Two rules, in order of strength:

1. **Same policy, open case**: the same consumer already has an open case against the same
   insurer about one of the same policies. The new complaint belongs with that case.
2. **Near-duplicate text**: the text is a near copy or close paraphrase of an earlier complaint,
   whoever filed it (`odr.domain.similarity.NearDuplicateIndex` finds those).

Pure: the caller supplies the candidate cases and the near-duplicate candidates.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from odr.domain.similarity import Candidate, ItemId


class DuplicateReason(StrEnum):
    SAME_POLICY_OPEN_CASE = "same_policy_open_case"
    NEAR_DUPLICATE_TEXT = "near_duplicate_text"


@dataclass(frozen=True, slots=True)
class CaseRef:
    """An earlier case, as the duplicate rule sees it."""

    case_id: ItemId
    consumer_id: ItemId
    insurer: str
    policy_numbers: frozenset[str]
    is_open: bool = True


@dataclass(frozen=True, slots=True)
class DuplicateLink:
    """The new complaint repeats ``of``; ``similarity`` is set for near-duplicate texts."""

    of: ItemId
    reason: DuplicateReason
    similarity: float | None = None


def normalise_policy_no(policy_no: str) -> str:
    """Policy numbers compare without width, case, spaces or dashes (``ak-2023 100188``)."""
    folded = unicodedata.normalize("NFKC", policy_no).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def normalise_insurer(insurer: str) -> str:
    return "".join(unicodedata.normalize("NFKC", insurer).split()).casefold()


def same_policy_open_cases(
    *,
    consumer_id: ItemId,
    insurer: str,
    policy_numbers: Iterable[str],
    cases: Iterable[CaseRef],
) -> list[CaseRef]:
    """Open cases of the same consumer against the same insurer sharing a policy, in the
    order given (pass oldest first: the first is the one to link to)."""
    wanted = {normalise_policy_no(p) for p in policy_numbers} - {""}
    if not wanted:
        return []
    who = normalise_insurer(insurer)
    return [
        case
        for case in cases
        if case.is_open
        and case.consumer_id == consumer_id
        and normalise_insurer(case.insurer) == who
        and wanted & {normalise_policy_no(p) for p in case.policy_numbers}
    ]


def duplicate_links(
    same_policy: Sequence[CaseRef], near_texts: Sequence[Candidate]
) -> tuple[DuplicateLink, ...]:
    """Every link, strongest first: same-policy open cases, then near-duplicate texts by
    similarity. The first link is the complaint's ``duplicate_of``; each id appears once."""
    links: list[DuplicateLink] = []
    seen: set[ItemId] = set()
    for case in same_policy:
        if case.case_id not in seen:
            seen.add(case.case_id)
            links.append(DuplicateLink(case.case_id, DuplicateReason.SAME_POLICY_OPEN_CASE))
    for candidate in near_texts:
        if candidate.item_id not in seen:
            seen.add(candidate.item_id)
            links.append(
                DuplicateLink(
                    candidate.item_id,
                    DuplicateReason.NEAR_DUPLICATE_TEXT,
                    round(candidate.similarity, 4),
                )
            )
    return tuple(links)
