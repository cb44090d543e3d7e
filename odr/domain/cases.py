"""The case: one complaint by one consumer against one insurer about one or more policies
from filing to closing, as an aggregate with an explicit state machine.

Every transition is a method taking the acting `Actor` and ``now`` (timezone-aware; the domain
never reads the clock). It asks `authorize` with the case's scope first (so a stranger learns
nothing about the case's state), then checks the state (`Conflict` with code
``illegal_transition`` naming the state and the transition), then its own rules, and records
one `CaseEvent`. Events get consecutive sequence numbers; ``version`` is the sequence number of
the last event, and ``events`` holds those not yet saved.

Money is in integer fen (分): ``amount_fen=320000`` is 3,200.00 yuan.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from odr.domain.accounts import Actor, Role
from odr.domain.agreements import MAX_TERMS
from odr.domain.authz import (
    Action,
    CaseScope,
    EvidenceScope,
    HearingScope,
    Visibility,
    authorize,
    is_allowed,
)
from odr.domain.categories import Category
from odr.domain.deadlines import (
    Clock,
    DeadlineRules,
    DueAction,
    DueKind,
    ExtensionRequest,
    Stage,
    due_actions,
    require_aware,
)
from odr.domain.errors import Conflict, Forbidden, ValidationFailed
from odr.domain.frozen import freeze, thaw
from odr.domain.masking import MaskResult, mask_personal_numbers
from odr.domain.money import FEN_PER_YUAN, MAX_YUAN
from odr.domain.sides import PARTY_OF_ROLE, Party


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_INSURER = "awaiting_insurer"
    INSURER_ANSWERED = "insurer_answered"
    ESCALATED = "escalated"
    MEDIATION_REQUESTED = "mediation_requested"
    MEDIATOR_ASSIGNED = "mediator_assigned"
    HEARING_SCHEDULED = "hearing_scheduled"
    IN_HEARING = "in_hearing"
    AGREEMENT_PENDING = "agreement_pending"
    SETTLED = "settled"
    FULFILLED = "fulfilled"
    NOT_SETTLED = "not_settled"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


_S = CaseState
TERMINAL_STATES = frozenset({_S.RESOLVED, _S.WITHDRAWN, _S.FULFILLED, _S.NOT_SETTLED})
#: Cases still under way (neither ended nor closed).
OPEN_STATES = frozenset(_S) - TERMINAL_STATES - {_S.CLOSED}
#: States in which each stage's clock runs (it is stopped everywhere else).
ANSWER_STAGE_STATES = frozenset({_S.SUBMITTED, _S.AWAITING_INSURER, _S.ESCALATED})
MEDIATION_STAGE_STATES = frozenset(
    {
        _S.MEDIATION_REQUESTED,
        _S.MEDIATOR_ASSIGNED,
        _S.HEARING_SCHEDULED,
        _S.IN_HEARING,
        _S.AGREEMENT_PENDING,
    }
)
CLOCK_STATES = ANSWER_STAGE_STATES | MEDIATION_STAGE_STATES
#: Where the consumer may withdraw the complaint: the case is open and no signed agreement
#: binds them yet (once settled, the agreement is carried out, not withdrawn).
WITHDRAWABLE_STATES = OPEN_STATES - {_S.SETTLED}
EXTENSION_REQUEST_STATES = MEDIATION_STAGE_STATES | {_S.AWAITING_INSURER}
#: A request made in time may still be decided after the escalation it did not prevent.
EXTENSION_DECISION_STATES = EXTENSION_REQUEST_STATES | {_S.ESCALATED}
#: Who asks for more time depends on whose deadline runs: the insurer's or the mediator's.
#: Where the parties may negotiate (open offers and blind offers): after the insurer's answer
#: and in mediation until an agreement is drafted. A deal before mediation resolves the case.
NEGOTIATION_STATES = frozenset(
    {_S.INSURER_ANSWERED, _S.MEDIATION_REQUESTED, _S.MEDIATOR_ASSIGNED, _S.HEARING_SCHEDULED}
)
#: Where the judicial-confirmation window (司法确认) of a signed agreement still runs.
CONFIRMATION_STATES = frozenset({_S.SETTLED, _S.FULFILLED, _S.CLOSED})
EXTENSION_REQUEST_ACTIONS = {
    Stage.ANSWER: Action.REQUEST_EXTENSION,
    Stage.MEDIATION: Action.REQUEST_MEDIATION_EXTENSION,
}


class ChannelKind(StrEnum):
    WEB = "web"
    PARTNER_API = "partner_api"
    HOTLINE = "hotline"
    REGULATOR_REFERRAL = "regulator_referral"


#: Which channel kinds each filing role may use.
_CHANNEL_KINDS_BY_ROLE: dict[Role, frozenset[ChannelKind]] = {
    Role.CONSUMER: frozenset({ChannelKind.WEB}),
    Role.CHANNEL: frozenset({ChannelKind.PARTNER_API, ChannelKind.HOTLINE}),
    Role.SUPERVISOR: frozenset({ChannelKind.REGULATOR_REFERRAL}),
}


class AnswerKind(StrEnum):
    ACCEPT = "accept"  # the insurer grants the complaint
    PROPOSE = "propose"  # the insurer offers a settlement
    REJECT = "reject"


class EventKind(StrEnum):
    FILED = "filed"
    TRIAGED = "triaged"
    ANSWERED = "answered"
    ANSWER_ACCEPTED = "answer_accepted"
    ANSWER_REJECTED = "answer_rejected"
    MEDIATION_REQUESTED = "mediation_requested"
    REMINDER = "reminder"
    ESCALATED = "escalated"
    REFERRED_TO_MEDIATION = "referred_to_mediation"
    RETURNED_TO_INSURER = "returned_to_insurer"
    MEDIATOR_ASSIGNED = "mediator_assigned"
    ASSIGNMENT_ACCEPTED = "assignment_accepted"
    ASSIGNMENT_DECLINED = "assignment_declined"
    HEARING_SCHEDULED = "hearing_scheduled"
    HEARING_STARTED = "hearing_started"
    HEARING_ENDED = "hearing_ended"
    AGREEMENT_PROPOSED = "agreement_proposed"
    AGREEMENT_SIGNED = "agreement_signed"
    PAYMENT_RECORDED = "payment_recorded"
    PAYMENT_CONFIRMED = "payment_confirmed"
    NOT_SETTLED = "not_settled"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    EXTENSION_REQUESTED = "extension_requested"
    DEADLINE_EXTENDED = "deadline_extended"
    EXTENSION_REFUSED = "extension_refused"
    MESSAGE_SENT = "message_sent"
    EVIDENCE_ADDED = "evidence_added"
    EVIDENCE_WITHDRAWN = "evidence_withdrawn"
    EVIDENCE_PURGED = "evidence_purged"
    # personal numbers blacked out of an item's copy for the other side; more asked for
    EVIDENCE_REDACTED = "evidence_redacted"
    REDACTION_REQUESTED = "redaction_requested"
    # outcomes: blind offers and open offers, fulfilment, the confirmation window
    BLIND_OFFER_SUBMITTED = "blind_offer_submitted"
    BLIND_ROUND_ENDED = "blind_round_ended"
    OFFER_MADE = "offer_made"
    OFFER_ANSWERED = "offer_answered"
    PAYMENT_DISPUTED = "payment_disputed"
    # staff (the insurer's or the mediator) correct or confirm the category triage suggested
    CATEGORY_CORRECTED = "category_corrected"
    PAYMENT_REMINDER = "payment_reminder"
    PAYMENT_ESCALATED = "payment_escalated"
    CONFIRMATION_REMINDER = "confirmation_reminder"


class EvidenceKind(StrEnum):
    DOCUMENT = "document"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    CALLBACK_RECORDING = "callback_recording"  # an insurer's 回访 recording
    CHAT_TRANSCRIPT = "chat_transcript"
    CALL_RECORD = "call_record"
    RECORDING = "recording"
    AGREEMENT = "agreement"
    REPORT = "report"


#: Kinds a party may upload; the others are made by the system itself.
UPLOADABLE_EVIDENCE = frozenset(
    {
        EvidenceKind.DOCUMENT,
        EvidenceKind.IMAGE,
        EvidenceKind.AUDIO,
        EvidenceKind.VIDEO,
        EvidenceKind.CALLBACK_RECORDING,
    }
)


MAX_TEXT_LENGTH = 10_000
#: A complaint's description and the outcome the consumer wants (characters).
MAX_DESCRIPTION = 5_000
MAX_DESIRED_OUTCOME = 1_000
MAX_MESSAGE_LENGTH = 4_000
MAX_POLICY_NUMBER_LENGTH = 64


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One entry of a case's log; immutable (the payload is frozen on creation)."""

    case_id: int
    sequence: int
    kind: EventKind
    actor_user_id: int | None
    actor_role: Role
    at: datetime
    from_state: CaseState | None
    to_state: CaseState
    payload: Mapping[str, Any] = field(default_factory=dict)
    actor_channel_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", freeze(self.payload))

    def __deepcopy__(self, memo: dict[int, Any]) -> CaseEvent:
        return self  # immutable all the way down (a mappingproxy cannot be deep-copied)

    def payload_dict(self) -> dict[str, Any]:
        """The payload as plain dicts and lists, ready for JSON."""
        plain: dict[str, Any] = thaw(self.payload)
        return plain


