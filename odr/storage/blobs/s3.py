"""Blobs in an S3-compatible object store, on aiobotocore.

Keys in the bucket:

    sha256/ab/cd/<sha256>   stored blobs
    tmp/<random>            a large ``put_stream`` until it is copied to its address
    uploads/<id>/meta       a resumable upload: its S3 multipart upload id and limit (JSON)
    uploads/<id>/data       the key of its multipart upload (an object only during ``finish``)
    uploads/<id>/tail       bytes received after its last full part (metadata ``start``)

``put_stream``: a stream that fits in one part (`PART_SIZE`) is hashed in memory and PUT at its
address. A larger one goes to ``tmp/<random>`` as a multipart upload, one part at a time, hashed
on the way. The address is known only at the end, so the completed object is then copied on the
server (CopyObject) to its address and the temporary object deleted. CopyObject takes objects
up to 5 GiB: a larger ``max_bytes`` is refused at once (``ValueError``) rather than failing at
the end of an upload; our limits are far below it.

Resumable uploads: one S3 multipart upload each. Parts must be at least 5 MiB (except the last)
while an append may bring any number of bytes, so what does not fill a part is kept in the
``tail`` object, with the offset it starts at (as tusd's S3 store does). A tail whose start is
not the parts' total is stale (left when its bytes went into a part just before a crash) and is
ignored. The upload's offset is the parts' total plus a valid tail's size: only bytes S3 holds.
Each append that ends short of a part boundary reads and rewrites the tail (less than a part):
clients should send appends of several parts each.

Hashing resumable uploads: as in the local store, the hasher lives in memory and is kept only
while it matches what S3 holds. Without it (a restart, an append that lost bytes), ``finish``
completes the multipart upload and reads the object back once to hash it: S3 cannot read the
parts of an incomplete upload.

Memory per operation: one part buffer, sent from memory without a copy (`PART_SIZE` plus the
caller's current chunk, and the ~1/8 a BytesIO over-allocates); parts go one at a time. A
256 MiB ``put_stream`` grew the peak RSS by about 15 MiB. Downloads come in `CHUNK_SIZE` pieces.

Not covered here: an upload takes one operation at a time within a process (`UploadBusy`), but S3
has no locks, so concurrent appends to one upload from two processes go unnoticed: serialise an
upload's requests upstream. Multipart uploads and ``tmp/`` objects left by a crash are for the
bucket's lifecycle rules (AbortIncompleteMultipartUpload, expiry of ``tmp/``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

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
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import HeadObjectOutputTypeDef

log = logging.getLogger("odr.storage.blobs")

PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
#: The largest object CopyObject copies in one request.
COPY_LIMIT = 5 * 1024**3

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class _MultipartGone(Exception):
    """The S3 multipart upload no longer exists (completed or aborted)."""


@dataclass(frozen=True, slots=True)
class _Part:
    number: int
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class _UploadMeta:
    multipart_id: str
    max_bytes: int


@dataclass(slots=True)
class _Multipart:
    """One S3 multipart upload; parts are sent one at a time, numbered from 1."""

    s3: S3Client
    bucket: str
    key: str
    upload_id: str
    parts: list[_Part] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(part.size for part in self.parts)

    async def upload(self, body: io.BytesIO) -> None:
        """Send the buffer (all of it, whatever its position) as the next part."""
        number = len(self.parts) + 1
        size = len(body.getbuffer())
        body.seek(0)
        response = await self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
        )
        self.parts.append(_Part(number, response["ETag"], size))

    async def complete(self) -> None:
        await self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={
                "Parts": [{"ETag": p.etag, "PartNumber": p.number} for p in self.parts]
            },
        )

    async def abort(self) -> None:
        try:
            await self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        except ClientError as error:
            if _code(error) != "NoSuchUpload":
                raise


class S3BlobStore:
    """`BlobStore` on a bucket of an S3-compatible store. The client is made on first use;
    ``close()`` (or ``async with``) releases it."""

    def __init__(
        self,
        endpoint_url: str | None,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        part_size: int = PART_SIZE,
        addressing_style: Literal["auto", "virtual", "path"] = "path",
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= COPY_LIMIT:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB: {part_size}")
        self.bucket = bucket
        self.part_size = part_size
        self._endpoint_url = endpoint_url
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            # Checksums only where S3 requires them: S3-compatible stores vary in the rest.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 3},
        )
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None
        self._metas: dict[str, _UploadMeta] = {}
        self._hashing: dict[str, PartialHash] = {}
        self._busy: set[str] = set()

    async def __aenter__(self) -> S3BlobStore:
        await self._s3()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _s3(self) -> S3Client:
        if self._client is None:
            stack = AsyncExitStack()
            client = await stack.enter_async_context(
                get_session().create_client(
                    "s3",
                    endpoint_url=self._endpoint_url,
                    region_name=self._region,
                    aws_access_key_id=self._access_key,
                    aws_secret_access_key=self._secret_key,
                    config=self._config,
                )
            )
            if self._client is None:
                self._stack, self._client = stack, client
            else:  # another task made one meanwhile
                await stack.aclose()
        return self._client

    # -- blobs ---------------------------------------------------------------------------

    async def put_stream(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        _check_limit(max_bytes)
        s3 = await self._s3()
        hasher = hashlib.sha256()
        size = 0
        buffer = io.BytesIO()
        multipart: _Multipart | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                hasher.update(chunk)
                buffer.write(chunk)
                if buffer.tell() >= self.part_size:
                    if multipart is None:
                        multipart = await self._create_multipart(_temp_key())
                    await multipart.upload(buffer)
                    buffer = io.BytesIO()
            blob = StoredBlob(hasher.hexdigest(), size)
            if multipart is None:  # it all fits in one request: straight to its address
                if not await self.exists(blob.sha256):
                    await s3.put_object(
                        Bucket=self.bucket, Key=content_key(blob.sha256), Body=_rewound(buffer)
                    )
                return blob
            if buffer.tell():
                await multipart.upload(buffer)
            await multipart.complete()
        except BaseException:
            if multipart is not None:
                await _quietly(multipart.abort(), "abort a multipart upload")
            raise
        await self._move(multipart.key, blob.sha256)
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
        if start >= stop:  # S3 has no empty range
            return
        s3 = await self._s3()
        try:
            response = await s3.get_object(
                Bucket=self.bucket, Key=content_key(sha256), Range=f"bytes={start}-{stop - 1}"
            )
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise BlobNotFound(sha256) from None
            raise
        async with response["Body"] as body:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                yield chunk

    async def size(self, sha256: str) -> int | None:
        head = await self._head(content_key(sha256))
        return None if head is None else head["ContentLength"]

    async def exists(self, sha256: str) -> bool:
        return await self.size(sha256) is not None

    async def delete(self, sha256: str) -> bool:
        if not await self.exists(sha256):
            return False
        await (await self._s3()).delete_object(Bucket=self.bucket, Key=content_key(sha256))
        return True

    # -- resumable uploads ---------------------------------------------------------------

    async def begin_upload(self, max_bytes: int) -> str:
        _check_limit(max_bytes)
        upload_id = secrets.token_hex(16)
        multipart = await self._create_multipart(_upload_key(upload_id, "data"))
        meta = _UploadMeta(multipart.upload_id, max_bytes)
        body = json.dumps({"multipart_id": meta.multipart_id, "max_bytes": max_bytes}).encode()
        s3 = await self._s3()
        try:
            await s3.put_object(Bucket=self.bucket, Key=_upload_key(upload_id, "meta"), Body=body)
        except BaseException:
            await _quietly(multipart.abort(), "abort a multipart upload")
            raise
        self._metas[upload_id] = meta
        self._hashing[upload_id] = PartialHash()
        return upload_id

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        with self._exclusive(upload_id):
            meta = await self._meta(upload_id)
            multipart, tail = await self._progress(upload_id, meta)
            current = multipart.total + tail
            if offset != current:
                raise UploadOffsetMismatch(offset=current, given=offset)
            # Out of the map while it runs ahead of S3; back only when S3 holds what it hashed.
            hashing = self._hashing.pop(upload_id, None)
            if hashing is not None and hashing.offset != current:
                hashing = None
            buffer = await self._read_tail(upload_id) if tail else io.BytesIO()
            received = current
            kept = False
            try:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > meta.max_bytes:
                        await _quietly(self._discard(upload_id, meta), "discard an upload")
                        raise TooLarge(meta.max_bytes)
                    if hashing is not None:
                        hashing.hasher.update(chunk)
                    buffer.write(chunk)
                    if buffer.tell() >= self.part_size:
                        await multipart.upload(buffer)
                        buffer = io.BytesIO()
                await self._save_tail(upload_id, multipart.total, buffer)
                kept = True
                return received
            except TooLarge:
                raise
            except BaseException:
                # The stream broke off (or S3 failed): keep what arrived, if S3 lets us.
                kept = await _quietly(
                    self._save_tail(upload_id, multipart.total, buffer), "keep an upload's tail"
                )
                raise
            finally:
                if kept and hashing is not None:
                    hashing.offset = received
                    self._hashing[upload_id] = hashing

    async def upload_offset(self, upload_id: str) -> int:
        meta = await self._meta(upload_id)
        multipart, tail = await self._progress(upload_id, meta)
        return multipart.total + tail

    async def finish(self, upload_id: str) -> StoredBlob:
        with self._exclusive(upload_id):
            meta = await self._meta(upload_id)
            data_key = _upload_key(upload_id, "data")
            hashing = self._hashing.pop(upload_id, None)
            try:
                multipart, tail = await self._progress(upload_id, meta, gone_ok=True)
            except _MultipartGone:
                # A finish that stopped after completing the multipart upload: go on from there.
                head = await self._head(data_key)
                if head is None:  # aborted (by another process)
                    self._metas.pop(upload_id, None)
                    raise UploadNotFound() from None
                size = head["ContentLength"]
            else:
                size = multipart.total + tail
                if tail:
                    await multipart.upload(await self._read_tail(upload_id))
                if not multipart.parts:  # S3 cannot complete a multipart upload of no part
                    return await self._finish_empty(upload_id, meta)
                await multipart.complete()
            if hashing is not None and hashing.offset == size:
                sha256 = hashing.hasher.hexdigest()
            else:
                sha256 = await self._hash_object(data_key)
            await self._move(data_key, sha256)
            await self._remove_upload_objects(upload_id)
            return StoredBlob(sha256, size)

    async def abort(self, upload_id: str) -> bool:
        try:
            with self._exclusive(check_upload_id(upload_id)):
                self._metas.pop(upload_id, None)  # read it from S3: is the upload still there?
                meta = await self._meta(upload_id)
                await self._discard(upload_id, meta)
        except UploadNotFound:
            return False
        return True

    async def purge_stale(self, now: float, *, temp_idle: float, upload_idle: float) -> int:
        """S3 does not say when a multipart upload was last used: one-shot temporaries
        (``tmp/<unix time>-<random>``) are aborted once older than ``max(temp_idle,
        upload_idle)``; a resumable upload once none of its objects changed for
        ``upload_idle``."""
        s3 = await self._s3()
        removed = 0
        temp_before = now - max(temp_idle, upload_idle)
        async for uploads in s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix="tmp/"
        ):
            for upload in uploads.get("Uploads", []):
                began = _temp_began(upload["Key"]) or upload["Initiated"].timestamp()
                if began < temp_before:
                    await _Multipart(s3, self.bucket, upload["Key"], upload["UploadId"]).abort()
                    removed += 1
        newest: dict[str, float] = {}
        async for objects in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="uploads/"
        ):
            for item in objects.get("Contents", []):
                upload_id = item["Key"].split("/")[1]
                stamp = item["LastModified"].timestamp()
                newest[upload_id] = max(newest.get(upload_id, 0.0), stamp)
        for upload_id, stamp in sorted(newest.items()):
            if stamp < now - upload_idle and upload_id not in self._busy:
                try:
                    removed += await self.abort(upload_id)
                except (UploadBusy, ValueError):
                    continue
        return removed

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _exclusive(self, upload_id: str) -> Iterator[None]:
        if upload_id in self._busy:
            raise UploadBusy()
        self._busy.add(upload_id)
        try:
            yield
        finally:
            self._busy.discard(upload_id)

    async def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return await (await self._s3()).head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise

    async def _create_multipart(self, key: str) -> _Multipart:
        s3 = await self._s3()
        response = await s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        return _Multipart(s3, self.bucket, key, response["UploadId"])

    async def _move(self, source_key: str, sha256: str) -> None:
        """Copy a temporary object to its content address (unless there already), drop it."""
        s3 = await self._s3()
        try:
            if not await self.exists(sha256):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=content_key(sha256),
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                )
        finally:
            await _quietly(
                s3.delete_object(Bucket=self.bucket, Key=source_key), "delete a temporary object"
            )

    async def _hash_object(self, key: str) -> str:
        response = await (await self._s3()).get_object(Bucket=self.bucket, Key=key)
        hasher = hashlib.sha256()
        async with response["Body"] as body:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest()

    async def _meta(self, upload_id: str) -> _UploadMeta:
        meta = self._metas.get(check_upload_id(upload_id))
        if meta is not None:
            return meta
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=_upload_key(upload_id, "meta"))
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise UploadNotFound() from None
            raise
        async with response["Body"] as body:
            document = json.loads(await body.read())
        meta = _UploadMeta(str(document["multipart_id"]), int(document["max_bytes"]))
        self._metas[upload_id] = meta
        return meta

    async def _progress(
        self, upload_id: str, meta: _UploadMeta, *, gone_ok: bool = False
    ) -> tuple[_Multipart, int]:
        """The multipart upload with the parts S3 holds, and the size of a valid tail."""
        s3 = await self._s3()
        multipart = _Multipart(s3, self.bucket, _upload_key(upload_id, "data"), meta.multipart_id)
        marker = 0
        while True:
            try:
                response = await s3.list_parts(
                    Bucket=self.bucket,
                    Key=multipart.key,
                    UploadId=multipart.upload_id,
                    PartNumberMarker=marker,
                )
            except ClientError as error:
                if _code(error) != "NoSuchUpload":
                    raise
                if gone_ok:
                    raise _MultipartGone() from None
                self._metas.pop(upload_id, None)
                raise UploadNotFound() from None
            multipart.parts.extend(
                _Part(p["PartNumber"], p["ETag"], p["Size"]) for p in response.get("Parts", [])
            )
            if not response.get("IsTruncated"):
                break
            marker = response["NextPartNumberMarker"]
        if [p.number for p in multipart.parts] != list(range(1, len(multipart.parts) + 1)):
            raise RuntimeError(f"upload {upload_id}: parts are not numbered 1..n")
        head = await self._head(_upload_key(upload_id, "tail"))
        if head is None or head.get("Metadata", {}).get("start") != str(multipart.total):
            return multipart, 0
        return multipart, head["ContentLength"]

    async def _read_tail(self, upload_id: str) -> io.BytesIO:
        """The tail in a buffer positioned at its end, to write on."""
        s3 = await self._s3()
        response = await s3.get_object(Bucket=self.bucket, Key=_upload_key(upload_id, "tail"))
        async with response["Body"] as body:
            buffer = io.BytesIO(await body.read())
        buffer.seek(0, io.SEEK_END)
        return buffer

    async def _save_tail(self, upload_id: str, start: int, buffer: io.BytesIO) -> None:
        s3 = await self._s3()
        key = _upload_key(upload_id, "tail")
        if buffer.getbuffer().nbytes:  # not tell(): a failed upload_part may have moved it
            await s3.put_object(
                Bucket=self.bucket, Key=key, Body=_rewound(buffer), Metadata={"start": str(start)}
            )
        else:  # any tail there is stale (its bytes are in the parts): tidy, needed or not
            await _quietly(s3.delete_object(Bucket=self.bucket, Key=key), "delete a stale tail")

    async def _finish_empty(self, upload_id: str, meta: _UploadMeta) -> StoredBlob:
        blob = StoredBlob(hashlib.sha256().hexdigest(), 0)
        if not await self.exists(blob.sha256):
            s3 = await self._s3()
            await s3.put_object(Bucket=self.bucket, Key=content_key(blob.sha256), Body=b"")
        await self._discard(upload_id, meta)
        return blob

    async def _discard(self, upload_id: str, meta: _UploadMeta) -> None:
        s3 = await self._s3()
        await _Multipart(s3, self.bucket, _upload_key(upload_id, "data"), meta.multipart_id).abort()
        await s3.delete_object(Bucket=self.bucket, Key=_upload_key(upload_id, "data"))
        await self._remove_upload_objects(upload_id)

    async def _remove_upload_objects(self, upload_id: str) -> None:
        """Tail, then meta: once the meta is gone, the upload is."""
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=_upload_key(upload_id, "tail"))
        await s3.delete_object(Bucket=self.bucket, Key=_upload_key(upload_id, "meta"))
        self._metas.pop(upload_id, None)
        self._hashing.pop(upload_id, None)


def _temp_key() -> str:
    """Where a one-shot store assembles its parts; the key carries its start time (S3
    compatible stores do not all report a multipart upload's start faithfully)."""
    return f"tmp/{int(time.time())}-{secrets.token_hex(16)}"


def _temp_began(key: str) -> float | None:
    stamp, _, rest = key.removeprefix("tmp/").partition("-")
    return float(stamp) if stamp.isascii() and stamp.isdigit() and rest else None


def _upload_key(upload_id: str, name: str) -> str:
    return f"uploads/{check_upload_id(upload_id)}/{name}"


def _check_limit(max_bytes: int) -> None:
    check_max_bytes(max_bytes)
    if max_bytes > COPY_LIMIT:
        raise ValueError(
            f"S3BlobStore keeps files up to 5 GiB (one CopyObject); max_bytes={max_bytes}"
        )


def _rewound(buffer: io.BytesIO) -> io.BytesIO:
    """The buffer to send as a body. A file object, not bytes: aiohttp warns that a large
    bytes body is written in one go, blocking the event loop, and copying it would double it."""
    buffer.seek(0)
    return buffer


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def _quietly(operation: Awaitable[Any], what: str) -> bool:
    """Await a clean-up step whose failure must not hide the error being handled."""
    try:
        await operation
    except Exception:
        log.warning("could not %s", what, exc_info=True)
        return False
    return True
