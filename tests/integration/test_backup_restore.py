"""The restore drill: a deployment with cases in many states, evidence, a recorded hearing
segment, a signed agreement and a daily digest is backed up, destroyed, restored into a new
database and storage directory (SQLite and PostgreSQL), and `odr verify-all` passes; a blob
removed or altered afterwards is named, and so is one damaged in the backup itself."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from odr.bootstrap import open_services
from odr.config import Settings
from odr.domain.accounts import Actor, Role
from odr.http.keys import HEARING_ROOM, SESSIONMAKER, SETTINGS
from odr.services.backup import backup, prune, restore, schema_revision
from odr.services.cases import TERMS_VERSION, ComplaintForm
from odr.services.digests import heads_at, record_digest
from odr.services.verification import verify_all
from odr.storage.blobs import content_key
from odr.storage.db import UnitOfWork, make_engine
from odr.storage.models import CaseEventRow, CaseRow, ChainEntryRow, Organisation, User
from tests import builders
from tests.builders import user_id
from tests.conftest import FAST_PASSWORDS, PG_URL, _database_url, sqlite_database
from tests.integration.conftest import seed
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, callers
from tests.integration.outcome_setup import settled_case
from tests.integration.test_blobs import s3_endpoint  # noqa: F401  (the moto server)


@dataclass(frozen=True)
class Segment:
    path: Path
    sha256: str
    size: int
    started_at: datetime
    ended_at: datetime


async def build_deployment(new_client: Any) -> dict[str, Any]:
    """Cases in seven states (awaiting_insurer, insurer_answered, mediation_requested,
    hearing_scheduled, not_settled, withdrawn, and closed after settling and payment),
    evidence, a recording, a signed agreement, a closing report, a daily digest."""
    case_id, people, app, _view = await settled_case(new_client)  # signed: agreement PDF
    c = callers(people)
    # paid, confirmed and closed: the closing report is evidence too
    base = f"/api/v1/cases/{case_id}"
    paid = {"amount_yuan": "3000", "paid_on": date.today().isoformat(), "reference": "TX-1"}
    await c[ANKANG_REP].post(f"{base}/payments", paid)
    await c[CONSUMER].post(f"{base}/payments/confirm")
    closed = await c[MEDIATOR].post(f"{base}/close")
    assert closed["state"] == "closed"
    for extra in (builders.filed_case, builders.answered_case, builders.mediation_case):
        await extra(c)
    withdrawn = await builders.filed_case(c)
    await c[CONSUMER].post(f"/api/v1/cases/{withdrawn}/actions/withdraw", {"reason": "不用了"})
    mediator = await user_id(app, MEDIATOR)
    hearing_id, scheduled = await builders.hearing_ahead(c, mediator)
    upload = await people[CONSUMER].client.post(
        f"/api/v1/cases/{scheduled}/evidence?name=invoice.txt&kind=document",
        data="医疗发票 8,000 元".encode(),
        headers={"X-CSRF-Token": people[CONSUMER].token, "Content-Type": "text/plain"},
    )
    assert upload.status == 201, await upload.text()
    # a closed recording segment, entered as the recorder enters one
    folder = Path(app[SETTINGS].recordings_dir) / str(hearing_id)
    folder.mkdir(parents=True, exist_ok=True)
    data = b"\x1aE\xdf\xa3" + os.urandom(4096)
    path = folder / f"{mediator}-0001.webm"
    path.write_bytes(data)
    now = datetime.now(UTC)
    await app[HEARING_ROOM].add_segment(
        hearing_id, mediator, Segment(path, hashlib.sha256(data).hexdigest(), len(data), now, now)
    )
    # in mediation with a hearing ahead, not settled (last: the mediator may not
    # take another case of the same parties after this one)
    _hearing, not_settled = await builders.hearing_ahead(c, mediator)
    ended = await c[MEDIATOR].post(
        f"/api/v1/cases/{not_settled}/not-settled", {"reason": "双方对赔付金额分歧过大"}
    )
    assert ended["state"] == "not_settled"
    settings: Settings = app[SETTINGS]
    await record_digest(app[SESSIONMAKER], date.today(), settings.timezone, now)
    return {"settings": settings, "case_id": case_id, "hearing_case": scheduled}


async def heads(settings: Settings) -> dict[str, tuple[int, str]]:
    """{case number: (chain length, head)} of a deployment."""
    async with (
        open_services(settings, passwords=FAST_PASSWORDS) as services,
        services.sessionmaker() as s,
    ):
        tips = await heads_at(s, datetime(9999, 1, 1, tzinfo=UTC))
        rows = (
            await s.execute(
                select(CaseRow.id, CaseRow.number, func.count())
                .join(ChainEntryRow, ChainEntryRow.case_id == CaseRow.id)
                .group_by(CaseRow.id, CaseRow.number)
            )
        ).all()
    return {number: (int(n), tips[str(case_id)]) for case_id, number, n in rows}


@asynccontextmanager
async def empty_target(source: Settings, root: Path) -> AsyncIterator[Settings]:
    """A new, empty deployment: database (never migrated), storage and recordings."""
    root.mkdir(parents=True)
    dirs = {"storage_dir": root / "evidence", "recordings_dir": root / "recordings"}
    if source.uses_sqlite:
        yield source.with_overrides(
            database_url=f"sqlite+aiosqlite:///{root / 'odr.sqlite3'}", **dirs
        )
        return
    assert PG_URL
    name = f"odr_restore_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield source.with_overrides(database_url=_database_url(PG_URL, name), **dirs)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def run_restore(target: Settings, dest: Path) -> Any:
    async with open_services(target, passwords=FAST_PASSWORDS) as services:
        return await restore(
            source=dest,
            database_url=target.database_url,
            engine=services.engine,
            store=services.evidence.store,
            recordings_dir=target.recordings_dir,
        )


async def run_verify(settings: Settings) -> Any:
    async with open_services(settings, passwords=FAST_PASSWORDS) as services:
        return await verify_all(
            services.sessionmaker, services.evidence.store, settings.recordings_dir, "UTC"
        )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ODR_DATABASE_URL": settings.database_url,
        "ODR_SECRET_KEY": settings.secret_key,
        "ODR_STORAGE_DIR": str(settings.storage_dir),
        "ODR_RECORDINGS_DIR": str(settings.recordings_dir),
        "ODR_VAR_DIR": str(settings.var_dir),
        "ODR_TIMEZONE": settings.timezone,
    }
    return subprocess.run(
        [sys.executable, "-m", "odr.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_restore_drill(new_client: Any, tmp_path: Path) -> None:
    world = await build_deployment(new_client)
    source: Settings = world["settings"]
    before = await heads(source)
    assert len(before) == 7
    check = await run_verify(source)
    assert check.ok, (check.problems, source.database_url)

    dest = tmp_path / "backups"
    async with open_services(source, passwords=FAST_PASSWORDS) as services:
        first = await backup(
            database_url=source.database_url,
            sessionmaker=services.sessionmaker,
            store=services.evidence.store,
            recordings_dir=source.recordings_dir,
            dest=dest,
            revision=await schema_revision(services.engine),
            blob_store_kind="local",
        )
        assert first.problems == [] and first.copied == first.blobs >= 3
        # a second backup copies nothing already there (content-addressed, incremental)
        second = await backup(
            database_url=source.database_url,
            sessionmaker=services.sessionmaker,
            store=services.evidence.store,
            recordings_dir=source.recordings_dir,
            dest=dest,
            revision=await schema_revision(services.engine),
            blob_store_kind="local",
        )
    assert second.copied == 0 and second.reused == first.blobs
    manifest = json.loads((second.snapshot / "manifest.json").read_text())
    assert manifest["schema_revision"] and len(manifest["recordings"]) == 1

    # the disaster: the deployment is gone; a new one is restored from the backup
    async with empty_target(source, tmp_path / "restored") as target:
        restored = await run_restore(target, dest)
        assert restored.problems == [], restored.problems
        assert restored.blobs == first.blobs and restored.recordings == 1
        assert await heads(target) == before
        report = await run_verify(target)
        assert report.ok, report.problems
        assert report.cases == 7 and report.recordings == 1 and report.digests >= 1
        # the command line says the same
        done = await asyncio.to_thread(cli, target, "verify-all")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().splitlines()[-1].startswith("ok: 7 cases")
        # a restore never overwrites a deployment that has data
        again = await asyncio.to_thread(cli, target, "restore", str(dest))
        assert again.returncode == 2 and "restore_target_not_empty" in again.stderr

        # tampering after the restore: one blob removed, one altered, one recording altered
        items = manifest_items(manifest, target)
        removed, altered = items[0], items[1]
        (target.storage_dir / content_key(removed)).unlink()
        (target.storage_dir / content_key(altered)).write_bytes(b"forged")
        recording = target.recordings_dir / manifest["recordings"][0]["path"]
        recording.write_bytes(b"forged")
        tampered = await run_verify(target)
        problems = "\n".join(tampered.problems)
        assert f"(sha256 {removed}): missing from the blob store" in problems
        assert f"(sha256 {altered}): altered" in problems
        assert f"recording {manifest['recordings'][0]['path']}: altered" in problems
        assert "case ODR-" in problems  # named by the case's number and the item's name
        # and an event of a case's log rewritten behind the chain's back
        async with (
            open_services(target, passwords=FAST_PASSWORDS) as services,
            UnitOfWork(services.sessionmaker) as uow,
        ):
            row = await uow.session.scalar(
                select(CaseEventRow).where(CaseEventRow.kind == "filed").limit(1)
            )
            assert row is not None
            row.payload = {**row.payload, "amount_fen": 1}
            number = (await uow.session.get(CaseRow, row.case_id)).number
            await uow.commit()
        rewritten = (await run_verify(target)).problems
        assert f"case {number}: event 1 (filed) is not what its chain entry records" in rewritten

    # damage inside the backup is named by the restore
    victim = manifest["blobs"][0]["sha256"]
    backup_copy = dest / "blobs" / content_key(victim)
    backup_copy.write_bytes(backup_copy.read_bytes() + b"!")
    gone = manifest["blobs"][1]["sha256"]
    shutil.move(dest / "blobs" / content_key(gone), tmp_path / "moved-away")
    async with empty_target(source, tmp_path / "restored-again") as target:
        damaged = await run_restore(target, dest)
        assert f"blob {victim}: altered in the backup (larger)" in damaged.problems
        assert f"blob {gone}: missing from the backup" in damaged.problems
        assert not (await run_verify(target)).ok


def manifest_items(manifest: dict[str, Any], target: Settings) -> list[str]:
    """Hashes of blobs stored in the target that are not the recording's."""
    recorded = {r["sha256"] for r in manifest["recordings"]}
    return [
        b["sha256"]
        for b in manifest["blobs"]
        if b["sha256"] not in recorded and (target.storage_dir / content_key(b["sha256"])).exists()
    ]


