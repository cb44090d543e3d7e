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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

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
    """Redis pub/sub. Each subscription keeps its own connection alive: it PINGs when quiet,
    and a connection that stops answering (a half-open network) or fails is replaced, with
    the subscription made again — messages published meanwhile are lost, as for a slow
    subscriber."""

    PREFIX = "odr:bus:"
    PING_EVERY = 5.0  # seconds without a message before the subscriber PINGs
    DEAD_AFTER = 12.0  # seconds without any answer before the connection is replaced
    RETRY_AFTER = (0.2, 0.5, 1.0, 2.0)  # back-off between attempts, then the last again

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(message, ensure_ascii=False))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[_Queue]:
        queue = _Queue()
        subscribed = asyncio.Event()
        task = asyncio.create_task(self._pump(self.PREFIX + topic, queue, subscribed))
        try:
            # the first subscription is made before the caller goes on (so that what is
            # published next reaches it), unless Redis is away: then it goes on trying
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(subscribed.wait()), 5)
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, channel: str, queue: _Queue, subscribed: asyncio.Event) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(channel)
                subscribed.set()
                failures = 0
                await self._listen(pubsub, channel, queue)
            except (RedisError, OSError) as error:
                wait = self.RETRY_AFTER[min(failures, len(self.RETRY_AFTER) - 1)]
                failures += 1
                log.warning(
                    "bus subscription to %s lost (%s); again in %.1fs", channel, error, wait
                )
                await asyncio.sleep(wait)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await asyncio.wait_for(pubsub.aclose(), 1)  # type: ignore[no-untyped-call]

    async def _listen(self, pubsub: Any, channel: str, queue: _Queue) -> None:
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            raw = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if raw is not None:
                heard = now
                if raw.get("type") == "message":
                    try:
                        queue.put(json.loads(raw["data"]))
                    except (ValueError, TypeError):
                        log.warning("dropped a malformed bus message on %s", channel)
                continue
            if now - heard > self.DEAD_AFTER:
                raise RedisConnectionError("the subscription stopped answering")
            if now - max(heard, pinged) > self.PING_EVERY:
                await pubsub.ping()
                pinged = now
