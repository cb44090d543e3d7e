"""The authorisation matrix, walked from the router: every route × every role × how the caller
stands to the object (own case, the other party's item, a stranger's case, no session).

The rules are written out in `tests.authz_matrix` (one row per route); this test proves them
against the app on the embedded setup (SQLite), and proves the router and the table agree: a
route without a row fails, and so does a row without a route. Every response of a caller who is
a stranger to a case is searched for that case's number, complaint text and consumer's name
(and the other party's items for the mediator only); state-changing requests of strangers and
of callers without a session must leave the database and the evidence store as they were.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.client_exceptions import WSServerHandshakeError
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from odr.config import Settings
from odr.http.keys import HEARING_ROOM, SESSIONMAKER, SETTINGS
from odr.storage.models import Base, CaseRow, HearingRecording
from tests.authz_matrix import ROWS, Access, Row
from tests.builders import REJECTION, complaint, hearing_ahead, insurer_of, user_id
from tests.conftest import sqlite_database
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    HUAXIN_REP,
    LEAD,
    MEDIATOR,
    OTHER_CONSUMER,
    SUPERVISOR,
    USERS,
    Session,
    callers,
    dumps,
    login,
    signed_headers,
)

pytestmark = pytest.mark.timeout(240)
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def backend(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[Settings]:
    """The embedded setup only (SQLite, no Redis): the rules do not depend on the backend."""
    async with sqlite_database(tmp_path) as url:
        yield make_settings(url)


EVERYONE = (CONSUMER, OTHER_CONSUMER, ANKANG_REP, HUAXIN_REP, MEDIATOR, LEAD, SUPERVISOR)
NOBODY = "(no session)"
#: Who asks about a case, and which: every role on case A (王芳 / 安康人寿 / the demo mediator,
#: so its own case), the lead again on case B (where the lead is the mediator), the consumer,
#: the insurer's rep and the mediator on case B (a stranger's case: another consumer, another
#: insurer, another mediator), and no session.
PLAN = (
    (CONSUMER, "A"),
    (ANKANG_REP, "A"),
    (MEDIATOR, "A"),
    (LEAD, "A"),
    (SUPERVISOR, "A"),
    (LEAD, "B"),
    (CONSUMER, "B"),
    (ANKANG_REP, "B"),
    (MEDIATOR, "B"),
    (NOBODY, "A"),
)
#: Who asks on a route about no one case: one user of every role, and no session.
CALLERS = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD, SUPERVISOR, NOBODY)
HIDDEN_CODES = {"case_not_found", "hearing_not_found"}
#: Every table but the login sessions' and the job runs' (a request may touch those without
#: changing anything of a case).
TABLES = sorted(set(Base.metadata.tables) - {"web_sessions", "job_runs"})


@dataclass
class Item:
    sequence: int
    submitter: str
    for_mediator_only: bool
    marker: str


@dataclass(frozen=True)
class RecordedSegment:
    path: Path
    sha256: str
    size: int
    started_at: datetime
    ended_at: datetime


async def record(app: web.Application, hearing_id: int, user: int, marker: str) -> int:
    """A closed recording segment of the hearing, entered as the recorder enters one; its id."""
    room = app[HEARING_ROOM]
    folder = Path(app[SETTINGS].recordings_dir) / str(hearing_id)
    folder.mkdir(parents=True, exist_ok=True)
    data = b"\x1aE\xdf\xa3" + marker.encode() * 4
    path = folder / f"{user}-0001.webm"
    path.write_bytes(data)
    now = datetime.now(UTC)
    segment = RecordedSegment(path, hashlib.sha256(data).hexdigest(), len(data), now, now)
    await room.add_segment(hearing_id, user, segment)
    async with app[SESSIONMAKER]() as s:
        stmt = select(HearingRecording.id).where(HearingRecording.hearing_id == hearing_id)
        return int((await s.execute(stmt)).scalar_one())


@dataclass
class World:
    """Case A (王芳 against 安康人寿, the demo mediator, a hearing ahead) and case B (李建国
    against 华信财险, the centre's lead as its mediator, a hearing ahead): each caller stands to
    one of them and is a stranger to the other, except the lead and the supervisor."""

    cases: dict[str, int]
    numbers: dict[str, str]
    hearings: dict[str, int]
    items: dict[str, list[Item]]
    uploads: dict[str, str]
    markers: dict[str, tuple[str, ...]]
    members: dict[str, frozenset[str]]
    mediator_id: int = 0
    recordings: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def strangers(self, case: str) -> set[str]:
        return set(EVERYONE) - self.members[case] | {NOBODY}

    def hidden_markers(self, who: str) -> list[str]:
        """What ``who`` must never read: every marker of a case they are a stranger to, and
        the other side's items for the mediator only."""
        found: list[str] = []
        for case in self.cases:
            if who in self.strangers(case):
                found += self.markers[case]
                found += [i.marker for i in self.items[case]]
            else:
                found += [
                    i.marker
                    for i in self.items[case]
                    if i.for_mediator_only and not self.sees_item(who, case, i)
                ]
        return found

    def all_markers(self) -> list[str]:
        return [
            m for c in self.cases for m in (*self.markers[c], *(i.marker for i in self.items[c]))
        ]

    def sees_item(self, who: str, case: str, item: Item) -> bool:
        if who not in self.members[case]:
            return False
        if not item.for_mediator_only or who == item.submitter:
            return True
        return who in (MEDIATOR, LEAD, SUPERVISOR)


async def upload(session: Session, case_id: int, name: str, body: bytes, visibility: str) -> int:
    resp = await session.client.post(
        f"/api/v1/cases/{case_id}/evidence",
        params={"name": name, "kind": "document", "visibility": visibility},
        data=body,
        headers={"X-CSRF-Token": session.token, "Content-Type": "application/octet-stream"},
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["sequence"])


async def build_world(people: dict[str, Session], app: web.Application) -> World:
    who = callers(people)
    mediator_id = await user_id(app, MEDIATOR)
    lead_id = await user_id(app, LEAD)
    hearing_a, case_a = await hearing_ahead(who, mediator_id)
    # case B, brought to a hearing by the lead as its mediator
    other, huaxin, lead = who[OTHER_CONSUMER], who[HUAXIN_REP], who[LEAD]
    body = complaint(
        await insurer_of(other, "华信财险"),
        policy_numbers=["HX2024000777"],
        description="车辆被追尾后理赔员拒绝承担维修费用，理由是维修厂不在名单内，标记乙七七。",
    )
    case_b = int((await other.post("/api/v1/cases", body, status=201))["id"])
    act = f"/api/v1/cases/{case_b}/actions"
    await huaxin.post(f"{act}/answer", REJECTION)
    await other.post(f"{act}/request_mediation")
    await lead.post(f"{act}/assign_mediator", {"mediator_id": lead_id})
    await lead.post(f"{act}/accept_assignment")
    slot = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0).isoformat()
    hearing = await lead.post(f"/api/v1/cases/{case_b}/hearings", {"slots": [slot]}, 201)
    hearing_b = int(hearing["id"])
    for party in (other, huaxin):
        await party.post(f"/api/v1/hearings/{hearing_b}/choose", {"slots": [slot]})
    await lead.post(f"/api/v1/hearings/{hearing_b}/confirm", {"starts_at": slot})

    cases = {"A": case_a, "B": case_b}
    members = {
        "A": frozenset({CONSUMER, ANKANG_REP, MEDIATOR, LEAD, SUPERVISOR}),
        "B": frozenset({OTHER_CONSUMER, HUAXIN_REP, LEAD, SUPERVISOR}),
    }
    sides = {"A": (CONSUMER, ANKANG_REP), "B": (OTHER_CONSUMER, HUAXIN_REP)}
    items: dict[str, list[Item]] = {}
    uploads: dict[str, str] = {}
    numbers: dict[str, str] = {}
    markers: dict[str, tuple[str, ...]] = {}
    for name, case_id in cases.items():
        consumer, rep = sides[name]
        found = []
        for submitter, hidden in ((consumer, False), (rep, False), (rep, True)):
            marker = f"item-{name}-{submitter.split('@')[0]}-{'m' if hidden else 'a'}-zq81"
            visibility = "mediator_only" if hidden else "all_parties"
            seq = await upload(
                people[submitter], case_id, f"{marker}.txt", marker.encode() * 3, visibility
            )
            found.append(Item(seq, submitter, hidden, marker))
        items[name] = found
        begun = await who[consumer].post(
            f"/api/v1/cases/{case_id}/uploads", {"name": "big.pdf", "size": 10_000}, 201
        )
        uploads[name] = str(begun["id"])
        case = await who[SUPERVISOR].get(f"/api/v1/cases/{case_id}")
        numbers[name] = str(case["number"])
        markers[name] = (numbers[name], str(case["description"])[:24], USERS[consumer].name)
    hearings = {"A": hearing_a, "B": hearing_b}
    recordings = {}
    for name, hearing_id in hearings.items():
        marker = f"recording-{name}-zq81"
        recordings[name] = await record(app, hearing_id, await user_id(app, sides[name][0]), marker)
        markers[name] = (*markers[name], marker)
    world = World(cases, numbers, hearings, items, uploads, markers, members, mediator_id)
    world.recordings = recordings
    return world


