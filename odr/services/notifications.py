"""Notifications: the in-app inbox, and e-mail and SMS through the outbox.

Texts come from the catalogue (`odr.i18n`); each recipient gets their language (the one saved on
the account, else Chinese). The outbox row is written in the same transaction as the change it
reports, so a message is never lost; `odr.services.outbox` sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.i18n import NC_, translate_in
from odr.storage.models import Membership, Notification, OutboxMessage, User

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
            "The insurer answered complaint %(number)s. Log in to read it and accept it, "
            "reject it or ask for mediation.",
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
            "%(count)s similar complaints against %(insurer)s (%(category)s) arrived recently.",
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
            "The video hearing of case %(number)s is set for %(when)s (%(zone)s) and lasts "
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
            "The video hearing of case %(number)s starts at %(when)s (%(zone)s). Please "
            "check your camera and microphone beforehand: %(url)s",
        ),
    ),
    "hearing_reminder_15m": (
        NC_("notification", "Your hearing starts soon, %(number)s"),
        NC_(
            "notification",
            "The video hearing of case %(number)s starts at %(when)s (%(zone)s). You can "
            "come in now: %(url)s",
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


def render(kind: str, language: str | None, params: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and body of a ``kind`` of notification in ``language`` (else Chinese)."""
    subject, body = TEXTS[kind]
    values = {k: ("" if v is None else v) for k, v in params.items()}
    if isinstance(time := values.get("time"), str) and time in CALLBACK_TIMES:
        values["time"] = translate_in(language, CONTEXT, CALLBACK_TIMES[time])
    return (
        translate_in(language, CONTEXT, subject) % values,
        translate_in(language, CONTEXT, body) % values,
    )


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str | None
    mobile: str | None
    language: str | None


def recipient(user: User) -> Recipient:
    return Recipient(user.id, user.email, user.mobile, user.locale)


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
        session.add(
            Notification(
                user_id=r.user_id, case_id=case_id, kind=kind, params=dict(params), created_at=now
            )
        )
        subject, body = render(kind, r.language, params)
        if email and r.email:
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
        if (sms or not r.email) and r.mobile:
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
