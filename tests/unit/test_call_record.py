"""The call record sums presence per participant and the caucus and recording periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from odr.domain.call_record import summarise

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_presence_caucus_recording_and_no_shows() -> None:
    entries = [
        (at(0), "join", 1, "调解员", {}),
        (at(10), "join", 2, "王芳", {"lobby": True}),
        (at(20), "admit", 2, "王芳", {"by": 1}),
        (at(30), "recording_on", 1, "调解员", {}),
        (at(60), "leave", 2, "王芳", {}),
        (at(75), "reconnect", 2, "王芳", {}),
        (at(100), "mute", 2, "王芳", {"by": 1}),
        (at(120), "caucus_start", 1, "调解员", {"side": "consumer"}),
        (at(180), "caucus_end", 1, "调解员", {"side": "consumer"}),
        (at(200), "recording_off", 1, "调解员", {}),
        (at(240), "no_show", 3, "保险代表", {}),
        (at(300), "end", 1, "调解员", {}),
    ]
    record = summarise(7, entries)
    people = {p.user_id: p for p in record.participants.values()}
    assert people[1].seconds == 300
    assert people[2].seconds == (60 - 10) + (300 - 75)
    assert (people[2].joins, people[2].reconnects, people[2].mutes) == (1, 1, 1)
    assert people[3].no_show and people[3].seconds == 0
    assert record.caucuses == [(at(120), at(180), "consumer")]
    assert record.recordings == [(at(30), at(200))]
    assert record.seconds == 300
    public = record.public()
    assert public["participants"][1]["seconds"] == 275.0
    assert len(public["entries"]) == len(entries)


def test_a_hearing_that_never_ended_cleanly_closes_at_its_last_entry() -> None:
    record = summarise(
        7,
        [
            (at(0), "join", 1, "m", {}),
            (at(5), "caucus_start", 1, "m", {"side": "insurer"}),
            (at(50), "media_lost", 1, "m", {}),
        ],
    )
    assert record.participants[1].seconds == 50
    assert record.caucuses == [(at(5), at(50), "insurer")]
    assert summarise(7, []).public()["participants"] == []
