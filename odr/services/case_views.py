"""What each role reads of cases: lists, one case, its timeline. Read-only."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain import cursors
from odr.domain.accounts import Actor, Role
from odr.domain.authz import (
    Action,
    CaseScope,
    EvidenceScope,
    Relation,
    Visibility,
    authorize,
    is_allowed,
)
from odr.domain.case_snapshot import restore
from odr.domain.cases import Case, CaseState, EventKind
from odr.domain.commands import COMMANDS
from odr.domain.errors import DomainError, ValidationFailed
from odr.domain.hearings import HearingState
from odr.domain.ledger import verify_chain
from odr.domain.next_step import CaseFacts, HearingStage, facts_of, next_step, viewer_relations
from odr.domain.numbers import MAX_ID
from odr.services.access_log import AccessKind, AccessLog
from odr.services.case_commands import apply
from odr.services.outcome_rights import OutcomeRights, outcome_rights
from odr.storage import cases as repo
from odr.storage import hearings as hearing_repo
from odr.storage.models import CaseEventRow, CaseRow, Organisation, User

MAX_PAGE = cursors.MAX_LIMIT


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    insurer_id: int | None = None
    category: str | None = None
    care_only: bool = False
    limit: int = cursors.DEFAULT_LIMIT
    cursor: str | None = None  # a token from `CasePage.next` or `.previous`; None: the first page


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a keyset list: its rows and the cursors of the pages around it (None at
    either end)."""

    items: list[dict[str, Any]]
    next: str | None
    previous: str | None


def _visible(actor: Actor) -> Select[CaseRow]:
    stmt = select(CaseRow)
    if actor.role is Role.CONSUMER:
        return stmt.where(CaseRow.consumer_id == actor.user_id)
    if actor.role is Role.INSURER_REP:
        authorize(actor, Action.VIEW_INSURER_INBOX)
        return stmt.where(CaseRow.insurer_id == actor.organisation_id)
    if actor.role is Role.MEDIATOR:
        return stmt.where(CaseRow.mediator_id == actor.user_id)
    if actor.role is Role.CENTRE_LEAD:
        authorize(actor, Action.VIEW_CENTRE_QUEUE)
        return stmt.where(
            (CaseRow.centre_id == actor.organisation_id) | (CaseRow.mediator_id == actor.user_id)
        )
    if actor.role is Role.CHANNEL:
        return stmt.where(CaseRow.channel_id == actor.channel_id)
    authorize(actor, Action.VIEW_ALL_CASES)
    return stmt


#: The list's order: care priority first, then the nearest deadline (none last), then the
#: newest. Its cursor is (care priority, deadline or None, id).
CASES_LIST = "cases"
_CASE_KEY: tuple[type | tuple[type, ...], ...] = (bool, (str, type(None)), int)
#: The four runs of the order, each read from an index on its own: (care priority, no deadline).
_RUNS = ((True, False), (True, True), (False, False), (False, True))


def _case_key(row: CaseRow) -> tuple[Any, ...]:
    return (row.care_priority, _iso(row.due_at), row.id)


def _run(stmt: Select[CaseRow], care: bool, undated: bool, forward: bool) -> Select[CaseRow]:
    """The rows of one run, in the list's order (``forward``) or the reverse."""
    stmt = stmt.where(CaseRow.care_priority == care)
    if undated:
        return stmt.where(CaseRow.due_at.is_(None)).order_by(
            CaseRow.id.desc() if forward else CaseRow.id.asc()
        )
    stmt = stmt.where(CaseRow.due_at.is_not(None))
    if forward:
        return stmt.order_by(CaseRow.due_at.asc(), CaseRow.id.desc())
    return stmt.order_by(CaseRow.due_at.desc(), CaseRow.id.asc())


