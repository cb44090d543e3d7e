"""A case's events (`odr.services.case_views.timeline`) as sentences in the reader's language.

Call these after the request's language is active (`web.rendering.use_language`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from web import labels
from web.formatting import format_deadline, format_moment, format_money
from web.i18n import _


@dataclass(frozen=True)
class EventView:
    sequence: int
    kind: str
    at: str  # ISO 8601, for <time datetime>
    title: str
    who: str
    details: list[str] = field(default_factory=list)
    quote: str = ""  # what a person wrote: a reason, an answer, a message
    note: str = ""  # a notice about the event (personal numbers hidden)


def who(actor: Mapping[str, Any]) -> str:
    role = str(actor.get("role") or "")
    name = actor.get("name")
    if role == "system" or not name:
        return labels.label(labels.ROLES, role)
    return str(name)


def describe(event: Mapping[str, Any], lang: str, zone: ZoneInfo) -> EventView:
    """One event in plain words."""
    kind = str(event["kind"])
    p: Mapping[str, Any] = event.get("payload") or {}
    details: list[str] = []
    quote = str(p.get("reason") or "")
    note = ""
    title = labels.label(labels.EVENTS, kind)

    def when(key: str) -> str:
        return format_moment(p.get(key), lang, zone)

    def due(key: str) -> str:
        return format_deadline(p.get(key), lang, zone)

    if kind == "triaged":
        if p.get("answer_due_at"):
            details.append(_("The insurer must answer by %(due)s.", due=due("answer_due_at")))
        if p.get("category"):
            details.append(_("Category: %(category)s", category=labels.category(p["category"])))
        if p.get("risk_score") is not None:
            details.append(_("Risk score: %(score)s", score=p["risk_score"]))
        if p.get("care_priority"):
            details.append(_("Care priority"))
    elif kind == "answered":
        details.append(labels.label(labels.ANSWER_KINDS, p.get("kind")))
        if p.get("offered_amount_fen") is not None:
            amount = format_money(p["offered_amount_fen"], lang)
            details.append(_("Amount offered: %(amount)s", amount=amount))
        if p.get("in_time") is False:
            details.append(_("The answer came after the deadline."))
        quote = str(p.get("text") or "")
    elif kind in ("answer_rejected", "mediation_requested", "referred_to_mediation"):
        if p.get("mediation_due_at"):
            details.append(_("Mediation must end by %(due)s.", due=due("mediation_due_at")))
    elif kind == "reminder":
        title = labels.label(labels.STAGE_OWNERS, p.get("stage")) or title
        if p.get("due_at"):
            details.append(_("The deadline is %(due)s.", due=due("due_at")))
    elif kind == "escalated":
        if p.get("due_at"):
            details.append(_("The deadline was %(due)s.", due=due("due_at")))
    elif kind == "returned_to_insurer":
        quote = str(p.get("note") or "")
    elif kind == "hearing_scheduled":
        details.append(_("Starts at %(when)s.", when=when("starts_at")))
    elif kind == "agreement_proposed":
        if p.get("amount_fen") is not None:
            details.append(_("Amount: %(amount)s", amount=format_money(p["amount_fen"], lang)))
        quote = str(p.get("terms") or "")
    elif kind == "agreement_signed":
        party = labels.label(labels.PARTIES, p.get("party"))
        details.append(_("Signed by %(party)s.", party=party))
        if p.get("all_signed"):
            details.append(_("All parties have signed: the case is settled."))
    elif kind == "payment_recorded":
        if p.get("amount_fen") is not None:
            details.append(_("Amount: %(amount)s", amount=format_money(p["amount_fen"], lang)))
        if p.get("reference"):
            details.append(_("Reference: %(reference)s", reference=p["reference"]))
    elif kind == "closed":
        details.append(_("Outcome: %(outcome)s", outcome=labels.state(p.get("outcome"))))
    elif kind == "extension_requested":
        details.append(
            _(
                "From %(before)s to %(after)s days.",
                before=p.get("from_days", "?"),
                after=p.get("to_days", "?"),
            )
        )
    elif kind == "deadline_extended":
        details.append(_("New deadline: %(due)s.", due=due("due_at")))
        if p.get("previous_due_at"):
            details.append(_("It was %(due)s.", due=due("previous_due_at")))
    elif kind == "evidence_added":
        details.append(str(p.get("name") or ""))
        if p.get("visibility") == "mediator_only":
            details.append(_("For the mediator only."))
    elif kind == "message_sent":
        title = _("Message from %(name)s", name=who(event.get("actor") or {}))
        quote = str(p.get("text") or "")
        if p.get("masked_count"):
            note = _(
                "Personal numbers were hidden: %(kinds)s.",
                kinds=labels.mask_kinds(list(p.get("masked_kinds") or ())),
            )
    return EventView(
        sequence=int(event["sequence"]),
        kind=kind,
        at=str(event["at"]),
        title=title,
        who=who(event.get("actor") or {}),
        details=[d for d in details if d],
        quote=quote,
        note=note,
    )
