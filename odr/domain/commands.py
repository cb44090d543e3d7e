"""The operations a person asks for on a case, one typed command each.

A command is what was asked, checked for shape: each field has a type (text, a whole number,
an amount in fen, a choice) and the limit the case applies to it. `CaseCommand.from_mapping`
reads a command from the parameters of a form or a JSON body and raises `ValidationFailed`
(code ``invalid_field``, ``details['field']`` the parameter) when one is missing or of the
wrong type. Whether the actor may do it now, and the rules of the texts (required, at most so
many characters), stay with the `Case` method that carries it out, which asks `authorize`.

`COMMANDS` names every command; pages, the API and the OpenAPI document derive their forms
and bodies from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, Self

from odr.domain.authz import Action
from odr.domain.cases import MAX_MESSAGE_LENGTH, MAX_TEXT_LENGTH, AnswerKind
from odr.domain.categories import Category
from odr.domain.errors import ValidationFailed
from odr.domain.ledger import MAX_SAFE_INTEGER


class ParamKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"  # a whole number: an id
    MONEY = "money"  # a whole number of fen
    CHOICE = "choice"


@dataclass(frozen=True)
class Param:
    """What a command's field takes."""

    kind: ParamKind
    required: bool
    nullable: bool = False  # ``None`` stands for "not given"
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    invalid: str = ""  # the message when the value is not one of the choices
    by_service: bool = False  # the service fills it in when it is not given
    description: str = ""


PARAM = "odr.param"


def _text(description: str, *, required: bool = True, limit: int = MAX_TEXT_LENGTH) -> Any:
    param = Param(ParamKind.TEXT, required, max_length=limit, description=description)
    if required:
        return field(metadata={PARAM: param})
    return field(default="", metadata={PARAM: param})


def _number(description: str) -> Any:
    return field(metadata={PARAM: Param(ParamKind.NUMBER, True, description=description)})


def _money(description: str) -> Any:
    param = Param(ParamKind.MONEY, False, nullable=True, description=description)
    return field(default=None, metadata={PARAM: param})


def _centre() -> Any:
    param = Param(
        ParamKind.NUMBER,
        False,
        by_service=True,
        description="The mediation centre; the first active one when not given",
    )
    return field(default=None, metadata={PARAM: param})


def _answer_kind() -> Any:
    param = Param(
        ParamKind.CHOICE,
        True,
        choices=tuple(k.value for k in AnswerKind),
        invalid="Choose accept, propose or reject.",
        description="accept: grant the complaint; propose: offer a settlement; reject",
    )
    return field(metadata={PARAM: param})


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_field", details={"field": name})


def _check(name: str, param: Param, value: Any) -> Any:
    """``value`` as the field takes it, or the `ValidationFailed` naming the field."""
    if value is None and (param.nullable or param.by_service):
        return None
    if param.kind is ParamKind.TEXT:
        if not isinstance(value, str):
            raise _invalid(name, f"{name} is required.")
        return value
    if param.kind is ParamKind.CHOICE:
        if not isinstance(value, str):
            raise _invalid(name, f"{name} is required.")
        if value not in param.choices:
            raise _invalid(name, param.invalid)
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(name, f"{name} must be a number.")
    if param.kind is ParamKind.NUMBER and not 1 <= value <= MAX_SAFE_INTEGER:
        # an id: no row has it, and the case's hash chain could not record it exactly
        raise _invalid(name, f"{name} is not a known id.")
    return value


@dataclass(frozen=True)
class CaseCommand:
    """One operation on a case, by name (`name`); `action` is the right `authorize` decides
    on for it (``None`` when it depends on the case's stage)."""

    name: ClassVar[str]
    action: ClassVar[Action | None]

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, f.metadata[PARAM], getattr(self, f.name))

    @classmethod
    def params(cls) -> tuple[tuple[str, Param], ...]:
        """The command's fields, in order, with what each takes."""
        return tuple((f.name, f.metadata[PARAM]) for f in fields(cls))

    @classmethod
    def summary(cls) -> str:
        return " ".join((cls.__doc__ or cls.name).split())

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """The command from request parameters: a parameter left out takes its default;
        unknown parameters are ignored."""
        given = {
            name: _check(name, param, values.get(name))
            for name, param in cls.params()
            if name in values or param.required
        }
        return cls(**given)


@dataclass(frozen=True)
class ToMediation(CaseCommand):
    """A command that sends the case to a mediation centre."""

    centre_id: int | None = _centre()

    def centre(self) -> int:
        if self.centre_id is None:
            raise _invalid("centre_id", "centre_id must be a number.")
        return self.centre_id


@dataclass(frozen=True)
class Withdraw(CaseCommand):
    """The consumer withdraws the complaint."""

    name = "withdraw"
    action = Action.WITHDRAW_CASE
    reason: str = _text("Why (optional)", required=False)


