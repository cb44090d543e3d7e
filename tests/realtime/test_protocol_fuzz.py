"""The hearing socket under random and mangled messages, through real sockets of a running app.

Every client message type, valid and then mutated (fields of the wrong type, huge numbers,
unicode and control characters, deep nesting, missing and extra fields), non-object JSON, text
that is not JSON and binary frames are sent to the socket of a participant who has joined (the
admitted consumer, and the mediator) and as the first message of a fresh socket. After join the
server answers each one (a message, or an ``error`` with a stable code when the message is bad),
the socket stays open (a ping afterwards gets a pong) and nothing is logged as an error. Before
join every first message that is not a valid join is refused with a coded ``error`` and a clean
close (4401); the server goes on welcoming a good join afterwards.

Hypothesis runs in a worker thread; each example is a coroutine run on the test's event loop,
where the app and the sockets live.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from aiohttp import WSMsgType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odr.app import create_app
from odr.config import Settings
from signaling import protocol, ws
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import CONSUMER, MEDIATOR
from tests.realtime.hearing_setup import RoomClient, ok, open_hearing

AFTER_JOIN_EXAMPLES = 200
BEFORE_JOIN_EXAMPLES = 100

#: Every code the socket answers a refused message with; anything else is a new, unplanned one.
STABLE_CODES = frozenset(
    {"message_too_large", "malformed_message", "invalid_message", "unknown_message"}
    | {"join_first", "unsupported_version", "consent_required", "invalid_join_token"}
    | {"join_token_expired", "already_joined", "rate_limited", "in_lobby", "not_moderator"}
    | {"not_in_lobby", "unknown_participant", "bad_offer", "bad_candidate", "not_connected"}
    | {"chat_busy", "forbidden", "too_many_publishers", "validation_failed"}
)
CLOSE_REFUSED = 4401


@pytest.fixture
async def make(seeded: Settings, aiohttp_server: Any, aiohttp_client: Any) -> Any:
    server = await aiohttp_server(create_app(seeded, passwords=FAST_PASSWORDS))

    async def build() -> Any:
        return await aiohttp_client(server)

    return build


# --- messages ----------------------------------------------------------------------------------

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def bases(ids: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    """One valid message of every client type, with plausible values."""
    user = st.sampled_from([*ids, 0, 99_999])
    text = st.text(min_size=1, max_size=40)
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("join"), "v": st.just(1), "token": st.text(max_size=60)},
            optional={"consent_recording": st.booleans()},
        ),
        st.fixed_dictionaries({"type": st.just("offer"), "sdp": st.just(SDP) | text}),
        st.fixed_dictionaries(
            {
                "type": st.just("ice"),
                "candidate": st.none()
                | st.fixed_dictionaries(
                    {"candidate": st.just("candidate:1 1 udp 1 127.0.0.1 9 typ host") | text},
                    optional={"sdpMid": st.just("0") | text, "sdpMLineIndex": st.integers(0, 3)},
                ),
            }
        ),
        st.fixed_dictionaries(
            {"type": st.just("chat"), "client_id": st.text(min_size=1, max_size=64), "text": text}
        ),
        st.fixed_dictionaries({"type": st.just("mute"), "user_id": user, "muted": st.booleans()}),
        st.fixed_dictionaries(
            {"type": st.just("devices"), "audio": st.booleans(), "video": st.booleans()}
        ),
        st.fixed_dictionaries(
            {"type": st.just("caucus"), "side": st.sampled_from([None, "consumer", "insurer"])}
        ),
        st.fixed_dictionaries({"type": st.just("recording"), "on": st.booleans()}),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["admit", "deny", "remove"]), "user_id": user}
        ),
        st.fixed_dictionaries({"type": st.sampled_from(["leave", "end", "ping"])}),
    )  # fmt: skip


JSON_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
WRONG = st.one_of(
    JSON_ANY,
    st.integers(min_value=2**63, max_value=10**40),
    st.sampled_from([-1, 0, True, "", "1", [], {}, 1.5, 1e308]),
    st.text(min_size=1, max_size=3).map(lambda t: t * 700),  # long unicode
    st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=4),  # control characters
    st.integers(min_value=1, max_value=60).map(lambda n: json.loads("[" * n + "]" * n)),
)


@st.composite
def mutated(draw: st.DrawFn, ids: list[int]) -> dict[str, Any]:
    message = dict(draw(bases(ids)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        how = draw(st.sampled_from(["set", "drop", "extra", "type"]))
        keys = sorted(message)
        if how == "set" and keys:
            message[draw(st.sampled_from(keys))] = draw(WRONG)
        elif how == "drop" and keys:
            message.pop(draw(st.sampled_from(keys)))
        elif how == "extra":
            message[draw(st.text(max_size=10))] = draw(WRONG)
        elif how == "type":
            message["type"] = draw(WRONG | st.sampled_from(sorted(protocol.CLIENT_TYPES)))
    return message


def frames(ids: list[int]) -> st.SearchStrategy[str | bytes]:
    """What a client may put in one frame."""
    return st.one_of(
        bases(ids).map(json.dumps),
        mutated(ids).map(lambda m: json.dumps(m, ensure_ascii=False)),
        JSON_ANY.map(json.dumps),  # non-object JSON, objects without a type
        st.text(max_size=200),  # mostly not JSON
        st.binary(max_size=200),
        st.integers(min_value=30, max_value=5000).map(lambda n: "[" * n),
        st.sampled_from(['{"type": "ping"', '{"type": "ping"}}', "\ufeff{}", "null", '""']),
        st.integers(min_value=protocol.MAX_MESSAGE_BYTES - 20, max_value=ws.MAX_FRAME // 2).map(
            lambda n: json.dumps({"type": "chat", "client_id": "a", "text": "x" * n})
        ),
    )


# --- what a good answer is ---------------------------------------------------------------------


def refused_locally(frame: str | bytes) -> bool:
    """Whether the protocol itself refuses the frame (the server must then answer an error)."""
    if isinstance(frame, bytes):
        return True
    try:
        protocol.parse(frame)
    except protocol.ProtocolError:
        return True
    return False


def ends_the_session(frame: str | bytes, present: set[int]) -> bool:
    """A valid message whose documented effect is to close a socket of the room: leave, end,
    and deny or remove of someone present. Those are not fuzz material here."""
    if refused_locally(frame):
        return False
    message = protocol.parse(frame)
    if isinstance(message, protocol.Leave | protocol.End):
        return True
    return isinstance(message, protocol.Deny | protocol.Remove) and message.user_id in present


def assert_coded(replies: list[dict[str, Any]]) -> None:
    for reply in replies:
        assert isinstance(reply.get("type"), str), reply
        if reply["type"] == "error":
            assert reply["code"] in STABLE_CODES, reply
            assert isinstance(reply["message"], str) and isinstance(reply["details"], dict)


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad[:3]]


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@pytest.mark.timeout(180)
async def test_every_message_after_join_is_answered_and_the_socket_stays_open(
    make: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the limit on messages per second is tested elsewhere; here it would only answer
    # rate_limited to the fuzz, so it is lifted
    monkeypatch.setattr(ws, "RATE", 10_000.0)
    monkeypatch.setattr(ws, "BURST", 10_000)
    caplog.set_level(logging.WARNING)
    hearing_id, _, people = await open_hearing(make)
    mediator = RoomClient(people[MEDIATOR], hearing_id)
    consumer = RoomClient(people[CONSUMER], hearing_id)
    loop = asyncio.get_running_loop()
    counts = {"sent": 0, "errors": 0, "skipped": 0}
    try:
        assert (await mediator.connect())["type"] == "welcome"
        assert (await consumer.connect())["type"] == "welcome"
        await mediator.send({"type": "admit", "user_id": consumer.user_id})
        await consumer.next(lambda m: m["type"] == "notice" and m["code"] == "admitted")
        assert mediator.user_id is not None and consumer.user_id is not None
        present = {mediator.user_id, consumer.user_id}
        clients = {"consumer": consumer, "mediator": mediator}

        async def one(who: str, frame: str | bytes) -> None:
            client = clients[who]
            mark = len(client.messages)
            if isinstance(frame, bytes):
                await client.ws.send_bytes(frame)
            else:
                await client.ws.send_str(frame)
            await client.send({"type": "ping"})
            await client.next(lambda m: m["type"] == "pong", after=mark, timeout=10)
            replies = client.messages[mark:]
            assert_coded(replies)
            if refused_locally(frame):
                assert any(r["type"] == "error" for r in replies), (frame, replies)
                counts["errors"] += 1
            assert not client.ws.closed, client.ws.close_code
            counts["sent"] += 1

        @settings(
            max_examples=AFTER_JOIN_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(who=st.sampled_from(["consumer", "mediator"]), frame=frames(sorted(present)))
        def check(who: str, frame: str | bytes) -> None:
            if ends_the_session(frame, present):
                counts["skipped"] += 1
                return
            asyncio.run_coroutine_threadsafe(one(who, frame), loop).result(timeout=30)

        started = time.monotonic()
        await asyncio.to_thread(check)
        elapsed = time.monotonic() - started
        print(f"after join: {counts} in {elapsed:.1f} s")
        # both still in the room, and the room still works: a chat goes through
        await consumer.send({"type": "chat", "client_id": "after-fuzz", "text": "还在"})
        await consumer.next(lambda m: m["type"] == "chat_ack" and m["client_id"] == "after-fuzz")
    finally:
        await consumer.close()
        await mediator.close()
    await left_the_room(people[MEDIATOR], hearing_id, 2)
    no_errors_logged(caplog)


async def left_the_room(session: Any, hearing_id: int, count: int) -> None:
    """Wait until the room has written the leaves of the closed sockets (so that no write to
    the database is still under way when the app stops)."""
    deadline = time.monotonic() + 10
    while True:
        record = await ok(await session.get(f"/api/v1/hearings/{hearing_id}/call-record"))
        if [e["kind"] for e in record["entries"]].count("leave") >= count:
            return
        assert time.monotonic() < deadline, record["entries"][-5:]
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@pytest.mark.timeout(180)
async def test_every_bad_first_message_is_refused_with_a_code_and_a_clean_close(
    make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    hearing_id, _, people = await open_hearing(make)
    consumer = people[CONSUMER]
    me = await ok(await consumer.get("/api/v1/me"))
    loop = asyncio.get_running_loop()
    counts = {"refused": 0}

    async def first(frame: str | bytes) -> None:
        socket = await consumer.client.ws_connect(f"/ws/hearings/{hearing_id}")
        try:
            if isinstance(frame, bytes):
                await socket.send_bytes(frame)
            else:
                await socket.send_str(frame)
            reply = await socket.receive(timeout=10)
            assert reply.type is WSMsgType.TEXT, reply
            answer = json.loads(reply.data)
            assert answer["type"] == "error", answer
            assert_coded([answer])
            closing = await socket.receive(timeout=10)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
            assert socket.close_code == CLOSE_REFUSED
            counts["refused"] += 1
        finally:
            await socket.close()

    @settings(
        max_examples=BEFORE_JOIN_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(frame=frames([me["user"]["id"], 1]))
    def check(frame: str | bytes) -> None:
        asyncio.run_coroutine_threadsafe(first(frame), loop).result(timeout=30)

    await asyncio.to_thread(check)
    print(f"before join: {counts}")
    # the server still lets a good join in
    client = RoomClient(consumer, hearing_id)
    try:
        assert (await client.connect())["type"] == "welcome"
        mark = len(client.messages)
        await client.send({"type": "ping"})
        await client.next(lambda m: m["type"] == "pong", after=mark)
    finally:
        await client.close()
    await left_the_room(people[MEDIATOR], hearing_id, 1)
    no_errors_logged(caplog)
