"""What the pages say about the next step (`odr.domain.next_step`): one sentence per thing a
person waits for or must do, one button text per step, and the facts of the viewer the case
page adds from its sections (an offer to answer, a blind figure to give, mediators to choose).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from odr.domain.authz import Relation
from odr.domain.next_step import (
    DESTRUCTIVE_STEPS,
    CaseFacts,
    HearingStage,
    NextStep,
    Step,
    Waiting,
    next_step,
)
from web import labels
from web.i18n import N_, _

#: One sentence per `Waiting` key, said to the person reading the page.
WAITING: dict[str, str] = {
    Waiting.INSURER_ANSWER: N_("Wait for the insurer's answer"),
    Waiting.GIVE_ANSWER: N_("Answer the complaint before the deadline"),
    Waiting.ESCALATION_FOLLOW_UP: N_("A supervisor is following up the missed deadline"),
    Waiting.HANDLE_ESCALATION: N_(
        "The insurer missed its deadline: refer the case to mediation or return it"
    ),
    Waiting.DECIDE_ON_ANSWER: N_("Read the answer, then accept it or ask for mediation"),
    Waiting.CONSUMER_DECISION: N_("Wait for the consumer's decision on the answer"),
    Waiting.ANSWER_OFFER: N_("The other side made an offer: accept or decline it"),
    Waiting.DECIDE_EXTENSION: N_("More time was asked for: approve or refuse it"),
    Waiting.MEDIATOR_ASSIGNMENT: N_("Wait for the mediation centre to assign a mediator"),
    Waiting.ASSIGN_MEDIATOR: N_("Assign a mediator"),
    Waiting.MEDIATOR_ACCEPTANCE: N_("Wait for the mediator to take on the case"),
    Waiting.ACCEPT_ASSIGNMENT: N_("Accept or decline the case"),
    Waiting.HEARING_TIMES: N_("Wait for the mediator to propose times for the hearing"),
    Waiting.PROPOSE_HEARING: N_("Propose times for the hearing"),
    Waiting.CHOOSE_HEARING_TIMES: N_("Tick the hearing times you can attend"),
    Waiting.TIMES_CHOSEN: N_("Wait for the mediator to confirm the hearing time"),
    Waiting.CONFIRM_HEARING_TIME: N_("Confirm one of the proposed hearing times"),
    Waiting.ATTEND_HEARING: N_("Take part in the hearing at the time set"),
    Waiting.HEARING_IN_PROGRESS: N_("The hearing is under way: join it"),
    Waiting.AGREEMENT_DRAFT: N_("Wait for the mediator's draft agreement"),
    Waiting.DRAFT_AGREEMENT: N_("Draft the agreement"),
    Waiting.SIGN_AGREEMENT: N_("Read the agreement and sign it"),
    Waiting.OTHER_SIGNATURES: N_("Wait for the others to sign the agreement"),
    Waiting.PAY: N_("Pay as agreed, then record the payment"),
    Waiting.PAYMENT: N_("Wait for the insurer to pay as agreed"),
    Waiting.CONFIRM_PAYMENT: N_("The insurer recorded a payment: confirm that you received it"),
    Waiting.PAYMENT_CONFIRMATION: N_("Wait for the consumer to confirm the payment"),
    Waiting.CLOSE: N_("Close the case"),
    Waiting.CLOSING: N_("Nothing more to do: the case will be closed"),
    Waiting.NOTHING: N_("Nothing more to do"),
}

#: The button of each step; the case commands keep their own (`web.labels.OPERATIONS`).
STEPS: dict[str, str] = {
    **labels.OPERATIONS,
    Step.REJECT_ANSWER: N_("Ask for mediation"),
    Step.CLOSE: N_("Close the case and show the report"),
    Step.CHOOSE_MEDIATOR: N_("Suggest a mediator"),
    Step.PROPOSE_HEARING: N_("Propose hearing times"),
    Step.CHOOSE_HEARING_TIMES: N_("Choose hearing times"),
    Step.CONFIRM_HEARING_TIME: N_("Confirm the hearing time"),
    Step.JOIN_HEARING: N_("Go to the hearing"),
    Step.ANSWER_OFFER: N_("Answer the offer"),
    Step.BLIND_OFFER: N_("Give my confidential figure"),
    Step.MAKE_OFFER: N_("Make an offer"),
    Step.DRAFT_AGREEMENT: N_("Draft the agreement"),
    Step.SIGN_AGREEMENT: N_("Sign the agreement"),
    Step.DECLARE_NOT_SETTLED: N_("End mediation without agreement"),
    Step.RECORD_PAYMENT: N_("Record a payment"),
    Step.CONFIRM_PAYMENT: N_("Confirm the payment"),
    Step.RATE_SERVICE: N_("Rate the service"),
}

#: Where on the case page each step's form is (the primary action links to it).
ANCHORS: dict[str, str] = {
    Step.CHOOSE_MEDIATOR: "choose-mediator-form",
    Step.ASSIGN_MEDIATOR: "assign-mediator-form",
    Step.PROPOSE_HEARING: "propose-hearing",
    Step.CHOOSE_HEARING_TIMES: "hearings",
    Step.CONFIRM_HEARING_TIME: "hearings",
    Step.JOIN_HEARING: "hearings",
    Step.ANSWER_OFFER: "outcome-answer",
    Step.BLIND_OFFER: "outcome-blind",
    Step.MAKE_OFFER: "outcome-offer",
    Step.DRAFT_AGREEMENT: "outcome-draft",
    Step.SIGN_AGREEMENT: "outcome-sign",
    Step.DECLARE_NOT_SETTLED: "outcome-not_settled",
    Step.RECORD_PAYMENT: "outcome-payment",
    Step.CONFIRM_PAYMENT: "outcome-confirm",
    Step.CLOSE: "outcome-close",
    Step.RATE_SERVICE: "outcome-rating",
}

#: What each step that cannot be undone does, said before the person confirms it.
CONSEQUENCES: dict[str, str] = {
    Step.WITHDRAW: N_(
        "Withdrawing ends your complaint: the insurer and the mediator stop working on it, "
        "and it cannot be reopened. You can file a new complaint later."
    ),
    Step.CLOSE: N_(
        "Closing is the last step of the case: the closing report is made from its history, "
        "and nothing more can be added to the case."
    ),
}
#: The words of the confirmation box of each step that cannot be undone.
CONFIRMATIONS: dict[str, str] = {
    Step.WITHDRAW: N_("I understand that my complaint ends and cannot be reopened."),
    Step.CLOSE: N_("I understand that the case is closed for good."),
}
assert set(CONSEQUENCES) == set(CONFIRMATIONS) == set(DESTRUCTIVE_STEPS)


def waiting_label(key: str | None) -> str:
    return labels.label(WAITING, key)


def step_label(step: str | None) -> str:
    return labels.label(STEPS, step)


def anchor(step: str) -> str:
    """The id of the step's form on the case page."""
    return ANCHORS.get(step, f"op-{step}")


