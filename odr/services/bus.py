"""Publish/subscribe between the parts of the product and between nodes.

In-process on the embedded default; Redis pub/sub when configured, so a change made on one node
reaches a page or a socket served by another. Messages are small JSON objects; a subscriber that
falls behind loses the oldest ones (it reloads what it shows), never blocks the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger("odr.bus")
QUEUE_SIZE = 100


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...


class Bus(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str) -> Any:
        """An async context manager yielding an async iterator of messages."""


class _Queue:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def put(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def get(self) -> dict[str, Any]:
        """The next message; safe to cancel (e.g. by a timeout) and call again."""
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()


class MemoryBus:
    def __init__(self) -> None:
        self._topics: dict[str, set[_Queue]] = {}

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        for queue in list(self._topics.get(topic, ())):
            queue.put(message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[_Queue]:
        queue = _Queue()
        self._topics.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._topics.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._topics[topic]


class RedisBus:
    PREFIX = "odr:bus:"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(message, ensure_ascii=False))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[_Queue]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.PREFIX + topic)
        queue = _Queue()

        async def pump() -> None:
            async for raw in pubsub.listen():
                try:
                    queue.put(json.loads(raw["data"]))
                except (ValueError, TypeError):
                    log.warning("dropped a malformed bus message on %s", topic)

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