def route_keys(app: web.Application) -> set[tuple[str, str]]:
    keys = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # every GET answers HEAD; the GET row covers it
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or str(info.get("prefix", "")).rstrip("/")
        keys.add((route.method, str(path)))
    return keys


def test_every_route_has_a_row_and_every_row_a_route(tmp_path: Path) -> None:
    from odr.app import create_app

    settings = Settings(
        var_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
        secret_key="x" * 40,
        run_jobs_in_process=False,
    )
    served = route_keys(create_app(settings))
    table = {(row.method, row.path) for row in ROWS}
    assert len(table) == len(ROWS), "a route has two rows"
    assert served - table == set(), "routes without a row in tests/authz_matrix.py"
    assert table - served == set(), "rows of tests/authz_matrix.py without a route"


GHOST = 999999  # no case, hearing or upload has this id
LATER = (
    (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0).isoformat()
)

#: Well-formed bodies for some writes, so the refusal comes from authorisation and not from
#: validation; the others get an empty body (and a stranger's answer is compared with the same
#: request about a case that does not exist). The demo mediator's id is filled in.
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/cases/{case_id}/actions/assign_mediator": {"mediator_id": "MEDIATOR"},
    "POST /api/v1/cases/{case_id}/mediator-choice": {"mediator_id": "MEDIATOR"},
    "POST /cases/{case_id}/mediator": {"mediator_id": "MEDIATOR"},
    "POST /cases/{case_id}/mediator-choice": {"mediator_id": "MEDIATOR"},
    "POST /api/v1/cases/{case_id}/actions/answer": REJECTION,
    "POST /api/v1/cases/{case_id}/actions/send_message": {"text": "你好"},
    "POST /api/v1/cases/{case_id}/actions/withdraw": {"reason": "不再需要"},
    "POST /cases/{case_id}/act/{operation}": {"reason": "不再需要"},
    "PUT /api/v1/hearings/{hearing_id}/minutes": {"text": "笔录"},
    "POST /api/v1/cases/{case_id}/uploads": {"name": "more.pdf", "size": 100},
    "POST /api/v1/cases/{case_id}/hearings": {"slots": [LATER]},
    "POST /api/v1/hearings/{hearing_id}/choose": {"slots": [LATER]},
    "POST /api/v1/hearings/{hearing_id}/confirm": {"starts_at": LATER},
    "POST /api/v1/hearings/{hearing_id}/reschedule": {"slots": [LATER], "reason": "生病"},
    "POST /api/v1/hearings/{hearing_id}/cancel": {"reason": "生病"},
    "POST /api/v1/cases/{case_id}/agreement": {
        "facts": "事实",
        "terms": "赔付",
        "amount_yuan": 1,
        "due_on": (date.today() + timedelta(days=10)).isoformat(),
    },
    "POST /api/v1/cases/{case_id}/agreement/sign": {"sha256": "0" * 64, "password": "x"},
    "POST /api/v1/cases/{case_id}/agreement/sign-code": {"sha256": "0" * 64},
    "POST /api/v1/cases/{case_id}/blind-offers": {"amount_yuan": 1000},
    "POST /api/v1/cases/{case_id}/offers": {"amount_yuan": 1000},
    "POST /api/v1/cases/{case_id}/offers/{sequence}/answer": {"accept": True},
    "POST /api/v1/cases/{case_id}/payments": {
        "amount_yuan": 1000,
        "paid_on": date.today().isoformat(),
        "reference": "TX-1",
    },
    "POST /api/v1/cases/{case_id}/payments/dispute": {"reason": "未到账"},
    "POST /api/v1/cases/{case_id}/not-settled": {"reason": "无法达成一致"},
    "POST /api/v1/cases/{case_id}/rating": {"score": 5},
    "POST /api/v1/cases/{case_id}/evidence/{sequence}/redaction-requests": {"note": "住址"},
}