@dataclass(frozen=True, slots=True)
class Answer:
    kind: AnswerKind
    text: str
    offered_amount_fen: int | None
    by_user_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Agreement:
    """The draft the parties sign; its hash binds each signature to this exact text."""

    terms: str
    amount_fen: int | None
    due_on: date | None
    sha256: str
    drafted_by: int | None
    at: datetime

    @staticmethod
    def digest(terms: str, amount_fen: int | None, due_on: date | None) -> str:
        canonical = json.dumps(
            {"terms": terms, "amount_fen": amount_fen, "due_on": due_on and due_on.isoformat()},
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- Case numbers ----------------------------------------------------------------------------

_CASE_NUMBER = re.compile(r"ODR-(\d{4})-(\d{6,})", re.ASCII)


class CaseNumber(NamedTuple):
    year: int
    serial: int


def format_case_number(year: int, serial: int) -> str:
    """``format_case_number(2026, 123) == "ODR-2026-000123"`` (more digits past 999999)."""
    if not 1000 <= year <= 9999 or serial < 1:
        raise ValueError(f"no case number for year {year}, serial {serial}")
    return f"ODR-{year:04d}-{serial:06d}"


def parse_case_number(text: str) -> CaseNumber:
    """The inverse of `format_case_number`; lenient about case and surrounding blanks only."""
    match = _CASE_NUMBER.fullmatch(text.strip().upper())
    if match is not None:
        year, serial = int(match[1]), int(match[2])
        if serial >= 1 and format_case_number(year, serial) == match[0]:
            return CaseNumber(year, serial)
    raise ValidationFailed(
        f"{text!r} is not a case number like ODR-2026-000123.",
        code="invalid_case_number",
        details={"field": "number"},
    )


# --- Small input checks ------------------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: str, name: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise ValidationFailed(
            f"Unknown {name} {value!r}.", code=f"invalid_{name}", details={"field": name}
        ) from None


