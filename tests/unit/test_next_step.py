"""The next step of a case for each person: the table of every state × role, and its agreement
with the aggregate's own rules (every step offered is allowed, every allowed step is offered)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

import pytest

from odr.domain.accounts import Actor
from odr.domain.cases import AnswerKind, Case, CaseState
from odr.domain.commands import COMMANDS
from odr.domain.errors import DomainError
from odr.domain.next_step import (
    CaseFacts,
    HearingStage,
    NextStep,
    Step,
    Waiting,
    facts_of,
    next_step,
    viewer_relations,
)
from tests.unit.test_cases import (
    CENTRE,
    CONSUMER,
    LEAD,
    MEDIATOR,
    OTHER_MEDIATOR_ID,
    REP,
    SUPERVISOR,
    case_in,
    later,
)

S = CaseState
W = Waiting
P = Step
ROLES: dict[str, Actor] = {
    "consumer": CONSUMER,
    "insurer": REP,
    "mediator": MEDIATOR,
    "centre_lead": LEAD,
    "supervisor": SUPERVISOR,
}


# --- the cases: every state, and the facts that change the step within a state ---------------


def _accepted(case: Case) -> None:
    case.accept_assignment(MEDIATOR, later(case))


def _consumer_signed(case: Case) -> None:
    assert case.agreement is not None
    case.sign_agreement(CONSUMER, later(case), agreement_sha256=case.agreement.sha256)


def _paid(case: Case) -> None:
    case.record_payment(REP, later(case), amount_fen=300_000)


def _insurer_asks_time(case: Case) -> None:
    case.request_extension(REP, later(case), reason="需要补充鉴定")


def _mediator_asks_time(case: Case) -> None:
    case.request_extension(MEDIATOR, later(case), reason="需要补充鉴定")


def _hearing_ended(case: Case) -> None:
    case.start_hearing(MEDIATOR, later(case))
    case.end_hearing(MEDIATOR, later(case))


def _withdrawn_in_mediation(case: Case) -> None:
    case.withdraw(CONSUMER, later(case))


#: (name, state the fixture starts from, what happens then): every case state once, plus the
#: facts that change a step within a state.
VARIANTS: dict[str, tuple[CaseState, Callable[[Case], None] | None]] = {
    **{state.value: (state, None) for state in CaseState},
    "extension_asked_by_insurer": (S.AWAITING_INSURER, _insurer_asks_time),
    "assignment_accepted": (S.MEDIATOR_ASSIGNED, _accepted),
    "mediation_extension_asked": (S.MEDIATOR_ASSIGNED, _mediator_asks_time),
    "hearing_ended": (S.HEARING_SCHEDULED, _hearing_ended),
    "consumer_signed": (S.AGREEMENT_PENDING, _consumer_signed),
    "payment_recorded": (S.SETTLED, _paid),
    "withdrawn_in_mediation": (S.HEARING_SCHEDULED, _withdrawn_in_mediation),
}


def variant(name: str) -> Case:
    state, then = VARIANTS[name]
    case = case_in(state)
    if then is not None:
        then(case)
    return case


def step_of(name: str, role: str) -> NextStep:
    case = variant(name)
    actor = ROLES[role]
    return next_step(facts_of(case, later(case)), viewer_relations(actor, case.scope()))


# --- the table ---------------------------------------------------------------------------------

N: tuple[Step, ...] = ()
#: variant → role → (what they wait for or must do, the steps offered, the primary step).
TABLE: dict[str, dict[str, tuple[Waiting, tuple[Step, ...], Step | None]]] = {
    "submitted": {
        "consumer": (W.INSURER_ANSWER, (P.WITHDRAW,), None),
        "insurer": (W.INSURER_ANSWER, N, None),
        "supervisor": (W.INSURER_ANSWER, N, None),
    },
    "awaiting_insurer": {
        "consumer": (W.INSURER_ANSWER, (P.WITHDRAW,), None),
        "insurer": (W.GIVE_ANSWER, (P.ANSWER, P.REQUEST_EXTENSION), P.ANSWER),
        "supervisor": (W.INSURER_ANSWER, N, None),
    },
    "extension_asked_by_insurer": {
        "consumer": (W.INSURER_ANSWER, (P.WITHDRAW,), None),
        "insurer": (W.GIVE_ANSWER, (P.ANSWER,), P.ANSWER),
        "supervisor": (
            W.DECIDE_EXTENSION,
            (P.APPROVE_EXTENSION, P.REFUSE_EXTENSION),
            P.APPROVE_EXTENSION,
        ),
    },
    "escalated": {
        "consumer": (W.ESCALATION_FOLLOW_UP, (P.WITHDRAW,), None),
        "insurer": (W.ESCALATION_FOLLOW_UP, N, None),
        "supervisor": (
            W.HANDLE_ESCALATION,
            (P.REFER_TO_MEDIATION, P.RETURN_TO_INSURER),
            P.REFER_TO_MEDIATION,
        ),
    },
    "insurer_answered": {
        "consumer": (
            W.DECIDE_ON_ANSWER,
            (P.ACCEPT_ANSWER, P.REJECT_ANSWER, P.MAKE_OFFER, P.WITHDRAW),
            None,
        ),
        "insurer": (W.CONSUMER_DECISION, (P.MAKE_OFFER,), None),
        "supervisor": (W.CONSUMER_DECISION, N, None),
    },
    "mediation_requested": {
        "consumer": (W.MEDIATOR_ASSIGNMENT, (P.MAKE_OFFER, P.WITHDRAW), None),
        "insurer": (W.MEDIATOR_ASSIGNMENT, (P.MAKE_OFFER,), None),
        "centre_lead": (W.ASSIGN_MEDIATOR, (P.ASSIGN_MEDIATOR,), P.ASSIGN_MEDIATOR),
        "supervisor": (W.MEDIATOR_ASSIGNMENT, N, None),
    },
    "mediator_assigned": {
        "consumer": (W.MEDIATOR_ACCEPTANCE, (P.MAKE_OFFER, P.WITHDRAW), None),
        "insurer": (W.MEDIATOR_ACCEPTANCE, (P.MAKE_OFFER,), None),
        "mediator": (
            W.ACCEPT_ASSIGNMENT,
            (
                P.REQUEST_EXTENSION,
                P.ACCEPT_ASSIGNMENT,
                P.DECLINE_ASSIGNMENT,
                P.PROPOSE_HEARING,
                P.DECLARE_NOT_SETTLED,
            ),
            P.ACCEPT_ASSIGNMENT,
        ),
        "centre_lead": (W.MEDIATOR_ACCEPTANCE, (P.ASSIGN_MEDIATOR,), None),
        "supervisor": (W.MEDIATOR_ACCEPTANCE, N, None),
    },
    "assignment_accepted": {
        "consumer": (W.HEARING_TIMES, (P.MAKE_OFFER, P.WITHDRAW), None),
        "insurer": (W.HEARING_TIMES, (P.MAKE_OFFER,), None),
        "mediator": (
            W.PROPOSE_HEARING,
            (
                P.REQUEST_EXTENSION,
                P.DECLINE_ASSIGNMENT,
                P.PROPOSE_HEARING,
                P.DECLARE_NOT_SETTLED,
            ),
            P.PROPOSE_HEARING,
        ),
        "centre_lead": (W.HEARING_TIMES, (P.ASSIGN_MEDIATOR,), None),
        "supervisor": (W.HEARING_TIMES, N, None),
    },
    "mediation_extension_asked": {
        "mediator": (
            W.ACCEPT_ASSIGNMENT,
            (P.ACCEPT_ASSIGNMENT, P.DECLINE_ASSIGNMENT, P.PROPOSE_HEARING, P.DECLARE_NOT_SETTLED),
            P.ACCEPT_ASSIGNMENT,
        ),
        "centre_lead": (
            W.DECIDE_EXTENSION,
            (P.APPROVE_EXTENSION, P.REFUSE_EXTENSION, P.ASSIGN_MEDIATOR),
            P.APPROVE_EXTENSION,
        ),
        "supervisor": (
            W.DECIDE_EXTENSION,
            (P.APPROVE_EXTENSION, P.REFUSE_EXTENSION),
            P.APPROVE_EXTENSION,
        ),
    },
    "hearing_scheduled": {
        "consumer": (W.ATTEND_HEARING, (P.JOIN_HEARING, P.MAKE_OFFER, P.WITHDRAW), P.JOIN_HEARING),
        "insurer": (W.ATTEND_HEARING, (P.JOIN_HEARING, P.MAKE_OFFER), P.JOIN_HEARING),
        "mediator": (
            W.ATTEND_HEARING,
            (P.REQUEST_EXTENSION, P.JOIN_HEARING, P.DRAFT_AGREEMENT, P.DECLARE_NOT_SETTLED),
            P.JOIN_HEARING,
        ),
        "centre_lead": (W.ATTEND_HEARING, N, None),
        "supervisor": (W.ATTEND_HEARING, N, None),
    },
    "in_hearing": {
        "consumer": (W.HEARING_IN_PROGRESS, (P.JOIN_HEARING, P.WITHDRAW), P.JOIN_HEARING),
        "insurer": (W.HEARING_IN_PROGRESS, (P.JOIN_HEARING,), P.JOIN_HEARING),
        "mediator": (
            W.HEARING_IN_PROGRESS,
            (P.REQUEST_EXTENSION, P.JOIN_HEARING),
            P.JOIN_HEARING,
        ),
        "supervisor": (W.HEARING_IN_PROGRESS, N, None),
    },
    "hearing_ended": {
        "consumer": (W.AGREEMENT_DRAFT, (P.MAKE_OFFER, P.WITHDRAW), None),
        "insurer": (W.AGREEMENT_DRAFT, (P.MAKE_OFFER,), None),
        "mediator": (
            W.DRAFT_AGREEMENT,
            (P.REQUEST_EXTENSION, P.PROPOSE_HEARING, P.DRAFT_AGREEMENT, P.DECLARE_NOT_SETTLED),
            P.DRAFT_AGREEMENT,
        ),
        "supervisor": (W.AGREEMENT_DRAFT, N, None),
    },
    "agreement_pending": {
        "consumer": (W.SIGN_AGREEMENT, (P.SIGN_AGREEMENT, P.WITHDRAW), P.SIGN_AGREEMENT),
        "insurer": (W.SIGN_AGREEMENT, (P.SIGN_AGREEMENT,), P.SIGN_AGREEMENT),
        "mediator": (
            W.SIGN_AGREEMENT,
            (P.REQUEST_EXTENSION, P.DRAFT_AGREEMENT, P.SIGN_AGREEMENT, P.DECLARE_NOT_SETTLED),
            P.SIGN_AGREEMENT,
        ),
        "supervisor": (W.OTHER_SIGNATURES, N, None),
    },
    "consumer_signed": {
        "consumer": (W.OTHER_SIGNATURES, (P.WITHDRAW,), None),
        "insurer": (W.SIGN_AGREEMENT, (P.SIGN_AGREEMENT,), P.SIGN_AGREEMENT),
    },
    "settled": {
        # the agreement binds: no withdrawal any more, whatever the consumer reads
        "consumer": (W.PAYMENT, (P.CONFIRM_PAYMENT,), None),
        "insurer": (W.PAY, (P.RECORD_PAYMENT,), P.RECORD_PAYMENT),
        "mediator": (W.PAYMENT, N, None),
        "supervisor": (W.PAYMENT, N, None),
    },
    "payment_recorded": {
        "consumer": (W.CONFIRM_PAYMENT, (P.CONFIRM_PAYMENT,), P.CONFIRM_PAYMENT),
        "insurer": (W.PAYMENT_CONFIRMATION, (P.RECORD_PAYMENT,), None),
        "mediator": (W.PAYMENT_CONFIRMATION, N, None),
    },
    "fulfilled": {
        "consumer": (W.CLOSING, N, None),
        "insurer": (W.CLOSING, N, None),
        "mediator": (W.CLOSE, (P.CLOSE,), P.CLOSE),
        "centre_lead": (W.CLOSING, N, None),
        "supervisor": (W.CLOSE, (P.CLOSE,), P.CLOSE),
    },
    "not_settled": {
        "consumer": (W.CLOSING, N, None),
        "mediator": (W.CLOSE, (P.CLOSE,), P.CLOSE),
    },
    "resolved": {
        "consumer": (W.CLOSING, N, None),
        "insurer": (W.CLOSING, N, None),
        "supervisor": (W.CLOSE, (P.CLOSE,), P.CLOSE),
    },
    "withdrawn": {
        "consumer": (W.CLOSING, N, None),
        "supervisor": (W.CLOSE, (P.CLOSE,), P.CLOSE),
    },
    "withdrawn_in_mediation": {
        "mediator": (W.CLOSE, (P.CLOSE,), P.CLOSE),
    },
    "closed": {
        "consumer": (W.NOTHING, (P.RATE_SERVICE,), P.RATE_SERVICE),
        "insurer": (W.NOTHING, (P.RATE_SERVICE,), P.RATE_SERVICE),
        "mediator": (W.NOTHING, N, None),
        "supervisor": (W.NOTHING, N, None),
    },
}
ROWS = [(name, role) for name, roles in TABLE.items() for role in roles]


@pytest.mark.parametrize(("name", "role"), ROWS)
def test_the_next_step_table(name: str, role: str) -> None:
    waiting, steps, primary = TABLE[name][role]
    if role in ("insurer", "mediator"):  # they may set the case's category in every state
        steps = (*steps, P.CORRECT_CATEGORY)
    assert step_of(name, role) == NextStep(waiting, steps, primary)


def test_the_table_covers_every_state() -> None:
    assert {VARIANTS[name][0] for name in TABLE} == set(CaseState)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_primary_step_is_one_of_the_steps(name: str) -> None:
    for role in ROLES:
        found = step_of(name, role)
        assert found.primary is None or found.primary in found.steps


def test_a_stranger_has_nothing_to_do() -> None:
    facts = facts_of(case_in(S.AWAITING_INSURER), later(case_in(S.AWAITING_INSURER)))
    assert next_step(facts, ()) == NextStep(W.NOTHING, (), None)


def test_after_settlement_nobody_reads_that_the_insurer_must_answer() -> None:
    for role in ROLES:
        assert step_of("settled", role).waiting not in (W.INSURER_ANSWER, W.GIVE_ANSWER)


# --- the viewer's own facts: offers, hearings proposed, mediators to choose ------------------


def test_an_offer_to_answer_leads_the_side_that_must_answer() -> None:
    for state in (S.INSURER_ANSWERED, S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED):
        case = case_in(state)
        facts = facts_of(case, later(case), offer_to_answer=True)
        found = next_step(facts, viewer_relations(REP, case.scope()))
        assert found.primary is P.ANSWER_OFFER and P.ANSWER_OFFER in found.steps
    case = case_in(S.INSURER_ANSWERED)
    facts = facts_of(case, later(case), offer_to_answer=True, blind_offer_open=True)
    found = next_step(facts, viewer_relations(CONSUMER, case.scope()))
    assert found.primary is P.ANSWER_OFFER
    assert {P.ANSWER_OFFER, P.BLIND_OFFER, P.ACCEPT_ANSWER} <= set(found.steps)


def test_proposed_hearing_times() -> None:
    case = variant("assignment_accepted")
    now = later(case)
    proposed = facts_of(case, now, hearing=HearingStage.PROPOSED)
    consumer = next_step(proposed, viewer_relations(CONSUMER, case.scope()))
    assert (consumer.waiting, consumer.primary) == (W.CHOOSE_HEARING_TIMES, P.CHOOSE_HEARING_TIMES)
    chosen = facts_of(case, now, hearing=HearingStage.PROPOSED, times_chosen=True)
    consumer = next_step(chosen, viewer_relations(CONSUMER, case.scope()))
    assert (consumer.waiting, consumer.primary) == (W.TIMES_CHOSEN, None)
    assert P.CHOOSE_HEARING_TIMES in consumer.steps  # the choice can still be changed
    mediator = next_step(proposed, viewer_relations(MEDIATOR, case.scope()))
    assert (mediator.waiting, mediator.primary) == (W.CONFIRM_HEARING_TIME, P.CONFIRM_HEARING_TIME)
    assert P.PROPOSE_HEARING not in mediator.steps


def test_a_cancelled_hearing_leaves_the_mediator_to_propose_or_draft() -> None:
    case = case_in(S.HEARING_SCHEDULED)
    facts = facts_of(case, later(case), hearing=HearingStage.NONE)
    found = next_step(facts, viewer_relations(MEDIATOR, case.scope()))
    assert found.primary is P.DRAFT_AGREEMENT and P.PROPOSE_HEARING in found.steps


def test_the_parties_may_suggest_a_mediator_when_there_are_some() -> None:
    case = case_in(S.MEDIATION_REQUESTED)
    facts = facts_of(case, later(case), mediator_choice_open=True)
    for actor in (CONSUMER, REP):
        assert P.CHOOSE_MEDIATOR in next_step(facts, viewer_relations(actor, case.scope())).steps


def test_a_lead_who_mediates_the_case_sees_both_parts() -> None:
    case = case_in(S.MEDIATION_REQUESTED)
    case.assign_mediator(LEAD, later(case), mediator_id=LEAD.user_id or 0)
    found = next_step(facts_of(case, later(case)), viewer_relations(LEAD, case.scope()))
    assert found.primary is P.ACCEPT_ASSIGNMENT  # the mediator's part comes first
    assert {P.ASSIGN_MEDIATOR, P.ACCEPT_ASSIGNMENT} <= set(found.steps)


def test_facts_default_to_the_case_record_of_the_hearing() -> None:
    assert facts_of(case_in(S.HEARING_SCHEDULED), later(case_in(S.HEARING_SCHEDULED))).hearing is (
        HearingStage.SCHEDULED
    )
    ended = variant("hearing_ended")
    assert facts_of(ended, later(ended)) == CaseFacts(
        state=S.HEARING_SCHEDULED,
        extension_requestable=True,
        stage=ended.clock.stage,
    )


# --- agreement with the aggregate ----------------------------------------------------------------

Trial = Callable[[Case, Actor, datetime], object]


def _sign(case: Case, actor: Actor, now: datetime) -> object:
    sha = case.agreement.sha256 if case.agreement else "0" * 64
    return case.sign_agreement(actor, now, agreement_sha256=sha)


#: The steps that are a change of the aggregate itself, each as the aggregate's own method
#: (asking for mediation without rejecting the answer is the same step as rejecting it).
TRIALS: dict[str, tuple[Step, Trial]] = {
    "answer_complaint": (
        P.ANSWER,
        lambda c, a, t: c.answer_complaint(a, t, kind=AnswerKind.ACCEPT, text="-"),
    ),
    "accept_answer": (P.ACCEPT_ANSWER, lambda c, a, t: c.accept_answer(a, t)),
    "reject_answer": (P.REJECT_ANSWER, lambda c, a, t: c.reject_answer(a, t, centre_id=CENTRE)),
    "request_mediation": (
        P.REJECT_ANSWER,
        lambda c, a, t: c.request_mediation(a, t, centre_id=CENTRE),
    ),
    "request_extension": (
        P.REQUEST_EXTENSION,
        lambda c, a, t: c.request_extension(a, t, reason="-"),
    ),
    "approve_extension": (P.APPROVE_EXTENSION, lambda c, a, t: c.approve_extension(a, t)),
    "refuse_extension": (P.REFUSE_EXTENSION, lambda c, a, t: c.refuse_extension(a, t)),
    "refer_to_mediation": (
        P.REFER_TO_MEDIATION,
        lambda c, a, t: c.refer_to_mediation(a, t, centre_id=CENTRE),
    ),
    "return_to_insurer": (P.RETURN_TO_INSURER, lambda c, a, t: c.return_to_insurer(a, t)),
    "assign_mediator": (
        P.ASSIGN_MEDIATOR,
        lambda c, a, t: c.assign_mediator(a, t, mediator_id=OTHER_MEDIATOR_ID),
    ),
    "accept_assignment": (P.ACCEPT_ASSIGNMENT, lambda c, a, t: c.accept_assignment(a, t)),
    "decline_assignment": (P.DECLINE_ASSIGNMENT, lambda c, a, t: c.decline_assignment(a, t)),
    "make_offer": (P.MAKE_OFFER, lambda c, a, t: c.make_offer(a, t, amount_fen=100)),
    "propose_agreement": (
        P.DRAFT_AGREEMENT,
        lambda c, a, t: c.propose_agreement(a, t, terms="-"),
    ),
    "sign_agreement": (P.SIGN_AGREEMENT, _sign),
    "declare_not_settled": (
        P.DECLARE_NOT_SETTLED,
        lambda c, a, t: c.declare_not_settled(a, t, reason="-"),
    ),
    "record_payment": (P.RECORD_PAYMENT, lambda c, a, t: c.record_payment(a, t)),
    "confirm_payment": (P.CONFIRM_PAYMENT, lambda c, a, t: c.confirm_payment(a, t)),
    "dispute_payment": (P.CONFIRM_PAYMENT, lambda c, a, t: c.dispute_payment(a, t, reason="-")),
    "correct_category": (
        P.CORRECT_CATEGORY,
        lambda c, a, t: c.correct_category(a, t, category="other"),
    ),
    "close": (P.CLOSE, lambda c, a, t: c.close(a, t)),
    "withdraw": (P.WITHDRAW, lambda c, a, t: c.withdraw(a, t)),
}
AGGREGATE_STEPS = frozenset(step for step, _ in TRIALS.values())


def allowed_by_the_aggregate(case: Case, actor: Actor, now: datetime) -> set[Step]:
    allowed: set[Step] = set()
    for step, trial in TRIALS.values():
        try:
            trial(copy.deepcopy(case), actor, now)
        except DomainError:
            continue
        allowed.add(step)
    return allowed


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("role", list(ROLES))
def test_the_steps_offered_are_exactly_what_the_aggregate_allows(name: str, role: str) -> None:
    case = variant(name)
    actor, now = ROLES[role], later(case)
    offered = set(next_step(facts_of(case, now), viewer_relations(actor, case.scope())).steps)
    assert offered & AGGREGATE_STEPS == allowed_by_the_aggregate(case, actor, now)


def test_every_case_command_is_a_step_or_said_not_to_be() -> None:
    """A new command shows on the case page only as a step of the rule."""
    not_steps = {
        "send_message": "possible in every state but the closed one, below the history",
        "request_mediation": "the same step as reject_answer (a reason is optional)",
    }
    assert set(COMMANDS) - set(not_steps) <= set(Step)


def test_the_trials_cover_every_step_that_changes_the_case() -> None:
    outside = {P.CHOOSE_MEDIATOR, P.PROPOSE_HEARING, P.CHOOSE_HEARING_TIMES}
    outside |= {P.CONFIRM_HEARING_TIME, P.JOIN_HEARING, P.ANSWER_OFFER, P.BLIND_OFFER}
    outside |= {P.RATE_SERVICE}  # the hearings, the offers' own records and the ratings
    assert AGGREGATE_STEPS | outside == set(Step)
