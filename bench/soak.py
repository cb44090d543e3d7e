"""Soak: concurrent recorded hearings and case-page readers against one real `odr serve`.

``--hearings`` hearings of three aiortc participants each (mediator, consumer, insurer's rep:
each its own account, login session and join token, through the hearing socket), recording
on, for ``--minutes``; the participants run in client processes of ``--per-process`` hearings
each and publish pre-encoded synthetic VP8 + Opus. ``--readers`` consumers (the hearings'
consumers among them, the others with a case of their own) read their case page and hold the
case's live stream (`/api/v1/cases/{id}/stream`) in a loop, from a reader process. The server
is a separate `odr serve` process on the embedded SQLite database, on 127.0.0.1 only.

Before the hearings start, the readers run alone for ``--baseline-seconds``: the idle server's
memory and the page time without hearings are the baselines of the same run.

Figures: server errors (5xx answers seen by any client plus tracebacks and ERROR lines in the
server's log), frames delivered (per subscriber: frames received from the others over frames
they sent, in the measured window), the server's memory growth after the first minute (VmRSS
from /proc/<pid>/status), p95 page time, the server's CPU and the client processes' CPU, and
what one hearing costs each (from /proc/<pid>/stat; the clients are real aiortc peers on the
wire, made cheap: they send pre-encoded frames and count what they receive without decoding).

    .venv/bin/python bench/soak.py --hearings 20 --minutes 10 --readers 200

Prints a table, then one JSON object with the figures as the last line (ratios under keys
containing "ratio").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ODR = [sys.executable, "-m", "odr.cli"]
PASSWORD = "odr-soak-2026"  # accounts of a throwaway database
MEDIATION_CENTRE = "滨江保险纠纷调解中心"
INSURER = "安康人寿"
LEAD_LOGIN = "lead@binjiang.demo"
SETUP_CONCURRENCY = 4


def loopback_ice() -> None:
    """Everything runs on this machine: let ICE use 127.0.0.1 (aioice leaves it out)."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda **kwargs: ["127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fast_passwords() -> Any:
    from argon2 import PasswordHasher

    from odr.services.passwords import Passwords

    return Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the server process ----------------------------------------------------------------------


class Server:
    """One `odr serve` process on its own port, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "ODR_PORT": str(self.port), "ODR_PUBLIC_URL": self.url}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([*ODR, "serve"], env=self.env, stdout=out, stderr=out)

    async def start(self) -> None:
        import aiohttp

        self.launch()
        assert self.process is not None
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                if self.process.poll() is not None:
                    raise RuntimeError(self.log.read_text()[-3000:])
                await asyncio.sleep(0.1)
        raise RuntimeError("the server did not start")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
        return kib / 1024

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_errors(self) -> tuple[int, int, list[str]]:
        """(tracebacks, ERROR lines, the first few of those lines) in the server's log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        lines = text.splitlines()
        tracebacks = sum(line.startswith("Traceback") for line in lines)
        errors = [line for line in lines if re.search(r"\bERROR\b|\bCRITICAL\b", line)]
        return tracebacks, len(errors), errors[:5]


def server_env(
    tmp: Path, log_level: str = "WARNING", max_live_hearings: int | None = None
) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODR_")}
    limit = {"ODR_MAX_LIVE_HEARINGS": str(max_live_hearings)} if max_live_hearings else {}
    return {
        **limit,
        **clean,
        "ODR_VAR_DIR": str(tmp / "var"),
        "ODR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'odr.sqlite3'}",
        "ODR_SECRET_KEY": "s" * 40,
        "ODR_RECORDINGS_DIR": str(tmp / "recordings"),
        "ODR_STORAGE_DIR": str(tmp / "evidence"),
        "ODR_MEDIA_ADDRESSES": "127.0.0.1",
        "ODR_LOG_LEVEL": log_level,
    }


# --- data setup ------------------------------------------------------------------------------


def consumer_login(n: int) -> str:
    return f"139{n:08d}"


