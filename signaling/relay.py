"""The forwarding media relay of one hearing: encoded VP8 and Opus frames go from each
publisher to the subscribers that show it, without decoding or encoding.

Each participant has one `RTCPeerConnection` to the server, offered by the client with a fixed
layout: m-line 0 = its audio, m-line 1 = its video, then ``slots`` pairs (audio, video) it
receives — slot ``i`` is m-lines ``2 + 2i`` and ``3 + 2i``. The server answers and never
renegotiates; `Relay.show` decides which publisher flows into which slot.

On the receive side, each publishing `RTCRtpReceiver` gets a `FrameAssembler` in place of its
jitter buffer (frames are delivered on the event loop; the decoder thread is stopped). On the
send side, each slot is a `SlotTrack` whose `recv()` returns `av.Packet`s, which aiortc's
sender packetizes as they are (`encoder.pack`). The private aiortc names this relies on are
listed in `signaling.media.AIORTC_PRIVATE_NAMES` (aiortc is pinned to 1.16.0).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from odr.domain.errors import Conflict, NotFound, ValidationFailed
from signaling.media import (
    AUDIO_CLOCK,
    AUDIO_TIME_BASE,
    VIDEO_CLOCK,
    VIDEO_TIME_BASE,
    FrameAssembler,
    RtpClock,
    Timeline,
    codec_preferences,
    count_nacks_received,
    count_nacks_sent,
    install_assembler,
    is_vp8_keyframe,
    on_keyframe_request,
    send_pli,
)

logger = logging.getLogger(__name__)

KINDS = ("audio", "video")
#: At most one PLI per publisher in this many seconds.
PLI_INTERVAL = 0.5
#: A publisher that was sending video and sent nothing for this long is asked for a keyframe.
WATCHDOG_STALL = 0.5
#: ... but not forever: after this long without video it has probably stopped its camera.
WATCHDOG_GIVE_UP = 10.0
#: A keyframe request that no keyframe answered is retried until it is this old.
PENDING_PLI_EXPIRY = 5.0
WATCHDOG_TICK = 0.1
#: Frames queued for one subscriber slot before it is considered too slow.
SLOT_QUEUE = {"audio": 50, "video": 30}

Sink = Callable[[str, "av.Packet[Any]"], None]
GoneCallback = Callable[[str], Awaitable[None] | None]


def _counts() -> dict[str, int]:
    return dict.fromkeys(KINDS, 0)


@dataclass(slots=True)
class MediaTotals:
    """What every relay of a node forwarded since it started: plain integers added to on the
    media path (no allocation, no lock, no metric call per frame) and read by the metrics
    collector when scraped (`signaling.metrics`)."""

    packets_in: int = 0  # RTP packets of the connections released so far (live ones: `Relay`)
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    frames_dropped: int = 0  # not sent to one subscriber (a slot waiting or too slow)
    keyframe_requests: int = 0  # PLIs sent to publishers
    keyframe_requests_received: int = 0  # PLIs and FIRs subscribers sent
    nacks_sent: int = 0  # lost packets asked again of publishers
    nacks_received: int = 0  # packets subscribers asked again


@dataclass(slots=True)
class _Counters:
    # as a publisher
    received: dict[str, int] = field(default_factory=_counts)  # frames from its client
    forwarded: dict[str, int] = field(default_factory=_counts)  # its frames sent to subscribers
    dropped: dict[str, int] = field(default_factory=_counts)  # its frames not sent to one
    keyframes_received: int = 0
    keyframes_requested: int = 0  # PLIs sent to it
    # as a subscriber
    delivered: dict[str, int] = field(default_factory=_counts)  # frames sent to its client
    delivery_dropped: dict[str, int] = field(default_factory=_counts)
    keyframe_requests_made: int = 0  # PLIs its client sent

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": dict(self.received),
            "forwarded": dict(self.forwarded),
            "dropped": dict(self.dropped),
            "keyframes_received": self.keyframes_received,
            "keyframes_requested": self.keyframes_requested,
            "delivered": dict(self.delivered),
            "delivery_dropped": dict(self.delivery_dropped),
            "keyframe_requests_made": self.keyframe_requests_made,
        }


class SlotTrack(MediaStreamTrack):
    """What one subscriber slot sends: encoded frames of whichever publisher is assigned.

    A slot that changes source drops video until a keyframe of the new source; the outgoing
    pts stays continuous (`Timeline`).
    """

    def __init__(
        self,
        kind: str,
        subscriber: _Connection,
        on_keyframe_request: Callable[[], None],
        totals: MediaTotals | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._totals = totals
        self.source: _Connection | None = None
        self._subscriber = subscriber
        self._ask_keyframe = on_keyframe_request
        self._queue: asyncio.Queue[tuple[_Connection, av.Packet[Any]]] = asyncio.Queue(
            SLOT_QUEUE[kind]
        )
        clock = VIDEO_CLOCK if kind == "video" else AUDIO_CLOCK
        self._timeline = Timeline(clock)
        self._time_base = VIDEO_TIME_BASE if kind == "video" else AUDIO_TIME_BASE
        self._awaiting_keyframe = kind == "video"

    def assign(self, source: _Connection | None) -> bool:
        """Forward `source` from now on; True when that is a change."""
        if source is self.source:
            return False
        self.source = source
        self._awaiting_keyframe = self.kind == "video"
        while not self._queue.empty():
            self._queue.get_nowait()
        return True

    def push(self, source: _Connection, data: bytes, pts: int, keyframe: bool) -> None:
        if source is not self.source or self.readyState != "live":
            return
        if self._awaiting_keyframe:
            if not keyframe:
                self._drop(source)
                return
            self._awaiting_keyframe = False
        packet = av.Packet(data)
        packet.pts = self._timeline.map(source, pts)
        packet.time_base = self._time_base
        try:
            self._queue.put_nowait((source, packet))
        except asyncio.QueueFull:
            self._drop(source)
            if self.kind == "video":
                # the subscriber's link cannot keep up: restart it on a keyframe
                while not self._queue.empty():
                    self._queue.get_nowait()
                self._awaiting_keyframe = True
                self._ask_keyframe()

    def _drop(self, source: _Connection) -> None:
        if self._totals is not None:
            self._totals.frames_dropped += 1
        source.counters.dropped[self.kind] += 1
        self._subscriber.counters.delivery_dropped[self.kind] += 1

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        source, packet = await self._queue.get()
        totals = self._totals
        if totals is not None:
            totals.frames_out += 1
            totals.bytes_out += packet.size
        source.counters.forwarded[self.kind] += 1
        self._subscriber.counters.delivered[self.kind] += 1
        return packet


@dataclass(eq=False, slots=True)
class _Tap:
    sink: Sink
    timelines: dict[str, Timeline]
    awaiting_keyframe: bool = True

    def push(self, source: _Connection, kind: str, data: bytes, pts: int, key: bool) -> None:
        if kind == "video":
            if self.awaiting_keyframe and not key:
                return
            self.awaiting_keyframe = False
        packet = av.Packet(data)
        packet.pts = self.timelines[kind].map(source, pts)
        packet.time_base = VIDEO_TIME_BASE if kind == "video" else AUDIO_TIME_BASE
        if kind == "video":
            packet.is_keyframe = key
        try:
            self.sink(kind, packet)
        except Exception:
            logger.exception("relay tap sink failed")


@dataclass(eq=False)
class _Connection:
    """One participant's peer connection to this node: what it publishes and its slots."""

    name: str
    pc: RTCPeerConnection
    slots: list[dict[str, SlotTrack]] = field(default_factory=list)
    receivers: dict[str, Any] = field(default_factory=dict)
    assemblers: list[FrameAssembler] = field(default_factory=list)
    ssrc: dict[str, int] = field(default_factory=dict)
    clocks: dict[str, RtpClock] = field(default_factory=lambda: {k: RtpClock() for k in KINDS})
    counters: _Counters = field(default_factory=_Counters)
    last_video_at: float | None = None
    last_pli_at: float = -1e9
    pli_pending_since: float | None = None
    released: bool = False


