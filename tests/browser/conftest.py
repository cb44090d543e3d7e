"""End-to-end hearings in a real Chromium against a real server process.

The server is `odr serve` in a subprocess (SQLite, recordings and everything else under the
test's tmp_path; the relay offers 127.0.0.1, the only interface of a sandbox). Chromium is
Debian's ``/usr/bin/chromium`` with a fake camera and microphone; it is never downloaded.
Without it the tests are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from odr.services import demo
from odr.services.passwords import current_totp
from tests.builders import ANKANG_REP as ANKANG_REP
from tests.builders import CONSUMER as CONSUMER
from tests.builders import LEAD as LEAD
from tests.builders import MEDIATOR as MEDIATOR
from tests.builders import OTHER_CONSUMER as OTHER_CONSUMER
from tests.builders import SUPERVISOR as SUPERVISOR
from tests.builders import USERS as USERS
from tests.builders import Caller, hearing_ahead

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{CHROMIUM} is required in CI (apt-get install --no-install-recommends chromium)"
        )
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install --no-install-recommends chromium)")


def totp_for(login: str, *, ahead: int = 0) -> str:
    """The code of a staff account, ``ahead`` 30-second steps from now. A code's step is
    refused once a later one was used: the API sessions log in one step behind, the browsers
    one step ahead, so both are accepted."""
    secret = USERS[login].totp_secret
    assert secret is not None, login
    return current_totp(secret, time.time() + 30 * ahead)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    env: dict[str, str]
    log: Path
    recordings: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    require_chromium()
    with running_server(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for all the tests of a module (they must not depend on each other's data)."""
    require_chromium()
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@contextmanager
def running_server(tmp_path: Path, **extra_env: str) -> Iterator[Server]:
    """``odr migrate``, ``odr demo`` and ``odr serve`` with everything under ``tmp_path``
    (and the ``ODR_*`` variables of ``extra_env``, e.g. ``ODR_LOG_LEVEL="INFO"``)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODR_")}
    env = {
        **clean,
        "ODR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'odr.sqlite3'}",
        "ODR_VAR_DIR": str(tmp_path / "var"),
        "ODR_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "ODR_MEDIA_ADDRESSES": "127.0.0.1",
        "ODR_RECORDING_SEGMENT_SECONDS": "2",
        "ODR_PORT": str(port),
        "ODR_PUBLIC_URL": base,
        "ODR_LOG_LEVEL": os.environ.get("ODR_TEST_SERVER_LOG_LEVEL", "WARNING"),
        **extra_env,
    }
    odr = [sys.executable, "-m", "odr.cli"]
    for command in ("migrate", "demo"):
        subprocess.run(
            [*odr, command], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120
        )
    serve = [*odr, "serve", "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(base, env, log, tmp_path / "recordings")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Api:
    """One user's HTTP session with the server (own cookies), as the pages' scripts call it."""

    def __init__(self, http: aiohttp.ClientSession, token: str, user_id: int) -> None:
        self.http = http
        self.token = token
        self.user_id = user_id

    async def get(self, path: str) -> Any:
        async with self.http.get(path) as resp:
            assert resp.status == 200, (path, resp.status, await resp.text())
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        headers = {"X-CSRF-Token": self.token}
        async with self.http.post(path, json=body or {}, headers=headers) as resp:
            assert resp.status == status, (path, resp.status, await resp.text())
            return await resp.json()


async def api_login(base: str, login: str) -> Api:
    http = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    body = {"login": login, "password": demo.DEMO_PASSWORD}
    if USERS[login].totp_secret:
        body["otp"] = totp_for(login, ahead=-1)
    async with http.post("/api/v1/auth/login", json=body) as resp:
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["csrf_token"]
    api = Api(http, token, 0)
    api.user_id = (await api.get("/api/v1/me"))["user"]["id"]
    return api


async def open_hearing(base: str) -> tuple[int, int, dict[str, Api]]:
    """A case brought over the API to a hearing ten minutes ahead (its join window is open):
    filed by the consumer against 安康人寿, answered (rejected) by the insurer, mediation asked
    for, the mediator assigned by the centre's lead and accepting, one time proposed, chosen by
    both parties and confirmed. Returns (hearing id, case id, {login: api session})."""
    people = {
        login: await api_login(base, login) for login in (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)
    }
    hearing_id, case_id = await case_to_hearing(people)
    return hearing_id, case_id, people


async def case_to_hearing(people: dict[str, Api], minutes: int = 10) -> tuple[int, int]:
    """A new case brought to a hearing ``minutes`` ahead (see `open_hearing`) by the API
    sessions of the consumer, the Ankang rep, the mediator and the lead in ``people``.
    Returns (hearing id, case id)."""
    callers: dict[str, Caller] = dict(people)
    return await hearing_ahead(callers, people[MEDIATOR].user_id, minutes)