async def create_accounts(env: dict[str, str], hearings: int, readers: int) -> dict[str, Any]:
    """Accounts through the services (as `odr create-user` makes them): per hearing a
    consumer, a rep of 安康人寿 and a mediator of the centre; consumers for the other readers.
    Returns {"consumers": [login], "reps": [(login, totp)], "mediators": [(login, totp)]}."""
    from odr.bootstrap import open_services
    from odr.config import Settings
    from odr.domain.accounts import Role
    from odr.services.accounts import NewUser, create_user
    from odr.storage.db import UnitOfWork

    settings = Settings.from_env(env)
    made: dict[str, Any] = {"consumers": [], "reps": [], "mediators": []}
    today = date.today()
    async with open_services(settings, passwords=fast_passwords()) as services:

        async def make(new: NewUser) -> str | None:
            async with UnitOfWork(services.sessionmaker) as uow:
                created = await create_user(uow, services.passwords, new, today, box=services.box)
            return created.totp_secret

        for n in range(max(readers, hearings)):
            await make(NewUser(consumer_login(n), PASSWORD, f"消费者{n}"))
            made["consumers"].append(consumer_login(n))
        for n in range(hearings):
            for role, org, key, prefix in (
                (Role.INSURER_REP, INSURER, "reps", "rep"),
                (Role.MEDIATOR, MEDIATION_CENTRE, "mediators", "mediator"),
            ):
                login = f"{prefix}{n}@soak.test"
                secret = await make(
                    NewUser(login, PASSWORD, f"{prefix} {n}", role, org, f"S-{prefix}-{n}")
                )
                made[key].append((login, secret))
    return made