class Relay:
    """The media of one hearing on this node."""

    def __init__(
        self,
        *,
        ice_servers: Sequence[RTCIceServer] = (),
        slots: int = 5,
        totals: MediaTotals | None = None,
    ) -> None:
        if slots < 1:
            raise ValidationFailed("a relay needs at least one slot", details={"field": "slots"})
        self._ice_servers = list(ice_servers)
        self._slots = slots
        self._conns: dict[str, _Connection] = {}
        self._shown: dict[str, dict[str, tuple[int, bool, bool]]] = {}
        self._routes: dict[str, dict[str, list[SlotTrack]]] = {}
        self._taps: dict[str, list[_Tap]] = {}
        self._gone: list[GoneCallback] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        #: the node's totals, shared by its relays (None: nothing counted for metrics)
        self.totals = totals

    # --- connections ---------------------------------------------------------------------

    async def connect(self, participant: str, offer_sdp: str) -> str:
        """Accept `participant`'s offer and return the answer SDP (with the server's ICE
        candidates). Replaces (and releases) an earlier connection of the same participant."""
        if self._closed:
            raise Conflict("the relay is closed", code="relay_closed")
        kinds = _offer_kinds(offer_sdp)
        lock = self._locks.setdefault(participant, asyncio.Lock())
        async with lock:
            await self._release(participant)
            pc = RTCPeerConnection(
                RTCConfiguration(
                    iceServers=list(self._ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
                )
            )
            conn = _Connection(participant, pc)
            try:
                self._build(conn, kinds)
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=bundle_candidates(offer_sdp), type="offer")
                )
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                await pc.close()
                if isinstance(exc, ValueError | AssertionError) or "description" in str(exc):
                    raise ValidationFailed(
                        f"unusable offer: {exc}", code="bad_offer", details={"field": "sdp"}
                    ) from exc
                raise
            self._conns[participant] = conn
            self._watch_state(conn)
            self._apply()
            self._ensure_watchdog()
            return pc.localDescription.sdp

    def _build(self, conn: _Connection, kinds: list[str]) -> None:
        pc = conn.pc
        transceivers: list[RTCRtpTransceiver] = []
        for kind in KINDS:
            t = pc.addTransceiver(kind, direction="recvonly")
            assembler = FrameAssembler(
                kind,
                on_frame=lambda k, data, ts, ssrc: self._on_frame(conn, k, data, ts, ssrc),
                on_loss=lambda ssrc: self._on_loss(conn),
            )
            install_assembler(t.receiver, assembler)
            if self.totals is not None:
                count_nacks_sent(t.receiver, self._nacks_sent)
            conn.receivers[kind] = t.receiver
            conn.assemblers.append(assembler)
            transceivers.append(t)
        pairs = (len(kinds) - 2) // 2
        for index in range(pairs):
            if index >= self._slots:
                for kind in KINDS:
                    transceivers.append(pc.addTransceiver(kind, direction="inactive"))
                continue
            slot: dict[str, SlotTrack] = {}
            for kind in KINDS:
                track = SlotTrack(
                    kind, conn, self._subscriber_pli_handler(conn, index, kind), self.totals
                )
                t = pc.addTransceiver(track, direction="sendonly")
                on_keyframe_request(t.sender, self._subscriber_pli_handler(conn, index, kind))
                if self.totals is not None:
                    count_nacks_received(t.sender, self._nacks_received)
                slot[kind] = track
                transceivers.append(t)
            conn.slots.append(slot)
        for t in transceivers:
            t.setCodecPreferences(list(codec_preferences(t.kind)))

    def _nacks_sent(self, lost: int) -> None:
        if self.totals is not None:
            self.totals.nacks_sent += lost

    def _nacks_received(self, lost: int) -> None:
        if self.totals is not None:
            self.totals.nacks_received += lost

    def _subscriber_pli_handler(
        self, conn: _Connection, slot: int, kind: str
    ) -> Callable[[], None]:
        def handle() -> None:
            if conn.released or slot >= len(conn.slots):
                return
            source = conn.slots[slot]["video"].source
            conn.counters.keyframe_requests_made += 1
            if self.totals is not None:
                self.totals.keyframe_requests_received += 1
            if source is not None:
                self.request_keyframe(source.name)

        return handle

    def _watch_state(self, conn: _Connection) -> None:
        @conn.pc.on("connectionstatechange")
        def on_state() -> None:
            if conn.pc.connectionState in ("failed", "closed") and not conn.released:
                self._spawn(self._vanished(conn))

    async def _vanished(self, conn: _Connection) -> None:
        if self._conns.get(conn.name) is not conn:
            return
        logger.info("relay: %s vanished (%s)", conn.name, conn.pc.connectionState)
        await self.disconnect(conn.name)
        for callback in list(self._gone):
            try:
                result = callback(conn.name)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("relay on_gone callback failed")

    async def add_ice_candidate(self, participant: str, candidate: dict[str, Any] | None) -> None:
        """A trickled candidate of `participant` (browser form) or None for the end of them."""
        conn = self._conns.get(participant)
        lock = self._locks.get(participant)
        if lock is not None and lock.locked():
            async with lock:  # its connect() is under way: the candidate belongs to it
                conn = self._conns.get(participant)
        if conn is None:
            raise NotFound(f"no media connection for {participant}", code="not_connected")
        if candidate is None:
            await conn.pc.addIceCandidate(None)
            return
        text = str(candidate.get("candidate") or "")
        if not text:  # browsers end gathering with an empty candidate
            await conn.pc.addIceCandidate(None)
            return
        if text.startswith("candidate:"):
            text = text[len("candidate:") :]
        try:
            parsed = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError) as exc:
            raise ValidationFailed(
                "unreadable ICE candidate", code="bad_candidate", details={"field": "candidate"}
            ) from exc
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        await conn.pc.addIceCandidate(parsed)

    async def disconnect(self, participant: str) -> None:
        """Release everything of `participant` (its connection and what it shows); idempotent."""
        lock = self._locks.setdefault(participant, asyncio.Lock())
        async with lock:
            self._shown.pop(participant, None)
            await self._release(participant)
        if not lock.locked() and participant not in self._conns:
            self._locks.pop(participant, None)

    async def _release(self, participant: str) -> None:
        conn = self._conns.pop(participant, None)
        if conn is None:
            return
        conn.released = True
        if self.totals is not None:
            self.totals.packets_in += sum(a.packets for a in conn.assemblers)
        self._apply()
        for slot in conn.slots:
            for track in slot.values():
                track.assign(None)
        try:
            await conn.pc.close()
        except Exception:
            logger.exception("relay: closing the connection of %s failed", participant)

    def on_gone(self, callback: GoneCallback) -> None:
        """`callback(participant)` runs when a connection fails or closes without
        `disconnect()` (the participant vanished); the relay has released it already."""
        self._gone.append(callback)

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for name in list(self._conns):
            await self.disconnect(name)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._shown.clear()
        self._taps.clear()

    # --- who sees whom ---------------------------------------------------------------------

    def show(self, subscriber: str, publishers: Sequence[tuple[str, bool, bool]]) -> dict[str, int]:
        """Set the complete list of what `subscriber` receives: (publisher, audio_on, video_on).

        A publisher already shown keeps its slot; the others get the lowest free slots; slots
        no longer used stop sending. Publishers not connected yet start flowing when they
        connect. Returns {publisher: slot_index}.
        """
        current = self._shown.get(subscriber, {})
        names = [p for p, _, _ in publishers]
        if len(set(names)) != len(names):
            raise ValidationFailed("a publisher is listed twice", details={"field": "publishers"})
        if len(names) > self._slots:
            raise ValidationFailed(
                f"at most {self._slots} publishers can be shown",
                code="too_many_publishers",
                details={"field": "publishers"},
            )
        shown: dict[str, tuple[int, bool, bool]] = {}
        for name, audio, video in publishers:
            if name in current:
                shown[name] = (current[name][0], bool(audio), bool(video))
        used = {slot for slot, _, _ in shown.values()}
        free = (i for i in range(self._slots) if i not in used)
        for name, audio, video in publishers:
            if name not in shown:
                shown[name] = (next(free), bool(audio), bool(video))
        if shown:
            self._shown[subscriber] = shown
        else:
            self._shown.pop(subscriber, None)
        self._apply()
        return {name: slot for name, (slot, _, _) in shown.items()}

    def _apply(self) -> None:
        """Bring every slot and the routing table in line with `_shown` and `_conns`."""
        routes: dict[str, dict[str, list[SlotTrack]]] = {}
        for subscriber, conn in self._conns.items():
            wanted: dict[int, tuple[str, bool, bool]] = {
                slot: (pub, audio, video)
                for pub, (slot, audio, video) in self._shown.get(subscriber, {}).items()
            }
            for index, slot in enumerate(conn.slots):
                pub, audio, video = wanted.get(index, ("", False, False))
                source = self._conns.get(pub) if pub else None
                for kind, on in (("audio", audio), ("video", video)):
                    track = slot[kind]
                    target = source if on else None
                    changed = track.assign(target)
                    if target is None:
                        continue
                    routes.setdefault(target.name, {}).setdefault(kind, []).append(track)
                    if changed and kind == "video":
                        self.request_keyframe(target.name)
        self._routes = routes

    # --- media -----------------------------------------------------------------------------

    def _on_frame(self, conn: _Connection, kind: str, data: bytes, ts: int, ssrc: int) -> None:
        if conn.released:
            return
        conn.ssrc[kind] = ssrc
        pts = conn.clocks[kind].pts(ts)
        conn.counters.received[kind] += 1
        totals = self.totals
        if totals is not None:
            totals.frames_in += 1
            totals.bytes_in += len(data)
        key = False
        if kind == "video":
            conn.last_video_at = time.monotonic()
            key = is_vp8_keyframe(data)
            if key:
                conn.counters.keyframes_received += 1
                conn.pli_pending_since = None
        for track in self._routes.get(conn.name, {}).get(kind, ()):
            track.push(conn, data, pts, key)
        for tap in self._taps.get(conn.name, ()):
            tap.push(conn, kind, data, pts, key)

    def _on_loss(self, conn: _Connection) -> None:
        if not conn.released:
            self.request_keyframe(conn.name)

    def request_keyframe(self, publisher: str) -> None:
        """Ask `publisher` for a keyframe (at most one PLI per `PLI_INTERVAL`; a throttled
        request is sent when the interval has passed, unless a keyframe came meanwhile)."""
        conn = self._conns.get(publisher)
        if conn is None:
            return
        if conn.pli_pending_since is None:
            conn.pli_pending_since = time.monotonic()
        self._flush_pli(conn)

    def _flush_pli(self, conn: _Connection) -> None:
        if conn.pli_pending_since is None or conn.released:
            return
        now = time.monotonic()
        if now - conn.pli_pending_since > PENDING_PLI_EXPIRY:
            conn.pli_pending_since = None
            return
        ssrc = conn.ssrc.get("video")
        if ssrc is None or now - conn.last_pli_at < PLI_INTERVAL:
            return  # the watchdog tick retries
        conn.last_pli_at = now
        conn.counters.keyframes_requested += 1
        if self.totals is not None:
            self.totals.keyframe_requests += 1
        self._spawn(send_pli(conn.receivers["video"], ssrc))

    def tap(self, publisher: str, sink: Sink) -> Callable[[], None]:
        """Hand `publisher`'s encoded frames to `sink(kind, packet)` (for the recorder).

        pts are on one timeline per tap (1/90000 video, 1/48000 audio; both start from the
        tap's creation, so they are aligned by arrival time, also across reconnects). Video
        starts at a keyframe (requested now) and carries `packet.is_keyframe`. Returns the
        function that detaches the sink.
        """
        origin = time.monotonic()
        tap = _Tap(
            sink,
            {"audio": Timeline(AUDIO_CLOCK, origin), "video": Timeline(VIDEO_CLOCK, origin)},
        )
        self._taps.setdefault(publisher, []).append(tap)
        self.request_keyframe(publisher)

        def detach() -> None:
            taps = self._taps.get(publisher, [])
            if tap in taps:
                taps.remove(tap)
            if not taps:
                self._taps.pop(publisher, None)

        return detach

    # --- housekeeping ----------------------------------------------------------------------

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._run_watchdog())

    async def _run_watchdog(self) -> None:
        """Keyframe watchdog: a publisher that was sending video and stalled for
        `WATCHDOG_STALL` is asked for a keyframe; pending (throttled) requests go out."""
        while True:
            await asyncio.sleep(WATCHDOG_TICK)
            now = time.monotonic()
            for conn in list(self._conns.values()):
                if (
                    conn.last_video_at is not None
                    and WATCHDOG_STALL <= now - conn.last_video_at <= WATCHDOG_GIVE_UP
                    and now - conn.last_pli_at >= PLI_INTERVAL
                ):
                    conn.pli_pending_since = now
                self._flush_pli(conn)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def connections(self) -> int:
        """Participants with a media connection to this relay."""
        return len(self._conns)

    @property
    def forwarded_streams(self) -> int:
        """Streams flowing from a publisher into a subscriber's slot now."""
        return sum(len(tracks) for kinds in self._routes.values() for tracks in kinds.values())

    def packets_in_live(self) -> int:
        """RTP packets received by the connections still open (released ones are in
        `totals`)."""
        return sum(a.packets for conn in self._conns.values() for a in conn.assemblers)

    def stats(self) -> dict[str, Any]:
        """Counters per participant (frames received as a publisher; forwarded and dropped
        both as a publisher and as a subscriber; keyframes), plus totals."""
        participants = {name: conn.counters.as_dict() for name, conn in self._conns.items()}
        return {
            "connections": len(self._conns),
            "participants": participants,
            "shown": {
                sub: {pub: slot for pub, (slot, _, _) in shown.items()}
                for sub, shown in self._shown.items()
            },
        }


