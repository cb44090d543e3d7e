"""Blob stores, each test on both backends: a local directory, and S3 on a moto server that the
tests start in this process (skipped when moto is not installed, failed in CI)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import random
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from odr.storage.blobs import (
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    RangeNotSatisfiable,
    StoredBlob,
    TooLarge,
    UploadBusy,
    UploadNotFound,
    UploadOffsetMismatch,
    content_key,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
MiB = 1024 * 1024
#: S3's smallest part size, used by the S3 store under test so that few bytes make parts.
PART = 5 * MiB
#: Two full parts and a tail on S3; a dozen chunk writes in the local store.
BIG = 2 * PART + 123_457


def content(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def broken_stream(data: bytes, fail_after: int) -> AsyncIterator[bytes]:
    """A client whose connection drops after sending ``fail_after`` bytes of ``data``."""
    async for chunk in stream(data[:fail_after]):
        yield chunk
    raise ConnectionResetError("connection lost")


async def read_all(store: BlobStore, sha: str, start: int = 0, end: int | None = None) -> bytes:
    async with aclosing(await store.open_range(sha, start, end)) as chunks:
        return b"".join([chunk async for chunk in chunks])


# -- backends --------------------------------------------------------------------------------


class Backend:
    """One storage (a directory or a bucket) and the store objects made on it."""

    def __init__(self, name: str, make: Callable[[], BlobStore]) -> None:
        self.name = name
        self._make = make
        self._stores: list[BlobStore] = []

    def store(self) -> BlobStore:
        """A new store object on the same storage: what a server restart gives."""
        store = self._make()
        self._stores.append(store)
        return store

    async def leftovers(self) -> list[str]:
        """Every file or object in the storage, and every S3 multipart upload in progress."""
        raise NotImplementedError

    async def close(self) -> None:
        for store in self._stores:
            await store.close()


class LocalBackend(Backend):
    def __init__(self, root: Path) -> None:
        super().__init__("local", lambda: LocalBlobStore(root))
        self.root = root

    async def leftovers(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )


class S3Backend(Backend):
    def __init__(self, endpoint: str, bucket: str, client: Any) -> None:
        from odr.storage.blobs.s3 import S3BlobStore

        super().__init__(
            "s3",
            lambda: S3BlobStore(endpoint, bucket, "test", "test", part_size=PART),
        )
        self.bucket = bucket
        self.client = client

    async def leftovers(self) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        uploads = await self.client.list_multipart_uploads(Bucket=self.bucket)
        keys.extend(f"multipart:{item['Key']}" for item in uploads.get("Uploads", []))
        return sorted(keys)


def s3_modules_or_skip() -> None:
    try:
        import aiobotocore  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as error:
        if IN_CI:
            pytest.fail(f"the S3 blob store must be tested in CI: {error}")
        pytest.skip(f"S3 blob store not tested: {error} (install moto[server] and aiobotocore)")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    s3_modules_or_skip()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@asynccontextmanager
async def s3_backend_on(endpoint: str) -> AsyncIterator[S3Backend]:
    """A new bucket on the moto server."""
    from aiobotocore.session import get_session

    bucket = f"odr-test-{uuid.uuid4().hex[:12]}"
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ) as client:
        await client.create_bucket(Bucket=bucket)
        s3 = S3Backend(endpoint, bucket, client)
        try:
            yield s3
        finally:
            await s3.close()


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        local = LocalBackend(tmp_path / "blobs")
        yield local
        await local.close()
        return
    async with s3_backend_on(request.getfixturevalue("s3_endpoint")) as s3:
        yield s3


@pytest.fixture
async def s3_backend(s3_endpoint: str) -> AsyncIterator[S3Backend]:
    async with s3_backend_on(s3_endpoint) as s3:
        yield s3


# -- put, read, delete -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1000, BIG])
async def test_put_stream_stores_at_the_content_address(backend: Backend, size: int) -> None:
    data = content(size)
    store = backend.store()

    blob = await store.put_stream(stream(data, 100_003), max_bytes=size)

    assert blob == StoredBlob(sha256(data), size)
    assert await store.exists(blob.sha256)
    assert await store.size(blob.sha256) == size
    assert await read_all(store, blob.sha256) == data
    assert await backend.leftovers() == [content_key(blob.sha256)]
    assert content_key(blob.sha256) == f"sha256/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"


async def test_same_content_is_stored_once(backend: Backend) -> None:
    data = content(BIG)
    store = backend.store()

    first = await store.put_stream(stream(data), max_bytes=BIG)
    second = await backend.store().put_stream(stream(data, 7_777), max_bytes=BIG)

    assert first == second
    assert await backend.leftovers() == [content_key(first.sha256)]
    assert await read_all(store, first.sha256) == data


@pytest.mark.parametrize("size", [1000, BIG])
async def test_too_large_raises_and_stores_nothing(backend: Backend, size: int) -> None:
    store = backend.store()

    with pytest.raises(TooLarge) as raised:
        await store.put_stream(stream(content(size)), max_bytes=size - 1)

    assert raised.value.code == "file_too_large"
    assert raised.value.details == {"max_bytes": size - 1}
    assert await backend.leftovers() == []
    assert not await store.exists(sha256(content(size)))


async def test_a_failing_stream_stores_nothing(backend: Backend) -> None:
    with pytest.raises(ConnectionResetError):
        await backend.store().put_stream(broken_stream(content(BIG), PART + 1), max_bytes=BIG)

    assert await backend.leftovers() == []


class Paced:
    """A slow client: sends ``data`` in small chunks, counting what it sent."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = 0

    async def __call__(self) -> AsyncIterator[bytes]:
        async for chunk in stream(self.data, 256 * 1024):
            self.sent += len(chunk)
            yield chunk
            await asyncio.sleep(0.002)

    async def until(self, sent: int) -> None:
        while self.sent < sent:
            await asyncio.sleep(0.005)


