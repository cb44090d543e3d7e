"""Blobs in a local directory: the default backend.

Layout below ``root`` (directories 0o700, files 0o600; ``root`` must be outside the web root):

    sha256/ab/cd/<sha256>    stored blobs
    tmp/put-*                ``put_stream`` in progress (removed on any failure)
    uploads/<id>/data        a resumable upload: the bytes received so far
    uploads/<id>/meta.json   its limit; the upload exists while this file does

File I/O runs in worker threads (``asyncio.to_thread``), in writes of up to `CHUNK_SIZE`. A
thread cannot be stopped: when the calling task is cancelled during a write, the store waits for
the write to end before it closes or removes the file, so no thread writes to a closed file.
A blob reaches its address by ``os.replace`` after an ``fsync``: it is there whole or not at all.

Memory: per operation, one buffer of up to `CHUNK_SIZE` plus the caller's current chunk (a
256 MiB ``put_stream`` grew the peak RSS by 1 to 5 MiB).

Hashing resumable uploads: a SHA-256 state cannot be written to disk (hashlib cannot pickle it),
so each upload's hasher lives in memory next to the offset it has hashed up to, and is updated
with exactly the bytes written. When a store has no hasher aligned with the data file (after a
restart, or when the upload was appended to by another process), it stops hashing that upload
and reads the data file once at ``finish``: one extra read of at most ``max_bytes``.

Each operation on an upload holds an exclusive ``flock`` on its data file while it runs
(non-blocking: a second operation meanwhile gets `UploadBusy`), across processes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from odr.storage.blobs.base import (
    CHUNK_SIZE,
    BlobNotFound,
    PartialHash,
    StoredBlob,
    TooLarge,
    UploadBusy,
    UploadNotFound,
    UploadOffsetMismatch,
    check_max_bytes,
    check_upload_id,
    content_key,
    resolve_range,
)

if TYPE_CHECKING:
    from _hashlib import HASH

T = TypeVar("T")

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class _OpenUpload:
    fd: int  # the data file, opened for appending and locked
    size: int
    max_bytes: int


class LocalBlobStore:
    """`BlobStore` on a local directory (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._hashing: dict[str, PartialHash] = {}

    # -- blobs ---------------------------------------------------------------------------

    async def put_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        check_max_bytes(max_bytes)
        fd, temp = await _in_thread(self._new_temp, discard=_remove_temp)
        hasher = hashlib.sha256()
        size = 0
        try:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                buffer += chunk
                if len(buffer) >= CHUNK_SIZE:
                    data, buffer = buffer, bytearray()
                    await _in_thread(partial(_write_hashed, fd, data, hasher))
            await _in_thread(partial(_write_hashed, fd, buffer, hasher))
            await _in_thread(partial(os.fsync, fd))
        except BaseException:
            _remove_temp((fd, temp))
            raise
        os.close(fd)
        blob = StoredBlob(hasher.hexdigest(), size)
        try:
            await _in_thread(partial(self._install, temp, blob.sha256))
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return blob

    async def open_range(
        self, sha256: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        size = await self.size(sha256)
        if size is None:
            raise BlobNotFound(sha256)
        start, stop = resolve_range(size, start, end)
        return self._read(sha256, start, stop)

    async def _read(self, sha256: str, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        # Each read opens the file anew in its thread: no descriptor outlives a cancelled task.
        path = self._blob_path(sha256)
        position = start
        while position < stop:
            try:
                data = await asyncio.to_thread(
                    _read_at, path, position, min(CHUNK_SIZE, stop - position)
                )
            except FileNotFoundError:
                raise BlobNotFound(sha256) from None
            if not data:
                raise BlobNotFound(sha256)  # deleted and replaced while being read
            position += len(data)
            yield data

    async def size(self, sha256: str) -> int | None:
        try:
            return (await asyncio.to_thread(os.stat, self._blob_path(sha256))).st_size
        except FileNotFoundError:
            return None

    async def exists(self, sha256: str) -> bool:
        return await self.size(sha256) is not None

    async def delete(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(os.unlink, self._blob_path(sha256))
        except FileNotFoundError:
            return False
        return True

    # -- resumable uploads ---------------------------------------------------------------

    async def begin_upload(self, max_bytes: int) -> str:
        check_max_bytes(max_bytes)
        upload_id = secrets.token_hex(16)
        await _in_thread(partial(self._create_upload, self._upload_dir(upload_id), max_bytes))
        self._hashing[upload_id] = PartialHash()
        return upload_id

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        directory = self._upload_dir(upload_id)
        upload = await _in_thread(partial(_open_upload, directory), discard=_close_upload)
        try:
            if offset != upload.size:
                raise UploadOffsetMismatch(offset=upload.size, given=offset)
            hashing = self._aligned_hashing(upload_id, upload.size)
            received = written = upload.size
            buffer = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > upload.max_bytes:
                    self._hashing.pop(upload_id, None)
                    await _in_thread(partial(_remove_upload, directory))
                    raise TooLarge(upload.max_bytes)
                buffer += chunk
                if len(buffer) >= CHUNK_SIZE:
                    data, buffer = buffer, bytearray()
                    await _in_thread(partial(_append_hashed, upload.fd, data, hashing))
                    written += len(data)
            # When the stream breaks off, the buffer (under CHUNK_SIZE) is dropped: the client
            # continues from the offset of what was written.
            await _in_thread(partial(_append_hashed, upload.fd, buffer, hashing))
            written += len(buffer)
            await _in_thread(partial(os.fsync, upload.fd))
            return written
        finally:
            _close_upload(upload)

    async def upload_offset(self, upload_id: str) -> int:
        return await asyncio.to_thread(_upload_size, self._upload_dir(upload_id))

    async def finish(self, upload_id: str) -> StoredBlob:
        directory = self._upload_dir(upload_id)
        upload = await _in_thread(partial(_open_upload, directory), discard=_close_upload)
        try:
            hashing = self._aligned_hashing(upload_id, upload.size)
            if hashing is None:
                sha256 = await _in_thread(partial(_hash_file, upload.fd))
            else:
                sha256 = hashing.hasher.hexdigest()
            await _in_thread(partial(self._install_upload, directory, upload.fd, sha256))
        finally:
            _close_upload(upload)
        self._hashing.pop(upload_id, None)
        return StoredBlob(sha256, upload.size)

    async def abort(self, upload_id: str) -> bool:
        try:
            directory = self._upload_dir(upload_id)
            upload = await _in_thread(partial(_open_upload, directory), discard=_close_upload)
        except UploadNotFound:
            return False
        try:
            await _in_thread(partial(_remove_upload, directory))
        finally:
            _close_upload(upload)
        self._hashing.pop(upload_id, None)
        return True

    async def purge_stale(self, now: float, *, temp_idle: float, upload_idle: float) -> int:
        removed = await asyncio.to_thread(_purge_temps, self.root / "tmp", now - temp_idle)
        uploads = self.root / "uploads"
        names = await asyncio.to_thread(lambda: sorted(p.name for p in _children(uploads)))
        for name in names:
            if await asyncio.to_thread(_purge_upload, uploads / name, now - upload_idle):
                self._hashing.pop(name, None)
                removed += 1
        return removed

    async def close(self) -> None:
        return None

    # -- helpers (the sync ones run in worker threads) -----------------------------------

    def _blob_path(self, sha256: str) -> Path:
        return self.root / content_key(sha256)

    def _upload_dir(self, upload_id: str) -> Path:
        return self.root / "uploads" / check_upload_id(upload_id)

    def _aligned_hashing(self, upload_id: str, size: int) -> PartialHash | None:
        """The upload's hasher if it has hashed exactly the ``size`` bytes on disk."""
        hashing = self._hashing.get(upload_id)
        if hashing is not None and hashing.offset != size:
            del self._hashing[upload_id]
            return None
        return hashing

    def _new_temp(self) -> tuple[int, Path]:
        directory = self.root / "tmp"
        _make_dirs(directory)
        fd, name = tempfile.mkstemp(prefix="put-", dir=directory)  # mode 0o600
        return fd, Path(name)

    def _install(self, temp: Path, sha256: str) -> None:
        """Move a complete, fsynced file to its content address (or drop it: already there)."""
        target = self._blob_path(sha256)
        _make_dirs(target.parent)
        if target.exists():
            temp.unlink()
            return
        os.replace(temp, target)
        _fsync_dir(target.parent)

    def _create_upload(self, directory: Path, max_bytes: int) -> None:
        _make_dirs(directory.parent)
        directory.mkdir(mode=0o700)
        os.close(os.open(directory / "data", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        meta = directory / "meta.json.new"
        fd = os.open(meta, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, json.dumps({"max_bytes": max_bytes}).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(meta, directory / "meta.json")
        _fsync_dir(directory)

    def _install_upload(self, directory: Path, fd: int, sha256: str) -> None:
        os.fsync(fd)
        (directory / "meta.json").unlink()  # from here on, the upload is over
        self._install(directory / "data", sha256)
        shutil.rmtree(directory)


async def _in_thread(
    function: Callable[[], T], *, discard: Callable[[T], object] | None = None
) -> T:
    """``function()`` in a worker thread. If the caller is cancelled meanwhile, wait for the
    thread to end (handing its result to ``discard``) before the cancellation goes on."""
    task = asyncio.ensure_future(asyncio.to_thread(function))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None and discard is not None:
            discard(task.result())
        raise


def _make_dirs(path: Path) -> None:
    """``path`` and its missing parents, each 0o700 (``os.makedirs`` applies its mode only to
    the last one)."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: Buffer) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_hashed(fd: int, data: Buffer, hasher: HASH) -> None:
    hasher.update(data)
    _write_all(fd, data)


def _append_hashed(fd: int, data: Buffer, hashing: PartialHash | None) -> None:
    _write_all(fd, data)
    if hashing is not None:  # only once written: the hasher never runs ahead of the file
        hashing.hasher.update(data)
        hashing.offset += len(data)


def _read_at(path: Path, offset: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def _hash_file(fd: int) -> str:
    hasher = hashlib.sha256()
    offset = 0
    while data := os.pread(fd, CHUNK_SIZE, offset):
        hasher.update(data)
        offset += len(data)
    return hasher.hexdigest()


def _remove_temp(temp: tuple[int, Path]) -> None:
    # Runs inline, also on cancellation: two fast system calls, and nothing can skip them.
    fd, path = temp
    with contextlib.suppress(OSError):
        os.close(fd)
    path.unlink(missing_ok=True)


def _open_upload(directory: Path) -> _OpenUpload:
    try:
        meta = json.loads((directory / "meta.json").read_bytes())
        fd = os.open(directory / "data", os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        raise UploadNotFound() from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UploadBusy() from None
    if not (directory / "meta.json").exists():  # finished or aborted while we were opening
        os.close(fd)
        raise UploadNotFound()
    return _OpenUpload(fd=fd, size=os.fstat(fd).st_size, max_bytes=int(meta["max_bytes"]))


def _close_upload(upload: _OpenUpload) -> None:
    os.close(upload.fd)  # also releases the lock


def _upload_size(directory: Path) -> int:
    if not (directory / "meta.json").exists():
        raise UploadNotFound()
    try:
        return (directory / "data").stat().st_size
    except FileNotFoundError:
        raise UploadNotFound() from None


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def _purge_temps(directory: Path, before: float) -> int:
    """Temporary ``put-*`` files last written before ``before``: a one-shot store in
    progress writes all the time, so these were left by a process that died."""
    removed = 0
    for path in _children(directory):
        try:
            if path.name.startswith("put-") and path.stat().st_mtime < before:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _purge_upload(directory: Path, before: float) -> bool:
    """Remove the resumable upload in ``directory`` if nothing touched it since ``before``
    and no operation holds it now."""
    if not directory.is_dir():
        return False
    try:
        upload = _open_upload(directory)
    except (UploadBusy, UploadNotFound):
        # an upload that died before its meta file was written, or half removed
        orphan = not (directory / "meta.json").exists()
        last = max((p.stat().st_mtime for p in _children(directory)), default=0.0)
        if orphan and last < before:
            shutil.rmtree(directory, ignore_errors=True)
            return True
        return False
    try:
        last = max(os.fstat(upload.fd).st_mtime, (directory / "meta.json").stat().st_mtime)
        if last >= before:
            return False
        _remove_upload(directory)
        return True
    finally:
        _close_upload(upload)


def _remove_upload(directory: Path) -> None:
    (directory / "meta.json").unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)
