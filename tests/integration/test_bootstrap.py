"""One composition root: `odr serve` and `odr worker` run services built by the same function."""

from __future__ import annotations

import asyncio
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from odr import cli, logs
from odr.app import create_app
from odr.bootstrap import Services, open_services
from odr.config import Settings
from odr.http import keys
from odr.jobs import JobContext, runners
from odr.jobs.tasks import JOBS
from tests.conftest import FAST_PASSWORDS


class RecordingWorker:
    """Stands in for the arq worker: runs the clock jobs once through the context it got."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.results: dict[str, Any] = {}

    async def async_run(self) -> None:
        for name in ("run_outcome_clock", "send_hearing_reminders", "run_case_clock"):
            self.results[name] = await JOBS[name](self.ctx)

    async def close(self) -> None:
        pass


def test_worker_and_server_run_the_same_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("ODR_")]:
        monkeypatch.delenv(name)
    env = {
        "ODR_VAR_DIR": str(tmp_path / "var"),
        "ODR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'odr.sqlite3'}",
        "ODR_SECRET_KEY": "x" * 40,
        "ODR_STORAGE_DIR": str(tmp_path / "evidence"),
        "ODR_RECORDINGS_DIR": str(tmp_path / "recordings"),
        # never connected: the stand-in worker does not read the queue and nothing publishes
        "ODR_REDIS_URL": "redis://127.0.0.1:9/15",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(logs, "configure", lambda *args: None)
    workers: list[RecordingWorker] = []

    def fake_arq_worker(ctx: JobContext, *args: Any, **kwargs: Any) -> RecordingWorker:
        workers.append(RecordingWorker(ctx))
        return workers[-1]

    monkeypatch.setattr(runners, "arq_worker", fake_arq_worker)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["worker"]) == 0

    (worker,) = workers
    assert worker.results == {
        "run_outcome_clock": 0,
        "send_hearing_reminders": 0,
        "run_case_clock": 0,
    }
    in_worker = worker.ctx.services
    assert in_worker.agreements.logins is in_worker.logins
    assert in_worker.scheduling.cases is in_worker.cases
    app = create_app(Settings.from_env())
    in_server = app[keys.SERVICES]
    try:
        for field in fields(Services):
            assert type(getattr(in_worker, field.name)) is type(getattr(in_server, field.name))
        assert in_server.agreements.logins is in_server.logins
        assert app[keys.AGREEMENTS] is in_server.agreements
        assert app[keys.SCHEDULING] is in_server.scheduling
    finally:
        asyncio.run(in_server.aclose())


async def test_every_job_runs_through_the_bootstrapped_context(seeded: Settings) -> None:
    async with open_services(seeded, passwords=FAST_PASSWORDS) as services:
        ctx = JobContext(services)
        for job in JOBS.values():
            await job(ctx)  # fails if a job needs something the services do not hold


async def test_the_in_process_runner_uses_the_app_services(
    make_client: Any, seeded: Settings
) -> None:
    client = await make_client(seeded)
    runner = client.app[keys.JOBS]
    if isinstance(runner, runners.InProcessRunner):
        assert runner.ctx.services is client.app[keys.SERVICES]
    assert client.app[keys.CASES] is client.app[keys.SERVICES].cases
