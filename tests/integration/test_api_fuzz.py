"""Schemathesis over the OpenAPI document against a real `odr serve`: every operation, without
a session and as each role (real login sessions with their CSRF token). No server error, every
status documented, every response in its documented schema and content type."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from odr.services import demo
from odr.services.passwords import current_totp
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, SUPERVISOR

ODR = [sys.executable, "-m", "odr.cli"]
EXAMPLES = 6  # generated requests per operation (each sent as every role)
STATEFUL_SCENARIOS = 25  # sequences of linked requests per role
ROLES = ("anonymous", CONSUMER, ANKANG_REP, MEDIATOR, SUPERVISOR)
#: operations that would end the session the run depends on
SKIPPED = {("POST", "/api/v1/auth/logout")}
CHECKS = (
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
)


@pytest.fixture(scope="module")
def odr_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ODR_")},
        "ODR_VAR_DIR": str(root / "var"),
        "ODR_RECORDINGS_DIR": str(root / "recordings"),
        "ODR_LOG_LEVEL": "WARNING",
    }
    for command in (["migrate"], ["demo"]):
        subprocess.run([*ODR, *command], env=env, check=True, capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen(
        [*ODR, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        output = (root / "serve.log").read_text()
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def sessions(odr_server: str) -> dict[str, dict[str, str]]:
    """The headers each role sends: its session cookie and CSRF token."""
    users = {u.login: u for u in demo.USERS}
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for login in ROLES[1:]:
        body = {"login": login, "password": demo.DEMO_PASSWORD}
        if users[login].totp_secret:
            body["otp"] = current_totp(users[login].totp_secret or "")
        resp = requests.post(f"{odr_server}/api/v1/auth/login", json=body, timeout=10)
        assert resp.status_code == 200, resp.text
        cookie = "; ".join(f"{k}={v}" for k, v in resp.cookies.items())
        headers[login] = {"Cookie": cookie, "X-CSRF-Token": resp.json()["csrf_token"]}
    return headers


def test_the_api_keeps_its_contract(odr_server: str, sessions: dict[str, dict[str, str]]) -> None:
    """Each operation of the document, with generated requests sent without a session and as
    every role. (Schemathesis's own pytest plugin does not run on pytest 9: its strategies are
    driven here through hypothesis directly.)"""
    api = schemathesis.openapi.from_url(f"{odr_server}/api/v1/openapi.json")
    failures: list[str] = []
    sent = 0
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            nonlocal sent
            for who in ROLES:
                response = case.call(headers=sessions[who], timeout=10)
                sent += 1
                case.validate_response(response, checks=CHECKS)

        try:
            exercise()
        except Exception as error:  # collected, so that one run lists every operation
            failures.append(f"{operation.label}: {type(error).__name__}: {error}"[:2000])
    print(f"schemathesis: {operations} operations, {sent} requests, {len(failures)} failures")
    assert operations > 50
    assert not failures, "\n\n".join(failures)


def test_the_api_keeps_its_contract_along_its_links(
    odr_server: str, sessions: dict[str, dict[str, str]]
) -> None:
    """Stateful: schemathesis follows the document's links (a filed complaint's id into every
    operation on that case, a proposed hearing's id into every operation on the hearing), as
    the consumer who files and the supervisor who registers referrals."""
    api = schemathesis.openapi.from_url(f"{odr_server}/api/v1/openapi.json").exclude(
        path="/api/v1/auth/logout"
    )
    steps = 0
    for who in (CONSUMER, SUPERVISOR):

        class Machine(api.as_state_machine()):  # type: ignore[misc]
            headers = sessions[who]

            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"headers": self.headers, "timeout": 10}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                nonlocal steps
                steps += 1
                case.validate_response(response, checks=CHECKS)

        Machine.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=6,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
        )
    print(f"schemathesis stateful: {steps} linked requests")
    assert steps > STATEFUL_SCENARIOS
