"""Small media helpers shared by the relay, its tests and its benchmark.

- `FrameAssembler`: takes the place of aiortc's `JitterBuffer` in one `RTCRtpReceiver` and hands
  complete encoded frames to a callback on the event loop (no decoder thread, no added frame of
  latency: a video frame is complete at its marker bit, an Opus packet is a frame).
- `is_vp8_keyframe`, `RtpClock` (RTP timestamps unwrapped to a growing pts) and `Timeline`
  (a continuous output timeline over changing sources).
- `LoopSource`: a pre-encoded VP8 or Opus source (encoded once with PyAV, then looped with
  correct pts, answering keyframe requests by restarting at its keyframe) for tests and benches.

Everything private of aiortc that the relay relies on is listed in `AIORTC_PRIVATE_NAMES`.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_CLOCK)

#: Private names of aiortc 1.16.0 used here and in `signaling.relay` (pinned version; a test
#: checks every one of them so an upgrade fails loudly instead of silently decoding again).
AIORTC_PRIVATE_NAMES: dict[type, tuple[str, ...]] = {
    # receiver: the jitter buffer we replace, the idle decoder thread we stop, the PLI we send
    RTCRtpReceiver: (
        "_RTCRtpReceiver__jitter_buffer",
        "_RTCRtpReceiver__decoder_thread",
        "_RTCRtpReceiver__stop_decoder",
        "_send_rtcp_pli",
        "_send_rtcp_nack",  # counted (`count_nacks_sent`)
    ),
    # sender: a subscriber's PLI/FIR ends in `_send_keyframe()`; we route it upstream; the
    # RTCP it receives passes `_handle_rtcp_packet`, where its NACKs are counted
    RTCRtpSender: ("_send_keyframe", "_handle_rtcp_packet"),
}

_SEQ_HALF = 0x8000
#: Give up waiting for a missing packet once the newest packet is this far ahead (RTP ticks).
_VIDEO_GIVE_UP_TICKS = VIDEO_CLOCK * 3 // 10
_MAX_BUFFERED_PACKETS = 512


def is_vp8_keyframe(frame: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte is 0 (RFC 6386 §9.1)."""
    return len(frame) > 0 and frame[0] & 0x01 == 0


def _vp8_frame_start(payload: bytes) -> bool:
    """Whether an RTP VP8 payload (descriptor included) starts a frame: S=1 and PID=0."""
    return len(payload) > 0 and payload[0] & 0x10 != 0 and payload[0] & 0x07 == 0