@dataclass(frozen=True)
class Answer(CaseCommand):
    """The insurer answers the complaint."""

    name = "answer"
    action = Action.ANSWER_COMPLAINT
    kind: str = _answer_kind()
    text: str = _text("The answer to the consumer")
    offered_amount_fen: int | None = _money("The amount offered, in fen (optional)")

    def answer_kind(self) -> AnswerKind:
        return AnswerKind(self.kind)


@dataclass(frozen=True)
class AcceptAnswer(CaseCommand):
    """The consumer accepts the insurer's answer; the case is resolved."""

    name = "accept_answer"
    action = Action.RESPOND_TO_ANSWER


@dataclass(frozen=True)
class RejectAnswer(ToMediation):
    """The consumer rejects the insurer's answer, which asks for mediation."""

    name = "reject_answer"
    action = Action.RESPOND_TO_ANSWER
    reason: str = _text("Why (optional)", required=False)


@dataclass(frozen=True)
class RequestMediation(ToMediation):
    """The consumer asks for mediation after the insurer's answer."""

    name = "request_mediation"
    action = Action.REQUEST_MEDIATION


@dataclass(frozen=True)
class RequestExtension(CaseCommand):
    """The insurer (for its answer) or the mediator (for the mediation) asks for more time."""

    name = "request_extension"
    action = None  # the insurer's or the mediator's right, by the running stage
    reason: str = _text("Why more time is needed")


@dataclass(frozen=True)
class ApproveExtension(CaseCommand):
    """A supervisor approves the pending extension."""

    name = "approve_extension"
    action = Action.APPROVE_EXTENSION


@dataclass(frozen=True)
class RefuseExtension(CaseCommand):
    """A supervisor refuses the pending extension."""

    name = "refuse_extension"
    action = Action.APPROVE_EXTENSION
    reason: str = _text("Why (optional)", required=False)


@dataclass(frozen=True)
class ReferToMediation(ToMediation):
    """A supervisor sends an escalated case to mediation."""

    name = "refer_to_mediation"
    action = Action.HANDLE_ESCALATION


@dataclass(frozen=True)
class ReturnToInsurer(CaseCommand):
    """A supervisor hands an escalated case back to the insurer."""

    name = "return_to_insurer"
    action = Action.HANDLE_ESCALATION
    note: str = _text("A note to the insurer (optional)", required=False)


@dataclass(frozen=True)
class SendMessage(CaseCommand):
    """A party posts a message to the others (ID card, bank card and mobile numbers are
    masked)."""

    name = "send_message"
    action = Action.SEND_MESSAGE
    text: str = _text("The message", limit=MAX_MESSAGE_LENGTH)


def _category() -> Any:
    param = Param(
        ParamKind.CHOICE,
        True,
        choices=tuple(c.value for c in Category),
        invalid="Choose one of the categories.",
        description="The category the case is about (the same one confirms it)",
    )
    return field(metadata={PARAM: param})


@dataclass(frozen=True)
class CorrectCategory(CaseCommand):
    """The insurer's staff or the mediator correct (or confirm) the case's category; the
    correction is kept in the case's log and teaches the triage model."""

    name = "correct_category"
    action = Action.CORRECT_CATEGORY
    category: str = _category()
    reason: str = _text("Why (optional)", required=False)


@dataclass(frozen=True)
class Close(CaseCommand):
    """Close a case that reached its end; the closing report is entered as evidence."""

    name = "close"
    action = Action.CLOSE_CASE


@dataclass(frozen=True)
class AssignMediator(CaseCommand):
    """The centre's lead assigns a mediator (refused with mediator_recused when the mediator
    must recuse themself)."""

    name = "assign_mediator"
    action = Action.ASSIGN_MEDIATOR
    mediator_id: int = _number("The mediator's user id")


@dataclass(frozen=True)
class AcceptAssignment(CaseCommand):
    """The assigned mediator accepts the case."""

    name = "accept_assignment"
    action = Action.ACCEPT_ASSIGNMENT


@dataclass(frozen=True)
class DeclineAssignment(CaseCommand):
    """The assigned mediator gives the case back to the centre."""

    name = "decline_assignment"
    action = Action.DECLINE_ASSIGNMENT
    reason: str = _text("Why (optional)", required=False)


#: Every command, by name.
COMMANDS: dict[str, type[CaseCommand]] = {
    command.name: command
    for command in (
        Withdraw,
        Answer,
        AcceptAnswer,
        RejectAnswer,
        RequestMediation,
        RequestExtension,
        ApproveExtension,
        RefuseExtension,
        ReferToMediation,
        ReturnToInsurer,
        SendMessage,
        CorrectCategory,
        Close,
        AssignMediator,
        AcceptAssignment,
        DeclineAssignment,
    )
}
