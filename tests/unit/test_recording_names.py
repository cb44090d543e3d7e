"""Segment names are written and read back by one rule, past four digits too."""

from __future__ import annotations

from pathlib import Path

from odr.domain.recording_names import (
    SegmentName,
    parse_segment_name,
    participant_of,
    participant_stem,
    segment_base,
)
from odr.services.hearing_room import _closed_segments
from signaling.recorder import _next_index, closed_segments, leftover_parts


def test_names_round_trip() -> None:
    assert segment_base(participant_stem(7), 3) == "u7-0003"
    assert segment_base("u7", 10000) == "u7-10000"
    assert parse_segment_name("u7-10000.webm") == SegmentName("u7", 10000, open=False)
    assert parse_segment_name("u7-0003.webm.part") == SegmentName("u7", 3, open=True)
    for other in ("u7-003.webm", "u7-0003.mp4", "u7-０００３.webm", "notes.txt"):
        assert parse_segment_name(other) is None
    assert participant_of("u7") == 7
    assert participant_of("u07") is None and participant_of("x7") is None


def test_segment_10000_is_seen_by_the_recorder_and_by_recovery(tmp_path: Path) -> None:
    folder = tmp_path / "42"
    folder.mkdir()
    for name in ("u7-9999.webm", "u7-10000.webm", "u7-10001.webm.part"):
        (folder / name).write_bytes(b"x")
    assert [p.name for p in closed_segments(folder)] == ["u7-9999.webm", "u7-10000.webm"]
    assert [p.name for p in leftover_parts(folder)] == ["u7-10001.webm.part"]
    assert _next_index(folder, "u7") == 10002
    found = [(h, u, p.name) for h, u, p in _closed_segments(tmp_path)]
    assert sorted(found) == [(42, 7, "u7-10000.webm"), (42, 7, "u7-9999.webm")]
