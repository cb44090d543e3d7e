"""The forwarding relay with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from odr.domain.errors import ValidationFailed
from signaling.media import AIORTC_PRIVATE_NAMES, FrameAssembler
from signaling.relay import Relay
from tests.realtime.peers import Peer, wait_for

MakePeer = Callable[..., Peer]


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    relay = Relay(slots=3)
    yield relay
    await relay.close()


@pytest.fixture
async def make_peer() -> AsyncIterator[MakePeer]:
    made: list[Peer] = []

    def make(name: str, **options: Any) -> Peer:
        options.setdefault("slots", 3)
        peer = Peer(name, **options)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()


async def hearing(relay: Relay, peers: list[Peer]) -> None:
    """Join everyone and show everyone the others, in join order."""
    for peer in peers:
        await peer.join(relay.connect)
    for peer in peers:
        relay.show(peer.name, [(p.name, True, True) for p in peers if p is not peer])


def frames(peer: Peer, slot: int) -> tuple[int, int]:
    return peer.slots[slot].video_frames, peer.slots[slot].audio_frames


async def test_three_participants_see_and_hear_each_other(
    relay: Relay, make_peer: MakePeer
) -> None:
    peers = [make_peer(name) for name in ("mediator", "consumer", "insurer")]
    await hearing(relay, peers)

    await wait_for(lambda: all(p.slots[i].video_frames >= 30 for p in peers for i in (0, 1)))
    for peer in peers:
        for slot in (0, 1):
            assert peer.slots[slot].video_size == (320, 240)  # decoded VP8
            assert peer.slots[slot].audio_frames > 20  # decoded Opus
        assert peer.slots[2].video_frames == peer.slots[2].audio_frames == 0  # unused slot

    # every frame sent is delivered on loopback: stop the sources, let the pipes drain
    for peer in peers:
        assert peer.video_source and peer.audio_source
        peer.video_source.paused = peer.audio_source.paused = True
    await asyncio.sleep(0.3)
    stats = relay.stats()["participants"]
    for peer in peers:
        assert peer.video_source and peer.audio_source
        mine = stats[peer.name]
        sent_video, sent_audio = peer.video_source.frames_sent, peer.audio_source.frames_sent
        assert mine["received"]["video"] >= sent_video - 1
        assert mine["received"]["audio"] >= sent_audio - 2
        # two subscribers each get every frame (video from the first keyframe on)
        assert mine["forwarded"]["video"] >= 2 * (sent_video - 2)
        assert mine["forwarded"]["audio"] >= 2 * (sent_audio - 5)
        assert mine["dropped"]["audio"] == 0
        assert sum(mine["delivered"].values()) > 0


async def test_late_joiner_sees_everyone_within_two_seconds(
    relay: Relay, make_peer: MakePeer
) -> None:
    early = [make_peer("mediator"), make_peer("consumer")]
    await hearing(relay, early)
    await wait_for(lambda: all(p.slots[0].video_frames > 10 for p in early))

    late = make_peer("insurer")
    names = [p.name for p in early]
    relay.show(late.name, [(n, True, True) for n in names])  # remembered before it connects
    for peer in early:
        relay.show(peer.name, [(p.name, True, True) for p in [*early, late] if p is not peer])
    started = time.monotonic()
    await late.join(relay.connect)
    await wait_for(lambda: all(late.slots[i].video_frames > 0 for i in (0, 1)), timeout=4)
    for slot in late.slots[:2]:
        assert slot.first_video_at is not None
        assert slot.first_video_at - started < 2.0
    # and the early ones see the late joiner (slot 1, kept stable)
    await wait_for(lambda: all(p.slots[1].video_frames > 0 for p in early), timeout=2)


async def test_show_removes_and_switches_publishers(relay: Relay, make_peer: MakePeer) -> None:
    a, b, c = make_peer("a"), make_peer("b"), make_peer("c")
    await hearing(relay, [a, b, c])
    await wait_for(lambda: min(frames(c, 0) + frames(c, 1)) > 10)

    # caucus-like isolation: c no longer receives b (slot 1); a keeps its slot 0
    assert relay.show("c", [("a", True, True)]) == {"a": 0}
    await asyncio.sleep(0.3)
    frozen = frames(c, 1)
    flowing = frames(c, 0)
    # while slot 0 delivers more (however slowly a busy machine runs), slot 1 stays frozen
    await wait_for(lambda: frames(c, 0)[0] > flowing[0] + 10 and frames(c, 0)[1] > flowing[1] + 20)
    assert frames(c, 1) == frozen

    # mute: audio off, video on
    assert relay.show("c", [("a", False, True)]) == {"a": 0}
    await asyncio.sleep(0.3)
    video, audio = frames(c, 0)
    await wait_for(lambda: frames(c, 0)[0] > video + 10)
    assert frames(c, 0)[1] == audio

    # slot 0 changes source from a to b: b is asked for a keyframe and the video goes on
    assert b.video_source is not None
    requests = b.video_source.keyframe_requests
    assert relay.show("c", [("b", True, True)]) == {"b": 0}
    await wait_for(
        lambda: b.video_source is not None and b.video_source.keyframe_requests > requests
    )
    video = frames(c, 0)[0]
    await wait_for(lambda: frames(c, 0)[0] > video + 10)

    # nothing shown at all
    relay.show("c", [])
    await asyncio.sleep(0.3)
    before = frames(c, 0)
    await asyncio.sleep(0.5)
    assert frames(c, 0) == before


async def test_keyframe_on_attach_of_subscriber_and_tap(relay: Relay, make_peer: MakePeer) -> None:
    publisher, viewer = make_peer("publisher"), make_peer("viewer")
    await publisher.join(relay.connect)
    await viewer.join(relay.connect)
    source = publisher.video_source
    assert source is not None
    await wait_for(lambda: relay.stats()["participants"]["publisher"]["received"]["video"] > 20)
    assert source.keyframe_requests == 0  # nobody watches: its only keyframe went nowhere

    relay.show("viewer", [("publisher", True, True)])
    await wait_for(lambda: source.keyframe_requests == 1)
    await wait_for(lambda: viewer.slots[0].video_frames > 5)

    got: list[tuple[str, av.Packet[Any]]] = []
    detach = relay.tap("publisher", lambda kind, packet: got.append((kind, packet)))
    await wait_for(lambda: source.keyframe_requests == 2, timeout=2)
    await wait_for(lambda: sum(kind == "video" for kind, _ in got) > 10)
    detach()
    video = [p for kind, p in got if kind == "video"]
    audio = [p for kind, p in got if kind == "audio"]
    assert video[0].is_keyframe and not video[-1].is_keyframe
    assert all(p.time_base.denominator == 90000 for p in video)
    assert all(p.time_base.denominator == 48000 for p in audio) and audio
    pts = [p.pts for p in video]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(pts))
    count = len(got)
    await asyncio.sleep(0.2)
    assert len(got) == count  # detached


async def test_watchdog_asks_keyframe_when_a_publisher_stalls(
    relay: Relay, make_peer: MakePeer
) -> None:
    publisher, viewer = make_peer("publisher"), make_peer("viewer")
    await hearing(relay, [publisher, viewer])
    source = publisher.video_source
    assert source is not None
    await wait_for(lambda: viewer.slots[0].video_frames > 10)
    requests = source.keyframe_requests

    source.paused = True
    await asyncio.sleep(0.3)
    assert source.keyframe_requests == requests  # not yet: < 500 ms
    await wait_for(lambda: source.keyframe_requests > requests, timeout=1.0)
    await asyncio.sleep(1.0)
    # throttled: at most one PLI per 500 ms
    assert source.keyframe_requests - requests <= 4
    source.paused = False
    frames_before = viewer.slots[0].video_frames
    await wait_for(lambda: viewer.slots[0].video_frames > frames_before + 5)


async def test_vanished_participant_is_released_and_reported(
    relay: Relay, make_peer: MakePeer
) -> None:
    gone: list[str] = []

    async def on_gone(name: str) -> None:
        gone.append(name)

    relay.on_gone(on_gone)
    a, b = make_peer("a"), make_peer("b")
    await hearing(relay, [a, b])
    await wait_for(lambda: b.slots[0].video_frames > 5)

    await a.pc.close()  # the browser tab closed: no disconnect() from the room
    await wait_for(lambda: gone == ["a"], timeout=5)
    assert "a" not in relay.stats()["participants"]
    assert relay.stats()["connections"] == 1
    # an explicit disconnect is not reported
    await relay.disconnect("b")
    await relay.disconnect("b")  # idempotent
    await asyncio.sleep(0.3)
    assert gone == ["a"]
    assert relay.stats()["connections"] == 0


async def test_reconnect_replaces_the_old_connection(relay: Relay, make_peer: MakePeer) -> None:
    gone: list[str] = []
    relay.on_gone(gone.append)
    a, b = make_peer("a"), make_peer("b")
    await hearing(relay, [a, b])
    await wait_for(lambda: b.slots[0].video_frames > 5)

    again = make_peer("a")
    await again.join(relay.connect)
    assert relay.stats()["connections"] == 2
    video = b.slots[0].video_frames
    await wait_for(lambda: b.slots[0].video_frames > video + 10)  # b sees the new a
    await wait_for(lambda: again.slots[0].video_frames > 5)  # which keeps its view of b
    await asyncio.sleep(0.2)
    assert gone == []


async def test_trickled_candidates(relay: Relay, make_peer: MakePeer) -> None:
    a, b = make_peer("a"), make_peer("b")
    await b.join(relay.connect)
    relay.show("b", [("a", True, True)])
    offer = await a.offer()
    lines = offer.splitlines()
    candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
    assert candidates
    trickled = ("a=candidate:", "a=end-of-candidates")
    stripped = "\r\n".join(line for line in lines if not line.startswith(trickled)) + "\r\n"
    await a.accept(await relay.connect("a", stripped))
    for candidate in candidates:
        await relay.add_ice_candidate("a", {"candidate": candidate, "sdpMid": "0"})
    await relay.add_ice_candidate("a", None)
    await wait_for(lambda: b.slots[0].video_frames > 5)


async def test_candidates_on_the_first_m_line_only_as_chromium_sends_them(
    relay: Relay, make_peer: MakePeer
) -> None:
    """Chromium bundles every m-line and lists its candidates under the first one only."""
    a, b = make_peer("a"), make_peer("b")
    await b.join(relay.connect)
    relay.show("b", [("a", True, True)])
    sections = (await a.offer()).split("\r\nm=")
    kept = [sections[0], sections[1]] + [
        "\r\n".join(line for line in section.split("\r\n") if not line.startswith("a=candidate:"))
        for section in sections[2:]
    ]
    assert all("a=end-of-candidates" in section for section in kept[1:])
    await a.accept(await relay.connect("a", "\r\nm=".join(kept)))
    await wait_for(lambda: b.slots[0].video_frames > 5)


async def test_bad_input_is_refused(relay: Relay) -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    with pytest.raises(ValidationFailed) as caught:
        await relay.connect("x", pc.localDescription.sdp)  # video first: not our layout
    assert caught.value.code == "bad_offer"
    await pc.close()
    with pytest.raises(ValidationFailed):
        relay.show("x", [("a", True, True)] * 2)
    with pytest.raises(ValidationFailed):
        relay.show("x", [(str(i), True, True) for i in range(4)])  # 3 slots
    assert relay.stats()["connections"] == 0


def resources() -> dict[str, int]:
    gc.collect()
    return {
        "peer_connections": sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects()),
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "fds": len(os.listdir("/proc/self/fd")),
    }


async def test_hundred_join_leave_cycles_leak_nothing(relay: Relay, make_peer: MakePeer) -> None:
    host = make_peer("host")
    await host.join(relay.connect)

    async def cycle(index: int) -> None:
        name = f"guest{index % 4}"
        guest = Peer(name, slots=3, decode=False)
        relay.show(name, [("host", True, True)])
        relay.show("host", [(name, True, True)])
        await guest.join(relay.connect)
        await wait_for(lambda: guest.slots[0].video_frames > 0, timeout=5)
        await relay.disconnect(name)
        await guest.close()

    async def cycles(start: int, count: int, parallel: int = 4) -> None:
        for first in range(start, start + count, parallel):
            await asyncio.gather(*(cycle(i) for i in range(first, first + parallel)))

    await cycles(0, 8)  # warm-up: codecs, caches, executor threads
    await asyncio.sleep(0.5)
    before = resources()
    await cycles(8, 100)
    relay.show("host", [])
    await asyncio.sleep(0.5)
    after = resources()
    assert relay.stats()["connections"] == 1
    assert after["peer_connections"] <= before["peer_connections"]
    assert after["tasks"] <= before["tasks"] + 2
    assert after["threads"] <= before["threads"] + 1
    assert after["fds"] <= before["fds"] + 2
    assert host.slots[0].video_frames > 50  # the cycles really carried media


def test_private_aiortc_names_still_exist() -> None:
    """The relay uses private aiortc names (aiortc==1.16.0 is pinned); fail loudly if any is
    gone after an upgrade."""
    import aiortc

    assert aiortc.__version__ == "1.16.0"
    for cls, names in AIORTC_PRIVATE_NAMES.items():
        source = _source(cls)
        for name in names:
            mangled = f"_{cls.__name__}__"
            if name.startswith(mangled):
                assert f"self.__{name[len(mangled) :]}" in source, f"{cls.__name__}.{name} is gone"
            else:
                assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name} is gone"
    # the jitter buffer interface the receiver calls
    assert "self.__jitter_buffer.add(packet)" in _source(RTCRtpReceiver)
    assert "encoded_frame is not None and self.__decoder_thread" in _source(RTCRtpReceiver)
    # a subscriber's PLI/FIR ends in _send_keyframe; packets go to encoder.pack
    assert "self._send_keyframe()" in _source(RTCRtpSender)
    assert "self.__encoder.pack(data)" in _source(RTCRtpSender)


def _source(cls: type) -> str:
    import inspect

    return inspect.getsource(cls)


def rtp(seq: int, ts: int, data: bytes, *, start: bool, marker: bool) -> RtpPacket:
    """A depayloaded VP8 RTP packet as the receiver hands it to its jitter buffer."""
    packet = RtpPacket(payload_type=97, sequence_number=seq & 0xFFFF, timestamp=ts, ssrc=7)
    packet.marker = int(marker)
    packet.payload = bytes([0x10 if start else 0x00]) + data  # VP8 descriptor: S bit
    packet._data = data  # type: ignore[attr-defined]
    return packet


def test_frame_assembler_reorders_and_recovers_from_loss_on_a_keyframe() -> None:
    frames: list[tuple[bytes, int]] = []
    losses: list[int] = []
    assembler = FrameAssembler(
        "video", lambda kind, data, ts, ssrc: frames.append((data, ts)), losses.append
    )
    key, inter = b"\x00key", b"\x01int"  # bit 0 of the first byte: 0 = keyframe
    # frame 1 (keyframe, 2 packets, arriving out of order), frame 2 (one packet)
    for packet in (
        rtp(65534, 1000, key, start=True, marker=False),
        rtp(0, 4000, inter, start=True, marker=True),  # frame 2 before the end of frame 1
        rtp(65535, 1000, b"+", start=False, marker=True),
    ):
        assert assembler.add(packet) == (False, None)
    assert frames == [(key + b"+", 1000), (inter, 4000)]  # across the sequence wrap

    # packet 1 (frame 3) is lost for good: frames after it wait, then are dropped until a
    # keyframe, and the loss is reported once
    seq, ts = 2, 7000
    for _ in range(12):
        assembler.add(rtp(seq, ts, inter, start=True, marker=True))
        seq, ts = seq + 1, ts + 3000
    assert frames[2:] == []
    assert losses == [7]
    assembler.add(rtp(seq, ts, key, start=True, marker=True))
    assembler.add(rtp(seq + 1, ts + 3000, inter, start=True, marker=True))
    assert frames[2:] == [(key, ts), (inter, ts + 3000)]
