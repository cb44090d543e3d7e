"""A period of whole local days, and the buckets (days or weeks) of a time series over it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY_UP_TO_DAYS = 62  # longer periods are shown per week


@dataclass(frozen=True)
class Period:
    """Whole local days, both ends included."""

    start: date
    end: date

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """The half-open UTC interval ``[start 00:00, end + 1 day 00:00)`` of local time."""
        tz = ZoneInfo(zone)
        lo = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return lo, hi

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def series_unit(period: Period) -> str:
    """``day`` for periods up to `DAILY_UP_TO_DAYS` days, else ``week``."""
    return "day" if period.days <= DAILY_UP_TO_DAYS else "week"


def bucket_of(day: date, unit: str) -> date:
    """The first day of the bucket holding ``day``: itself, or the Monday of its week."""
    return day if unit == "day" else day - timedelta(days=day.weekday())


def buckets(period: Period, unit: str) -> list[date]:
    """The first day of every bucket of ``period`` (the first may start before the period)."""
    step = timedelta(days=1 if unit == "day" else 7)
    out, at = [], bucket_of(period.start, unit)
    while at <= period.end:
        out.append(at)
        at += step
    return out
