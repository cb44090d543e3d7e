"""The hearing aggregate: every transition by every role, states, limits, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odr.domain.accounts import Actor, Role
from odr.domain.authz import CaseScope
from odr.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from odr.domain.hearings import (
    MAX_MINUTES_LENGTH,
    MAX_REASON_LENGTH,
    MAX_SLOTS,
    Hearing,
    HearingState,
)

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
CONSUMER_ID, REP_ID, MEDIATOR_ID, LEAD_ID = 1, 2, 3, 4
INSURER, CENTRE, OTHER_INSURER = 20, 30, 21
SCOPE = CaseScope(CONSUMER_ID, INSURER, mediator_id=MEDIATOR_ID, centre_id=CENTRE)

ACTORS = {
    "consumer": Actor(CONSUMER_ID, Role.CONSUMER),
    "insurer_rep": Actor(REP_ID, Role.INSURER_REP, INSURER),
    "mediator": Actor(MEDIATOR_ID, Role.MEDIATOR, CENTRE),
    "centre_lead": Actor(LEAD_ID, Role.CENTRE_LEAD, CENTRE),
    "supervisor": Actor(5, Role.SUPERVISOR, 40),
    "other_consumer": Actor(6, Role.CONSUMER),
    "other_rep": Actor(7, Role.INSURER_REP, OTHER_INSURER),
    "other_mediator": Actor(8, Role.MEDIATOR, CENTRE),
    "system": Actor.system(),
}
STRANGERS = ("other_consumer", "other_rep", "other_mediator")
MEDIATOR = ACTORS["mediator"]


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


SLOTS = [at(48), at(24 + 30), at(72)]


def proposed() -> Hearing:
    return Hearing.propose(MEDIATOR, NOW, case_id=9, case=SCOPE, slots=SLOTS)


def scheduled(slot: datetime = SLOTS[0]) -> Hearing:
    hearing = proposed()
    hearing.confirm(MEDIATOR, NOW, starts_at=slot)
    return hearing


def started() -> Hearing:
    hearing = scheduled()
    hearing.start(MEDIATOR, SLOTS[0] - timedelta(minutes=5))
    return hearing


def ended() -> Hearing:
    hearing = started()
    hearing.end(MEDIATOR, SLOTS[0] + timedelta(hours=1))
    return hearing


def cancelled() -> Hearing:
    hearing = proposed()
    hearing.cancel(MEDIATOR, NOW, reason="x")
    return hearing


BUILDERS = {
    HearingState.PROPOSED: proposed,
    HearingState.SCHEDULED: scheduled,
    HearingState.IN_PROGRESS: started,
    HearingState.ENDED: ended,
    HearingState.CANCELLED: cancelled,
}
LATER = SLOTS[0] + timedelta(hours=2)
TRANSITIONS = {
    "choose": (
        {"consumer", "insurer_rep"},
        {HearingState.PROPOSED},
        lambda h, a: h.choose(a, NOW, slots=[SLOTS[0]]),
    ),
    "confirm": (
        {"mediator"},
        {HearingState.PROPOSED},
        lambda h, a: h.confirm(a, NOW, starts_at=SLOTS[1]),
    ),
    "reschedule": (
        {"mediator"},
        {HearingState.PROPOSED, HearingState.SCHEDULED},
        lambda h, a: h.reschedule(a, NOW, slots=[at(100)], reason="ill"),
    ),
    "cancel": (
        {"mediator"},
        {HearingState.PROPOSED, HearingState.SCHEDULED},
        lambda h, a: h.cancel(a, NOW, reason="settled"),
    ),
    "start": ({"mediator"}, {HearingState.SCHEDULED}, lambda h, a: h.start(a, SLOTS[0])),
    "end": ({"mediator"}, {HearingState.IN_PROGRESS}, lambda h, a: h.end(a, LATER)),
    "write_minutes": (
        {"mediator"},
        {HearingState.IN_PROGRESS, HearingState.ENDED},
        lambda h, a: h.write_minutes(a, LATER, "笔录"),
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
@pytest.mark.parametrize("role", sorted(ACTORS))
def test_who_may_do_what(name: str, role: str) -> None:
    allowed_roles, states, run = TRANSITIONS[name]
    state = sorted(states)[0]
    hearing = BUILDERS[state]()
    actor = ACTORS[role]
    if role in allowed_roles:
        run(hearing, actor)
    elif role in STRANGERS:
        with pytest.raises(NotFound):
            run(hearing, actor)
    else:
        with pytest.raises(Forbidden):
            run(hearing, actor)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
@pytest.mark.parametrize("state", list(HearingState))
def test_transitions_only_from_their_states(name: str, state: HearingState) -> None:
    allowed_roles, states, run = TRANSITIONS[name]
    actor = ACTORS[sorted(allowed_roles)[0]]
    hearing = BUILDERS[state]()
    if state in states:
        run(hearing, actor)
    else:
        with pytest.raises(Conflict) as caught:
            run(hearing, actor)
        assert caught.value.code == "illegal_hearing_transition"
        assert caught.value.details == {"state": str(state), "transition": name}


def test_propose_sorts_and_checks_the_slots() -> None:
    hearing = Hearing.propose(MEDIATOR, NOW, case_id=9, case=SCOPE, slots=[at(50), at(30)])
    assert hearing.slots == [at(30), at(50)] and hearing.state is HearingState.PROPOSED
    assert hearing.mediator_id == MEDIATOR_ID and hearing.sequence == 0

    def refused(slots: list[datetime], code: str, **kw: int) -> None:
        with pytest.raises(ValidationFailed) as caught:
            Hearing.propose(MEDIATOR, NOW, case_id=9, case=SCOPE, slots=slots, **kw)
        assert caught.value.code == code and caught.value.details["field"] in (
            "slots",
            "duration_minutes",
        )

    refused([], "slots_required")
    refused([at(i + 1) for i in range(MAX_SLOTS + 1)], "too_many_slots")
    Hearing.propose(MEDIATOR, NOW, case_id=9, case=SCOPE, slots=[at(i + 1) for i in range(6)])
    refused([at(1), at(1)], "duplicate_slot")
    refused([NOW], "slot_in_past")
    refused([datetime(2027, 1, 1, 10)], "invalid_slot")
    refused([at(1)], "invalid_duration", duration_minutes=5)
    refused([at(1)], "invalid_duration", duration_minutes=241)
    for role in ("consumer", "insurer_rep", "centre_lead", "supervisor"):
        with pytest.raises(Forbidden):
            Hearing.propose(ACTORS[role], NOW, case_id=9, case=SCOPE, slots=[at(1)])
    with pytest.raises(NotFound):
        Hearing.propose(ACTORS["other_mediator"], NOW, case_id=9, case=SCOPE, slots=[at(1)])


def test_choices_are_per_party_and_among_the_proposed() -> None:
    hearing = proposed()
    hearing.choose(ACTORS["consumer"], NOW, slots=[SLOTS[2], SLOTS[0]])
    hearing.choose(ACTORS["insurer_rep"], NOW, slots=[])
    assert hearing.choices == {CONSUMER_ID: [SLOTS[0], SLOTS[2]], REP_ID: []}
    hearing.choose(ACTORS["consumer"], NOW, slots=[SLOTS[1]])
    assert hearing.choices[CONSUMER_ID] == [SLOTS[1]]
    with pytest.raises(ValidationFailed) as caught:
        hearing.choose(ACTORS["consumer"], NOW, slots=[at(500)])
    assert caught.value.code == "slot_not_proposed"
    with pytest.raises(ValidationFailed):
        hearing.choose(ACTORS["consumer"], NOW, slots=[SLOTS[0], SLOTS[0]])


def test_confirm_takes_a_proposed_future_time() -> None:
    hearing = proposed()
    with pytest.raises(ValidationFailed) as caught:
        hearing.confirm(MEDIATOR, NOW, starts_at=at(49))
    assert caught.value.details["field"] == "starts_at"
    with pytest.raises(ValidationFailed) as caught:
        hearing.confirm(MEDIATOR, SLOTS[0] + timedelta(minutes=1), starts_at=SLOTS[0])
    assert caught.value.code == "slot_in_past"
    hearing.confirm(MEDIATOR, NOW, starts_at=SLOTS[1])
    assert hearing.state is HearingState.SCHEDULED and hearing.starts_at == SLOTS[1]


def test_reschedule_clears_and_counts() -> None:
    hearing = scheduled()
    hearing.choices = {CONSUMER_ID: [SLOTS[0]]}
    hearing.mark_reminded("24h")
    with pytest.raises(ValidationFailed) as caught:
        hearing.reschedule(MEDIATOR, NOW, slots=[at(100)], reason="  ")
    assert caught.value.code == "reason_required"
    with pytest.raises(ValidationFailed) as caught:
        hearing.reschedule(MEDIATOR, NOW, slots=[at(100)], reason="x" * (MAX_REASON_LENGTH + 1))
    assert caught.value.details == {"field": "reason", "max": MAX_REASON_LENGTH}
    hearing.reschedule(MEDIATOR, NOW, slots=[at(100)], reason="x" * MAX_REASON_LENGTH)
    assert hearing.state is HearingState.PROPOSED and hearing.slots == [at(100)]
    assert hearing.choices == {} and hearing.starts_at is None
    assert hearing.reminders_sent == set() and hearing.sequence == 1
    hearing.cancel(MEDIATOR, NOW, reason="settled")
    assert hearing.state is HearingState.CANCELLED and hearing.sequence == 2
    assert hearing.reason == "settled"


def test_start_opens_half_an_hour_before() -> None:
    hearing = scheduled()
    with pytest.raises(Conflict) as caught:
        hearing.start(MEDIATOR, SLOTS[0] - timedelta(minutes=31))
    assert caught.value.code == "hearing_too_early"
    assert not hearing.is_join_open(SLOTS[0] - timedelta(minutes=31))
    assert hearing.is_join_open(SLOTS[0] - timedelta(minutes=30))
    hearing.start(MEDIATOR, SLOTS[0] - timedelta(minutes=30))
    assert hearing.state is HearingState.IN_PROGRESS and hearing.is_join_open(at(1000))
    hearing.end(MEDIATOR, LATER)
    assert hearing.ended_at == LATER and not hearing.is_join_open(LATER)
    assert hearing.join_window() is None


def test_minutes_have_a_limit() -> None:
    hearing = started()
    hearing.write_minutes(MEDIATOR, LATER, "x" * MAX_MINUTES_LENGTH)
    assert len(hearing.minutes) == MAX_MINUTES_LENGTH and hearing.minutes_updated_at == LATER
    with pytest.raises(ValidationFailed) as caught:
        hearing.write_minutes(MEDIATOR, LATER, "x" * (MAX_MINUTES_LENGTH + 1))
    assert caught.value.code == "minutes_too_long"


def test_reminders_at_their_edges() -> None:
    starts = SLOTS[2]  # 72 h ahead
    hearing = scheduled(starts)
    assert hearing.reminders_due(starts - timedelta(hours=24, seconds=1)) == []
    assert hearing.reminders_due(starts - timedelta(hours=24)) == ["24h"]
    hearing.mark_reminded("24h")
    assert hearing.reminders_due(starts - timedelta(hours=1)) == []
    assert hearing.reminders_due(starts - timedelta(minutes=15, seconds=1)) == []
    assert hearing.reminders_due(starts - timedelta(minutes=15)) == ["15m"]
    hearing.mark_reminded("15m")
    assert hearing.reminders_due(starts - timedelta(minutes=1)) == []
    assert hearing.reminders_sent == {"24h", "15m"}


def test_a_long_missed_reminder_is_skipped_for_the_later_one() -> None:
    hearing = scheduled(SLOTS[2])
    assert hearing.reminders_due(SLOTS[2] - timedelta(minutes=10)) == ["15m"]
    hearing.mark_reminded("15m")
    assert hearing.reminders_sent == {"24h", "15m"}
    assert hearing.reminders_due(SLOTS[2]) == []


def test_no_reminder_after_the_start_or_when_not_scheduled() -> None:
    hearing = scheduled(SLOTS[2])
    assert hearing.reminders_due(SLOTS[2]) == []
    assert proposed().reminders_due(SLOTS[2] - timedelta(minutes=10)) == []
    with pytest.raises(ValueError):
        hearing.mark_reminded("1h")


def test_a_confirmation_inside_a_reminder_window_counts_as_that_reminder() -> None:
    hearing = proposed()
    confirmed_at = SLOTS[0] - timedelta(hours=3)
    hearing.confirm(MEDIATOR, confirmed_at, starts_at=SLOTS[0])
    assert hearing.reminders_sent == {"24h"}
    assert hearing.reminders_due(confirmed_at) == []
    assert hearing.reminders_due(SLOTS[0] - timedelta(minutes=15)) == ["15m"]


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        proposed().choose(ACTORS["consumer"], datetime(2026, 1, 1), slots=[])
