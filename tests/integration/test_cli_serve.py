"""The command line, and `odr serve` as a real process: what `make run` does."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from odr.services import demo
from odr.services.passwords import current_totp

ODR = [sys.executable, "-m", "odr.cli"]


def run(
    args: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ODR, *args], env=env, capture_output=True, text=True, timeout=120, check=check
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODR_")}
    return {**clean, "ODR_VAR_DIR": str(tmp_path / "var"), "ODR_LOG_LEVEL": "WARNING"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_is_refused_in_production(env: dict[str, str]) -> None:
    result = run(
        ["demo"], {**env, "ODR_MODE": "production", "ODR_SECRET_KEY": "k" * 40}, check=False
    )
    assert result.returncode == 2 and "refused" in result.stderr


def test_missing_production_secret_is_a_clear_error(env: dict[str, str]) -> None:
    result = run(["migrate"], {**env, "ODR_MODE": "production"}, check=False)
    assert result.returncode != 0 and "ODR_SECRET_KEY" in result.stderr


def test_create_organisation_and_user(env: dict[str, str]) -> None:
    run(["migrate"], env)
    out = run(["create-organisation", "安康人寿", "--kind", "insurer"], env).stdout
    assert "created insurer" in out
    out = run(
        [
            "create-user",
            "rep@example.com",
            "--name",
            "Rep",
            "--role",
            "insurer_rep",
            "--organisation",
            "安康人寿",
            "--badge",
            "AK-7",
            "--password",
            "a-good-pass-1",
        ],
        env,
    ).stdout
    assert "otpauth://totp/" in out
    again = run(
        ["create-user", "rep@example.com", "--name", "Rep", "--password", "a-good-pass-1"],
        env,
        check=False,
    )
    assert again.returncode == 2 and "login_taken" in again.stderr


async def test_serve_answers_and_every_demo_login_works(env: dict[str, str]) -> None:
    run(["migrate"], env)
    seeded = run(["demo"], env).stdout
    for u in demo.USERS:
        assert u.login in seeded
    assert "already present" in run(["demo"], env).stdout  # seeds only an empty database
    port = free_port()
    proc = subprocess.Popen(
        [*ODR, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("server did not start")
            # without ODR_PUBLIC_URL, invitations link to the port the server runs on
            assert "ODR_PUBLIC_URL" not in env
            invitation = await _invitation(base)
            assert f"{base}/hearings/" in invitation.replace("\r\n ", ""), invitation
            assert "127.0.0.1:8080" not in invitation
            for u in demo.USERS:  # staff codes one step ahead of the sessions above
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(cookie_jar=jar) as user_http:
                    body = {"login": u.login, "password": demo.DEMO_PASSWORD}
                    if u.totp_secret:
                        body["otp"] = current_totp(u.totp_secret, time.time() + 30)
                    async with user_http.post(f"{base}/api/v1/auth/login", json=body) as resp:
                        assert resp.status == 200, (u.login, await resp.text())
                    async with user_http.get(f"{base}/home") as resp:
                        assert resp.status == 200
            # a 100,000-character query string gets the error shape, not the parser's text
            async with http.get(f"{base}/api/v1/insurers?q=" + "x" * 100_000) as resp:
                assert resp.status == 414
                assert (await resp.json())["error"]["code"] == "query_too_long"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "Traceback" not in output, output


async def _invitation(base: str) -> str:
    """The consumer's calendar invitation of a hearing brought about over the API."""
    from tests.browser.conftest import api_login, case_to_hearing
    from tests.builders import ANKANG_REP, CONSUMER, LEAD, MEDIATOR

    people = {
        login: await api_login(base, login) for login in (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)
    }
    try:
        hearing_id, _ = await case_to_hearing(people)
        async with people[CONSUMER].http.get(
            f"/api/v1/hearings/{hearing_id}/invitation.ics"
        ) as resp:
            assert resp.status == 200
            return await resp.text()
    finally:
        for session in people.values():
            await session.http.close()


def test_verify_bundle_command(tmp_path: Path, env: dict[str, str]) -> None:
    import hashlib
    import zipfile

    from odr.bundle import build_bundle
    from odr.domain.ledger import GENESIS, append

    case = {"number": "ODR-2026-000001", "insurer": "安康人寿"}
    content = "保单条款第七条：免责情形。".encode()
    digest = hashlib.sha256(content).hexdigest()
    first = append(GENESIS, 1, "event", {"kind": "filed", "case": case})
    second = append(
        first.hash,
        2,
        "evidence",
        {
            "sha256": digest,
            "size": len(content),
            "name": "条款.txt",
            "media_type": "text/plain; charset=utf-8",
            "kind": "document",
        },
    )
    bundle = tmp_path / "bundle.zip"
    build_bundle(bundle, case, [({"sequence": 2}, content)], [first, second])
    ok = run(["verify-bundle", str(bundle)], env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("files/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
    bad = run(["verify-bundle", str(tampered)], env, check=False)
    assert bad.returncode == 1 and "files/" in bad.stdout + bad.stderr


async def start_serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*ODR, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    proc.kill()
    pytest.fail("server did not start")


async def test_a_killed_upload_leaves_nothing_behind_after_a_restart(
    env: dict[str, str], tmp_path: Path
) -> None:
    """kill -9 during a one-shot upload leaves its temporary file; the server removes it by
    itself once it is stale (at start, and every 15 minutes)."""
    from tests.integration.helpers import complaint

    run(["migrate"], env)
    run(["demo"], env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    temps = tmp_path / "var" / "evidence" / "tmp"
    proc = await start_serve(env, port)
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            body = {"login": "13800000001", "password": demo.DEMO_PASSWORD}
            async with http.post(f"{base}/api/v1/auth/login", json=body) as resp:
                token = (await resp.json())["csrf_token"]
            headers = {"X-CSRF-Token": token}
            async with http.get(f"{base}/api/v1/insurers") as resp:
                insurer = (await resp.json())["items"][0]["id"]
            async with http.post(
                f"{base}/api/v1/cases", json=complaint(insurer), headers=headers
            ) as resp:
                case_id = (await resp.json())["id"]
            sent = asyncio.Event()

            async def slow_body() -> Any:
                yield b"%PDF-1.4\n" + b"0" * (4 * 1024 * 1024)
                sent.set()
                await asyncio.sleep(60)

            upload = asyncio.create_task(
                http.post(
                    f"{base}/api/v1/cases/{case_id}/evidence?name=a.pdf",
                    data=slow_body(),
                    headers={**headers, "Content-Type": "application/octet-stream"},
                )
            )
            await sent.wait()
            for _ in range(100):
                if list(temps.glob("put-*")):
                    break
                await asyncio.sleep(0.05)
            left = list(temps.glob("put-*"))
            assert left, "the upload in progress has a temporary file"
            proc.kill()  # kill -9 mid-upload
            proc.wait(timeout=10)
            upload.cancel()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(p.exists() for p in left)
    stale = time.time() - 20 * 60  # as if the server had stayed down for 20 minutes
    for path in left:
        os.utime(path, (stale, stale))
    proc = await start_serve(env, port)
    try:
        for _ in range(100):
            if not any(p.exists() for p in left):
                break
            await asyncio.sleep(0.1)
        assert not any(p.exists() for p in left), "a stale temporary file was kept"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