def fill(path: str, world: World, case: str, sequence: int, ghost: str = "") -> str:
    """The path of ``case``'s object; with ``ghost``, that parameter names no object."""
    values: dict[str, object] = {
        "case_id": world.cases[case],
        "hearing_id": world.hearings[case],
        "sequence": sequence,
        "upload_id": world.uploads[case],
        "recording_id": world.recordings[case],
        "day": date.today().isoformat(),
        "number": world.numbers[case],
        "operation": "withdraw" if path.startswith("/cases/") else "no_such_operation",
        "lang": "en",
        "state": "on",
        "user_id": 999_999,  # no such account: resetting a second factor changes nothing
    }
    if ghost:
        values[ghost] = GHOST
    if path == "/static":
        return "/static/app.css"
    return path.format(**values)


def object_parameter(path: str) -> str:
    """The parameter naming the object a case's route is about."""
    for name in ("upload_id", "hearing_id"):
        if "{" + name + "}" in path:
            return name
    return "case_id"


@dataclass
class Answer:
    status: int
    location: str
    code: str | None
    body: str


async def call(
    client: Client, token: str | None, row: Row, path: str, body: dict[str, Any]
) -> Answer:
    headers = {"X-CSRF-Token": token} if token else {}
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if row.method == "PATCH":  # the next bytes of a resumable upload
        headers["Upload-Offset"] = "0"
        headers["Content-Type"] = "application/offset+octet-stream"
        kwargs["data"] = b"%PDF-1.4\n"
    elif row.writes:
        if row.is_page:
            kwargs["data"] = {"csrf_token": token or "", **body}
        else:
            kwargs["json"] = body
    async with client.request(row.method, path, **kwargs) as resp:
        location = resp.headers.get("Location", "")
        if resp.content_type == "text/event-stream":
            return Answer(resp.status, location, None, "")  # a live stream: status only
        raw = await resp.read()
        code = None
        if resp.content_type == "application/json":
            try:
                code = (await resp.json()).get("error", {}).get("code")
            except (ValueError, AttributeError):
                code = None
    return Answer(resp.status, location, code, raw.decode("utf-8", "replace"))


