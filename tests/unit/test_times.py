"""The one formatter of times: the reader's zone, no seconds or fractions unless asked, no
"Z"/"UTC"/zone name, a deadline as its last day; in both languages."""

from __future__ import annotations

import contextvars
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from odr.domain.deadlines import Clock, DeadlinePolicy, Stage
from odr.times import (
    format_clock,
    format_day,
    format_deadline,
    format_moment,
    format_stored,
    last_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")  # has summer time
#: The agreement PDF used to print this raw: UTC, with microseconds.
SIGNED = datetime(2026, 12, 1, 20, 3, 1, 513255, tzinfo=UTC)


def test_a_moment_is_local_without_seconds_fractions_or_zone() -> None:
    assert format_moment(SIGNED, "zh-CN", SHANGHAI) == "2026年12月2日 04:03"  # the next day
    assert format_moment(SIGNED.isoformat(), "en", SHANGHAI) == "Dec 2, 2026, 4:03\u202fAM"
    assert format_moment(SIGNED, "zh-CN", SHANGHAI, seconds=True) == "2026年12月2日 04:03:01"
    assert format_clock(SIGNED, "zh-CN", SHANGHAI, seconds=True) == "04:03:01"
    assert format_clock(SIGNED, "en", SHANGHAI) == "4:03\u202fAM"
    for lang in ("zh-CN", "en"):
        shown = format_moment(SIGNED, lang, SHANGHAI, seconds=True)
        assert not any(mark in shown for mark in ("Z", "UTC", "+", "Asia", "513"))
    assert format_moment(None, "en", SHANGHAI) == "" and format_day("", "en", SHANGHAI) == ""
    with pytest.raises(ValueError, match="naive"):
        format_moment(datetime(2026, 1, 1), "en", SHANGHAI)


def test_summer_time_moves_the_local_clock() -> None:
    winter = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET, before the switch
    summer = winter + timedelta(hours=1)  # 03:30 CEST: 02:xx never happens that night
    assert format_clock(winter, "zh-CN", BERLIN) == "01:30"
    assert format_clock(summer, "zh-CN", BERLIN) == "03:30"
    # Shanghai has no summer time: the same hour later in the year reads the same
    assert format_clock(datetime(2026, 7, 1, 0, 30, tzinfo=UTC), "zh-CN", SHANGHAI) == "08:30"
    assert format_clock(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "zh-CN", SHANGHAI) == "08:30"


def test_a_deadline_is_shown_as_its_last_day() -> None:
    # the insurer's 15 days from a complaint received on Dec 2 end at 00:00 of Dec 18
    received = datetime(2026, 12, 2, 4, 5, tzinfo=SHANGHAI)
    due = Clock.start(Stage.ANSWER, received, DeadlinePolicy(), "Asia/Shanghai").due_at
    assert due == datetime(2026, 12, 18, tzinfo=SHANGHAI)
    assert format_deadline(due, "zh-CN", SHANGHAI) == "2026年12月17日（含当日）"
    assert format_deadline(due.isoformat(), "en", SHANGHAI) == "Dec 17, 2026 (inclusive)"
    assert format_deadline(due.astimezone(UTC), "zh-CN", SHANGHAI) == "2026年12月17日（含当日）"
    # the boundary: one microsecond before midnight is still a moment of the 17th
    before = due - timedelta(microseconds=1)
    assert last_day(before, SHANGHAI) is None
    assert format_deadline(before, "zh-CN", SHANGHAI) == "2026年12月17日 23:59"
    # a date-only deadline (an agreement's payment) is its own last day
    assert format_deadline(date(2026, 5, 1), "zh-CN", SHANGHAI) == "2026年5月1日（含当日）"
    assert format_deadline("2026-05-01", "en", SHANGHAI) == "May 1, 2026 (inclusive)"
    # midnight in Berlin summer time: the day before in Berlin
    berlin = datetime(2026, 7, 10, tzinfo=BERLIN)
    assert format_deadline(berlin, "en", BERLIN) == "Jul 9, 2026 (inclusive)"


def test_stored_parameters_of_any_age_read_the_same() -> None:
    due = datetime(2026, 12, 18, tzinfo=SHANGHAI)
    for stored in (due.isoformat(), due.astimezone(UTC).isoformat(), "2026-12-18 00:00"):
        assert format_stored(stored, "zh-CN", SHANGHAI, deadline=True) == "2026年12月17日（含当日）"
    assert format_stored("2026-12-02 04:05", "zh-CN", SHANGHAI) == "2026年12月2日 04:05"
    assert format_stored("2026-12-17", "en", SHANGHAI) == "Dec 17, 2026"
    assert format_stored(None, "en", SHANGHAI) == ""
    assert format_stored("soon", "en", SHANGHAI) == "soon"  # not a time: as it is


def in_language(lang: str, kind: str, params: dict[str, Any]) -> str:
    """An inbox sentence as a page in ``lang`` says it (in a context of its own)."""
    from web import i18n
    from web.inbox import sentence

    def run() -> str:
        i18n.activate(lang)
        return sentence(kind, params, lang, SHANGHAI)

    return contextvars.copy_context().run(run)


def test_notices_say_the_same_last_day_and_local_time_in_mail_and_inbox() -> None:
    from odr.services import notifications

    due = datetime(2026, 12, 18, tzinfo=SHANGHAI).isoformat()  # as the services store it
    when = datetime(2026, 12, 1, 20, 5, tzinfo=UTC).astimezone(SHANGHAI).isoformat()
    for lang, day, clock in (
        ("zh-CN", "2026年12月17日（含当日）", "2026年12月2日 04:05"),
        ("en", "Dec 17, 2026 (inclusive)", "Dec 2, 2026, 4:05\u202fAM"),
    ):
        _, mail = notifications.render("case_received", lang, {"number": "ODR-1", "due": due})
        inbox = in_language(lang, "case_received", {"number": "ODR-1", "due": due})
        assert day in mail and day in inbox, (mail, inbox)
        params = {"number": "ODR-1", "when": when, "zone": "Asia/Shanghai", "minutes": 60}
        subject, mail = notifications.render("hearing_invitation", lang, {**params, "url": "u"})
        inbox = in_language(lang, "hearing_invitation", params)
        for text in (subject, mail, inbox):
            assert clock in text and "Asia" not in text and "+08" not in text, text
    # notices stored before (local time without an offset) read the same
    old = in_language("en", "case_received", {"number": "ODR-1", "due": "2026-12-18 00:00"})
    assert "Dec 17, 2026 (inclusive)" in old
