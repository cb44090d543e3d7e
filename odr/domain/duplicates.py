"""Duplicate complaints: linked to the case they repeat, never dropped.

Two rules, in order of strength:

1. **Same policy, open case**: the same consumer already has an open case against the same
   insurer about one of the same policies. The new complaint belongs with that case.
2. **Near-duplicate text**: the text is a near copy or close paraphrase of an earlier complaint
   of the same consumer, or about one of the same policies (`odr.domain.similarity.
   NearDuplicateIndex` finds the texts; `may_repeat` decides whose they may be).

A "repeat" or "duplicate" is one person (or one policy) coming back. Near-identical complaints
by *different* consumers are not duplicates of each other: against one insurer and product
within days they form a cluster, an early warning for supervisors and the insurer's lead
(`odr.domain.similarity.detect_clusters`), and no consumer is ever told of another's case.

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


def may_repeat(
    *,
    consumer_id: ItemId | None,
    policy_numbers: Iterable[str],
    other_consumer_id: ItemId | None,
    other_policy_numbers: Iterable[str],
) -> bool:
    """Whether an earlier complaint can be the one a new complaint repeats: the same
    consumer, or one of the same (normalised) policies. Near-identical texts of different
    people about different policies are a cluster, never a duplicate."""
    if consumer_id is not None and consumer_id == other_consumer_id:
        return True
    mine = {normalise_policy_no(p) for p in policy_numbers} - {""}
    return bool(mine & {normalise_policy_no(p) for p in other_policy_numbers})


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
