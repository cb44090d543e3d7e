"""Backup of a deployment with ``--size-mib`` of evidence: throughput and peak memory.

A SQLite deployment with the demo people gets one case with ``--files`` evidence items of
pseudo-random bytes (``--size-mib`` in all, made chunk by chunk, never held whole). Then the
real command line runs, each in its own process, with its peak resident memory read from the
kernel (``wait4``, ``ru_maxrss``):

1. ``odr backup DEST``: everything copied (MB/s, peak RSS);
2. ``odr backup DEST`` again: nothing new to copy (the incremental case; its peak RSS is the
   baseline of a process that copies nothing, so ``peak_growth_mib`` is what the bytes cost);
3. ``odr restore DEST`` into a new directory, then ``odr verify-all`` there.

    .venv/bin/python bench/backup.py [--size-mib 1024 --files 16]

The last line is one JSON object; the exit status is 1 when a command failed or the peak
growth reached 64 MiB (memory must not grow with the store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024
LIMIT_MIB = 64


async def generated(size: int, seed: int) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left:
        n = min(MIB, left)
        yield rng.randbytes(n)
        left -= n


def env_of(settings: Any) -> dict[str, str]:
    return {
        **os.environ,
        "ODR_DATABASE_URL": settings.database_url,
        "ODR_SECRET_KEY": settings.secret_key,
        "ODR_VAR_DIR": str(settings.var_dir),
        "ODR_STORAGE_DIR": str(settings.storage_dir),
        "ODR_RECORDINGS_DIR": str(settings.recordings_dir),
    }


def run(settings: Any, *args: str) -> dict[str, Any]:
    """One `odr` command in its own process: exit status, seconds, peak RSS (MiB), output."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "odr.cli", *args],
        env=env_of(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "status": process.returncode,
        "seconds": time.monotonic() - started,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "output": output.strip().splitlines()[-1:] or [""],
    }


def deployment(root: Path) -> Any:
    from odr.config import Settings

    return Settings(
        var_dir=root / "var",
        database_url=f"sqlite+aiosqlite:///{root / 'odr.sqlite3'}",
        secret_key="b" * 40,
        storage_dir=root / "evidence",
        recordings_dir=root / "recordings",
        run_jobs_in_process=False,
    )


async def populate(settings: Any, size: int, files: int) -> None:
    """(In a process of its own: the commands measured are started from a small parent,
    since a child's peak RSS starts at its parent's when it is forked.)"""
    from sqlalchemy import select

    from odr.bootstrap import open_services
    from odr.domain.accounts import Actor, Role
    from odr.services import demo
    from odr.services.cases import TERMS_VERSION, ComplaintForm
    from odr.storage.db import make_engine
    from odr.storage.migrate import upgrade
    from odr.storage.models import Organisation, User

    engine = make_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    async with open_services(settings) as services:
        await demo.seed(services.sessionmaker, services.passwords, date.today(), services.box)
        async with services.sessionmaker() as s:
            insurer = await s.scalar(select(Organisation.id).where(Organisation.name == "安康人寿"))
            consumer = await s.scalar(select(User.id).where(User.role == Role.CONSUMER.value))
        assert insurer is not None and consumer is not None
        intake = await services.cases.file(
            Actor(consumer, Role.CONSUMER, None),
            ComplaintForm(
                insurer_id=insurer,
                policy_numbers=("P-1",),
                category="claims",
                description="理赔被拒，附上医院的全部记录。",
                terms_version=TERMS_VERSION,
            ),
            consumer_id=consumer,
        )
        each = size // files
        for index in range(files):
            part = each if index < files - 1 else size - each * (files - 1)
            await services.evidence.enter_record(
                intake.case_id,
                generated(part, index),
                name=f"scan-{index:02d}.bin",
                kind="recording",
                media_type="video/webm",
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--populate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mib * MIB
    if args.populate:
        asyncio.run(populate(deployment(Path(args.populate)), size, args.files))
        return 0
    with tempfile.TemporaryDirectory(prefix="odr-bench-backup-") as tmp:
        root = Path(tmp)
        source = deployment(root / "source")
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--populate",
                str(root / "source"),
                "--size-mib",
                str(args.size_mib),
                "--files",
                str(args.files),
            ],
            check=True,
        )
        print(
            f"deployment with {args.size_mib} MiB of evidence in {time.monotonic() - started:.1f} s"
        )
        dest = root / "backups"
        full = run(source, "backup", str(dest))
        latest = (dest / "LATEST").read_text().strip()
        copied = json.loads((dest / "snapshots" / latest / "manifest.json").read_text())["copied"]
        again = run(source, "backup", str(dest))
        target = deployment(root / "restored")
        restored = run(target, "restore", str(dest))
        verified = run(target, "verify-all")
    mb = size / 1e6
    summary = {
        "evidence_mib": args.size_mib,
        "files": args.files,
        "backup_seconds": round(full["seconds"], 2),
        "backup_mb_per_s": round(mb / full["seconds"], 1),
        "backup_copy_mb_per_s": copied["mb_per_s"],  # the copy itself, without start-up
        "backup_peak_rss_mib": round(full["peak_rss_mib"], 1),
        "incremental_seconds": round(again["seconds"], 2),
        "incremental_peak_rss_mib": round(again["peak_rss_mib"], 1),
        "peak_growth_mib": round(full["peak_rss_mib"] - again["peak_rss_mib"], 1),
        "restore_seconds": round(restored["seconds"], 2),
        "restore_mb_per_s": round(mb / restored["seconds"], 1),
        "restore_peak_rss_mib": round(restored["peak_rss_mib"], 1),
        "verify_seconds": round(verified["seconds"], 2),
        "verify_mb_per_s": round(mb / verified["seconds"], 1),
        "verify_peak_rss_mib": round(verified["peak_rss_mib"], 1),
        "statuses": [r["status"] for r in (full, again, restored, verified)],
    }
    for label, r in (
        ("backup", full),
        ("again", again),
        ("restore", restored),
        ("verify", verified),
    ):
        print(
            f"{label:8} {r['seconds']:7.1f} s  peak {r['peak_rss_mib']:6.1f} MiB  {r['output'][0]}"
        )
    print(json.dumps(summary))
    failed = any(summary["statuses"]) or summary["peak_growth_mib"] >= LIMIT_MIB
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