async def cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_put_stores_nothing(backend: Backend) -> None:
    client = Paced(content(4 * PART))
    task = asyncio.create_task(backend.store().put_stream(client(), max_bytes=4 * PART))
    await client.until(PART + 2 * MiB)

    await cancel(task)

    assert await backend.leftovers() == []


async def test_a_cancelled_append_leaves_an_upload_to_resume(backend: Backend) -> None:
    data = content(3 * PART)
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=len(data))
    client = Paced(data)
    task = asyncio.create_task(store.append(upload_id, 0, client()))
    await client.until(PART + 2 * MiB)

    await cancel(task)

    offset = await store.upload_offset(upload_id)
    assert 0 < offset <= client.sent
    await store.append(upload_id, offset, stream(data[offset:]))
    assert await store.finish(upload_id) == StoredBlob(sha256(data), len(data))


async def test_range_reads(backend: Backend) -> None:
    data = content(3 * MiB + 17)
    store = backend.store()
    blob = await store.put_stream(stream(data), max_bytes=len(data))
    n = len(data)

    assert await read_all(store, blob.sha256, 0, 10) == data[:10]
    assert await read_all(store, blob.sha256, 1000, 2_500_000) == data[1000:2_500_000]
    assert await read_all(store, blob.sha256, n - 1, n) == data[-1:]
    assert await read_all(store, blob.sha256, 2 * MiB + 5) == data[2 * MiB + 5 :]
    assert await read_all(store, blob.sha256, n - 5, n + 1000) == data[-5:]
    assert await read_all(store, blob.sha256, n) == b""
    assert await read_all(store, blob.sha256, 10, 10) == b""
    chunks = await store.open_range(blob.sha256)
    assert max([len(c) async for c in chunks]) <= MiB

    for start, end in [(n + 1, None), (-1, 10), (10, 9)]:
        with pytest.raises(RangeNotSatisfiable) as raised:
            await store.open_range(blob.sha256, start, end)
        assert raised.value.size == n
    with pytest.raises(BlobNotFound):
        await store.open_range(sha256(b"missing"))


async def test_delete(backend: Backend) -> None:
    store = backend.store()
    blob = await store.put_stream(stream(b"evidence"), max_bytes=100)

    assert await store.delete(blob.sha256) is True

    assert await store.delete(blob.sha256) is False
    assert not await store.exists(blob.sha256)
    assert await store.size(blob.sha256) is None
    with pytest.raises(BlobNotFound):
        await store.open_range(blob.sha256)
    assert await backend.leftovers() == []


# -- resumable uploads -----------------------------------------------------------------------


@pytest.mark.parametrize("restarts", [False, True])
async def test_resumable_upload_ends_with_the_same_hash(backend: Backend, restarts: bool) -> None:
    data = content(BIG + 3 * MiB)
    # Cuts that leave a tail, cross a part boundary, and land just past one.
    cuts = [0, 3 * MiB, 3 * MiB + PART + 1, len(data)]
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=len(data))

    for start, stop in itertools.pairwise(cuts):
        if restarts:
            store = backend.store()
        assert await store.upload_offset(upload_id) == start
        assert await store.append(upload_id, start, stream(data[start:stop], 100_003)) == stop
    if restarts:
        store = backend.store()
    blob = await store.finish(upload_id)

    assert blob == await backend.store().put_stream(stream(data), max_bytes=len(data))
    assert blob == StoredBlob(sha256(data), len(data))
    assert await read_all(store, blob.sha256) == data
    assert await backend.leftovers() == [content_key(blob.sha256)]
    with pytest.raises(UploadNotFound):
        await store.upload_offset(upload_id)


