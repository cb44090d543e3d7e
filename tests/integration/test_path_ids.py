"""Every route with an id in its path, API and pages, refuses ids that are not plain ASCII numbers
in range: a 4xx (404 for a bad id), never a 500, and never the case the digits look like."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from yarl import URL

from tests.integration.helpers import CONSUMER, SUPERVISOR, complaint, insurer_id, login

#: Percent-encoded as they go on the wire: superscript one, Arabic-Indic one and three, an
#: exponent, a sign, too large for 64 bits, zero, a NUL byte.
BAD_IDS = ("%C2%B9", "%D9%A1", "%D9%A3", "1e3", "-1", "99999999999999999999", "0", "%00")
_PARAM = re.compile(r"\{(\w+)\}")
#: Good values for the other parameters of a route, so the bad id is the only thing wrong.
OTHER_VALUES = {
    "operation": "withdraw",
    "upload_id": "unknown-upload",
    "day": "2026-01-01",
    "number": "ODR-2026-000001",
    "lang": "en",
    "state": "on",
}


def _is_id(name: str) -> bool:
    return (name.endswith("id") and name != "upload_id") or name == "sequence"


def id_routes(app: web.Application) -> list[tuple[str, str, str, list[str]]]:
    """(method, path formatter, id parameter, all parameters) for every route with an id."""
    found = []
    for route in app.router.routes():
        formatter = route.resource.get_info().get("formatter") if route.resource else None
        if not formatter or route.method in ("HEAD", "OPTIONS"):
            continue
        params = _PARAM.findall(formatter)
        found += [(route.method, formatter, p, params) for p in params if _is_id(p)]
    return found


def _path(formatter: str, params: list[str], bad: str, value: str) -> str:
    values = {p: OTHER_VALUES.get(p, "1") for p in params}
    values[bad] = value
    return formatter.format(**values)


async def file_cases(new_client: Any, count: int) -> list[int]:
    consumer = await login(new_client, CONSUMER)
    insurer = await insurer_id(consumer)
    ids = []
    for n in range(count):
        body = complaint(insurer, policy_numbers=[f"AK20231001{n:02d}"], description=f"Case {n}.")
        resp = await consumer.post("/api/v1/cases", body)
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["id"])
    return ids


async def test_bad_path_ids_are_refused_on_every_route(new_client: Any) -> None:
    assert await file_cases(new_client, 3) == [1, 2, 3]  # what ¹, ١ and ٣ would look like
    supervisor = await login(new_client, SUPERVISOR)
    app = supervisor.client.server.app
    routes = id_routes(app)
    assert len(routes) > 40, routes  # the walk sees the API, the pages and the socket
    assert {p for _, _, p, _ in routes} >= {"case_id", "hearing_id", "sequence", "recording_id"}
    headers = {"X-CSRF-Token": supervisor.token}
    for method, formatter, name, params in routes:
        for value in BAD_IDS:
            url = URL(_path(formatter, params, name, value), encoded=True)
            resp = await supervisor.client.request(method, url, json={}, headers=headers)
            where = (method, str(url))
            assert 400 <= resp.status < 500, (where, resp.status, await resp.text())
            if formatter.startswith("/api/") and resp.status == 404:
                assert (await resp.json())["error"]["code"], where


async def test_a_good_id_still_reaches_the_case(new_client: Any) -> None:
    [case_id] = await file_cases(new_client, 1)
    supervisor = await login(new_client, SUPERVISOR)
    assert (await supervisor.get(f"/api/v1/cases/{case_id}")).status == 200
    assert (await supervisor.get(f"/cases/{case_id}")).status == 200
