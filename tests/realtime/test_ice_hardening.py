"""ICE on a busy node (`signaling.ice`): UDP datagrams queued while the loop was busy are read
in one turn; a consent check answered late (after aioice's half second) still counts; a peer
that answers nothing is dropped after the expiry; media waiting in a connection is bounded;
the private names relied on still exist."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioice import Connection, stun

from signaling import ice


@pytest.fixture(autouse=True)
def hardened() -> None:
    ice.harden_ice()
    ice.harden_ice()  # idempotent
    assert ice.hardened()


def test_the_private_names_relied_on_exist() -> None:
    for owner, names in ice.PRIVATE_NAMES.items():
        missing = [n for n in names if not hasattr(owner, n) and n not in _INSTANCE_ONLY]
        assert not missing, (owner, missing)


#: attributes aioice and asyncio set on instances, checked on live objects below
_INSTANCE_ONLY = {"_sock", "_protocol", "_conn_lost", "_nominated", "_query_consent_task"}
_INSTANCE_ONLY |= {"remote_password", "_queue"}


async def test_a_backlog_is_read_in_one_turn_of_the_loop() -> None:
    got: list[bytes] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    for name in ("_sock", "_protocol", "_conn_lost"):
        assert hasattr(transport, name)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        address = transport.get_extra_info("sockname")
        count = 3 * ice.BATCH // 2
        for n in range(count):  # all queued before the loop looks at the socket again
            sender.sendto(n.to_bytes(2, "big"), address)
        # one datagram per turn of the loop without batches; here a batch, then the rest
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(got) == ice.BATCH
        for _ in range(3):
            await asyncio.sleep(0)
        assert [int.from_bytes(d, "big") for d in got] == list(range(count))
    finally:
        sender.close()
        transport.close()


@pytest.fixture
async def pair(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Connection, Connection]]:
    """Two connected aioice connections on loopback, consent checked every 0.2 s and expiring
    after 1.5 s without an answer."""
    monkeypatch.setattr(ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(ice, "CONSENT_EXPIRY_SECONDS", 1.5)
    a, b = Connection(ice_controlling=True), Connection(ice_controlling=False)
    for one in (a, b):
        await one.gather_candidates()
    for one, other in ((a, b), (b, a)):
        for candidate in other.local_candidates:
            await one.add_remote_candidate(candidate)
        await one.add_remote_candidate(None)
        one.remote_username, one.remote_password = other.local_username, other.local_password
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
    for connection in (a, b):
        assert connection._nominated and connection._query_consent_task is not None
    yield a, b
    await a.close()
    await b.close()


def answers_of(peer: Connection, monkeypatch: pytest.MonkeyPatch, delay: float | None) -> None:
    """`peer` answers checks `delay` s late (None: never)."""
    answer = peer.request_received

    def late(message: stun.Message, addr: Any, protocol: Any) -> None:
        if delay is not None:
            asyncio.get_running_loop().call_later(delay, answer, message, addr, protocol)

    monkeypatch.setattr(peer, "request_received", late)


async def test_consent_answered_late_keeps_the_connection(
    pair: tuple[Connection, Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    answers_of(b, monkeypatch, delay=0.8)  # aioice alone gives up on each after 0.5 s
    await asyncio.sleep(2.5 * ice.CONSENT_EXPIRY_SECONDS)
    assert a._nominated and a._query_consent_task is not None


async def test_a_peer_that_answers_nothing_is_dropped_after_the_expiry(
    pair: tuple[Connection, Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    answers_of(b, monkeypatch, delay=None)
    started = time.monotonic()
    while a._nominated and time.monotonic() - started < 20:
        await asyncio.sleep(0.1)
    assert not a._nominated  # closed
    assert ice.CONSENT_EXPIRY_SECONDS <= time.monotonic() - started < 15


async def test_media_waiting_in_a_connection_is_bounded(
    pair: tuple[Connection, Connection],
) -> None:
    a, _ = pair
    for n in range(ice.MAX_QUEUED + 100):  # a connection nobody reads from
        a.data_received(n.to_bytes(4, "big"), 1)
    assert a._queue.qsize() == ice.MAX_QUEUED
    first = await a.recv()
    assert first == (0).to_bytes(4, "big")  # the oldest kept, the newest dropped
