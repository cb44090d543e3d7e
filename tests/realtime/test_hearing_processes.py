"""Hearings on real server processes: a server killed (-9) mid-hearing loses at most the open
recording segment and no acknowledged chat message; two nodes share one hearing, its media
pinned to the node holding the lease, signalling from the other node forwarded over Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from redis.asyncio import Redis
from yarl import URL

from tests.conftest import fresh_redis, postgres_database
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, Session
from tests.realtime.hearing_setup import RoomClient, ok, open_hearing
from tests.realtime.peers import Peer, wait_for

ODR = [sys.executable, "-m", "odr.cli"]

pytestmark = pytest.mark.timeout(600)  # server processes started, migrated and killed


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODR_")}
    return {
        **clean,
        "ODR_VAR_DIR": str(tmp_path / "var"),
        "ODR_DATABASE_URL": database_url,
        "ODR_SECRET_KEY": "k" * 40,
        "ODR_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "ODR_STORAGE_DIR": str(tmp_path / "evidence"),
        "ODR_MEDIA_ADDRESSES": "127.0.0.1",
        "ODR_RECORDING_SEGMENT_SECONDS": "1",
        "ODR_LOG_LEVEL": "WARNING",
    }


def prepare(env: dict[str, str]) -> None:
    for command in (["migrate"], ["demo"]):
        subprocess.run([*ODR, *command], env=env, check=True, capture_output=True, timeout=120)


class Node:
    """One `odr serve` process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "ODR_PORT": str(self.port), "ODR_PUBLIC_URL": self.url}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([*ODR, "serve"], env=self.env, stdout=out, stderr=out)
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@asynccontextmanager
async def browsers() -> AsyncIterator[Callable[[str], Any]]:
    """``make(url)``: a new cookie-keeping HTTP client for a server (one per person)."""
    sessions: list[aiohttp.ClientSession] = []

    def make(url: str) -> Any:
        async def build() -> aiohttp.ClientSession:
            session = aiohttp.ClientSession(base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True))
            sessions.append(session)
            return session

        return build

    try:
        yield make
    finally:
        for session in sessions:
            await session.close()


def plays(path: Path) -> int:
    """How many video frames the file decodes to (every packet must decode)."""
    frames = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return frames


async def admitted(mediator: RoomClient, party: RoomClient) -> None:
    assert (await party.connect())["type"] == "welcome"
    mark = len(party.messages)
    await mediator.send({"type": "admit", "user_id": party.user_id})
    await party.next(lambda m: m["type"] == "notice" and m["code"] == "admitted", after=mark)


async def test_kill_minus_nine_mid_hearing_keeps_closed_segments_and_acknowledged_chat(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'odr.sqlite3'}")
    prepare(env)
    node = Node(env, tmp_path / "node.log")
    await node.start()
    clients: list[RoomClient] = []
    try:
        async with browsers() as make:
            hearing_id, _, people = await open_hearing(make(node.url))
            mediator = RoomClient(people[MEDIATOR], hearing_id)
            consumer = RoomClient(people[CONSUMER], hearing_id)
            clients += [mediator, consumer]
            await mediator.connect()
            await admitted(mediator, consumer)
            await mediator.media(Peer("mediator"))
            await consumer.media(Peer("consumer"))
            await wait_for(lambda: str(consumer.user_id) in mediator.state()["slots"], 8)
            await mediator.send({"type": "recording", "on": True})
            acknowledged = []
            for i in range(12):
                await consumer.send({"type": "chat", "client_id": f"k{i}", "text": f"消息 {i}"})
                ack = await consumer.next(lambda m, i=i: m.get("client_id") == f"k{i}")
                acknowledged.append(ack["id"])
                await asyncio.sleep(0.25)
            folder = tmp_path / "recordings" / str(hearing_id)
            await wait_for(lambda: len(list(folder.glob("*.webm"))) >= 4, 10)
            node.kill()
            for client in clients:
                await client.close()

            closed = sorted(folder.glob("*.webm"))
            assert len(closed) >= 4
            assert len(list(folder.glob("*.part"))) <= 2  # one open segment per participant
            for path in closed:
                assert plays(path) > 0, path

            # the node comes back: every acknowledged message is there, every closed segment is
            # in the evidence (entered at start if the crash came between closing and entering)
            await node.start()
            reader = RoomClient(people[MEDIATOR], hearing_id)
            chat = await ok(await people[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/chat"))
            assert set(acknowledged) <= {m["id"] for m in chat["messages"]}
            listed = await ok(
                await people[MEDIATOR].get(f"/api/v1/hearings/{hearing_id}/recordings")
            )
            assert {r["file"] for r in listed["recordings"]} == {p.name for p in closed}
            await reader.close()
    finally:
        node.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_nodes_share_a_hearing_through_redis(tmp_path: Path) -> None:
    redis_url = await fresh_redis()
    async with postgres_database() as database_url:
        env = {**base_env(tmp_path, database_url), "ODR_REDIS_URL": redis_url}
        env["ODR_JOBS_IN_PROCESS"] = "false"
        prepare(env)
        one, two = Node(env, tmp_path / "one.log"), Node(env, tmp_path / "two.log")
        await one.start()
        await two.start()
        clients: list[RoomClient] = []
        try:
            async with browsers() as make:
                hearing_id, _, people = await open_hearing(make(one.url))
                # the insurer's rep comes in through the other node, with the same login
                # session (sessions live in Redis, so either node knows it)
                elsewhere = await make(two.url)()
                elsewhere.cookie_jar.update_cookies(
                    people[ANKANG_REP].client.cookie_jar.filter_cookies(URL(one.url))
                )
                on_one = people
                on_two = {ANKANG_REP: Session(elsewhere, people[ANKANG_REP].token)}
                mediator = RoomClient(on_one[MEDIATOR], hearing_id)
                consumer = RoomClient(on_one[CONSUMER], hearing_id)
                rep = RoomClient(on_two[ANKANG_REP], hearing_id)
                clients += [mediator, consumer, rep]
                await mediator.connect()
                redis = Redis.from_url(redis_url)
                holder = await redis.get(f"odr:hearing-node:{hearing_id}")
                await redis.aclose()
                assert holder is not None  # the hearing is pinned to the first node
                await admitted(mediator, consumer)
                await admitted(mediator, rep)  # its socket is on the other node
                for client, name in ((mediator, "m"), (consumer, "c"), (rep, "r")):
                    await client.media(Peer(name))
                for receiver in clients:
                    for sender in clients:
                        if sender is receiver:
                            continue

                        def got(r: RoomClient = receiver, s: RoomClient = sender) -> bool:
                            slots = r.state().get("slots", {})
                            if str(s.user_id) not in slots:
                                return False
                            slot = r.peer.slots[int(slots[str(s.user_id)])]
                            return slot.video_frames > 0 and slot.audio_frames > 0

                        await wait_for(got, 10)
                # chat from the other node reaches everyone and is stored once
                await rep.send({"type": "chat", "client_id": "x1", "text": "第二个节点"})
                await mediator.next(lambda m: m["type"] == "chat" and m["text"] == "第二个节点")
                await rep.next(lambda m: m["type"] == "chat_ack")
        finally:
            for client in clients:
                await client.close()
            one.stop()
            two.stop()
