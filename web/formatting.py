"""Dates, times, money and deadlines as the reader expects them: in the configured time zone,
in the reader's language. Pure functions; `web.rendering` registers them as jinja filters.
Times, days and deadlines come from `odr.times`, the one formatter of every surface."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from babel.dates import format_timedelta
from babel.numbers import format_currency, format_decimal

from odr.times import (
    babel_locale,
    format_clock,
    format_day,
    format_deadline,
    format_moment,
    moment,
)
from web.i18n import _

#: Below these fractions of the stage's time left, a deadline turns amber, then red.
AMBER_BELOW = 0.5
RED_BELOW = 0.2


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


__all__ = [
    "AMBER_BELOW",
    "RED_BELOW",
    "Countdown",
    "Urgency",
    "babel_locale",
    "countdown",
    "format_clock",
    "format_day",
    "format_deadline",
    "format_duration",
    "format_left",
    "format_moment",
    "format_money",
    "format_size",
    "moment",
    "urgency_label",
]