def _offer_kinds(offer_sdp: str) -> list[str]:
    """The media kinds of an offer's m-lines, checked against the relay's layout."""
    try:
        description = SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise ValidationFailed(
            "unreadable offer", code="bad_offer", details={"field": "sdp"}
        ) from exc
    kinds = [m.kind for m in description.media]
    expected_ok = (
        len(kinds) >= 2
        and len(kinds) % 2 == 0
        and all(kind == KINDS[i % 2] for i, kind in enumerate(kinds))
    )
    if not expected_ok:
        raise ValidationFailed(
            "the offer must have audio, video, then (audio, video) pairs",
            code="bad_offer",
            details={"field": "sdp", "kinds": kinds},
        )
    return kinds


def bundle_candidates(sdp: str) -> str:
    """The offer with every m-line carrying every candidate of the offer. With max-bundle
    aiortc takes the bundled transport's candidates from the last m-line only, while Chromium
    lists its candidates under the first m-line (and ends the others' with
    ``a=end-of-candidates``, after which aiortc accepts no more): without this a browser
    never connects."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    candidates = list(dict.fromkeys(line for line in lines if line.startswith("a=candidate:")))
    if not candidates:
        return sdp
    out: list[str] = []
    section: list[str] = []

    def flush() -> None:
        if section and section[0].startswith("m="):
            own = [line for line in section if not line.startswith("a=candidate:")]
            tail = [line for line in own if line == "a=end-of-candidates"]
            body = [line for line in own if line != "a=end-of-candidates" and line]
            out.extend(body + candidates + tail)
        else:
            out.extend(line for line in section if line)
        section.clear()

    for line in lines:
        if line.startswith("m="):
            flush()
        section.append(line)
    flush()
    return "\r\n".join(out) + "\r\n"