def _segments(
    base: Select[CaseRow], key: tuple[Any, ...] | None, forward: bool
) -> list[Select[CaseRow]]:
    """The queries that read the list from ``key`` on (None: from its start), in order. Each
    is an equality prefix and at most one range on an index column, so every database walks
    an index in its order and stops at the page's end instead of sorting the whole list."""
    runs = list(_RUNS) if forward else list(reversed(_RUNS))
    if key is None:
        return [_run(base, care, undated, forward) for care, undated in runs]
    care, due_text, last_id = key
    due = None if due_text is None else datetime.fromisoformat(due_text)
    here = runs.index((care, due is None))
    same = base.where(CaseRow.care_priority == care)
    found: list[Select[CaseRow]] = []
    if due is None:
        step = CaseRow.id < last_id if forward else CaseRow.id > last_id
        found.append(_run(base.where(step), care, True, forward))
    else:
        tie = same.where(
            CaseRow.due_at == due, CaseRow.id < last_id if forward else CaseRow.id > last_id
        ).order_by(CaseRow.id.desc() if forward else CaseRow.id.asc())
        found.append(tie)
        beyond = CaseRow.due_at > due if forward else CaseRow.due_at < due
        found.append(_run(base.where(beyond), care, False, forward))
    found.extend(_run(base, c, u, forward) for c, u in runs[here + 1 :])
    return found


async def _read(s: AsyncSession, segments: list[Select[CaseRow]], wanted: int) -> list[CaseRow]:
    """Up to ``wanted`` rows from the segments in turn: no query asks for more than is still
    missing, so a page never loads more than its size and one row to tell if more follow."""
    rows: list[CaseRow] = []
    for stmt in segments:
        if len(rows) >= wanted:
            break
        rows.extend((await s.execute(stmt.limit(wanted - len(rows)))).scalars())
    return rows