class Api:
    """One person's HTTP client (own cookies), answering in JSON with the status checked."""

    def __init__(self, base: str) -> None:
        import aiohttp

        self.base = base
        self.client = aiohttp.ClientSession(
            base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.token = ""

    async def login(self, login: str, password: str, totp_secret: str | None = None) -> Api:
        from odr.services.passwords import current_totp

        body = {"login": login, "password": password}
        if totp_secret:
            body["otp"] = current_totp(totp_secret)
        async with self.client.post("/api/v1/auth/login", json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"login {login}: {resp.status} {await resp.text()}")
            self.token = (await resp.json())["csrf_token"]
        return self

    async def get(self, path: str) -> Any:
        async with self.client.get(path) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        headers = {"X-CSRF-Token": self.token}
        async with self.client.post(path, json=body or {}, headers=headers) as resp:
            if resp.status != status:
                raise RuntimeError(f"POST {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    def cookies(self) -> dict[str, str]:
        from yarl import URL

        return {
            k: m.value for k, m in self.client.cookie_jar.filter_cookies(URL(self.base)).items()
        }

    def handle(self) -> dict[str, Any]:
        """What another process needs to act in this login session."""
        return {"cookies": self.cookies(), "token": self.token}

    async def close(self) -> None:
        await self.client.close()


async def bounded_gather(items: list[Any], work: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(item: Any) -> Any:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def build_cases(base: str, accounts: dict[str, Any], hearings: int) -> dict[str, Any]:
    """Over the API as in `tests.builders`: each hearing's case filed, answered, taken to
    mediation, its mediator assigned by the lead, a hearing confirmed ten minutes ahead; every
    other reader's case filed. Returns the login sessions (as handles) and the ids."""
    from odr.services import demo
    from tests.builders import (
        ANKANG_REP,
        CONSUMER,
        LEAD,
        MEDIATOR,
        filed_case,
        hearing_ahead,
    )

    lead_secret = next(u.totp_secret for u in demo.USERS if u.login == LEAD_LOGIN)
    opened: list[Api] = []

    async def person(login: str, secret: str | None = None) -> Api:
        api = Api(base)
        opened.append(api)
        return await api.login(login, PASSWORD, secret)

    try:
        lead = Api(base)
        opened.append(lead)
        await lead.login(LEAD_LOGIN, demo.DEMO_PASSWORD, lead_secret)

        async def hearing(n: int) -> dict[str, Any]:
            consumer = await person(accounts["consumers"][n])
            rep = await person(*accounts["reps"][n])
            mediator = await person(*accounts["mediators"][n])
            me = await mediator.get("/api/v1/me")
            people = {CONSUMER: consumer, ANKANG_REP: rep, MEDIATOR: mediator, LEAD: lead}
            hearing_id, case_id = await hearing_ahead(people, int(me["user"]["id"]))  # type: ignore[arg-type]
            return {
                "hearing_id": hearing_id,
                "case_id": case_id,
                "mediator": mediator.handle(),
                "consumer": consumer.handle(),
                "rep": rep.handle(),
            }

        async def reader(login: str) -> dict[str, Any]:
            consumer = await person(login)
            case_id = await filed_case({CONSUMER: consumer})
            return {"case_id": case_id, **consumer.handle()}

        rooms = await bounded_gather(list(range(hearings)), hearing)
        others = await bounded_gather(accounts["consumers"][hearings:], reader)
        readers = [{"case_id": r["case_id"], **r["consumer"]} for r in rooms] + others
        return {"hearings": rooms, "readers": readers}
    finally:
        for api in opened:
            await api.close()


# --- child processes: a line protocol on stdin/stdout ----------------------------------------


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def session_for(base: str, handle: dict[str, Any]) -> Any:
    """An HTTP client carrying a login session made in another process."""
    import aiohttp
    from yarl import URL

    from tests.integration.helpers import Session

    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies(handle["cookies"], URL(base))
    client = aiohttp.ClientSession(base_url=base, cookie_jar=jar)
    return Session(client, handle["token"])  # type: ignore[arg-type]


def room_client(session: Any, hearing_id: int) -> Any:
    """A `RoomClient` that waits up to a minute for the answer to its join (a loaded machine)."""
    from tests.realtime.hearing_setup import RoomClient, ok

    class PatientRoomClient(RoomClient):
        async def connect(
            self, *, consent: bool = True, token: str | None = None
        ) -> dict[str, Any]:
            ticket = await ok(await self.session.post(f"/api/v1/hearings/{self.hearing_id}/join"))
            self.messages = []
            self.ws = await self.session.client.ws_connect(f"/ws/hearings/{self.hearing_id}")
            await self.ws.send_json(
                {"type": "join", "v": 1, "token": ticket["token"], "consent_recording": consent}
            )
            self._reader = asyncio.ensure_future(self._read())
            first = await self.next(lambda m: m["type"] in ("welcome", "error"), timeout=60)
            if first["type"] == "welcome":
                self.user_id = first["you"]["user_id"]
            return first

        async def media(self, peer: Any) -> None:
            self.peer = peer
            mark = len(self.messages)
            await self.send({"type": "offer", "sdp": await peer.offer()})
            answer = await self.next(
                lambda m: m["type"] in ("answer", "error"), after=mark, timeout=60
            )
            if answer["type"] != "answer":
                raise RuntimeError(f"hearing {self.hearing_id}: {answer}")
            await peer.accept(answer["sdp"])

    return PatientRoomClient(session, hearing_id)


class Hearing:
    """The three participants of one hearing in a client process."""

    def __init__(self, base: str, spec: dict[str, Any], clips: Any) -> None:
        self.spec = spec
        self.id = int(spec["hearing_id"])
        self.sessions = {role: session_for(base, spec[role]) for role in ROLES}
        self.clients = {role: room_client(self.sessions[role], self.id) for role in ROLES}
        self.clips = clips

    async def enter(self) -> None:
        from tests.realtime.peers import Peer, wait_for

        mediator = self.clients["mediator"]
        welcome = await mediator.connect()
        if welcome["type"] != "welcome":
            raise RuntimeError(f"hearing {self.id}: {welcome}")
        for role in ("consumer", "rep"):
            party = self.clients[role]
            first = await party.connect()
            if first["type"] != "welcome":
                raise RuntimeError(f"hearing {self.id} {role}: {first}")
            mark = len(party.messages)
            await mediator.send({"type": "admit", "user_id": party.user_id})
            await party.next(
                lambda m: m["type"] == "notice" and m["code"] == "admitted", after=mark, timeout=30
            )
        for role, client in self.clients.items():
            await client.media(Peer(f"h{self.id}-{role}", decode=False, clips=self.clips))
        await mediator.send({"type": "recording", "on": True})
        for client in self.clients.values():
            await client.next(lambda m: m["type"] == "state" and m["recording"] is True, 30)
        await wait_for(self.everyone_sees_everyone, 60, 0.1)

    def pairs(self) -> list[tuple[str, str]]:
        return [(s, p) for s in ROLES for p in ROLES if s != p]

    def everyone_sees_everyone(self) -> bool:
        for sub, pub in self.pairs():
            receiver, sender = self.clients[sub], self.clients[pub]
            slots = receiver.state().get("slots", {})
            if str(sender.user_id) not in slots:
                return False
            slot = receiver.peer.slots[int(slots[str(sender.user_id)])]
            if slot.video_frames == 0 or slot.audio_frames == 0:
                return False
        return True

    def snapshot(self) -> dict[str, Any]:
        """Frames sent by each participant, and got by each from each other, per kind (a
        publisher gone from a subscriber's slots counts as nothing got)."""
        sent = {}
        got = {}
        for role, client in self.clients.items():
            peer = client.peer
            sent[role] = {
                "video": peer.video_source.frames_sent,
                "audio": peer.audio_source.frames_sent,
            }
        for sub, pub in self.pairs():
            receiver = self.clients[sub]
            slot_index = receiver.state().get("slots", {}).get(str(self.clients[pub].user_id))
            if slot_index is None:
                got[f"{sub}<{pub}"] = {"video": 0, "audio": 0}
                continue
            slot = receiver.peer.slots[int(slot_index)]
            got[f"{sub}<{pub}"] = {"video": slot.video_frames, "audio": slot.audio_frames}
        return {"sent": sent, "got": got}

    def troubles(self) -> list[str]:
        """Sockets closed, connections not connected, errors and notices received."""
        found = []
        for role, client in self.clients.items():
            if client.ws is None or client.ws.closed:
                code = None if client.ws is None else client.ws.close_code
                found.append(f"h{self.id} {role}: socket closed ({code})")
            state = client.peer.pc.connectionState if client.peer else "none"
            if state != "connected":
                found.append(f"h{self.id} {role}: peer connection {state}")
            for m in client.messages:
                if m["type"] == "error" or (
                    m["type"] == "notice" and m.get("code") not in ("admitted",)
                ):
                    found.append(f"h{self.id} {role}: {json.dumps(m, ensure_ascii=False)[:200]}")
        return found

    def open_sockets(self) -> int:
        return sum(c.ws is not None and not c.ws.closed for c in self.clients.values())

    async def close(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        for session in self.sessions.values():
            await session.client.close()


ROLES = ("mediator", "consumer", "rep")


async def client_process(spec: dict[str, Any]) -> None:
    """Joins its hearings, says ready, measures between "start" and "stop"."""
    loopback_ice()
    from signaling.ice import harden_ice

    harden_ice()  # as the server does (aiortc clients like it; browsers need none of it)
    # why a connection ends (ICE consent, DTLS) goes to this process's log
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aioice.ice").setLevel(logging.INFO)
    from signaling.media import encode_audio_clip, encode_video_clip

    clips = (
        encode_video_clip(width=spec["width"], height=spec["height"], fps=spec["fps"], seconds=2.0),
        encode_audio_clip(seconds=1.0),
    )
    commands = await stdin_lines()
    hearings = [Hearing(spec["base"], h, clips) for h in spec["hearings"]]
    try:
        await asyncio.gather(*(h.enter() for h in hearings))
        say({"ready": len(hearings)})
        before: list[dict[str, Any]] = []
        while line := (await commands.readline()).decode().strip():
            if line == "start":
                before = [h.snapshot() for h in hearings]
                say({"started": True})
            elif line == "stop":
                after = [h.snapshot() for h in hearings]
                say(
                    {
                        "hearings": [
                            {
                                "id": h.id,
                                "before": b,
                                "after": a,
                                "open_sockets": h.open_sockets(),
                                "troubles": h.troubles(),
                            }
                            for h, b, a in zip(hearings, before, after, strict=True)
                        ]
                    }
                )
                break
    finally:
        for h in hearings:
            await h.close()


async def reader_process(spec: dict[str, Any]) -> None:
    """Readers, as a browser on the case page: read the page, hold its live stream for
    ``hold`` seconds and read the page again on each ``changed`` event, pause, again — until
    "stop" (or ``max_rounds``). Each page time is tagged with the phase named by the last
    command ("baseline", "load")."""
    import aiohttp

    base, hold, pause = spec["base"], spec["hold"], spec["pause"]
    commands = await stdin_lines()
    phase = {"name": "setup"}
    stop = asyncio.Event()
    samples: list[tuple[str, float]] = []  # (phase, page seconds)
    statuses: dict[str, int] = {}
    events = {"changed": 0, "streams": 0, "failures": 0, "streams_ended_by_server": 0}
    connector = aiohttp.TCPConnector(limit=0)

    def count(status: int) -> None:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    async def reader(handle: dict[str, Any], rng: random.Random) -> None:
        from yarl import URL

        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies(handle["cookies"], URL(base))
        page = f"/cases/{handle['case_id']}"
        stream = f"/api/v1/cases/{handle['case_id']}/stream"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
        async with aiohttp.ClientSession(
            base_url=base,
            cookie_jar=jar,
            connector=connector,
            connector_owner=False,
            timeout=timeout,
        ) as http:

            async def read_page() -> None:
                started = time.perf_counter()
                try:
                    async with http.get(page) as resp:
                        await resp.read()
                        count(resp.status)
                        if resp.status == 200 and phase["name"] != "setup":
                            samples.append((phase["name"], time.perf_counter() - started))
                except (aiohttp.ClientError, TimeoutError):
                    events["failures"] += 1

            async def follow(resp: Any) -> None:
                deadline = time.monotonic() + hold * rng.uniform(0.8, 1.2)
                while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    try:
                        line = await asyncio.wait_for(resp.content.readline(), left)
                    except TimeoutError:
                        return
                    if not line:
                        events["streams_ended_by_server"] += 1
                        return
                    if line.startswith(b"event: changed"):
                        events["changed"] += 1
                        await read_page()

            # spread the readers' first rounds over one hold
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0, hold))
            for _ in range(spec["max_rounds"]):
                if stop.is_set():
                    return
                await read_page()
                try:
                    async with http.get(stream) as resp:
                        count(resp.status)
                        events["streams"] += 1
                        if resp.status == 200:
                            await follow(resp)
                except (aiohttp.ClientError, TimeoutError):
                    events["failures"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), rng.uniform(0.5, 1.5) * pause)

    rng = random.Random(11)
    tasks = [asyncio.ensure_future(reader(h, random.Random(rng.random()))) for h in spec["readers"]]
    say({"ready": len(tasks)})
    try:
        while line := (await commands.readline()).decode().strip():
            if line == "stop":
                break
            phase["name"] = line
            say({"phase": line})
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        crashed = [repr(t.exception()) for t in done if not t.cancelled() and t.exception()]
        by_phase: dict[str, list[float]] = {}
        for name, seconds in samples:
            by_phase.setdefault(name, []).append(seconds)
        say(
            {
                "pages": {
                    name: {
                        "count": len(values),
                        "p50_ms": percentile(values, 0.5) * 1000,
                        "p95_ms": percentile(values, 0.95) * 1000,
                    }
                    for name, values in by_phase.items()
                },
                "statuses": statuses,
                "events": events,
                "crashed": crashed[:3],
            }
        )
    finally:
        await connector.close()


class Child:
    """A child process of this script, spoken to by lines of JSON."""

    def __init__(self, mode: str, spec: dict[str, Any], tmp: Path, name: str) -> None:
        self.mode, self.spec, self.name = mode, spec, name
        self.spec_path = tmp / f"{name}.json"
        self.spec_path.write_text(json.dumps(spec))
        self.stderr = tmp / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.stderr.open("wb") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                self.mode,
                str(self.spec_path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                limit=16 * 1024 * 1024,
            )

    async def read(self, seconds: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), seconds)
        if not line:
            raise RuntimeError(f"{self.name} ended: {self.stderr.read_text()[-3000:]}")
        message: dict[str, Any] = json.loads(line)
        return message

    async def send(self, command: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


# --- the run ---------------------------------------------------------------------------------


def delivery(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per subscriber: frames got from the others over frames the others sent."""
    per_subscriber: list[float] = []
    totals = {"video": [0, 0], "audio": [0, 0]}  # [got, sent]
    for hearing in results:
        b, a = hearing["before"], hearing["after"]
        for sub in ROLES:
            got = sent = 0
            for pub in ROLES:
                if pub == sub:
                    continue
                for kind in ("video", "audio"):
                    g = a["got"][f"{sub}<{pub}"][kind] - b["got"][f"{sub}<{pub}"][kind]
                    s = a["sent"][pub][kind] - b["sent"][pub][kind]
                    got, sent = got + g, sent + s
                    totals[kind][0] += g
                    totals[kind][1] += s
            per_subscriber.append(min(1.0, got / sent) if sent else 0.0)
    return {
        "frames_sent": totals["video"][1] + totals["audio"][1],
        "frames_delivered": totals["video"][0] + totals["audio"][0],
        "delivered_video": totals["video"][0] / max(1, totals["video"][1]),
        "delivered_audio": totals["audio"][0] / max(1, totals["audio"][1]),
        "delivered_min_subscriber": min(per_subscriber) if per_subscriber else 0.0,
        "subscribers": len(per_subscriber),
    }


def prepare(env: dict[str, str]) -> None:
    """The schema and the demo data (the centre's lead, the insurers), by the command line."""
    for command in (["migrate"], ["demo"]):
        subprocess.run([*ODR, *command], env=env, check=True, capture_output=True, timeout=180)


async def soak(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    setup_started = time.monotonic()
    accounts = await create_accounts(env, args.hearings, args.readers)
    server = Server(env, tmp / "server.log")
    children: list[Child] = []
    try:
        await server.start()
        made = await build_cases(server.url, accounts, args.hearings)
        setup_s = time.monotonic() - setup_started
        await asyncio.sleep(2)
        rss_idle = server.rss_mib()

        # baseline: the readers alone
        reader = Child(
            "--reader",
            {
                "base": server.url,
                "readers": made["readers"],
                "hold": args.hold,
                "pause": args.pause,
                "max_rounds": int((args.baseline_seconds + args.minutes * 60 + 300) / args.hold)
                + 2,
            },
            tmp,
            "readers",
        )
        children.append(reader)
        await reader.start()
        await reader.read(60)
        await reader.send("baseline")
        await reader.read(10)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(args.baseline_seconds)
        baseline_cores = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        rss_baseline = server.rss_mib()

        # the hearings join, then the measured window
        groups = [
            made["hearings"][i : i + args.per_process]
            for i in range(0, args.hearings, args.per_process)
        ]
        clients = [
            Child(
                "--client",
                {
                    "base": server.url,
                    "hearings": group,
                    "width": args.width,
                    "height": args.height,
                    "fps": args.fps,
                },
                tmp,
                f"clients{n}",
            )
            for n, group in enumerate(groups)
        ]
        children += clients
        join_started = time.monotonic()
        for child in clients:
            await child.start()
        for child in clients:
            await child.read(180)
        join_s = time.monotonic() - join_started
        await asyncio.sleep(args.warmup)
        await reader.send("load")
        await reader.read(10)
        for child in clients:
            await child.send("start")
        for child in clients:
            await child.read(30)
        pids = [c.process.pid for c in clients if c.process is not None]
        clients_cpu0 = sum(cpu_seconds(pid) for pid in pids)
        assert reader.process is not None
        reader_cpu0 = cpu_seconds(reader.process.pid)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        rss_samples: list[tuple[float, float]] = [(0.0, server.rss_mib())]
        window = args.minutes * 60
        while (elapsed := time.monotonic() - wall0) < window:
            await asyncio.sleep(min(args.sample_every, window - elapsed))
            rss_samples.append((time.monotonic() - wall0, server.rss_mib()))
            alive = server.process is not None and server.process.poll() is None
            if not alive:
                raise RuntimeError("the server died: " + server.log.read_text()[-3000:])
        load_cores = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        client_cores = (sum(cpu_seconds(pid) for pid in pids) - clients_cpu0) / (
            time.monotonic() - wall0
        )
        reader_cores = (cpu_seconds(reader.process.pid) - reader_cpu0) / (time.monotonic() - wall0)
        load_average = os.getloadavg()[0]
        for child in clients:
            await child.send("stop")
        results: list[dict[str, Any]] = []
        for child in clients:
            results += (await child.read(60))["hearings"]
        await reader.send("stop")
        reads = await reader.read(90)
        for child in children:
            await child.stop()
        await asyncio.sleep(1)
        rss_end = server.rss_mib()
    finally:
        for child in children:
            await child.stop()
        server.stop()
    tracebacks, error_lines, first_errors = server.log_errors()

    at_minute = next((rss for t, rss in rss_samples if t >= 60), rss_samples[-1][1])
    after_minute = [rss for t, rss in rss_samples if t >= 60] or [rss_samples[-1][1]]
    server_5xx = sum(n for status, n in reads["statuses"].items() if int(status) >= 500)
    frames = delivery(results)
    pages = reads["pages"]
    base_p95 = pages.get("baseline", {}).get("p95_ms", float("nan"))
    load_p95 = pages.get("load", {}).get("p95_ms", float("nan"))
    recordings = list((tmp / "recordings").rglob("*.webm"))
    return {
        "hearings": args.hearings,
        "participants": args.hearings * len(ROLES),
        "minutes": args.minutes,
        "readers": len(made["readers"]),
        "video": f"{args.width}x{args.height}@{args.fps}",
        "setup_s": setup_s,
        "join_s": join_s,
        "server_errors": server_5xx + tracebacks + error_lines,
        "server_5xx": server_5xx,
        "log_tracebacks": tracebacks,
        "log_error_lines": error_lines,
        "first_log_errors": first_errors,
        "reader_statuses": reads["statuses"],
        "reader_crashes": reads["crashed"],
        **frames,
        "sockets_open_at_end": sum(h["open_sockets"] for h in results),
        "participant_troubles": [t for h in results for t in h["troubles"]][:10],
        "rss_idle_mib": rss_idle,
        "rss_baseline_mib": rss_baseline,
        "rss_at_1min_mib": at_minute,
        "rss_max_mib": max(rss for _, rss in rss_samples),
        "rss_end_mib": rss_end,
        "rss_growth_after_1min_mib": max(after_minute) - at_minute,
        "rss_ratio_to_idle": max(rss for _, rss in rss_samples) / rss_idle,
        "page_p50_ms": pages.get("load", {}).get("p50_ms", float("nan")),
        "page_p95_ms": load_p95,
        "page_p95_baseline_ms": base_p95,
        "page_p95_ratio_to_baseline": load_p95 / base_p95,
        "pages_read": sum(p["count"] for p in pages.values()),
        "pages_read_loaded": pages.get("load", {}).get("count", 0),
        "streams_opened": reads["events"]["streams"],
        "stream_events": reads["events"]["changed"],
        "reader_failures": reads["events"]["failures"],
        "streams_ended_by_server": reads["events"]["streams_ended_by_server"],
        "server_cores": load_cores,
        "server_cores_baseline": baseline_cores,
        "client_processes_cores": client_cores,
        "reader_process_cores": reader_cores,
        # what one more hearing costs: the server over its baseline (the readers alone), and
        # the clients (three aiortc participants each, pre-encoded media, no decoding)
        "server_cores_per_hearing": (load_cores - baseline_cores) / args.hearings,
        "client_cores_per_hearing": client_cores / args.hearings,
        "machine_load_average": load_average,
        "recording_segments": len(recordings),
    }


def report(figures: dict[str, Any]) -> None:
    rows = [
        ("hearings x participants", f"{figures['hearings']} x 3 ({figures['video']})"),
        ("measured minutes", f"{figures['minutes']}"),
        ("readers (page + live stream)", f"{figures['readers']}"),
        ("server errors (5xx + log)", f"{figures['server_errors']}"),
        ("frames delivered, worst subscriber", f"{figures['delivered_min_subscriber']:.2%}"),
        (
            "video / audio frames delivered",
            f"{figures['delivered_video']:.2%} / {figures['delivered_audio']:.2%}",
        ),
        ("frames sent in window", f"{figures['frames_sent']}"),
        (
            "server RSS idle / at 1 min / max (MiB)",
            f"{figures['rss_idle_mib']:.1f} / {figures['rss_at_1min_mib']:.1f}"
            f" / {figures['rss_max_mib']:.1f}",
        ),
        ("RSS growth after 1st minute (MiB)", f"{figures['rss_growth_after_1min_mib']:.1f}"),
        (
            "page p95 loaded / baseline (ms)",
            f"{figures['page_p95_ms']:.1f} / {figures['page_p95_baseline_ms']:.1f}",
        ),
        ("page p95 ratio to baseline", f"{figures['page_p95_ratio_to_baseline']:.2f}"),
        ("pages read / streams opened", f"{figures['pages_read']} / {figures['streams_opened']}"),
        ("live stream events received", f"{figures['stream_events']}"),
        (
            "server CPU loaded / baseline (cores)",
            f"{figures['server_cores']:.2f} / {figures['server_cores_baseline']:.2f}",
        ),
        ("client processes CPU (cores)", f"{figures['client_processes_cores']:.2f}"),
        (
            "CPU per hearing, server / clients (cores)",
            f"{figures['server_cores_per_hearing']:.3f}"
            f" / {figures['client_cores_per_hearing']:.3f}",
        ),
        ("reader process CPU (cores)", f"{figures['reader_process_cores']:.2f}"),
        ("machine load average (1 min)", f"{figures['machine_load_average']:.2f}"),
        ("recording segments written", f"{figures['recording_segments']}"),
    ]
    print()
    for label, value in rows:
        print(f"{label:42} {value}")
    summary = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}
    print(json.dumps(summary, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hearings", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--per-process", type=int, default=3, help="hearings per client process")
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--hold", type=float, default=60.0, help="seconds a reader holds the live stream"
    )
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between reader rounds")
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument(
        "--server-log-level", default="WARNING", help="INFO shows ICE consent and relay events"
    )
    parser.add_argument(
        "--max-live-hearings",
        type=int,
        default=0,
        help="the server's ODR_MAX_LIVE_HEARINGS (default: --hearings, so that all are let in)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the server's and the clients' logs"
    )
    parser.add_argument("--client", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--reader", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_process(json.loads(Path(args.client).read_text())))
    elif args.reader:
        asyncio.run(reader_process(json.loads(Path(args.reader).read_text())))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="odr-soak-"))
        env = server_env(tmp, args.server_log_level, args.max_live_hearings or args.hearings)
        prepare(env)
        try:
            report(asyncio.run(soak(args, tmp, env)))
        except BaseException:
            print(f"the server's log and the client logs are kept in {tmp}", file=sys.stderr)
            raise
        if args.keep:
            print(f"the server's log and the client logs are kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
