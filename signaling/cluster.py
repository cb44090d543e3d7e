"""Which node holds a hearing's media, and how sockets on other nodes reach it.

A hearing's room (its relay, recorders and state) lives on one node: the node that holds the
hearing's lease (Redis ``SET NX PX``, renewed while the room is open). A socket that lands on
another node is joined to the room over the bus: the socket's node publishes what the client
sends on ``hearing:<id>:room``; the room publishes what it sends to that socket on
``hearing:<id>:conn:<socket id>``. Media goes straight from the browser to the holding node
(its address is in the SDP answer). Without Redis there is one node and every lease is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger("odr.signaling.cluster")

LEASE_MS = 15_000
RENEW_SECONDS = 5.0

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class Leases(Protocol):
    async def claim(self, hearing_id: int, node: str) -> str:
        """The node holding the hearing (``node`` itself when it got the lease)."""

    async def holder(self, hearing_id: int) -> str | None: ...

    async def renew(self, hearing_id: int, node: str) -> bool: ...

    async def release(self, hearing_id: int, node: str) -> None: ...


class LocalLeases:
    """One node: every hearing is held here."""

    def __init__(self) -> None:
        self._held: dict[int, str] = {}

    async def claim(self, hearing_id: int, node: str) -> str:
        return self._held.setdefault(hearing_id, node)

    async def holder(self, hearing_id: int) -> str | None:
        return self._held.get(hearing_id)

    async def renew(self, hearing_id: int, node: str) -> bool:
        return self._held.get(hearing_id) == node

    async def release(self, hearing_id: int, node: str) -> None:
        if self._held.get(hearing_id) == node:
            del self._held[hearing_id]


class RedisLeases:
    PREFIX = "odr:hearing-node:"

    def __init__(self, redis: Redis, lease_ms: int = LEASE_MS) -> None:
        self._redis = redis
        self._lease_ms = lease_ms

    async def claim(self, hearing_id: int, node: str) -> str:
        key = f"{self.PREFIX}{hearing_id}"
        for _ in range(3):
            if await self._redis.set(key, node, nx=True, px=self._lease_ms):
                return node
            holder = await self._redis.get(key)
            if holder is not None:
                return holder.decode() if isinstance(holder, bytes) else str(holder)
        raise RuntimeError(f"could not read the lease of hearing {hearing_id}")

    async def holder(self, hearing_id: int) -> str | None:
        value = await self._redis.get(f"{self.PREFIX}{hearing_id}")
        return value.decode() if isinstance(value, bytes) else value

    async def renew(self, hearing_id: int, node: str) -> bool:
        key = f"{self.PREFIX}{hearing_id}"
        return bool(await self._redis.eval(_RENEW, 1, key, node, str(self._lease_ms)))  # type: ignore[misc]

    async def release(self, hearing_id: int, node: str) -> None:
        await self._redis.eval(_RELEASE, 1, f"{self.PREFIX}{hearing_id}", node)  # type: ignore[misc]


def room_topic(hearing_id: int) -> str:
    return f"hearing:{hearing_id}:room"


def socket_topic(hearing_id: int, conn_id: str) -> str:
    return f"hearing:{hearing_id}:conn:{conn_id}"


async def keep_lease(leases: Leases, hearing_id: int, node: str, lost: asyncio.Event) -> None:
    """Renew the lease until cancelled; set ``lost`` if another node took it."""
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            if not await leases.renew(hearing_id, node):
                log.warning("hearing %s: lease lost by node %s", hearing_id, node)
                lost.set()
                return
        except Exception:
            log.exception("hearing %s: renewing the lease failed", hearing_id)


async def cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
