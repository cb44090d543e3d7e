"""The next step of a case, for one person: what they can do now and what they wait for.

One rule for every surface that says what happens next: the case page's "next step", the
controls it shows and its one primary action, the lists' next-step column. `next_step` reads
`CaseFacts` (the case's state and the few facts that decide between steps: who has signed,
whether an offer waits for an answer, whether a hearing is proposed or set) and the ways the
person stands to the case (`odr.domain.authz.Relation`), and returns a `NextStep`.

The aggregate (`odr.domain.cases.Case`) stays the authority on what is allowed: the steps
offered here are exactly the user actions it accepts (a unit test generates the states through
the aggregate and compares). Sending a message and adding evidence are possible in every state
but the closed one and are not steps of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from odr.domain.accounts import Actor
from odr.domain.authz import CaseScope, Relation, relations
from odr.domain.cases import (
    EXTENSION_DECISION_STATES,
    EXTENSION_REQUEST_STATES,
    MEDIATION_STAGE_STATES,
    NEGOTIATION_STATES,
    TERMINAL_STATES,
    WITHDRAWABLE_STATES,
    Case,
    CaseState,
)
from odr.domain.deadlines import Stage

_S = CaseState


class Step(StrEnum):
    """What a person can do on a case page. The names of the case commands
    (`odr.domain.commands.COMMANDS`) are theirs; the others name the forms of the outcome and
    hearing sections."""

    ANSWER = "answer"
    ACCEPT_ANSWER = "accept_answer"
    REJECT_ANSWER = "reject_answer"  # and ask for mediation (one step: request_mediation too)
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    REFER_TO_MEDIATION = "refer_to_mediation"
    RETURN_TO_INSURER = "return_to_insurer"
    CHOOSE_MEDIATOR = "choose_mediator"
    ASSIGN_MEDIATOR = "assign_mediator"
    ACCEPT_ASSIGNMENT = "accept_assignment"
    DECLINE_ASSIGNMENT = "decline_assignment"
    PROPOSE_HEARING = "propose_hearing"
    CHOOSE_HEARING_TIMES = "choose_hearing_times"
    CONFIRM_HEARING_TIME = "confirm_hearing_time"
    JOIN_HEARING = "join_hearing"
    ANSWER_OFFER = "answer_offer"
    BLIND_OFFER = "blind_offer"
    MAKE_OFFER = "make_offer"
    DRAFT_AGREEMENT = "draft_agreement"
    SIGN_AGREEMENT = "sign_agreement"
    DECLARE_NOT_SETTLED = "declare_not_settled"
    RECORD_PAYMENT = "record_payment"
    CONFIRM_PAYMENT = "confirm_payment"  # or say that the money did not arrive
    CLOSE = "close"
    RATE_SERVICE = "rate_service"
    CORRECT_CATEGORY = "correct_category"  # the insurer or the mediator, in every state
    WITHDRAW = "withdraw"


#: Steps that cannot be undone: the page asks for a confirmation, and so does the server.
DESTRUCTIVE_STEPS = frozenset({Step.WITHDRAW, Step.CLOSE})


class Waiting(StrEnum):
    """What the person is waiting for, or has to do: one text per key on the pages."""

    INSURER_ANSWER = "insurer_answer"  # the consumer and the centre wait for the insurer
    GIVE_ANSWER = "give_answer"  # the insurer answers
    ESCALATION_FOLLOW_UP = "escalation_follow_up"  # a supervisor handles the missed deadline
    HANDLE_ESCALATION = "handle_escalation"
    DECIDE_ON_ANSWER = "decide_on_answer"  # the consumer accepts or asks for mediation
    CONSUMER_DECISION = "consumer_decision"
    ANSWER_OFFER = "answer_offer"  # the other side's offer waits for this person's answer
    DECIDE_EXTENSION = "decide_extension"  # a supervisor or centre lead decides
    MEDIATOR_ASSIGNMENT = "mediator_assignment"
    ASSIGN_MEDIATOR = "assign_mediator"
    MEDIATOR_ACCEPTANCE = "mediator_acceptance"
    ACCEPT_ASSIGNMENT = "accept_assignment"
    HEARING_TIMES = "hearing_times"  # the parties wait for the mediator to propose times
    PROPOSE_HEARING = "propose_hearing"
    CHOOSE_HEARING_TIMES = "choose_hearing_times"
    TIMES_CHOSEN = "times_chosen"  # this party chose; the mediator confirms a time
    CONFIRM_HEARING_TIME = "confirm_hearing_time"
    ATTEND_HEARING = "attend_hearing"
    HEARING_IN_PROGRESS = "hearing_in_progress"
    AGREEMENT_DRAFT = "agreement_draft"
    DRAFT_AGREEMENT = "draft_agreement"
    SIGN_AGREEMENT = "sign_agreement"
    OTHER_SIGNATURES = "other_signatures"
    PAY = "pay"  # the insurer pays as agreed and records it
    PAYMENT = "payment"  # the consumer and the mediator wait for the payment
    CONFIRM_PAYMENT = "confirm_payment"
    PAYMENT_CONFIRMATION = "payment_confirmation"
    CLOSE = "close"
    CLOSING = "closing"
    NOTHING = "nothing"


class HearingStage(StrEnum):
    """The case's hearing ahead, as the next step needs it."""

    NONE = "none"  # none proposed or set (or the last one ended or was cancelled)
    PROPOSED = "proposed"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the next step depends on, for one viewer. ``signed`` names the parties
    (consumer, insurer, mediator) who signed the current draft; the booleans are about the
    viewer (their side's offer to answer, their times chosen, a blind figure they may give)."""

    state: CaseState
    assignment_accepted: bool = False
    extension_pending: bool = False
    extension_requestable: bool = False  # the running deadline can still be extended now
    stage: Stage = Stage.ANSWER
    signed: frozenset[str] = frozenset()
    payment_recorded: bool = False
    hearing: HearingStage = HearingStage.NONE
    times_chosen: bool = False
    offer_to_answer: bool = False
    blind_offer_open: bool = False
    mediator_choice_open: bool = False


@dataclass(frozen=True, slots=True)
class NextStep:
    """What one person can do now (``steps``, in the page's order; ``primary`` is the one the
    page leads with, or ``None``) and what they wait for or must do (``waiting``)."""

    waiting: Waiting
    steps: tuple[Step, ...]
    primary: Step | None


#: The order steps are shown in: decisions first, ending the case last.
ORDER = tuple(Step)
_PARTY_OF = {
    Relation.CONSUMER: "consumer",
    Relation.INSURER: "insurer",
    Relation.MEDIATOR: "mediator",
}
#: Whose view wins when a person stands to a case in several ways (a lead who mediates).
PRECEDENCE = (
    Relation.CONSUMER,
    Relation.INSURER,
    Relation.MEDIATOR,
    Relation.CENTRE_LEAD,
    Relation.SUPERVISOR,
)


def viewer_relations(actor: Actor, scope: CaseScope) -> tuple[Relation, ...]:
    """The ways ``actor`` stands to the case of ``scope``, by precedence."""
    found = relations(actor, scope)
    return tuple(r for r in PRECEDENCE if r in found)


def next_step(facts: CaseFacts, viewer: Iterable[Relation]) -> NextStep:
    """The next step of a person standing to the case in the ``viewer`` ways (see
    `viewer_relations`); a person who stands to it in none has nothing to do."""
    ways = [r for r in PRECEDENCE if r in set(viewer)]
    if not ways:
        return NextStep(Waiting.NOTHING, (), None)
    found = [_for(facts, r) for r in ways]
    steps = {s for f in found for s in f.steps}
    primary = next((f.primary for f in found if f.primary is not None), None)
    return NextStep(found[0].waiting, tuple(s for s in ORDER if s in steps), primary)


def _step(waiting: Waiting, steps: Iterable[Step], primary: Step | None = None) -> NextStep:
    return NextStep(waiting, tuple(steps), primary)


def _for(f: CaseFacts, r: Relation) -> NextStep:
    if r is Relation.CONSUMER:
        return _side(f, r)
    if r in (Relation.INSURER, Relation.MEDIATOR):
        found = _side(f, r) if r is Relation.INSURER else _mediator(f)
        # the category triage suggested can be set (or confirmed) at any time
        return _step(found.waiting, [*found.steps, Step.CORRECT_CATEGORY], found.primary)
    if r is Relation.CENTRE_LEAD:
        return _centre_lead(f)
    if r is Relation.SUPERVISOR:
        return _supervisor(f)
    return NextStep(Waiting.NOTHING, (), None)


def _negotiation(f: CaseFacts) -> list[Step]:
    """A side's offers: answer the other side's, give a blind figure, make one."""
    steps: list[Step] = []
    if f.state in NEGOTIATION_STATES:
        if f.offer_to_answer:
            steps.append(Step.ANSWER_OFFER)
        if f.blind_offer_open:
            steps.append(Step.BLIND_OFFER)
        steps.append(Step.MAKE_OFFER)
    return steps


def _hearing_steps(f: CaseFacts) -> tuple[Waiting, list[Step], Step | None] | None:
    """A side's part in the hearing ahead, when there is one."""
    if f.state is _S.IN_HEARING or f.hearing is HearingStage.IN_PROGRESS:
        return Waiting.HEARING_IN_PROGRESS, [Step.JOIN_HEARING], Step.JOIN_HEARING
    if f.hearing is HearingStage.SCHEDULED:
        return Waiting.ATTEND_HEARING, [Step.JOIN_HEARING], Step.JOIN_HEARING
    if f.hearing is HearingStage.PROPOSED:
        waiting = Waiting.TIMES_CHOSEN if f.times_chosen else Waiting.CHOOSE_HEARING_TIMES
        primary = None if f.times_chosen else Step.CHOOSE_HEARING_TIMES
        return waiting, [Step.CHOOSE_HEARING_TIMES], primary
    return None


def _side(f: CaseFacts, r: Relation) -> NextStep:
    consumer = r is Relation.CONSUMER
    party = _PARTY_OF[r]
    s = f.state
    steps = _negotiation(f)
    offer = Step.ANSWER_OFFER if f.offer_to_answer else None
    if consumer and s in WITHDRAWABLE_STATES:
        steps.append(Step.WITHDRAW)
    if s in (_S.SUBMITTED, _S.AWAITING_INSURER):
        if consumer:
            return _step(Waiting.INSURER_ANSWER, steps)
        return _insurer_answer(f, steps)
    if s is _S.ESCALATED:
        return _step(Waiting.ESCALATION_FOLLOW_UP, steps)
    if s is _S.INSURER_ANSWERED:
        if consumer:
            steps += [Step.ACCEPT_ANSWER, Step.REJECT_ANSWER]
            # two choices of equal weight: the page does not lead with either
            return _step(Waiting.DECIDE_ON_ANSWER, steps, offer)
        waiting = Waiting.ANSWER_OFFER if offer else Waiting.CONSUMER_DECISION
        return _step(waiting, steps, offer)
    if s is _S.MEDIATION_REQUESTED:
        if f.mediator_choice_open:
            steps.append(Step.CHOOSE_MEDIATOR)
        waiting = Waiting.ANSWER_OFFER if offer else Waiting.MEDIATOR_ASSIGNMENT
        return _step(waiting, steps, offer)
    if s in (_S.MEDIATOR_ASSIGNED, _S.HEARING_SCHEDULED, _S.IN_HEARING):
        hearing = _hearing_steps(f)
        if hearing is not None:
            waiting, more, primary = hearing
            return _step(waiting, [*steps, *more], primary or offer)
        if offer:
            return _step(Waiting.ANSWER_OFFER, steps, offer)
        if s is _S.MEDIATOR_ASSIGNED:
            waiting = (
                Waiting.HEARING_TIMES if f.assignment_accepted else Waiting.MEDIATOR_ACCEPTANCE
            )
            return _step(waiting, steps)
        return _step(Waiting.AGREEMENT_DRAFT, steps)
    if s is _S.AGREEMENT_PENDING:
        if party in f.signed:
            return _step(Waiting.OTHER_SIGNATURES, steps)
        return _step(Waiting.SIGN_AGREEMENT, [*steps, Step.SIGN_AGREEMENT], Step.SIGN_AGREEMENT)
    if s is _S.SETTLED:
        if consumer:
            if f.payment_recorded:
                return _step(Waiting.CONFIRM_PAYMENT, [Step.CONFIRM_PAYMENT], Step.CONFIRM_PAYMENT)
            return _step(Waiting.PAYMENT, [Step.CONFIRM_PAYMENT])
        if f.payment_recorded:
            return _step(Waiting.PAYMENT_CONFIRMATION, [Step.RECORD_PAYMENT])
        return _step(Waiting.PAY, [Step.RECORD_PAYMENT], Step.RECORD_PAYMENT)
    if s in TERMINAL_STATES:
        return _step(Waiting.CLOSING, steps)
    return _step(Waiting.NOTHING, [Step.RATE_SERVICE], Step.RATE_SERVICE)


def _insurer_answer(f: CaseFacts, steps: list[Step]) -> NextStep:
    if f.state is _S.SUBMITTED:
        return _step(Waiting.INSURER_ANSWER, steps)  # triage routes it to the insurer first
    if f.extension_requestable and f.stage is Stage.ANSWER:
        steps.append(Step.REQUEST_EXTENSION)
    return _step(Waiting.GIVE_ANSWER, [Step.ANSWER, *steps], Step.ANSWER)


def _mediator(f: CaseFacts) -> NextStep:
    s = f.state
    steps: list[Step] = []
    if f.extension_requestable and f.stage is Stage.MEDIATION and s in MEDIATION_STAGE_STATES:
        steps.append(Step.REQUEST_EXTENSION)
    if s in (_S.MEDIATOR_ASSIGNED, _S.HEARING_SCHEDULED, _S.AGREEMENT_PENDING):
        steps.append(Step.DECLARE_NOT_SETTLED)
    if s is _S.MEDIATOR_ASSIGNED:
        steps += [Step.DECLINE_ASSIGNMENT, *_mediator_hearing(f)]
        if not f.assignment_accepted:
            steps.append(Step.ACCEPT_ASSIGNMENT)
            return _step(Waiting.ACCEPT_ASSIGNMENT, steps, Step.ACCEPT_ASSIGNMENT)
        return _hearing_wait(f, steps)
    if s is _S.HEARING_SCHEDULED:
        steps += [Step.DRAFT_AGREEMENT, *_mediator_hearing(f)]
        if f.hearing is HearingStage.NONE:
            return _step(Waiting.DRAFT_AGREEMENT, steps, Step.DRAFT_AGREEMENT)
        return _hearing_wait(f, steps)
    if s is _S.IN_HEARING:
        return _step(Waiting.HEARING_IN_PROGRESS, [*steps, Step.JOIN_HEARING], Step.JOIN_HEARING)
    if s is _S.AGREEMENT_PENDING:
        steps.append(Step.DRAFT_AGREEMENT)
        if "mediator" not in f.signed:
            steps.append(Step.SIGN_AGREEMENT)
            return _step(Waiting.SIGN_AGREEMENT, steps, Step.SIGN_AGREEMENT)
        return _step(Waiting.OTHER_SIGNATURES, steps)
    if s is _S.SETTLED:
        waiting = Waiting.PAYMENT_CONFIRMATION if f.payment_recorded else Waiting.PAYMENT
        return _step(waiting, steps)
    if s in TERMINAL_STATES:
        return _step(Waiting.CLOSE, [Step.CLOSE], Step.CLOSE)
    if s is _S.CLOSED:
        return _step(Waiting.NOTHING, steps)
    return _step(Waiting.MEDIATOR_ASSIGNMENT, steps)


def _mediator_hearing(f: CaseFacts) -> list[Step]:
    if f.hearing is HearingStage.NONE:
        return [Step.PROPOSE_HEARING]
    if f.hearing is HearingStage.PROPOSED:
        return [Step.CONFIRM_HEARING_TIME]
    return [Step.JOIN_HEARING]


def _hearing_wait(f: CaseFacts, steps: list[Step]) -> NextStep:
    if f.hearing is HearingStage.NONE:
        return _step(Waiting.PROPOSE_HEARING, steps, Step.PROPOSE_HEARING)
    if f.hearing is HearingStage.PROPOSED:
        return _step(Waiting.CONFIRM_HEARING_TIME, steps, Step.CONFIRM_HEARING_TIME)
    return _step(Waiting.ATTEND_HEARING, steps, Step.JOIN_HEARING)


def _decide_extension(f: CaseFacts) -> list[Step]:
    if f.extension_pending and f.state in EXTENSION_DECISION_STATES:
        return [Step.APPROVE_EXTENSION, Step.REFUSE_EXTENSION]
    return []


def _centre_lead(f: CaseFacts) -> NextStep:
    steps = _decide_extension(f)
    primary = Step.APPROVE_EXTENSION if steps else None
    if f.state in (_S.MEDIATION_REQUESTED, _S.MEDIATOR_ASSIGNED):
        steps.append(Step.ASSIGN_MEDIATOR)
        if f.state is _S.MEDIATION_REQUESTED:
            return _step(Waiting.ASSIGN_MEDIATOR, steps, primary or Step.ASSIGN_MEDIATOR)
    if primary:
        return _step(Waiting.DECIDE_EXTENSION, steps, primary)
    return _step(_staff_waiting(f), steps)


def _supervisor(f: CaseFacts) -> NextStep:
    steps = _decide_extension(f)
    primary = Step.APPROVE_EXTENSION if steps else None
    if f.state is _S.ESCALATED:
        steps += [Step.REFER_TO_MEDIATION, Step.RETURN_TO_INSURER]
        return _step(Waiting.HANDLE_ESCALATION, steps, primary or Step.REFER_TO_MEDIATION)
    if f.state in TERMINAL_STATES:
        return _step(Waiting.CLOSE, [*steps, Step.CLOSE], Step.CLOSE)
    if primary:
        return _step(Waiting.DECIDE_EXTENSION, steps, primary)
    return _step(_staff_waiting(f), steps)


def _staff_waiting(f: CaseFacts) -> Waiting:
    """What staff who only follow a case see it waiting for."""
    s = f.state
    if s in (_S.SUBMITTED, _S.AWAITING_INSURER):
        return Waiting.INSURER_ANSWER
    if s is _S.ESCALATED:
        return Waiting.ESCALATION_FOLLOW_UP
    if s is _S.INSURER_ANSWERED:
        return Waiting.CONSUMER_DECISION
    if s is _S.MEDIATION_REQUESTED:
        return Waiting.MEDIATOR_ASSIGNMENT
    if s is _S.MEDIATOR_ASSIGNED:
        if not f.assignment_accepted:
            return Waiting.MEDIATOR_ACCEPTANCE
        return Waiting.TIMES_CHOSEN if f.hearing is HearingStage.PROPOSED else Waiting.HEARING_TIMES
    if s is _S.HEARING_SCHEDULED:
        return Waiting.AGREEMENT_DRAFT if f.hearing is HearingStage.NONE else Waiting.ATTEND_HEARING
    if s is _S.IN_HEARING:
        return Waiting.HEARING_IN_PROGRESS
    if s is _S.AGREEMENT_PENDING:
        return Waiting.OTHER_SIGNATURES
    if s is _S.SETTLED:
        return Waiting.PAYMENT_CONFIRMATION if f.payment_recorded else Waiting.PAYMENT
    if s in TERMINAL_STATES:
        return Waiting.CLOSING
    return Waiting.NOTHING


def facts_of(
    case: Case,
    now: datetime,
    *,
    hearing: HearingStage | None = None,
    times_chosen: bool = False,
    offer_to_answer: bool = False,
    blind_offer_open: bool = False,
    mediator_choice_open: bool = False,
) -> CaseFacts:
    """The facts of ``case`` at ``now``. The viewer's own facts (an offer to answer, times
    chosen, a blind figure to give, mediators to choose from) and the hearing ahead come from
    the offers and the hearings; without ``hearing``, the case's own record of the next
    hearing stands for it."""
    clock = case.clock
    requestable = (
        case.state in EXTENSION_REQUEST_STATES
        and case.pending_extension is None
        and clock.running
        and clock.next_extension_days() is not None
        and not clock.is_overdue(now)
    )
    if hearing is None:
        hearing = HearingStage.NONE
        if case.state is _S.IN_HEARING:
            hearing = HearingStage.IN_PROGRESS
        elif case.state is _S.HEARING_SCHEDULED and case.next_hearing_at is not None:
            hearing = HearingStage.SCHEDULED
    pending = case.pending_extension
    return CaseFacts(
        state=case.state,
        assignment_accepted=case.assignment_accepted,
        extension_pending=pending is not None and pending.stage is clock.stage,
        extension_requestable=requestable,
        stage=clock.stage,
        signed=frozenset(str(p) for p in case.signatures),
        payment_recorded=case.payment_recorded_at is not None,
        hearing=hearing,
        times_chosen=times_chosen,
        offer_to_answer=offer_to_answer,
        blind_offer_open=blind_offer_open,
        mediator_choice_open=mediator_choice_open,
    )