def _seq_delta(a: int, b: int) -> int:
    """a - b in RTP sequence space, in [-32768, 32767]."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= _SEQ_HALF else d


FrameCallback = Callable[[str, bytes, int, int], None]
"""(kind, data, rtp_timestamp, ssrc) for each complete encoded frame."""


class FrameAssembler:
    """Drop-in for `aiortc.jitterbuffer.JitterBuffer` that delivers frames instead of queueing
    them for the decoder thread. `add()` always returns ``(False, None)``: the receiver then
    neither decodes nor sends its own unthrottled PLIs; losses go to ``on_loss(ssrc)``.

    After a video loss it drops frames until the next keyframe (a frame referring to a lost
    one would only show garbage downstream).
    """

    def __init__(
        self,
        kind: str,
        on_frame: FrameCallback,
        on_loss: Callable[[int], None] | None = None,
        on_first_packet: Callable[[], None] | None = None,
    ) -> None:
        self.kind = kind
        self._on_frame = on_frame
        self._on_loss = on_loss
        self._on_first_packet = on_first_packet
        self._packets: dict[int, Any] = {}
        self._next: int | None = None  # sequence number that starts the next frame
        self._awaiting_keyframe = False
        self.frames = 0
        self.losses = 0
        self.packets = 0  # RTP packets added
        self.capacity = _MAX_BUFFERED_PACKETS  # JitterBuffer exposes it

    def add(self, packet: Any) -> tuple[bool, None]:
        self.packets += 1
        if self._on_first_packet is not None:
            callback, self._on_first_packet = self._on_first_packet, None
            callback()
        if self.kind == "audio":
            self._add_audio(packet)
        else:
            self._add_video(packet)
        return False, None

    def _add_audio(self, packet: Any) -> None:
        seq = packet.sequence_number
        if self._next is not None and _seq_delta(seq, self._next) < 0:
            return  # late or duplicate
        self._next = (seq + 1) & 0xFFFF
        self._emit(packet._data, packet.timestamp, packet.ssrc)

    def _add_video(self, packet: Any) -> None:
        seq = packet.sequence_number
        if self._next is None:
            if not _vp8_frame_start(packet.payload):
                return
            self._next = seq
        elif _seq_delta(seq, self._next) < 0:
            return  # already delivered or given up
        self._packets[seq] = packet
        self._drain(packet)

    def _drain(self, newest: Any) -> None:
        while self._next is not None:
            start = self._packets.get(self._next)
            if start is None:
                if not self._stuck(newest, None):
                    return
                continue
            seq = self._next
            parts: list[Any] = []
            complete = False
            broken = False
            while True:
                part = self._packets.get(seq)
                if part is None:
                    break
                if part.timestamp != start.timestamp:
                    broken = True  # the marker packet of this frame never came
                    break
                parts.append(part)
                if part.marker:
                    complete = True
                    break
                seq = (seq + 1) & 0xFFFF
            if complete:
                for part in parts:
                    del self._packets[part.sequence_number]
                self._next = (seq + 1) & 0xFFFF
                data = b"".join(p._data for p in parts)
                self._deliver_video(data, start.timestamp, start.ssrc)
                continue
            if broken or self._stuck(newest, start):
                if broken:
                    self._skip_to_next_start(start.timestamp, start.ssrc)
                continue
            return

    def _stuck(self, newest: Any, start: Any) -> bool:
        """Whether to stop waiting for the frame at `_next`; if so, skip past it."""
        if len(self._packets) < _MAX_BUFFERED_PACKETS:
            if start is None:
                # the first packet of the frame is missing: wait as long as it is recent
                oldest = min(self._packets.values(), key=lambda p: p.timestamp, default=None)
                if oldest is None or (newest.timestamp - oldest.timestamp) & 0xFFFFFFFF < (
                    _VIDEO_GIVE_UP_TICKS
                ):
                    return False
            elif (newest.timestamp - start.timestamp) & 0xFFFFFFFF < _VIDEO_GIVE_UP_TICKS:
                return False
        stuck_ts = start.timestamp if start is not None else None
        self._skip_to_next_start(stuck_ts, newest.ssrc)
        return True

    def _skip_to_next_start(self, stuck_ts: int | None, ssrc: int) -> None:
        """Drop the incomplete frame at `_next` and resume at the next frame start we hold."""
        assert self._next is not None
        self.losses += 1
        self._awaiting_keyframe = True
        candidates = sorted(
            (s for s, p in self._packets.items() if p.timestamp != stuck_ts),
            key=lambda s: _seq_delta(s, self._next or 0),
        )
        self._next = None
        for s in candidates:
            if _vp8_frame_start(self._packets[s].payload):
                self._next = s
                break
        if self._next is None:
            self._packets.clear()
        else:
            for s in [s for s in self._packets if _seq_delta(s, self._next) < 0]:
                del self._packets[s]
        if self._on_loss is not None:
            self._on_loss(ssrc)

    def _deliver_video(self, data: bytes, timestamp: int, ssrc: int) -> None:
        if self._awaiting_keyframe:
            if not is_vp8_keyframe(data):
                return
            self._awaiting_keyframe = False
        self._emit(data, timestamp, ssrc)

    def _emit(self, data: bytes, timestamp: int, ssrc: int) -> None:
        self.frames += 1
        self._on_frame(self.kind, data, timestamp, ssrc)


def install_assembler(receiver: RTCRtpReceiver, assembler: FrameAssembler) -> None:
    """Make `receiver` hand its frames to `assembler` instead of its decoder thread.

    Call before media flows (right after the remote description is applied). The receiver's
    idle decoder thread is stopped when the first packet arrives (it starts in `receive()`).
    """
    first = assembler._on_first_packet

    def stop_decoder() -> None:
        receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]
        if first is not None:
            first()

    assembler._on_first_packet = stop_decoder
    receiver._RTCRtpReceiver__jitter_buffer = assembler  # type: ignore[attr-defined]


async def send_pli(receiver: RTCRtpReceiver, ssrc: int) -> None:
    """Ask the remote sender of `receiver` for a keyframe (RTCP PLI)."""
    await receiver._send_rtcp_pli(ssrc)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route the PLI/FIR that `sender`'s remote receiver sends to `callback`."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


def count_nacks_sent(receiver: RTCRtpReceiver, count: Callable[[int], None]) -> None:
    """``count(n)`` each time `receiver` asks its remote sender for ``n`` lost packets."""
    send = receiver._send_rtcp_nack

    async def counted(media_ssrc: int, lost: list[int]) -> None:
        count(len(lost))
        await send(media_ssrc, lost)

    receiver._send_rtcp_nack = counted  # type: ignore[method-assign]


def count_nacks_received(sender: RTCRtpSender, count: Callable[[int], None]) -> None:
    """``count(n)`` each time `sender`'s remote receiver asks for ``n`` lost packets again."""
    handle = sender._handle_rtcp_packet

    async def counted(packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            count(len(packet.lost))
        await handle(packet)

    sender._handle_rtcp_packet = counted  # type: ignore[method-assign]


class RtpClock:
    """RTP timestamps of one stream unwrapped to a pts that starts at 0 and keeps growing."""

    def __init__(self) -> None:
        self._first: int | None = None
        self._last = 0
        self._pts = 0

    def pts(self, timestamp: int) -> int:
        if self._first is None:
            self._first = self._last = timestamp
            return 0
        step = (timestamp - self._last) & 0xFFFFFFFF
        if step >= 0x80000000:
            step -= 0x100000000
        self._last = timestamp
        self._pts += step
        return self._pts


class Timeline:
    """One continuous output timeline over sources that come and go.

    A new source starts at the wall-clock time elapsed since `origin` (so audio and video of
    one output stay aligned and a pause shows as a pause); inside a source the source's own
    pts steps are kept exactly.
    """

    def __init__(self, clock_rate: int, origin: float | None = None) -> None:
        self._clock_rate = clock_rate
        self._origin = time.monotonic() if origin is None else origin
        self._source: object = None
        self._offset = 0
        self._last: int | None = None

    def map(self, source: object, pts: int) -> int:
        if source is not self._source:
            self._source = source
            start = round((time.monotonic() - self._origin) * self._clock_rate)
            if self._last is not None and start <= self._last:
                start = self._last + 1
            self._offset = start - pts
        out = pts + self._offset
        if self._last is not None and out <= self._last:
            out = self._last + 1
        self._last = out
        return out


# --- pre-encoded sources for tests and benchmarks ---------------------------------------------


@dataclass(frozen=True, slots=True)
class EncodedClip:
    kind: str
    packets: tuple[bytes, ...]  # packets[0] is a keyframe (video)
    step: int  # pts ticks between packets at `clock`
    clock: int


def encode_video_clip(
    *, width: int = 320, height: int = 240, fps: int = 30, seconds: float = 2.0
) -> EncodedClip:
    """A moving pattern encoded once with libvpx: one keyframe, then inter frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = 300_000
    codec.gop_size = 10_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    ramp = bytes(range(256)) * (width // 256 + 3)
    for i in range(round(fps * seconds)):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = frame.planes[0]
        rows = [ramp[(y + 4 * i) % 256 :][: luma.line_size] for y in range(height)]
        luma.update(b"".join(rows))
        for plane, phase in ((frame.planes[1], i), (frame.planes[2], 2 * i)):
            value = int(128 + 100 * math.sin(phase / 10))
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = i
        frame.time_base = codec.time_base
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    assert is_vp8_keyframe(packets[0])
    return EncodedClip("video", tuple(packets), VIDEO_CLOCK // fps, VIDEO_CLOCK)


def encode_audio_clip(*, seconds: float = 1.0, frequency: float = 440.0) -> EncodedClip:
    """A tone encoded once with libopus in 20 ms packets."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_CLOCK
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 32_000
    codec.time_base = AUDIO_TIME_BASE
    samples = 960
    packets: list[bytes] = []
    for i in range(round(seconds * 50)):
        tone = array.array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * frequency * (n + i * samples) / AUDIO_CLOCK))
                for n in range(samples)
                for _ in range(2)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
        frame.planes[0].update(tone.tobytes())
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = i * samples
        frame.time_base = AUDIO_TIME_BASE
        packets += [bytes(p) for p in codec.encode(frame)]
    return EncodedClip("audio", tuple(packets), 960, AUDIO_CLOCK)


