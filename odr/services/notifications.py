"""Notifications: the in-app inbox, and e-mail and SMS through the outbox.

Texts come from the catalogue (`odr.i18n`); each recipient gets their language (the one saved on
the account, else Chinese). The outbox row is written in the same transaction as the change it
reports, so a message is never lost; `odr.services.outbox` sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.case_names import CATEGORIES
from odr.i18n import N_, NC_, translate, translate_in
from odr.storage.models import Membership, Notification, OutboxMessage, User
from odr.times import format_stored

#: The catalogue context of the texts below: e-mails and SMS say some things differently from
#: the inbox sentences of the pages.
CONTEXT = "notification"

#: kind -> (subject, body), in English; the catalogue translates them. Placeholders are
#: ``%(name)s`` over the params.
TEXTS: dict[str, tuple[str, str]] = {
    "case_received": (
        NC_("notification", "Complaint %(number)s received"),
        NC_(
            "notification",
            "Your complaint is registered as %(number)s. The insurer must answer by %(due)s; "
            "we will tell you as soon as anything happens.",
        ),
    ),
    "case_new": (
        NC_("notification", "New complaint to answer: %(number)s"),
        NC_("notification", "Complaint %(number)s is waiting for your answer, due by %(due)s."),
    ),
    "case_answered": (
        NC_("notification", "The insurer answered %(number)s"),
        NC_(
            "notification",
            "The insurer answered complaint %(number)s. Log in to read it, then accept it "
            "or ask for mediation.",
        ),
    ),
    "extension_approved": (
        NC_("notification", "Deadline extended for %(number)s"),
        NC_(
            "notification",
            "The deadline for complaint %(number)s is now %(due)s. Reason: %(reason)s",
        ),
    ),
    "reminder": (
        NC_("notification", "Reminder: %(number)s is due soon"),
        NC_("notification", "Complaint %(number)s is due by %(due)s."),
    ),
    "escalated": (
        NC_("notification", "Complaint %(number)s escalated"),
        NC_(
            "notification",
            "Complaint %(number)s passed its deadline (%(due)s) and was escalated to supervisors.",
        ),
    ),
    "message_received": (
        NC_("notification", "New message on %(number)s"),
        NC_("notification", "There is a new message on case %(number)s."),
    ),
    "cluster_warning": (
        NC_("notification", "Early warning: similar complaints against %(insurer)s"),
        NC_(
            "notification",
            "%(count)s similar complaints against %(insurer)s (%(category)s) arrived recently: "
            "%(numbers)s.",
        ),
    ),
    "state_changed": (
        NC_("notification", "Update on %(number)s"),
        NC_("notification", "Case %(number)s has moved on. Log in to see what changed."),
    ),
    "callback_requested": (
        NC_("notification", "Call-back request on %(number)s"),
        NC_(
            "notification",
            "%(name)s (case %(number)s) asks to be called back %(time)s on %(phone_masked)s. "
            "Log in to see the whole number.",
        ),
    ),
    "callback_requested_general": (
        NC_("notification", "Call-back request"),
        NC_(
            "notification",
            "%(name)s asks to be called back %(time)s on %(phone_masked)s. Log in to see the "
            "whole number.",
        ),
    ),
    "hearing_proposed": (
        NC_("notification", "Choose your hearing times for %(number)s"),
        NC_(
            "notification",
            "The mediator proposed times for the hearing of case %(number)s. Log in and tick "
            "the times you can attend: %(url)s",
        ),
    ),
    "hearing_invitation": (
        NC_("notification", "Hearing invitation %(number)s: %(when)s"),
        NC_(
            "notification",
            "The video hearing of case %(number)s is set for %(when)s and lasts "
            "about %(minutes)s minutes. You can come in from 30 minutes before. The calendar "
            "invitation is attached. Please check your camera and microphone beforehand: "
            "%(url)s",
        ),
    ),
    "hearing_rescheduled": (
        NC_("notification", "Hearing of %(number)s to be rescheduled"),
        NC_(
            "notification",
            "The hearing of case %(number)s is being rescheduled; the earlier time no longer "
            "holds. Reason: %(reason)s. Log in and tick the new times you can attend: %(url)s",
        ),
    ),
    "hearing_cancelled": (
        NC_("notification", "Hearing of %(number)s cancelled"),
        NC_(
            "notification",
            "The hearing of case %(number)s was cancelled. Reason: %(reason)s. %(url)s",
        ),
    ),
    "hearing_reminder_24h": (
        NC_("notification", "Hearing tomorrow, %(number)s: %(when)s"),
        NC_(
            "notification",
            "The video hearing of case %(number)s starts at %(when)s. Please "
            "check your camera and microphone beforehand: %(url)s",
        ),
    ),
    "hearing_reminder_15m": (
        NC_("notification", "Your hearing starts soon, %(number)s"),
        NC_(
            "notification",
            "The video hearing of case %(number)s starts at %(when)s. You can come in now: %(url)s",
        ),
    ),
    "mediator_assigned_by_choice": (
        NC_("notification", "Mediator agreed for %(number)s"),
        NC_(
            "notification",
            "Both sides chose the same mediator (%(mediator)s); case %(number)s is now "
            "assigned to them. %(url)s",
        ),
    ),
}


#: When a consumer would like to be called back (the ``time`` of a call-back request).
CALLBACK_TIMES: dict[str, str] = {
    "any": NC_("notification", "any time"),
    "morning": NC_("notification", "in the morning, 9:00–12:00"),
    "afternoon": NC_("notification", "in the afternoon, 14:00–17:00"),
    "evening": NC_("notification", "in the evening, 18:00–20:00"),
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render(
    kind: str, language: str | None, params: Mapping[str, Any], zone: tzinfo | None = None
) -> tuple[str, str]:
    """The subject and body of a ``kind`` of notification in ``language`` (else Chinese).
    A deadline (``due``) reads as its last day and a time (``when``) as the local time, in
    ``zone`` or else in the offset the services wrote it with (`odr.times`)."""
    subject, body = TEXTS[kind]
    # a parameter a text gained later (a stored notice lacks it) reads as blank
    values = _Blank({k: ("" if v is None else v) for k, v in params.items()})
    for key, deadline in (("due", True), ("when", False)):
        if values.get(key):
            values[key] = format_stored(values[key], language, zone, deadline=deadline)
    if isinstance(time := values.get("time"), str) and time in CALLBACK_TIMES:
        values["time"] = translate_in(language, CONTEXT, CALLBACK_TIMES[time])
    if isinstance(category := values.get("category"), str) and category in CATEGORIES:
        values["category"] = translate(language, CATEGORIES[category])  # a code, not a name
    return (
        translate_in(language, CONTEXT, subject) % values,
        translate_in(language, CONTEXT, body) % values,
    )


# --- preferences ----------------------------------------------------------------------------

MEDIA = ("inbox", "email", "sms")


@dataclass(frozen=True, slots=True)
class PreferenceGroup:
    """Kinds of notification a person switches on or off together, per medium. Legal notices
    (deadlines, the insurer's answer, hearing invitations and their changes) and call-back
    requests always reach the in-app inbox: ``inbox_fixed``."""

    key: str
    label: str
    kinds: frozenset[str]
    inbox_fixed: bool = False
    staff_only: bool = False


PREFERENCE_GROUPS: tuple[PreferenceGroup, ...] = (
    PreferenceGroup(
        "legal",
        N_("Legal notices: receipt, deadlines, answers, hearing invitations"),
        frozenset(
            {
                "case_received",
                "case_new",
                "case_answered",
                "extension_approved",
                "escalated",
                "hearing_invitation",
                "hearing_rescheduled",
                "hearing_cancelled",
                "mediator_assigned_by_choice",
            }
        ),
        inbox_fixed=True,
    ),
    PreferenceGroup(
        "updates",
        N_("Other updates on a case and reminders"),
        frozenset({"state_changed", "reminder"}),
    ),
    PreferenceGroup("messages", N_("New messages"), frozenset({"message_received"})),
    PreferenceGroup(
        "hearings",
        N_("Hearing times to choose and hearing reminders"),
        frozenset({"hearing_proposed", "hearing_reminder_24h", "hearing_reminder_15m"}),
    ),
    PreferenceGroup(
        "work",
        N_("Call-back requests and early warnings"),
        frozenset({"callback_requested", "callback_requested_general", "cluster_warning"}),
        inbox_fixed=True,
        staff_only=True,
    ),
)
GROUP_OF_KIND = {kind: g for g in PREFERENCE_GROUPS for kind in g.kinds}


def choice(prefs: Mapping[str, Any] | None, kind: str, medium: str) -> bool | None:
    """What the person chose for ``kind`` by ``medium``; None when they never chose."""
    group = GROUP_OF_KIND.get(kind)
    if group is None:
        return None
    if medium == "inbox" and group.inbox_fixed:
        return True
    chosen = (prefs or {}).get(group.key)
    if not isinstance(chosen, Mapping) or not isinstance(chosen.get(medium), bool):
        return None
    return bool(chosen[medium])


def wants(prefs: Mapping[str, Any] | None, kind: str, medium: str) -> bool:
    """Whether the person wants ``kind`` by ``medium`` (everything, until they choose)."""
    return choice(prefs, kind, medium) is not False


def clean_preferences(chosen: Mapping[str, Iterable[str]]) -> dict[str, dict[str, bool]]:
    """Preferences from a form: for each group, the media ticked (what is fixed stays on)."""
    result: dict[str, dict[str, bool]] = {}
    for group in PREFERENCE_GROUPS:
        ticked = set(chosen.get(group.key, ()))
        result[group.key] = {m: (m == "inbox" and group.inbox_fixed) or m in ticked for m in MEDIA}
    return result


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str | None
    mobile: str | None
    language: str | None
    prefs: Mapping[str, Any] | None = None


def recipient(user: User) -> Recipient:
    return Recipient(user.id, user.email, user.mobile, user.locale, user.notification_prefs)


async def staff_of(session: AsyncSession, organisation_id: int, role: str) -> list[Recipient]:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role == role,
            Membership.ended_on.is_(None),
            User.active.is_(True),
        )
    )
    return [recipient(u) for u in (await session.execute(stmt)).scalars()]


async def users_with_role(session: AsyncSession, role: str) -> list[Recipient]:
    stmt = select(User).where(User.role == role, User.active.is_(True))
    return [recipient(u) for u in (await session.execute(stmt)).scalars()]


def notify(
    session: AsyncSession,
    recipients: Iterable[Recipient],
    *,
    kind: str,
    key: str,
    case_id: int | None,
    params: Mapping[str, Any],
    now: datetime,
    email: bool = True,
    sms: bool = False,
    attachment: Callable[[Recipient], list[dict[str, str]]] | None = None,
) -> None:
    """Add inbox entries and outbox messages to the session (the caller commits).
    ``key`` names the occasion; with the recipient and medium it makes each outbox row unique,
    so reporting the same occasion twice sends nothing twice."""
    seen: set[int] = set()
    for r in recipients:
        if r.user_id in seen:
            continue
        seen.add(r.user_id)
        if wants(r.prefs, kind, "inbox"):
            session.add(
                Notification(
                    user_id=r.user_id,
                    case_id=case_id,
                    kind=kind,
                    params=dict(params),
                    created_at=now,
                )
            )
        subject, body = render(kind, r.language, params)
        if email and r.email and wants(r.prefs, kind, "email"):
            session.add(
                OutboxMessage(
                    key=f"{key}:{r.user_id}:email",
                    medium="email",
                    recipient=r.email,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                    attachments=None if attachment is None else attachment(r),
                )
            )
        # SMS: where the occasion asks for it or there is no e-mail, unless switched off;
        # always when the person switched it on
        by_sms = choice(r.prefs, kind, "sms")
        if r.mobile and (by_sms is True or (by_sms is None and (sms or not r.email))):
            session.add(
                OutboxMessage(
                    key=f"{key}:{r.user_id}:sms",
                    medium="sms",
                    recipient=r.mobile,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
