"""The one function that decides what an actor may do to a case, a hearing or an evidence item.

Handlers and socket messages never decide access themselves: they describe the target (a case,
a hearing of a case, an evidence item of a case) with the scopes below and call `authorize`.

Two ways to say no: an actor who may not even *see* a case gets `NotFound` (a stranger cannot
learn that a case exists); an actor who may see it but not do this gets `Forbidden`.

The system principal (`Actor.system`, the platform's background work) stands to every case but
may only do `SYSTEM_ACTIONS`: read, triage, run the clock, close. It never acts for a party.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from odr.domain.accounts import Actor, Role
from odr.domain.errors import Forbidden, NotFound


class Relation(StrEnum):
    """How an actor stands to one case."""

    CONSUMER = "consumer"
    INSURER = "insurer"
    MEDIATOR = "mediator"
    CENTRE_LEAD = "centre_lead"
    SUPERVISOR = "supervisor"
    CHANNEL = "channel"
    SYSTEM = "system"  # the platform's background work, on every case


class Action(StrEnum):
    # on a case
    VIEW_CASE_STATUS = "view_case_status"
    VIEW_CASE = "view_case"
    WITHDRAW_CASE = "withdraw_case"
    RESPOND_TO_ANSWER = "respond_to_answer"  # accept or reject the insurer's answer
    REQUEST_MEDIATION = "request_mediation"
    ANSWER_COMPLAINT = "answer_complaint"
    CORRECT_CATEGORY = "correct_category"  # set or confirm the category triage suggested
    TRIAGE_CASE = "triage_case"
    APPLY_RETENTION = "apply_retention"  # delete the bytes of evidence kept long enough
    ENTER_RECORD = "enter_record"  # enter the system's own records (recordings…) as evidence
    RUN_CLOCK = "run_clock"  # record the reminders and escalations the deadlines ask for
    REQUEST_EXTENSION = "request_extension"  # of the answer deadline
    REQUEST_MEDIATION_EXTENSION = "request_mediation_extension"  # of the mediation deadline
    APPROVE_EXTENSION = "approve_extension"
    HANDLE_ESCALATION = "handle_escalation"
    ASSIGN_MEDIATOR = "assign_mediator"
    ACCEPT_ASSIGNMENT = "accept_assignment"
    DECLINE_ASSIGNMENT = "decline_assignment"
    SCHEDULE_HEARING = "schedule_hearing"
    CHOOSE_HEARING_SLOT = "choose_hearing_slot"
    SEND_MESSAGE = "send_message"
    UPLOAD_EVIDENCE = "upload_evidence"
    EXPORT_EVIDENCE = "export_evidence"
    DRAFT_AGREEMENT = "draft_agreement"
    SIGN_AGREEMENT = "sign_agreement"
    END_MEDIATION = "end_mediation"  # declare the case not settled
    RECORD_PAYMENT = "record_payment"
    CONFIRM_PAYMENT = "confirm_payment"
    CLOSE_CASE = "close_case"
    RATE_SERVICE = "rate_service"
    MAKE_OFFER = "make_offer"  # open offers, counter-offers and blind offers
    VIEW_ACCESS_LOG = "view_access_log"  # who of the staff opened the case (PIPL)
    # on a hearing of a case
    VIEW_HEARING = "view_hearing"
    JOIN_HEARING = "join_hearing"
    MODERATE_HEARING = "moderate_hearing"
    # on an evidence item of a case
    VIEW_EVIDENCE = "view_evidence"
    WITHDRAW_EVIDENCE = "withdraw_evidence"
    REDACT_EVIDENCE = "redact_evidence"  # black out personal numbers in a derived copy
    REQUEST_REDACTION = "request_redaction"  # the uploader asks for more to be blacked out
    VIEW_EVIDENCE_FLAGS = "view_evidence_flags"  # mis-selling wording and key facts found
    # not about one case
    FILE_COMPLAINT = "file_complaint"
    REGISTER_REFERRAL = "register_referral"
    VIEW_ALL_CASES = "view_all_cases"
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_INSURER_INBOX = "view_insurer_inbox"
    VIEW_CENTRE_QUEUE = "view_centre_queue"
    MANAGE_USERS = "manage_users"
    REQUEST_CALLBACK = "request_callback"  # a consumer asks to be phoned
    VIEW_CALLBACKS = "view_callbacks"  # staff read the call-back requests addressed to them


class Visibility(StrEnum):
    ALL_PARTIES = "all_parties"
    MEDIATOR_ONLY = "mediator_only"


@dataclass(frozen=True, slots=True)
class CaseScope:
    """What authorisation needs to know about a case."""

    consumer_id: int
    insurer_id: int
    mediator_id: int | None = None
    centre_id: int | None = None
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class HearingScope:
    case: CaseScope


@dataclass(frozen=True, slots=True)
class EvidenceScope:
    case: CaseScope
    submitter_id: int | None
    visibility: Visibility = Visibility.ALL_PARTIES


Target = CaseScope | HearingScope | EvidenceScope | None

_C, _I, _M, _L, _S, _CH, _SYS = (
    Relation.CONSUMER,
    Relation.INSURER,
    Relation.MEDIATOR,
    Relation.CENTRE_LEAD,
    Relation.SUPERVISOR,
    Relation.CHANNEL,
    Relation.SYSTEM,
)
_PARTIES = frozenset({_C, _I, _M})
_READERS = frozenset({_C, _I, _M, _L, _S})

#: Everything the system principal may do on a case; `authorize` refuses it anything else,
#: whatever CASE_RULES says (it must never answer, sign or otherwise act for a party).
SYSTEM_ACTIONS = frozenset(
    {
        Action.VIEW_CASE_STATUS,
        Action.VIEW_CASE,
        Action.TRIAGE_CASE,
        Action.RUN_CLOCK,
        Action.APPLY_RETENTION,
        Action.ENTER_RECORD,
        Action.REDACT_EVIDENCE,
        Action.CLOSE_CASE,
        Action.ASSIGN_MEDIATOR,  # the mediator both parties chose (no person decided)
    }
)

#: For actions on a case (or on a hearing or evidence item of it): the relations that may act.
CASE_RULES: dict[Action, frozenset[Relation]] = {
    Action.VIEW_CASE_STATUS: _READERS | {_CH, _SYS},
    Action.VIEW_CASE: _READERS | {_SYS},
    Action.WITHDRAW_CASE: frozenset({_C}),
    Action.RESPOND_TO_ANSWER: frozenset({_C}),
    Action.REQUEST_MEDIATION: frozenset({_C}),
    Action.ANSWER_COMPLAINT: frozenset({_I}),
    Action.CORRECT_CATEGORY: frozenset({_I, _M}),
    Action.TRIAGE_CASE: frozenset({_S, _SYS}),
    Action.RUN_CLOCK: frozenset({_SYS}),
    Action.APPLY_RETENTION: frozenset({_SYS}),
    Action.ENTER_RECORD: frozenset({_SYS}),
    Action.REQUEST_EXTENSION: frozenset({_I}),
    Action.REQUEST_MEDIATION_EXTENSION: frozenset({_M}),
    Action.APPROVE_EXTENSION: frozenset({_S, _L}),
    Action.HANDLE_ESCALATION: frozenset({_S}),
    Action.ASSIGN_MEDIATOR: frozenset({_L, _SYS}),
    Action.ACCEPT_ASSIGNMENT: frozenset({_M}),
    Action.DECLINE_ASSIGNMENT: frozenset({_M}),
    Action.SCHEDULE_HEARING: frozenset({_M}),
    Action.CHOOSE_HEARING_SLOT: frozenset({_C, _I}),
    Action.SEND_MESSAGE: _PARTIES,
    Action.UPLOAD_EVIDENCE: _PARTIES,
    Action.EXPORT_EVIDENCE: _READERS,
    Action.DRAFT_AGREEMENT: frozenset({_M}),
    Action.SIGN_AGREEMENT: _PARTIES,
    Action.END_MEDIATION: frozenset({_M}),
    Action.RECORD_PAYMENT: frozenset({_I}),
    Action.CONFIRM_PAYMENT: frozenset({_C}),
    # a supervisor or the system closes cases that ended before reaching a mediator
    Action.CLOSE_CASE: frozenset({_M, _S, _SYS}),
    Action.RATE_SERVICE: frozenset({_C, _I}),
    Action.MAKE_OFFER: frozenset({_C, _I}),
    Action.VIEW_ACCESS_LOG: frozenset({_C, _S}),
    Action.VIEW_HEARING: _READERS,
    Action.JOIN_HEARING: _PARTIES,
    Action.MODERATE_HEARING: frozenset({_M}),
    Action.VIEW_EVIDENCE: _READERS,
    Action.WITHDRAW_EVIDENCE: _PARTIES,
    Action.REDACT_EVIDENCE: frozenset({_SYS}),
    Action.REQUEST_REDACTION: frozenset({_C, _I}),
    Action.VIEW_EVIDENCE_FLAGS: frozenset({_M, _L, _S}),
}

#: For actions that concern no single case: the roles that may act.
GLOBAL_RULES: dict[Action, frozenset[Role]] = {
    Action.FILE_COMPLAINT: frozenset({Role.CONSUMER, Role.CHANNEL}),
    Action.REGISTER_REFERRAL: frozenset({Role.SUPERVISOR}),
    Action.VIEW_ALL_CASES: frozenset({Role.SUPERVISOR}),
    Action.VIEW_DASHBOARD: frozenset({Role.SUPERVISOR}),
    Action.VIEW_INSURER_INBOX: frozenset({Role.INSURER_REP}),
    Action.VIEW_CENTRE_QUEUE: frozenset({Role.CENTRE_LEAD}),
    Action.MANAGE_USERS: frozenset({Role.SUPERVISOR}),
    Action.REQUEST_CALLBACK: frozenset({Role.CONSUMER}),
    Action.VIEW_CALLBACKS: frozenset(
        {Role.INSURER_REP, Role.MEDIATOR, Role.CENTRE_LEAD, Role.SUPERVISOR}
    ),
}


def relations(actor: Actor, case: CaseScope) -> frozenset[Relation]:
    """Every way the actor stands to the case (a centre lead may also be its mediator)."""
    found: set[Relation] = set()
    if actor.role is Role.SYSTEM:
        # only the principal itself: an account that somehow carries the role is no one
        return frozenset({Relation.SYSTEM}) if actor.user_id is None else frozenset()
    if actor.role is Role.CHANNEL:
        if actor.channel_id is not None and actor.channel_id == case.channel_id:
            found.add(Relation.CHANNEL)
        return frozenset(found)
    if actor.user_id is None:
        return frozenset()
    if actor.role is Role.CONSUMER and actor.user_id == case.consumer_id:
        found.add(Relation.CONSUMER)
    if actor.role is Role.SUPERVISOR and actor.organisation_id is not None:
        found.add(Relation.SUPERVISOR)
    if actor.organisation_id is None:
        return frozenset(found)  # staff who left their organisation act for no one
    if actor.role is Role.INSURER_REP and actor.organisation_id == case.insurer_id:
        found.add(Relation.INSURER)
    if actor.role in (Role.MEDIATOR, Role.CENTRE_LEAD) and actor.user_id == case.mediator_id:
        found.add(Relation.MEDIATOR)
    if actor.role is Role.CENTRE_LEAD and actor.organisation_id == case.centre_id:
        found.add(Relation.CENTRE_LEAD)
    return frozenset(found)


def _case_of(target: CaseScope | HearingScope | EvidenceScope) -> CaseScope:
    return target if isinstance(target, CaseScope) else target.case


def _may_see_evidence(actor: Actor, item: EvidenceScope, rel: frozenset[Relation]) -> bool:
    if item.visibility is Visibility.ALL_PARTIES:
        return True
    if actor.user_id is not None and actor.user_id == item.submitter_id:
        return True  # a party always sees what it gave the mediator
    return bool(rel & {Relation.MEDIATOR, Relation.CENTRE_LEAD, Relation.SUPERVISOR})


def is_allowed(actor: Actor, action: Action, target: Target = None) -> bool:
    """True when ``actor`` may do ``action`` to ``target``; never raises."""
    try:
        authorize(actor, action, target)
    except (NotFound, Forbidden):
        return False
    return True


def authorize(actor: Actor, action: Action, target: Target = None) -> None:
    """Raise `NotFound` when the target is hidden from the actor, `Forbidden` when the
    actor sees it but may not do this; return quietly when the action is allowed."""
    if action in GLOBAL_RULES:
        if actor.role in GLOBAL_RULES[action] and _active(actor, action):
            return
        raise Forbidden("You are not allowed to do this.", code="forbidden")
    if target is None:
        raise ValueError(f"action {action} needs a target")
    case = _case_of(target)
    rel = relations(actor, case)
    hidden = NotFound("No such case.", code="case_not_found")
    if not rel:
        raise hidden
    if isinstance(target, EvidenceScope) and not _may_see_evidence(actor, target, rel):
        raise NotFound("No such evidence item.", code="evidence_not_found")
    if Relation.CHANNEL in rel and action is not Action.VIEW_CASE_STATUS:
        raise hidden  # a channel reads the status of its cases and nothing else
    if Relation.SYSTEM in rel and action not in SYSTEM_ACTIONS:
        raise Forbidden("The system does not act for a party.", code="forbidden")
    if not rel & CASE_RULES[action]:
        raise Forbidden("You are not allowed to do this on this case.", code="forbidden")
    if action is Action.WITHDRAW_EVIDENCE and isinstance(target, EvidenceScope):
        mine = actor.user_id is not None and actor.user_id == target.submitter_id
        if not mine:
            raise Forbidden("Only the submitter may withdraw an item.", code="forbidden")
    if action is Action.REQUEST_REDACTION and isinstance(target, EvidenceScope):
        mine = actor.user_id is not None and actor.user_id == target.submitter_id
        if not mine:
            raise Forbidden("Only the submitter may ask for more redaction.", code="forbidden")


def _active(actor: Actor, action: Action) -> bool:
    if actor.role is Role.CONSUMER or actor.role is Role.CHANNEL:
        return True
    if actor.organisation_id is None:
        return False
    if action is Action.MANAGE_USERS:
        return actor.is_admin
    return True
