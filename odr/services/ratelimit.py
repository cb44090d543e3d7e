"""Fixed-window rate limits: Redis when configured (shared by every node), else memory
(the embedded single-process default)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    retry_after: int  # seconds until the window resets


class RateLimiter(Protocol):
    async def hit(self, key: str, window: int) -> Window: ...
    async def peek(self, key: str) -> Window: ...
    async def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator,no-any-return]

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is not None and entry[1] <= self._now():
            del self._windows[key]
            return None
        return entry

    async def hit(self, key: str, window: int) -> Window:
        entry = self._live(key)
        count, ends = (entry[0] + 1, entry[1]) if entry else (1, self._now() + window)
        self._windows[key] = (count, ends)
        if len(self._windows) > 100_000:
            for stale in [k for k, (_, e) in self._windows.items() if e <= self._now()]:
                del self._windows[stale]
        return Window(count, max(1, math.ceil(ends - self._now())))

    async def peek(self, key: str) -> Window:
        entry = self._live(key)
        if entry is None:
            return Window(0, 0)
        return Window(entry[0], max(1, math.ceil(entry[1] - self._now())))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    PREFIX = "odr:rl:"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def hit(self, key: str, window: int) -> Window:
        name = self.PREFIX + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return Window(int(count), max(1, int(ttl)))

    async def peek(self, key: str) -> Window:
        name = self.PREFIX + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            raw, ttl = await pipe.execute()
        if raw is None:
            return Window(0, 0)
        return Window(int(raw), max(1, int(ttl)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + key)
