"""A blob store that reports how long each operation of the store it wraps takes.

``observe(operation, seconds)`` is called once per operation; a stream (``open_range``) is
timed until its last chunk (or until it is closed early). Nothing else changes."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable

from odr.storage.blobs.base import BlobStore, StoredBlob

Observe = Callable[[str, float], None]


class TimedBlobStore:
    def __init__(self, inner: BlobStore, observe: Observe) -> None:
        self.inner = inner
        self._observe = observe

    def _done(self, operation: str, started: float) -> None:
        self._observe(operation, time.perf_counter() - started)

    async def put_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        started = time.perf_counter()
        try:
            return await self.inner.put_stream(chunks, max_bytes=max_bytes)
        finally:
            self._done("put", started)

    async def open_range(
        self, sha256: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        started = time.perf_counter()
        try:
            stream = await self.inner.open_range(sha256, start, end)
        except BaseException:
            self._done("get", started)
            raise
        return self._timed(stream, started)

    async def _timed(
        self, stream: AsyncGenerator[bytes, None], started: float
    ) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()
            self._done("get", started)

    async def size(self, sha256: str) -> int | None:
        started = time.perf_counter()
        try:
            return await self.inner.size(sha256)
        finally:
            self._done("size", started)

    async def exists(self, sha256: str) -> bool:
        started = time.perf_counter()
        try:
            return await self.inner.exists(sha256)
        finally:
            self._done("exists", started)

    async def delete(self, sha256: str) -> bool:
        started = time.perf_counter()
        try:
            return await self.inner.delete(sha256)
        finally:
            self._done("delete", started)

    async def begin_upload(self, max_bytes: int) -> str:
        started = time.perf_counter()
        try:
            return await self.inner.begin_upload(max_bytes)
        finally:
            self._done("begin_upload", started)

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        started = time.perf_counter()
        try:
            return await self.inner.append(upload_id, offset, chunks)
        finally:
            self._done("append", started)

    async def upload_offset(self, upload_id: str) -> int:
        return await self.inner.upload_offset(upload_id)

    async def finish(self, upload_id: str) -> StoredBlob:
        started = time.perf_counter()
        try:
            return await self.inner.finish(upload_id)
        finally:
            self._done("finish", started)

    async def abort(self, upload_id: str) -> bool:
        return await self.inner.abort(upload_id)

    async def purge_stale(self, now: float, *, temp_idle: float, upload_idle: float) -> int:
        return await self.inner.purge_stale(now, temp_idle=temp_idle, upload_idle=upload_idle)

    async def close(self) -> None:
        await self.inner.close()
