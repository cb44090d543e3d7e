"""Case lists at volume: server time of an insurer's inbox, its first and its 100th page, and
a supervisor's list of every case, next to a static file served by the same server in the
same run.

N cases (default 20,000) are written straight into a fresh database — one filed through the
API, the rest copies of it with deadlines over 60 days (many equal), some without one, some
in care mode; nine in ten against one insurer. Each request is timed inside the server (a
middleware around everything else), one request at a time.

    .venv/bin/python bench/pages.py [--cases 20000] [--requests 200]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With ``--pg`` the cases go into a database of their own (``odr_bench_pages``, made anew).
The last line is one JSON object with every figure; ratios are under keys containing "ratio".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.intake import demo_passwords, serve
from odr.app import create_app
from odr.config import Settings
from odr.services import demo
from odr.services.cases import TERMS_VERSION
from odr.services.passwords import current_totp
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.migrate import upgrade
from odr.storage.models import CaseRow
from odr.storage.sealed import SecretBox

PAGE = 50
BATCH = 2_000


async def fresh_pg(url: str) -> str:
    """A new, empty database next to ``url``'s."""
    base = make_url(url)
    admin = make_engine(str(base.set(database="postgres")))
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS odr_bench_pages"))
        await conn.execute(text("CREATE DATABASE odr_bench_pages"))
    await admin.dispose()
    return base.set(database="odr_bench_pages").render_as_string(hide_password=False)


async def load(url: str, settings: Settings, cases: int) -> None:
    """The demo's people and ``cases`` cases (see the module's text)."""
    engine = make_engine(url)
    await upgrade(engine)
    maker = make_sessionmaker(engine)
    box = SecretBox(settings.secret_key, settings.previous_secret_keys)
    await demo.seed(maker, demo_passwords(), date.today(), box)
    app = create_app(settings, passwords=demo_passwords())
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = {"login": "13800000001", "password": demo.DEMO_PASSWORD}
            token = (await (await http.post("/api/v1/auth/login", json=login)).json())["csrf_token"]
            insurers = (await (await http.get("/api/v1/insurers")).json())["items"]
            ankang = next(i["id"] for i in insurers if i["name"] == "安康人寿")
            complaint = {
                "insurer_id": ankang,
                "policy_numbers": ["AK20260001"],
                "category": "claims",
                "amount_yuan": 3200,
                "description": "住院手术后提交了全部理赔材料，保险公司一直说在审核，没有结果。",
                "contact_preference": "sms",
                "terms_version": TERMS_VERSION,
            }
            resp = await http.post("/api/v1/cases", json=complaint, headers={"X-CSRF-Token": token})
            assert resp.status == 201, await resp.text()
            first = (await resp.json())["id"]
    finally:
        await runner.cleanup()
    async with maker() as s:
        row = await s.get(CaseRow, first)
        assert row is not None and row.due_at is not None
        others = [o for (o,) in (await s.execute(text("SELECT id FROM organisations"))).all()]
        base_row = {c.key: getattr(row, c.key) for c in CaseRow.__table__.columns if c.key != "id"}
        for start in range(0, cases - 1, BATCH):
            rows = [
                {
                    **base_row,
                    "number": f"ODR-B-{i:07d}",
                    "insurer_id": ankang if i % 10 else others[i % len(others)],
                    "care_priority": i % 50 == 0,
                    "due_at": None if i % 23 == 0 else row.due_at + timedelta(days=i % 60),
                }
                for i in range(start, min(start + BATCH, cases - 1))
            ]
            await s.execute(insert(CaseRow), rows)
        await s.commit()
        if url.startswith("postgresql"):  # the planner's statistics of the new rows
            await s.execute(text("ANALYZE"))
            await s.commit()
    await engine.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(url: str, settings: Settings, requests: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}
    label: dict[str, str] = {}

    @web.middleware
    async def timed(request: web.Request, handler: Callable[..., Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            name = label.get("now")
            if name:
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    app = create_app(settings, passwords=demo_passwords())
    app.middlewares.insert(0, timed)
    runner, base = await serve(app)
    try:
        async with (
            aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as rep,
            aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as supervisor,
        ):
            for http, who, secret in (
                (rep, "rep@ankang.demo", True),
                (supervisor, "supervisor@odr.demo", True),
            ):
                user = next(u for u in demo.USERS if u.login == who)
                login: dict[str, Any] = {"login": who, "password": demo.DEMO_PASSWORD}
                if secret and user.totp_secret:
                    login["otp"] = current_totp(user.totp_secret)
                resp = await http.post("/api/v1/auth/login", json=login)
                assert resp.status == 200, await resp.text()
            cursor = None
            for _ in range(99):  # the 100th page's cursor
                q = f"&cursor={cursor}" if cursor else ""
                page = await (await rep.get(f"/api/v1/cases?limit={PAGE}{q}")).json()
                cursor = page["next"]
                assert cursor, "fewer than 100 pages: load more cases"
            probes = {
                "static": (rep, "/static/app.css"),
                "inbox_first_api": (rep, f"/api/v1/cases?limit={PAGE}"),
                "inbox_100th_api": (rep, f"/api/v1/cases?limit={PAGE}&cursor={cursor}"),
                "inbox_first_page": (rep, "/cases"),
                "inbox_100th_page": (rep, f"/cases?cursor={cursor}"),
                "all_cases_api": (supervisor, f"/api/v1/cases?limit={PAGE}"),
            }
            for _ in range(requests):
                for name, (http, path) in probes.items():
                    label["now"] = name
                    resp = await http.get(path)
                    await resp.read()
                    assert resp.status == 200, (name, resp.status)
                    label["now"] = ""
    finally:
        await runner.cleanup()
    figures: dict[str, Any] = {}
    for name, values in timings.items():
        figures[f"{name}_p50_ms"] = round(statistics.median(values), 3)
        figures[f"{name}_p95_ms"] = round(pct(values, 0.95), 3)
    static = figures["static_p50_ms"]
    for name in timings:
        if name != "static":
            figures[f"{name}_p50_ratio_to_static"] = round(figures[f"{name}_p50_ms"] / static, 2)
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"cases": args.cases, "page_size": PAGE}
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite+aiosqlite:///{tmp}/pages.db")]
        if args.pg:
            targets.append(("postgres", await fresh_pg(args.pg)))
        for name, url in targets:
            settings = Settings(
                var_dir=Path(tmp) / name,
                database_url=url,
                secret_key="x" * 40,
                storage_dir=Path(tmp) / name / "evidence",
                recordings_dir=Path(tmp) / name / "recordings",
                run_jobs_in_process=False,
            )
            started = time.perf_counter()
            await load(url, settings, args.cases)
            results[f"{name}_load_s"] = round(time.perf_counter() - started, 1)
            figures = await measure(url, settings, args.requests)
            results.update({f"{name}_{k}": v for k, v in figures.items()})
            print(name, json.dumps(figures), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", help="a PostgreSQL URL (a database of its own is made next to it)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