#: Functions templates call by these names.
TEMPLATE_GLOBALS = {
    "waiting_label": waiting_label,
    "step_label": step_label,
    "step_anchor": anchor,
    "consequence_of": lambda step: _(CONSEQUENCES[step]),
    "confirmation_of": lambda step: _(CONFIRMATIONS[step]),
}


def for_page(
    facts: CaseFacts,
    viewer: tuple[Relation, ...],
    hearings: Mapping[str, Any],
    outcome: Mapping[str, Any],
) -> NextStep:
    """The next step of the page's reader: the case's facts, with the reader's own facts read
    from the hearings and outcome sections the page shows."""
    hearing = hearings.get("open_hearing")
    stage = HearingStage.NONE
    chosen = False
    if hearing is not None:
        stage = {
            "proposed": HearingStage.PROPOSED,
            "scheduled": HearingStage.SCHEDULED,
            "in_progress": HearingStage.IN_PROGRESS,
        }.get(hearing.state, HearingStage.NONE)
        chosen = hearing.my_choice is not None
    mine = dataclasses.replace(
        facts,
        hearing=stage,
        times_chosen=chosen,
        offer_to_answer=bool(outcome.get("answerable")),
        blind_offer_open=bool(outcome.get("may_blind")),
        mediator_choice_open=bool(hearings.get("may_choose_mediator")),
    )
    return next_step(mine, viewer)
