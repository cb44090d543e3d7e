"""The hearing recorder: real VP8/Opus frames (made once with PyAV's encoders) fed with RTP-like
timestamps, real WebM files decoded back with PyAV, and a real process killed with SIGKILL."""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from av.video.frame import PictureType

from signaling.recorder import (
    ParticipantRecorder,
    Segment,
    closed_segments,
    leftover_parts,
    vp8_keyframe_size,
)

ROOT = Path(__file__).resolve().parents[2]
FPS = 15
VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)
VIDEO_TICKS = 90000 // FPS
AUDIO_TICKS = 960  # 20 ms
WRAP = 2**32


# -- media ------------------------------------------------------------------------------------


def _vp8_encoder(width: int, height: int, gop: int) -> Any:
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.framerate = FPS
    encoder.bit_rate = 300_000
    encoder.gop_size = gop
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    return encoder


def _picture(i: int, width: int, height: int, *, key: bool = False) -> av.VideoFrame:
    """A moving test pattern."""
    frame = av.VideoFrame(width, height, "yuv420p")
    luma = b"".join(bytes([(row * 2 + i * 6) % 256]) * width for row in range(height))
    frame.planes[0].update(luma)
    frame.planes[1].update(bytes([(i * 5) % 256]) * (width * height // 4))
    frame.planes[2].update(bytes([128]) * (width * height // 4))
    frame.pts = i
    if key:
        frame.pict_type = PictureType.I
    return frame


def encode_video(count: int, width: int = 320, height: int = 240) -> list[bytes]:
    """`count` VP8 frames, a keyframe every second."""
    encoder = _vp8_encoder(width, height, gop=FPS)
    frames = [bytes(p) for i in range(count) for p in encoder.encode(_picture(i, width, height))]
    assert len(frames) == count
    return frames


def encode_audio(count: int) -> list[bytes]:
    """`count` Opus packets of 20 ms of a 400 Hz tone (a whole number of periods each)."""
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = AUDIO_TB
    period = b"".join(
        struct.pack("<hh", s, s)
        for s in (round(8000 * math.sin(2 * math.pi * 400 * k / 48000)) for k in range(960))
    )
    packets: list[bytes] = []
    for i in range(count + 10):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate = 48000
        frame.pts = i * 960
        frame.planes[0].update(period)
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets[:count]


@dataclass(frozen=True)
class Media:
    video: list[bytes]  # 5 s, keyframes at 0, 1, 2, 3, 4 s
    audio: list[bytes]  # 5 s


@pytest.fixture(scope="module")
def media() -> Media:
    return Media(video=encode_video(5 * FPS), audio=encode_audio(250))


class LiveCamera:
    """A VP8 source that honours keyframe requests (and sends none by itself)."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        self.encoder = _vp8_encoder(width, height, gop=100_000)
        self.size = (width, height)
        self.count = 0
        self.asked = 0
        self.wanted = False

    def request_keyframe(self) -> None:
        self.asked += 1
        self.wanted = self.honours

    honours = True

    def frame(self) -> bytes:
        picture = _picture(self.count, *self.size, key=self.wanted)
        self.wanted = False
        self.count += 1
        (packet,) = self.encoder.encode(picture)
        return bytes(packet)


# -- feeding ----------------------------------------------------------------------------------


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def wall_of(clock: FakeClock) -> datetime:
    return T0 + timedelta(seconds=clock.now - 1000.0)


@dataclass
class Track:
    kind: str
    frames: list[bytes]
    count: int  # frames to send (the list is looped)
    first: int = 0  # index of the first frame sent
    start: float = 0.0  # arrival of the first frame (s)
    offset: int = 12345  # RTP timestamp of the first frame

    @property
    def step(self) -> float:
        return 1 / FPS if self.kind == "video" else 0.02

    @property
    def ticks(self) -> int:
        return VIDEO_TICKS if self.kind == "video" else AUDIO_TICKS


@dataclass(frozen=True)
class Event:
    at: float
    kind: str
    data: bytes
    pts: int


def schedule(*tracks: Track, jitter: float = 0.0, seed: int = 7) -> list[Event]:
    """Frames of all tracks in arrival order; arrival is late by up to `jitter` (s)."""
    rng = random.Random(seed)
    events: list[Event] = []
    for track in tracks:
        arrived = -math.inf
        for n in range(track.count):
            arrived = max(arrived, track.start + n * track.step + rng.uniform(0, jitter))
            data = track.frames[(track.first + n) % len(track.frames)]
            pts = (track.offset + n * track.ticks) % WRAP
            events.append(Event(arrived, track.kind, data, pts))
    return sorted(events, key=lambda e: e.at)


def packet(event: Event) -> av.Packet[Any]:
    result = av.Packet(event.data)
    result.pts = event.pts
    result.time_base = VIDEO_TB if event.kind == "video" else AUDIO_TB
    if event.kind == "video":
        result.is_keyframe = not event.data[0] & 1
    return result


def play(recorder: ParticipantRecorder, clock: FakeClock, events: list[Event]) -> None:
    base = clock.now
    for event in events:
        clock.now = base + event.at
        recorder.feed(event.kind, packet(event))


@dataclass
class Reports:
    segments: list[Segment] = field(default_factory=list)

    async def __call__(self, segment: Segment) -> None:
        await asyncio.sleep(0)
        self.segments.append(segment)


def recorder_for(directory: Path, clock: FakeClock, **kwargs: object) -> ParticipantRecorder:
    return ParticipantRecorder(directory, "u7", clock=clock, wall=lambda: wall_of(clock), **kwargs)  # type: ignore[arg-type]


# -- checking ---------------------------------------------------------------------------------


@dataclass
class Playback:
    video_packets: int = 0
    video_frames: int = 0
    audio_packets: int = 0
    audio_frames: int = 0
    audio_samples: int = 0
    duration: float = 0.0
    first_video_keyframe: bool | None = None
    first_pts: dict[str, float] = field(default_factory=dict)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    streams: tuple[str, ...] = ()
    keyframes_at: list[float] = field(default_factory=list)


def play_back(path: Path) -> Playback:
    """Demux and decode every frame of `path`; a decoding error raises."""
    result = Playback()
    with av.open(str(path)) as container:
        result.streams = tuple(sorted(s.type for s in container.streams))
        result.duration = (container.duration or 0) / 1e6
        for pkt in container.demux():
            kind = pkt.stream.type
            if pkt.size:
                assert pkt.pts is not None and pkt.time_base is not None
                seconds = float(pkt.pts * pkt.time_base)
                result.first_pts.setdefault(kind, seconds)
                if kind == "video":
                    result.video_packets += 1
                    if result.first_video_keyframe is None:
                        result.first_video_keyframe = pkt.is_keyframe
                    if pkt.is_keyframe:
                        result.keyframes_at.append(seconds)
                else:
                    result.audio_packets += 1
            for frame in pkt.decode():
                if isinstance(frame, av.VideoFrame):
                    result.video_frames += 1
                    result.sizes.add((frame.width, frame.height))
                else:
                    assert isinstance(frame, av.AudioFrame)
                    result.audio_frames += 1
                    result.audio_samples += frame.samples
    return result


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- tests ------------------------------------------------------------------------------------


async def test_segments_rotate_at_keyframes_play_and_are_reported(
    tmp_path: Path, media: Media
) -> None:
    clock, reports, asked = FakeClock(), Reports(), []
    directory = tmp_path / "recordings" / "42"
    recorder = recorder_for(
        directory,
        clock,
        segment_seconds=1.5,
        on_closed=reports,
        request_keyframe=lambda: asked.append(clock.now),
    )
    events = schedule(
        Track("video", media.video, count=93, offset=3_000_000_000),
        Track("audio", media.audio, count=310, offset=77),
        jitter=0.03,
    )
    play(recorder, clock, events)
    last = await recorder.close()

    names = [p.name for p in closed_segments(directory)]
    assert names == ["u7-0000.webm", "u7-0001.webm", "u7-0002.webm", "u7-0003.webm"]
    assert leftover_parts(directory) == []
    # once per segment, in order, and the last one is what close() returns (idempotent)
    assert [s.index for s in reports.segments] == [0, 1, 2, 3]
    assert last == reports.segments[-1]
    assert await recorder.close() == last
    assert len(reports.segments) == 4
    # a keyframe was asked for before each boundary (the test source cannot honour it)
    assert asked
    video_total = audio_total = 0
    for number, segment in enumerate(reports.segments):
        assert segment.path == directory / names[number]
        assert segment.sha256 == sha256_of(segment.path)
        assert segment.size == segment.path.stat().st_size
        assert segment.has_audio and segment.has_video
        played = play_back(segment.path)
        assert played.streams == ("audio", "video")
        assert played.video_frames == played.video_packets > 0
        assert played.audio_frames == played.audio_packets > 0
        assert played.first_video_keyframe is True
        assert played.sizes == {(320, 240)}
        # cut at the source's keyframes (every second) once 1.5 s have passed: 0-2, 2-4, 4-6
        expected = 2.0 if number < 3 else 0.2
        assert played.duration == pytest.approx(expected, abs=0.12)
        assert played.audio_samples / 48000 == pytest.approx(expected, abs=0.1)
        start = T0 + timedelta(seconds=2 * number)
        assert abs((segment.started_at - start).total_seconds()) < 0.1
        assert (segment.ended_at - segment.started_at).total_seconds() == pytest.approx(
            expected, abs=0.12
        )
        # audio and video aligned at the segment start
        assert played.first_pts["video"] == pytest.approx(0, abs=0.05)
        assert played.first_pts["audio"] == pytest.approx(0, abs=0.05)
        video_total += played.video_packets
        audio_total += played.audio_packets
    assert (video_total, audio_total) == (93, 310)  # nothing lost at the cuts


async def test_keyframe_is_asked_for_shortly_before_the_boundary(tmp_path: Path) -> None:
    clock, camera = FakeClock(), LiveCamera()
    recorder = recorder_for(
        tmp_path, clock, segment_seconds=1.0, request_keyframe=camera.request_keyframe
    )
    base = clock.now
    for n in range(int(3.2 * FPS)):
        clock.now = base + n / FPS
        event = Event(n / FPS, "video", camera.frame(), (5 + n * VIDEO_TICKS) % WRAP)
        recorder.feed("video", packet(event))
    await recorder.close()

    segments = closed_segments(tmp_path)
    assert len(segments) >= 3
    durations = []
    for path in segments:
        played = play_back(path)
        assert played.streams == ("video",)
        assert played.first_video_keyframe is True
        assert played.keyframes_at == [0.0]  # one keyframe: only those asked for were made
        assert played.video_frames == played.video_packets
        durations.append(played.duration)
    assert all(0.7 <= d <= 1.1 for d in durations[:-1]), durations
    assert camera.asked == len(segments) - 1


async def test_video_waits_for_a_keyframe_while_audio_is_kept(tmp_path: Path, media: Media) -> None:
    clock, asked = FakeClock(), []
    recorder = recorder_for(
        tmp_path, clock, segment_seconds=10, request_keyframe=lambda: asked.append(clock.now)
    )
    # the recorder attaches mid-GOP: video frames 5..14 cannot be decoded (keyframe at 15)
    events = schedule(
        Track("video", media.video, count=40, first=5, offset=WRAP - 100),
        Track("audio", media.audio, count=150, offset=999),
    )
    play(recorder, clock, events)
    segment = await recorder.close()

    assert asked and asked[0] == pytest.approx(1000.0)  # at the first frame that is no keyframe
    assert segment is not None and segment.index == 0
    played = play_back(segment.path)
    assert played.first_video_keyframe is True
    assert played.video_frames == played.video_packets == 30  # frames 15..44
    assert played.audio_frames == played.audio_packets == 150  # audio from the start
    assert played.first_pts["audio"] == pytest.approx(0, abs=0.03)
    assert played.first_pts["video"] == pytest.approx(10 / FPS, abs=0.03)
    assert played.duration == pytest.approx(3.0, abs=0.1)


async def test_a_keyframe_that_never_comes_does_not_stop_the_cuts(
    tmp_path: Path, media: Media
) -> None:
    clock, camera, reports = FakeClock(), LiveCamera(), Reports()
    camera.honours = False  # a sender that ignores keyframe requests
    recorder = recorder_for(
        tmp_path,
        clock,
        segment_seconds=1.0,
        keyframe_wait=0.5,
        on_closed=reports,
        request_keyframe=camera.request_keyframe,
    )
    base, audio = clock.now, 0
    for n in range(int(4.5 * FPS)):
        camera.honours = n >= 3 * FPS  # until 3 s
        while audio * 0.02 <= n / FPS:
            clock.now = base + audio * 0.02
            data = media.audio[audio % len(media.audio)]
            recorder.feed("audio", packet(Event(0, "audio", data, audio * AUDIO_TICKS)))
            audio += 1
        clock.now = base + n / FPS
        recorder.feed("video", packet(Event(0, "video", camera.frame(), n * VIDEO_TICKS)))
    await recorder.close()

    # cut at 1.5 s although no keyframe came; then video waits for one (asked every second)
    flags = [(s.has_audio, s.has_video) for s in reports.segments]
    assert flags == [(True, True), (True, False), (True, True), (True, True)], flags
    played = [play_back(s.path) for s in reports.segments]
    assert [round(p.duration, 1) for p in played[:2]] == [1.5, 1.5]
    assert sum(p.audio_packets for p in played) == audio  # audio never waited
    assert all(p.audio_frames == p.audio_packets for p in played)
    assert played[1].streams == ("audio", "video") and played[1].video_packets == 0
    assert played[2].first_video_keyframe is True
    assert 0 < played[2].first_pts["video"] <= 1.0  # at the next request, once it is honoured
    assert all(p.video_frames == p.video_packets for p in played)


async def test_audio_only_and_late_video(tmp_path: Path, media: Media) -> None:
    clock, reports = FakeClock(), Reports()
    recorder = recorder_for(tmp_path, clock, segment_seconds=1.0, on_closed=reports)
    # audio alone for 2.5 s (cut on time), then the camera comes on
    events = schedule(
        Track("audio", media.audio, count=200),
        Track("video", media.video, count=15, start=2.5, offset=4_000_000_000),
    )
    play(recorder, clock, events)
    await recorder.close()

    flags = [(s.has_audio, s.has_video) for s in reports.segments]
    assert flags == [(True, False), (True, False), (True, False), (True, True)]
    for segment in reports.segments[:2]:
        played = play_back(segment.path)
        assert played.streams == ("audio",)
        assert played.audio_frames == played.audio_packets == 50
    last = play_back(reports.segments[-1].path)
    assert last.streams == ("audio", "video")
    assert last.video_frames == 15 and last.first_video_keyframe is True
    assert last.first_pts["video"] == pytest.approx(0, abs=0.03)
    assert sum(play_back(s.path).audio_packets for s in reports.segments) == 200


async def test_camera_size_change_starts_a_new_segment(tmp_path: Path, media: Media) -> None:
    clock, reports = FakeClock(), Reports()
    recorder = recorder_for(tmp_path, clock, segment_seconds=30, on_closed=reports)
    small = encode_video(FPS, 160, 120)
    assert vp8_keyframe_size(small[0]) == (160, 120)
    assert vp8_keyframe_size(small[1]) is None
    events = schedule(
        Track("video", media.video, count=FPS),
        Track("video", small, count=FPS, start=1.0, offset=12345 + FPS * VIDEO_TICKS),
    )
    play(recorder, clock, events)
    await recorder.close()

    assert [play_back(s.path).sizes for s in reports.segments] == [{(320, 240)}, {(160, 120)}]
    assert all(play_back(s.path).video_frames == FPS for s in reports.segments)


async def test_timestamps_wrapping_at_2_32_stay_continuous(tmp_path: Path, media: Media) -> None:
    clock = FakeClock()
    recorder = recorder_for(tmp_path, clock, segment_seconds=30)
    events = schedule(
        Track("video", media.video, count=45, offset=WRAP - 30 * VIDEO_TICKS),  # wraps at 2 s
        Track("audio", media.audio, count=150, offset=WRAP - 20 * AUDIO_TICKS),  # at 0.4 s
    )
    play(recorder, clock, events)
    segment = await recorder.close()

    assert segment is not None
    played = play_back(segment.path)
    assert (played.video_frames, played.audio_frames) == (45, 150)
    assert played.duration == pytest.approx(3.0, abs=0.1)
    pts: dict[str, list[int]] = {"audio": [], "video": []}
    with av.open(str(segment.path)) as container:
        for pkt in container.demux():
            if pkt.size and pkt.pts is not None:
                pts[pkt.stream.type].append(pkt.pts)
    for kind, expected in (("video", {66, 67}), ("audio", {20})):
        steps = {b - a for a, b in zip(pts[kind], pts[kind][1:], strict=False)}
        assert steps == expected, (kind, steps)


async def test_bad_input_is_dropped_without_raising(tmp_path: Path, media: Media) -> None:
    clock = FakeClock()
    recorder = recorder_for(tmp_path, clock, segment_seconds=30)

    def bad(data: bytes, pts: int | None = 1, tb: Fraction | None = VIDEO_TB) -> av.Packet[Any]:
        result = av.Packet(data)
        result.pts = pts
        if tb is not None:
            result.time_base = tb
        return result

    recorder.feed("video", bad(b""))
    recorder.feed("audio", bad(b""))
    recorder.feed("subtitles", bad(media.video[0]))
    recorder.feed("video", None)  # type: ignore[arg-type]
    recorder.feed("video", b"\x00bytes")  # type: ignore[arg-type]
    recorder.feed("video", bad(media.video[0], pts=None))
    recorder.feed("video", bad(b"\x10\x02\x00garbage-not-a-keyframe-header"))
    recorder.feed("audio", bad(b"\x03", tb=AUDIO_TB))  # Opus TOC without its count
    assert closed_segments(tmp_path) == leftover_parts(tmp_path) == []
    play(recorder, clock, schedule(Track("video", media.video, count=FPS)))
    recorder.feed("video", bad(b"\x00"))  # a truncated keyframe mid-stream
    segment = await recorder.close()
    assert segment is not None
    assert play_back(segment.path).video_frames == FPS
    recorder.feed("video", packet(Event(0, "video", media.video[0], 1)))  # after close: ignored
    assert closed_segments(tmp_path) == [segment.path]


async def test_restart_continues_the_index_and_never_overwrites(
    tmp_path: Path, media: Media
) -> None:
    for expected in ([0, 1], [2, 3]):
        clock, reports = FakeClock(), Reports()
        recorder = recorder_for(tmp_path, clock, segment_seconds=1.0, on_closed=reports)
        play(recorder, clock, schedule(Track("audio", media.audio, count=100)))
        await recorder.close()
        assert [s.index for s in reports.segments] == expected
    assert [p.name for p in closed_segments(tmp_path)] == [f"u7-{i:04d}.webm" for i in range(4)]


# -- crash ------------------------------------------------------------------------------------

CHILD = """
import asyncio, pickle, sys
from fractions import Fraction
from pathlib import Path
from typing import Any
import av
from signaling.recorder import ParticipantRecorder

async def main():
    directory = Path(sys.argv[1])
    video, audio = pickle.loads(Path(sys.argv[2]).read_bytes())
    now = [0.0]
    recorder = ParticipantRecorder(directory, "u9", segment_seconds=0.5, clock=lambda: now[0])
    v = a = 0
    while True:
        if v / 15 <= a * 0.02:
            now[0] = v / 15
            packet = av.Packet(video[v % len(video)])
            packet.pts, packet.time_base = (7 + v * 6000) % 2**32, Fraction(1, 90000)
            packet.is_keyframe = v % 15 == 0
            recorder.feed("video", packet)
            v += 1
            await asyncio.sleep(1 / 60)  # four times real time
        else:
            now[0] = a * 0.02
            packet = av.Packet(audio[a % len(audio)])
            packet.pts, packet.time_base = (3 + a * 960) % 2**32, Fraction(1, 48000)
            recorder.feed("audio", packet)
            a += 1

asyncio.run(main())
"""


def _wait_for(condition: object, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            pytest.fail(f"recorder process died: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.02)


@pytest.fixture
def killed_recording(tmp_path: Path, media: Media) -> Iterator[Path]:
    """A directory written by a recorder process that was killed with SIGKILL mid-segment."""
    directory = tmp_path / "recordings" / "9"
    directory.mkdir(parents=True)
    source = tmp_path / "media.pickle"
    source.write_bytes(pickle.dumps((media.video, media.audio)))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), str(source)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: len(closed_segments(directory)) >= 2, 30, proc)
        time.sleep(0.1)  # let it write into the open segment
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    yield directory


async def test_a_killed_recorder_leaves_playable_segments_and_a_restart_continues(
    killed_recording: Path, media: Media
) -> None:
    directory = killed_recording
    closed = closed_segments(directory)
    parts = leftover_parts(directory)
    assert len(closed) >= 2
    assert len(parts) == 1  # killed while writing the next segment
    for path in closed:
        played = play_back(path)
        assert played.streams == ("audio", "video")
        assert played.video_frames == played.video_packets > 0
        assert played.audio_frames == played.audio_packets > 0
        assert played.first_video_keyframe is True
        assert played.duration == pytest.approx(1.0, abs=0.15)  # cut at the 1 s keyframes
    before = {p: sha256_of(p) for p in closed + parts}
    highest = max(int(p.name.split("-")[1][:4]) for p in closed + parts)

    # the participant reconnects: a new recorder, same stem, same directory
    clock, reports = FakeClock(), Reports()
    recorder = ParticipantRecorder(directory, "u9", clock=clock, on_closed=reports)
    play(recorder, clock, schedule(Track("video", media.video, count=FPS)))
    segment = await recorder.close()
    assert segment is not None and segment.index == highest + 1
    assert segment.path.name == f"u9-{highest + 1:04d}.webm"
    assert {p: sha256_of(p) for p in before} == before  # nothing overwritten
    assert leftover_parts(directory) == parts
