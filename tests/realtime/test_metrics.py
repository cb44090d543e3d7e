"""/metrics after a short scenario (an intake, an upload, a recorded three-party session):
the page parses with prometheus-client's own text parser, carries every family operators
graph, and is refused without the token."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from odr.app import create_app, create_metrics_app
from odr.bootstrap import open_services
from odr.config import ConfigError, Settings
from tests.conftest import FAST_PASSWORDS, sqlite_database
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR
from tests.realtime.hearing_setup import RoomClient, open_hearing
from tests.realtime.peers import Peer

TOKEN = "m" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def app_settings(seeded: Settings) -> Settings:
    return seeded.with_overrides(recording_segment_seconds=1.0, metrics_token=TOKEN)


@pytest.fixture
async def make(app_settings: Settings, aiohttp_server: Any, aiohttp_client: Any) -> Any:
    server = await aiohttp_server(create_app(app_settings, passwords=FAST_PASSWORDS))

    async def build() -> Any:
        return await aiohttp_client(server)

    return build


async def scrape(client: Any) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}} of a scrape."""
    resp = await client.get("/metrics", headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def total(samples: dict[str, Any], name: str, **labels: str) -> float:
    return sum(
        value
        for key, value in samples.get(name, {}).items()
        if all((k, v) in key for k, v in labels.items())
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_metrics_after_an_intake_an_upload_and_a_recorded_session(make: Any) -> None:
    hearing_id, case_id, people = await open_hearing(make)  # files, triages, schedules
    upload = await people[CONSUMER].client.post(
        f"/api/v1/cases/{case_id}/evidence?name=note.txt&kind=document",
        data="保单号 P-1 的理赔记录".encode(),
        headers={"X-CSRF-Token": people[CONSUMER].token, "Content-Type": "text/plain"},
    )
    assert upload.status == 201, await upload.text()

    scraper = await make()
    # no token, a wrong one, or a login session instead: refused with the stable code
    for headers in ({}, {"Authorization": "Bearer " + "x" * 40}, {"Authorization": TOKEN}):
        refused = await scraper.get("/metrics", headers=headers)
        assert refused.status == 401
        assert (await refused.json())["error"]["code"] == "metrics_token_required"
    staff = await people[MEDIATOR].get("/metrics")
    assert staff.status == 401

    clients = {n: RoomClient(people[n], hearing_id) for n in (MEDIATOR, CONSUMER, ANKANG_REP)}
    mediator = clients[MEDIATOR]
    try:
        await mediator.connect()
        await mediator.media(Peer("mediator"))
        for name in (CONSUMER, ANKANG_REP):
            client = clients[name]
            await client.connect()
            mark = len(client.messages)
            await mediator.send({"type": "admit", "user_id": client.user_id})
            await client.next(lambda m: m.get("code") == "admitted", after=mark)
            await client.media(Peer(name))
        await mediator.send({"type": "recording", "on": True})
        live = await scrape(scraper)
        assert live["odr_hearings_live"][()] == 1
        assert live["odr_hearing_socket_connections"][()] == 3

        async def segments_entered() -> bool:
            return total(await scrape(scraper), "odr_recorder_segments_written_total") >= 3

        deadline = asyncio.get_running_loop().time() + 15
        while not await segments_entered():
            assert asyncio.get_running_loop().time() < deadline, "no segments entered"
            await asyncio.sleep(0.5)
        during = await scrape(scraper)
        await mediator.send({"type": "recording", "on": False})
        await mediator.send({"type": "end"})
        await clients[CONSUMER].next(lambda m: m.get("code") == "hearing_ended")
    finally:
        for client in clients.values():
            await client.close()

    s = during
    assert s["odr_hearing_participants"][()] == 3
    assert s["odr_relay_forwarded_streams"][()] == 12  # 3 people × 2 others × audio and video
    assert total(s, "odr_relay_packets_received_total") > 0
    assert total(s, "odr_relay_frames_total", direction="in") > 0
    assert total(s, "odr_relay_frames_total", direction="out") > 0
    assert total(s, "odr_relay_bytes_total", direction="out") > 0
    assert total(s, "odr_relay_keyframe_requests_total", direction="to_publishers") > 0
    assert "odr_relay_nacked_packets_total" in s
    assert total(s, "odr_recorder_segment_lag_seconds_count") >= 3
    assert total(s, "odr_intake_complaints_total", channel="web") >= 1
    assert total(s, "odr_triage_complaints_total") >= 1
    assert (
        total(s, "odr_cases_open", state="hearing_scheduled")
        + total(s, "odr_cases_open", state="in_hearing")
        >= 1
    )
    assert "odr_cases_overdue" in s and "odr_jobs_queued" in s
    assert "odr_sse_connections" in s
    assert total(s, "odr_db_pool_connections", use="size") > 0
    assert total(s, "odr_blob_store_operation_seconds_count", operation="put") >= 1
    # requests by route template, never by raw path
    routes = {dict(k)["route"] for k in s["odr_http_requests_total"]}
    assert "/api/v1/cases/{case_id}/evidence" in routes
    assert not any(f"/cases/{case_id}" in route for route in routes)
    assert total(s, "odr_http_request_duration_seconds_count", route="/api/v1/cases") >= 1
    after = await scrape(scraper)
    assert after["odr_hearing_socket_connections"][()] == 0


async def test_metrics_are_off_without_a_token(tmp_path: Any, aiohttp_client: Any) -> None:
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
        secret_key="x" * 40,
        run_jobs_in_process=False,
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/metrics")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "metrics_disabled"
    with pytest.raises(ConfigError, match="ODR_METRICS_TOKEN"):
        Settings.from_env({"ODR_METRICS_TOKEN": "short", "ODR_SECRET_KEY": "x" * 40})


async def test_the_worker_serves_its_own_metrics(tmp_path: Any, aiohttp_client: Any) -> None:
    async with sqlite_database(tmp_path) as url:
        settings = Settings(
            var_dir=tmp_path, database_url=url, secret_key="x" * 40, metrics_token=TOKEN
        )
        async with open_services(settings) as services:
            with services.metrics.job("send_outbox", 0.2):
                pass
            with contextlib.suppress(RuntimeError), services.metrics.job("send_outbox", 0.1):
                raise RuntimeError("the SMTP server said no")
            client = await aiohttp_client(create_metrics_app(services))
            assert (await client.get("/metrics")).status == 401
            resp = await client.get("/metrics", headers=AUTH)
            assert resp.status == 200
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(await resp.text())
                for s in family.samples
            }
    job = (("job", "send_outbox"),)
    assert samples[("odr_jobs_run_total", job)] == 1
    assert samples[("odr_jobs_failed_total", job)] == 1
    assert samples[("odr_job_lag_seconds_count", job)] == 2
    assert samples[("odr_cases_open", (("state", "awaiting_insurer"),))] == 0
