"""The mediation agreement (调解协议书): the draft the mediator fills in, and the timing rules
that follow it. Its text, as signed, is `odr.services.agreement_text.render_agreement`.

After signing: `payment_action` says which overdue-payment reminder or escalation is due, and
`confirmation_action` which reminder of the 30-day window to apply for judicial confirmation
(司法确认) is due. Each action has a key; the caller records each key once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from odr.domain.errors import ValidationFailed

LANGUAGES = ("zh-CN", "en")
MAX_FACTS = 5000
MAX_TERMS = 5000


@dataclass(frozen=True, slots=True)
class AgreementParties:
    case_number: str
    consumer_name: str
    insurer_name: str
    mediator_name: str
    centre_name: str
    policy_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgreementDraft:
    """What the mediator fills in; the parties come from the case."""

    facts: str
    terms: str
    amount_fen: int | None
    due_on: date | None
    confidential: bool = True

    def __post_init__(self) -> None:
        facts, terms = self.facts.strip(), self.terms.strip()
        if not facts or not terms:
            raise ValidationFailed(
                "State the facts and the terms.",
                code="agreement_incomplete",
                details={"field": "facts" if not facts else "terms"},
            )
        if len(facts) > MAX_FACTS or len(terms) > MAX_TERMS:
            raise ValidationFailed(
                "The facts and the terms may have at most 5000 characters each.",
                code="agreement_too_long",
            )
        if self.amount_fen is not None and (
            isinstance(self.amount_fen, bool) or self.amount_fen < 0
        ):
            raise ValidationFailed(
                "An amount is a whole, non-negative number of fen.",
                code="invalid_amount",
                details={"field": "amount"},
            )
        if self.amount_fen and self.due_on is None:
            raise ValidationFailed(
                "A payment needs a due date.", code="due_date_required", details={"field": "due_on"}
            )
        object.__setattr__(self, "facts", facts)
        object.__setattr__(self, "terms", terms)


# --- after signing: payment reminders and the confirmation window -------------------------------


@dataclass(frozen=True, slots=True)
class DueAlert:
    kind: str  # "reminder" | "escalation"
    key: str


@dataclass(frozen=True, slots=True)
class FulfilmentRules:
    """Days after the due date: a reminder on each of ``reminder_days``, then one escalation
    to the supervisors on ``escalation_day``."""

    reminder_days: tuple[int, ...] = (1,)
    escalation_day: int = 7

    def __post_init__(self) -> None:
        if any(d < 1 for d in self.reminder_days) or any(
            d >= self.escalation_day for d in self.reminder_days
        ):
            raise ValueError("reminders come after the due date and before the escalation")


def payment_action(
    due_on: date, now: datetime, zone: ZoneInfo, rules: FulfilmentRules, fired: Collection[str]
) -> DueAlert | None:
    """The latest alert due for a payment due on ``due_on`` and not yet fired. An alert that a
    later one has overtaken (the worker was down) is not sent late."""
    overdue_days = (now.astimezone(zone).date() - due_on).days
    steps = [DueAlert("reminder", f"payment:reminder:{d}") for d in sorted(rules.reminder_days)]
    steps.append(DueAlert("escalation", "payment:escalation"))
    days = [*sorted(rules.reminder_days), rules.escalation_day]
    due = [step for step, day in zip(steps, days, strict=True) if overdue_days >= day]
    if not due or due[-1].key in fired:
        return None
    return due[-1]


@dataclass(frozen=True, slots=True)
class ConfirmationRules:
    """The window to apply for judicial confirmation, from the day the agreement took effect,
    and reminders so many days before it closes."""

    window_days: int = 30
    remind_days_before: tuple[int, ...] = (10, 3)


def window_ends_on(signed_at: datetime, zone: ZoneInfo, rules: ConfirmationRules) -> date:
    return signed_at.astimezone(zone).date() + timedelta(days=rules.window_days)


def confirmation_action(
    ends_on: date, now: datetime, zone: ZoneInfo, rules: ConfirmationRules, fired: Collection[str]
) -> DueAlert | None:
    today = now.astimezone(zone).date()
    if today > ends_on:
        return None
    left = (ends_on - today).days
    due = [d for d in sorted(rules.remind_days_before, reverse=True) if left <= d]
    if not due:
        return None
    key = f"confirmation:{due[-1]}"
    return None if key in fired else DueAlert("reminder", key)


def rules_from_mapping(
    data: Mapping[str, Any],
) -> tuple[FulfilmentRules, ConfirmationRules]:
    pay = data.get("fulfilment", {})
    conf = data.get("judicial_confirmation", {})
    return (
        FulfilmentRules(
            reminder_days=tuple(int(d) for d in pay.get("reminder_days", (1,))),
            escalation_day=int(pay.get("escalation_day", 7)),
        ),
        ConfirmationRules(
            window_days=int(conf.get("window_days", 30)),
            remind_days_before=tuple(int(d) for d in conf.get("remind_days_before", (10, 3))),
        ),
    )
