"""Dates, times, money and deadlines as the reader expects them: in the configured time zone,
in the reader's language. Pure functions; `web.rendering` registers them as jinja filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, format_timedelta, get_datetime_format
from babel.numbers import format_currency, format_decimal

from web.i18n import _

#: Below these fractions of the stage's time left, a deadline turns amber, then red.
AMBER_BELOW = 0.5
RED_BELOW = 0.2


def babel_locale(lang: str) -> str:
    return "en" if lang == "en" else "zh_CN"


def moment(value: datetime | str | None) -> datetime | None:
    """An aware datetime from what the services return (ISO 8601 text or a datetime)."""
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the services return aware times")
    return parsed


def format_moment(value: datetime | str | None, lang: str, zone: ZoneInfo) -> str:
    """``2026年11月3日 14:05`` or ``Nov 3, 2026, 2:05 PM`` (no seconds), in ``zone``."""
    when = moment(value)
    if when is None:
        return ""
    local = when.astimezone(zone)
    locale = babel_locale(lang)
    day = format_date(local.date(), "medium", locale=locale)
    clock = format_time(local.timetz(), "short", locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("'", "").format(clock, day)


def format_day(value: datetime | date | str | None, lang: str, zone: ZoneInfo) -> str:
    """The local calendar day only: ``2026年11月3日`` or ``Nov 3, 2026``."""
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and len(value) == 10:  # a calendar day, 2026-11-03
        day = date.fromisoformat(value)
    else:
        when = moment(value)
        assert when is not None
        day = when.astimezone(zone).date()
    return format_date(day, "medium", locale=babel_locale(lang))


def format_money(fen: int | None, lang: str) -> str:
    """Fen (分) as yuan with the currency sign: ``¥3,200.00``."""
    if fen is None:
        return ""
    return format_currency(Decimal(fen) / 100, "CNY", locale=babel_locale(lang))


class Urgency(StrEnum):
    NORMAL = "normal"  # more than half of the time left
    SOON = "soon"  # less than half left: amber
    URGENT = "urgent"  # less than a fifth left: red
    OVERDUE = "overdue"  # the deadline has passed: red


@dataclass(frozen=True)
class Countdown:
    due_at: datetime
    left: timedelta  # negative once overdue
    urgency: Urgency

    @property
    def overdue(self) -> bool:
        return self.urgency is Urgency.OVERDUE


def countdown(
    due_at: datetime | str | None, started_at: datetime | str | None, now: datetime
) -> Countdown | None:
    """How much of a running deadline is left and how urgent it is; None without a deadline."""
    due = moment(due_at)
    if due is None:
        return None
    left = due - now
    start = moment(started_at)
    span = (due - start) if start is not None else None
    if left <= timedelta(0):
        urgency = Urgency.OVERDUE
    elif span is None or span <= timedelta(0):
        urgency = Urgency.NORMAL
    else:
        share = left / span
        if share < RED_BELOW:
            urgency = Urgency.URGENT
        elif share < AMBER_BELOW:
            urgency = Urgency.SOON
        else:
            urgency = Urgency.NORMAL
    return Countdown(due, left, urgency)


def format_duration(span: timedelta, lang: str) -> str:
    """``15 days`` (two days or more, whole days only), ``44 hours``, ``20 minutes``: never
    weeks or months, and never more time than there is."""
    seconds = abs(span.total_seconds())
    unit: Literal["day", "hour", "minute"]
    if seconds >= 2 * 86400:
        unit, size = "day", 86400
    elif seconds >= 3600:
        unit, size = "hour", 3600
    else:
        unit, size = "minute", 60
    whole = timedelta(seconds=max(1, int(seconds // size)) * size)
    return format_timedelta(
        whole, granularity=unit, threshold=float("inf"), locale=babel_locale(lang)
    )


def format_left(c: Countdown, lang: str) -> str:
    """``3 days left`` / ``Overdue by 5 hours``, in the reader's language."""
    span = format_duration(c.left, lang)
    if c.overdue:
        return _("Overdue by %(time)s", time=span)
    return _("%(time)s left", time=span)


def format_deadline(value: datetime | str | None, lang: str, zone: ZoneInfo) -> str:
    """A deadline as people read one: one that ends at local midnight is shown as the end
    of the day before (``Dec 7, 2026, 11:59 PM``), not as the first minute of the next."""
    when = moment(value)
    if when is None:
        return ""
    local = when.astimezone(zone)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        local -= timedelta(minutes=1)
    return format_moment(local, lang, zone)


def urgency_label(u: Urgency) -> str:
    """The urgency in words, so the colour is never the only sign of it."""
    if u is Urgency.OVERDUE:
        return _("Overdue")
    if u is Urgency.URGENT:
        return _("Urgent")
    if u is Urgency.SOON:
        return _("Due soon")
    return _("On time")


def format_size(size: int, lang: str) -> str:
    """A file's size as people read one: ``830 B``, ``12.4 KB``, ``3.1 MB`` (units of 1024)."""
    locale = babel_locale(lang)
    if size < 1024:
        return f"{format_decimal(size, locale=locale)} B"
    units = ("KB", "MB", "GB")
    power = 1
    while power < len(units) and round(size / 1024**power, 1) >= 1024:
        power += 1
    shown = format_decimal(size / 1024**power, format="#,##0.#", locale=locale)
    return f"{shown} {units[power - 1]}"
