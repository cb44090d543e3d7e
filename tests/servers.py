"""Servers a test starts itself: its own PostgreSQL cluster and its own Redis, on free ports of
loopback and in temporary directories, so that a test may stop, restart or kill them without
touching the shared services. Whatever is started here is stopped at the end.

PostgreSQL refuses to run as root: as root, ``initdb`` and ``pg_ctl`` run as the ``postgres``
user in a directory that user owns. Without the binaries the tests skip, saying why (and fail
in CI, where they must run)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from odr.config import Settings
from odr.storage.db import make_engine
from odr.storage.migrate import upgrade
from tests.conftest import IN_CI
from tests.integration.conftest import seed

#: the superuser of the clusters made here (trust authentication on loopback only)
PG_USER = "postgres"
TEMPLATE = "odr_template"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_binary(path: Path | None, what: str) -> Path:
    """``path``, or skip (fail in CI) with a reason naming what is missing."""
    if path is not None:
        return path
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed: the restart tests need it")


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb`` and ``pg_ctl``, else the
    directory of a ``pg_ctl`` on the PATH."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.parent.name.split(".") if x.isdigit())

    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _as_postgres(command: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--", *command]
    return ["su", PG_USER, "-s", "/bin/sh", "-c", subprocess.list2cmdline(list(command))]


class OwnPostgres:
    """A PostgreSQL cluster of the test's own: ``init`` once, then ``start``/``stop``/
    ``restart`` (each waits until done) and ``url`` of a database on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="odr-own-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._template_ready = False

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _command(self, tool: str, *args: str) -> list[str]:
        return _as_postgres([str(self.bindir / tool), *args])

    def _pg_ctl(self, *args: str) -> list[str]:
        return self._command("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", *args)

    def init(self) -> None:
        """initdb and the settings (port, loopback only, sockets in our directory)."""
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER, PG_USER)
        subprocess.run(
            self._command(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                PG_USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ),
            cwd=self.root,
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 60\n"
                "shared_buffers = 32MB\n"
            )

    def start_now(self) -> None:
        """Start, blocking (for fixtures outside the event loop)."""
        subprocess.run(
            self._pg_ctl("-t", "60", "start"),
            cwd=self.root,
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop_now(self) -> None:
        """Stop at once if running, blocking; the cluster's files are removed by `remove`."""
        subprocess.run(
            self._pg_ctl("-t", "30", "-m", "immediate", "stop"),
            cwd=self.root,
            capture_output=True,
            timeout=60,
        )

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    async def _run(self, command: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=self.root,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 90)
        if proc.returncode != 0:
            raise RuntimeError(f"{command[-1]} failed: {output.decode(errors='replace')}")

    async def stop(self, mode: str = "fast") -> None:
        await self._run(self._pg_ctl("-t", "30", "-m", mode, "stop"))

    async def start(self) -> None:
        await self._run(self._pg_ctl("-t", "60", "start"))

    async def restart(self, mode: str = "fast") -> None:
        await self._run(self._pg_ctl("-t", "60", "-m", mode, "restart"))

    async def running(self) -> bool:
        proc = await asyncio.create_subprocess_exec(
            *self._command("pg_ctl", "-D", str(self.data), "status"),
            cwd=self.root,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    async def database(self) -> str:
        """A new database with the schema and the demo data (a copy of a template that is
        migrated and seeded once per cluster); the server is started if a test left it down."""
        if not await self.running():
            await self.start()
        admin = make_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            if not self._template_ready:
                async with admin.connect() as conn:
                    await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
                    await conn.exec_driver_sql(f'CREATE DATABASE "{TEMPLATE}"')
                engine = make_engine(self.url(TEMPLATE))
                try:
                    await upgrade(engine)
                finally:
                    await engine.dispose()
                await seed(Settings(database_url=self.url(TEMPLATE), secret_key="x" * 40))
                self._template_ready = True
            name = f"odr_r_{uuid.uuid4().hex[:10]}"
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        finally:
            await admin.dispose()
        return self.url(name)


def redis_binary() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


class OwnRedis:
    """A Redis of the test's own, in memory only (no snapshot, no append-only file): a restart
    loses every key, as a Redis without persistence does."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="odr-own-redis-"))
        self.proc: asyncio.subprocess.Process | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
            "--daemonize",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not await self._answers():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError("the test's own Redis did not start")
            await asyncio.sleep(0.05)

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 2)) == b"+PONG\r\n"
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            if proc is not None:
                await proc.wait()
            return
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class OdrProcess:
    """One ``odr`` command (``serve``, ``worker``) as a real process with its own
    environment; its output goes to a file (read by `output`). ``kill`` is ``kill -9``."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.args = list(args)
        self.env = dict(env)
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        assert self.proc is None, "already running"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "odr.cli",
                *self.args,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def kill(self) -> None:
        """``kill -9``: no shutdown code of the process runs."""
        await self._end(signal.SIGKILL)

    async def stop(self) -> None:
        await self._end(signal.SIGTERM)

    async def _end(self, sig: int) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
        await proc.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def odr_environment(var_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``odr`` process: this one's without ``ODR_*``, then
    ``ODR_<NAME>`` for each of ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODR_")}
    env.update(
        {
            "ODR_VAR_DIR": str(var_dir / "var"),
            "ODR_STORAGE_DIR": str(var_dir / "evidence"),
            "ODR_RECORDINGS_DIR": str(var_dir / "recordings"),
            "ODR_SECRET_KEY": "r" * 40,
            "ODR_LOG_LEVEL": "WARNING",
        }
    )
    env.update({f"ODR_{name.upper()}": value for name, value in settings.items()})
    return env
