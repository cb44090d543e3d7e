"""Reusable aiortc test clients for the hearing relay.

`Peer` makes the relay's offer layout (m-line 0 audio, 1 video, then ``slots`` pairs of
receive-only audio and video), publishes pre-encoded synthetic VP8 + Opus (or nothing), and
counts what arrives in each slot. With ``decode=True`` slot media goes through aiortc's normal
receiving path (frames are decoded: proof that it is real video); with ``decode=False`` the
encoded frames are only counted (cheap, for benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.media import (
    EncodedClip,
    FrameAssembler,
    LoopSource,
    codec_preferences,
    encode_audio_clip,
    encode_video_clip,
    install_assembler,
    is_vp8_keyframe,
    on_keyframe_request,
)


@functools.cache
def video_clip() -> EncodedClip:
    return encode_video_clip(width=320, height=240, fps=30, seconds=2.0)


@functools.cache
def audio_clip() -> EncodedClip:
    return encode_audio_clip(seconds=1.0)


@dataclass
class SlotCounts:
    """What one receive slot got."""

    video_frames: int = 0  # decoded frames (decode=True) or complete encoded frames
    video_keyframes: int = 0  # only counted with decode=False
    audio_frames: int = 0
    first_video_at: float | None = None  # time.monotonic()
    first_audio_at: float | None = None
    video_size: tuple[int, int] | None = None
    #: (rtp timestamp, arrival time.time()) of every video frame, with decode=False
    video_arrivals: list[tuple[int, float]] = field(default_factory=list)
    record_arrivals: bool = False


class Peer:
    """One participant's client: one peer connection to the relay."""

    def __init__(
        self,
        name: str,
        *,
        slots: int = 5,
        audio: bool = True,
        video: bool = True,
        decode: bool = True,
        pts_jitter: int = 0,
        record: bool = False,
        clips: tuple[EncodedClip, EncodedClip] | None = None,
    ) -> None:
        self.name = name
        self.slot_count = slots
        self.decode = decode
        video_loop, audio_loop = clips or (video_clip(), audio_clip())
        self.audio_source = LoopSource(audio_loop) if audio else None
        self.video_source = (
            LoopSource(video_loop, pts_jitter=pts_jitter, seed=hash(name) & 0xFFFF, record=record)
            if video
            else None
        )
        self.slots = [SlotCounts(record_arrivals=record) for _ in range(slots)]
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._pending_consumers: list[tuple[RTCRtpTransceiver, int, str]] = []
        self.joined_at: float | None = None
        self._build()

    def _build(self) -> None:
        pc = self.pc
        transceivers: list[RTCRtpTransceiver] = []
        for kind, source in (("audio", self.audio_source), ("video", self.video_source)):
            if source is not None:
                t = pc.addTransceiver(source, direction="sendonly")
                if kind == "video":
                    on_keyframe_request(t.sender, source.request_keyframe)
            else:
                t = pc.addTransceiver(kind, direction="inactive")
            transceivers.append(t)
        for index in range(self.slot_count):
            for kind in ("audio", "video"):
                t = pc.addTransceiver(kind, direction="recvonly")
                transceivers.append(t)
                if self.decode:
                    # the receiver's track exists once the answer is applied
                    self._pending_consumers.append((t, index, kind))
                else:
                    install_assembler(
                        t.receiver,
                        FrameAssembler(
                            kind, functools.partial(self._on_encoded, index), on_loss=None
                        ),
                    )
        for t in transceivers:
            t.setCodecPreferences(list(codec_preferences(t.kind)))

    def _on_encoded(self, index: int, kind: str, data: bytes, ts: int, ssrc: int) -> None:
        counts = self.slots[index]
        now = time.monotonic()
        if kind == "video":
            counts.video_frames += 1
            if is_vp8_keyframe(data):
                counts.video_keyframes += 1
            if counts.first_video_at is None:
                counts.first_video_at = now
            if counts.record_arrivals:
                counts.video_arrivals.append((ts, time.time()))
        else:
            counts.audio_frames += 1
            if counts.first_audio_at is None:
                counts.first_audio_at = now

    async def _consume(self, track: MediaStreamTrack, index: int, kind: str) -> None:
        counts = self.slots[index]
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if kind == "video":
                    assert isinstance(frame, av.VideoFrame)
                    counts.video_frames += 1
                    counts.video_size = (frame.width, frame.height)
                    if counts.first_video_at is None:
                        counts.first_video_at = now
                else:
                    counts.audio_frames += 1
                    if counts.first_audio_at is None:
                        counts.first_audio_at = now

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        for t, index, kind in self._pending_consumers:
            track = t.receiver.track
            if track is not None:
                self._tasks.append(asyncio.ensure_future(self._consume(track, index, kind)))
        self._pending_consumers.clear()

    async def join(self, connect: Callable[[str, str], Awaitable[str]]) -> None:
        """Offer, let `connect(name, offer)` answer (e.g. `relay.connect`), apply the answer."""
        self.joined_at = time.monotonic()
        await self.accept(await connect(self.name, await self.offer()))

    async def connected(self, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while self.pc.connectionState != "connected":
                await asyncio.sleep(0.02)

        await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


async def wait_for(
    condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02
) -> float:
    """Wait until `condition()` holds; return the seconds it took (AssertionError on timeout)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - start
