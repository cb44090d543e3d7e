"""Backups that restore with the evidence chain intact: `backup` writes a snapshot into a
backup directory, `restore` brings one back into an empty deployment.

A backup directory holds any number of snapshots and one content-addressed store of bytes
that they share::

    DEST/blobs/sha256/ab/cd/<sha256>          every evidence blob and recording, once
    DEST/snapshots/<UTC time>/manifest.json   what the snapshot holds, with every hash
    DEST/snapshots/<UTC time>/database.sqlite3 | database.dump
    DEST/LATEST                               the name of the newest complete snapshot

The database is copied first, consistently (SQLite's online backup API; ``pg_dump`` in one
transaction for PostgreSQL); then every blob the database refers to (evidence items whose
bytes are kept, hearing recordings) is streamed from the blob store, hashed on the way and
kept under its hash. A blob already in ``DEST/blobs`` with its size is not copied again, so a
second backup of a large store copies only what is new. Bytes whose hash is not their name
are not kept and the manifest names them. Everything moves in chunks of `CHUNK`: memory does
not grow with the size of the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from odr.domain.cases import EventKind
from odr.domain.errors import Conflict, NotFound
from odr.storage.blobs import BlobNotFound, BlobStore, TooLarge, content_key
from odr.storage.models import CaseEventRow, HearingRecording

FORMAT = "odr-backup/1"
CHUNK = 1024 * 1024
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Blob:
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Recording:
    path: str  # below the recordings directory
    sha256: str
    size: int


@dataclass
class BackupReport:
    snapshot: Path
    blobs: int = 0
    copied: int = 0
    reused: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """MB/s of the bytes copied."""
        return self.bytes_copied / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RestoreReport:
    snapshot: Path
    blobs: int = 0
    recordings: int = 0
    bytes_restored: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class NotEmpty(Conflict):
    code = "restore_target_not_empty"


class NoSnapshot(NotFound):
    code = "backup_not_found"


# --- what the database refers to ------------------------------------------------------------


async def kept_blobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Blob]:
    """Every blob an evidence item refers to whose bytes are kept (not purged under the
    retention rule; withdrawn items keep theirs)."""
    kinds = (EventKind.EVIDENCE_ADDED.value, EventKind.EVIDENCE_PURGED.value)
    stmt = (
        select(CaseEventRow.case_id, CaseEventRow.sequence, CaseEventRow.kind, CaseEventRow.payload)
        .where(CaseEventRow.kind.in_(kinds))
        .order_by(CaseEventRow.case_id, CaseEventRow.sequence)
    )
    added: dict[tuple[int, int], Blob] = {}
    purged: set[tuple[int, int]] = set()
    async with sessionmaker() as s:
        for case_id, sequence, kind, payload in (await s.execute(stmt)).all():
            if kind == EventKind.EVIDENCE_ADDED.value:
                added[(case_id, sequence)] = Blob(payload["sha256"], int(payload["size"]))
            else:
                purged |= {(case_id, int(i["sequence"])) for i in payload["items"]}
    unique = {b.sha256: b for key, b in added.items() if key not in purged}
    return sorted(unique.values(), key=lambda b: b.sha256)


async def recordings(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Recording]:
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                select(HearingRecording.path, HearingRecording.sha256, HearingRecording.size)
            )
        ).all()
    return sorted((Recording(p, sha, int(size)) for p, sha, size in rows), key=lambda r: r.path)


# --- the database ---------------------------------------------------------------------------


def database_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as the PostgreSQL client tools read it (no driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while the server writes."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def _sqlite_load(source: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(source, target)


class ToolFailed(RuntimeError):
    """``pg_dump`` or ``pg_restore`` is missing or failed; the message says why."""


async def _run(*command: str) -> None:
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except FileNotFoundError:
        raise ToolFailed(
            f"{command[0]} is not installed: install the PostgreSQL client tools of the "
            "server's major version or newer"
        ) from None
    _, err = await process.communicate()
    if process.returncode != 0:
        raise ToolFailed(f"{command[0]} failed: {err.decode(errors='replace').strip()}")


async def dump_database(url: str, target: Path) -> None:
    if database_kind(url) == "sqlite":
        await asyncio.to_thread(_sqlite_copy, sqlite_path(url), target)
    else:  # one transaction: a consistent snapshot while the nodes write
        await _run("pg_dump", "--format=custom", "--no-owner", f"--file={target}", libpq_url(url))


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        if "alembic_version" not in tables:
            return None
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()


async def database_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return not tables


async def load_database(url: str, engine: AsyncEngine, source: Path) -> None:
    """The dump into an empty database (refused otherwise: nothing is overwritten)."""
    if database_kind(url) == "sqlite":
        target = sqlite_path(url)
        if target.exists() and target.stat().st_size > 0 and not await database_is_empty(engine):
            raise NotEmpty(f"The database {target} is not empty.")
        await engine.dispose()
        await asyncio.to_thread(_sqlite_load, source, target)
        return
    if not await database_is_empty(engine):
        raise NotEmpty("The database is not empty; restore into a new one.")
    await _run(
        "pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(url)}", str(source)
    )


# --- files ----------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk


async def _keep(chunks: AsyncIterator[bytes], root: Path, expected: Blob) -> int | str:
    """Write the stream under ``root`` at its content address if it hashes to ``expected``;
    the bytes written, or what was wrong (nothing is kept then)."""
    final = root / content_key(expected.sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.part")
    digest, size = hashlib.sha256(), 0
    try:
        with temporary.open("wb") as fh:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(os.fsync, fh.fileno())
        if digest.hexdigest() != expected.sha256 or size != expected.size:
            return f"altered (its bytes hash to {digest.hexdigest()}, {size} bytes)"
        os.replace(temporary, final)
        return size
    finally:
        temporary.unlink(missing_ok=True)


def _present(root: Path, blob: Blob) -> bool:
    path = root / content_key(blob.sha256)
    try:
        return path.stat().st_size == blob.size
    except FileNotFoundError:
        return False


# --- backup ---------------------------------------------------------------------------------


async def backup(
    *,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: BlobStore,
    recordings_dir: Path,
    dest: Path,
    revision: str | None,
    blob_store_kind: str,
    progress: Progress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupReport:
    """Write a snapshot into ``dest`` (see the module); problems are listed, not raised."""
    started = time.monotonic()
    say = progress or (lambda _line: None)
    name = now().strftime("%Y%m%dT%H%M%S%fZ")
    snapshot = dest / "snapshots" / name
    snapshot.mkdir(parents=True)
    kind = database_kind(database_url)
    database_file = snapshot / DATABASE_FILES[kind]
    say(f"database ({kind}) → {database_file}")
    await dump_database(database_url, database_file)
    report = BackupReport(snapshot)
    blobs = await kept_blobs(sessionmaker)
    recorded = await recordings(sessionmaker)
    root = dest / "blobs"
    by_hash = {b.sha256: b for b in blobs}
    for r in recorded:  # a recording is normally an evidence blob too; if not, its file
        by_hash.setdefault(r.sha256, Blob(r.sha256, r.size))
    from_files = {r.sha256: r for r in recorded if r.sha256 not in {b.sha256 for b in blobs}}
    report.blobs = len(by_hash)
    say(f"{len(by_hash)} blobs ({sum(b.size for b in by_hash.values())} bytes)")
    for blob in by_hash.values():
        if _present(root, blob):
            report.reused += 1
            continue
        result = await _copy_in(store, recordings_dir, from_files.get(blob.sha256), blob, root)
        if isinstance(result, str):
            report.problems.append(f"blob {blob.sha256}: {result}")
            continue
        report.copied += 1
        report.bytes_copied += result
    report.seconds = time.monotonic() - started
    manifest = {
        "format": FORMAT,
        "created_at": now().isoformat(),
        "schema_revision": revision,
        "database": {
            "kind": kind,
            "file": database_file.name,
            "sha256": await asyncio.to_thread(_sha256_file, database_file),
            "size": database_file.stat().st_size,
        },
        "blob_store": blob_store_kind,
        "blobs": [{"sha256": b.sha256, "size": b.size} for b in by_hash.values()],
        "recordings": [{"path": r.path, "sha256": r.sha256, "size": r.size} for r in recorded],
        "copied": {
            "blobs": report.copied,
            "reused": report.reused,
            "bytes": report.bytes_copied,
            "seconds": round(report.seconds, 3),
            "mb_per_s": round(report.throughput, 1),
        },
        "problems": report.problems,
    }
    (snapshot / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    if not report.problems:
        (dest / "LATEST").write_text(name + "\n", encoding="utf-8")
    return report


async def _copy_in(
    store: BlobStore, recordings_dir: Path, file: Recording | None, blob: Blob, root: Path
) -> int | str:
    if file is not None:
        path = recordings_dir / file.path
        if not path.is_file():
            return f"missing (recording {file.path})"
        return await _keep(_file_chunks(path), root, blob)
    try:
        stream = await store.open_range(blob.sha256)
    except BlobNotFound:
        return "missing from the blob store"
    async with aclosing(stream):
        return await _keep(stream, root, blob)


def prune(dest: Path, keep: int) -> tuple[int, int]:
    """Keep the ``keep`` newest snapshots; delete the older ones and every blob no kept
    snapshot lists (so bytes deleted under the retention rule leave the backups too).
    Returns (snapshots deleted, blobs deleted)."""
    if keep < 1:
        raise ValueError("keep at least one snapshot")
    snapshots = sorted((dest / "snapshots").iterdir())
    complete = [p for p in snapshots if (p / "manifest.json").is_file()]
    kept = complete[-keep:]
    gone = [p for p in snapshots if p not in kept]
    for path in gone:
        shutil.rmtree(path)
    listed = {
        b["sha256"]
        for snapshot in kept
        for b in json.loads((snapshot / "manifest.json").read_text("utf-8"))["blobs"]
    }
    removed = 0
    root = dest / "blobs" / "sha256"
    for path in root.glob("*/*/*") if root.is_dir() else ():
        if path.name not in listed:
            path.unlink()
            removed += 1
    return len(gone), removed


# --- restore --------------------------------------------------------------------------------


def snapshot_of(source: Path) -> Path:
    """``source`` itself when it is a snapshot, else the newest complete one in it."""
    if (source / "manifest.json").is_file():
        return source
    latest = source / "LATEST"
    if not latest.is_file():
        raise NoSnapshot(f"No complete backup in {source}.")
    return source / "snapshots" / latest.read_text(encoding="utf-8").strip()


def read_manifest(snapshot: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((snapshot / "manifest.json").read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise NoSnapshot(f"{snapshot} is not an ODR backup ({manifest.get('format')!r}).")
    return manifest


def blobs_root(snapshot: Path) -> Path:
    return snapshot.parent.parent / "blobs"


async def restore(
    *,
    source: Path,
    database_url: str,
    engine: AsyncEngine,
    store: BlobStore,
    recordings_dir: Path,
    progress: Progress | None = None,
) -> RestoreReport:
    """Bring a snapshot back into an empty deployment: the database, then every blob into
    the blob store and every recording into the recordings directory, each checked against
    its hash on the way (a copy that is missing or altered is named, the rest goes on)."""
    started = time.monotonic()
    say = progress or (lambda _line: None)
    snapshot = snapshot_of(source)
    manifest = read_manifest(snapshot)
    report = RestoreReport(snapshot)
    database = manifest["database"]
    if database["kind"] != database_kind(database_url):
        raise Conflict(
            f"The backup holds a {database['kind']} database; this deployment uses "
            f"{database_kind(database_url)}.",
            code="restore_database_kind",
        )
    dump = snapshot / database["file"]
    if await asyncio.to_thread(_sha256_file, dump) != database["sha256"]:
        raise Conflict(f"{dump} does not match its hash in the manifest.", code="backup_altered")
    busy = [r["path"] for r in manifest["recordings"] if (recordings_dir / r["path"]).exists()]
    if busy:
        raise NotEmpty(f"The recordings directory already holds {busy[0]}.")
    say(f"database ← {dump}")
    await load_database(database_url, engine, dump)
    root = blobs_root(snapshot)
    for entry in manifest["blobs"]:
        blob = Blob(entry["sha256"], int(entry["size"]))
        path = root / content_key(blob.sha256)
        if not path.is_file():
            report.problems.append(f"blob {blob.sha256}: missing from the backup")
            continue
        try:
            stored = await store.put_stream(_file_chunks(path), max_bytes=blob.size)
        except TooLarge:
            report.problems.append(f"blob {blob.sha256}: altered in the backup (larger)")
            continue
        if stored.sha256 != blob.sha256:  # altered in the backup: not an evidence blob
            await store.delete(stored.sha256)
            report.problems.append(f"blob {blob.sha256}: altered in the backup")
            continue
        report.blobs += 1
        report.bytes_restored += stored.size
    for entry in manifest["recordings"]:
        recording = Recording(entry["path"], entry["sha256"], int(entry["size"]))
        problem = await _restore_recording(root, recordings_dir, recording)
        if problem:
            report.problems.append(problem)
        else:
            report.recordings += 1
    report.seconds = time.monotonic() - started
    return report


async def _restore_recording(root: Path, recordings_dir: Path, r: Recording) -> str | None:
    source = root / content_key(r.sha256)
    if not source.is_file():
        return f"recording {r.path}: missing from the backup"
    target = recordings_dir / r.path
    target.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copyfile, source, target)
    if await asyncio.to_thread(_sha256_file, target) != r.sha256:
        target.unlink()
        return f"recording {r.path}: altered in the backup"
    return None