class LoopSource(MediaStreamTrack):
    """Sends an `EncodedClip` in a loop, paced in real time, as `av.Packet`s (aiortc's sender
    packs them without encoding). A keyframe request restarts the clip at its keyframe.

    With ``pts_jitter`` the pts steps vary pseudo-randomly (by up to that many ticks) so that a
    receiver can recognise which frame it got from the pattern of steps; ``sent`` then records
    pts -> wall-clock send time (`time.time()`).
    """

    def __init__(
        self, clip: EncodedClip, *, pts_jitter: int = 0, seed: int = 0, record: bool = False
    ) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = 0
        self._pts = 0
        self._start: float | None = None
        self._jitter = pts_jitter
        self._random = random.Random(seed)  # noqa: S311 - test pacing, not security
        self._time_base = fractions.Fraction(1, clip.clock)
        self.frames_sent = 0
        self.keyframes_sent = 0
        self.keyframe_requests = 0
        self.paused = False
        self.sent: dict[int, float] | None = {} if record else None

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._index = 0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            step = self._clip.step
            if self._jitter:
                step += self._random.randint(-self._jitter, self._jitter)
            self._pts += step
        while True:
            delay = self._start + self._pts / self._clip.clock - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.paused:
                break
            # paused: skip this slot of time, keep the clock running
            self._pts += self._clip.step
        data = self._clip.packets[self._index]
        if self._index == 0 and self.kind == "video":
            self.keyframes_sent += 1
        self._index = (self._index + 1) % len(self._clip.packets)
        if self._index == 0 and self.kind == "video":
            self._index = 1  # loop over inter frames only; keyframes come on request
        packet = av.Packet(data)
        packet.pts = self._pts
        packet.time_base = self._time_base
        self.frames_sent += 1
        if self.sent is not None:
            self.sent[self._pts] = time.time()
        return packet


def codec_preferences(kind: str) -> Sequence[Any]:
    """The one codec per kind the relay forwards: VP8 (with RTX) for video, Opus for audio."""
    caps = RTCRtpSender.getCapabilities(kind).codecs
    wanted = ("video/vp8", "video/rtx") if kind == "video" else ("audio/opus",)
    return [c for c in caps if c.mimeType.lower() in wanted]
