"""The case aggregate: every transition by every role in every state, then the rules of each."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from odr.domain.accounts import Actor, Role
from odr.domain.authz import EvidenceScope
from odr.domain.cases import (
    AnswerKind,
    Case,
    CaseEvent,
    CaseState,
    Category,
    ChannelKind,
    EventKind,
    format_case_number,
    parse_case_number,
)
from odr.domain.deadlines import DeadlineRules, DueKind, Stage
from odr.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from odr.domain.sides import Party

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
RULES = DeadlineRules()
PAYMENT_DUE = date(2026, 3, 31)  # the fixture agreement's due date
AFTER_DUE = datetime(2026, 4, 2, 9, 0, tzinfo=SHANGHAI)

CONSUMER_ID, OTHER_CONSUMER_ID = 1, 2
INSURER, OTHER_INSURER = 10, 11
REP_ID, OTHER_REP_ID = 20, 21
MEDIATOR_ID, OTHER_MEDIATOR_ID = 30, 31
CENTRE, LEAD_ID = 40, 41
PLATFORM, SUPERVISOR_ID = 50, 51
CHANNEL = 60

ACTORS: dict[str, Actor] = {
    "consumer": Actor(CONSUMER_ID, Role.CONSUMER),
    "other_consumer": Actor(OTHER_CONSUMER_ID, Role.CONSUMER),
    "insurer_rep": Actor(REP_ID, Role.INSURER_REP, organisation_id=INSURER),
    "other_insurer_rep": Actor(OTHER_REP_ID, Role.INSURER_REP, organisation_id=OTHER_INSURER),
    "mediator": Actor(MEDIATOR_ID, Role.MEDIATOR, organisation_id=CENTRE),
    "other_mediator": Actor(OTHER_MEDIATOR_ID, Role.MEDIATOR, organisation_id=CENTRE),
    "centre_lead": Actor(LEAD_ID, Role.CENTRE_LEAD, organisation_id=CENTRE),
    "supervisor": Actor(SUPERVISOR_ID, Role.SUPERVISOR, organisation_id=PLATFORM),
    "channel": Actor.for_channel(CHANNEL),
    "system": Actor.system(),
}
CONSUMER = ACTORS["consumer"]
REP = ACTORS["insurer_rep"]
MEDIATOR = ACTORS["mediator"]
LEAD = ACTORS["centre_lead"]
SUPERVISOR = ACTORS["supervisor"]
SYSTEM = ACTORS["system"]

S = CaseState
ALL = frozenset(S)
TERMINAL = frozenset({S.RESOLVED, S.WITHDRAWN, S.FULFILLED, S.NOT_SETTLED})
OPEN = ALL - TERMINAL - {S.CLOSED}
MEDIATION = frozenset(
    {S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED, S.IN_HEARING}
    | {S.AGREEMENT_PENDING}
)
CLOCK_RUNS = frozenset({S.SUBMITTED, S.AWAITING_INSURER, S.ESCALATED}) | MEDIATION
#: States the fixtures reach with a centre chosen / a mediator assigned (see PATHS).
WITH_MEDIATOR = frozenset(
    {S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED, S.IN_HEARING, S.AGREEMENT_PENDING, S.SETTLED}
    | {S.FULFILLED, S.NOT_SETTLED, S.CLOSED}
)
WITH_CENTRE = WITH_MEDIATOR | {S.MEDIATION_REQUESTED}
#: States whose fixtures' clock is at the mediation stage (running or stopped); elsewhere the
#: answer stage.
MEDIATION_CLOCK = MEDIATION | {S.SETTLED, S.FULFILLED, S.NOT_SETTLED, S.CLOSED}


# --- Building a case in each state -------------------------------------------------------------


def later(case: Case, hours: int = 1) -> datetime:
    return case.events[-1].at + timedelta(hours=hours)


def file_case(actor: Actor | None = None, **overrides: Any) -> Case:
    arguments: dict[str, Any] = {
        "case_id": 7,
        "number": "ODR-2026-000123",
        "consumer_id": CONSUMER_ID,
        "insurer_id": INSURER,
        "policy_numbers": ["AK2023100188"],
        "category": Category.CLAIMS,
        "deadlines": RULES,
        "amount_fen": 320_000,
        "channel_kind": ChannelKind.PARTNER_API,
    }
    arguments.update(overrides)
    return Case.file(actor or ACTORS["channel"], T0, **arguments)


def state_of(case: Case) -> CaseState:
    """The state, read afresh (keeps mypy from narrowing ``case.state`` across calls)."""
    return case.state


def sign_all(case: Case) -> None:
    assert case.agreement is not None
    for actor in (CONSUMER, REP, MEDIATOR):
        case.sign_agreement(actor, later(case), agreement_sha256=case.agreement.sha256)


Step = Callable[[Case], object]
#: How the fixtures reach each state: from which state, by which step.
PATHS: dict[CaseState, tuple[CaseState, Step]] = {
    S.AWAITING_INSURER: (
        S.SUBMITTED,
        lambda c: c.triage(
            SYSTEM, later(c), category=Category.CLAIMS, risk_score=12, deadlines=RULES
        ),
    ),
    S.INSURER_ANSWERED: (
        S.AWAITING_INSURER,
        lambda c: c.answer_complaint(
            REP, later(c), kind=AnswerKind.PROPOSE, text="我们愿意赔付2000元。"
        ),
    ),
    S.RESOLVED: (S.INSURER_ANSWERED, lambda c: c.accept_answer(CONSUMER, later(c))),
    S.ESCALATED: (S.AWAITING_INSURER, lambda c: c.escalate(SYSTEM, c.clock.due_at)),
    S.MEDIATION_REQUESTED: (
        S.INSURER_ANSWERED,
        lambda c: c.request_mediation(CONSUMER, later(c), centre_id=CENTRE),
    ),
    S.MEDIATOR_ASSIGNED: (
        S.MEDIATION_REQUESTED,
        lambda c: c.assign_mediator(LEAD, later(c), mediator_id=MEDIATOR_ID),
    ),
    S.HEARING_SCHEDULED: (
        S.MEDIATOR_ASSIGNED,
        lambda c: c.schedule_hearing(MEDIATOR, later(c), starts_at=later(c, 48)),
    ),
    S.IN_HEARING: (S.HEARING_SCHEDULED, lambda c: c.start_hearing(MEDIATOR, later(c))),
    S.AGREEMENT_PENDING: (
        S.HEARING_SCHEDULED,
        lambda c: c.propose_agreement(
            MEDIATOR,
            later(c),
            terms="保险公司赔付3000元。",
            amount_fen=300_000,
            due_on=PAYMENT_DUE,
        ),
    ),
    S.SETTLED: (S.AGREEMENT_PENDING, sign_all),
    S.FULFILLED: (S.SETTLED, lambda c: c.confirm_payment(CONSUMER, later(c))),
    S.NOT_SETTLED: (
        S.HEARING_SCHEDULED,
        lambda c: c.declare_not_settled(MEDIATOR, later(c), reason="双方分歧过大"),
    ),
    S.WITHDRAWN: (S.AWAITING_INSURER, lambda c: c.withdraw(CONSUMER, later(c))),
    S.CLOSED: (S.NOT_SETTLED, lambda c: c.close(MEDIATOR, later(c))),
}
_built: dict[CaseState, Case] = {}


def case_in(state: CaseState) -> Case:
    """A fresh case in ``state``, reached through the transitions themselves."""
    if state not in _built:
        if state is S.SUBMITTED:
            case = file_case()
        else:
            parent, step = PATHS[state]
            case = case_in(parent)
            step(case)
        assert case.state is state
        _built[state] = case
    return copy.deepcopy(_built[state])


def test_every_state_has_a_fixture() -> None:
    assert set(PATHS) | {S.SUBMITTED} == ALL


@pytest.mark.parametrize("state", list(CaseState))
def test_the_fixtures_clock_stage(state: CaseState) -> None:
    expected = Stage.MEDIATION if state in MEDIATION_CLOCK else Stage.ANSWER
    assert case_in(state).clock.stage is expected


# --- Every transition × every role × every state ----------------------------------------------


@dataclass(frozen=True)
class Transition:
    name: str
    who: frozenset[str]  # the actors allowed (when they are related to the case at all)
    states: frozenset[CaseState]
    to: Callable[[CaseState], CaseState]
    event: EventKind
    call: Callable[[Case, Actor, datetime], object]
    when: Callable[[Case], datetime] = later
    setup: Callable[[Case], object] | None = None
    refused: dict[CaseState, str] = field(default_factory=dict)  # state → Conflict code
    who_in: dict[CaseState, frozenset[str]] = field(default_factory=dict)  # instead of ``who``

    def allowed(self, state: CaseState) -> frozenset[str]:
        return self.who_in.get(state, self.who)


def same(state: CaseState) -> CaseState:
    return state


def goes(target: CaseState) -> Callable[[CaseState], CaseState]:
    return lambda _state: target


def request_extension_first(case: Case) -> None:
    if case.state is S.AWAITING_INSURER:
        case.request_extension(REP, later(case), reason="需要补充鉴定")
    elif case.state is S.MEDIATION_REQUESTED:
        # no mediator yet: one is assigned, asks for time, then gives the case back
        case.assign_mediator(LEAD, later(case), mediator_id=MEDIATOR_ID)
        case.request_extension(MEDIATOR, later(case), reason="需要补充鉴定")
        case.decline_assignment(MEDIATOR, later(case), reason="利益冲突")
    elif case.state in MEDIATION:
        case.request_extension(MEDIATOR, later(case), reason="需要补充鉴定")


def agreement_hash(case: Case) -> str:
    return case.agreement.sha256 if case.agreement else "0" * 64


ANY = {"consumer", "insurer_rep", "mediator"}
SIDES = frozenset({"consumer", "insurer_rep"})
NEGOTIATION = frozenset(
    {S.INSURER_ANSWERED, S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED}
)


def resolves_before_mediation(state: CaseState) -> CaseState:
    return S.RESOLVED if state is S.INSURER_ANSWERED else state


TRANSITIONS = [
    Transition(
        "triage",
        frozenset({"supervisor", "system"}),
        frozenset({S.SUBMITTED}),
        goes(S.AWAITING_INSURER),
        EventKind.TRIAGED,
        lambda c, a, t: c.triage(a, t, category=Category.CLAIMS, risk_score=40, deadlines=RULES),
    ),
    Transition(
        "answer_complaint",
        frozenset({"insurer_rep"}),
        frozenset({S.AWAITING_INSURER}),
        goes(S.INSURER_ANSWERED),
        EventKind.ANSWERED,
        lambda c, a, t: c.answer_complaint(a, t, kind=AnswerKind.REJECT, text="不符合条款"),
    ),
    Transition(
        "accept_answer",
        frozenset({"consumer"}),
        frozenset({S.INSURER_ANSWERED}),
        goes(S.RESOLVED),
        EventKind.ANSWER_ACCEPTED,
        lambda c, a, t: c.accept_answer(a, t),
    ),
    Transition(
        "reject_answer",
        frozenset({"consumer"}),
        frozenset({S.INSURER_ANSWERED}),
        goes(S.MEDIATION_REQUESTED),
        EventKind.ANSWER_REJECTED,
        lambda c, a, t: c.reject_answer(a, t, centre_id=CENTRE, reason="赔付太少"),
    ),
    Transition(
        "request_mediation",
        frozenset({"consumer"}),
        frozenset({S.INSURER_ANSWERED}),
        goes(S.MEDIATION_REQUESTED),
        EventKind.MEDIATION_REQUESTED,
        lambda c, a, t: c.request_mediation(a, t, centre_id=CENTRE),
    ),
    Transition(
        "remind",
        frozenset({"system"}),
        CLOCK_RUNS,
        same,
        EventKind.REMINDER,
        lambda c, a, t: c.remind(a, t),
        when=lambda c: max(later(c), c.clock.reminder_at(0.5)),
        refused={S.ESCALATED: "reminder_not_due"},  # the deadline is past: escalation only
    ),
    Transition(
        "escalate",
        frozenset({"system"}),
        CLOCK_RUNS,
        lambda s: S.ESCALATED if s is S.AWAITING_INSURER else s,
        EventKind.ESCALATED,
        lambda c, a, t: c.escalate(a, t),
        when=lambda c: max(later(c), c.clock.due_at),
        refused={S.ESCALATED: "escalation_not_due"},  # escalated once for this deadline
    ),
    Transition(
        "refer_to_mediation",
        frozenset({"supervisor"}),
        frozenset({S.ESCALATED}),
        goes(S.MEDIATION_REQUESTED),
        EventKind.REFERRED_TO_MEDIATION,
        lambda c, a, t: c.refer_to_mediation(a, t, centre_id=CENTRE),
    ),
    Transition(
        "return_to_insurer",
        frozenset({"supervisor"}),
        frozenset({S.ESCALATED}),
        goes(S.AWAITING_INSURER),
        EventKind.RETURNED_TO_INSURER,
        lambda c, a, t: c.return_to_insurer(a, t, note="请尽快答复"),
    ),
    Transition(
        "request_extension",
        frozenset({"insurer_rep"}),  # the insurer for its answer deadline ...
        MEDIATION | {S.AWAITING_INSURER},
        same,
        EventKind.EXTENSION_REQUESTED,
        lambda c, a, t: c.request_extension(a, t, reason="案情复杂"),
        who_in=dict.fromkeys(MEDIATION_CLOCK, frozenset({"mediator"})),  # ... the mediator
    ),
    Transition(
        "approve_extension",
        frozenset({"supervisor", "centre_lead"}),
        MEDIATION | {S.AWAITING_INSURER, S.ESCALATED},
        same,
        EventKind.DEADLINE_EXTENDED,
        lambda c, a, t: c.approve_extension(a, t),
        setup=request_extension_first,
        refused={S.ESCALATED: "no_extension_requested"},
    ),
    Transition(
        "refuse_extension",
        frozenset({"supervisor", "centre_lead"}),
        MEDIATION | {S.AWAITING_INSURER, S.ESCALATED},
        same,
        EventKind.EXTENSION_REFUSED,
        lambda c, a, t: c.refuse_extension(a, t, reason="理由不充分"),
        setup=request_extension_first,
        refused={S.ESCALATED: "no_extension_requested"},
    ),
    Transition(
        "assign_mediator",
        frozenset({"centre_lead", "system"}),
        frozenset({S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED}),
        goes(S.MEDIATOR_ASSIGNED),
        EventKind.MEDIATOR_ASSIGNED,
        lambda c, a, t: c.assign_mediator(a, t, mediator_id=OTHER_MEDIATOR_ID),
    ),
    Transition(
        "accept_assignment",
        frozenset({"mediator"}),
        frozenset({S.MEDIATOR_ASSIGNED}),
        same,
        EventKind.ASSIGNMENT_ACCEPTED,
        lambda c, a, t: c.accept_assignment(a, t),
    ),
    Transition(
        "decline_assignment",
        frozenset({"mediator"}),
        frozenset({S.MEDIATOR_ASSIGNED}),
        goes(S.MEDIATION_REQUESTED),
        EventKind.ASSIGNMENT_DECLINED,
        lambda c, a, t: c.decline_assignment(a, t, reason="利益冲突"),
    ),
    Transition(
        "schedule_hearing",
        frozenset({"mediator"}),
        frozenset({S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED}),
        goes(S.HEARING_SCHEDULED),
        EventKind.HEARING_SCHEDULED,
        lambda c, a, t: c.schedule_hearing(a, t, starts_at=t + timedelta(days=2)),
    ),
    Transition(
        "start_hearing",
        frozenset({"mediator"}),
        frozenset({S.HEARING_SCHEDULED}),
        goes(S.IN_HEARING),
        EventKind.HEARING_STARTED,
        lambda c, a, t: c.start_hearing(a, t),
    ),
    Transition(
        "end_hearing",
        frozenset({"mediator"}),
        frozenset({S.IN_HEARING}),
        goes(S.HEARING_SCHEDULED),
        EventKind.HEARING_ENDED,
        lambda c, a, t: c.end_hearing(a, t),
    ),
    Transition(
        "propose_agreement",
        frozenset({"mediator"}),
        frozenset({S.HEARING_SCHEDULED, S.AGREEMENT_PENDING}),
        goes(S.AGREEMENT_PENDING),
        EventKind.AGREEMENT_PROPOSED,
        lambda c, a, t: c.propose_agreement(a, t, terms="赔付2500元", amount_fen=250_000),
    ),
    Transition(
        "sign_agreement",
        frozenset(ANY),
        frozenset({S.AGREEMENT_PENDING}),
        same,  # one signature of three
        EventKind.AGREEMENT_SIGNED,
        lambda c, a, t: c.sign_agreement(a, t, agreement_sha256=agreement_hash(c)),
    ),
    Transition(
        "record_payment",
        frozenset({"insurer_rep"}),
        frozenset({S.SETTLED}),
        same,
        EventKind.PAYMENT_RECORDED,
        lambda c, a, t: c.record_payment(a, t, amount_fen=300_000, reference="TX-1"),
    ),
    Transition(
        "confirm_payment",
        frozenset({"consumer"}),
        frozenset({S.SETTLED}),
        goes(S.FULFILLED),
        EventKind.PAYMENT_CONFIRMED,
        lambda c, a, t: c.confirm_payment(a, t),
    ),
    Transition(
        "dispute_payment",
        frozenset({"consumer"}),
        frozenset({S.SETTLED}),
        same,
        EventKind.PAYMENT_DISPUTED,
        lambda c, a, t: c.dispute_payment(a, t, reason="尚未收到赔款"),
    ),
    Transition(
        "remind_payment",
        frozenset({"system"}),
        frozenset({S.SETTLED}),
        same,
        EventKind.PAYMENT_REMINDER,
        lambda c, a, t: c.remind_payment(a, t, key="payment:reminder:1"),
        when=lambda c: max(later(c), AFTER_DUE),
    ),
    Transition(
        "escalate_payment",
        frozenset({"system"}),
        frozenset({S.SETTLED}),
        same,
        EventKind.PAYMENT_ESCALATED,
        lambda c, a, t: c.escalate_payment(a, t, key="payment:escalation"),
        when=lambda c: max(later(c), AFTER_DUE),
    ),
    Transition(
        "remind_confirmation",
        frozenset({"system"}),
        frozenset({S.SETTLED, S.FULFILLED, S.CLOSED}),
        same,
        EventKind.CONFIRMATION_REMINDER,
        lambda c, a, t: c.remind_confirmation(
            a, t, key="confirmation:10", window_ends_on=date(2026, 12, 31)
        ),
        refused={S.CLOSED: "no_signed_agreement"},  # the fixture closed without agreement
    ),
    Transition(
        "make_offer",
        SIDES,
        NEGOTIATION,
        same,
        EventKind.OFFER_MADE,
        lambda c, a, t: c.make_offer(a, t, amount_fen=250_000, text="愿意和解"),
    ),
    Transition(
        "answer_offer",
        SIDES,
        NEGOTIATION,
        resolves_before_mediation,
        EventKind.OFFER_ANSWERED,
        lambda c, a, t: c.answer_offer(a, t, offer_sequence=3, amount_fen=250_000, accept=True),
    ),
    Transition(
        "submit_blind_offer",
        SIDES,
        NEGOTIATION,
        same,
        EventKind.BLIND_OFFER_SUBMITTED,
        lambda c, a, t: c.submit_blind_offer(a, t, round_no=1, commitment="ef" * 32),
    ),
    Transition(
        "end_blind_round",
        SIDES,
        NEGOTIATION,
        resolves_before_mediation,
        EventKind.BLIND_ROUND_ENDED,
        lambda c, a, t: c.end_blind_round(a, t, round_no=1, settled_fen=260_000),
    ),
    Transition(
        "declare_not_settled",
        frozenset({"mediator"}),
        frozenset({S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED, S.AGREEMENT_PENDING}),
        goes(S.NOT_SETTLED),
        EventKind.NOT_SETTLED,
        lambda c, a, t: c.declare_not_settled(a, t, reason="保险公司拒绝调解"),
    ),
    Transition(
        "withdraw",
        frozenset({"consumer"}),
        OPEN - {S.SETTLED},  # a signed agreement is carried out, not withdrawn
        goes(S.WITHDRAWN),
        EventKind.WITHDRAWN,
        lambda c, a, t: c.withdraw(a, t, reason="已自行和解"),
    ),
    Transition(
        "close",
        frozenset({"mediator", "supervisor", "system"}),
        TERMINAL,
        goes(S.CLOSED),
        EventKind.CLOSED,
        lambda c, a, t: c.close(a, t),
    ),
    Transition(
        "send_message",
        frozenset(ANY),
        ALL - {S.CLOSED},
        same,
        EventKind.MESSAGE_SENT,
        lambda c, a, t: c.send_message(a, t, text="请问进展如何？"),
    ),
    Transition(
        "correct_category",
        frozenset({"insurer_rep", "mediator"}),
        ALL,
        same,
        EventKind.CATEGORY_CORRECTED,
        lambda c, a, t: c.correct_category(a, t, category=Category.PRIVACY, reason="泄露信息"),
    ),
    Transition(
        "add_evidence",
        frozenset(ANY),
        ALL - {S.CLOSED},
        same,
        EventKind.EVIDENCE_ADDED,
        lambda c, a, t: c.add_evidence(
            a,
            t,
            sha256="ab" * 32,
            size=1024,
            name="保单.pdf",
            media_type="application/pdf",
            kind="document",
        ),
    ),
    Transition(
        "withdraw_evidence",
        frozenset(ANY),
        ALL - {S.CLOSED},
        same,
        EventKind.EVIDENCE_WITHDRAWN,
        lambda c, a, t: c.withdraw_evidence(
            a, t, item=EvidenceScope(c.scope(), submitter_id=a.user_id), sequence=2
        ),
    ),
    Transition(
        "record_redaction",
        frozenset({"system"}),
        ALL,
        same,
        EventKind.EVIDENCE_REDACTED,
        lambda c, a, t: c.record_redaction(
            a,
            t,
            sequence=2,
            visibility="all_parties",
            sha256="ab" * 32,
            redacted_sha256="cd" * 32,
            regions=[{"page": 1, "kind": "resident_id", "box": [1, 2, 30, 12]}],
        ),
    ),
    Transition(
        "request_redaction",
        SIDES,
        ALL - {S.CLOSED},
        same,
        EventKind.REDACTION_REQUESTED,
        lambda c, a, t: c.request_redaction(
            a, t, item=EvidenceScope(c.scope(), submitter_id=a.user_id), sequence=2, note="地址"
        ),
    ),
    Transition(
        "enter_record",
        frozenset({"system"}),
        ALL,
        same,
        EventKind.EVIDENCE_ADDED,
        lambda c, a, t: c.enter_record(
            a,
            t,
            sha256="cd" * 32,
            size=2048,
            name="u7-0000.webm",
            media_type="video/webm",
            kind="recording",
        ),
    ),
    Transition(
        "purge_evidence",
        frozenset({"system"}),
        TERMINAL | {S.CLOSED},
        same,
        EventKind.EVIDENCE_PURGED,
        lambda c, a, t: c.purge_evidence(a, t, items=[(2, "ab" * 32)], policy="3 years"),
    ),
]


def related(actor_name: str, state: CaseState) -> bool:
    """Whether the actor has any standing on the fixture case in ``state``."""
    if actor_name.startswith("other_"):
        return False
    if actor_name == "mediator":
        return state in WITH_MEDIATOR
    if actor_name == "centre_lead":
        return state in WITH_CENTRE
    return True  # the consumer, the insurer's rep, a supervisor, the filing channel, the system


def expected(t: Transition, actor_name: str, state: CaseState) -> tuple[type[DomainError], str]:
    """The refusal the actor gets, or (None-like) ``(DomainError, "")`` when allowed."""
    if actor_name == "channel" or not related(actor_name, state):
        return NotFound, "case_not_found"  # a channel only reads the status of its cases
    if actor_name not in t.allowed(state):
        return Forbidden, "forbidden"
    if state not in t.states:
        return Conflict, "illegal_transition"
    if state in t.refused:
        return Conflict, t.refused[state]
    return DomainError, ""


MATRIX = [
    pytest.param(t, actor, state, id=f"{t.name}-{actor}-{state}")
    for t in TRANSITIONS
    for actor in ACTORS
    for state in CaseState
]


@pytest.mark.parametrize("t,actor_name,state", MATRIX)
def test_transition_by_role_in_state(t: Transition, actor_name: str, state: CaseState) -> None:
    case = case_in(state)
    if t.setup is not None:
        t.setup(case)
    actor = ACTORS[actor_name]
    now = t.when(case)
    before_version, before_events = case.version, len(case.events)
    error, code = expected(t, actor_name, state)

    if code:
        with pytest.raises(DomainError) as info:
            t.call(case, actor, now)
        assert type(info.value) is error
        assert info.value.code == code
        if code == "illegal_transition":
            assert str(state) in info.value.message
            assert info.value.details == {"state": str(state), "transition": t.name}
        assert case.state is state  # nothing changed, nothing recorded
        assert (case.version, len(case.events)) == (before_version, before_events)
        return

    t.call(case, actor, now)
    target = t.to(state)
    assert case.state is target
    assert len(case.events) == before_events + 1
    event = case.events[-1]
    assert (event.kind, event.from_state, event.to_state) == (t.event, state, target)
    assert (event.actor_user_id, event.actor_role, event.at) == (actor.user_id, actor.role, now)
    assert (event.case_id, event.sequence, case.version) == (
        7,
        before_version + 1,
        before_version + 1,
    )


def test_the_matrix_covers_every_transition_method() -> None:
    public = {
        name for name, value in vars(Case).items() if callable(value) and not name.startswith("_")
    }
    not_transitions = {"scope", "due_actions", "file"}
    assert public - not_transitions == {t.name for t in TRANSITIONS}


# --- Filing -----------------------------------------------------------------------------------


def test_a_consumer_files_on_the_web() -> None:
    case = file_case(CONSUMER, channel_kind=ChannelKind.WEB, policy_numbers=[" P1 ", "P2", "P1"])
    assert case.state is S.SUBMITTED
    assert (case.channel_kind, case.channel_id) == (ChannelKind.WEB, None)
    assert case.policy_numbers == ("P1", "P2")
    assert (case.version, len(case.events)) == (1, 1)
    [event] = case.events
    assert (event.kind, event.sequence, event.from_state, event.to_state) == (
        EventKind.FILED,
        1,
        None,
        S.SUBMITTED,
    )
    assert event.payload["number"] == "ODR-2026-000123"
    assert event.payload["amount_fen"] == 320_000
    assert case.clock.stage is Stage.ANSWER
    assert case.clock.due_at == datetime(2026, 3, 18, tzinfo=SHANGHAI)


def test_a_channel_files_for_a_consumer_and_keeps_read_access() -> None:
    case = file_case()
    assert (case.channel_kind, case.channel_id) == (ChannelKind.PARTNER_API, CHANNEL)
    assert case.scope().channel_id == CHANNEL
    assert case.events[0].actor_channel_id == CHANNEL


def test_a_supervisor_registers_a_regulator_referral_received_earlier() -> None:
    received = T0 - timedelta(days=3)
    case = file_case(SUPERVISOR, channel_kind=ChannelKind.REGULATOR_REFERRAL, received_at=received)
    assert case.received_at == received
    assert case.clock.due_at == datetime(2026, 3, 15, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "actor_name,kind,error,code",
    [
        ("other_consumer", ChannelKind.WEB, Forbidden, "forbidden"),  # not their complaint
        ("insurer_rep", ChannelKind.WEB, Forbidden, "forbidden"),
        ("mediator", ChannelKind.WEB, Forbidden, "forbidden"),
        ("centre_lead", ChannelKind.WEB, Forbidden, "forbidden"),
        ("supervisor", ChannelKind.WEB, Forbidden, "forbidden"),
        ("system", ChannelKind.WEB, Forbidden, "forbidden"),
        ("system", ChannelKind.PARTNER_API, Forbidden, "forbidden"),
        ("consumer", ChannelKind.REGULATOR_REFERRAL, Forbidden, "forbidden"),
        ("channel", ChannelKind.REGULATOR_REFERRAL, Forbidden, "forbidden"),
        ("consumer", ChannelKind.PARTNER_API, ValidationFailed, "invalid_channel_kind"),
        ("channel", ChannelKind.WEB, ValidationFailed, "invalid_channel_kind"),
    ],
)
def test_who_may_file_and_through_which_channel(
    actor_name: str, kind: ChannelKind, error: type[DomainError], code: str
) -> None:
    with pytest.raises(DomainError) as info:
        file_case(ACTORS[actor_name], channel_kind=kind)
    assert (type(info.value), info.value.code) == (error, code)


@pytest.mark.parametrize(
    "overrides,code",
    [
        ({"policy_numbers": []}, "policy_number_required"),
        ({"policy_numbers": ["  "]}, "invalid_policy_number"),
        ({"amount_fen": -1}, "invalid_amount"),
        ({"amount_fen": 12.5}, "invalid_amount"),
        ({"category": "cars"}, "invalid_category"),
        ({"number": "ODR-26-1"}, "invalid_case_number"),
        ({"received_at": T0 + timedelta(minutes=1)}, "invalid_received_at"),
    ],
)
def test_filing_checks_its_input(overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        file_case(**overrides)
    assert info.value.code == code


def test_the_domain_refuses_naive_times() -> None:
    case = case_in(S.AWAITING_INSURER)
    with pytest.raises(ValueError, match="timezone-aware"):
        case.withdraw(CONSUMER, datetime(2026, 3, 3, 9, 0))
    assert case.state is S.AWAITING_INSURER


# --- Case numbers --------------------------------------------------------------------------------


def test_case_numbers_format_and_parse() -> None:
    assert format_case_number(2026, 123) == "ODR-2026-000123"
    assert format_case_number(2026, 1_234_567) == "ODR-2026-1234567"
    assert parse_case_number("ODR-2026-000123") == (2026, 123)
    assert parse_case_number(" odr-2026-000123 ").serial == 123
    assert parse_case_number(format_case_number(2031, 999_999)) == (2031, 999_999)


@pytest.mark.parametrize(
    "text", ["ODR-2026-123", "ODR-2026-000000", "ODR-2026-0001234", "XYZ-2026-000123", ""]
)
def test_malformed_case_numbers(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_case_number(text)
    assert info.value.code == "invalid_case_number"


def test_format_refuses_impossible_numbers() -> None:
    with pytest.raises(ValueError):
        format_case_number(2026, 0)
    with pytest.raises(ValueError):
        format_case_number(26, 1)


# --- Triage and the answer ----------------------------------------------------------------------


def test_triage_sets_risk_and_care_and_follows_the_corrected_categorys_deadline() -> None:
    rules = DeadlineRules.from_mapping({"categories": {"payment_refund": {"answer_days": 7}}})
    case = file_case()
    case.triage(
        SUPERVISOR,
        later(case),
        category=Category.PAYMENT_REFUND,
        risk_score=65,
        risk_reasons=["regulator", "media"],
        care_priority=True,
        deadlines=rules,
    )
    assert (case.category, case.risk_score, case.care_priority) == (
        Category.PAYMENT_REFUND,
        65,
        True,
    )
    assert case.risk_reasons == ("regulator", "media")
    assert case.clock.due_at == datetime(2026, 3, 10, tzinfo=SHANGHAI)  # 7 days from receipt
    payload = case.events[-1].payload
    assert (payload["category"], payload["previous_category"]) == ("payment_refund", "claims")


@pytest.mark.parametrize("score", [-1, 101, True])
def test_risk_score_range(score: int) -> None:
    case = file_case()
    with pytest.raises(ValidationFailed) as info:
        case.triage(SUPERVISOR, later(case), category="claims", risk_score=score, deadlines=RULES)
    assert info.value.code == "invalid_risk_score"


def test_the_answer_stops_the_clock_and_says_whether_it_was_in_time() -> None:
    case = case_in(S.AWAITING_INSURER)
    late = case.clock.due_at + timedelta(hours=2)
    case.answer_complaint(REP, late, kind="accept", text="同意赔付", offered_amount_fen=320_000)
    assert case.answer is not None
    assert (case.answer.kind, case.answer.offered_amount_fen) == (AnswerKind.ACCEPT, 320_000)
    assert case.events[-1].payload["in_time"] is False
    assert not case.clock.running
    assert case.due_actions(late + timedelta(days=1)) == []


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"kind": "maybe", "text": "x"}, "invalid_answer_kind"),
        ({"kind": "reject", "text": "   "}, "answer_text_required"),
        ({"kind": "propose", "text": "x", "offered_amount_fen": -5}, "invalid_amount"),
    ],
)
def test_an_answer_needs_a_kind_and_a_text(kwargs: dict[str, Any], code: str) -> None:
    case = case_in(S.AWAITING_INSURER)
    with pytest.raises(ValidationFailed) as info:
        case.answer_complaint(REP, later(case), **kwargs)
    assert info.value.code == code


# --- The clock on the case ---------------------------------------------------------------------


def test_reminders_then_escalation_each_once_while_waiting_for_the_insurer() -> None:
    case = case_in(S.AWAITING_INSURER)
    keys = []
    now = later(case)
    while now < case.clock.due_at + timedelta(days=2):
        for due in case.due_actions(now):
            handled = case.remind if due.kind is DueKind.REMINDER else case.escalate
            assert handled(SYSTEM, now) == due
            keys.append(due.key)
        now += timedelta(hours=6)
    assert [k.rsplit(":", 2)[-2:] for k in keys[:2]] == [["reminder", "0.5"], ["reminder", "0.8"]]
    assert keys[2].endswith(":escalation")
    assert case.state is S.ESCALATED
    kinds = [e.kind for e in case.events]
    assert kinds.count(EventKind.REMINDER) == 2
    assert kinds.count(EventKind.ESCALATED) == 1
    assert case.events[-1].payload["key"] == keys[2]


def test_nothing_to_remind_or_escalate_before_its_time() -> None:
    case = case_in(S.AWAITING_INSURER)
    with pytest.raises(Conflict) as info:
        case.remind(SYSTEM, later(case))
    assert info.value.code == "reminder_not_due"
    with pytest.raises(Conflict) as info:
        case.escalate(SYSTEM, case.clock.due_at - timedelta(seconds=1))
    assert info.value.code == "escalation_not_due"


def test_a_missed_mediation_deadline_escalates_without_leaving_mediation() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    assert case.clock.stage is Stage.MEDIATION
    case.escalate(SYSTEM, case.clock.due_at)
    assert case.state is S.HEARING_SCHEDULED
    assert case.events[-1].payload["stage"] == "mediation"


def test_mediation_gets_30_days_from_the_request() -> None:
    case = case_in(S.MEDIATION_REQUESTED)
    requested = case.events[-1].at
    assert case.clock.started_at == requested
    assert case.clock.due_at == datetime(2026, 4, 2, tzinfo=SHANGHAI)
    assert case.centre_id == CENTRE


def test_insurer_extends_the_decision_deadline_to_30_then_60_days_with_approval() -> None:
    case = case_in(S.AWAITING_INSURER)
    assert case.clock.days == 15
    for days in (30, 60):
        case.request_extension(REP, later(case), reason="需要第三方鉴定")
        assert case.pending_extension is not None
        case.approve_extension(SUPERVISOR, later(case))
        assert case.clock.days == days
        assert case.pending_extension is None
        payload = case.events[-1].payload
        assert payload["reason"] == "需要第三方鉴定"
        assert (payload["requested_by"], payload["approved_by"]) == (REP_ID, SUPERVISOR_ID)
        assert payload["notify"] == ("consumer",)
        assert payload["to_days"] == days
    assert case.clock.due_at == datetime(2026, 5, 2, tzinfo=SHANGHAI)
    with pytest.raises(Conflict) as info:
        case.request_extension(REP, later(case), reason="还要再延")
    assert info.value.code == "extension_not_allowed"


def test_mediation_is_extended_once_by_the_centre_lead() -> None:
    case = case_in(S.MEDIATOR_ASSIGNED)
    case.request_extension(MEDIATOR, later(case), reason="当事人出差")
    case.approve_extension(LEAD, later(case))
    assert case.clock.days == 60
    with pytest.raises(Conflict) as info:
        case.request_extension(MEDIATOR, later(case), reason="再延一次")
    assert info.value.code == "extension_not_allowed"


def test_each_deadline_is_extended_at_the_request_of_whoever_it_binds() -> None:
    answering = case_in(S.AWAITING_INSURER)
    with pytest.raises(NotFound):  # no mediator has the case yet
        answering.request_extension(MEDIATOR, later(answering), reason="x")
    mediating = case_in(S.HEARING_SCHEDULED)
    with pytest.raises(Forbidden):  # the mediation deadline is the mediator's, not the insurer's
        mediating.request_extension(REP, later(mediating), reason="需要调查")
    mediating.request_extension(MEDIATOR, later(mediating), reason="需要调查")
    assert mediating.pending_extension is not None
    assert mediating.pending_extension.stage is Stage.MEDIATION


def test_extension_request_rules() -> None:
    case = case_in(S.AWAITING_INSURER)
    with pytest.raises(ValidationFailed) as invalid:
        case.request_extension(REP, later(case), reason="  ")
    assert invalid.value.code == "reason_required"
    case.request_extension(REP, later(case), reason="复杂")
    with pytest.raises(Conflict) as info:
        case.request_extension(REP, later(case), reason="复杂")
    assert info.value.code == "extension_already_requested"
    case.refuse_extension(SUPERVISOR, later(case), reason="不需要")
    assert case.pending_extension is None
    assert case.clock.days == 15
    with pytest.raises(Conflict) as info:
        case.approve_extension(SUPERVISOR, later(case))
    assert info.value.code == "no_extension_requested"
    with pytest.raises(Conflict) as info:
        case.request_extension(REP, case.clock.due_at, reason="太晚了")
    assert info.value.code == "deadline_passed"


def test_a_request_made_in_time_can_be_approved_after_the_escalation() -> None:
    case = case_in(S.AWAITING_INSURER)
    case.request_extension(REP, later(case), reason="需要调查")
    case.escalate(SYSTEM, case.clock.due_at)
    assert case.state is S.ESCALATED
    case.approve_extension(SUPERVISOR, later(case))
    assert case.clock.days == 30
    case.return_to_insurer(SUPERVISOR, later(case))
    assert state_of(case) is S.AWAITING_INSURER
    [reminder] = case.due_actions(case.clock.reminder_at(0.8))
    assert reminder.due_at == case.clock.due_at  # the new deadline brings its own reminders


def test_the_answer_drops_a_pending_extension_request() -> None:
    case = case_in(S.AWAITING_INSURER)
    case.request_extension(REP, later(case), reason="复杂")
    case.answer_complaint(REP, later(case), kind="reject", text="拒绝")
    assert case.pending_extension is None


def test_an_escalated_case_goes_to_mediation_with_a_fresh_clock() -> None:
    case = case_in(S.ESCALATED)
    now = later(case)
    case.refer_to_mediation(SUPERVISOR, now, centre_id=CENTRE)
    assert case.clock.stage is Stage.MEDIATION
    assert case.clock.started_at == now
    assert case.scope().centre_id == CENTRE


@pytest.mark.parametrize("state", sorted(ALL - CLOCK_RUNS))
def test_the_clock_is_stopped_outside_the_answer_and_mediation_stages(state: CaseState) -> None:
    case = case_in(state)
    assert not case.clock.running
    assert case.due_actions(case.clock.due_at + timedelta(days=365)) == []


# --- Mediation and the agreement ----------------------------------------------------------------


def test_reassignment_and_declining_change_who_the_mediator_is() -> None:
    case = case_in(S.MEDIATOR_ASSIGNED)
    with pytest.raises(Conflict) as info:
        case.assign_mediator(LEAD, later(case), mediator_id=MEDIATOR_ID)
    assert info.value.code == "mediator_already_assigned"
    case.accept_assignment(MEDIATOR, later(case))
    with pytest.raises(Conflict) as info:
        case.accept_assignment(MEDIATOR, later(case))
    assert info.value.code == "assignment_already_accepted"
    case.decline_assignment(MEDIATOR, later(case), reason="回避")
    assert (case.state, case.mediator_id, case.assignment_accepted) == (
        S.MEDIATION_REQUESTED,
        None,
        False,
    )
    with pytest.raises(NotFound):  # no longer this mediator's case
        case.send_message(MEDIATOR, later(case), text="你好")
    case.assign_mediator(LEAD, later(case), mediator_id=OTHER_MEDIATOR_ID)
    case.send_message(ACTORS["other_mediator"], later(case), text="我接手了")


def test_hearings_can_be_held_and_scheduled_again() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    case.start_hearing(MEDIATOR, later(case))
    case.end_hearing(MEDIATOR, later(case))
    assert case.next_hearing_at is None
    starts = later(case, 72)
    case.schedule_hearing(MEDIATOR, later(case), starts_at=starts)
    assert case.state is S.HEARING_SCHEDULED
    assert case.next_hearing_at == starts
    with pytest.raises(ValidationFailed) as info:
        case.schedule_hearing(MEDIATOR, later(case), starts_at=later(case, -2))
    assert info.value.code == "hearing_in_past"


def test_all_three_parties_sign_then_the_case_is_settled() -> None:
    case = case_in(S.AGREEMENT_PENDING)
    assert case.agreement is not None
    sha = case.agreement.sha256
    case.sign_agreement(CONSUMER, later(case), agreement_sha256=sha)
    case.sign_agreement(REP, later(case), agreement_sha256=sha)
    assert case.state is S.AGREEMENT_PENDING
    assert case.clock.running
    case.sign_agreement(MEDIATOR, later(case), agreement_sha256=sha)
    assert state_of(case) is S.SETTLED
    assert set(case.signatures) == set(Party)
    assert case.events[-1].payload["all_signed"] is True
    assert not case.clock.running


def test_a_new_text_voids_signatures_and_old_hashes() -> None:
    case = case_in(S.AGREEMENT_PENDING)
    assert case.agreement is not None
    old = case.agreement.sha256
    case.sign_agreement(CONSUMER, later(case), agreement_sha256=old)
    with pytest.raises(Conflict) as info:
        case.sign_agreement(CONSUMER, later(case), agreement_sha256=old)
    assert info.value.code == "already_signed"
    new = case.propose_agreement(MEDIATOR, later(case), terms="赔付3500元", amount_fen=350_000)
    assert new.sha256 != old
    assert case.signatures == {}
    assert case.events[-1].payload["voided_signatures"] == ("consumer",)
    with pytest.raises(Conflict) as info:
        case.sign_agreement(REP, later(case), agreement_sha256=old)
    assert info.value.code == "agreement_changed"


def test_agreement_hash_covers_terms_amount_and_due_date() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    a = case.propose_agreement(MEDIATOR, later(case), terms="赔付", amount_fen=1)
    b = case.propose_agreement(MEDIATOR, later(case), terms="赔付", amount_fen=2)
    c = case.propose_agreement(
        MEDIATOR, later(case), terms="赔付", amount_fen=2, due_on=date(2026, 5, 1)
    )
    assert len({a.sha256, b.sha256, c.sha256}) == 3


def test_a_centre_lead_who_mediates_signs_as_the_mediator() -> None:
    case = case_in(S.MEDIATION_REQUESTED)
    case.assign_mediator(LEAD, later(case), mediator_id=LEAD_ID)
    case.schedule_hearing(LEAD, later(case), starts_at=later(case, 24))
    agreement = case.propose_agreement(LEAD, later(case), terms="赔付")
    case.sign_agreement(LEAD, later(case), agreement_sha256=agreement.sha256)
    assert case.signatures == {Party.MEDIATOR: LEAD_ID}


def test_payment_recorded_then_confirmed() -> None:
    case = case_in(S.SETTLED)
    case.record_payment(REP, later(case), amount_fen=300_000, reference="WX-20260405")
    case.confirm_payment(CONSUMER, later(case))
    assert case.state is S.FULFILLED
    assert case.events[-1].payload["payment_recorded"] is True


def test_not_settled_needs_a_reason() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    with pytest.raises(ValidationFailed) as info:
        case.declare_not_settled(MEDIATOR, later(case), reason=" ")
    assert info.value.code == "reason_required"


@pytest.mark.parametrize("closer", ["supervisor", "system"])
def test_a_case_that_never_reached_a_mediator_is_closed_by_the_platform(closer: str) -> None:
    case = case_in(S.RESOLVED)
    actor = ACTORS[closer]
    case.close(actor, later(case))
    event = case.events[-1]
    assert (case.state, event.payload["outcome"]) == (S.CLOSED, "resolved")
    assert (event.actor_role, event.actor_user_id) == (actor.role, actor.user_id)


def test_closing_records_the_outcome() -> None:
    case = case_in(S.FULFILLED)
    case.close(MEDIATOR, later(case))
    assert case.events[-1].payload["outcome"] == "fulfilled"


def test_withdrawal_stops_the_clock() -> None:
    case = case_in(S.IN_HEARING)
    case.withdraw(CONSUMER, later(case))
    assert not case.clock.running


# --- Messages and the event log --------------------------------------------------------------


def test_messages_keep_only_the_masked_text_and_report_what_was_masked() -> None:
    case = case_in(S.INSURER_ANSWERED)
    result = case.send_message(CONSUMER, later(case), text="请打13812345678，卡号4581234567890128")
    assert result.kinds == ("mobile", "bank_card")
    assert result.count == 2
    payload = case.events[-1].payload
    assert payload["text"] == "请打138****5678，卡号4581********0128"
    assert payload["masked_kinds"] == ("mobile", "bank_card")
    assert "13812345678" not in json.dumps(case.events[-1].payload_dict(), ensure_ascii=False)


@pytest.mark.parametrize(
    "text,code", [("  ", "message_required"), ("字" * 4001, "message_too_long")]
)
def test_message_length(text: str, code: str) -> None:
    case = case_in(S.AWAITING_INSURER)
    with pytest.raises(ValidationFailed) as info:
        case.send_message(CONSUMER, later(case), text=text)
    assert info.value.code == code


def test_the_log_chains_states_and_numbers_events_consecutively() -> None:
    case = case_in(S.CLOSED)
    assert [e.sequence for e in case.events] == list(range(1, len(case.events) + 1))
    assert case.version == len(case.events)
    for previous, event in zip(case.events, case.events[1:], strict=False):
        assert event.from_state == previous.to_state
        assert event.at >= previous.at
    assert [e.kind for e in case.events] == [
        EventKind.FILED,
        EventKind.TRIAGED,
        EventKind.ANSWERED,
        EventKind.MEDIATION_REQUESTED,
        EventKind.MEDIATOR_ASSIGNED,
        EventKind.HEARING_SCHEDULED,
        EventKind.NOT_SETTLED,
        EventKind.CLOSED,
    ]


def test_events_are_immutable_and_serialise_to_json() -> None:
    case = case_in(S.AWAITING_INSURER)
    event = case.events[-1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.kind = EventKind.CLOSED  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.payload["risk_score"] = 0  # type: ignore[index]
    assert isinstance(event.payload["risk_reasons"], tuple)
    plain = event.payload_dict()
    assert plain["risk_score"] == 12
    assert json.loads(json.dumps(plain)) == plain
    source = {"items": [1, 2]}
    frozen = CaseEvent(
        7, 99, EventKind.MESSAGE_SENT, 1, Role.CONSUMER, T0, None, S.SUBMITTED, source
    )
    source["items"].append(3)
    assert frozen.payload["items"] == (1, 2)


def test_evidence_kinds_the_system_makes_cannot_be_uploaded() -> None:
    case = file_case(CONSUMER, channel_kind=ChannelKind.WEB)
    with pytest.raises(ValidationFailed) as err:
        case.add_evidence(
            CONSUMER,
            later(case),
            sha256="ab" * 32,
            size=1,
            name="x.webm",
            media_type="video/webm",
            kind="recording",
        )
    assert err.value.code == "invalid_evidence_kind"
    with pytest.raises(ValidationFailed):
        case.add_evidence(
            CONSUMER,
            later(case),
            sha256="not-a-hash",
            size=1,
            name="x.pdf",
            media_type="application/pdf",
            kind="document",
        )
    event = case.add_evidence(
        CONSUMER,
        later(case),
        sha256="ab" * 32,
        size=1,
        name="x.pdf",
        media_type="application/pdf",
        kind="document",
        visibility="mediator_only",
    )
    assert event.payload["visibility"] == "mediator_only"