async def test_interrupted_append_resumes_where_it_stopped(backend: Backend) -> None:
    data = content(BIG)
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=len(data))
    sent = PART + 3 * MiB + 1234

    with pytest.raises(ConnectionResetError):
        await store.append(upload_id, 0, broken_stream(data, sent))
    store = backend.store()  # and the server restarts
    offset = await store.upload_offset(upload_id)
    assert 0 < offset <= sent
    await store.append(upload_id, offset, stream(data[offset:]))
    blob = await backend.store().finish(upload_id)

    assert blob == StoredBlob(sha256(data), len(data))
    assert await read_all(store, blob.sha256) == data
    assert await backend.leftovers() == [content_key(blob.sha256)]


async def test_interrupted_append_without_restart(backend: Backend) -> None:
    data = content(2 * MiB + 5)
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=len(data))

    with pytest.raises(ConnectionResetError):
        await store.append(upload_id, 0, broken_stream(data, MiB + 3000))
    offset = await store.upload_offset(upload_id)
    await store.append(upload_id, offset, stream(data[offset:]))

    assert await store.finish(upload_id) == StoredBlob(sha256(data), len(data))


async def test_append_at_a_wrong_offset_is_refused(backend: Backend) -> None:
    data = content(1000)
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=1000)
    await store.append(upload_id, 0, stream(data[:400]))

    for wrong in (0, 399, 401, 2000):
        with pytest.raises(UploadOffsetMismatch) as raised:
            await store.append(upload_id, wrong, stream(data[400:]))
        assert raised.value.code == "upload_offset_mismatch"
        assert raised.value.offset == 400
        assert raised.value.details == {"offset": 400, "given": wrong}

    assert await store.append(upload_id, 400, stream(data[400:])) == 1000
    assert await store.finish(upload_id) == StoredBlob(sha256(data), 1000)


async def test_an_upload_growing_past_its_limit_is_discarded(backend: Backend) -> None:
    data = content(PART + MiB)
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=len(data) - 1)
    await store.append(upload_id, 0, stream(data[: PART + 10]))

    with pytest.raises(TooLarge) as raised:
        await store.append(upload_id, PART + 10, stream(data[PART + 10 :]))

    assert raised.value.code == "file_too_large"
    assert await backend.leftovers() == []
    with pytest.raises(UploadNotFound):
        await store.upload_offset(upload_id)
    with pytest.raises(UploadNotFound):
        await store.finish(upload_id)


async def test_abort_removes_the_upload(backend: Backend) -> None:
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=BIG)
    await store.append(upload_id, 0, stream(content(PART + 1)))

    assert await backend.store().abort(upload_id) is True

    assert await backend.leftovers() == []
    assert await store.abort(upload_id) is False
    for operation in (
        store.upload_offset(upload_id),
        store.append(upload_id, PART + 1, stream(b"more")),
        store.finish(upload_id),
    ):
        with pytest.raises(UploadNotFound):
            await operation


async def test_an_empty_upload(backend: Backend) -> None:
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=10)

    assert await store.append(upload_id, 0, stream(b"")) == 0
    blob = await backend.store().finish(upload_id)

    assert blob == StoredBlob(sha256(b""), 0)
    assert await read_all(store, blob.sha256) == b""
    assert await backend.leftovers() == [content_key(blob.sha256)]


async def test_one_operation_at_a_time_per_upload(backend: Backend) -> None:
    store = backend.store()
    upload_id = await store.begin_upload(max_bytes=100)
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"abc"
        await release.wait()
        yield b"def"

    first = asyncio.create_task(store.append(upload_id, 0, slow()))
    await asyncio.sleep(0.2)
    with pytest.raises(UploadBusy) as raised:
        await store.append(upload_id, 0, stream(b"xyz"))
    assert raised.value.code == "upload_busy"
    with pytest.raises(UploadBusy):
        await store.finish(upload_id)
    release.set()

    assert await first == 6
    assert await store.finish(upload_id) == StoredBlob(sha256(b"abcdef"), 6)


@pytest.mark.parametrize("upload_id", ["0" * 32, "../../sha256", "ABC"])
async def test_unknown_uploads(backend: Backend, upload_id: str) -> None:
    store = backend.store()
    for operation in (
        store.upload_offset(upload_id),
        store.append(upload_id, 0, stream(b"x")),
        store.finish(upload_id),
    ):
        with pytest.raises(UploadNotFound):
            await operation
    assert await store.abort(upload_id) is False


