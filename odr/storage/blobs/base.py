"""The blob store interface: content-addressed file storage for evidence, streamed, no HTTP.

A blob is stored once under its content address ``sha256/ab/cd/<sha256>`` (the first two
and next two hex digits of its SHA-256 fan the names out over directories or key prefixes).
Everything reaches storage in bounded chunks: no backend ever holds a whole file in memory.

Two ways in:

- ``put_stream``: one stream, hashed on the way to a temporary file or object, moved to its
  content address at the end. Past ``max_bytes`` it raises `TooLarge` and leaves nothing.
- Resumable uploads (for a tus-like HTTP layer): ``begin_upload`` → ``append`` (at the offset
  the store reports) as many times as needed, across dropped connections and server restarts
  → ``finish``, which returns the same `StoredBlob` a ``put_stream`` of the content would.

``max_bytes`` is whatever the caller allows for this file: the per-file limit, or less when the
case has less room left. The store enforces it; the per-case total is the caller's business.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass
from typing import Protocol

from odr.domain.errors import Conflict, DomainError, NotFound

#: Size of the reads and writes the stores do (and of the chunks ``open_range`` yields).
CHUNK_SIZE = 1024 * 1024

_SHA256 = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob at its content address: lowercase hex SHA-256 and size in bytes."""

    sha256: str
    size: int


class PartialHash:
    """SHA-256 of the first ``offset`` bytes of a resumable upload.

    A SHA-256 state cannot be saved (hashlib cannot pickle it), so the stores keep one per
    upload in memory, and only while it matches the bytes stored; see the backends.
    """

    __slots__ = ("hasher", "offset")

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0


class TooLarge(DomainError):
    """The content is larger than the limit; nothing of it was kept."""

    code = "file_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The file is larger than the limit of {max_bytes} bytes.",
            details={"max_bytes": max_bytes},
        )
        self.max_bytes = max_bytes


class UploadOffsetMismatch(Conflict):
    """An append at another offset than the upload's; ``offset`` is where to continue."""

    code = "upload_offset_mismatch"

    def __init__(self, *, offset: int, given: int) -> None:
        super().__init__(
            f"The upload is at offset {offset}, not {given}.",
            details={"offset": offset, "given": given},
        )
        self.offset = offset


class UploadBusy(Conflict):
    """Another operation on the same upload is in progress; try again when it ends."""

    code = "upload_busy"

    def __init__(self) -> None:
        super().__init__("Another request is writing to this upload.")


class UploadNotFound(NotFound):
    """No such upload in progress (never begun, finished, aborted or discarded as too large)."""

    code = "upload_not_found"

    def __init__(self) -> None:
        super().__init__("There is no such upload in progress.")


class BlobNotFound(NotFound):
    code = "blob_not_found"

    def __init__(self, sha256: str) -> None:
        super().__init__("There is no such file.", details={"sha256": sha256})


class RangeNotSatisfiable(DomainError):
    """A byte range that does not fit the blob (HTTP 416); ``size`` is the blob's size."""

    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__("The range is outside the file.", details={"size": size})
        self.size = size


class BlobStore(Protocol):
    """What every storage backend offers. All methods are safe to call concurrently, except
    that an upload takes one operation at a time (a second one meanwhile gets `UploadBusy`).

    A ``sha256`` argument is a lowercase hex digest (anything else is a ``ValueError``: it comes
    from our records, not from a client); an unknown or malformed ``upload_id`` is
    `UploadNotFound`.
    """

    async def put_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        """Store the stream at its content address (once: an existing copy is kept).

        Raises `TooLarge` as soon as the stream passes ``max_bytes``, with nothing stored.
        """
        ...

    async def open_range(
        self, sha256: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Bytes ``start`` up to ``end`` (exclusive, like a slice; None: to the end), in chunks.

        Checks before returning, so a handler can answer 404 or 416 before it starts a
        response: `BlobNotFound`, or `RangeNotSatisfiable` unless ``0 <= start <= size`` and
        ``start <= end``; an ``end`` past the size is cut to the size. HTTP ``bytes=a-b`` is
        ``start=a, end=b + 1``. Close the iterator (``contextlib.aclosing``) if you stop early.
        """
        ...

    async def size(self, sha256: str) -> int | None:
        """The blob's size, None if there is no such blob."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> bool:
        """Remove the blob (retention); False if there was none."""
        ...

    async def begin_upload(self, max_bytes: int) -> str:
        """Start a resumable upload at offset 0; returns its id (32 hex digits)."""
        ...

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        """Add the stream at ``offset``; returns the new offset.

        `UploadOffsetMismatch` (carrying the current offset) unless ``offset`` is where the
        upload stands; `TooLarge` past the upload's ``max_bytes``, and the upload is discarded.
        If the stream breaks off, what the store kept stays: ``upload_offset`` tells where
        to continue (it may be a little less than what was sent).
        """
        ...

    async def upload_offset(self, upload_id: str) -> int:
        """How many bytes of the upload are stored: where the next ``append`` starts."""
        ...

    async def finish(self, upload_id: str) -> StoredBlob:
        """Move the uploaded content to its content address; the upload is gone after."""
        ...

    async def abort(self, upload_id: str) -> bool:
        """Discard the upload and what it stored; False if there was no such upload."""
        ...

    async def purge_stale(self, now: float, *, temp_idle: float, upload_idle: float) -> int:
        """Remove what crashed work left behind: temporary files of one-shot stores idle
        for ``temp_idle`` seconds, resumable uploads idle for ``upload_idle`` (``now`` is a
        Unix time). An upload in use is never touched. Returns how many were removed."""
        ...

    async def close(self) -> None:
        """Release connections (the store is not used after)."""
        ...


def content_key(sha256: str) -> str:
    """``sha256/ab/cd/<sha256>``: the blob's path below the store's root or bucket."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a lowercase hex SHA-256 digest: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def check_upload_id(upload_id: str) -> str:
    """The id itself if it has the form the stores make (so it is safe in a path or key)."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound()
    return upload_id


def check_max_bytes(max_bytes: int) -> None:
    if max_bytes < 0:
        raise ValueError(f"max_bytes must not be negative: {max_bytes}")


def resolve_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """``(start, stop)`` within a blob of ``size`` bytes; see `BlobStore.open_range`."""
    stop = size if end is None else min(end, size)
    if start < 0 or start > size or (end is not None and end < start):
        raise RangeNotSatisfiable(size)
    return start, stop
