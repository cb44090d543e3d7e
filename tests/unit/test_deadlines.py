"""The regulatory clock: calendar days, end-of-day deadlines, reminders, escalation, extensions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from odr.domain.deadlines import (
    Clock,
    DeadlinePolicy,
    DeadlineRules,
    DueKind,
    Stage,
    calendar_due_at,
    due_actions,
    local_day_start,
    next_action_at,
)
from odr.domain.errors import Conflict, ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
SANTIAGO = ZoneInfo("America/Santiago")
POLICY = DeadlinePolicy()


def answer_clock(start: datetime, zone: str = "Asia/Shanghai", **policy: object) -> Clock:
    return Clock.start(Stage.ANSWER, start, DeadlinePolicy.from_mapping(policy), zone)


# --- Calendar days and the end-of-day rule ------------------------------------------------------


def test_deadline_is_the_end_of_the_last_calendar_day_in_the_zone() -> None:
    received = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)
    # Day of receipt is day 0; day 15 is 16 March; the deadline passes at 17 March 00:00.
    assert calendar_due_at(received, 15, SHANGHAI) == datetime(2026, 3, 17, tzinfo=SHANGHAI)


@pytest.mark.parametrize("hour,minute", [(0, 0), (0, 1), (12, 0), (23, 59)])
def test_time_of_receipt_within_the_day_does_not_matter(hour: int, minute: int) -> None:
    received = datetime(2026, 3, 1, hour, minute, tzinfo=SHANGHAI)
    assert calendar_due_at(received, 15, SHANGHAI) == datetime(2026, 3, 17, tzinfo=SHANGHAI)


def test_days_are_counted_on_the_configured_zones_calendar_not_utc() -> None:
    # 1 March 00:30 in Shanghai is still 28 February in UTC.
    received = datetime(2026, 2, 28, 16, 30, tzinfo=UTC)
    due = calendar_due_at(received, 15, SHANGHAI)
    assert due == datetime(2026, 3, 17, tzinfo=SHANGHAI)
    assert due.astimezone(UTC) == datetime(2026, 3, 16, 16, 0, tzinfo=UTC)


def test_deadline_across_a_month_and_leap_day() -> None:
    received = datetime(2028, 2, 20, 9, tzinfo=SHANGHAI)
    assert calendar_due_at(received, 15, SHANGHAI) == datetime(2028, 3, 7, tzinfo=SHANGHAI)


def test_spring_forward_keeps_the_deadline_at_local_midnight() -> None:
    received = datetime(2026, 3, 20, 12, tzinfo=BERLIN)  # +01:00; DST starts 29 March
    due = calendar_due_at(received, 15, BERLIN)
    assert (due.date(), due.hour, due.minute) == (date(2026, 4, 5), 0, 0)
    assert due.utcoffset() == timedelta(hours=2)
    start_of_receipt_day = datetime(2026, 3, 20, tzinfo=BERLIN)
    assert due - start_of_receipt_day == timedelta(days=16)  # on the wall clock
    elapsed = due.astimezone(UTC) - start_of_receipt_day.astimezone(UTC)
    assert elapsed == timedelta(days=16, hours=-1)  # one day had 23 hours


def test_fall_back_keeps_the_deadline_at_local_midnight() -> None:
    received = datetime(2026, 10, 20, 12, tzinfo=BERLIN)  # +02:00; DST ends 25 October
    due = calendar_due_at(received, 15, BERLIN)
    assert due.astimezone(UTC) == datetime(2026, 11, 4, 23, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(hours=1)


def test_a_day_whose_midnight_is_skipped_starts_at_its_first_real_instant() -> None:
    # Chile moves its clocks from 00:00 to 01:00 on 6 September 2026.
    start = local_day_start(date(2026, 9, 6), SANTIAGO)
    assert start.astimezone(UTC) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert (start.hour, start.utcoffset()) == (1, timedelta(hours=-3))


def test_overdue_from_the_first_instant_after_the_last_day() -> None:
    clock = answer_clock(datetime(2026, 3, 1, 10, tzinfo=SHANGHAI))
    due = datetime(2026, 3, 17, tzinfo=SHANGHAI)
    assert clock.due_at == due
    assert not clock.is_overdue(due - timedelta(microseconds=1))
    assert clock.is_overdue(due)


def test_naive_now_is_refused() -> None:
    clock = answer_clock(datetime(2026, 3, 1, 10, tzinfo=SHANGHAI))
    with pytest.raises(ValueError, match="timezone-aware"):
        due_actions(clock, datetime(2026, 3, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock.start(Stage.ANSWER, datetime(2026, 3, 10), POLICY, "Asia/Shanghai")


# --- Reminders and escalation ---------------------------------------------------------------


START = datetime(2026, 3, 1, 0, 0, tzinfo=SHANGHAI)  # due 17 March 00:00: a 16-day span
DUE = datetime(2026, 3, 17, tzinfo=SHANGHAI)


def test_nothing_is_due_before_the_first_reminder() -> None:
    clock = answer_clock(START)
    assert due_actions(clock, START) == []
    assert due_actions(clock, START + timedelta(days=8) - timedelta(seconds=1)) == []


def test_reminders_fall_at_fractions_of_the_span_and_carry_stable_keys() -> None:
    clock = answer_clock(START)
    [half] = due_actions(clock, START + timedelta(days=8))
    assert half.kind is DueKind.REMINDER
    assert half.fraction == 0.5
    assert half.at == START + timedelta(days=8)
    assert half.due_at == DUE
    assert half.key == "answer:2026-03-16T16:00:00+00:00:reminder:0.5"
    clock = clock.mark_fired(half.key)
    assert due_actions(clock, START + timedelta(days=12)) == []
    [late] = due_actions(clock, START + timedelta(days=12, hours=19, minutes=12))  # 0.8
    assert (late.kind, late.fraction) == (DueKind.REMINDER, 0.8)
    assert late.key == "answer:2026-03-16T16:00:00+00:00:reminder:0.8"


def test_escalation_is_due_once_the_deadline_has_passed() -> None:
    clock = answer_clock(START).mark_fired("answer:2026-03-16T16:00:00+00:00:reminder:0.8")
    assert due_actions(clock, DUE - timedelta(microseconds=1)) == []
    [escalation] = due_actions(clock, DUE)
    assert escalation.kind is DueKind.ESCALATION
    assert escalation.fraction is None
    assert escalation.key == "answer:2026-03-16T16:00:00+00:00:escalation"
    assert due_actions(clock.mark_fired(escalation.key), DUE + timedelta(days=30)) == []


def test_a_worker_polling_every_hour_acts_on_each_key_exactly_once() -> None:
    clock = answer_clock(START)
    seen: list[tuple[DueKind, str]] = []
    now = START
    while now < DUE + timedelta(days=3):
        for action in due_actions(clock, now):
            assert action.key not in clock.fired
            seen.append((action.kind, action.key))
            clock = clock.mark_fired(action.key)
        now += timedelta(hours=1)
    assert [kind for kind, _ in seen] == [DueKind.REMINDER, DueKind.REMINDER, DueKind.ESCALATION]
    assert len({key for _, key in seen}) == 3


def test_overtaken_reminders_are_not_sent_late() -> None:
    clock = answer_clock(START)
    [only] = due_actions(clock, START + timedelta(days=14))  # past 0.8, nothing fired
    assert only.fraction == 0.8
    [only] = due_actions(clock, DUE + timedelta(days=1))  # past the deadline
    assert only.kind is DueKind.ESCALATION


def test_keys_do_not_depend_on_the_zone_an_instant_is_expressed_in() -> None:
    local = answer_clock(START)
    utc = answer_clock(START.astimezone(UTC))
    now = START + timedelta(days=9)
    assert due_actions(local, now)[0].key == due_actions(utc, now.astimezone(UTC))[0].key


def test_configured_reminder_fractions() -> None:
    clock = answer_clock(START, reminder_fractions=[0.25, 0.5, 0.75])
    keys = []
    for days in (4, 8, 12):
        [action] = due_actions(clock, START + timedelta(days=days))
        keys.append(action.fraction)
        clock = clock.mark_fired(action.key)
    assert keys == [0.25, 0.5, 0.75]


def test_no_reminders_configured_means_escalation_only() -> None:
    clock = answer_clock(START, reminder_fractions=[])
    assert due_actions(clock, DUE - timedelta(seconds=1)) == []
    assert [a.kind for a in due_actions(clock, DUE)] == [DueKind.ESCALATION]


def test_a_stopped_clock_asks_for_nothing() -> None:
    clock = answer_clock(START).stop(START + timedelta(days=3))
    assert due_actions(clock, DUE + timedelta(days=1)) == []
    assert next_action_at(clock, START) is None
    assert not clock.is_overdue(DUE + timedelta(days=1))


def test_next_action_at_lets_a_worker_sleep_until_the_next_checkpoint() -> None:
    clock = answer_clock(START)
    assert next_action_at(clock, START) == START + timedelta(days=8)
    now = START + timedelta(days=9)
    assert next_action_at(clock, now) == now  # the 0.5 reminder is waiting
    clock = clock.mark_fired(due_actions(clock, now)[0].key)
    assert next_action_at(clock, now) == START + timedelta(days=12, hours=19, minutes=12)
    everything = clock.mark_fired(clock.key(DueKind.REMINDER, 0.8)).mark_fired(
        clock.key(DueKind.ESCALATION)
    )
    assert next_action_at(everything, now) is None


def test_mediation_stage_is_30_days_from_the_request() -> None:
    requested = datetime(2026, 4, 10, 15, tzinfo=SHANGHAI)
    clock = Clock.start(Stage.MEDIATION, requested, POLICY, "Asia/Shanghai")
    assert clock.days == 30
    assert clock.due_at == datetime(2026, 5, 11, tzinfo=SHANGHAI)
    [escalation] = due_actions(clock, clock.due_at)
    assert escalation.key.startswith("mediation:")


# --- Extensions ---------------------------------------------------------------------------------


def extend(clock: Clock, reason: str = "needs a medical appraisal") -> Clock:
    return clock.extend(reason=reason, approved_by=51, requested_by=20, at=START)


def test_decision_deadline_extends_from_15_to_30_then_60_days_then_no_more() -> None:
    clock = answer_clock(START)
    assert (clock.days, clock.due_at) == (15, datetime(2026, 3, 17, tzinfo=SHANGHAI))
    clock = extend(clock)
    assert (clock.days, clock.due_at) == (30, datetime(2026, 4, 1, tzinfo=SHANGHAI))
    clock = extend(clock, "  a second appraisal  ")
    assert (clock.days, clock.due_at) == (60, datetime(2026, 5, 1, tzinfo=SHANGHAI))
    assert [(e.from_days, e.to_days) for e in clock.extensions] == [(15, 30), (30, 60)]
    assert clock.extensions[1].reason == "a second appraisal"
    assert (clock.extensions[0].approved_by, clock.extensions[0].requested_by) == (51, 20)
    with pytest.raises(Conflict) as info:
        extend(clock)
    assert info.value.code == "extension_not_allowed"


def test_mediation_extends_once_by_30_days() -> None:
    clock = Clock.start(Stage.MEDIATION, START, POLICY, "Asia/Shanghai")
    clock = extend(clock)
    assert clock.days == 60
    with pytest.raises(Conflict) as info:
        extend(clock)
    assert info.value.code == "extension_not_allowed"


def test_an_extension_needs_a_reason_and_an_approver() -> None:
    clock = answer_clock(START)
    with pytest.raises(ValidationFailed) as info:
        extend(clock, "   ")
    assert info.value.code == "extension_reason_required"
    with pytest.raises(ValidationFailed) as info:
        clock.extend(reason="complex", approved_by=None, requested_by=20, at=START)
    assert info.value.code == "extension_approver_required"
    assert clock.days == 15


def test_a_stopped_clock_cannot_be_extended() -> None:
    with pytest.raises(Conflict) as info:
        extend(answer_clock(START).stop(START))
    assert info.value.code == "extension_not_allowed"


def test_an_extension_brings_new_reminder_keys() -> None:
    clock = answer_clock(START)
    old = due_actions(clock, START + timedelta(days=9))[0]
    clock = extend(clock.mark_fired(old.key))
    # Span is now 31 days (to 1 April 00:00); its half falls on 16 March 12:00.
    assert due_actions(clock, START + timedelta(days=15, hours=11)) == []
    [new] = due_actions(clock, START + timedelta(days=15, hours=12))
    assert new.fraction == 0.5
    assert new.key != old.key
    assert new.key == "answer:2026-03-31T16:00:00+00:00:reminder:0.5"


# --- Configuration ----------------------------------------------------------------------------


def test_defaults_follow_the_rules_for_insurance_complaints() -> None:
    policy = DeadlinePolicy()
    assert (policy.answer_days, policy.decision_days) == (15, 15)
    assert policy.extension_ladder(Stage.ANSWER) == (30, 60)
    assert (policy.mediation_days, policy.extension_ladder(Stage.MEDIATION)) == (30, (60,))
    assert policy.reminder_fractions == (0.5, 0.8)


def test_rules_from_configuration_override_per_category() -> None:
    rules = DeadlineRules.from_mapping(
        {
            "time_zone": "Europe/Berlin",
            "default": {"reminder_fractions": [0.6]},
            "categories": {"payment_refund": {"answer_days": 7}},
        },
        categories=["claims", "payment_refund"],
    )
    assert rules.time_zone == "Europe/Berlin"
    refund = rules.for_category("payment_refund")
    assert (refund.answer_days, refund.reminder_fractions) == (7, (0.6,))
    claims = rules.for_category("claims")
    assert (claims.answer_days, claims.reminder_fractions) == (15, (0.6,))
    # START (1 March 00:00 in Shanghai) is still 28 February in Berlin: 7 days end 7 March.
    clock = Clock.start(Stage.ANSWER, START, refund, rules.time_zone)
    assert clock.due_at == datetime(2026, 3, 8, tzinfo=BERLIN)


def test_empty_configuration_gives_the_defaults() -> None:
    rules = DeadlineRules.from_mapping({})
    assert rules.time_zone == "Asia/Shanghai"
    assert rules.for_category("claims") == DeadlinePolicy()


@pytest.mark.parametrize(
    "settings,field",
    [
        ({"answer_days": 0}, "answer_days"),
        ({"answer_days": "15"}, "answer_days"),
        ({"answer_days": True}, "answer_days"),
        ({"answer_days": 20}, "answer_days"),  # more than the decision deadline
        ({"decision_extension_days": [60, 30]}, "decision_extension_days"),
        ({"decision_extension_days": [15]}, "decision_extension_days"),
        ({"mediation_extension_days": 60}, "mediation_extension_days"),
        ({"reminder_fractions": [0.8, 0.5]}, "reminder_fractions"),
        ({"reminder_fractions": [1.0]}, "reminder_fractions"),
        ({"reminder_fractions": [0]}, "reminder_fractions"),
        ({"reminder_fractions": ["0.5"]}, "reminder_fractions"),
        ({"answer_dayz": 10}, "answer_dayz"),
    ],
)
def test_bad_policy_settings_are_refused(settings: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        DeadlinePolicy.from_mapping(settings)
    assert info.value.code == "invalid_deadline_policy"
    assert info.value.details["field"] == field


def test_unknown_category_or_time_zone_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        DeadlineRules.from_mapping({"categories": {"clams": {}}}, categories=["claims"])
    assert info.value.code == "invalid_deadline_policy"
    with pytest.raises(ValidationFailed) as info:
        DeadlineRules.from_mapping({"time_zone": "Mars/Olympus"})
    assert info.value.code == "invalid_time_zone"
    with pytest.raises(ValidationFailed) as info:
        DeadlineRules.from_mapping({"categories": {"claims": 15}})
    assert info.value.code == "invalid_deadline_policy"
