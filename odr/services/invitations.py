"""Calendar invitations of hearings: an iCalendar (RFC 5545) file per recipient.

One UID per hearing, whatever happens to it, so a calendar updates the entry it already has:
METHOD:REQUEST with a higher SEQUENCE after a reschedule, METHOD:CANCEL when cancelled.
DTSTART and DTEND carry the recipient's time zone (TZID) with its VTIMEZONE definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy.ext.asyncio import AsyncSession

from odr.services.notifications import Recipient
from odr.storage.models import Notification, OutboxMessage

PRODID = "-//ODR//Hearing invitations//EN"
FILENAME = "invitation.ics"
MEDIA_TYPE = "text/calendar"


@dataclass(frozen=True, slots=True)
class Invitation:
    hearing_id: int
    case_number: str
    starts_at: datetime
    duration_minutes: int
    sequence: int
    url: str
    organiser_name: str
    domain: str = "odr.invalid"  # the right-hand side of the UID


def uid_of(hearing_id: int, domain: str = "odr.invalid") -> str:
    return f"hearing-{hearing_id}@{domain}"


_SUMMARY = {
    "zh-CN": "调解听证会 {number}",
    "en": "Mediation hearing {number}",
}
_DESCRIPTION = {
    "zh-CN": "案件 {number} 的视频调解听证会。开始前 30 分钟起可进入：{url}",
    "en": "Video mediation hearing of case {number}. You can come in from 30 minutes "
    "before the start: {url}",
}


def calendar_file(
    invitation: Invitation,
    *,
    zone: ZoneInfo,
    language: str = "zh-CN",
    cancel: bool = False,
    now: datetime | None = None,
) -> str:
    """The ``.ics`` text: METHOD:REQUEST, or METHOD:CANCEL when ``cancel``."""
    lang = language if language in _SUMMARY else "zh-CN"
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancel else "REQUEST")
    event = Event()
    event.add("uid", uid_of(invitation.hearing_id, invitation.domain))
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    start = invitation.starts_at.astimezone(zone)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=invitation.duration_minutes))
    event.add("summary", _SUMMARY[lang].format(number=invitation.case_number))
    event.add(
        "description",
        _DESCRIPTION[lang].format(number=invitation.case_number, url=invitation.url),
    )
    event.add("url", invitation.url)
    event.add("location", invitation.url)
    organiser = vCalAddress(f"mailto:no-reply@{invitation.domain}")
    organiser.params["cn"] = vText(invitation.organiser_name)
    event.add("organizer", organiser)
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    cal.add_component(event)
    cal.add_missing_timezones()
    text: bytes = cal.to_ical()
    return text.decode("utf-8")


# --- the notices of a hearing: inbox entries and e-mail (with the .ics) or SMS ---------------

#: kind -> language -> (subject, body), str.format templates over the params.
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "hearing_proposed": {
        "zh-CN": (
            "请选择听证会时间 {number}",
            "调解员为案件 {number} 提出了听证会时间，请登录选择您能参加的时间：{url}",
        ),
        "en": (
            "Choose your hearing times for {number}",
            "The mediator proposed times for the hearing of case {number}. "
            "Log in and tick the times you can attend: {url}",
        ),
    },
    "hearing_invitation": {
        "zh-CN": (
            "听证会邀请 {number}：{when}",
            "案件 {number} 的视频听证会定于 {when}（{zone}），时长约 {minutes} 分钟。"
            "开始前 30 分钟起可进入。附件为日历邀请。请提前检查摄像头和麦克风：{url}",
        ),
        "en": (
            "Hearing invitation {number}: {when}",
            "The video hearing of case {number} is set for {when} ({zone}) and lasts about "
            "{minutes} minutes. You can come in from 30 minutes before. The calendar "
            "invitation is attached. Please check your camera and microphone beforehand: {url}",
        ),
    },
    "hearing_rescheduled": {
        "zh-CN": (
            "听证会改期 {number}",
            "案件 {number} 的听证会需要改期，原定时间不再有效。原因：{reason}。"
            "请登录选择新的时间：{url}",
        ),
        "en": (
            "Hearing of {number} to be rescheduled",
            "The hearing of case {number} is being rescheduled; the earlier time no longer "
            "holds. Reason: {reason}. Log in and tick the new times you can attend: {url}",
        ),
    },
    "hearing_cancelled": {
        "zh-CN": (
            "听证会已取消 {number}",
            "案件 {number} 的听证会已取消。原因：{reason}。{url}",
        ),
        "en": (
            "Hearing of {number} cancelled",
            "The hearing of case {number} was cancelled. Reason: {reason}. {url}",
        ),
    },
    "hearing_reminder_24h": {
        "zh-CN": (
            "明天听证会提醒 {number}：{when}",
            "案件 {number} 的视频听证会将于 {when}（{zone}）开始。请提前检查摄像头和麦克风：{url}",
        ),
        "en": (
            "Hearing tomorrow, {number}: {when}",
            "The video hearing of case {number} starts at {when} ({zone}). "
            "Please check your camera and microphone beforehand: {url}",
        ),
    },
    "hearing_reminder_15m": {
        "zh-CN": (
            "听证会即将开始 {number}",
            "案件 {number} 的视频听证会将于 {when}（{zone}）开始，现在即可进入：{url}",
        ),
        "en": (
            "Your hearing starts soon, {number}",
            "The video hearing of case {number} starts at {when} ({zone}). "
            "You can come in now: {url}",
        ),
    },
    "mediator_assigned_by_choice": {
        "zh-CN": (
            "调解员已确定 {number}",
            "双方选择了同一位调解员（{mediator}），案件 {number} 已分配给该调解员。{url}",
        ),
        "en": (
            "Mediator agreed for {number}",
            "Both sides chose the same mediator ({mediator}); case {number} is now "
            "assigned to them. {url}",
        ),
    },
}


def render(kind: str, language: str | None, params: Mapping[str, Any]) -> tuple[str, str]:
    texts = TEXTS[kind]
    subject, body = texts.get(language or "zh-CN", texts["zh-CN"])
    values = {k: ("" if v is None else v) for k, v in params.items()}
    return subject.format(**values), body.format(**values)


def notify(
    session: AsyncSession,
    recipients: Iterable[Recipient],
    *,
    kind: str,
    key: str,
    case_id: int,
    params: Mapping[str, Any],
    now: datetime,
    attachment: Callable[[Recipient], str] | None = None,
) -> None:
    """Inbox entries and outbox messages for a hearing's occasion ``key`` (each recipient at
    most once; e-mail when there is an address, else SMS). ``attachment`` makes the
    recipient's ``invitation.ics`` for the e-mail."""
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
        if r.email:
            files = None
            if attachment is not None:
                files = [{"name": FILENAME, "mime": MEDIA_TYPE, "text": attachment(r)}]
            session.add(
                OutboxMessage(
                    key=f"{key}:{r.user_id}:email",
                    medium="email",
                    recipient=r.email,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                    attachments=files,
                )
            )
        elif r.mobile:
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