def to_login(row: Row, answer: Answer) -> bool:
    if row.is_page:  # a page: to the login page; a form sent: 401 (the form is not lost)
        if row.writes and answer.status == 401:
            return True
        return answer.status == 303 and answer.location.startswith("/login")
    if (answer.status, answer.code) == (415, "json_required"):
        return True  # a write without a login must be JSON (no cross-site form), before the login
    return answer.status == 401 and answer.code == "unauthenticated"


def role_of(who: str) -> str:
    return str(USERS[who].role) if who != NOBODY else ""


def judge(row: Row, who: str, visible: bool, answer: Answer) -> str | None:
    """Why ``answer`` breaks the row's rule, or None."""
    if answer.status >= 500:
        return "server error"
    if row.access is Access.PUBLIC:  # (a login form may say 401: wrong credentials)
        return "refused a public route" if answer.status == 403 else None
    if who == NOBODY:
        return None if to_login(row, answer) else "no session was not sent to log in"
    if answer.status == 401 or (row.is_page and answer.location.startswith("/login")):
        return "a logged-in user was sent to log in"
    if row.access is Access.SESSION:
        return None
    if row.access is Access.ROLE:
        allowed = role_of(who) in row.roles
        if allowed:
            return "an allowed role was refused" if answer.status == 403 else None
        return None if answer.status == 403 else "another role was not refused (403)"
    assert row.access is Access.CASE
    if visible:
        return "a caller of the case was told it does not exist" if hidden(answer) else None
    return None  # strangers are judged by `judge_stranger`


def hidden(answer: Answer) -> bool:
    if answer.code in HIDDEN_CODES:
        return True
    return answer.status == 404 and answer.code is None and "/api/" not in answer.location


