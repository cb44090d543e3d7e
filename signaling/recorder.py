"""Crash-safe recording of one hearing participant's media, without re-encoding.

The relay hands the encoded frames it forwards (VP8 video, Opus audio, RTP timestamps) to a
`ParticipantRecorder`, which muxes them into WebM segments of about `segment_seconds` under the
hearing's directory:

- the open segment is ``<stem>-<index:04d>.webm.part``; when it is closed (container trailer
  written) it is renamed to ``.webm``, so every ``.webm`` is complete and plays, and a crash
  (kill -9) loses at most the open ``.part``;
- a new segment starts at a video keyframe once the segment is old enough (a keyframe is asked
  for shortly before the boundary and the cut is made at the first keyframe from then on), on
  time when there is no video, when the camera changes size, and when a stream appears that the
  open segment has no track for (the first segment waits a moment for both streams);
- every closed segment is hashed (SHA-256, in a thread) and reported through ``on_closed``
  (a task, in closing order) so that the caller can enter it into the case's evidence;
- indexes continue across recorders in the same directory: nothing is ever overwritten.

Audio and video RTP clocks are unrelated; each stream's timestamps are anchored to the arrival
time (``clock()``) of its first frame, so both are aligned on arrival and written in
milliseconds from the segment start.

Opus in WebM needs an ``OpusHead`` codec header: the audio track is made from a ``libopus``
encoder context that is used only as the header source (it never encodes). Its header carries a
pre-skip of 312 samples, so players drop the first 6.5 ms of audio of every segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import OutputContainer

from odr.domain.recording_names import (
    CLOSED_SUFFIX,
    OPEN_SUFFIX,
    parse_segment_name,
    segment_base,
)

log = logging.getLogger("odr.recorder")

MS = Fraction(1, 1000)
RTP_WRAP = 2**32
#: A stream whose timestamps drift this far (s) from arrival time is anchored again.
RESYNC_SECONDS = 1.0
#: How fast (s per s) a stream's delay estimate may grow (clock drift is ~0.0001).
DRIFT = 0.001
#: A stream silent for this long (s) no longer counts as present.
STALL_SECONDS = 2.0
#: Keyframe requests are repeated at most this often (s) while one is awaited.
KEYFRAME_RETRY_SECONDS = 1.0
#: A keyframe is asked for this long (s) before a segment's boundary; the segment is cut at
#: the first keyframe from then on (the delay of a keyframe request is about a round trip).
KEYFRAME_LEAD_SECONDS = 0.5
#: At the very start, audio waits this long (s) for video to show up, so that the first
#: segment has both tracks.
START_WAIT_SECONDS = 0.5
#: Frames muxed but not yet written are bounded by this (µs): the muxer's interleaving delay.
MAX_INTERLEAVE_DELTA_US = 1_000_000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Segment:
    """A closed, complete recording segment, ready to be entered into evidence."""

    path: Path  # the closed file, e.g. recordings/42/u7-0003.webm
    index: int
    sha256: str
    size: int
    started_at: datetime  # wall clock, UTC aware
    ended_at: datetime
    has_audio: bool
    has_video: bool


def closed_segments(directory: Path) -> list[Path]:
    """The closed segments in `directory`, ordered by stem then index."""
    return _listing(directory, part=False)


def leftover_parts(directory: Path) -> list[Path]:
    """Segments left open by a crash (``.webm.part``), for housekeeping at startup."""
    return _listing(directory, part=True)


def _listing(directory: Path, *, part: bool) -> list[Path]:
    found: list[tuple[str, int, Path]] = []
    try:
        entries = list(Path(directory).iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        name = parse_segment_name(entry.name)
        if name and name.open == part and entry.is_file():
            found.append((name.stem, name.index, entry))
    return [path for _, _, path in sorted(found)]


def _next_index(directory: Path, stem: str) -> int:
    indexes = [
        name.index
        for entry in os.listdir(directory)
        if (name := parse_segment_name(entry)) and name.stem == stem
    ]
    return max(indexes, default=-1) + 1


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a VP8 keyframe header; None if `data` is no valid keyframe."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    if not width or not height:
        return None
    return width, height


def opus_packet_ms(data: bytes) -> float | None:
    """Duration of an Opus packet from its TOC byte (RFC 6716 §3.1); None if malformed."""
    if not data:
        return None
    config, code = data[0] >> 3, data[0] & 3
    if config < 12:
        frame_ms = (10.0, 20.0, 40.0, 60.0)[config % 4]
    elif config < 16:
        frame_ms = (10.0, 20.0)[config % 2]
    else:
        frame_ms = (2.5, 5.0, 10.0, 20.0)[config % 4]
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(data) < 2:
        return None
    else:
        frames = data[1] & 0x3F
    total = frame_ms * frames
    return total if 0 < total <= 120 else None


class _Timeline:
    """Maps one stream's RTP timestamps (wrapping at 2**32) to `clock()` seconds.

    The offset between the two is the smallest delay seen (the least jittered frame), allowed
    to grow by `DRIFT` so that it follows a sender clock slower than ours.
    """

    def __init__(self) -> None:
        self._rate: Fraction | None = None
        self._last_raw = 0
        self._ticks = 0  # extended timestamp, from the anchor
        self._seconds = 0.0  # the same in seconds
        self._offset = 0.0  # clock() minus media seconds of the least delayed frame

    def media_time(self, pts: int, time_base: Fraction, now: float) -> float:
        rate = 1 / time_base
        raw = pts % RTP_WRAP
        if self._rate != rate:
            self._rate = rate
            self._last_raw = raw
            return self._anchor(now)
        delta = (raw - self._last_raw) % RTP_WRAP
        if delta >= RTP_WRAP // 2:
            delta -= RTP_WRAP  # a frame reordered behind its successor
        self._last_raw = raw
        self._ticks += delta
        previous, self._seconds = self._seconds, float(self._ticks / rate)
        leak = DRIFT * max(self._seconds - previous, 0.0)
        self._offset = min(self._offset + leak, now - self._seconds)
        seconds = self._seconds + self._offset
        if abs(seconds - now) > RESYNC_SECONDS:
            log.info("recorder: stream timestamps jumped by %.3f s, anchored again", seconds - now)
            return self._anchor(now)
        return seconds

    def _anchor(self, now: float) -> float:
        self._ticks = 0
        self._seconds = 0.0
        self._offset = now
        return now


@dataclass(frozen=True, slots=True)
class _Held:
    """A frame waiting for a segment with a track for it."""

    at: float  # media time
    kind: str
    data: bytes
    keyframe: bool = False


@dataclass
class _Open:
    """The segment being written."""

    index: int
    part: Path
    container: OutputContainer
    start: float  # media time (clock seconds) of timestamp 0
    started_at: datetime
    audio: Any = None  # the audio stream, if the segment has an audio track
    video: Any = None  # the video stream, if the segment has a video track
    video_size: tuple[int, int] | None = None
    video_started: bool = False  # a keyframe has been written
    keyframe_asked: bool = False  # the one request made before the boundary
    last_pts: dict[str, int] = field(default_factory=dict)
    end_ms: float = 0.0
    video_step_ms: float = 0.0
    packets: int = 0
    mux_failed: bool = False

    @property
    def has_audio(self) -> bool:
        return "audio" in self.last_pts

    @property
    def has_video(self) -> bool:
        return "video" in self.last_pts


class ParticipantRecorder:
    """Writes one participant's encoded frames into closed, hashed WebM segments."""

    def __init__(
        self,
        directory: Path,
        stem: str,
        *,
        segment_seconds: float = 60.0,
        on_closed: Callable[[Segment], Awaitable[None]] | None = None,
        request_keyframe: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utc_now,
        keyframe_wait: float = 5.0,
    ) -> None:
        if not stem or "/" in stem or os.sep in stem or stem.startswith("."):
            raise ValueError(f"bad recording stem: {stem!r}")
        if segment_seconds <= 0:
            raise ValueError("segment_seconds must be positive")
        self.directory = Path(directory)
        self.stem = stem
        self.segment_seconds = segment_seconds
        self.keyframe_wait = keyframe_wait
        # Keyframes are asked for this long before the boundary, and accepted from then on.
        self._keyframe_lead = min(KEYFRAME_LEAD_SECONDS, segment_seconds / 4)
        self._on_closed = on_closed
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._wall = wall
        self.directory.mkdir(parents=True, exist_ok=True)
        self._next = _next_index(self.directory, stem)
        self._timelines = {"audio": _Timeline(), "video": _Timeline()}
        self._segment: _Open | None = None
        self._held: list[_Held] = []  # frames waiting for a segment with a track for them
        self._held_since = 0.0
        self._last_arrival: dict[str, float] = {}
        self._video_size: tuple[int, int] | None = None
        self._last_keyframe_request = -float("inf")
        self._reports: set[asyncio.Task[Segment | None]] = set()
        self._last_report: asyncio.Task[Segment | None] | None = None
        self._final: asyncio.Task[Segment | None] | None = None
        self._closed = False

    # -- input -----------------------------------------------------------------------------

    def feed(self, kind: str, packet: av.Packet[Any]) -> None:
        """Record one encoded frame; bad input is logged and dropped, never raised."""
        try:
            self._feed(kind, packet)
        except Exception:
            log.exception("recorder %s: frame dropped", self.stem)

    def _feed(self, kind: str, packet: av.Packet[Any]) -> None:
        if self._closed:
            return
        if kind not in ("audio", "video"):
            log.warning("recorder %s: unknown media kind %r dropped", self.stem, kind)
            return
        if not isinstance(packet, av.Packet):
            log.warning("recorder %s: not a packet: %r", self.stem, type(packet))
            return
        data = bytes(packet)
        pts, time_base = packet.pts, packet.time_base
        if not data or pts is None or not time_base or time_base <= 0:
            log.warning("recorder %s: empty or untimed %s frame dropped", self.stem, kind)
            return
        now = self._clock()
        self._last_arrival[kind] = now
        at = self._timelines[kind].media_time(int(pts), Fraction(time_base), now)
        if kind == "video":
            self._video_frame(data, at, now)
        else:
            self._audio_frame(data, at, now)

    def _recent(self, kind: str, now: float) -> bool:
        return now - self._last_arrival.get(kind, -float("inf")) < STALL_SECONDS

    def _audio_frame(self, data: bytes, at: float, now: float) -> None:
        if opus_packet_ms(data) is None:
            log.warning("recorder %s: malformed Opus frame dropped", self.stem)
            return
        segment = self._segment
        if segment is not None and segment.audio is not None:
            if self._rotation_due(segment, at, now, keyframe=False):
                self._start_segment(at, audio=True, video=self._video_expected(now))
            self._write("audio", data, at)
            return
        # No track for audio yet: hold it while a segment with both tracks may come.
        self._hold(_Held(at, "audio", data))
        if self._recent("video", now) and not self._held_video():
            self._ask_keyframe(now)
        self._settle(now)

    def _video_frame(self, data: bytes, at: float, now: float) -> None:
        keyframe = not data[0] & 1
        size = vp8_keyframe_size(data) if keyframe else None
        if keyframe and size is None:
            log.warning("recorder %s: malformed VP8 keyframe dropped", self.stem)
            return
        segment = self._segment
        if segment is None:
            # Nothing written yet: hold video from a keyframe on, so that audio arriving a
            # moment later still gets into the first segment.
            if keyframe or self._held_video():
                self._video_size = size or self._video_size
                self._hold(_Held(at, "video", data, keyframe))
                self._settle(now)
            else:
                self._ask_keyframe(now)
            return
        if size is not None and (segment.video is None or size != segment.video_size or self._held):
            # A new segment for a late or resized picture, or for audio waiting for a track.
            self._video_size = size
            start = self._held[0].at if self._held else at
            self._start_segment(start, audio=self._audio_expected(now), video=True)
        elif segment.video is None:
            self._ask_keyframe(now)
            return  # nothing to start a video track with
        elif self._rotation_due(segment, at, now, keyframe=keyframe):
            self._start_segment(at, audio=self._audio_expected(now), video=True)
        self._write_video(data, at, keyframe, now)

    def _write_video(self, data: bytes, at: float, keyframe: bool, now: float) -> None:
        segment = self._segment
        assert segment is not None and segment.video is not None
        if not segment.video_started:
            if not keyframe:
                self._ask_keyframe(now)
                return  # undecodable without the keyframe it refers to
            segment.video_started = True
        self._write("video", data, at, keyframe=keyframe)

    def _hold(self, frame: _Held) -> None:
        if not self._held:
            self._held_since = self._clock()
        self._held.append(frame)

    def _held_video(self) -> bool:
        return any(frame.kind == "video" for frame in self._held)

    def _settle(self, now: float) -> None:
        """Open a segment for the held frames once it is known which tracks it needs."""
        audio, video = self._held_kinds()
        waited = now - self._held_since
        if self._segment is None and audio and video:
            ready = True
        elif self._segment is None and video:
            ready = waited >= START_WAIT_SECONDS
        elif self._recent("video", now):  # audio only, a keyframe is on its way
            ready = waited >= self.keyframe_wait
        else:
            ready = self._segment is not None or waited >= START_WAIT_SECONDS
        if ready:
            self._start_segment(
                self._held[0].at, audio=audio, video=video or self._video_expected(now)
            )

    def _held_kinds(self) -> tuple[bool, bool]:
        kinds = {frame.kind for frame in self._held}
        return "audio" in kinds, "video" in kinds

    def _audio_expected(self, now: float) -> bool:
        return bool(self._held) or self._recent("audio", now)

    def _video_expected(self, now: float) -> bool:
        return self._video_size is not None and self._recent("video", now)

    def _rotation_due(self, segment: _Open, at: float, now: float, *, keyframe: bool) -> bool:
        age = at - segment.start
        if segment.video is None or not self._recent("video", now):
            return age >= self.segment_seconds
        if age >= self.segment_seconds + self.keyframe_wait:
            return True  # the keyframe never came: cut anyway, video waits in the next one
        if age < self.segment_seconds - self._keyframe_lead:
            return False
        if keyframe:
            return True  # the keyframe asked for just before the boundary, or a later one
        if not segment.keyframe_asked:
            segment.keyframe_asked = True
            self._ask_keyframe(now, force=True)
        elif age >= self.segment_seconds:
            self._ask_keyframe(now)
        return False

    def _ask_keyframe(self, now: float, *, force: bool = False) -> None:
        if not force and now - self._last_keyframe_request < KEYFRAME_RETRY_SECONDS:
            return
        self._last_keyframe_request = now
        try:
            self._request_keyframe()
        except Exception:
            log.exception("recorder %s: keyframe request failed", self.stem)

    # -- segments --------------------------------------------------------------------------

    def _start_segment(self, start: float, *, audio: bool, video: bool) -> None:
        """Close the open segment (if any) and open the next one, starting at `start`."""
        if self._segment is not None:
            self._finish_segment()
        index, part = self._reserve()
        try:
            container = av.open(
                str(part),
                "w",
                format="webm",
                container_options={"max_interleave_delta": str(MAX_INTERLEAVE_DELTA_US)},
            )
        except Exception:
            part.unlink(missing_ok=True)
            raise
        started_at = self._wall() + timedelta(seconds=start - self._clock())
        segment = _Open(index, part, container, start=start, started_at=started_at)
        try:
            if video and self._video_size is not None:
                width, height = self._video_size
                segment.video = container.add_mux_stream("vp8", width=width, height=height)
                segment.video.time_base = MS
                segment.video_size = self._video_size
            if audio:
                # Header source only: an encoder context gives the OpusHead WebM requires.
                segment.audio = container.add_stream("libopus", rate=48000, layout="stereo")
                segment.audio.time_base = MS
        except Exception:
            container.close()
            part.unlink(missing_ok=True)
            raise
        self._segment = segment
        log.info("recorder %s: segment %s opened", self.stem, part.name)
        held, self._held = self._held, []
        now = self._clock()
        for frame in held:
            if frame.kind == "audio" and segment.audio is not None:
                self._write("audio", frame.data, frame.at)
            elif segment.video is not None:
                self._write_video(frame.data, frame.at, frame.keyframe, now)

    def _reserve(self) -> tuple[int, Path]:
        """The next free index, its ``.part`` created exclusively (never overwrite)."""
        self._next = max(self._next, _next_index(self.directory, self.stem))
        while True:
            index = self._next
            self._next += 1
            base = self.directory / segment_base(self.stem, index)
            part = base.with_name(base.name + OPEN_SUFFIX)
            if base.with_name(base.name + CLOSED_SUFFIX).exists():
                continue
            try:
                os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
            except FileExistsError:
                continue
            return index, part

    def _write(self, kind: str, data: bytes, at: float, *, keyframe: bool = False) -> None:
        segment = self._segment
        assert segment is not None
        stream = segment.audio if kind == "audio" else segment.video
        pts = max(round((at - segment.start) * 1000), 0)
        last = segment.last_pts.get(kind)
        if last is not None and pts <= last:
            pts = last + 1  # monotonic per stream
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = MS
        packet.pts = packet.dts = pts
        if kind == "audio":
            duration = opus_packet_ms(data) or 20.0
            packet.duration = round(duration)
        else:
            packet.is_keyframe = keyframe
            if last is not None:
                segment.video_step_ms = pts - last
            duration = segment.video_step_ms
        try:
            segment.container.mux(packet)
        except Exception:
            if not segment.mux_failed:
                log.exception("recorder %s: muxing into %s failed", self.stem, segment.part.name)
            segment.mux_failed = True
            return
        segment.last_pts[kind] = pts
        segment.end_ms = max(segment.end_ms, pts + duration)
        segment.packets += 1

    def _finish_segment(self) -> None:
        """Close the open segment's file, rename it to ``.webm`` and schedule its report."""
        segment, self._segment = self._segment, None
        assert segment is not None
        try:
            segment.container.close()
        except Exception:
            log.exception("recorder %s: closing %s failed, left as is", self.stem, segment.part)
            return
        if not segment.packets:  # nothing came that it could hold: free its index again
            segment.part.unlink(missing_ok=True)
            self._next = min(self._next, segment.index)
            return
        path = segment.part.with_name(segment.part.name.removesuffix(".part"))
        os.rename(segment.part, path)
        log.info("recorder %s: segment %s closed", self.stem, path.name)
        task = asyncio.get_running_loop().create_task(
            self._report(self._last_report, path, segment), name=f"report {path.name}"
        )
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)
        self._last_report = task

    async def _report(
        self, previous: asyncio.Task[Segment | None] | None, path: Path, segment: _Open
    ) -> Segment | None:
        try:
            sha256, size = await asyncio.to_thread(_seal, path)
        except Exception:
            log.exception("recorder %s: hashing %s failed", self.stem, path)
            return None
        closed = Segment(
            path=path,
            index=segment.index,
            sha256=sha256,
            size=size,
            started_at=segment.started_at,
            ended_at=segment.started_at + timedelta(milliseconds=segment.end_ms),
            has_audio=segment.has_audio,
            has_video=segment.has_video,
        )
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous  # reports go out in closing order
        if self._on_closed is not None:
            try:
                await self._on_closed(closed)
            except Exception:
                log.exception("recorder %s: on_closed failed for %s", self.stem, path.name)
        return closed

    async def close(self) -> Segment | None:
        """Close the open segment and wait for every pending report; idempotent.

        Returns the segment this closed (the same on every call), or None if none was open.
        """
        if not self._closed:
            self._closed = True
            try:
                if self._held:  # frames still waiting for a track: a last segment of their own
                    audio, video = self._held_kinds()
                    self._start_segment(self._held[0].at, audio=audio, video=video)
                if self._segment is not None:
                    before = self._last_report
                    self._finish_segment()
                    if self._last_report is not before:
                        self._final = self._last_report
            except Exception:
                log.exception("recorder %s: closing failed", self.stem)
        while self._reports:
            await asyncio.gather(*self._reports, return_exceptions=True)
        return None if self._final is None else self._final.result()


def _seal(path: Path) -> tuple[str, int]:
    """Flush a closed segment to disk and hash it (runs in a thread)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
