"""Intake throughput and near-duplicate latency.

1. Complaints per second through the intake API (`POST /api/v1/cases`: validation, number,
   triage, duplicate check, case and events, notifications, outbox) next to a bare aiohttp
   handler that only parses the same JSON, served and driven the same way in the same run;
   on SQLite and, when a URL is given, PostgreSQL.
2. The near-duplicate check's latency (LSH candidates from the database, ranked by shared
   buckets) against N stored complaints on PostgreSQL, for each N of ``--sizes``.
3. The learned category model's added time per complaint: triage of the corpus's texts with
   the model's suggestion against triage by the rules alone (the model loaded beforehand, as
   a running node has it after its first complaint). ``--model-only`` measures just this.

    .venv/bin/python bench/intake.py [--complaints 300] [--concurrency 8]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--sizes 10000,100000,1000000]
        [--model-only]

The last line is one JSON object with every figure; ratios are under keys containing "ratio".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from odr.app import create_app
from odr.config import Settings
from odr.domain.similarity import band_keys, estimate_similarity, signature_from_bytes
from odr.services import demo
from odr.services.cases import TERMS_VERSION
from odr.services.triage_rules import default_rules
from odr.storage import cases as repo
from odr.storage.db import make_engine, make_sessionmaker
from odr.storage.migrate import upgrade
from odr.storage.sealed import SecretBox

TEXTS = [
    "我因急性阑尾炎住院手术，按医疗险提交了全部材料，保险公司一直说在审核，已经过去{n}天了还没有结果。",
    "退保申请已经审核通过，说好3个工作日到账，现在已经{n}天了钱还没有退回来，客服说系统在处理。",
    "车险出险后定损金额明显偏低，修理厂报价{n}00元，保险公司只认一半，理赔员态度很差。",
    "销售人员承诺保证收益{n}%，退保时却被扣了一半多的保费，我保留了聊天记录。",
    "回访的时候客服语速特别快，问我是否了解犹豫期和免责条款，第{n}次电话还是没听清楚。",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def drive(post: Callable[[int], Awaitable[int]], total: int, concurrency: int) -> float:
    """Complaints per second for ``total`` posts, ``concurrency`` at a time."""
    queue = iter(range(total))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for n in queue:
            if await post(n) != 201:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} of {total} posts failed")
    return total / elapsed


def body(insurer_id: int, n: int) -> dict[str, Any]:
    return {
        "insurer_id": insurer_id,
        "policy_numbers": [f"AK{n:08d}"],
        "category": "claims",
        "amount_yuan": 1000 + n,
        "description": TEXTS[n % len(TEXTS)].format(n=n) + f"（编号{uuid.uuid4().hex[:8]}）",
        "terms_version": TERMS_VERSION,
    }


async def bare_rate(total: int, concurrency: int) -> float:
    async def handler(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"id": 1, "insurer_id": data["insurer_id"]}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/cases", handler)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:

            async def post(n: int) -> int:
                async with http.post(f"{base}/api/v1/cases", json=body(1, n)) as r:
                    await r.read()
                    return r.status

            await drive(post, min(total, 50), concurrency)  # warm up
            return await drive(post, total, concurrency)
    finally:
        await runner.cleanup()


async def intake_rate(database_url: str, total: int, concurrency: int, tmp: Path) -> float:
    engine = make_engine(database_url)
    await upgrade(engine)
    box = SecretBox("b" * 40)  # the secret key of the settings below
    await demo.seed(make_sessionmaker(engine), demo_passwords(), date.today(), box)
    await engine.dispose()
    settings = Settings(
        database_url=database_url, secret_key="b" * 40, var_dir=tmp, run_jobs_in_process=False
    )
    runner, base = await serve(create_app(settings))
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.post(
                f"{base}/api/v1/auth/login",
                json={"login": "13800000001", "password": demo.DEMO_PASSWORD},
            ) as r:
                token = (await r.json())["csrf_token"]
            async with http.get(f"{base}/api/v1/insurers") as r:
                insurer = (await r.json())["items"][0]["id"]
            headers = {"X-CSRF-Token": token}

            async def post(n: int) -> int:
                async with http.post(
                    f"{base}/api/v1/cases", json=body(insurer, n), headers=headers
                ) as r:
                    await r.read()
                    return r.status

            await drive(post, min(total, 50), concurrency)  # warm up
            return await drive(post, total, concurrency)
    finally:
        await runner.cleanup()


def demo_passwords() -> Any:
    from argon2 import PasswordHasher

    from odr.services.passwords import Passwords

    return Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


# --- near-duplicate latency -----------------------------------------------------------------


async def near_duplicate_latency(pg_url: str, size: int, queries: int) -> dict[str, float]:
    """Store ``size`` synthetic fingerprints (random signatures: the lookup does not care what
    text made them), then time the check for near copies of stored ones."""
    import asyncpg
    from sqlalchemy.engine import make_url

    params = default_rules().similarity
    name = f"odr_bench_{uuid.uuid4().hex[:8]}"
    base = make_url(pg_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        await upgrade(engine)
        conn = await asyncpg.connect(
            base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        )
        rng = random.Random(7)
        now = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO organisations (id, kind, name, active, version)"
            " VALUES (1, 'insurer', 'x', true, 1);"
            "INSERT INTO users (id, display_name, password_hash, role, is_admin, care_mode, active,"
            " version) VALUES (1, 'x', 'x', 'consumer', false, false, true, 1)"
        )
        await conn.execute(
            "ALTER TABLE near_duplicate_bands DROP CONSTRAINT pk_near_duplicate_bands"
        )
        signatures: list[tuple[int, ...]] = []
        batch = 20_000
        for start in range(0, size, batch):
            ids = range(start + 1, min(size, start + batch) + 1)
            sigs = [tuple(rng.getrandbits(63) for _ in range(params.num_perm)) for _ in ids]
            if len(signatures) < queries:
                signatures.extend(sigs[: queries - len(signatures)])
            await conn.copy_records_to_table(
                "cases",
                columns=[
                    "id",
                    "number",
                    "consumer_id",
                    "insurer_id",
                    "channel_kind",
                    "category",
                    "state",
                    "care_priority",
                    "amount_fen",
                    "received_at",
                    "description",
                    "desired_outcome",
                    "contact_preference",
                    "terms_version",
                    "triage",
                    "snapshot",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                records=[
                    (
                        i,
                        f"B-{i}",
                        1,
                        1,
                        "web",
                        "claims",
                        "awaiting_insurer",
                        False,
                        0,
                        now,
                        "-",
                        "",
                        "in_app",
                        "v",
                        "{}",
                        "{}",
                        1,
                        now,
                        now,
                    )
                    for i in ids
                ],
            )
            from odr.domain.similarity import signature_to_bytes

            await conn.copy_records_to_table(
                "complaint_fingerprints",
                columns=["case_id", "signature"],
                records=[(i, signature_to_bytes(s)) for i, s in zip(ids, sigs, strict=True)],
            )
            await conn.copy_records_to_table(
                "near_duplicate_bands",
                columns=["band", "bucket", "case_id"],
                records=[
                    (b, k, i)
                    for i, s in zip(ids, sigs, strict=True)
                    for b, k in band_keys(s, params.bands)
                ],
            )
        await conn.execute(
            "ALTER TABLE near_duplicate_bands ADD CONSTRAINT "
            "pk_near_duplicate_bands PRIMARY KEY (band, bucket, case_id)"
        )
        await conn.execute("ANALYZE")
        await conn.close()
        maker = make_sessionmaker(engine)
        timings = []
        found = 0
        for n, original in enumerate(signatures):
            # a near copy: about a third of the positions changed (Jaccard ~0.5)
            probe = tuple(v if rng.random() > 0.33 else rng.getrandbits(63) for v in original)
            keys = list(band_keys(probe, params.bands))
            started = time.perf_counter()
            async with maker() as s:
                got = await repo.candidates(s, keys)
            best = max(
                got.items(),
                key=lambda kv: estimate_similarity(probe, signature_from_bytes(kv[1])),
                default=(None, b""),
            )
            timings.append((time.perf_counter() - started) * 1000)
            found += best[0] == n + 1
        timings.sort()
        return {
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "recall": round(found / len(signatures), 3),
        }
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def model_added_ms(rounds: int = 7) -> dict[str, float]:
    """Per complaint: the time triage with the model takes minus the time without it."""
    from odr.domain.triage import TriageInput, triage
    from odr.services.triage_model import ModelSource, load_corpus

    rules = default_rules()
    model = ModelSource(None).get()
    assert model is not None, "scikit-learn is needed to train the model"
    texts = [r.text for r in load_corpus()]
    day = date(2025, 6, 1)
    added = []
    for text in texts:  # per text, the median of several rounds: a busy machine adds noise
        rounds_ms = []
        for _ in range(rounds):
            started = time.perf_counter()
            triage(TriageInput(text=text, received_on=day), rules)
            bare = time.perf_counter() - started
            started = time.perf_counter()
            triage(TriageInput(text=text, received_on=day, model=model.suggest(text)), rules)
            rounds_ms.append((time.perf_counter() - started - bare) * 1000)
        added.append(statistics.median(rounds_ms))
    added.sort()
    return {
        "complaints": len(texts),
        "mean_chars": round(statistics.mean(len(t) for t in texts), 1),
        "mean_ms": round(statistics.mean(added), 3),
        "p50_ms": round(statistics.median(added), 3),
        "p95_ms": round(added[int(len(added) * 0.95) - 1], 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pg", default=os.environ.get("ODR_TEST_DATABASE_URL"))
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model-only", action="store_true", help="only the model's cost")
    args = parser.parse_args()
    figures: dict[str, Any] = {"complaints": args.complaints, "concurrency": args.concurrency}
    model = model_added_ms()
    figures["model_added_per_complaint"] = model
    print(
        f"category model, added per complaint: mean {model['mean_ms']} ms,"
        f" p50 {model['p50_ms']} ms, p95 {model['p95_ms']} ms"
        f" ({model['complaints']} texts of {model['mean_chars']} characters on average)"
    )
    if args.model_only:
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as tmp:
        bare = await bare_rate(args.complaints, args.concurrency)
        figures["bare_handler_per_s"] = round(bare, 1)
        print(f"bare aiohttp handler        {bare:8.1f} requests/s")
        sqlite = await intake_rate(
            f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", args.complaints, args.concurrency, Path(tmp)
        )
        figures["sqlite_intake_per_s"] = round(sqlite, 1)
        figures["sqlite_intake_to_bare_ratio"] = round(sqlite / bare, 4)
        print(
            f"intake API, SQLite          {sqlite:8.1f} complaints/s  ({sqlite / bare:.3f} of bare)"
        )
        if args.pg:
            import asyncpg
            from sqlalchemy.engine import make_url

            base = make_url(args.pg)
            name = f"odr_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(
                base.set(drivername="postgresql").render_as_string(hide_password=False)
            )
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                pg = await intake_rate(
                    base.set(database=name).render_as_string(hide_password=False),
                    args.complaints,
                    args.concurrency,
                    Path(tmp),
                )
            finally:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await admin.close()
            figures["postgres_intake_per_s"] = round(pg, 1)
            figures["postgres_intake_to_bare_ratio"] = round(pg / bare, 4)
            print(f"intake API, PostgreSQL      {pg:8.1f} complaints/s  ({pg / bare:.3f} of bare)")
            sizes = [int(s) for s in args.sizes.split(",") if s]
            results = {}
            for size in sizes:
                r = await near_duplicate_latency(args.pg, size, args.queries)
                results[size] = r
                figures[f"near_duplicate_{size}"] = r
                print(
                    f"near-duplicate check, {size:>8} stored: p50 {r['p50_ms']} ms,"
                    f" p95 {r['p95_ms']} ms, recall {r['recall']}"
                )
            if len(sizes) > 1:
                figures["near_duplicate_p50_largest_to_smallest_ratio"] = round(
                    results[sizes[-1]]["p50_ms"] / results[sizes[0]]["p50_ms"], 3
                )
        else:
            print("PostgreSQL skipped: give --pg or ODR_TEST_DATABASE_URL")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