async def judge_stranger(
    row: Row, answer: Answer, ghost: Answer | None, path: str, object_id: str
) -> str | None:
    """A stranger's answer: 404, or (a request refused before it reaches the case, e.g. a
    malformed body) exactly what the same request about an object that does not exist gets."""
    if 200 <= answer.status < 300:
        return "a stranger was answered"
    if answer.status == 404:
        return None
    assert ghost is not None
    location = re.sub(rf"/{re.escape(object_id)}(?=[/#?]|$)", f"/{GHOST}", answer.location)
    mine = (answer.status, answer.code, location)
    if mine != (ghost.status, ghost.code, ghost.location):
        return f"differs from an object that does not exist ({ghost.status} {ghost.code})"
    return None


async def snapshot(app: web.Application) -> dict[str, str]:
    """A digest of every table but the sessions', and of the evidence store's files."""
    found = {}
    async with app[SESSIONMAKER]() as s:
        for table in TABLES:
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
            found[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    store = Path(app[SETTINGS].storage_dir)
    files = sorted(f"{f.relative_to(store)}:{f.stat().st_size}" for f in store.rglob("*"))
    found["(evidence store)"] = hashlib.sha256(repr(files).encode()).hexdigest()
    return found


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


class Matrix:
    def __init__(self, world: World, people: dict[str, Session], anonymous: Client) -> None:
        self.world, self.people, self.anonymous = world, people, anonymous
        self.strangers: dict[int, int] = {}  # status -> count, of strangers' requests
        self.other_roles: dict[str, int] = {}
        self.before_authz: set[str] = set()  # rows refusing a stranger before the case check
        self.seen: set[str] = set()
        self.ghosts: dict[tuple[str, str, str], Answer] = {}
        self.anonymous_token: str | None = None

    def client(self, who: str) -> tuple[Client, str | None]:
        if who == NOBODY:
            return self.anonymous, self.anonymous_token
        return self.people[who].client, self.people[who].token

    def relations(self, row: Row) -> list[tuple[str, str, int]]:
        """(who, case, sequence) of every request this row gets: `PLAN` for a case's route
        (each evidence item of the case for an item's route), `CALLERS` for any other."""
        plan = PLAN if row.access is Access.CASE else [(who, "A") for who in CALLERS]
        out = []
        for who, case in plan:
            sequences = [self.world.items[case][0].sequence]
            if "{sequence}" in row.path and "/evidence/" in row.path:
                sequences = [i.sequence for i in self.world.items[case]]  # own, other, hidden
            out += [(who, case, seq) for seq in sequences]
        return out

    def visible(self, row: Row, who: str, case: str, sequence: int) -> bool:
        if who not in self.world.members[case]:
            return False
        if "/evidence/" in row.path and "{sequence}" in row.path:
            item = next(i for i in self.world.items[case] if i.sequence == sequence)
            return self.world.sees_item(who, case, item)
        return True

    def object_id(self, row: Row, case: str) -> str:
        name = object_parameter(row.path)
        if name == "upload_id":
            return self.world.uploads[case]
        return str((self.world.hearings if name == "hearing_id" else self.world.cases)[case])

    async def ghost(self, row: Row, who: str, path: str) -> Answer:
        """The answer to the same request about an object that does not exist (asked once)."""
        key = (row.method, path, who)
        if key not in self.ghosts:
            client, token = self.client(who)
            self.ghosts[key] = await call(client, token, row, path, self.body(row))
            self.world.requests += 1
        return self.ghosts[key]

    def body(self, row: Row) -> dict[str, Any]:
        body = BODIES.get(f"{row.method} {row.path}", {})
        return {k: self.world.mediator_id if v == "MEDIATOR" else v for k, v in body.items()}

    def refused(self, row: Row, who: str, case: str, sequence: int) -> bool:
        """Whether the rule refuses this request (so it must change nothing)."""
        if row.access is Access.CASE:
            return not self.visible(row, who, case, sequence)
        if row.access is Access.PUBLIC:
            return False
        return who == NOBODY or (row.access is Access.ROLE and role_of(who) not in row.roles)

    async def run(self, row: Row, who: str, case: str, sequence: int) -> None:
        world = self.world
        client, token = self.client(who)
        path = fill(row.path, world, case, sequence)
        answer = await call(client, token, row, path, self.body(row))
        world.requests += 1
        where = (
            f"{row.method} {row.path} as {who} on {case}#{sequence}: {answer.status} {answer.code}"
        )
        visible = self.visible(row, who, case, sequence)
        problem = judge(row, who, visible, answer)
        if row.access is Access.ROLE and who != NOBODY and role_of(who) not in row.roles:
            key = f"{'page' if row.is_page else 'api'} {answer.status}"
            self.other_roles[key] = self.other_roles.get(key, 0) + 1
        if problem is None and row.access is Access.CASE and not visible and who != NOBODY:
            self.strangers[answer.status] = self.strangers.get(answer.status, 0) + 1
            if answer.status != 404:
                self.before_authz.add(f"{row.method} {row.path} {answer.status} {answer.code}")
            object_id = self.object_id(row, case)
            ghost = None
            if answer.status != 404:
                absent = fill(row.path, world, case, sequence, object_parameter(row.path))
                ghost = await self.ghost(row, who, absent)
            problem = await judge_stranger(row, answer, ghost, path, object_id)
        if problem is None and row.access is Access.CASE and not visible and who == NOBODY:
            problem = None if answer.status >= 300 else "no session was answered"
        for marker in world.hidden_markers(who):
            if marker in answer.body:
                problem = f"leaks {marker!r}"
        if visible:
            self.seen.update(m for m in world.all_markers() if m in answer.body)
        if problem:
            world.failures.append(f"{where}: {problem}")

    async def rows(self, rows: list[Row], only: Any) -> None:
        for row in rows:
            for who, case, seq in self.relations(row):
                if only(row, who, case, seq):
                    await self.run(row, who, case, seq)


def is_logout(row: Row) -> bool:
    return row.path in ("/logout", "/api/v1/auth/logout")


async def test_the_authorisation_matrix_holds_with_no_leaks(new_client: Any, server: Any) -> None:
    started = time.monotonic()
    people = {name: await login(new_client, name) for name in EVERYONE}
    app = server.app
    world = await build_world(people, app)
    matrix = Matrix(world, people, await new_client())
    # a visitor without a login holds the token of the page's forms, as a browser would
    login_page = await (await matrix.anonymous.get("/login")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    assert found, "the login page has no CSRF token"
    matrix.anonymous_token = found.group(1)
    table = [r for r in ROWS if r.access not in (Access.CHANNEL, Access.TOKEN, Access.SOCKET)]
    reads = [r for r in table if not r.writes]
    writes = [r for r in table if r.writes and not is_logout(r)]

    # 1. every read, by everyone, on every object
    await matrix.rows(reads, lambda *_: True)
    # 2. every write by strangers and without a session: nothing changes
    before = await snapshot(app)
    await matrix.rows(writes, matrix.refused)
    after = await snapshot(app)
    world.failures += [f"a refused write changed {name}" for name in changed(before, after)]
    # 3. every other write: by those who stand to the object (the state decides; never hidden)
    # and by the roles a route is for
    await matrix.rows(writes, lambda *request: not matrix.refused(*request))
    # 4. logging out, last
    # (the page's first: the API's needs no token, so it also runs after the session ended)
    logouts = sorted((r for r in table if is_logout(r)), key=lambda r: not r.is_page)
    await matrix.rows(logouts, lambda *_: True)

    assert world.failures == [], "\n".join(world.failures)
    # the markers searched for are real: those who may see them did
    assert set(world.all_markers()) - matrix.seen == set()
    print(
        f"\nauthorisation matrix: {len(ROWS)} rows, {world.requests} requests "
        f"(strangers' answers by status: {dict(sorted(matrix.strangers.items()))}), "
        f"{time.monotonic() - started:.1f} s"
    )
    print("other roles on role routes:", matrix.other_roles)
    assert matrix.before_authz == set(), "strangers refused before the case was looked at"


async def test_channels_read_only_their_own_cases(new_client: Any, server: Any) -> None:
    people = {name: await login(new_client, name) for name in (CONSUMER, ANKANG_REP)}
    insurer = await insurer_of(callers(people)[CONSUMER])
    own = await callers(people)[CONSUMER].post("/api/v1/cases", complaint(insurer), status=201)
    anonymous = await new_client()
    body = dumps(
        {
            **complaint(insurer, description="渠道提交的投诉，标记丙九。"),
            "consumer": {"name": "张三", "mobile": "13900000009"},
        }
    )
    path = "/api/v1/channel/complaints"
    headers = {**signed_headers(path, body), "Idempotency-Key": "matrix-1"}
    resp = await anonymous.post(path, data=body, headers=headers)
    submitted = await resp.json()
    assert resp.status == 201, submitted
    number = str(submitted["number"])

    def status_path(n: str) -> str:
        return f"/api/v1/channel/cases/{n}"

    async def signed_get(n: str) -> Any:
        return await anonymous.get(
            status_path(n), headers=signed_headers(status_path(n), b"", "GET")
        )

    assert (await signed_get(number)).status == 200
    stranger = await signed_get(str(own["number"]))
    assert stranger.status == 404, await stranger.text()
    assert own["number"] not in await stranger.text()
    # the channel's signature is no login: not on the case's own routes either
    async with server.app[SESSIONMAKER]() as s:
        case_id = (await s.execute(select(CaseRow.id).where(CaseRow.number == number))).scalar_one()
    for path_of_case in (f"/api/v1/cases/{case_id}", f"/api/v1/cases/{case_id}/export"):
        signed = signed_headers(path_of_case, b"", "GET")
        resp = await anonymous.get(path_of_case, headers=signed)
        assert resp.status == 401, await resp.text()
    for client in (anonymous, people[CONSUMER].client):
        resp = await client.get(status_path(number))
        assert resp.status == 401, await resp.text()
        resp = await client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert resp.status in (401, 403), await resp.text()


#: Who may join each hearing: its parties and its mediator. The lead of the centre and the
#: supervisor see the hearing (403 for a join token); strangers do not (404).
JOINERS = {
    "A": frozenset({CONSUMER, ANKANG_REP, MEDIATOR}),
    "B": frozenset({OTHER_CONSUMER, HUAXIN_REP, LEAD}),
}


async def test_the_hearing_socket_admits_only_its_own_people(new_client: Any, server: Any) -> None:
    people = {name: await login(new_client, name) for name in EVERYONE}
    world = await build_world(people, server.app)
    tokens: dict[tuple[str, str], str] = {}
    for who in EVERYONE:
        for case, hearing_id in world.hearings.items():
            resp = await people[who].post(f"/api/v1/hearings/{hearing_id}/join")
            body = await resp.json()
            expected = 200 if who in JOINERS[case] else 403 if who in world.members[case] else 404
            assert resp.status == expected, (who, case, body)
            if resp.status == 200:
                tokens[who, case] = body["token"]
            for marker in world.hidden_markers(who):
                assert marker not in str(body), (who, case, marker)
    assert len(tokens) == 6
    anonymous = await new_client()
    for hearing_id in world.hearings.values():
        with pytest.raises(WSServerHandshakeError) as refused:
            await anonymous.ws_connect(f"/ws/hearings/{hearing_id}")
        assert refused.value.status == 401
    for (who, case), token in tokens.items():
        for target, hearing_id in world.hearings.items():
            first = await join(people[who].client, hearing_id, token)
            if target == case:
                assert first["type"] == "welcome", (who, case, first)
            else:  # one's own token on another hearing: refused like a forged one
                assert first == {**first, "type": "error", "code": "invalid_join_token"}, first
            for marker in world.hidden_markers(who):
                assert marker not in str(first), (who, target, marker)


async def join(client: Client, hearing_id: int, token: str) -> dict[str, Any]:
    socket = await client.ws_connect(f"/ws/hearings/{hearing_id}")
    try:
        await socket.send_json({"type": "join", "v": 1, "token": token, "consent_recording": True})
        for _ in range(50):
            frame = await socket.receive(timeout=5)
            if frame.type is not WSMsgType.TEXT:
                return {"type": "closed", "code": socket.close_code}
            message: dict[str, Any] = frame.json()
            if message["type"] in ("welcome", "error"):
                if message["type"] == "welcome":
                    await socket.send_json({"type": "leave"})
                return message
        return {"type": "silent"}
    finally:
        await socket.close()
