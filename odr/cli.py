"""The `odr` command: serve, migrate, create-organisation, create-user, demo, worker,
totp-code, triage, backup, restore, verify-all."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from odr.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


#: Bytes of the request line and of one header the HTTP parser takes; past these aiohttp
#: itself answers 400 (plain text). Below them the app answers with its JSON error shape.
MAX_REQUEST_LINE = 128 * 1024
MAX_HEADER_FIELD = 32 * 1024


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from odr import logs
    from odr.app import create_app

    settings = _settings()
    logs.configure(settings.log_format, settings.log_level)
    host = args.host or settings.host
    port = args.port or settings.port
    settings = settings.serving_on(host, port)  # links name this port unless ODR_PUBLIC_URL
    app = create_app(settings)
    print(f"ODR serving on http://{host}:{port}  (mode: {settings.mode.value})", flush=True)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log=None,
        # long request lines reach the app, which refuses them in its own error shape
        max_line_size=MAX_REQUEST_LINE,
        max_field_size=MAX_HEADER_FIELD,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from odr.storage.db import make_engine
    from odr.storage.migrate import upgrade

    settings = _settings()

    async def run() -> None:
        # only the engine, without deadlines: a migration may rewrite large tables
        engine = make_engine(settings.database_url)
        try:
            await upgrade(
                engine,
                args.revision,
                secret_key=settings.secret_key,
                previous_secret_keys=settings.previous_secret_keys,
            )
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"database migrated to {args.revision}")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from odr.bootstrap import open_services
    from odr.domain.accounts import Role
    from odr.domain.errors import DomainError
    from odr.services.accounts import NewUser, create_user
    from odr.services.passwords import totp_uri
    from odr.storage.db import UnitOfWork

    settings = _settings()
    password = args.password or getpass.getpass("Password: ")
    new = NewUser(
        login=args.login,
        password=password,
        display_name=args.name,
        role=Role(args.role),
        organisation=args.organisation,
        badge_number=args.badge,
        is_admin=args.admin,
    )

    async def run() -> int:
        try:
            async with (
                open_services(settings) as services,
                UnitOfWork(services.sessionmaker) as uow,
            ):
                created = await create_user(
                    uow, services.passwords, new, date.today(), box=services.box
                )
        except DomainError as exc:
            print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
            return 2
        print(f"created {created.user.role.value} {created.user.login} (id {created.user.id})")
        if created.totp_secret:
            print("second factor: add this to an authenticator app:")
            print(f"  {totp_uri(created.totp_secret, created.user.login)}")
            print("recovery codes (shown once; each works once instead of a code):")
            print("  " + "  ".join(created.recovery_codes))
        return 0

    return asyncio.run(run())


def cmd_reseal_secrets(args: argparse.Namespace) -> int:
    """Seal every stored second-factor secret again with the current secret key (after a
    rotation: the previous key still listed in ODR_PREVIOUS_SECRET_KEYS)."""
    from odr.bootstrap import open_services
    from odr.services.admin import reseal_secrets
    from odr.storage.db import UnitOfWork

    settings = _settings()

    async def run() -> int:
        async with open_services(settings) as services, UnitOfWork(services.sessionmaker) as uow:
            return await reseal_secrets(uow, services.box)

    count = asyncio.run(run())
    print(f"sealed {count} second-factor secret(s) again with the current key")
    return 0


def cmd_create_organisation(args: argparse.Namespace) -> int:
    from odr.bootstrap import open_services
    from odr.domain.accounts import OrganisationKind
    from odr.domain.errors import DomainError
    from odr.services.accounts import create_organisation
    from odr.storage.db import UnitOfWork

    settings = _settings()

    async def run() -> int:
        try:
            async with (
                open_services(settings) as services,
                UnitOfWork(services.sessionmaker) as uow,
            ):
                org_id = await create_organisation(
                    uow,
                    kind=OrganisationKind(args.kind),
                    name=args.name,
                    name_en=args.name_en,
                    policy_count=args.policy_count,
                )
        except DomainError as exc:
            print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
            return 2
        print(f"created {args.kind} {args.name} (id {org_id})")
        return 0

    return asyncio.run(run())


def cmd_create_channel(args: argparse.Namespace) -> int:
    from odr.bootstrap import open_services
    from odr.domain.errors import DomainError
    from odr.services.channels import create_channel
    from odr.storage.db import UnitOfWork

    settings = _settings()

    async def run() -> int:
        try:
            async with (
                open_services(settings) as services,
                UnitOfWork(services.sessionmaker) as uow,
            ):
                made = await create_channel(uow, args.name, args.kind)
        except DomainError as exc:
            print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
            return 2
        print(f"created channel {args.name} (id {made.channel_id})")
        print(f"  API key: {made.api_key}")
        print(f"  secret:  {made.secret}   (shown once: store it in the partner system)")
        return 0

    return asyncio.run(run())


def cmd_demo(args: argparse.Namespace) -> int:
    from odr.bootstrap import open_services
    from odr.services import demo
    from odr.services.passwords import current_totp

    settings = _settings()
    if settings.production:
        print("refused: demo data is for development mode only", file=sys.stderr)
        return 2

    async def run() -> bool:
        async with open_services(settings) as services:
            return await demo.seed(
                services.sessionmaker, services.passwords, date.today(), services.box
            )

    created = asyncio.run(run())
    print("demo data created" if created else "demo data already present (database not empty)")
    print(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD})")
    for u in demo.USERS:
        line = f"  {u.role.value:<12} {u.login:<26} {u.name}"
        if u.totp_secret:
            line += f"  TOTP secret {u.totp_secret} (code now: {current_totp(u.totp_secret)};"
            line += f" `odr totp-code {u.login}`)"
        print(line)
    print(
        f"  channel      {demo.CHANNEL_NAME}: API key {demo.CHANNEL_KEY},"
        f" secret {demo.CHANNEL_SECRET}"
    )
    return 0


def cmd_totp_code(args: argparse.Namespace) -> int:
    from odr.services import demo
    from odr.services.passwords import current_totp

    if _settings().production:
        print("refused: demo helper for development mode only", file=sys.stderr)
        return 2
    for u in demo.USERS:
        if u.login == args.login and u.totp_secret:
            print(current_totp(u.totp_secret))
            return 0
    print("no demo staff account with that login", file=sys.stderr)
    return 2


def cmd_worker(args: argparse.Namespace) -> int:
    from odr import logs
    from odr.bootstrap import open_services
    from odr.jobs import JobContext
    from odr.jobs.runners import arq_worker
    from odr.jobs.tasks import JOBS, PERIODIC
    from odr.storage.db import WORKER_STATEMENT_DEADLINE

    settings = _settings()
    logs.configure(settings.log_format, settings.log_level)
    redis_url = settings.redis_url
    if not redis_url:
        print(
            "the worker needs ODR_REDIS_URL; without Redis, `odr serve` runs jobs itself",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        async with open_services(
            settings, statement_deadline=WORKER_STATEMENT_DEADLINE
        ) as services:
            worker = arq_worker(JobContext(services), redis_url, JOBS, PERIODIC)
            metrics_site = await _worker_metrics(services)
            try:
                await worker.async_run()
            finally:
                await worker.close()
                if metrics_site is not None:
                    await metrics_site.cleanup()

    asyncio.run(run())
    return 0


async def _worker_metrics(services: Any) -> Any:
    """The worker's own /metrics (jobs run, failed, their lag) on ODR_WORKER_METRICS_PORT."""
    from aiohttp import web

    from odr.app import create_metrics_app

    port = services.settings.worker_metrics_port
    if port is None:
        return None
    runner = web.AppRunner(create_metrics_app(services), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, services.settings.host, port).start()
    print(f"worker metrics on http://{services.settings.host}:{port}/metrics", flush=True)
    return runner


