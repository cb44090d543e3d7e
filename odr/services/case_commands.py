"""What the service does with each case command (`odr.domain.commands`): the `Case` method
that carries it out and the checks around it that need the database.

`CaseService.issue` applies a command through `HANDLERS`; every command has exactly one
handler (a test holds the two registries together).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain import commands as c
from odr.domain.accounts import Actor
from odr.domain.cases import Case
from odr.services.mediator_eligibility import check_assignable

C = TypeVar("C", bound=c.CaseCommand)

#: A check after the aggregate decided, before the change is saved: the session, the case as
#: changed, the local day.
Check = Callable[[AsyncSession, Case, date], Awaitable[None]]


@dataclass(frozen=True)
class Handler(Generic[C]):
    """``apply`` carries the command out on the aggregate (which checks the actor's right and
    the state) and returns what the caller is told (a message's masking result);
    ``check`` runs after it, before saving."""

    apply: Callable[[Case, Actor, datetime, C], Any]
    check: Check | None = None


async def check_recusal(s: AsyncSession, case: Case, today: date) -> None:
    """A mediator of the case's centre who need not recuse themself (回避), or the refusal:
    `Conflict` ``mediator_recused`` with the reasons (`odr.services.mediator_eligibility`)."""
    if case.mediator_id is not None:
        await check_assignable(s, case, case.mediator_id, today)


HANDLERS: dict[type[c.CaseCommand], Handler[Any]] = {
    c.CorrectCategory: Handler[c.CorrectCategory](
        lambda case, actor, now, cmd: case.correct_category(
            actor, now, category=cmd.category, reason=cmd.reason
        )
    ),
    c.Withdraw: Handler[c.Withdraw](
        lambda case, actor, now, cmd: case.withdraw(actor, now, reason=cmd.reason)
    ),
    c.Answer: Handler[c.Answer](
        lambda case, actor, now, cmd: case.answer_complaint(
            actor,
            now,
            kind=cmd.answer_kind(),
            text=cmd.text,
            offered_amount_fen=cmd.offered_amount_fen,
        )
    ),
    c.AcceptAnswer: Handler[c.AcceptAnswer](
        lambda case, actor, now, cmd: case.accept_answer(actor, now)
    ),
    c.RejectAnswer: Handler[c.RejectAnswer](
        lambda case, actor, now, cmd: case.reject_answer(
            actor, now, centre_id=cmd.centre(), reason=cmd.reason
        )
    ),
    c.RequestMediation: Handler[c.RequestMediation](
        lambda case, actor, now, cmd: case.request_mediation(actor, now, centre_id=cmd.centre())
    ),
    c.RequestExtension: Handler[c.RequestExtension](
        lambda case, actor, now, cmd: case.request_extension(actor, now, reason=cmd.reason)
    ),
    c.ApproveExtension: Handler[c.ApproveExtension](
        lambda case, actor, now, cmd: case.approve_extension(actor, now)
    ),
    c.RefuseExtension: Handler[c.RefuseExtension](
        lambda case, actor, now, cmd: case.refuse_extension(actor, now, reason=cmd.reason)
    ),
    c.ReferToMediation: Handler[c.ReferToMediation](
        lambda case, actor, now, cmd: case.refer_to_mediation(actor, now, centre_id=cmd.centre())
    ),
    c.ReturnToInsurer: Handler[c.ReturnToInsurer](
        lambda case, actor, now, cmd: case.return_to_insurer(actor, now, note=cmd.note)
    ),
    c.SendMessage: Handler[c.SendMessage](
        lambda case, actor, now, cmd: case.send_message(actor, now, text=cmd.text)
    ),
    c.Close: Handler[c.Close](lambda case, actor, now, cmd: case.close(actor, now)),
    c.AssignMediator: Handler[c.AssignMediator](
        lambda case, actor, now, cmd: case.assign_mediator(actor, now, mediator_id=cmd.mediator_id),
        check=check_recusal,
    ),
    c.AcceptAssignment: Handler[c.AcceptAssignment](
        lambda case, actor, now, cmd: case.accept_assignment(actor, now)
    ),
    c.DeclineAssignment: Handler[c.DeclineAssignment](
        lambda case, actor, now, cmd: case.decline_assignment(actor, now, reason=cmd.reason)
    ),
}


def handler_of(command: C) -> Handler[C]:
    return HANDLERS[type(command)]


def apply(case: Case, actor: Actor, now: datetime, command: c.CaseCommand) -> Any:
    """Carry ``command`` out on ``case`` (no database: the checks are the caller's)."""
    return handler_of(command).apply(case, actor, now, command)
