"""The mediation agreement (调解协议书) as a template, and the timing rules that follow it.

`render_agreement` turns a mediator's draft into the exact text the parties sign: the case's
`Agreement.digest` hashes that text with the amount and due date, so any edit changes the hash
and voids every signature. The text is in the case's language (Simplified Chinese unless the
consumer chose English).

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


def yuan(fen: int) -> str:
    """``320050`` → ``"3,200.50"``."""
    return f"{fen // 100:,}.{fen % 100:02d}"


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


_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "调解协议书",
        "case": "案件编号：{number}",
        "parties": "当事人",
        "consumer": "申请人（消费者）：{name}",
        "insurer": "被申请人（保险机构）：{name}",
        "policies": "涉及保单：{numbers}",
        "mediator": "调解员：{name}（{centre}）",
        "facts": "一、纠纷事实",
        "terms": "二、协议条款",
        "payment": "三、履行",
        "pay": "被申请人于 {due} 前向申请人支付人民币 {amount} 元。",
        "no_payment": "本协议不涉及款项支付。",
        "confidentiality": "四、保密",
        "confidential": "各方对调解过程及本协议内容负有保密义务，法律另有规定的除外。",
        "open": "本协议内容不设保密义务。",
        "closing": "五、其他",
        "effect": "本协议经各方当事人签署、调解员确认后生效。"
        "各方可自协议生效之日起三十日内共同向有管辖权的人民法院申请司法确认。",
    },
    "en": {
        "title": "Mediation agreement",
        "case": "Case number: {number}",
        "parties": "Parties",
        "consumer": "Applicant (consumer): {name}",
        "insurer": "Respondent (insurer): {name}",
        "policies": "Policies concerned: {numbers}",
        "mediator": "Mediator: {name} ({centre})",
        "facts": "1. Facts of the dispute",
        "terms": "2. Terms agreed",
        "payment": "3. Performance",
        "pay": "The respondent pays the applicant CNY {amount} by {due}.",
        "no_payment": "This agreement involves no payment.",
        "confidentiality": "4. Confidentiality",
        "confidential": "The parties keep the mediation and this agreement confidential, "
        "except where the law requires otherwise.",
        "open": "This agreement is not confidential.",
        "closing": "5. Other",
        "effect": "This agreement takes effect when every party has signed it and the mediator "
        "has countersigned. The parties may jointly apply to the competent people's court for "
        "judicial confirmation within thirty days of that date.",
    },
}


def render_agreement(parties: AgreementParties, draft: AgreementDraft, lang: str = "zh-CN") -> str:
    """The agreement's full text, as signed."""
    t = _TEXT.get(lang, _TEXT["zh-CN"])
    lines = [
        t["title"],
        t["case"].format(number=parties.case_number),
        "",
        t["parties"],
        t["consumer"].format(name=parties.consumer_name),
        t["insurer"].format(name=parties.insurer_name),
    ]
    if parties.policy_numbers:
        lines.append(t["policies"].format(numbers=", ".join(parties.policy_numbers)))
    lines += [
        t["mediator"].format(name=parties.mediator_name, centre=parties.centre_name),
        "",
        t["facts"],
        draft.facts,
        "",
        t["terms"],
        draft.terms,
        "",
        t["payment"],
    ]
    if draft.amount_fen and draft.due_on is not None:
        lines.append(t["pay"].format(amount=yuan(draft.amount_fen), due=draft.due_on.isoformat()))
    else:
        lines.append(t["no_payment"])
    lines += [
        "",
        t["confidentiality"],
        t["confidential"] if draft.confidential else t["open"],
        "",
        t["closing"],
        t["effect"],
    ]
    return "\n".join(lines)


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