async def _bucket(endpoint: str) -> str:
    from aiobotocore.session import get_session

    bucket = f"odr-backup-{uuid.uuid4().hex[:12]}"
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ) as client:
        await client.create_bucket(Bucket=bucket)
    return bucket


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1 << 16):
        yield data[start : start + (1 << 16)]


async def test_backup_and_restore_with_evidence_in_s3(
    s3_endpoint: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    make_settings: Any,
) -> None:
    async with sqlite_database(tmp_path) as url:
        s3 = {"s3_endpoint": s3_endpoint, "s3_access_key": "test", "s3_secret_key": "test"}
        source = await seed(make_settings(url, s3_bucket=await _bucket(s3_endpoint), **s3))
        async with open_services(source, passwords=FAST_PASSWORDS) as services:
            async with services.sessionmaker() as s:
                insurer = await s.scalar(
                    select(Organisation.id).where(Organisation.kind == "insurer")
                )
                consumer = await s.scalar(select(User.id).where(User.role == "consumer"))
            assert insurer and consumer
            intake = await services.cases.file(
                Actor(consumer, Role.CONSUMER, None),
                ComplaintForm(
                    insurer_id=insurer,
                    policy_numbers=("P-9",),
                    category="claims",
                    description="理赔被拒。",
                    terms_version=TERMS_VERSION,
                ),
                consumer_id=consumer,
            )
            names = {}
            for index in range(2):
                item = await services.evidence.enter_record(
                    intake.case_id,
                    _chunks(os.urandom(300_000)),
                    name=f"scan-{index}.bin",
                    kind="recording",
                    media_type="video/webm",
                )
                names[item.sha256] = item.name
            dest = tmp_path / "backups"
            made = await backup(
                database_url=source.database_url,
                sessionmaker=services.sessionmaker,
                store=services.evidence.store,
                recordings_dir=source.recordings_dir,
                dest=dest,
                revision=await schema_revision(services.engine),
                blob_store_kind="s3",
            )
        assert made.problems == [] and made.copied == 2
        target = source.with_overrides(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'restored.sqlite3'}",
            s3_bucket=await _bucket(s3_endpoint),
            recordings_dir=tmp_path / "restored-recordings",
        )
        assert (await run_restore(target, dest)).problems == []
        assert (await run_verify(target)).ok
        gone = sorted(names)[0]
        async with open_services(target, passwords=FAST_PASSWORDS) as services:
            await services.evidence.store.delete(gone)
        problems = (await run_verify(target)).problems
        assert len(problems) == 1
        assert problems[0].startswith(f"case {intake.number}: evidence ")
        assert problems[0].endswith(f"{names[gone]!r} (sha256 {gone}): missing from the blob store")


def test_pruning_keeps_the_newest_snapshots_and_the_blobs_they_list(tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    hashes = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    for name, listed in (("20260101T000000Z", hashes), ("20260201T000000Z", hashes[1:])):
        snapshot = dest / "snapshots" / name
        snapshot.mkdir(parents=True)
        blobs = [{"sha256": h, "size": 1} for h in listed]
        (snapshot / "manifest.json").write_text(json.dumps({"blobs": blobs}))
    (dest / "snapshots" / "20260301T000000Z").mkdir()  # a backup cut off: no manifest
    for h in hashes:
        path = dest / "blobs" / content_key(h)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert prune(dest, 1) == (2, 1)
    assert [p.name for p in (dest / "snapshots").iterdir()] == ["20260201T000000Z"]
    assert not (dest / "blobs" / content_key(hashes[0])).exists()
    assert all((dest / "blobs" / content_key(h)).exists() for h in hashes[1:])
