"""Recusal (回避): employment at the insurer now or recently, a party's role, an earlier
unsettled mediation between the same parties."""

from __future__ import annotations

from datetime import date

from odr.domain.recusal import (
    RECENT_EMPLOYMENT_YEARS,
    EarlierCase,
    Employment,
    RecusalReason,
    recusal_findings,
    years_before,
)

TODAY = date(2026, 11, 22)
INSURER, OTHER, CENTRE = 2, 3, 4
M = 10


def reasons(**kw: object) -> list[RecusalReason]:
    args: dict[str, object] = {
        "mediator_id": M,
        "insurer_id": INSURER,
        "today": TODAY,
        "employments": [Employment(CENTRE, date(2020, 1, 1))],
    }
    args.update(kw)
    return [f.reason for f in recusal_findings(**args)]  # type: ignore[arg-type]


def test_a_mediator_without_ties_is_eligible() -> None:
    assert reasons() == []


def test_current_employment_at_the_insurer_recuses() -> None:
    jobs = [Employment(INSURER, date(2019, 1, 1))]
    assert reasons(employments=jobs) == [RecusalReason.EMPLOYED_BY_INSURER]
    ending_today = [Employment(INSURER, date(2019, 1, 1), TODAY)]
    assert reasons(employments=ending_today) == [RecusalReason.EMPLOYED_BY_INSURER]


def test_recent_employment_recuses_up_to_the_boundary() -> None:
    assert RECENT_EMPLOYMENT_YEARS == 3
    horizon = date(2023, 11, 22)
    one_year = [Employment(INSURER, date(2015, 1, 1), date(2025, 11, 22))]
    assert reasons(employments=one_year) == [RecusalReason.RECENTLY_EMPLOYED_BY_INSURER]
    just_inside = [Employment(INSURER, date(2015, 1, 1), date(2023, 11, 23))]
    assert reasons(employments=just_inside) == [RecusalReason.RECENTLY_EMPLOYED_BY_INSURER]
    exactly_three = [Employment(INSURER, date(2015, 1, 1), horizon)]
    assert reasons(employments=exactly_three) == []
    another_insurer = [Employment(OTHER, date(2015, 1, 1), date(2025, 1, 1))]
    assert reasons(employments=another_insurer) == []


def test_the_found_employment_says_when_it_ended() -> None:
    (finding,) = recusal_findings(
        mediator_id=M,
        insurer_id=INSURER,
        today=TODAY,
        employments=[Employment(INSURER, date(2015, 1, 1), date(2025, 6, 30))],
    )
    assert finding.as_dict() == {
        "reason": "recently_employed_by_insurer",
        "ended_on": "2025-06-30",
        "case_number": None,
    }


def test_years_before_handles_the_leap_day() -> None:
    assert years_before(date(2028, 2, 29), 3) == date(2025, 2, 28)
    assert years_before(TODAY, 3) == date(2023, 11, 22)


def test_acting_for_a_party_recuses() -> None:
    assert reasons(party_actors=[5, M]) == [RecusalReason.ACTED_FOR_A_PARTY]
    assert reasons(party_actors=[5, 6]) == []


def test_an_earlier_unsettled_mediation_recuses_a_settled_one_does_not() -> None:
    failed = EarlierCase(1, "ODR-2025-000001", ended_not_settled=True)
    settled = EarlierCase(2, "ODR-2025-000002", ended_not_settled=False)
    assert reasons(earlier_cases=[settled]) == []
    found = recusal_findings(
        mediator_id=M,
        insurer_id=INSURER,
        today=TODAY,
        employments=[],
        earlier_cases=[failed, settled],
    )
    assert [(f.reason, f.case_number) for f in found] == [
        (RecusalReason.EARLIER_MEDIATION_NOT_SETTLED, "ODR-2025-000001")
    ]


def test_every_reason_is_reported() -> None:
    got = reasons(
        employments=[Employment(INSURER, date(2015, 1, 1), date(2025, 1, 1))],
        party_actors=[M],
        earlier_cases=[EarlierCase(1, "ODR-2025-000001", True)],
    )
    assert got == [
        RecusalReason.RECENTLY_EMPLOYED_BY_INSURER,
        RecusalReason.ACTED_FOR_A_PARTY,
        RecusalReason.EARLIER_MEDIATION_NOT_SETTLED,
    ]