def cmd_triage(args: argparse.Namespace) -> int:
    from odr.services.triage_file import triage_jsonl
    from odr.services.triage_model import ModelSource, path_from_env

    model = ModelSource(path_from_env())
    with open(args.file, encoding="utf-8") as fh:
        for row in triage_jsonl(fh, model=model):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def _model_path(args: argparse.Namespace) -> Path:
    from odr.services.triage_model import path_from_env

    if args.out:
        return Path(args.out)
    return path_from_env()


def cmd_triage_train(args: argparse.Namespace) -> int:
    """Train the category model on the corpus's training part (and ``--extra`` files)."""
    from odr.services import triage_model

    model = triage_model.build([Path(p) for p in args.extra])
    path = _model_path(args)
    triage_model.write(model, path)
    print(json.dumps({"artefact": str(path), **model.meta, "digest": model.digest}))
    return 0


def cmd_triage_eval(args: argparse.Namespace) -> int:
    """Score triage on the training part and on the held-out part of the corpus."""
    from odr.services import triage_eval, triage_model
    from odr.services.triage_rules import default_rules

    records = triage_model.load_corpus()
    train, held_out = triage_model.split(records)
    model = triage_model.train(train, digest=triage_model.corpus_digest(records))
    rules = default_rules()
    parts = {"train": train, "held_out": held_out}
    scores = {name: triage_eval.score(part, model, rules) for name, part in parts.items()}
    if args.json:
        print(json.dumps({name: s.to_json() for name, s in scores.items()}, ensure_ascii=False))
    else:
        print("\n\n".join(triage_eval.report(name, s) for name, s in scores.items()))
    return 0