# -- one backend -----------------------------------------------------------------------------


async def test_local_layout_and_permissions(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = LocalBlobStore(root)
    blob = await store.put_stream(stream(b"a letter"), max_bytes=100)
    upload_id = await store.begin_upload(max_bytes=100)

    path = root / content_key(blob.sha256)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (root, path.parent, path.parent.parent, root / "sha256", root / "uploads"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "uploads" / upload_id / "data").stat().st_mode) == 0o600
    assert list((root / "tmp").iterdir()) == []


async def test_s3_refuses_limits_beyond_one_copy(s3_backend: S3Backend) -> None:
    store = s3_backend.store()

    with pytest.raises(ValueError, match="5 GiB"):
        await store.put_stream(stream(b"x"), max_bytes=5 * 1024**3 + 1)
    with pytest.raises(ValueError, match="5 GiB"):
        await store.begin_upload(max_bytes=5 * 1024**3 + 1)


MEMORY_PROBE = """
import asyncio, hashlib, json, resource, sys, time
from pathlib import Path
from odr.storage.blobs import LocalBlobStore

TOTAL, CHUNK = int(sys.argv[2]), 64 * 1024
BLOCK = bytes(range(256)) * (CHUNK // 256)

async def chunks(total):
    for i in range(total // CHUNK):
        yield i.to_bytes(8, "big") + BLOCK[8:]  # a new object each time, as from a socket

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    store = LocalBlobStore(Path(sys.argv[1]))
    await store.put_stream(chunks(4 * 1024 * 1024), max_bytes=TOTAL)  # warm up threads
    expected = hashlib.sha256()
    async for chunk in chunks(TOTAL):
        expected.update(chunk)
    before, started = peak_kib(), time.perf_counter()
    blob = await store.put_stream(chunks(TOTAL), max_bytes=TOTAL)
    seconds = time.perf_counter() - started
    print(json.dumps({"growth_kib": peak_kib() - before, "seconds": seconds,
                      "ok": blob.sha256 == expected.hexdigest() and blob.size == TOTAL}))

asyncio.run(main())
"""


def test_local_put_stream_memory_stays_flat(tmp_path: Path) -> None:
    """256 MiB streamed through put_stream in a fresh process: its peak RSS grows < 64 MiB."""
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "blobs"), str(256 * MiB)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"]
    assert report["growth_kib"] < 64 * 1024, report


# -- leftovers of crashed work ----------------------------------------------------------------

DAY = 24 * 3600.0
PURGE = {"temp_idle": 900.0, "upload_idle": 7 * DAY}


async def dead_put(backend: Backend) -> None:
    """What a process killed during ``put_stream`` leaves: a temporary file or multipart."""
    if isinstance(backend, LocalBackend):
        (backend.root / "tmp").mkdir(parents=True, exist_ok=True)
        (backend.root / "tmp" / "put-dead1234").write_bytes(b"x" * 1000)
    else:
        assert isinstance(backend, S3Backend)
        key = f"tmp/{int(time.time())}-dead1234"
        await backend.client.create_multipart_upload(Bucket=backend.bucket, Key=key)


async def test_stale_leftovers_are_purged_and_live_work_is_kept(backend: Backend) -> None:
    store = backend.store()
    kept = await store.put_stream(stream(content(1000, 7)), max_bytes=10_000)
    await dead_put(backend)
    stale = await store.begin_upload(10_000)
    await store.append(stale, 0, stream(content(100)))
    busy = await store.begin_upload(10_000)
    now = time.time()
    assert await store.purge_stale(now, **PURGE) == 0  # nothing is old yet
    # a week later: the dead temporary and the idle upload go; the one in use stays
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * 10
        await release.wait()
        yield b"b" * 10

    appending = asyncio.create_task(store.append(busy, 0, slow()))
    await asyncio.sleep(0.2)
    removed = await store.purge_stale(now + 8 * DAY, **PURGE)
    assert removed == 2
    release.set()
    assert await appending == 20
    finished = await store.finish(busy)
    assert finished.sha256 == sha256(b"a" * 10 + b"b" * 10)
    with pytest.raises(UploadNotFound):
        await store.upload_offset(stale)
    assert await read_all(store, kept.sha256) == content(1000, 7)
    left = await backend.leftovers()
    assert not [k for k in left if "tmp" in k or "uploads" in k], left
    assert await backend.store().purge_stale(now + 8 * DAY, **PURGE) == 0
