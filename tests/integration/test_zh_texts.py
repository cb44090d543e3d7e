"""What a Chinese reader sees says everything in Chinese, in the glossary's words.

One SQLite application; cases are driven through their states once (over the API as the
person who may act, the clock and the hearing's start through the services), and at each
state every page of the case is fetched for every role. Then every other page for each role
and for a visitor, every notification sent (inbox, e-mail and SMS texts), every notification
kind, the calendar invitation and both PDFs (agreement and closing report, text extracted
with pypdf) are checked in zh-CN for:

- an untranslated catalogue entry (two English words in a row),
- a raw code (states, events, evidence kinds, categories, signals, answer kinds, channels,
  roles and every error code raised in the source),
- an ISO 8601 timestamp, or a time in UTC (``Z``, ``UTC``, ``+00:00``) on a line people read,
- a word the glossary (`docs/glossary.md`) says not to use (some only on a consumer's pages).

A short allow-list (`ALLOWED`) takes out what is shown as it is: case numbers, hashes,
policy numbers, file names, addresses, and a few Latin names (SHA-256, PDF, browsers).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pypdf import PdfReader
from sqlalchemy import select

from odr.app import create_app
from odr.config import Settings
from odr.domain.accounts import Actor, OrganisationKind, Role
from odr.domain.authz import Visibility
from odr.domain.cases import AnswerKind, CaseState, ChannelKind, EventKind, EvidenceKind
from odr.domain.categories import Category
from odr.domain.hearings import HearingState
from odr.domain.triage import REQUIRED_SIGNALS
from odr.http.keys import CASES, SESSIONMAKER
from odr.services import notifications
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseRow, Notification, Organisation, OutboxMessage, User
from tests import builders
from tests.conftest import FAST_PASSWORDS, sqlite_database
from tests.integration.conftest import seed
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    SUPERVISOR,
    Session,
    callers,
    login,
)
from tests.integration.outcome_setup import draft, sign
from tests.texts import error_codes, glossary_words, visible_text

LANG = "zh-CN"
PEOPLE = (CONSUMER, ANKANG_REP, MEDIATOR, LEAD, SUPERVISOR)

#: Two English words in a row: a text the catalogue did not translate.
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,.:;'()/-]+[A-Za-z]{2,}")
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}")
UTC_TIME = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:Z\b|UTC|GMT|[+-]00:?00)|\bUTC\b|\bGMT\b"
)
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")

#: What Chinese texts show as it is (taken out before the checks), with why.
ALLOWED = [
    re.compile(r"https?://\S+"),  # addresses
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"ODR-\d{4}-\d{6}"),  # case numbers
    re.compile(r"\b[0-9a-f]{16,}\b"),  # hashes, shown for checking
    re.compile(r"\b[A-Z]{2}\d{6,}\b"),  # policy numbers
    re.compile(
        r"[\w\u4e00-\u9fff.-]+\.(?:pdf|png|jpe?g|webp|webm|mp[34]|m4a|wav|txt|docx|zip|json|ics)\b",
        re.I,
    ),
    re.compile(
        r"SHA-256|odr verify-bundle|JavaScript|Chrome|Edge|Firefox|Safari|WebRTC|"
        r"\bODR\b|\bPDF\b|\bZIP\b|\bJPEG\b|\bPNG\b|\bWebP\b|\bMP3\b|\bM4A\b|\bWAV\b|\bMP4\b|"
        r"\bWebM\b|\bDOCX\b|\bSMS\b|\bCSV\b|\bID\b"
    ),
]


def code_words() -> set[str]:
    """Every code a page could leak, from the enums and the source themselves."""
    codes: set[str] = set()
    kinds = (
        CaseState,
        EventKind,
        EvidenceKind,
        Category,
        AnswerKind,
        ChannelKind,
        Role,
        HearingState,
        Visibility,
        OrganisationKind,
    )
    for kind in kinds:
        codes |= {str(member) for member in kind}
    codes |= set(REQUIRED_SIGNALS)
    for package in ("odr", "web", "signaling"):
        codes |= set(error_codes(package))
    return codes


CODES = code_words()
FORBIDDEN, FORBIDDEN_FOR_CONSUMERS = glossary_words()


@dataclass
class Findings:
    found: dict[tuple[str, str], str] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    #: data shown as entered (organisations' English names on the admin pages)
    data: set[str] = field(default_factory=set)

    def add(self, rule: str, what: str, where: str) -> None:
        self.found.setdefault((rule, what), where)

    def check(self, where: str, lines: Iterable[str], *, consumer: bool = False) -> None:
        """Check the lines of text people read at ``where``."""
        self.checked.add(where.split(" ")[0])
        for line in lines:
            for word, term in FORBIDDEN.items():
                if word in line:
                    self.add(f"glossary: {word} → {term}", line[:120], where)
            if consumer:
                for word, term in FORBIDDEN_FOR_CONSUMERS.items():
                    if word in line:
                        self.add(f"glossary (consumer): {word} → {term}", line[:120], where)
            rest = line
            for value in self.data:
                rest = rest.replace(value, " ")
            for allowed in ALLOWED:
                rest = allowed.sub(" ", rest)
            if ISO_TIMESTAMP.search(rest):
                self.add("ISO timestamp", line[:120], where)
            if UTC_TIME.search(rest):
                self.add("UTC time", line[:120], where)
            if ENGLISH.search(rest):
                self.add("English", line[:120], where)
            for token in LATIN_WORD.findall(rest):
                if token in CODES:
                    self.add(f"raw code {token}", line[:120], where)

    def report(self) -> str:
        return "\n".join(
            f"{rule}: {what!r} (at {where})" for (rule, what), where in sorted(self.found.items())
        )


def test_the_checks_find_each_kind_of_defect() -> None:
    samples = {
        "理赔申请 claims": "raw code claims",
        "证据类型：call_record": "raw code call_record",
        "Please try again later": "English",
        "签署时间 2026-12-01T20:03:01.513255+00:00": "ISO timestamp",
        "录像 2026-12-01 20:01:27Z": "ISO timestamp",
        "开始时间 20:01 UTC": "UTC time",
        "什么是听证会？": "glossary: 听证 → 调解会议",
        "盲拍报价": "glossary: 盲拍 → 保密报价",
    }
    for text, rule in samples.items():
        findings = Findings()
        findings.check("sample", [text])
        assert rule in {r for r, _ in findings.found}, (text, findings.found)
    findings = Findings()
    findings.check("sample", ["我的工作台"], consumer=True)
    assert {r for r, _ in findings.found} == {"glossary (consumer): 工作台 → 我的主页"}
    clean = Findings()
    clean.check(
        "sample",
        [
            "案件 ODR-2026-000123 的调解会议定于 2026年12月2日 04:03（北京时间）",
            "SHA-256：" + "ab" * 32,
            "保单号 AK2023100188，文件 发票.pdf，网址 https://odr.example/cases/1",
            "请使用较新版本的 Chrome、Edge、Firefox 或 Safari。",
        ],
    )
    clean.check("sample", ["我的工作台"])  # a staff member's desk
    assert clean.found == {}, clean.found


# --- the application and its cases ------------------------------------------------------------


@pytest.fixture
async def server(
    tmp_path: Path, make_settings: Callable[..., Settings], aiohttp_server: Any
) -> AsyncIterator[TestServer]:
    async with sqlite_database(tmp_path) as url:
        settings = await seed(make_settings(url))
        yield await aiohttp_server(create_app(settings, passwords=FAST_PASSWORDS))


def page_routes(app: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """The page addresses (GET, HTML): without parameters, of a case, of a hearing, of an
    evidence item."""
    plain, of_case, of_hearing, of_item = [], [], [], []
    skip = ("/api/", "/static", "/lang/", "/care/", "/healthz", "/readyz", "/metrics", "/ws/")
    for route in app.router.routes():
        if route.method != "GET":
            continue
        path = route.resource.canonical
        if path.startswith(skip) or path == "/logout":
            continue
        params = set(re.findall(r"\{(\w+)\}", path))
        if not params:
            plain.append(path)
        elif params == {"case_id"}:
            of_case.append(path)
        elif params == {"hearing_id"}:
            of_hearing.append(path)
        elif params == {"case_id", "sequence"}:
            of_item.append(path)
    return sorted(set(plain)), sorted(set(of_case)), sorted(set(of_hearing)), sorted(set(of_item))


class Sweep:
    def __init__(self, app: Any, people: dict[str, Session], visitor: Any) -> None:
        self.app = app
        self.people = people
        self.visitor = visitor
        self.plain, self.of_case, self.of_hearing, self.of_item = page_routes(app)
        self.findings = Findings()
        self.states: set[str] = set()
        self.texts: dict[str, str] = {}  # what each page and document said

    async def html(self, client: Any, path: str, where: str, *, consumer: bool) -> None:
        resp = await client.get(path)
        if "text/html" not in resp.headers.get("Content-Type", ""):
            return
        assert resp.status < 500, (where, resp.status)
        lines = visible_text(await resp.text())
        assert any(CJK.search(line) for line in lines), f"{where}: not a Chinese page"
        self.findings.check(where, lines, consumer=consumer)
        self.texts[where] = "\n".join(lines)

    async def case_pages(
        self, case_id: int, hearing_id: int | None = None, *, evidence: bool = False
    ) -> None:
        """Every page of the case, and of its hearing, for every role, in the case's state;
        with ``evidence`` also the page of each evidence item and a search of the case."""
        async with self.app[SESSIONMAKER]() as s:
            row = await s.get(CaseRow, case_id)
            assert row is not None
            state = str(row.state)
        self.states.add(state)
        paths = [p.replace("{case_id}", str(case_id)) for p in self.of_case]
        if hearing_id is not None:
            paths += [p.replace("{hearing_id}", str(hearing_id)) for p in self.of_hearing]
        if evidence:
            resp = await self.people[MEDIATOR].get(f"/api/v1/cases/{case_id}/evidence")
            assert resp.status == 200, resp.status
            for item in (await resp.json())["items"]:
                paths += [
                    p.replace("{case_id}", str(case_id)).replace(
                        "{sequence}", str(item["sequence"])
                    )
                    for p in self.of_item
                ]
            paths += [p.replace("{case_id}", str(case_id)) + "?q=住院" for p in self.of_case]
        for who, session in self.people.items():
            for path in paths:
                await self.html(
                    session.client, path, f"{path} {state} {who}", consumer=who == CONSUMER
                )

    async def other_pages(self) -> None:
        async with self.app[SESSIONMAKER]() as s:
            english = (await s.execute(select(Organisation.name_en))).scalars()
            self.findings.data |= {name for name in english if name}
        for who, session in self.people.items():
            for path in self.plain:
                await self.html(session.client, path, f"{path} {who}", consumer=who == CONSUMER)
        for path in [*self.plain, "/cases/999999"]:
            await self.html(self.visitor, path, f"{path} visitor", consumer=True)
        await self.html(
            self.people[CONSUMER].client, "/cases/999999", "/404 consumer", consumer=True
        )

    def document(self, where: str, text: str) -> None:
        self.findings.check(where, [line for line in text.splitlines() if line.strip()])
        self.texts[where] = text

    async def pdf(self, path: str, where: str) -> None:
        resp = await self.people[CONSUMER].client.get(path)
        assert resp.status == 200, (path, resp.status)
        reader = PdfReader(io.BytesIO(await resp.read()))
        self.document(where, "\n".join(page.extract_text() for page in reader.pages))

    async def calendar(self, hearing_id: int) -> None:
        resp = await self.people[CONSUMER].client.get(
            f"/api/v1/hearings/{hearing_id}/invitation.ics"
        )
        assert resp.status == 200, resp.status
        self.calendar_text("invitation.ics", await resp.text())

    def calendar_text(self, where: str, text: str) -> None:
        unfolded = re.sub(r"\r?\n[ \t]", "", text)
        # what a calendar shows of the event (the time zone block's own comment is not shown)
        event = unfolded.split("BEGIN:VEVENT", 1)[-1].split("END:VEVENT", 1)[0]
        lines = [
            line.split(":", 1)[1].replace("\\n", "\n").replace("\\", "")
            for line in event.splitlines()
            if line.split(":", 1)[0].split(";")[0]
            in ("SUMMARY", "DESCRIPTION", "LOCATION", "COMMENT")
        ]
        assert lines, text
        self.document(where, "\n".join(lines))

    async def messages(self) -> None:
        """Every notice, e-mail and SMS sent to a Chinese reader, and every kind of notice."""
        async with self.app[SESSIONMAKER]() as s:
            users = list((await s.execute(select(User))).scalars())
            language = {}
            for u in users:
                for address in (u.email, u.mobile):
                    if address:
                        language[address] = u.locale or LANG
            sent = list((await s.execute(select(OutboxMessage))).scalars())
            notices = list((await s.execute(select(Notification))).scalars())
        assert sent and notices
        self.attachments = 0
        for m in sent:
            if language.get(m.recipient, LANG) != LANG:
                continue
            self.document(f"{m.medium} {m.key}", f"{m.subject}\n{m.body}")
            for attachment in m.attachments or []:
                text = str(attachment.get("text", ""))
                if "BEGIN:VCALENDAR" in text:
                    self.calendar_text(f"{m.medium} {m.key} attachment", text)
                    self.attachments += 1
        params_of: dict[str, dict[str, Any]] = {}
        for n in notices:
            params_of.setdefault(n.kind, dict(n.params or {}))
        self.notice_kinds = set(params_of)
        # a kind these cases do not reach gets the values the services wrote for the others
        # (numbers, times, addresses) and codes where the services pass codes
        reached = {k: v for params in params_of.values() for k, v in params.items()}
        for kind in notifications.TEXTS:
            params = params_of.get(kind) or {**UNREACHED_PARAMS, **reached}
            subject, body = notifications.render(kind, LANG, params)
            self.document(f"notice {kind}", f"{subject}\n{body}")


#: Values for the notification kinds the sweep's cases do not reach: what the services pass
#: (a category code, a call-back time code, names, a reason someone typed).
UNREACHED_PARAMS: dict[str, Any] = {
    "category": "claims",
    "time": "morning",
    "count": 3,
    "insurer": "安康人寿",
    "numbers": "ODR-2026-000001, ODR-2026-000002",
    "reason": "调解员临时有事",
    "name": "王芳",
    "phone": "13800000001",
    "phone_masked": "138****0001",
    "mediator": "周敏",
    "minutes": 60,
}


async def upload(session: Session, case_id: int) -> None:
    """A small PDF the consumer adds to the evidence."""
    from odr.services.pdf import Text, render_pdf

    form = {
        "file": io.BytesIO(render_pdf("住院发票", [Text("住院费用 3200 元")], lang=LANG)),
        "kind": "document",
    }
    resp = await session.client.post(
        f"/api/v1/cases/{case_id}/evidence", data=form, headers={"X-CSRF-Token": session.token}
    )
    assert resp.status == 201, await resp.text()


async def set_state(app: Any, case_id: int, change: Callable[[Any, datetime], None]) -> None:
    """A step the pages cannot take (the hearing's start), through the aggregate and the store."""
    async with UnitOfWork(app[SESSIONMAKER]) as uow:
        _, case = await repo.load(uow.session, case_id)
        before, now = case.version, datetime.now(UTC)
        change(case, now)
        await repo.save(uow.session, case, before, now)
        await uow.commit()


async def test_every_chinese_surface_says_it_in_chinese_in_the_glossarys_words(
    server: TestServer, aiohttp_client: Any
) -> None:
    async def new_client() -> Any:
        client = await aiohttp_client(server)
        client.session.cookie_jar.update_cookies({"odr_lang": LANG})
        return client

    people = {name: await login(new_client, name) for name in PEOPLE}
    for session in people.values():
        resp = await session.client.get(f"/lang/{LANG}", allow_redirects=False)
        assert resp.status == 303
    app = server.app
    sweep = Sweep(app, people, await new_client())
    api = callers(people)
    consumer, rep, mediator = api[CONSUMER], api[ANKANG_REP], api[MEDIATOR]
    mediator_id = await builders.user_id(app, MEDIATOR)

    # missed deadline: reminders, then escalated to a supervisor
    late = await builders.filed_case(api)
    async with app[SESSIONMAKER]() as s:
        row = await s.get(CaseRow, late)
        assert row is not None and row.due_at is not None
        due = row.due_at.replace(tzinfo=UTC) if row.due_at.tzinfo is None else row.due_at
    for moment in (due - timedelta(days=7), due - timedelta(days=2), due + timedelta(minutes=1)):
        await app[CASES].run_clock(moment)
    await sweep.case_pages(late)

    # withdrawn, and resolved by accepting the answer
    gone = await builders.filed_case(api)
    await consumer.post(f"/api/v1/cases/{gone}/actions/withdraw", {"reason": "已自行协商解决"})
    await sweep.case_pages(gone)
    accepted = await builders.answered_case(api)
    await consumer.post(f"/api/v1/cases/{accepted}/actions/accept_answer")
    await sweep.case_pages(accepted)

    # one case through mediation to the end, its pages at each state
    case_id = await builders.filed_case(api)
    await rep.post(f"/api/v1/cases/{case_id}/actions/send_message", {"text": "请补充住院发票。"})
    await rep.post(f"/api/v1/cases/{case_id}/actions/request_extension", {"reason": "需要调取材料"})
    await sweep.case_pages(case_id)  # awaiting_insurer, more time asked for
    await api[SUPERVISOR].post(f"/api/v1/cases/{case_id}/actions/approve_extension")
    await rep.post(f"/api/v1/cases/{case_id}/actions/answer", builders.REJECTION)
    await consumer.post(f"/api/v1/cases/{case_id}/blind-offers", {"amount_yuan": "5000"}, 201)
    await rep.post(
        f"/api/v1/cases/{case_id}/offers", {"amount_yuan": "2000", "text": "最多2000元"}, 201
    )
    await sweep.case_pages(case_id)  # insurer_answered, a blind offer and an offer open
    await consumer.post(f"/api/v1/cases/{case_id}/actions/request_mediation")
    await sweep.case_pages(case_id)  # mediation_requested
    await builders.assign_mediator(api, case_id, mediator_id)
    await sweep.case_pages(case_id)  # mediator_assigned
    await mediator.post(f"/api/v1/cases/{case_id}/actions/accept_assignment")
    slot = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0).isoformat()
    hearing = await mediator.post(f"/api/v1/cases/{case_id}/hearings", {"slots": [slot]}, 201)
    hearing_id = int(hearing["id"])
    await sweep.case_pages(case_id, hearing_id)  # times proposed
    for party in (consumer, rep):
        await party.post(f"/api/v1/hearings/{hearing_id}/choose", {"slots": [slot]})
    await mediator.post(f"/api/v1/hearings/{hearing_id}/confirm", {"starts_at": slot})
    await upload(people[CONSUMER], case_id)
    await sweep.case_pages(case_id, hearing_id)  # hearing_scheduled
    await sweep.calendar(hearing_id)
    mediator_actor = Actor(mediator_id, Role.MEDIATOR, await centre_of(app, mediator_id))
    await set_state(app, case_id, lambda case, now: case.start_hearing(mediator_actor, now))
    await sweep.case_pages(case_id, hearing_id)  # in_hearing
    await set_state(app, case_id, lambda case, now: case.end_hearing(mediator_actor, now))
    view = await draft(people, case_id)
    await sweep.case_pages(case_id, hearing_id)  # agreement_pending
    for who in (CONSUMER, ANKANG_REP, MEDIATOR):
        resp = await sign(people, who, case_id, view["agreement"]["sha256"])
        assert resp.status == 200, await resp.text()
    await sweep.case_pages(case_id, hearing_id)  # settled
    await sweep.pdf(f"/api/v1/cases/{case_id}/agreement.pdf", "agreement.pdf")
    paid = {
        "amount_yuan": "3000",
        "paid_on": datetime.now(UTC).date().isoformat(),
        "reference": "转账 0001",
    }
    await rep.post(f"/api/v1/cases/{case_id}/payments", paid)
    await consumer.post(f"/api/v1/cases/{case_id}/payments/dispute", {"reason": "只收到2000元"})
    await sweep.case_pages(case_id, hearing_id)  # settled, the payment disputed
    await consumer.post(f"/api/v1/cases/{case_id}/payments/confirm")
    await sweep.case_pages(case_id, hearing_id)  # fulfilled
    await mediator.post(f"/api/v1/cases/{case_id}/close")
    await sweep.case_pages(case_id, hearing_id, evidence=True)  # closed
    await sweep.pdf(f"/api/v1/cases/{case_id}/report.pdf?lang={LANG}", "report.pdf")

    # mediation that ends without agreement
    stuck = await builders.assigned_case(api, mediator_id)
    await mediator.post(f"/api/v1/cases/{stuck}/actions/accept_assignment")
    await mediator.post(f"/api/v1/cases/{stuck}/not-settled", {"reason": "双方对赔付金额分歧过大"})
    await sweep.case_pages(stuck)

    await sweep.other_pages()
    await sweep.messages()

    reached = {str(s) for s in CaseState} - {"submitted"}  # triage follows filing at once
    assert sweep.states >= reached, f"states not reached: {reached - sweep.states}"
    assert {"case_received", "case_new"} <= sweep.notice_kinds
    assert sweep.attachments >= 2  # the invitation, to the insurer and the mediator by e-mail
    # the glossary's terms are the ones used
    said = sweep.texts
    assert "调解协议" in said["agreement.pdf"] and "结案报告" in said["report.pdf"]
    assert "调解会议" in said["invitation.ics"]
    assert "调解会议" in said[f"/cases/{case_id} hearing_scheduled {CONSUMER}"]
    assert "我的主页" in said[f"/home {CONSUMER}"] and "我的工作台" in said[f"/home {MEDIATOR}"]
    assert sweep.findings.found == {}, "\n" + sweep.findings.report()


async def centre_of(app: Any, user_id: int) -> int:
    from odr.storage.models import Membership

    async with app[SESSIONMAKER]() as s:
        return int(
            (
                await s.execute(
                    select(Membership.organisation_id).where(Membership.user_id == user_id)
                )
            ).scalar_one()
        )
