"""Times and days as people read them, on every surface: pages, PDFs, e-mails, SMS, calendar
invitations and the human parts of exports. One implementation, here.

- In the reader's time zone (``ODR_TIMEZONE``), in the reader's language (`odr.i18n`).
- No seconds unless asked for, never microseconds, never "Z", "UTC" or a zone's name.
- A deadline is shown as its last day, "Dec 17, 2026 (inclusive)" / "2026年12月17日（含当日）":
  deadlines end at 00:00 local time of the day after their last (`odr.domain.deadlines`), and
  a date-only deadline (an agreement's payment) is its own last day.
- What machines read (the JSON API, ``.ics`` DTSTART, ``datetime=""`` and ``data-*``
  attributes) keeps ISO 8601 with its offset and never comes through here.

Pure functions: data in, text out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from babel.dates import format_date, format_time, get_datetime_format

from odr.i18n import N_, translate

#: How a deadline's last day reads: the deadline includes that whole day.
INCLUSIVE = N_("%(day)s (inclusive)")
#: The legacy form some stored notification parameters hold: local time, no offset.
_LOCAL_MINUTES = "%Y-%m-%d %H:%M"


def babel_locale(lang: str | None) -> str:
    return "en" if lang == "en" else "zh_CN"


def moment(value: datetime | str | None) -> datetime | None:
    """An aware datetime from what the services return (ISO 8601 text or a datetime)."""
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the services return aware times")
    return parsed


def parse(value: object, zone: tzinfo) -> datetime | date | None:
    """A time or a day from stored text: ISO 8601 with an offset, a calendar day
    (``2026-12-17``), or local ``YYYY-MM-DD HH:MM`` (read in ``zone``); None otherwise."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, _LOCAL_MINUTES)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _day_of(value: datetime | date | str, zone: tzinfo) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:  # a calendar day, 2026-11-03
        return date.fromisoformat(value)
    when = moment(value)
    assert when is not None
    return when.astimezone(zone).date()


def format_moment(
    value: datetime | str | None, lang: str | None, zone: tzinfo, *, seconds: bool = False
) -> str:
    """``2026年11月3日 14:05`` or ``Nov 3, 2026, 2:05 PM``, in ``zone``; with ``seconds``,
    ``14:05:09`` (never fractions)."""
    when = moment(value)
    if when is None:
        return ""
    local = when.astimezone(zone)
    locale = babel_locale(lang)
    day = format_date(local.date(), "medium", locale=locale)
    clock = format_clock(local, lang, zone, seconds=seconds)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("'", "").format(clock, day)


def format_clock(
    value: datetime | str | None, lang: str | None, zone: tzinfo, *, seconds: bool = False
) -> str:
    """The local time of day only: ``14:05`` / ``2:05 PM``, with ``seconds`` ``14:05:09`` /
    ``2:05:09 PM``."""
    when = moment(value)
    if when is None:
        return ""
    local = when.astimezone(zone).replace(microsecond=0)
    return format_time(local.timetz(), "medium" if seconds else "short", locale=babel_locale(lang))


def format_day(value: datetime | date | str | None, lang: str | None, zone: tzinfo) -> str:
    """The local calendar day only: ``2026年11月3日`` or ``Nov 3, 2026``."""
    if value is None or value == "":
        return ""
    return format_date(_day_of(value, zone), "medium", locale=babel_locale(lang))


def last_day(value: datetime | date | str | None, zone: tzinfo) -> date | None:
    """The last day a deadline includes, or None when ``value`` is a time of day that is not
    a midnight (such a deadline is shown as its moment)."""
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    when = moment(value)
    assert when is not None
    local = when.astimezone(zone)
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        return None
    return local.date() - timedelta(days=1)


def format_deadline(value: datetime | date | str | None, lang: str | None, zone: tzinfo) -> str:
    """A deadline as people read one: its last day, ``2026年12月17日（含当日）`` /
    ``Dec 17, 2026 (inclusive)``; one that does not end at a local midnight, as its moment."""
    if value is None or value == "":
        return ""
    day = last_day(value, zone)
    if day is None:
        assert isinstance(value, datetime | str)
        return format_moment(value, lang, zone)
    return format_last_day(day, lang)


def format_last_day(day: date, lang: str | None) -> str:
    """A calendar day a deadline includes: ``2026年12月17日（含当日）``."""
    shown = format_date(day, "medium", locale=babel_locale(lang))
    return translate(lang, INCLUSIVE, day=shown)


def format_stored(
    value: object, lang: str | None, zone: tzinfo | None, *, deadline: bool = False
) -> str:
    """A time or day kept as text in stored parameters (a notification's ``due`` or
    ``when``), shown as `format_deadline` or `format_moment` / `format_day` show it; text that
    is neither is shown as it is. Without ``zone``, in the zone the text was written in (the
    services write local times with their offset; local text without one reads as written)."""
    parsed = parse(value, zone or UTC)
    if parsed is None:
        return "" if value is None else str(value)
    if zone is None:
        zone = parsed.tzinfo if isinstance(parsed, datetime) and parsed.tzinfo else UTC
    if deadline:
        return format_deadline(parsed, lang, zone)
    if isinstance(parsed, datetime):
        return format_moment(parsed, lang, zone)
    return format_day(parsed, lang, zone)
