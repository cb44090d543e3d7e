"""A hearing through the real socket, the real relay and real aiortc clients: three participants
see and hear each other, the lobby, a late joiner, mute, caucus isolation proved from what
arrives, recording segments that decode and are evidence with their hashes, chat stored before
it is echoed, the call record, and the end of the hearing."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import av
import pytest

from odr.app import create_app
from odr.config import Settings
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR
from tests.realtime.hearing_setup import RoomClient, ok, open_hearing
from tests.realtime.peers import Peer, wait_for


@pytest.fixture
async def app_settings(seeded: Settings) -> Settings:
    return seeded.with_overrides(recording_segment_seconds=1.0)


@pytest.fixture
async def make(app_settings: Settings, aiohttp_server: Any, aiohttp_client: Any) -> Any:
    server = await aiohttp_server(create_app(app_settings, passwords=FAST_PASSWORDS))

    async def build() -> Any:
        return await aiohttp_client(server)

    return build


async def enter(clients: dict[str, RoomClient], mediator: RoomClient, who: str) -> RoomClient:
    """Join ``who`` (a party): it waits in the lobby until the mediator admits it."""
    client = clients[who]
    welcome = await client.connect()
    assert welcome["type"] == "welcome" and welcome["lobby"] is True
    mark = len(client.messages)
    await mediator.send({"type": "admit", "user_id": client.user_id})
    await client.next(
        lambda m: m["type"] == "notice" and m["params"] == {} and m["code"] == "admitted",
        after=mark,
    )
    return client


def video_from(receiver: RoomClient, sender: RoomClient) -> int:
    assert receiver.peer is not None and sender.user_id is not None
    return receiver.peer.slots[receiver.slot_of(sender.user_id)].video_frames


def audio_from(receiver: RoomClient, sender: RoomClient) -> int:
    assert receiver.peer is not None and sender.user_id is not None
    return receiver.peer.slots[receiver.slot_of(sender.user_id)].audio_frames


async def sees(receiver: RoomClient, sender: RoomClient, timeout: float = 8.0) -> float:
    """Seconds until ``receiver`` has decoded video and audio from ``sender``."""

    def ready() -> bool:
        state = receiver.state()
        if str(sender.user_id) not in state.get("slots", {}):
            return False
        return video_from(receiver, sender) > 0 and audio_from(receiver, sender) > 0

    return await wait_for(ready, timeout)


async def test_a_three_party_hearing(make: Any, app_settings: Settings) -> None:
    hearing_id, case_id, people = await open_hearing(make)
    clients = {
        name: RoomClient(people[name], hearing_id) for name in (MEDIATOR, CONSUMER, ANKANG_REP)
    }
    mediator, consumer, rep = clients[MEDIATOR], clients[CONSUMER], clients[ANKANG_REP]
    try:
        welcome = await mediator.connect()
        assert welcome["type"] == "welcome" and welcome["lobby"] is False
        assert welcome["you"]["side"] == "mediator"
        await mediator.media(Peer("mediator"))
        await enter(clients, mediator, CONSUMER)
        # a party in the lobby may not send media or chat
        await consumer.media(Peer("consumer"))
        await sees(mediator, consumer)
        await sees(consumer, mediator)

        # the case is in hearing now
        detail = await ok(await people[CONSUMER].get(f"/api/v1/cases/{case_id}"))
        assert detail["state"] == "in_hearing"

        # a late joiner sees everyone within about two seconds of its answer
        await enter(clients, mediator, ANKANG_REP)
        await rep.media(Peer("rep"))
        late = max([await sees(rep, mediator), await sees(rep, consumer)])
        assert late < 3.0
        await sees(mediator, rep)
        await sees(consumer, rep)
        for receiver in clients.values():
            for sender in clients.values():
                if sender is not receiver:
                    assert video_from(receiver, sender) > 0 and audio_from(receiver, sender) > 0

        # chat: stored before anyone sees it, personal numbers masked, the sender warned
        await consumer.send({"type": "chat", "client_id": "c1", "text": "请打我电话 13912345678"})
        ack = await consumer.next(lambda m: m["type"] == "chat_ack")
        assert ack["masked"] is True
        echoed = await rep.next(lambda m: m["type"] == "chat")
        assert "13912345678" not in echoed["text"]
        stored = await ok(await people[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/chat"))
        assert [m["text"] for m in stored["messages"]] == [echoed["text"]]

        # mute: the mediator mutes the consumer, who is told; nobody hears it any more
        await mediator.send({"type": "mute", "user_id": consumer.user_id, "muted": True})
        await consumer.next(lambda m: m["type"] == "notice" and m["code"] == "muted_by_mediator")
        await asyncio.sleep(0.5)
        heard = audio_from(rep, consumer)
        await asyncio.sleep(1.0)
        assert audio_from(rep, consumer) == heard
        assert video_from(rep, consumer) > 0
        # a party may not unmute someone else, but unmutes itself
        await rep.send({"type": "mute", "user_id": consumer.user_id, "muted": False})
        assert (await rep.next(lambda m: m["type"] == "error"))["code"] == "not_moderator"
        await consumer.send({"type": "mute", "user_id": consumer.user_id, "muted": False})
        await wait_for(lambda: audio_from(rep, consumer) > heard + 5, 5)

        # recording on: segments of about a second, for each participant
        await mediator.send({"type": "recording", "on": True})
        await rep.next(lambda m: m["type"] == "state" and m["recording"] is True)

        # caucus with the consumer's side: the insurer's side receives nothing from it, and
        # its own media does not reach the caucus
        await mediator.send({"type": "caucus", "side": "consumer"})
        notice = await rep.next(lambda m: m["type"] == "notice" and m["code"] == "caucus_excluded")
        assert notice["params"] == {"side": "consumer"}
        await asyncio.sleep(0.5)
        rep_slots_before = [(s.video_frames, s.audio_frames) for s in rep.peer.slots]
        mediator_from_rep = rep.peer and mediator.peer.slots
        seen_by_mediator = sum(s.video_frames + s.audio_frames for s in mediator_from_rep)
        consumer_got = video_from(consumer, mediator)
        await asyncio.sleep(1.5)
        assert [(s.video_frames, s.audio_frames) for s in rep.peer.slots] == rep_slots_before
        assert video_from(consumer, mediator) > consumer_got + 10
        assert str(rep.user_id) not in mediator.state()["slots"]
        assert str(rep.user_id) not in consumer.state()["slots"]
        assert sum(s.video_frames + s.audio_frames for s in mediator.peer.slots) > seen_by_mediator
        # the caucus chat stays with its side
        await mediator.send({"type": "chat", "client_id": "m1", "text": "私下说：可以考虑八成"})
        await consumer.next(lambda m: m["type"] == "chat" and m["text"].startswith("私下"))
        await asyncio.sleep(0.3)
        assert not any(m["type"] == "chat" and m["text"].startswith("私下") for m in rep.messages)
        rep_chat = await ok(await people[ANKANG_REP].get(f"/api/v1/hearings/{hearing_id}/chat"))
        assert all(not m["text"].startswith("私下") for m in rep_chat["messages"])

        await mediator.send({"type": "caucus", "side": None})
        await rep.next(lambda m: m["type"] == "notice" and m["code"] == "caucus_ended")
        await sees(rep, mediator)
        await wait_for(
            lambda: video_from(rep, consumer) > rep_slots_before[rep.slot_of(consumer.user_id)][0],
            5,
        )

        await asyncio.sleep(1.5)  # at least one closed segment each
        await mediator.send({"type": "recording", "on": False})
        await rep.next(lambda m: m["type"] == "state" and m["recording"] is False)

        # end: everyone is told, the socket closes, the records are evidence
        await mediator.send({"type": "end"})
        for client in (consumer, rep):
            await client.next(lambda m: m["type"] == "notice" and m["code"] == "hearing_ended")
    finally:
        for client in clients.values():
            await client.close()

    recordings = (
        await ok(await people[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/recordings"))
    )["recordings"]
    assert {r["user_id"] for r in recordings} == {c.user_id for c in clients.values()}
    evidence = (await ok(await people[MEDIATOR].get(f"/api/v1/cases/{case_id}/evidence")))["items"]
    by_hash = {e["sha256"]: e for e in evidence}
    for r in recordings:
        path = app_settings.recordings_dir / str(hearing_id) / r["file"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert by_hash[r["sha256"]]["kind"] == "recording"
        assert decodes(path)
    kinds = {e["kind"] for e in evidence}
    assert {"recording", "chat_transcript", "call_record"} <= kinds
    # the transcript people read: each line at its local time, to the second, no UTC offset
    [chat] = [e for e in evidence if e["kind"] == "chat_transcript"]
    url = f"/api/v1/cases/{case_id}/evidence/{chat['sequence']}/content"
    transcript = (await (await people[MEDIATOR].get(url)).read()).decode()
    zh, en = (
        r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2}",
        r"\w{3} \d{1,2}, \d{4}, [\d:]{7,8}\W[AP]M",
    )
    stamp = rf"\[({zh}|{en})\] "
    assert all(re.match(stamp, line) for line in transcript.splitlines()), transcript
    assert "+00:00" not in transcript
    record = await ok(await people[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/call-record"))
    kinds_logged = [e["kind"] for e in record["entries"]]
    for kind in (
        "join",
        "admit",
        "mute",
        "unmute",
        "recording_on",
        "caucus_start",
        "caucus_end",
        "recording_off",
        "end",
    ):
        assert kind in kinds_logged
    assert all(p["seconds"] > 0 for p in record["participants"])
    detail = await ok(await people[CONSUMER].get(f"/api/v1/cases/{case_id}"))
    assert detail["state"] == "hearing_scheduled"  # the hearing ended; the case goes on


def decodes(path: Path) -> bool:
    """Every packet of every stream decodes, and there is video."""
    frames = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return frames > 0


async def test_the_parties_read_the_minutes_on_the_case_page(make: Any) -> None:
    hearing_id, case_id, people = await open_hearing(make)
    mediator = RoomClient(people[MEDIATOR], hearing_id)
    try:
        await mediator.connect()  # the mediator's arrival starts the hearing
        resp = await people[MEDIATOR].client.put(
            f"/api/v1/hearings/{hearing_id}/minutes",
            json={"text": "双方陈述了各自意见。保险公司同意重新审核。"},
            headers={"X-CSRF-Token": people[MEDIATOR].token},
        )
        assert resp.status == 200, await resp.text()
        refused = await people[CONSUMER].client.put(
            f"/api/v1/hearings/{hearing_id}/minutes",
            json={"text": "改写"},
            headers={"X-CSRF-Token": people[CONSUMER].token},
        )
        assert refused.status == 403
    finally:
        await mediator.close()
    for who in (CONSUMER, ANKANG_REP):
        page = await (await people[who].get(f"/cases/{case_id}")).text()
        assert "保险公司同意重新审核" in page
        minutes = await ok(await people[who].get(f"/api/v1/hearings/{hearing_id}/minutes"))
        assert minutes["text"].startswith("双方陈述")
