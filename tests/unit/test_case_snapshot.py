"""Case snapshots: plain JSON data, restored to an equal aggregate that behaves the same."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from odr.domain.case_snapshot import SCHEMA, restore, snapshot
from odr.domain.cases import Case, CaseState, Category
from odr.domain.deadlines import DeadlineRules, DueKind, Stage
from odr.domain.errors import DomainError
from odr.domain.sides import Party
from tests.unit.test_cases import (
    ACTORS,
    CONSUMER,
    CONSUMER_ID,
    LEAD,
    MEDIATOR,
    REP,
    SUPERVISOR,
    SYSTEM,
    TRANSITIONS,
    case_in,
    file_case,
    later,
)

S = CaseState


def round_trip(case: Case) -> Case:
    return restore(json.loads(json.dumps(snapshot(case), ensure_ascii=False, allow_nan=False)))


def held(case: Case) -> dict[str, Any]:
    """Every field of the aggregate but its unsaved events."""
    return {f.name: getattr(case, f.name) for f in dataclasses.fields(Case) if f.name != "events"}


def assert_json_safe(value: object, path: str = "snapshot") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), path
            assert_json_safe(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_json_safe(item, f"{path}[{index}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), (path, value)


def assert_restores(case: Case) -> Case:
    data = snapshot(case)
    assert_json_safe(data)
    restored = round_trip(case)
    assert restored.events == []
    assert held(restored) == held(case)
    assert snapshot(restored) == data
    return restored


def outcome(case: Case, call: Any, actor_name: str, now: datetime) -> object:
    """What one transition does: the refusal, or the events it records and the state after."""
    before = len(case.events)
    try:
        call(case, ACTORS[actor_name], now)
    except DomainError as error:
        return type(error), error.code, error.details
    return case.events[before:], snapshot(case)


# --- Layout -----------------------------------------------------------------------------------


def test_the_snapshot_holds_every_field_but_the_events() -> None:
    data = snapshot(case_in(S.AGREEMENT_PENDING))
    assert data["schema"] == SCHEMA == 1
    assert set(data) == set(held(case_in(S.SUBMITTED))) | {"schema"}
    assert "events" not in data


def test_values_are_written_as_plain_json() -> None:
    case = case_in(S.AGREEMENT_PENDING)
    assert case.agreement is not None
    data = snapshot(case)
    assert data["state"] == "agreement_pending"
    assert data["category"] == "claims"
    assert data["received_at"] == "2026-03-02T09:00:00+08:00"
    assert data["clock"]["stage"] == "mediation"
    assert data["clock"]["time_zone"] == "Asia/Shanghai"
    assert data["clock"]["policy"]["decision_extension_days"] == [30, 60]
    assert data["clock"]["policy"]["reminder_fractions"] == [0.5, 0.8]
    assert data["answer"]["kind"] == "propose"
    assert data["agreement"]["sha256"] == case.agreement.sha256
    assert data["version"] == case.version == len(case.events)


# --- Every state, and what each state accepts next ------------------------------------------------


@pytest.mark.parametrize("state", list(CaseState))
def test_every_state_restores_equal_and_accepts_the_same_transitions(state: CaseState) -> None:
    assert_restores(case_in(state))
    for t in TRANSITIONS:
        original = case_in(state)
        if t.setup is not None:
            t.setup(original)  # a pending extension request, for its decision
        restored = assert_restores(original)
        now = t.when(original)
        for actor_name in ACTORS:
            mine, theirs = copy.deepcopy(original), copy.deepcopy(restored)
            expected = outcome(mine, t.call, actor_name, now)
            assert outcome(theirs, t.call, actor_name, now) == expected, (t.name, actor_name)


# --- The clock ------------------------------------------------------------------------------------


def test_a_clock_with_an_extension_fired_reminders_and_a_pending_request() -> None:
    rules = DeadlineRules.from_mapping(
        {
            "time_zone": "Europe/Berlin",  # the deadline crosses the change to summer time
            "default": {"reminder_fractions": [0.25, 0.5, 0.75]},
            "categories": {"surrender": {"answer_days": 10}},
        }
    )
    case = file_case(deadlines=rules)
    case.triage(
        SYSTEM,
        later(case),
        category=Category.SURRENDER,
        risk_score=70,
        risk_reasons=["regulator", "elderly"],
        care_priority=True,
        deadlines=rules,
    )
    case.request_extension(REP, later(case), reason="需要调取回访录音")
    case.approve_extension(SUPERVISOR, later(case))
    first = case.clock.reminder_at(0.25)
    case.remind(SYSTEM, first)
    case.request_extension(REP, first + timedelta(hours=1), reason="仍需调查")
    assert case.clock.extensions and case.clock.fired and case.pending_extension
    assert case.clock.due_at.utcoffset() == timedelta(hours=2)  # summer time in Berlin

    restored = assert_restores(case)
    assert restored.clock.policy.reminder_fractions == (0.25, 0.5, 0.75)
    assert restored.clock.time_zone == "Europe/Berlin"
    assert restored.clock.due_at == case.clock.due_at
    assert (restored.risk_reasons, restored.care_priority) == (("regulator", "elderly"), True)
    data = snapshot(case)["clock"]
    assert data["fired"] == sorted(case.clock.fired)
    assert data["extensions"][0]["to_days"] == 30
    assert snapshot(case)["pending_extension"]["reason"] == "仍需调查"

    probe = first
    while probe < case.clock.due_at + timedelta(days=1):
        assert restored.due_actions(probe) == case.due_actions(probe)
        probe += timedelta(hours=5)
    second = case.clock.reminder_at(0.5)
    for c in (case, restored):
        assert c.remind(SYSTEM, second).kind is DueKind.REMINDER
        c.approve_extension(SUPERVISOR, second + timedelta(minutes=1))
    assert held(restored) == held(case)
    assert restored.events == case.events[-2:]
    assert restored.clock.days == 60


def test_a_stopped_clock_stays_stopped() -> None:
    case = case_in(S.SETTLED)
    restored = assert_restores(case)
    assert restored.clock.stopped_at == case.clock.stopped_at is not None
    assert restored.clock.stage is Stage.MEDIATION
    assert restored.due_actions(case.clock.due_at + timedelta(days=90)) == []


# --- The agreement ------------------------------------------------------------------------------


def test_an_agreement_with_one_signature_is_signed_to_the_end_after_a_restore() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    agreement = case.propose_agreement(
        MEDIATOR, later(case), terms="赔付3000元", amount_fen=300_000, due_on=date(2026, 5, 1)
    )
    case.sign_agreement(CONSUMER, later(case), agreement_sha256=agreement.sha256)
    restored = assert_restores(case)
    assert restored.agreement == agreement
    assert restored.signatures == {Party.CONSUMER: CONSUMER_ID}
    assert snapshot(case)["agreement"]["due_on"] == "2026-05-01"
    assert snapshot(case)["signatures"] == {"consumer": CONSUMER_ID}

    now = later(case)
    for actor in (REP, MEDIATOR):
        restored.sign_agreement(actor, now, agreement_sha256=agreement.sha256)
        case.sign_agreement(actor, now, agreement_sha256=agreement.sha256)
    assert restored.state is S.SETTLED
    assert restored.events == case.events[-2:]
    assert held(restored) == held(case)


def test_a_lead_who_mediates_is_restored_as_the_mediator() -> None:
    case = case_in(S.MEDIATION_REQUESTED)
    case.assign_mediator(LEAD, later(case), mediator_id=LEAD.user_id or 0)
    case.accept_assignment(LEAD, later(case))
    restored = assert_restores(case)
    assert (restored.mediator_id, restored.assignment_accepted) == (LEAD.user_id, True)


# --- Refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [2, 0, "1", 1.0, True, None])
def test_an_unknown_schema_is_refused(schema: object) -> None:
    data = snapshot(case_in(S.SUBMITTED))
    data["schema"] = schema
    with pytest.raises(ValueError, match="unsupported case snapshot schema"):
        restore(data)


def test_a_missing_schema_is_refused() -> None:
    data = snapshot(case_in(S.SUBMITTED))
    del data["schema"]
    with pytest.raises(ValueError, match=r"case\.schema is missing"):
        restore(data)


def broken(change: Any) -> dict[str, Any]:
    data = snapshot(case_in(S.AGREEMENT_PENDING))
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (broken(lambda d: d.pop("version")), r"case\.version is missing"),
        (broken(lambda d: d.update(events=[])), r"case has unknown keys \['events'\]"),
        (broken(lambda d: d["clock"].update(zone="UTC")), r"case\.clock has unknown keys"),
        (broken(lambda d: d.update(version="3")), r"case\.version must be an integer"),
        (broken(lambda d: d.update(care_priority=1)), r"case\.care_priority must be true"),
        (broken(lambda d: d.update(amount_fen=True)), r"case\.amount_fen must be an integer"),
        (broken(lambda d: d.update(state="lost")), r"case\.state: unknown CaseState"),
        (
            broken(lambda d: d.update(received_at="2026-03-02T09:00:00")),
            r"case\.received_at is not an ISO instant with an offset",
        ),
        (
            broken(lambda d: d["clock"].update(time_zone="Mars/Olympus")),
            r"case\.clock: Unknown time zone",
        ),
        (
            broken(lambda d: d["clock"]["policy"].update(answer_days=0)),
            r"case\.clock: answer_days must be",
        ),
        (broken(lambda d: d["clock"].update(fired=[1])), r"case\.clock\.fired must hold strings"),
        (broken(lambda d: d.update(signatures={"judge": 9})), r"unknown Party 'judge'"),
        (
            broken(lambda d: d["agreement"].update(due_on="May 1")),
            r"case\.agreement\.due_on is not an ISO date",
        ),
        (broken(lambda d: d.update(answer=[])), r"case\.answer must be an object"),
    ],
)
def test_malformed_snapshots_are_refused_clearly(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        restore(data)


def test_only_a_mapping_is_a_snapshot() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        restore([])  # type: ignore[arg-type]
