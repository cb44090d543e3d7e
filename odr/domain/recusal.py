"""Recusal (回避): the reasons a mediator may not take a case. Pure rules over plain data; the
service gathers the data (memberships, the case's log, earlier cases) and asks here.

A mediator is recused when
- they work for the case's insurer now, or stopped less than `RECENT_EMPLOYMENT_YEARS` ago;
- they acted in the case in a party's role (as the consumer or for the insurer);
- they mediated an earlier case between the same consumer and the same insurer that ended
  without settlement (the parties deserve fresh eyes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

#: How long after leaving an insurer a mediator still may not mediate against it.
RECENT_EMPLOYMENT_YEARS = 3
#: The roles of the log in which someone acts for a party.
PARTY_ROLES = frozenset({"consumer", "insurer_rep"})


class RecusalReason(StrEnum):
    EMPLOYED_BY_INSURER = "employed_by_insurer"
    RECENTLY_EMPLOYED_BY_INSURER = "recently_employed_by_insurer"
    ACTED_FOR_A_PARTY = "acted_for_a_party"
    EARLIER_MEDIATION_NOT_SETTLED = "earlier_mediation_not_settled"


@dataclass(frozen=True, slots=True)
class Employment:
    """One membership of the mediator (ended ones included)."""

    organisation_id: int
    started_on: date
    ended_on: date | None = None


@dataclass(frozen=True, slots=True)
class EarlierCase:
    """A case the mediator mediated between the same consumer and insurer."""

    case_id: int
    number: str
    ended_not_settled: bool


@dataclass(frozen=True, slots=True)
class Finding:
    reason: RecusalReason
    ended_on: date | None = None  # of the employment
    case_number: str | None = None  # of the earlier case

    def as_dict(self) -> dict[str, str | None]:
        return {
            "reason": str(self.reason),
            "ended_on": self.ended_on.isoformat() if self.ended_on else None,
            "case_number": self.case_number,
        }


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def recusal_findings(
    *,
    mediator_id: int,
    insurer_id: int,
    today: date,
    employments: Iterable[Employment],
    party_actors: Iterable[int] = (),
    earlier_cases: Sequence[EarlierCase] = (),
) -> list[Finding]:
    """Every reason ``mediator_id`` may not mediate a case against ``insurer_id``; empty when
    they may. ``party_actors`` are the users who acted in the case in a party's role (see
    `PARTY_ROLES`); ``earlier_cases`` the earlier cases they mediated between the same people,
    other than this one."""
    found: list[Finding] = []
    horizon = years_before(today, RECENT_EMPLOYMENT_YEARS)
    for job in employments:
        if job.organisation_id != insurer_id or job.started_on > today:
            continue
        if job.ended_on is None or job.ended_on >= today:
            found.append(Finding(RecusalReason.EMPLOYED_BY_INSURER))
        elif job.ended_on > horizon:
            found.append(Finding(RecusalReason.RECENTLY_EMPLOYED_BY_INSURER, job.ended_on))
    if mediator_id in set(party_actors):
        found.append(Finding(RecusalReason.ACTED_FOR_A_PARTY))
    for earlier in earlier_cases:
        if earlier.ended_not_settled:
            found.append(
                Finding(RecusalReason.EARLIER_MEDIATION_NOT_SETTLED, case_number=earlier.number)
            )
    return found