def cmd_triage_export_corrections(args: argparse.Namespace) -> int:
    """Write staff corrections of the category as labelled examples (JSON lines)."""
    from odr.bootstrap import open_services
    from odr.services.triage_corrections import export_corrections

    settings = _settings()

    async def run() -> list[dict[str, object]]:
        async with open_services(settings) as services:
            return await export_corrections(services.sessionmaker)

    rows = asyncio.run(run())
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.out:
        Path(args.out).write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    print(f"{len(rows)} corrections", file=sys.stderr)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent snapshot of the database and every blob it refers to (incremental)."""
    from pathlib import Path

    from odr.bootstrap import open_services
    from odr.services.backup import ToolFailed, backup, prune, schema_revision
    from odr.storage.db import WORKER_STATEMENT_DEADLINE

    settings = _settings()
    if args.keep is not None and args.keep < 1:
        print("--keep must be 1 or more", file=sys.stderr)
        return 2

    async def run() -> int:
        async with open_services(
            settings, statement_deadline=WORKER_STATEMENT_DEADLINE
        ) as services:
            report = await backup(
                database_url=settings.database_url,
                sessionmaker=services.sessionmaker,
                store=services.evidence.store,
                recordings_dir=settings.recordings_dir,
                dest=Path(args.dest),
                revision=await schema_revision(services.engine),
                blob_store_kind="s3" if settings.s3_endpoint else "local",
                progress=print,
            )
        print(
            f"snapshot {report.snapshot}: {report.blobs} blobs, {report.copied} copied "
            f"({report.bytes_copied} bytes in {report.seconds:.1f} s, "
            f"{report.throughput:.1f} MB/s), {report.reused} already in the backup"
        )
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        if report.problems:
            return 1
        if args.keep:
            snapshots, blobs = prune(Path(args.dest), args.keep)
            print(f"pruned {snapshots} older snapshot(s) and {blobs} blob(s) none of them lists")
        return 0

    try:
        return asyncio.run(run())
    except ToolFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_restore(args: argparse.Namespace) -> int:
    """A snapshot back into an empty deployment (database, blob store, recordings)."""
    from pathlib import Path

    from odr.bootstrap import open_services
    from odr.domain.errors import DomainError
    from odr.services.backup import ToolFailed, restore
    from odr.storage.db import WORKER_STATEMENT_DEADLINE

    settings = _settings()

    async def run() -> int:
        async with open_services(
            settings, statement_deadline=WORKER_STATEMENT_DEADLINE
        ) as services:
            try:
                report = await restore(
                    source=Path(args.src),
                    database_url=settings.database_url,
                    engine=services.engine,
                    store=services.evidence.store,
                    recordings_dir=settings.recordings_dir,
                    progress=print,
                )
            except DomainError as exc:
                print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
                return 2
            except ToolFailed as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        print(
            f"restored {report.snapshot}: {report.blobs} blobs, {report.recordings} "
            f"recordings, {report.bytes_restored} bytes in {report.seconds:.1f} s"
        )
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        print("next: `odr migrate` (if this release is newer), then `odr verify-all`")
        return 1 if report.problems else 0

    return asyncio.run(run())


def cmd_verify_all(args: argparse.Namespace) -> int:
    """Every case chain, evidence item, recording and daily digest against their hashes."""
    from odr.bootstrap import open_services
    from odr.services.verification import verify_all
    from odr.storage.db import WORKER_STATEMENT_DEADLINE

    settings = _settings()

    async def run() -> int:
        async with open_services(
            settings, statement_deadline=WORKER_STATEMENT_DEADLINE
        ) as services:
            report = await verify_all(
                services.sessionmaker,
                services.evidence.store,
                settings.recordings_dir,
                settings.timezone,
            )
        for problem in report.problems:
            print(f"problem: {problem}")
        print(
            f"{'FAILED' if report.problems else 'ok'}: {report.cases} cases "
            f"({report.chain_entries} chain entries), {report.evidence_items} evidence items "
            f"({report.evidence_bytes} bytes), {report.recordings} recordings, "
            f"{report.digests} daily digests; {len(report.problems)} problem(s)"
        )
        return 1 if report.problems else 0

    return asyncio.run(run())


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from odr.bundle import main_verify

    return main_verify([args.file])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="odr", description="Online dispute resolution")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the web app, the API and the hearings")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
    m = sub.add_parser("migrate", help="bring the database schema up to date")
    m.add_argument("revision", nargs="?", default="head")
    m.set_defaults(func=cmd_migrate)
    c = sub.add_parser("create-user", help="create an account (any role)")
    c.add_argument("login", help="mobile number or e-mail")
    c.add_argument("--name", required=True)
    c.add_argument(
        "--role",
        default="consumer",
        choices=["consumer", "insurer_rep", "mediator", "centre_lead", "supervisor"],
    )
    c.add_argument("--organisation", help="organisation name (staff)")
    c.add_argument("--badge", help="staff badge number")
    c.add_argument("--admin", action="store_true", help="supervisor with user administration")
    c.add_argument("--password", help="(prompted when absent)")
    c.set_defaults(func=cmd_create_user)
    o = sub.add_parser("create-organisation", help="create an insurer, centre or the platform")
    o.add_argument("name")
    o.add_argument("--kind", required=True, choices=["insurer", "mediation_centre", "platform"])
    o.add_argument("--name-en")
    o.add_argument("--policy-count", type=int, help="policies in force (insurers)")
    o.set_defaults(func=cmd_create_organisation)
    ch = sub.add_parser("create-channel", help="register a partner channel (API key + secret)")
    ch.add_argument("name")
    ch.add_argument("--kind", default="partner_api", choices=["partner_api", "hotline"])
    ch.set_defaults(func=cmd_create_channel)
    rs = sub.add_parser(
        "reseal-secrets", help="seal second-factor secrets again with the current secret key"
    )
    rs.set_defaults(func=cmd_reseal_secrets)
    d = sub.add_parser("demo", help="seed demo data when the database is empty (development)")
    d.set_defaults(func=cmd_demo)
    t = sub.add_parser("totp-code", help="print the current code of a demo staff account")
    t.add_argument("login")
    t.set_defaults(func=cmd_totp_code)
    w = sub.add_parser("worker", help="run background jobs from Redis (arq)")
    w.set_defaults(func=cmd_worker)
    bk = sub.add_parser(
        "backup", help="snapshot the database and the evidence into a backup directory"
    )
    bk.add_argument("dest", help="backup directory (snapshots share its blobs)")
    bk.add_argument(
        "--keep", type=int, help="then keep only the KEEP newest snapshots (and their blobs)"
    )
    bk.set_defaults(func=cmd_backup)
    rt = sub.add_parser("restore", help="bring a snapshot back into an empty deployment")
    rt.add_argument("src", help="backup directory (its newest snapshot) or one snapshot")
    rt.set_defaults(func=cmd_restore)
    va = sub.add_parser(
        "verify-all", help="check every case chain, evidence item, recording and digest"
    )
    va.set_defaults(func=cmd_verify_all)
    vb = sub.add_parser("verify-bundle", help="check an exported evidence bundle offline")
    vb.add_argument("file")
    vb.set_defaults(func=cmd_verify_bundle)
    tr = sub.add_parser("triage", help="triage the complaints of a JSON-lines file")
    tr.add_argument("file")
    tr.set_defaults(func=cmd_triage)
    tt = sub.add_parser("triage-train", help="train the triage category model (no network)")
    tt.add_argument("--out", help="the artefact (default: $ODR_TRIAGE_MODEL or var/)")
    tt.add_argument("--extra", action="append", default=[], help="more labelled JSON lines")
    tt.set_defaults(func=cmd_triage_train)
    te = sub.add_parser("triage-eval", help="score triage on the corpus: train and held out")
    te.add_argument("--json", action="store_true", help="print JSON instead of tables")
    te.set_defaults(func=cmd_triage_eval)
    tx = sub.add_parser(
        "triage-export-corrections", help="write staff category corrections as examples"
    )
    tx.add_argument("--out", help="the JSON-lines file (default: standard output)")
    tx.set_defaults(func=cmd_triage_export_corrections)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
