"""The in-app inbox as pages show it: the reader's notifications, newest first, each told in
the reader's language from its kind and parameters (`odr.services.notifications.TEXTS` has the
same sentences for e-mail and SMS).

There is no inbox service in `odr`; the three small queries live here, always filtered by the
reader's own user id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from odr.storage.models import Notification
from odr.storage.notifications import mark_all_read, unread_count
from odr.times import format_stored
from web import labels
from web.i18n import N_, _

#: One sentence per kind, over the same parameters as the e-mails.
SENTENCES: dict[str, str] = {
    "case_received": N_(
        "Your complaint %(number)s was registered. The insurer must answer by %(due)s."
    ),
    "case_new": N_("Complaint %(number)s is waiting for your answer, due by %(due)s."),
    "case_answered": N_(
        "The insurer answered complaint %(number)s. Read the answer, then accept it "
        "or ask for mediation."
    ),
    "extension_approved": N_(
        "The deadline for complaint %(number)s was extended to %(due)s. Reason: %(reason)s"
    ),
    "reminder": N_("Reminder: complaint %(number)s is due by %(due)s."),
    "escalated": N_(
        "Complaint %(number)s passed its deadline (%(due)s) and was escalated to supervisors."
    ),
    "message_received": N_("There is a new message on case %(number)s."),
    "cluster_warning": N_(
        "Early warning: %(count)s similar complaints against %(insurer)s (%(category)s) "
        "arrived recently."
    ),
    "state_changed": N_("Case %(number)s has moved on."),
    "hearing_proposed": N_(
        "The mediator proposed times for the hearing of case %(number)s: tick the ones you "
        "can attend."
    ),
    "hearing_invitation": N_(
        "The video hearing of case %(number)s is set for %(when)s. "
        "Check your camera and microphone beforehand."
    ),
    "hearing_rescheduled": N_(
        "The hearing of case %(number)s is being rescheduled. Reason: %(reason)s"
    ),
    "hearing_cancelled": N_("The hearing of case %(number)s was cancelled. Reason: %(reason)s"),
    "hearing_reminder_24h": N_("Reminder: the hearing of case %(number)s is tomorrow, %(when)s."),
    "hearing_reminder_15m": N_(
        "The hearing of case %(number)s starts in 15 minutes (%(when)s). You can come in now."
    ),
    "callback_requested": N_(
        "%(name)s asks to be called back about case %(number)s. See the call-back requests."
    ),
    "callback_requested_general": N_(
        "%(name)s asks to be called back. See the call-back requests."
    ),
    "mediator_assigned_by_choice": N_(
        "Both sides chose the same mediator for case %(number)s: the mediator is assigned."
    ),
}

_PARAMS = ("number", "due", "reason", "insurer", "count", "category", "when", "zone", "name")


@dataclass(frozen=True)
class Entry:
    id: int
    case_id: int | None
    number: str
    text: str
    created_at: datetime
    unread: bool


def sentence(kind: str, params: Mapping[str, Any], lang: str, zone: ZoneInfo) -> str:
    """What a notification says, in the active language; an unknown kind says so plainly."""
    template = SENTENCES.get(kind)
    if template is None:
        return _("A notification about case %(number)s.", number=params.get("number", ""))
    values = {name: "" if params.get(name) is None else str(params[name]) for name in _PARAMS}
    # a deadline as its last day, a hearing's time as local time (`odr.times`)
    values["due"] = format_stored(params.get("due"), lang, zone, deadline=True)
    values["when"] = format_stored(params.get("when"), lang, zone)
    if kind == "cluster_warning":
        values["category"] = labels.category(values["category"])
    return _(template, **values)


def entry(n: Notification, lang: str, zone: ZoneInfo) -> Entry:
    params = n.params or {}
    return Entry(
        id=n.id,
        case_id=n.case_id,
        number=str(params.get("number") or ""),
        text=sentence(n.kind, params, lang, zone),
        created_at=n.created_at,
        unread=n.read_at is None,
    )


__all__ = ["entry", "mark_all_read", "sentence", "unread_count"]
