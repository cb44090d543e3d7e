"""Case use cases: intake with triage, the parties' operations, the regulatory clock.

Each use case is one unit of work: load, let the aggregate decide (it checks the actor's right
and the state), save with the version check, add notifications and the outbox in the same
transaction, commit, then tell live pages over the bus.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.config import Settings
from odr.domain.accounts import Actor, OrganisationKind, Role, check_birth_date
from odr.domain.authz import Action, authorize
from odr.domain.cases import (
    CLOCK_STATES,
    MAX_DESCRIPTION,
    MAX_DESIRED_OUTCOME,
    OPEN_STATES,
    Case,
    CaseEvent,
    CaseState,
    ChannelKind,
    EventKind,
)
from odr.domain.categories import Category
from odr.domain.commands import COMMANDS, CaseCommand, ToMediation
from odr.domain.deadlines import DeadlineRules, DueKind
from odr.domain.duplicates import (
    CaseRef,
    DuplicateLink,
    duplicate_links,
    may_repeat,
    normalise_policy_no,
    same_policy_open_cases,
)
from odr.domain.errors import Conflict, NotFound, ValidationFailed
from odr.domain.similarity import (
    Candidate,
    Fingerprint,
    Fingerprinter,
    estimate_similarity,
    jaccard,
    signature_from_bytes,
    signature_to_bytes,
)
from odr.domain.triage import TriageInput, TriageResult, TriageRules, triage
from odr.services import notifications as notify
from odr.services.bus import Bus
from odr.services.case_commands import handler_of
from odr.services.consumers import (
    ConsumerCreatedMeanwhile,
    ConsumerIdentity,
    find_or_create_consumer,
)
from odr.services.passwords import Passwords
from odr.services.triage_model import ModelSource, default_path
from odr.services.triage_rules import load_rules
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import CaseRow, IdempotencyKey, Organisation, User

log = logging.getLogger("odr.cases")

TERMS_VERSION = "2026-11"
CONTACT_PREFERENCES = ("in_app", "sms", "phone", "email")
MAX_POLICIES = 10
CANDIDATE_MARGIN = 0.1  # how far below the threshold an estimate still gets an exact look
#: The case events that are notified, and the notification each becomes.
NOTICES: dict[EventKind, str] = {
    EventKind.ANSWERED: "case_answered",
    EventKind.DEADLINE_EXTENDED: "extension_approved",
    EventKind.REMINDER: "reminder",
    EventKind.ESCALATED: "escalated",
    EventKind.MESSAGE_SENT: "message_received",
}


@dataclass(frozen=True)
class ComplaintForm:
    """A complaint as filed (by the consumer, a channel on their behalf, or a supervisor for
    a regulator referral)."""

    insurer_id: int
    policy_numbers: tuple[str, ...]
    category: str
    description: str
    amount_fen: int = 0
    desired_outcome: str = ""
    contact_preference: str = "in_app"
    birth_date: date | None = None
    care_requested: bool = False
    terms_version: str = ""
    received_at: datetime | None = None
    regulator_reference: str | None = None


def check_form(form: ComplaintForm, *, accepting_terms: bool = True) -> None:
    def bad(field: str, code: str, message: str) -> ValidationFailed:
        return ValidationFailed(message, code=code, details={"field": field})

    if not form.description.strip():
        raise bad("description", "description_required", "Describe what happened.")
    if len(form.description) > MAX_DESCRIPTION:
        raise bad(
            "description",
            "description_too_long",
            f"The description may have at most {MAX_DESCRIPTION} characters.",
        )
    if len(form.desired_outcome) > MAX_DESIRED_OUTCOME:
        raise bad(
            "desired_outcome",
            "desired_outcome_too_long",
            f"The desired outcome may have at most {MAX_DESIRED_OUTCOME} characters.",
        )
    if not form.policy_numbers:
        raise bad("policy_numbers", "policy_number_required", "Give at least one policy number.")
    if len(form.policy_numbers) > MAX_POLICIES:
        raise bad(
            "policy_numbers",
            "too_many_policies",
            f"A complaint may name at most {MAX_POLICIES} policies.",
        )
    if form.category not in {c.value for c in Category}:
        raise bad("category", "invalid_category", "Choose one of the categories.")
    if form.amount_fen < 0 or form.amount_fen > 10**13:
        raise bad("amount", "invalid_amount", "Enter the amount in dispute in yuan.")
    if form.contact_preference not in CONTACT_PREFERENCES:
        raise bad(
            "contact_preference",
            "invalid_contact_preference",
            "Choose how you want to be contacted.",
        )
    if accepting_terms and form.terms_version != TERMS_VERSION:
        raise bad(
            "terms_version",
            "terms_not_accepted",
            "Please read and accept the current terms and privacy notice.",
        )


@dataclass(frozen=True)
class ActionResult:
    """What a case action gives back: the case as changed and the action's own result."""

    case: Case
    value: Any  # what the operation returned (a message's masking result)