def _text(value: str, name: str, *, limit: int = MAX_TEXT_LENGTH, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise ValidationFailed(
            f"Enter the {name.replace('_', ' ')}.", code=f"{name}_required", details={"field": name}
        )
    if len(text) > limit:
        raise ValidationFailed(
            f"The {name.replace('_', ' ')} may have at most {limit} characters.",
            code=f"{name}_too_long",
            details={"field": name, "max": limit},
        )
    return text


#: The largest amount a case takes, in fen (`odr.domain.money.MAX_YUAN`); it also keeps every
#: amount an exact integer of the hash chain's canonical JSON.
MAX_FEN = int(MAX_YUAN) * FEN_PER_YUAN


def _amount(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEN:
        raise ValidationFailed(
            "An amount is a whole, non-negative number of fen, at most 100 billion yuan.",
            code="invalid_amount",
            details={"field": name},
        )
    return value


def _policy_numbers(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    cleaned: list[str] = []
    for raw in values:
        number = raw.strip()
        if not number or len(number) > MAX_POLICY_NUMBER_LENGTH:
            raise ValidationFailed(
                "A policy number has 1 to 64 characters.",
                code="invalid_policy_number",
                details={"field": "policy_numbers"},
            )
        if number not in cleaned:
            cleaned.append(number)
    if not cleaned:
        raise ValidationFailed(
            "Name at least one policy.",
            code="policy_number_required",
            details={"field": "policy_numbers"},
        )
    return tuple(cleaned)


def _iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


# --- The aggregate -------------------------------------------------------------------------------


@dataclass(eq=False)
class Case:
    id: int
    number: str
    consumer_id: int
    insurer_id: int
    policy_numbers: tuple[str, ...]
    category: Category
    amount_fen: int  # what the complaint is about, in fen; 0 when not about money
    channel_kind: ChannelKind
    received_at: datetime
    clock: Clock
    state: CaseState = CaseState.SUBMITTED
    channel_id: int | None = None
    centre_id: int | None = None
    mediator_id: int | None = None
    assignment_accepted: bool = False
    care_priority: bool = False
    risk_score: int | None = None  # 0-100, set by triage
    risk_reasons: tuple[str, ...] = ()
    answer: Answer | None = None
    agreement: Agreement | None = None
    signatures: dict[Party, int | None] = field(default_factory=dict)
    next_hearing_at: datetime | None = None
    payment_recorded_at: datetime | None = None
    pending_extension: ExtensionRequest | None = None
    version: int = 0
    events: list[CaseEvent] = field(default_factory=list)

    # -- filing and triage --

    @classmethod
    def file(
        cls,
        actor: Actor,
        now: datetime,
        *,
        case_id: int,
        number: str,
        consumer_id: int,
        insurer_id: int,
        policy_numbers: Sequence[str],
        category: Category | str,
        deadlines: DeadlineRules,
        amount_fen: int = 0,
        channel_kind: ChannelKind | str = ChannelKind.WEB,
        received_at: datetime | None = None,
        care_requested: bool = False,
    ) -> Case:
        """A new complaint in state ``submitted``; its answer deadline runs from
        ``received_at`` (when a hotline or the regulator received it; default ``now``)."""
        require_aware(now)
        kind = _enum(ChannelKind, channel_kind, "channel_kind")
        action = (
            Action.REGISTER_REFERRAL
            if kind is ChannelKind.REGULATOR_REFERRAL
            else Action.FILE_COMPLAINT
        )
        authorize(actor, action)
        if kind not in _CHANNEL_KINDS_BY_ROLE.get(actor.role, frozenset()):
            raise ValidationFailed(
                f"A {actor.role} cannot file through channel kind {kind}.",
                code="invalid_channel_kind",
                details={"field": "channel_kind"},
            )
        received = require_aware(received_at or now, "received_at")
        if received > now:
            raise ValidationFailed(
                "The complaint cannot be received in the future.",
                code="invalid_received_at",
                details={"field": "received_at"},
            )
        cat = _enum(Category, category, "category")
        policy = deadlines.for_category(cat)
        case = cls(
            id=case_id,
            number=format_case_number(*parse_case_number(number)),
            consumer_id=consumer_id,
            insurer_id=insurer_id,
            policy_numbers=_policy_numbers(policy_numbers),
            category=cat,
            amount_fen=_amount(amount_fen, "amount_fen") or 0,
            channel_kind=kind,
            channel_id=actor.channel_id if actor.role is Role.CHANNEL else None,
            received_at=received,
            care_priority=care_requested,
            clock=Clock.start(Stage.ANSWER, received, policy, deadlines.time_zone),
        )
        if not is_allowed(actor, Action.VIEW_CASE_STATUS, case.scope()):
            raise Forbidden("You may only file a complaint of your own.", code="forbidden")
        case._record(
            actor,
            now,
            EventKind.FILED,
            CaseState.SUBMITTED,
            {
                "number": case.number,
                "consumer_id": consumer_id,
                "insurer_id": insurer_id,
                "policy_numbers": case.policy_numbers,
                "category": str(cat),
                "amount_fen": case.amount_fen,
                "channel_kind": str(kind),
                "received_at": _iso(received),
                "answer_due_at": _iso(case.clock.due_at),
                "care_requested": care_requested,
            },
            created=True,
        )
        return case

    def triage(
        self,
        actor: Actor,
        now: datetime,
        *,
        category: Category | str,
        risk_score: int,
        deadlines: DeadlineRules,
        risk_reasons: Sequence[str] = (),
        care_priority: bool = False,
    ) -> None:
        """Route the case to the insurer with its category, risk and care priority; the answer
        deadline follows the (possibly corrected) category's policy, still from receipt."""
        self._check(actor, now, Action.TRIAGE_CASE, {_S.SUBMITTED}, "triage")
        cat = _enum(Category, category, "category")
        if (
            isinstance(risk_score, bool)
            or not isinstance(risk_score, int)
            or not (0 <= risk_score <= 100)
        ):
            raise ValidationFailed(
                "A risk score is a whole number from 0 to 100.",
                code="invalid_risk_score",
                details={"field": "risk_score"},
            )
        policy = deadlines.for_category(cat)
        self.clock = replace(
            Clock.start(Stage.ANSWER, self.received_at, policy, deadlines.time_zone),
            fired=self.clock.fired,
        )
        previous = self.category
        self.category = cat
        self.risk_score = risk_score
        self.risk_reasons = tuple(str(r) for r in risk_reasons)
        self.care_priority = self.care_priority or care_priority
        self._record(
            actor,
            now,
            EventKind.TRIAGED,
            _S.AWAITING_INSURER,
            {
                "category": str(cat),
                "previous_category": str(previous),
                "risk_score": risk_score,
                "risk_reasons": self.risk_reasons,
                "care_priority": self.care_priority,
                "answer_due_at": _iso(self.clock.due_at),
            },
        )

    def correct_category(
        self, actor: Actor, now: datetime, *, category: Category | str, reason: str = ""
    ) -> CaseEvent:
        """The insurer's staff or the case's mediator set the category (the same one confirms
        it): the case is counted under it from now on; the answer deadline stays as it was
        set from receipt. The event keeps what it was before, for the triage model to learn
        from (``odr triage-export-corrections``)."""
        self._check(actor, now, Action.CORRECT_CATEGORY, frozenset(_S), "correct_category")
        cat = _enum(Category, category, "category")
        text = _text(reason, "reason", required=False, limit=1000)
        previous = self.category
        self.category = cat
        return self._record(
            actor,
            now,
            EventKind.CATEGORY_CORRECTED,
            self.state,
            {"category": str(cat), "previous_category": str(previous), "reason": text},
        )

    # -- the insurer's answer and the consumer's response --

    def answer_complaint(
        self,
        actor: Actor,
        now: datetime,
        *,
        kind: AnswerKind | str,
        text: str,
        offered_amount_fen: int | None = None,
    ) -> None:
        self._check(actor, now, Action.ANSWER_COMPLAINT, {_S.AWAITING_INSURER}, "answer_complaint")
        answer_kind = _enum(AnswerKind, kind, "answer_kind")
        body = _text(text, "answer_text")
        offered = _amount(offered_amount_fen, "offered_amount_fen")
        self.answer = Answer(answer_kind, body, offered, actor.user_id, now)
        in_time = now < self.clock.due_at
        self._stop_clock(now)
        self._record(
            actor,
            now,
            EventKind.ANSWERED,
            _S.INSURER_ANSWERED,
            {
                "kind": str(answer_kind),
                "text": body,
                "offered_amount_fen": offered,
                "in_time": in_time,
            },
        )

    def accept_answer(self, actor: Actor, now: datetime) -> None:
        self._check(actor, now, Action.RESPOND_TO_ANSWER, {_S.INSURER_ANSWERED}, "accept_answer")
        self._record(actor, now, EventKind.ANSWER_ACCEPTED, _S.RESOLVED, {})

    def reject_answer(
        self, actor: Actor, now: datetime, *, centre_id: int, reason: str = ""
    ) -> None:
        """The consumer rejects the answer, which asks for mediation by ``centre_id``."""
        self._check(actor, now, Action.RESPOND_TO_ANSWER, {_S.INSURER_ANSWERED}, "reject_answer")
        text = _text(reason, "reason", required=False)
        self._enter_mediation(actor, now, EventKind.ANSWER_REJECTED, centre_id, {"reason": text})

    def request_mediation(self, actor: Actor, now: datetime, *, centre_id: int) -> None:
        self._check(
            actor, now, Action.REQUEST_MEDIATION, {_S.INSURER_ANSWERED}, "request_mediation"
        )
        self._enter_mediation(actor, now, EventKind.MEDIATION_REQUESTED, centre_id, {})

    # -- the clock: reminders, escalation and its handling, extensions --
    # Reminders and escalations are recorded by the background worker as `Actor.system()`
    # (`Action.RUN_CLOCK`); people handle what they bring about.

    def due_actions(self, now: datetime) -> list[DueAction]:
        """The reminder or escalation the clock asks for at ``now`` (see `deadlines`)."""
        if self.state not in CLOCK_STATES:
            return []
        return due_actions(self.clock, now)

    def remind(self, actor: Actor, now: datetime) -> DueAction:
        """Record the reminder (催办) that is due; the caller notifies whoever must act."""
        due = self._clock_action(actor, now, DueKind.REMINDER, "remind")
        self._record(
            actor,
            now,
            EventKind.REMINDER,
            self.state,
            {
                "key": due.key,
                "stage": str(due.stage),
                "fraction": due.fraction,
                "due_at": _iso(due.due_at),
            },
        )
        return due

    def escalate(self, actor: Actor, now: datetime) -> DueAction:
        """Record the escalation (升级) of a missed deadline to the supervisors. A case waiting
        for the insurer becomes ``escalated``; elsewhere the state stays and the event is the
        supervisors' early warning."""
        due = self._clock_action(actor, now, DueKind.ESCALATION, "escalate")
        to_state = _S.ESCALATED if self.state is _S.AWAITING_INSURER else self.state
        self._record(
            actor,
            now,
            EventKind.ESCALATED,
            to_state,
            {"key": due.key, "stage": str(due.stage), "due_at": _iso(due.due_at)},
        )
        return due

    def refer_to_mediation(self, actor: Actor, now: datetime, *, centre_id: int) -> None:
        """A supervisor sends an escalated case to mediation."""
        self._check(actor, now, Action.HANDLE_ESCALATION, {_S.ESCALATED}, "refer_to_mediation")
        self._enter_mediation(actor, now, EventKind.REFERRED_TO_MEDIATION, centre_id, {})

    def return_to_insurer(self, actor: Actor, now: datetime, *, note: str = "") -> None:
        """A supervisor hands an escalated case back to the insurer (its deadline stays; an
        approved extension gives a new one)."""
        self._check(actor, now, Action.HANDLE_ESCALATION, {_S.ESCALATED}, "return_to_insurer")
        text = _text(note, "note", required=False)
        self._record(actor, now, EventKind.RETURNED_TO_INSURER, _S.AWAITING_INSURER, {"note": text})

    def request_extension(self, actor: Actor, now: datetime, *, reason: str) -> None:
        """Ask for the next extension of the running deadline, before it has passed: the
        insurer for its answer, the mediator for the mediation."""
        action = EXTENSION_REQUEST_ACTIONS[self.clock.stage]
        self._check(actor, now, action, EXTENSION_REQUEST_STATES, "request_extension")
        if self.pending_extension is not None:
            raise Conflict(
                "An extension has already been requested.", code="extension_already_requested"
            )
        to_days = self.clock.check_extension_possible()
        if self.clock.is_overdue(now):
            raise Conflict(
                "The deadline has passed; it can no longer be extended.", code="deadline_passed"
            )
        text = _text(reason, "reason")
        self.pending_extension = ExtensionRequest(self.clock.stage, text, actor.user_id, now)
        self._record(
            actor,
            now,
            EventKind.EXTENSION_REQUESTED,
            self.state,
            {
                "stage": str(self.clock.stage),
                "reason": text,
                "from_days": self.clock.days,
                "to_days": to_days,
            },
        )

    def approve_extension(self, actor: Actor, now: datetime) -> None:
        """Grant the pending request: the deadline moves to the next step of the ladder. The
        event carries ``notify`` for the notice to the consumer."""
        request = self._pending_request(actor, now, "approve_extension")
        before = self.clock
        self.clock = before.extend(
            reason=request.reason,
            approved_by=actor.user_id,
            requested_by=request.requested_by,
            at=now,
        )
        self.pending_extension = None
        self._record(
            actor,
            now,
            EventKind.DEADLINE_EXTENDED,
            self.state,
            {
                "stage": str(before.stage),
                "from_days": before.days,
                "to_days": self.clock.days,
                "previous_due_at": _iso(before.due_at),
                "due_at": _iso(self.clock.due_at),
                "reason": request.reason,
                "requested_by": request.requested_by,
                "approved_by": actor.user_id,
                "notify": ("consumer",),
            },
        )

    def refuse_extension(self, actor: Actor, now: datetime, *, reason: str = "") -> None:
        request = self._pending_request(actor, now, "refuse_extension")
        text = _text(reason, "reason", required=False)
        self.pending_extension = None
        self._record(
            actor,
            now,
            EventKind.EXTENSION_REFUSED,
            self.state,
            {
                "stage": str(request.stage),
                "requested_by": request.requested_by,
                "reason": text,
            },
        )

    # -- mediation --

    def assign_mediator(self, actor: Actor, now: datetime, *, mediator_id: int) -> None:
        """The centre lead assigns (or reassigns) a mediator of the centre; that the mediator
        belongs to the centre is for the caller to check against memberships."""
        self._check(
            actor,
            now,
            Action.ASSIGN_MEDIATOR,
            {_S.MEDIATION_REQUESTED, _S.MEDIATOR_ASSIGNED},
            "assign_mediator",
        )
        if mediator_id == self.mediator_id:
            raise Conflict("This mediator is already assigned.", code="mediator_already_assigned")
        previous = self.mediator_id
        self.mediator_id = mediator_id
        self.assignment_accepted = False
        self._record(
            actor,
            now,
            EventKind.MEDIATOR_ASSIGNED,
            _S.MEDIATOR_ASSIGNED,
            {"mediator_id": mediator_id, "previous_mediator_id": previous},
        )

    def accept_assignment(self, actor: Actor, now: datetime) -> None:
        self._check(
            actor, now, Action.ACCEPT_ASSIGNMENT, {_S.MEDIATOR_ASSIGNED}, "accept_assignment"
        )
        if self.assignment_accepted:
            raise Conflict(
                "The assignment has already been accepted.", code="assignment_already_accepted"
            )
        self.assignment_accepted = True
        self._record(actor, now, EventKind.ASSIGNMENT_ACCEPTED, self.state, {})

    def decline_assignment(self, actor: Actor, now: datetime, *, reason: str = "") -> None:
        """The mediator gives the case back to the centre's queue."""
        self._check(
            actor, now, Action.DECLINE_ASSIGNMENT, {_S.MEDIATOR_ASSIGNED}, "decline_assignment"
        )
        text = _text(reason, "reason", required=False)
        previous = self.mediator_id
        self.mediator_id = None
        self.assignment_accepted = False
        self._record(
            actor,
            now,
            EventKind.ASSIGNMENT_DECLINED,
            _S.MEDIATION_REQUESTED,
            {"mediator_id": previous, "reason": text},
        )

    def schedule_hearing(self, actor: Actor, now: datetime, *, starts_at: datetime) -> None:
        """Schedule a hearing (the first, or another one after a hearing ended)."""
        self._check(
            actor,
            now,
            Action.SCHEDULE_HEARING,
            {_S.MEDIATOR_ASSIGNED, _S.HEARING_SCHEDULED},
            "schedule_hearing",
        )
        if require_aware(starts_at, "starts_at") <= now:
            raise ValidationFailed(
                "A hearing must be scheduled in the future.",
                code="hearing_in_past",
                details={"field": "starts_at"},
            )
        self.next_hearing_at = starts_at
        self._record(
            actor,
            now,
            EventKind.HEARING_SCHEDULED,
            _S.HEARING_SCHEDULED,
            {"starts_at": _iso(starts_at)},
        )

    def start_hearing(self, actor: Actor, now: datetime) -> None:
        self._check(
            actor,
            now,
            Action.MODERATE_HEARING,
            {_S.HEARING_SCHEDULED},
            "start_hearing",
            target=HearingScope(self.scope()),
        )
        self._record(
            actor,
            now,
            EventKind.HEARING_STARTED,
            _S.IN_HEARING,
            {"scheduled_for": _iso(self.next_hearing_at)},
        )

    def end_hearing(self, actor: Actor, now: datetime) -> None:
        self._check(
            actor,
            now,
            Action.MODERATE_HEARING,
            {_S.IN_HEARING},
            "end_hearing",
            target=HearingScope(self.scope()),
        )
        self.next_hearing_at = None
        self._record(actor, now, EventKind.HEARING_ENDED, _S.HEARING_SCHEDULED, {})

    def propose_agreement(
        self,
        actor: Actor,
        now: datetime,
        *,
        terms: str,
        amount_fen: int | None = None,
        due_on: date | None = None,
    ) -> Agreement:
        """Draft (or redraft) the agreement after a hearing; a new text voids all signatures."""
        self._check(
            actor,
            now,
            Action.DRAFT_AGREEMENT,
            {_S.HEARING_SCHEDULED, _S.AGREEMENT_PENDING},
            "propose_agreement",
        )
        body = _text(terms, "agreement_terms", limit=MAX_TERMS)
        amount = _amount(amount_fen, "amount_fen")
        digest = Agreement.digest(body, amount, due_on)
        self.agreement = Agreement(body, amount, due_on, digest, actor.user_id, now)
        voided = tuple(str(p) for p in self.signatures)
        self.signatures = {}
        self._record(
            actor,
            now,
            EventKind.AGREEMENT_PROPOSED,
            _S.AGREEMENT_PENDING,
            {
                "terms": body,
                "amount_fen": amount,
                "due_on": _iso(due_on),
                "sha256": digest,
                "voided_signatures": voided,
            },
        )
        return self.agreement

    def sign_agreement(
        self, actor: Actor, now: datetime, *, agreement_sha256: str, method: str = ""
    ) -> None:
        """Sign the agreement whose hash the signer saw; when the consumer, the insurer and
        the mediator have all signed, the case is settled. Re-authentication is the caller's;
        ``method`` says how the signer proved who they are ("password", "password+totp")."""
        self._check(actor, now, Action.SIGN_AGREEMENT, {_S.AGREEMENT_PENDING}, "sign_agreement")
        assert self.agreement is not None  # always set in agreement_pending
        if agreement_sha256 != self.agreement.sha256:
            raise Conflict(
                "The agreement has changed; read it again before signing.",
                code="agreement_changed",
            )
        party = PARTY_OF_ROLE[actor.role]
        if party in self.signatures:
            raise Conflict("This party has already signed.", code="already_signed")
        how = _text(method, "method", limit=40, required=False)  # checked before any change
        self.signatures[party] = actor.user_id
        all_signed = set(self.signatures) == set(Party)
        if all_signed:
            self._stop_clock(now)
        self._record(
            actor,
            now,
            EventKind.AGREEMENT_SIGNED,
            _S.SETTLED if all_signed else _S.AGREEMENT_PENDING,
            {
                "party": str(party),
                "sha256": self.agreement.sha256,
                "all_signed": all_signed,
                "method": how,
            },
        )

    def record_payment(
        self,
        actor: Actor,
        now: datetime,
        *,
        amount_fen: int | None = None,
        reference: str = "",
        paid_on: date | None = None,
    ) -> None:
        """The insurer records a payment under the agreement (more than one for instalments)."""
        self._check(actor, now, Action.RECORD_PAYMENT, {_S.SETTLED}, "record_payment")
        amount = _amount(amount_fen, "amount_fen")
        ref = _text(reference, "reference", limit=200, required=False)
        self.payment_recorded_at = now
        self._record(
            actor,
            now,
            EventKind.PAYMENT_RECORDED,
            _S.SETTLED,
            {"amount_fen": amount, "reference": ref, "paid_on": _iso(paid_on)},
        )

    def confirm_payment(self, actor: Actor, now: datetime) -> None:
        """The consumer confirms being paid (with or without the insurer's record of it)."""
        self._check(actor, now, Action.CONFIRM_PAYMENT, {_S.SETTLED}, "confirm_payment")
        self._record(
            actor,
            now,
            EventKind.PAYMENT_CONFIRMED,
            _S.FULFILLED,
            {"payment_recorded": self.payment_recorded_at is not None},
        )

    def declare_not_settled(self, actor: Actor, now: datetime, *, reason: str) -> None:
        """The mediator ends mediation without agreement (the parties may go to arbitration or
        court)."""
        self._check(
            actor,
            now,
            Action.END_MEDIATION,
            {_S.MEDIATOR_ASSIGNED, _S.HEARING_SCHEDULED, _S.AGREEMENT_PENDING},
            "declare_not_settled",
        )
        text = _text(reason, "reason")
        self._stop_clock(now)
        self._record(actor, now, EventKind.NOT_SETTLED, _S.NOT_SETTLED, {"reason": text})

    def dispute_payment(self, actor: Actor, now: datetime, *, reason: str) -> None:
        """The consumer says the payment did not arrive as agreed; the case stays settled and
        the mediator and the insurer are told."""
        self._check(actor, now, Action.CONFIRM_PAYMENT, {_S.SETTLED}, "dispute_payment")
        text = _text(reason, "reason")
        self._record(actor, now, EventKind.PAYMENT_DISPUTED, _S.SETTLED, {"reason": text})

    def remind_payment(self, actor: Actor, now: datetime, *, key: str) -> None:
        """Record the reminder that the agreed payment is overdue (the worker, once per key)."""
        due_on = self._overdue_payment(actor, now, "remind_payment")
        self._record(
            actor,
            now,
            EventKind.PAYMENT_REMINDER,
            _S.SETTLED,
            {"key": _text(key, "key", limit=64), "due_on": _iso(due_on)},
        )

    def escalate_payment(self, actor: Actor, now: datetime, *, key: str) -> None:
        """Record the escalation of an overdue payment to the supervisors (once per key)."""
        due_on = self._overdue_payment(actor, now, "escalate_payment")
        self._record(
            actor,
            now,
            EventKind.PAYMENT_ESCALATED,
            _S.SETTLED,
            {"key": _text(key, "key", limit=64), "due_on": _iso(due_on)},
        )

    def remind_confirmation(
        self, actor: Actor, now: datetime, *, key: str, window_ends_on: date
    ) -> None:
        """Record a reminder that the window to apply for judicial confirmation (司法确认) of
        the signed agreement closes on ``window_ends_on``."""
        self._check(actor, now, Action.RUN_CLOCK, CONFIRMATION_STATES, "remind_confirmation")
        if self.agreement is None or set(self.signatures) != set(Party):
            raise Conflict("No signed agreement.", code="no_signed_agreement")
        if now.astimezone(ZoneInfo(self.clock.time_zone)).date() > window_ends_on:
            raise Conflict("The window has closed.", code="confirmation_window_closed")
        self._record(
            actor,
            now,
            EventKind.CONFIRMATION_REMINDER,
            self.state,
            {"key": _text(key, "key", limit=64), "window_ends_on": _iso(window_ends_on)},
        )

    # -- negotiation: open offers and blind offers --

    def make_offer(
        self,
        actor: Actor,
        now: datetime,
        *,
        amount_fen: int,
        text: str = "",
        in_reply_to: int | None = None,
    ) -> CaseEvent:
        """An open offer (or a counter-offer to the offer event ``in_reply_to``) that the other
        side sees; which earlier offer it answers is the caller's to check."""
        self._check(actor, now, Action.MAKE_OFFER, NEGOTIATION_STATES, "make_offer")
        amount = _amount(amount_fen, "amount_fen")
        return self._record(
            actor,
            now,
            EventKind.OFFER_MADE,
            self.state,
            {
                "side": str(PARTY_OF_ROLE[actor.role]),
                "amount_fen": amount,
                "text": _text(text, "offer_text", limit=2000, required=False),
                "in_reply_to": in_reply_to,
            },
        )

    def answer_offer(
        self, actor: Actor, now: datetime, *, offer_sequence: int, amount_fen: int, accept: bool
    ) -> None:
        """Accept or decline the other side's latest offer (the caller finds it). An accepted
        offer before mediation resolves the case; in mediation the mediator drafts the
        agreement from it."""
        self._check(actor, now, Action.MAKE_OFFER, NEGOTIATION_STATES, "answer_offer")
        settles = accept and self.state is _S.INSURER_ANSWERED
        self._record(
            actor,
            now,
            EventKind.OFFER_ANSWERED,
            _S.RESOLVED if settles else self.state,
            {
                "side": str(PARTY_OF_ROLE[actor.role]),
                "offer_sequence": offer_sequence,
                "amount_fen": _amount(amount_fen, "amount_fen"),
                "accepted": accept,
            },
        )

    def submit_blind_offer(
        self, actor: Actor, now: datetime, *, round_no: int, commitment: str
    ) -> None:
        """A side's secret figure in blind-offer round ``round_no``: the log keeps only a
        commitment (a salted hash) to it, never the figure, so no one learns it from the log."""
        self._check(actor, now, Action.MAKE_OFFER, NEGOTIATION_STATES, "submit_blind_offer")
        if not re.fullmatch(r"[0-9a-f]{64}", commitment) or round_no < 1:
            raise ValidationFailed("Bad blind offer.", code="invalid_blind_offer")
        self._record(
            actor,
            now,
            EventKind.BLIND_OFFER_SUBMITTED,
            self.state,
            {"round": round_no, "side": str(PARTY_OF_ROLE[actor.role]), "commitment": commitment},
        )

    def end_blind_round(
        self, actor: Actor, now: datetime, *, round_no: int, settled_fen: int | None
    ) -> None:
        """The round ends when the second side submits (the caller compares the figures): with
        the settlement amount when they overlapped, else only "no overlap". A settlement before
        mediation resolves the case."""
        self._check(actor, now, Action.MAKE_OFFER, NEGOTIATION_STATES, "end_blind_round")
        settled = _amount(settled_fen, "settled_fen")
        resolves = settled is not None and self.state is _S.INSURER_ANSWERED
        self._record(
            actor,
            now,
            EventKind.BLIND_ROUND_ENDED,
            _S.RESOLVED if resolves else self.state,
            {"round": round_no, "overlap": settled is not None, "amount_fen": settled},
        )

    # -- ending --

    def withdraw(self, actor: Actor, now: datetime, *, reason: str = "") -> None:
        self._check(actor, now, Action.WITHDRAW_CASE, WITHDRAWABLE_STATES, "withdraw")
        text = _text(reason, "reason", required=False)
        self._stop_clock(now)
        self._record(actor, now, EventKind.WITHDRAWN, _S.WITHDRAWN, {"reason": text})

    def close(self, actor: Actor, now: datetime) -> None:
        """Close a case that has reached its end; the closing report is made from the log."""
        self._check(actor, now, Action.CLOSE_CASE, TERMINAL_STATES, "close")
        self._record(actor, now, EventKind.CLOSED, _S.CLOSED, {"outcome": str(self.state)})

    # -- messages --

    def send_message(self, actor: Actor, now: datetime, *, text: str) -> MaskResult:
        """Post a message to the other parties, with personal numbers masked; the result says
        what was masked so the sender can be told. Only the masked text is kept."""
        self._check(actor, now, Action.SEND_MESSAGE, frozenset(_S) - {_S.CLOSED}, "send_message")
        result = mask_personal_numbers(_text(text, "message", limit=MAX_MESSAGE_LENGTH))
        self._record(
            actor,
            now,
            EventKind.MESSAGE_SENT,
            self.state,
            {"text": result.text, "masked_kinds": result.kinds, "masked_count": result.count},
        )
        return result

    # -- evidence --

    def add_evidence(
        self,
        actor: Actor,
        now: datetime,
        *,
        sha256: str,
        size: int,
        name: str,
        media_type: str,
        kind: EvidenceKind | str,
        visibility: Visibility | str = Visibility.ALL_PARTIES,
        description: str = "",
    ) -> CaseEvent:
        """Enter an item into the case's evidence (its bytes are already stored under
        ``sha256``). Mediator-only items are caucus material: the other side never sees them."""
        self._check(actor, now, Action.UPLOAD_EVIDENCE, frozenset(_S) - {_S.CLOSED}, "add_evidence")
        evidence_kind = _enum(EvidenceKind, kind, "kind")
        if evidence_kind not in UPLOADABLE_EVIDENCE:
            raise ValidationFailed(
                "This kind of evidence is made by the system.",
                code="invalid_evidence_kind",
                details={"field": "kind"},
            )
        return self._evidence(
            actor, now, sha256, size, name, media_type, evidence_kind, visibility, description
        )

    def enter_record(
        self,
        actor: Actor,
        now: datetime,
        *,
        sha256: str,
        size: int,
        name: str,
        media_type: str,
        kind: EvidenceKind | str,
        visibility: Visibility | str = Visibility.ALL_PARTIES,
        description: str = "",
    ) -> CaseEvent:
        """Enter an item the system made itself (a hearing's recording, chat transcript or call
        record; later agreements and reports) into the case's evidence, in any state."""
        self._check(actor, now, Action.ENTER_RECORD, frozenset(_S), "enter_record")
        evidence_kind = _enum(EvidenceKind, kind, "kind")
        if evidence_kind in UPLOADABLE_EVIDENCE:
            raise ValidationFailed(
                "This kind of evidence is uploaded by a party.",
                code="invalid_evidence_kind",
                details={"field": "kind"},
            )
        return self._evidence(
            actor, now, sha256, size, name, media_type, evidence_kind, visibility, description
        )

    def _evidence(
        self,
        actor: Actor,
        now: datetime,
        sha256: str,
        size: int,
        name: str,
        media_type: str,
        kind: EvidenceKind,
        visibility: Visibility | str,
        description: str,
    ) -> CaseEvent:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256) or size < 0:
            raise ValidationFailed("Bad content address.", code="invalid_evidence")
        return self._record(
            actor,
            now,
            EventKind.EVIDENCE_ADDED,
            self.state,
            {
                "sha256": sha256,
                "size": size,
                "name": _text(name, "name", limit=200),
                "media_type": _text(media_type, "media_type", limit=100),
                "kind": str(kind),
                "visibility": str(_enum(Visibility, visibility, "visibility")),
                "description": _text(description, "description", required=False, limit=1000),
            },
        )

    def withdraw_evidence(
        self, actor: Actor, now: datetime, *, item: EvidenceScope, sequence: int, reason: str = ""
    ) -> CaseEvent:
        """Withdraw an item (its submitter only): a tombstone in the log; the item leaves the
        lists, its bytes follow the retention policy, its chain entry stays."""
        if item.case != self.scope():
            raise ValueError("the item belongs to another case")
        authorize(actor, Action.WITHDRAW_EVIDENCE, item)
        self._check(actor, now, Action.VIEW_CASE, frozenset(_S) - {_S.CLOSED}, "withdraw_evidence")
        return self._record(
            actor,
            now,
            EventKind.EVIDENCE_WITHDRAWN,
            self.state,
            {"sequence": sequence, "reason": _text(reason, "reason", required=False, limit=1000)},
        )

    def record_redaction(
        self,
        actor: Actor,
        now: datetime,
        *,
        sequence: int,
        visibility: Visibility | str,
        sha256: str,
        redacted_sha256: str,
        regions: Sequence[Mapping[str, Any]],
    ) -> CaseEvent:
        """Record (the system) that personal numbers were blacked out of item ``sequence``
        in a derived copy ``redacted_sha256`` that the other side is shown: where (page, kind
        and box of each region), never the numbers. The original stays the evidence."""
        self._check(actor, now, Action.REDACT_EVIDENCE, frozenset(_S), "record_redaction")
        if not regions:
            raise ValidationFailed("Nothing was redacted.", code="nothing_redacted")
        for digest in (sha256, redacted_sha256):
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValidationFailed("Bad content address.", code="invalid_evidence")
        return self._record(
            actor,
            now,
            EventKind.EVIDENCE_REDACTED,
            self.state,
            {
                "sequence": sequence,
                "visibility": str(_enum(Visibility, visibility, "visibility")),
                "sha256": sha256,
                "redacted_sha256": redacted_sha256,
                "regions": [
                    {"page": int(r["page"]), "kind": str(r["kind"]), "box": list(r["box"])}
                    for r in regions
                ],
            },
        )

    def request_redaction(
        self, actor: Actor, now: datetime, *, item: EvidenceScope, sequence: int, note: str
    ) -> CaseEvent:
        """The uploader asks the mediator to black out more of an item's copy for the other
        side (what and where, in words)."""
        if item.case != self.scope():
            raise ValueError("the item belongs to another case")
        authorize(actor, Action.REQUEST_REDACTION, item)
        self._check(actor, now, Action.VIEW_CASE, frozenset(_S) - {_S.CLOSED}, "request_redaction")
        return self._record(
            actor,
            now,
            EventKind.REDACTION_REQUESTED,
            self.state,
            {
                "sequence": sequence,
                "visibility": str(item.visibility),
                "note": _text(note, "note", limit=1000),
            },
        )

    def purge_evidence(
        self, actor: Actor, now: datetime, *, items: Sequence[tuple[int, str]], policy: str
    ) -> CaseEvent:
        """Record that the bytes of ``items`` ((sequence, sha256) pairs) were deleted under the
        retention ``policy``: the deletion itself enters the log and the chain."""
        self._check(
            actor, now, Action.APPLY_RETENTION, TERMINAL_STATES | {_S.CLOSED}, "purge_evidence"
        )
        if not items:
            raise ValidationFailed("Nothing to purge.", code="nothing_to_purge")
        return self._record(
            actor,
            now,
            EventKind.EVIDENCE_PURGED,
            self.state,
            {"items": [{"sequence": s, "sha256": h} for s, h in items], "policy": policy},
        )

    # -- helpers --

    def scope(self) -> CaseScope:
        return CaseScope(
            consumer_id=self.consumer_id,
            insurer_id=self.insurer_id,
            mediator_id=self.mediator_id,
            centre_id=self.centre_id,
            channel_id=self.channel_id,
        )

    def _check(
        self,
        actor: Actor,
        now: datetime,
        action: Action,
        allowed: frozenset[CaseState] | set[CaseState],
        transition: str,
        *,
        target: CaseScope | HearingScope | None = None,
    ) -> None:
        require_aware(now)
        authorize(actor, action, target or self.scope())
        if self.state not in allowed:
            raise Conflict(
                f"Cannot {transition.replace('_', ' ')}: the case is {self.state}.",
                code="illegal_transition",
                details={"state": str(self.state), "transition": transition},
            )

    def _clock_action(
        self, actor: Actor, now: datetime, kind: DueKind, transition: str
    ) -> DueAction:
        self._check(actor, now, Action.RUN_CLOCK, CLOCK_STATES, transition)
        for due in self.due_actions(now):
            if due.kind is kind:
                self.clock = self.clock.mark_fired(due.key)
                return due
        raise Conflict(f"No {kind} is due.", code=f"{kind}_not_due")

    def _overdue_payment(self, actor: Actor, now: datetime, transition: str) -> date:
        self._check(actor, now, Action.RUN_CLOCK, {_S.SETTLED}, transition)
        due_on = self.agreement.due_on if self.agreement else None
        today = now.astimezone(ZoneInfo(self.clock.time_zone)).date()
        if due_on is None or today <= due_on:
            raise Conflict("The payment is not overdue.", code="payment_not_due")
        return due_on

    def _pending_request(self, actor: Actor, now: datetime, transition: str) -> ExtensionRequest:
        self._check(actor, now, Action.APPROVE_EXTENSION, EXTENSION_DECISION_STATES, transition)
        request = self.pending_extension
        if request is None or request.stage is not self.clock.stage:
            raise Conflict("No extension has been requested.", code="no_extension_requested")
        return request

    def _enter_mediation(
        self,
        actor: Actor,
        now: datetime,
        kind: EventKind,
        centre_id: int,
        payload: dict[str, Any],
    ) -> None:
        self.centre_id = centre_id
        self.pending_extension = None
        self.clock = Clock.start(Stage.MEDIATION, now, self.clock.policy, self.clock.time_zone)
        self._record(
            actor,
            now,
            kind,
            _S.MEDIATION_REQUESTED,
            {**payload, "centre_id": centre_id, "mediation_due_at": _iso(self.clock.due_at)},
        )

    def _stop_clock(self, now: datetime) -> None:
        self.clock = self.clock.stop(now)
        self.pending_extension = None

    def _record(
        self,
        actor: Actor,
        now: datetime,
        kind: EventKind,
        to_state: CaseState,
        payload: Mapping[str, Any],
        *,
        created: bool = False,
    ) -> CaseEvent:
        before = None if created else self.state
        self.version += 1
        event = CaseEvent(
            case_id=self.id,
            sequence=self.version,
            kind=kind,
            actor_user_id=actor.user_id,
            actor_role=actor.role,
            actor_channel_id=actor.channel_id,
            at=now,
            from_state=before,
            to_state=to_state,
            payload=payload,
        )
        self.state = to_state
        self.events.append(event)
        return event