async def list_cases(s: AsyncSession, actor: Actor, f: CaseFilter) -> Page:
    """The actor's cases, one page: care priority first, then the nearest deadline (an
    insurer's inbox), then the newest."""
    stmt = _visible(actor)
    if f.state:
        stmt = stmt.where(CaseRow.state == f.state)
    if f.insurer_id is not None:
        if not 0 < f.insurer_id <= MAX_ID:
            raise ValidationFailed(
                "No such insurer.", code="invalid_field", details={"field": "insurer_id"}
            )
        stmt = stmt.where(CaseRow.insurer_id == f.insurer_id)
    if f.category:
        stmt = stmt.where(CaseRow.category == f.category)
    if f.care_only:
        stmt = stmt.where(CaseRow.care_priority == True)  # noqa: E712 (an index equality)
    limit = cursors.page_limit(f.limit)
    at = None if f.cursor is None else cursors.decode(f.cursor, CASES_LIST, _CASE_KEY)
    forward = at is None or at.direction is cursors.Direction.AFTER
    rows = await _read(s, _segments(stmt, at.key if at else None, forward), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    names = await _organisation_names(s, {r.insurer_id for r in rows})
    items = [summary(r, names.get(r.insurer_id, ""), actor) for r in rows]
    after = more if forward else True
    before = (at is not None) if forward else more
    return Page(
        items=items,
        next=_cursor(rows[-1], cursors.Direction.AFTER) if rows and after else None,
        previous=_cursor(rows[0], cursors.Direction.BEFORE) if rows and before else None,
    )


def _cursor(row: CaseRow, direction: cursors.Direction) -> str:
    return cursors.encode(cursors.Cursor(CASES_LIST, direction, _case_key(row)))


async def _organisation_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    return {i: n for i, n in (await s.execute(stmt)).all()}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def summary(row: CaseRow, insurer_name: str, actor: Actor) -> dict[str, Any]:
    """A case as lists show it; ``next_step`` is what ``actor`` waits for or must do
    (`odr.domain.next_step`), from the case's own record."""
    case = restore(row.snapshot)
    step = next_step(facts_of(case, datetime.now(UTC)), viewer_relations(actor, case.scope()))
    item: dict[str, Any] = {
        "id": row.id,
        "number": row.number,
        "state": row.state,
        "category": row.category,
        "insurer": {"id": row.insurer_id, "name": insurer_name},
        "received_at": _iso(row.received_at),
        "due_at": _iso(row.due_at),
        "care_priority": row.care_priority,
        "next_step": step.waiting.value,
        "updated_at": _iso(row.updated_at),
    }
    if actor.role not in (Role.CONSUMER, Role.CHANNEL):
        item["risk_score"] = row.risk_score
    return item


_HEARING_STAGES = {
    HearingState.PROPOSED: HearingStage.PROPOSED,
    HearingState.SCHEDULED: HearingStage.SCHEDULED,
    HearingState.IN_PROGRESS: HearingStage.IN_PROGRESS,
}


async def case_facts(s: AsyncSession, case: Case, now: datetime) -> CaseFacts:
    """What the next step of ``case`` depends on, with its hearing ahead (if any)."""
    hearing_id = await hearing_repo.open_hearing_of(s, case.id)
    stage = HearingStage.NONE
    if hearing_id is not None:
        hearing = await hearing_repo.load(s, hearing_id)
        stage = _HEARING_STAGES.get(hearing.state, HearingStage.NONE)
    return facts_of(case, now, hearing=stage)


async def case_detail(s: AsyncSession, actor: Actor, case_id: int) -> dict[str, Any]:
    row = await repo.row_of(s, case_id)
    case = restore(row.snapshot)
    authorize(actor, Action.VIEW_CASE, case.scope())
    step = next_step(
        await case_facts(s, case, datetime.now(UTC)), viewer_relations(actor, case.scope())
    )
    names = await _organisation_names(s, {row.insurer_id})
    consumer = await s.get(User, row.consumer_id)
    detail = summary(row, names.get(row.insurer_id, ""), actor)
    detail.update(
        {
            "policy_numbers": list(case.policy_numbers),
            "amount_fen": case.amount_fen,
            "channel_kind": row.channel_kind,
            "description": row.description,
            "desired_outcome": row.desired_outcome,
            "contact_preference": row.contact_preference,
            "regulator_reference": row.regulator_reference,
            "consumer": {"id": row.consumer_id, "name": consumer.display_name if consumer else ""},
            "answer": _answer(case),
            "pending_extension": (
                {
                    "reason": case.pending_extension.reason,
                    "stage": str(case.pending_extension.stage),
                }
                if case.pending_extension
                else None
            ),
            "clock": {
                "stage": str(case.clock.stage),
                "days": case.clock.days,
                "due_at": _iso(case.clock.due_at),
                "running": case.clock.running,
            },
            "version": row.version,
            "allowed": allowed_operations(case, actor),
            "next_step": step.waiting.value,
            "steps": [str(x) for x in step.steps],
            "primary_step": None if step.primary is None else str(step.primary),
        }
    )
    if actor.role not in (Role.CONSUMER, Role.CHANNEL):
        detail["triage"] = row.triage
        duplicate = await s.get(CaseRow, row.duplicate_of_id) if row.duplicate_of_id else None
        detail["duplicate_of"] = (
            {"id": duplicate.id, "number": duplicate.number} if duplicate else None
        )
    return detail


def _answer(case: Case) -> dict[str, Any] | None:
    if case.answer is None:
        return None
    return {
        "kind": str(case.answer.kind),
        "text": case.answer.text,
        "offered_amount_fen": case.answer.offered_amount_fen,
        "at": _iso(case.answer.at),
    }


async def channel_status(s: AsyncSession, actor: Actor, number: str) -> dict[str, Any]:
    row, case = await repo.load_by_number(s, number)
    authorize(actor, Action.VIEW_CASE_STATUS, case.scope())
    return {
        "number": row.number,
        "state": row.state,
        "received_at": _iso(row.received_at),
        "due_at": _iso(row.due_at),
        "updated_at": _iso(row.updated_at),
    }


async def timeline(s: AsyncSession, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    row = await repo.row_of(s, case_id)
    scope = restore(row.snapshot).scope()
    authorize(actor, Action.VIEW_CASE, scope)
    events = _visible_events(actor, scope, await repo.events(s, case_id))
    return await _event_items(s, actor, events)


#: The timeline's cursor: (case id, event sequence).
TIMELINE_LIST = "timeline"


async def timeline_page(
    s: AsyncSession, actor: Actor, case_id: int, cursor: str | None, limit: int | None
) -> Page:
    """The case's events the actor may see, oldest first, one page: each read loads only the
    events still missing from the page (and the evidence items they are about, to tell whether
    the actor may see them), never the whole log."""
    row = await repo.row_of(s, case_id)
    scope = restore(row.snapshot).scope()
    authorize(actor, Action.VIEW_CASE, scope)
    size = cursors.page_limit(limit)
    at = None if cursor is None else cursors.decode(cursor, TIMELINE_LIST, (int, int))
    if at is not None and at.key[0] != case_id:
        raise cursors.BadCursor(
            "This page link belongs to another case. Start again from the first page.",
            details={"field": "cursor"},
        )
    forward = at is None or at.direction is cursors.Direction.AFTER
    edge: int | None = None if at is None else at.key[1]
    shown: list[CaseEventRow] = []
    while len(shown) <= size:
        wanted = size + 1 - len(shown)
        batch = await repo.events_from(s, case_id, edge, forward, wanted)
        if batch:
            edge = batch[-1].sequence
            shown.extend(await _visible_in(s, actor, scope, case_id, batch))
        if len(batch) < wanted:
            break  # the log ends here
    more = len(shown) > size
    shown = shown[:size]
    if not forward:
        shown.reverse()
    after = more if forward else True
    before = (at is not None) if forward else more
    return Page(
        items=await _event_items(s, actor, shown),
        next=_event_cursor(case_id, shown[-1], cursors.Direction.AFTER)
        if shown and after
        else None,
        previous=(
            _event_cursor(case_id, shown[0], cursors.Direction.BEFORE) if shown and before else None
        ),
    )


def _event_cursor(case_id: int, e: CaseEventRow, direction: cursors.Direction) -> str:
    return cursors.encode(cursors.Cursor(TIMELINE_LIST, direction, (case_id, e.sequence)))


async def _visible_in(
    s: AsyncSession, actor: Actor, scope: CaseScope, case_id: int, batch: list[CaseEventRow]
) -> list[CaseEventRow]:
    """The events of ``batch`` the actor may see, reading the evidence items that events of
    the batch are about when they lie outside it."""
    mine = {e.sequence for e in batch}
    about: set[int] = set()
    for e in batch:
        if e.kind in _ABOUT_AN_ITEM and isinstance(e.payload.get("sequence"), int):
            about.add(e.payload["sequence"])
        if e.kind == EventKind.EVIDENCE_PURGED.value:
            about |= {i["sequence"] for i in e.payload.get("items", [])}
    extra = await repo.events_at(s, case_id, about - mine)
    visible = _visible_events(actor, scope, sorted([*extra, *batch], key=lambda e: e.sequence))
    kept = {e.sequence for e in visible}
    return [e for e in batch if e.sequence in kept]


async def _event_items(
    s: AsyncSession, actor: Actor, events: list[CaseEventRow]
) -> list[dict[str, Any]]:
    names = await _user_names(s, {e.actor_user_id for e in events if e.actor_user_id})
    return [
        {
            "sequence": e.sequence,
            "kind": e.kind,
            "at": _iso(e.at),
            "actor": {"role": e.actor_role, "name": names.get(e.actor_user_id or 0)},
            "from_state": e.from_state,
            "to_state": e.to_state,
            "payload": _payload_for(actor, e),
        }
        for e in events
    ]


#: Events about one evidence item: shown to those who see the item.
_ABOUT_AN_ITEM = frozenset(
    {
        EventKind.EVIDENCE_WITHDRAWN.value,
        EventKind.EVIDENCE_REDACTED.value,
        EventKind.REDACTION_REQUESTED.value,
    }
)


def _visible_events(
    actor: Actor, scope: CaseScope, events: list[CaseEventRow]
) -> list[CaseEventRow]:
    """Leave out the evidence events of items the actor may not see (caucus material)."""
    hidden: set[int] = set()
    for e in events:
        if e.kind == EventKind.EVIDENCE_ADDED.value:
            item = EvidenceScope(
                scope, e.actor_user_id, Visibility(e.payload.get("visibility", "all_parties"))
            )
            if not is_allowed(actor, Action.VIEW_EVIDENCE, item):
                hidden.add(e.sequence)
    return [
        e
        for e in events
        if e.sequence not in hidden
        and not (e.kind in _ABOUT_AN_ITEM and e.payload.get("sequence") in hidden)
        and not (
            e.kind == EventKind.EVIDENCE_PURGED.value
            and {i["sequence"] for i in e.payload.get("items", [])} <= hidden
            and e.payload.get("items")
        )
    ]


def _payload_for(actor: Actor, e: CaseEventRow) -> dict[str, Any]:
    if e.kind == EventKind.TRIAGED.value and actor.role is Role.CONSUMER:
        return {k: v for k, v in e.payload.items() if k in ("category", "answer_due_at")}
    return dict(e.payload)


async def _user_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(User.id, User.display_name).where(User.id.in_(ids))
    return {i: n for i, n in (await s.execute(stmt)).all()}


#: Harmless parameters to try each command on a copy of the case. A command they cannot fill
#: (the mediator to assign, chosen on the centre's own page) is not offered here.
#: Parameters that pass every command's checks (an id is at least 1), for the trial runs.
_TRIAL_PARAMS: dict[str, Any] = {
    "kind": "accept",
    "text": "-",
    "reason": "-",
    "centre_id": 1,
    "category": "other",
}


def allowed_operations(case: Case, actor: Actor) -> list[str]:
    """The operations the actor could do now: each is tried on a copy of the case, so the
    answer is exactly the aggregate's own rules."""
    now = datetime.now(case.received_at.tzinfo)
    allowed = []
    for name, command in COMMANDS.items():
        trial = deepcopy(case)
        try:
            apply(trial, actor, now, command.from_mapping(_TRIAL_PARAMS))
        except DomainError:
            continue
        allowed.append(name)
    return allowed if is_allowed(actor, Action.VIEW_CASE, case.scope()) else []


async def chain_check(s: AsyncSession, actor: Actor, case_id: int) -> dict[str, Any]:
    """Verify the case's hash chain from its first entry to its head."""
    row = await repo.row_of(s, case_id)
    authorize(actor, Action.VIEW_CASE, restore(row.snapshot).scope())
    entries = await repo.chain(s, case_id)
    check = verify_chain(entries)
    return {
        "ok": check.ok and len(entries) == row.version,
        "entries": len(entries),
        "events": row.version,
        "head": entries[-1].hash if entries else None,
        "first_bad_sequence": check.first_bad_sequence,
        "reason": None if check.reason is None else str(check.reason),
    }


async def may_upload(s: AsyncSession, actor: Actor, case_id: int) -> bool:
    """Whether a page offers the upload form: a party to a case that is not closed (as
    `odr.domain.cases.Case.add_evidence` decides)."""
    case = restore((await repo.row_of(s, case_id)).snapshot)
    allowed = is_allowed(actor, Action.UPLOAD_EVIDENCE, case.scope())
    return allowed and case.state is not CaseState.CLOSED


@dataclass(frozen=True, slots=True)
class CasePage:
    """What a case's page reads in one session."""

    detail: dict[str, Any]
    events: list[dict[str, Any]]
    may_upload: bool
    facts: CaseFacts  # what the next step depends on (the reader's own facts left out)
    viewer: tuple[Relation, ...]  # how the reader stands to the case


class CaseViews:
    """The reads above, each in a session of its own."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], access: AccessLog | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.access = access  # where staff openings of a case are logged

    async def list_cases(self, actor: Actor, f: CaseFilter) -> Page:
        async with self.sessionmaker() as s:
            return await list_cases(s, actor, f)

    async def case_detail(
        self, actor: Actor, case_id: int, *, opened: bool = False
    ) -> dict[str, Any]:
        """The case; ``opened``: a person opens it (staff openings go to the access log)."""
        async with self.sessionmaker() as s:
            detail = await case_detail(s, actor, case_id)
        if opened and self.access is not None:
            await self.access.record(actor, case_id, AccessKind.CASE)
        return detail

    async def timeline_page(
        self, actor: Actor, case_id: int, cursor: str | None = None, limit: int | None = None
    ) -> Page:
        async with self.sessionmaker() as s:
            return await timeline_page(s, actor, case_id, cursor, limit)

    async def chain_check(self, actor: Actor, case_id: int) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            return await chain_check(s, actor, case_id)

    async def channel_status(self, actor: Actor, number: str) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            return await channel_status(s, actor, number)

    async def case_page(self, actor: Actor, case_id: int) -> CasePage:
        """What the case's page shows; staff openings go to the access log."""
        async with self.sessionmaker() as s:
            detail = await case_detail(s, actor, case_id)
            case = restore((await repo.row_of(s, case_id)).snapshot)
            page = CasePage(
                detail=detail,
                events=await timeline(s, actor, case_id),
                may_upload=await may_upload(s, actor, case_id),
                facts=await case_facts(s, case, datetime.now(UTC)),
                viewer=viewer_relations(actor, case.scope()),
            )
        if self.access is not None:
            await self.access.record(actor, case_id, AccessKind.CASE)
        return page

    async def outcome_rights(self, actor: Actor, case_id: int) -> OutcomeRights:
        """What ``actor`` may do towards the case's outcome (`odr.services.outcome_rights`)."""
        return await outcome_rights(self.sessionmaker, actor, case_id)