@dataclass(frozen=True)
class CaseChange:
    """A committed change of a case: the case as changed and the events it recorded."""

    case: Case
    events: tuple[CaseEvent, ...]


#: Runs after a committed change (`CaseService.subscribe`).
Subscriber = Callable[[CaseChange], Awaitable[None]]


async def default_centre(s: AsyncSession) -> int:
    """Where mediation goes: the first active mediation centre."""
    centre = (
        await s.execute(
            select(Organisation.id)
            .where(
                Organisation.kind == OrganisationKind.MEDIATION_CENTRE.value,
                Organisation.active.is_(True),
            )
            .order_by(Organisation.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if centre is None:
        raise Conflict("No mediation centre is available.", code="no_mediation_centre")
    return int(centre)


@dataclass(frozen=True)
class Attachment:
    """A file filed with the complaint: its bytes already stored (`EvidenceService.stage`),
    entered as evidence in the same change as the case."""

    sha256: str
    size: int
    name: str
    media_type: str
    kind: str  # the evidence kind its type suggests (document, image, audio, video)


@dataclass(frozen=True)
class Intake:
    case_id: int
    number: str
    state: str
    triage: dict[str, Any]
    duplicate_of: str | None


def deadline_rules(settings: Settings) -> DeadlineRules:
    """The regulatory deadlines: the defaults in the settings' time zone, or a TOML file."""
    if settings.deadline_rules is None:
        return DeadlineRules(time_zone=settings.timezone)
    import tomllib

    data = tomllib.loads(settings.deadline_rules.read_text(encoding="utf-8"))
    data.setdefault("time_zone", settings.timezone)
    return DeadlineRules.from_mapping(data, categories=[c.value for c in Category])


def case_service(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], bus: Bus
) -> CaseService:
    return CaseService(
        sessionmaker,
        bus,
        deadlines=deadline_rules(settings),
        triage_rules=load_rules(settings.triage_rules),
        category_model=ModelSource(default_path(settings.var_dir, settings.triage_model)),
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class CaseService:
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    deadlines: DeadlineRules
    triage_rules: TriageRules
    clock: Callable[[], datetime] = now_utc
    #: the learned category model beside the rules, loaded on the first complaint
    category_model: ModelSource | None = None
    fingerprint: Fingerprinter = field(init=False)
    subscribers: list[Subscriber] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.fingerprint = Fingerprinter(self.triage_rules.similarity)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    # --- intake -------------------------------------------------------------------------------

    async def file(
        self,
        actor: Actor,
        form: ComplaintForm,
        *,
        consumer_id: int,
        channel_kind: ChannelKind = ChannelKind.WEB,
        accepting_terms: bool = True,
        idempotency: tuple[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Intake:
        """File and triage a complaint. With ``idempotency`` (key, body hash) from a channel,
        the key is stored in the same transaction as the case, so two concurrent retries
        cannot both create one. ``attachments`` become the case's first evidence in the same
        transaction: the case and its files, or nothing."""
        async with self.uow() as uow:
            intake, case, events = await self._file(
                uow.session,
                actor,
                form,
                consumer_id=consumer_id,
                channel_kind=channel_kind,
                accepting_terms=accepting_terms,
                idempotency=idempotency,
                attachments=attachments,
            )
            await uow.commit()
        await self.publish(intake.case_id, case.version)
        await self._tell_subscribers(case, events)
        return intake

    async def file_for(
        self,
        actor: Actor,
        form: ComplaintForm,
        who: ConsumerIdentity,
        *,
        passwords: Passwords,
        channel_kind: ChannelKind,
        accepting_terms: bool = True,
        idempotency: tuple[str, str] | None = None,
    ) -> Intake:
        """File a complaint for a consumer someone else names (a partner channel, a
        regulator referral): the consumer is found by mobile number or created, in the same
        transaction as the case, so a refused complaint leaves no account behind."""
        for attempt in (1, 2):
            try:
                async with self.uow() as uow:
                    consumer_id = await find_or_create_consumer(uow.session, passwords, who)
                    intake, case, events = await self._file(
                        uow.session,
                        actor,
                        form,
                        consumer_id=consumer_id,
                        channel_kind=channel_kind,
                        accepting_terms=accepting_terms,
                        idempotency=idempotency,
                    )
                    await uow.commit()
            except ConsumerCreatedMeanwhile:
                if attempt == 2:
                    raise
                continue  # the next attempt finds the consumer created meanwhile
            await self.publish(intake.case_id, case.version)
            await self._tell_subscribers(case, events)
            return intake
        raise AssertionError("unreachable")

    async def _file(
        self,
        s: AsyncSession,
        actor: Actor,
        form: ComplaintForm,
        *,
        consumer_id: int,
        channel_kind: ChannelKind,
        accepting_terms: bool,
        idempotency: tuple[str, str] | None,
        attachments: Sequence[Attachment] = (),
    ) -> tuple[Intake, Case, list[CaseEvent]]:
        check_form(form, accepting_terms=accepting_terms)
        now = self.clock()
        check_birth_date(form.birth_date, now.astimezone(self.deadlines_zone()).date())
        insurer = await s.get(Organisation, form.insurer_id)
        if insurer is None or insurer.kind != OrganisationKind.INSURER.value:
            raise ValidationFailed(
                "Choose an insurer from the list.",
                code="invalid_insurer",
                details={"field": "insurer_id"},
            )
        consumer = await s.get(User, consumer_id)
        if consumer is None or consumer.role != Role.CONSUMER.value:
            raise NotFound("No such consumer.", code="consumer_not_found")
        received = form.received_at or now
        local_day = received.astimezone(self.deadlines_zone()).date()
        number = await repo.next_number(s, local_day.year)
        row = CaseRow(
            number=number,
            consumer_id=consumer_id,
            insurer_id=insurer.id,
            channel_id=actor.channel_id,
            channel_kind=channel_kind.value,
            category=form.category,
            state=CaseState.SUBMITTED.value,
            received_at=received,
            amount_fen=form.amount_fen,
            description=form.description.strip(),
            desired_outcome=form.desired_outcome.strip(),
            contact_preference=form.contact_preference,
            terms_version=form.terms_version,
            regulator_reference=form.regulator_reference,
            snapshot={},
            version=0,
            care_priority=False,
        )
        case_id = await repo.reserve_id(s, row)
        case = Case.file(
            actor,
            now,
            case_id=case_id,
            number=number,
            consumer_id=consumer_id,
            insurer_id=insurer.id,
            policy_numbers=form.policy_numbers,
            category=form.category,
            deadlines=self.deadlines,
            amount_fen=form.amount_fen,
            channel_kind=channel_kind,
            received_at=received,
            care_requested=form.care_requested or consumer.care_mode,
        )
        birth = form.birth_date or consumer.birth_date
        earlier = await repo.count_by_consumer(s, consumer_id) - 1
        result = triage(
            TriageInput(
                text=form.description,
                received_on=local_day,
                form_category=Category(form.category),
                amount_cny=form.amount_fen // 100,
                birth_date=birth,
                care_requested=case.care_priority,
                insurer=insurer.name,
                policy_numbers=case.policy_numbers,
                earlier_complaints=max(0, earlier),
                channel=channel_kind.value,
                model=self.category_model.suggest(form.description)
                if self.category_model is not None
                else None,
            ),
            self.triage_rules,
        )
        fp = self.fingerprint(form.description)
        links = await self._duplicates(s, case, insurer.name, fp)
        repo.add_policies(s, case_id, [normalise_policy_no(p) for p in case.policy_numbers])
        case.triage(
            Actor.system(),
            now,
            category=form.category,
            risk_score=result.risk_score,
            deadlines=self.deadlines,
            risk_reasons=[r.signal for r in result.reasons],
            care_priority=result.care_priority,
        )
        summary = _triage_summary(result, links)
        duplicate_number = None
        if links:
            original = await s.get(CaseRow, int(links[0].of))
            row.duplicate_of_id = int(links[0].of)
            duplicate_number = original.number if original else None
        row.triage = summary
        if consumer.birth_date is None and form.birth_date is not None:
            consumer.birth_date = form.birth_date
        for attached in attachments:
            case.add_evidence(
                actor,
                now,
                sha256=attached.sha256,
                size=attached.size,
                name=attached.name,
                media_type=attached.media_type,
                kind=attached.kind,
            )
        events = list(case.events)
        await repo.save(s, case, 0, now)
        if fp.indexable:
            await repo.index_fingerprint(
                s, case_id, signature_to_bytes(fp.signature), list(fp.band_keys)
            )
        if idempotency is not None and actor.channel_id is not None:
            s.add(
                IdempotencyKey(
                    channel_id=actor.channel_id,
                    key=idempotency[0],
                    body_sha256=idempotency[1],
                    case_id=case_id,
                )
            )
        params = {"number": number, "due": self.format_due(case)}
        notify.notify(
            s,
            [notify.recipient(consumer)],
            kind="case_received",
            key=f"case:{case_id}:received",
            case_id=case_id,
            params=params,
            now=now,
        )
        reps = await notify.staff_of(s, insurer.id, Role.INSURER_REP.value)
        notify.notify(
            s,
            reps,
            kind="case_new",
            key=f"case:{case_id}:new",
            case_id=case_id,
            params=params,
            now=now,
        )
        intake = Intake(case_id, number, case.state.value, summary, duplicate_number)
        return intake, case, events

    async def _duplicates(
        self, s: AsyncSession, case: Case, insurer_name: str, fp: Fingerprint
    ) -> tuple[DuplicateLink, ...]:
        policies = [normalise_policy_no(p) for p in case.policy_numbers]
        earlier = await repo.open_cases_about(
            s, case.consumer_id, case.insurer_id, policies, [st.value for st in OPEN_STATES]
        )
        refs = [
            CaseRef(cid, case.consumer_id, insurer_name, frozenset(numbers))
            for cid, numbers in earlier.items()
            if cid != case.id
        ]
        same = same_policy_open_cases(
            consumer_id=case.consumer_id,
            insurer=insurer_name,
            policy_numbers=case.policy_numbers,
            cases=refs,
        )
        near: list[Candidate] = []
        if fp.indexable:
            # The MinHash estimate finds candidates; the exact similarity of their texts
            # decides (the estimate is off by a few hundredths either way).
            threshold = self.triage_rules.similarity.near_duplicate
            rough = {
                cid
                for cid, raw in (await repo.candidates(s, list(fp.band_keys))).items()
                if cid != case.id
                and estimate_similarity(fp.signature, signature_from_bytes(raw))
                >= threshold - CANDIDATE_MARGIN
            }
            owners = await repo.owners(s, rough)
            rough = {
                cid
                for cid in rough
                if cid in owners
                and may_repeat(
                    consumer_id=case.consumer_id,
                    policy_numbers=policies,
                    other_consumer_id=owners[cid][0],
                    other_policy_numbers=owners[cid][1],
                )
            }  # another consumer's near-identical complaint is a cluster, not a duplicate
            for cid, other in (await repo.descriptions(s, rough)).items():
                sim = jaccard(fp.shingles, self.fingerprint.shingles_of(other))
                if sim >= threshold:
                    near.append(Candidate(cid, sim, exact=True))
            near.sort(key=lambda c: (-c.similarity, c.item_id))
        return duplicate_links(same, near)

    # --- operations on a case -----------------------------------------------------------------

    async def act(
        self, actor: Actor, case_id: int, operation: str, params: Mapping[str, Any] | None = None
    ) -> ActionResult:
        """Apply the command named ``operation`` (`odr.domain.commands.COMMANDS`) read from
        ``params`` for ``actor``."""
        command = COMMANDS.get(operation)
        if command is None:
            raise NotFound("No such operation.", code="unknown_operation")
        values = dict(params or {})
        return await self._issue(actor, case_id, lambda: command.from_mapping(values))

    async def issue(self, actor: Actor, case_id: int, command: CaseCommand) -> ActionResult:
        """Apply ``command`` for ``actor``."""
        return await self._issue(actor, case_id, lambda: command)

    async def _issue(
        self, actor: Actor, case_id: int, read: Callable[[], CaseCommand]
    ) -> ActionResult:
        now = self.clock()
        async with self.uow() as uow:
            s = uow.session
            row, case = await repo.load(s, case_id)
            # a stranger learns nothing, not even that the parameters were wrong
            authorize(actor, Action.VIEW_CASE_STATUS, case.scope())
            command = read()
            if isinstance(command, ToMediation) and command.centre_id is None:
                command = replace(command, centre_id=await default_centre(s))
            handler = handler_of(command)
            before = case.version
            value = handler.apply(case, actor, now, command)
            if handler.check is not None:
                await handler.check(s, case, now.astimezone(self.deadlines_zone()).date())
            new_events = list(case.events)
            await repo.save(s, case, before, now)
            await self._notify_events(s, row, case, new_events, now)
            await uow.commit()
        await self.publish(case_id, case.version)
        await self._tell_subscribers(case, new_events)
        return ActionResult(case, value)

    # --- what follows a committed change ------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Run ``subscriber`` after every committed change of a case by this service, with the
        case as changed and its new events (in the order subscribed). A subscriber's error
        reaches the caller; the change stays saved."""
        self.subscribers.append(subscriber)

    async def _tell_subscribers(self, case: Case, events: Sequence[CaseEvent]) -> None:
        if not events:
            return
        change = CaseChange(case, tuple(events))
        for subscriber in self.subscribers:
            await subscriber(change)

    async def _notify_events(
        self, s: AsyncSession, row: CaseRow, case: Case, events: Sequence[CaseEvent], now: datetime
    ) -> None:
        for e in events:
            kind = NOTICES.get(e.kind)
            if kind is None:
                continue
            params = {
                "number": case.number,
                "due": self.format_due(case),
                "reason": e.payload_dict().get("reason", ""),
            }
            notify.notify(
                s,
                await self._recipients(s, case, e),
                kind=kind,
                key=f"case:{case.id}:event:{e.sequence}",
                case_id=case.id,
                params=params,
                now=now,
                email=e.kind is not EventKind.MESSAGE_SENT,  # messages: the inbox only
            )

    async def _recipients(
        self, s: AsyncSession, case: Case, e: CaseEvent
    ) -> list[notify.Recipient]:
        """Who hears of an event: the consumer of the insurer's answer and of more time; whoever
        must act of a reminder; the supervisors too of an escalation; the other parties of a
        message."""
        if e.kind in (EventKind.ANSWERED, EventKind.DEADLINE_EXTENDED):
            consumer = await s.get(User, case.consumer_id)
            return [notify.recipient(consumer)] if consumer else []
        if e.kind is EventKind.REMINDER:
            return await self._people_on_clock(s, case)
        if e.kind is EventKind.ESCALATED:
            return [
                *await notify.users_with_role(s, Role.SUPERVISOR.value),
                *await self._people_on_clock(s, case),
            ]
        return [r for r in await self._parties(s, case) if r.user_id != e.actor_user_id]

    async def _people_on_clock(self, s: AsyncSession, case: Case) -> list[notify.Recipient]:
        if case.mediator_id is not None and case.state not in {CaseState.AWAITING_INSURER}:
            mediator = await s.get(User, case.mediator_id)
            return [notify.recipient(mediator)] if mediator else []
        return await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value)

    async def _parties(self, s: AsyncSession, case: Case) -> list[notify.Recipient]:
        people = await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value)
        for uid in (case.consumer_id, case.mediator_id):
            if uid is not None and (user := await s.get(User, uid)) is not None:
                people.append(notify.recipient(user))
        return people

    # --- the regulatory clock -----------------------------------------------------------------

    async def run_clock(self, now: datetime | None = None) -> int:
        """Record every reminder and escalation that is due, each exactly once: the case's
        version check lets only one of several concurrent workers save it."""
        now = now or self.clock()
        async with self.uow() as uow:
            ids = list(
                (
                    await uow.session.execute(
                        select(CaseRow.id)
                        .where(
                            CaseRow.next_action_at <= now,
                            CaseRow.state.in_([s.value for s in CLOCK_STATES]),
                        )
                        .order_by(CaseRow.next_action_at)
                        .limit(500)
                    )
                ).scalars()
            )
        done = 0
        for case_id in ids:
            try:
                done += await self._tick(case_id, now)
            except Conflict:
                log.info("case %s was changed by another worker; skipped", case_id)
        return done

    async def _tick(self, case_id: int, now: datetime) -> int:
        system = Actor.system()
        async with self.uow() as uow:
            row, case = await repo.load(uow.session, case_id)
            before = case.version
            count = 0
            for due in case.due_actions(now):
                if due.kind is DueKind.REMINDER:
                    case.remind(system, now)
                else:
                    case.escalate(system, now)
                count += 1
            events = list(case.events)
            await repo.save(uow.session, case, before, now)
            await self._notify_events(uow.session, row, case, events, now)
            await uow.commit()
        if count:
            await self.publish(case_id, case.version)
            await self._tell_subscribers(case, events)
        return count

    # --- helpers ------------------------------------------------------------------------------

    def deadlines_zone(self) -> Any:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.deadlines.time_zone)

    def format_due(self, case: Case) -> str:
        """The deadline for a notice's parameters: ISO 8601 with the local offset (texts show
        it as its last day, `odr.times`)."""
        return case.clock.due_at.astimezone(self.deadlines_zone()).isoformat()

    async def publish(self, case_id: int, version: int) -> None:
        try:
            await self.bus.publish(f"case:{case_id}", {"case_id": case_id, "version": version})
        except Exception:  # live pages reload on their own; never fail a saved change
            log.warning("could not publish the change of case %s", case_id, exc_info=True)


def _triage_summary(result: TriageResult, links: Sequence[DuplicateLink]) -> dict[str, Any]:
    return {
        "suggested_category": result.suggested_category.value,
        "confidence": result.confidence,
        "needs_confirmation": result.needs_confirmation,
        "category_reasons": list(result.category_reasons),
        "rules_category": result.rules_category.value,
        "model_category": result.model_category.value if result.model_category else None,
        "risk_score": result.risk_score,
        "reasons": [
            {"signal": r.signal, "weight": r.weight, "evidence": r.evidence, "label": r.label}
            for r in result.reasons
        ],
        "care_priority": result.care_priority,
        "care_reason": result.care_reason,
        "duplicates": [
            {"case_id": link.of, "reason": link.reason.value, "similarity": link.similarity}
            for link in links
        ],
    }
