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

from odr.i18n import NC_, translate_in
from odr.services import notifications
from odr.services.notifications import CONTEXT, Recipient

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


#: The calendar entry's title and description (catalogue context ``notification``).
_SUMMARY = NC_("notification", "Mediation hearing %(number)s")
_DESCRIPTION = NC_(
    "notification",
    "Video mediation hearing of case %(number)s. You can come in from 30 minutes "
    "before the start: %(url)s",
)


def calendar_file(
    invitation: Invitation,
    *,
    zone: ZoneInfo,
    language: str = "zh-CN",
    cancel: bool = False,
    now: datetime | None = None,
) -> str:
    """The ``.ics`` text: METHOD:REQUEST, or METHOD:CANCEL when ``cancel``."""
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
    number, url = invitation.case_number, invitation.url
    event.add("summary", translate_in(language, CONTEXT, _SUMMARY, number=number))
    event.add("description", translate_in(language, CONTEXT, _DESCRIPTION, number=number, url=url))
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
    """`notifications.notify` for a hearing's occasion; ``attachment`` makes the recipient's
    ``invitation.ics`` for the e-mail."""
    notifications.notify(
        session,
        recipients,
        kind=kind,
        key=key,
        case_id=case_id,
        params=params,
        now=now,
        attachment=None
        if attachment is None
        else lambda r: [{"name": FILENAME, "mime": MEDIA_TYPE, "text": attachment(r)}],
    )
