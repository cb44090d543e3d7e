"""Outcome use cases (issue #7): the agreement drafted from a template and signed after
re-authentication, blind offers and open offers, payment and its overdue alerts, the
judicial-confirmation window, satisfaction ratings.

Every change is one unit of work like `CaseService.act`: load the case, let the aggregate
decide, save with the version check (with this module's own rows in the same transaction),
notify, commit, then tell live pages over the bus.

Blind offers keep their figures in ``blind_offers`` only; the case's log and chain get a
commitment (`odr.domain.offers.commitment`). No view here returns the other side's figure.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor, Role, requires_second_factor
from odr.domain.agreements import (
    AgreementDraft,
    AgreementParties,
    ConfirmationRules,
    FulfilmentRules,
    confirmation_action,
    payment_action,
    render_agreement,
    rules_from_mapping,
    window_ends_on,
    yuan,
)
from odr.domain.authz import Action, authorize
from odr.domain.cases import Case, CaseEvent, CaseState, EventKind, Party
from odr.domain.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from odr.domain.offers import (
    BlindOfferRules,
    OpenOffer,
    Round,
    Side,
    check_figure,
    commitment,
    offer_to_answer,
    round_for,
    settlement,
)
from odr.services import notifications as notify
from odr.services.accounts import Logins
from odr.services.cases import CaseService
from odr.services.evidence import EvidenceService, Item
from odr.services.pdf import Heading, Table, Text, render_pdf
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import (
    AgreementDraftRow,
    BlindOffer,
    BlindRound,
    CaseEventRow,
    CaseRow,
    Organisation,
    OutcomeAlert,
    SatisfactionRating,
    User,
)

log = logging.getLogger("odr.outcomes")

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "outcomes.toml"
SIDE_OF_ROLE = {Role.CONSUMER: Side.CONSUMER, Role.INSURER_REP: Side.INSURER}
T = TypeVar("T")


@dataclass(frozen=True)
class OutcomeRules:
    blind: BlindOfferRules = field(default_factory=BlindOfferRules)
    fulfilment: FulfilmentRules = field(default_factory=FulfilmentRules)
    confirmation: ConfirmationRules = field(default_factory=ConfirmationRules)


def load_rules(path: Path | None = None) -> OutcomeRules:
    data = tomllib.loads((path or RULES_FILE).read_text(encoding="utf-8"))
    fulfilment, confirmation = rules_from_mapping(data)
    return OutcomeRules(
        BlindOfferRules.from_mapping(data.get("blind_offers", {})), fulfilment, confirmation
    )


def _iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


def case_language(consumer: User | None) -> str:
    """The case's language: the consumer's, Chinese unless they chose English."""
    return "en" if consumer is not None and consumer.locale == "en" else "zh-CN"


@dataclass
class OutcomeService:
    cases: CaseService
    evidence: EvidenceService
    logins: Logins | None  # None in a worker: it signs nothing
    rules: OutcomeRules = field(default_factory=OutcomeRules)

    @property
    def sessionmaker(self) -> Any:
        return self.cases.sessionmaker

    def now(self) -> datetime:
        return self.cases.clock()

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cases.deadlines.time_zone)

    # --- the unit of work of one change -------------------------------------------------------

    async def _change(
        self,
        actor: Actor,
        case_id: int,
        apply: Callable[[AsyncSession, Case, datetime], Awaitable[T]],
        *,
        notice: Callable[[Case, list[CaseEvent]], dict[str, Any] | None] | None = None,
        now: datetime | None = None,
    ) -> tuple[Case, T]:
        now = now or self.now()
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE_STATUS, case.scope())
            before = case.version
            value = await apply(s, case, now)
            events = list(case.events)
            await repo.save(s, case, before, now)
            tell = notice(case, events) if notice else None
            if tell is not None:
                await self._tell(s, case, events, now, **tell)
            await uow.commit()
        await self.cases.publish(case_id, case.version)
        return case, value

    async def _tell(
        self,
        s: AsyncSession,
        case: Case,
        events: Sequence[CaseEvent],
        now: datetime,
        *,
        to: str = "parties",
        kind: str = "state_changed",
        params: dict[str, Any] | None = None,
    ) -> None:
        """Notify the parties (all but the actor), the insurer's staff, or the supervisors too,
        of the last of ``events``. Parameters never carry a blind-offer figure."""
        if not events:
            return
        last = events[-1]
        people = await self.cases._parties(s, case)
        if to == "insurer":
            people = await notify.staff_of(s, case.insurer_id, Role.INSURER_REP.value)
        elif to == "supervisors":
            people += await notify.users_with_role(s, Role.SUPERVISOR.value)
        recipients = [p for p in people if to == "all" or p.user_id != last.actor_user_id]
        notify.notify(
            s,
            recipients,
            kind=kind,
            key=f"case:{case.id}:event:{last.sequence}",
            case_id=case.id,
            params={"number": case.number, "due": "", "reason": "", **(params or {})},
            now=now,
        )

    # --- the agreement ------------------------------------------------------------------------

    async def _parties(self, s: AsyncSession, case: Case) -> AgreementParties:
        consumer = await s.get(User, case.consumer_id)
        insurer = await s.get(Organisation, case.insurer_id)
        mediator = await s.get(User, case.mediator_id) if case.mediator_id else None
        centre = await s.get(Organisation, case.centre_id) if case.centre_id else None
        return AgreementParties(
            case_number=case.number,
            consumer_name=consumer.display_name if consumer else "",
            insurer_name=insurer.name if insurer else "",
            mediator_name=mediator.display_name if mediator else "",
            centre_name=centre.name if centre else "",
            policy_numbers=case.policy_numbers,
        )

    async def draft_agreement(
        self,
        actor: Actor,
        case_id: int,
        *,
        facts: str,
        terms: str,
        amount_fen: int | None,
        due_on: date | None,
        confidential: bool = True,
    ) -> dict[str, Any]:
        """The mediator drafts (or redrafts) the agreement from the template; a changed text
        voids every signature (the case's rule)."""
        draft = AgreementDraft(facts, terms, amount_fen, due_on, confidential)

        async def apply(s: AsyncSession, case: Case, now: datetime) -> str:
            lang = case_language(await s.get(User, case.consumer_id))
            text = render_agreement(await self._parties(s, case), draft, lang)
            case.propose_agreement(
                actor, now, terms=text, amount_fen=draft.amount_fen, due_on=draft.due_on
            )
            await s.execute(delete(AgreementDraftRow).where(AgreementDraftRow.case_id == case.id))
            s.add(
                AgreementDraftRow(
                    case_id=case.id,
                    facts=draft.facts,
                    terms=draft.terms,
                    confidential=draft.confidential,
                    language=lang,
                    updated_by=actor.user_id,
                    updated_at=now,
                )
            )
            return lang

        await self._change(actor, case_id, apply, notice=lambda c, e: {})
        return await self.agreement_view(actor, case_id)

    async def agreement_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            return await self._agreement_data(s, case)

    async def _agreement_data(self, s: AsyncSession, case: Case) -> dict[str, Any]:
        draft = await s.get(AgreementDraftRow, case.id)
        if case.agreement is None:
            return {"state": case.state.value, "agreement": None, "signatures": []}
        a = case.agreement
        return {
            "state": case.state.value,
            "agreement": {
                "text": a.terms,
                "sha256": a.sha256,
                "amount_fen": a.amount_fen,
                "due_on": _iso(a.due_on),
                "drafted_at": _iso(a.at),
                "facts": draft.facts if draft else None,
                "terms": draft.terms if draft else None,
                "confidential": draft.confidential if draft else None,
                "language": draft.language if draft else "zh-CN",
            },
            "signatures": await self._signatures(s, case),
            "all_signed": set(case.signatures) == set(Party),
        }

    async def _signatures(self, s: AsyncSession, case: Case) -> list[dict[str, Any]]:
        """The signatures of the current text: those after its last drafting."""
        rows = await repo.events(s, case.id)
        drafted = max(
            (r.sequence for r in rows if r.kind == EventKind.AGREEMENT_PROPOSED.value), default=0
        )
        signed = [
            r for r in rows if r.kind == EventKind.AGREEMENT_SIGNED.value and r.sequence > drafted
        ]
        names = await _names(s, {r.actor_user_id for r in signed if r.actor_user_id})
        return [
            {
                "party": r.payload.get("party"),
                "user_id": r.actor_user_id,
                "name": names.get(r.actor_user_id or 0, ""),
                "at": _iso(r.at),
                "method": r.payload.get("method", ""),
                "sha256": r.payload.get("sha256"),
                "sequence": r.sequence,
            }
            for r in signed
        ]

    async def reauthenticate(
        self, actor: Actor, password: str, otp: str | None, today: date
    ) -> str:
        """Prove again who is signing: the password, and the second factor for staff (and for
        anyone who set one up); the method, for the signature. `Unauthenticated` otherwise."""
        if actor.user_id is None or self.logins is None:
            raise Forbidden("Only people sign.", code="forbidden")
        if not password:
            raise Unauthenticated(
                "Enter your password again to sign.", code="reauthentication_required"
            )
        async with UnitOfWork(self.sessionmaker) as uow:
            user = await uow.session.get(User, actor.user_id)
            if user is None or not user.active:
                raise Unauthenticated("Please log in again.", code="unauthenticated")
            login = user.email or user.mobile or ""
            info = await self.logins.login(uow, login, password, otp, today)
        if info.id != actor.user_id:
            raise Unauthenticated("Please log in again.", code="unauthenticated")
        strong = info.has_second_factor or requires_second_factor(info.role)
        return "password+totp" if strong else "password"

    async def sign_agreement(
        self, actor: Actor, case_id: int, *, sha256: str, password: str, otp: str | None = None
    ) -> dict[str, Any]:
        """Sign the text whose hash the signer read, after re-authentication. When the last
        party signs (the mediator's countersignature among them) the case is settled and the
        signed agreement enters the evidence as a PDF."""
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
        # the rules first, on a copy (a stranger learns nothing, a stale hash or a second
        # signature is refused before a one-time code is spent)
        copy.deepcopy(case).sign_agreement(actor, self.now(), agreement_sha256=sha256)
        method = await self.reauthenticate(actor, password, otp, self.now().date())

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.sign_agreement(actor, now, agreement_sha256=sha256, method=method)

        case, _ = await self._change(actor, case_id, apply, notice=lambda c, e: {})
        item = None
        if case.state is CaseState.SETTLED:
            item = await self.enter_agreement(case_id)
        view = await self.agreement_view(actor, case_id)
        view["evidence_sequence"] = item.sequence if item else None
        return view

    async def agreement_pdf(self, actor: Actor, case_id: int) -> bytes:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            data = await self._agreement_data(s, case)
        if data["agreement"] is None:
            raise Conflict("No agreement has been drafted.", code="no_agreement")
        return await asyncio.to_thread(_agreement_pdf, case.number, data)

    async def enter_agreement(self, case_id: int) -> Item:
        """The signed agreement as evidence (a PDF with every signature and the text's hash)."""
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            data = await self._agreement_data(s, case)
        pdf = await asyncio.to_thread(_agreement_pdf, case.number, data)
        return await self.evidence.enter_record(
            case_id,
            _chunks(pdf),
            name=f"{case.number}-agreement.pdf",
            kind="agreement",
            media_type="application/pdf",
            description=f"sha256 of the signed text: {data['agreement']['sha256']}",
        )

    # --- fulfilment ---------------------------------------------------------------------------

    async def record_payment(
        self, actor: Actor, case_id: int, *, amount_fen: int, paid_on: date, reference: str
    ) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            if paid_on > now.astimezone(self.zone()).date():
                raise ValidationFailed(
                    "A payment cannot be in the future.",
                    code="invalid_paid_on",
                    details={"field": "paid_on"},
                )
            case.record_payment(
                actor, now, amount_fen=amount_fen, reference=reference, paid_on=paid_on
            )

        case, _ = await self._change(actor, case_id, apply, notice=lambda c, e: {})
        return case

    async def confirm_payment(self, actor: Actor, case_id: int) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.confirm_payment(actor, now)

        case, _ = await self._change(actor, case_id, apply, notice=lambda c, e: {})
        return case

    async def dispute_payment(self, actor: Actor, case_id: int, *, reason: str) -> Case:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.dispute_payment(actor, now, reason=reason)

        case, _ = await self._change(
            actor, case_id, apply, notice=lambda c, e: {"params": {"reason": reason}}
        )
        return case

    async def run_clock(self, now: datetime | None = None) -> int:
        """Record every overdue-payment reminder and escalation and every reminder of the
        judicial-confirmation window that is due, each exactly once: the case's version check
        and the alert's primary key let one of several concurrent workers record it."""
        now = now or self.now()
        horizon = now - timedelta(days=self.rules.confirmation.window_days + 2)
        async with self.sessionmaker() as s:
            settled = list(
                (
                    await s.execute(
                        select(CaseRow.id)
                        .where(CaseRow.state == CaseState.SETTLED.value)
                        .order_by(CaseRow.id)
                        .limit(1000)
                    )
                ).scalars()
            )
            signed = list(
                (
                    await s.execute(
                        select(CaseEventRow.case_id, CaseEventRow.at).where(
                            CaseEventRow.kind == EventKind.AGREEMENT_SIGNED.value,
                            CaseEventRow.at >= horizon,
                        )
                    )
                ).all()
            )
        done = 0
        for case_id in settled:
            done += await self._guarded(self._payment_tick(case_id, now))
        windows: dict[int, datetime] = {}
        for case_id, at in signed:
            windows[case_id] = max(at, windows.get(case_id, at))
        for case_id in sorted(windows):
            done += await self._guarded(self._confirmation_tick(case_id, now))
        return done

    async def _guarded(self, tick: Awaitable[int]) -> int:
        try:
            return await tick
        except (Conflict, IntegrityError):
            log.info("an outcome alert was recorded by another worker; skipped")
            return 0

    async def _fired(self, s: AsyncSession, case_id: int) -> set[str]:
        stmt = select(OutcomeAlert.key).where(OutcomeAlert.case_id == case_id)
        return set((await s.execute(stmt)).scalars())

    async def _payment_tick(self, case_id: int, now: datetime) -> int:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            fired = await self._fired(s, case_id)
        if case.agreement is None or case.agreement.due_on is None:
            return 0
        due = payment_action(case.agreement.due_on, now, self.zone(), self.rules.fulfilment, fired)
        if due is None:
            return 0
        system = Actor.system()

        async def apply(s: AsyncSession, case: Case, at: datetime) -> None:
            if due.kind == "reminder":
                case.remind_payment(system, at, key=due.key)
            else:
                case.escalate_payment(system, at, key=due.key)
            s.add(OutcomeAlert(case_id=case.id, key=due.key, fired_at=at))

        assert case.agreement.due_on is not None
        params = {"due": case.agreement.due_on.isoformat()}
        await self._change(
            system,
            case_id,
            apply,
            notice=lambda c, e: (
                {"to": "insurer", "params": params}
                if due.kind == "reminder"
                else {"to": "supervisors", "kind": "escalated", "params": params}
            ),
            now=now,
        )
        return 1

    async def _confirmation_tick(self, case_id: int, now: datetime) -> int:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            if set(case.signatures) != set(Party) or case.agreement is None:
                return 0
            signed_at = await self._settled_at(s, case_id)
            fired = await self._fired(s, case_id)
        if signed_at is None:
            return 0
        ends_on = window_ends_on(signed_at, self.zone(), self.rules.confirmation)
        due = confirmation_action(ends_on, now, self.zone(), self.rules.confirmation, fired)
        if due is None:
            return 0
        system = Actor.system()

        async def apply(s: AsyncSession, case: Case, at: datetime) -> None:
            case.remind_confirmation(system, at, key=due.key, window_ends_on=ends_on)
            s.add(OutcomeAlert(case_id=case.id, key=due.key, fired_at=at))

        await self._change(
            system,
            case_id,
            apply,
            notice=lambda c, e: {"params": {"due": ends_on.isoformat()}},
            now=now,
        )
        return 1

    async def _settled_at(self, s: AsyncSession, case_id: int) -> datetime | None:
        """When the last signature made the agreement effective."""
        for row in reversed(await repo.events(s, case_id)):
            if row.kind == EventKind.AGREEMENT_SIGNED.value and row.payload.get("all_signed"):
                return row.at
        return None

    async def confirmation_window(self, actor: Actor, case_id: int) -> dict[str, Any] | None:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            signed_at = await self._settled_at(s, case_id)
        if signed_at is None or set(case.signatures) != set(Party):
            return None
        ends_on = window_ends_on(signed_at, self.zone(), self.rules.confirmation)
        today = self.now().astimezone(self.zone()).date()
        return {
            "effective_on": _iso(signed_at.astimezone(self.zone()).date()),
            "ends_on": _iso(ends_on),
            "days_left": max(0, (ends_on - today).days),
            "open": today <= ends_on,
        }

    # --- blind offers -------------------------------------------------------------------------

    async def _rounds(self, s: AsyncSession, case_id: int) -> list[Round]:
        offers = (
            await s.execute(select(BlindOffer).where(BlindOffer.case_id == case_id))
        ).scalars()
        ended = {
            r.round: r
            for r in (
                await s.execute(select(BlindRound).where(BlindRound.case_id == case_id))
            ).scalars()
        }
        sides: dict[int, set[Side]] = {}
        for o in offers:
            sides.setdefault(o.round, set()).add(Side(o.side))
        return [
            Round(
                n,
                frozenset(sides.get(n, set())),
                ended[n].overlap if n in ended else None,
                ended[n].amount_fen if n in ended else None,
            )
            for n in sorted(set(sides) | set(ended))
        ]

    async def submit_blind_offer(
        self, actor: Actor, case_id: int, amount_fen: int
    ) -> dict[str, Any]:
        """Enter the actor's side's secret figure; the second figure of a round ends it."""
        figure = check_figure(amount_fen)
        side = SIDE_OF_ROLE.get(actor.role)
        rules = self.rules.blind

        async def apply(s: AsyncSession, case: Case, now: datetime) -> dict[str, Any]:
            authorize(actor, Action.MAKE_OFFER, case.scope())
            if side is None:
                raise Forbidden("Only the two sides make offers.", code="forbidden")
            round_no = round_for(side, await self._rounds(s, case.id), rules)
            nonce = secrets.token_bytes(32)
            sealed = commitment(case.id, round_no, side, figure, nonce)
            case.submit_blind_offer(actor, now, round_no=round_no, commitment=sealed)
            s.add(
                BlindOffer(
                    case_id=case.id,
                    round=round_no,
                    side=side.value,
                    amount_fen=figure,
                    nonce=nonce,
                    commitment=sealed,
                    submitted_by=actor.user_id,
                    submitted_at=now,
                )
            )
            other = (
                await s.execute(
                    select(BlindOffer.amount_fen).where(
                        BlindOffer.case_id == case.id,
                        BlindOffer.round == round_no,
                        BlindOffer.side == side.other.value,
                    )
                )
            ).scalar_one_or_none()
            if other is None:
                return {"round": round_no, "ended": False}
            consumer, insurer = (figure, other) if side is Side.CONSUMER else (other, figure)
            settled = settlement(consumer, insurer, rules)
            case.end_blind_round(actor, now, round_no=round_no, settled_fen=settled)
            s.add(
                BlindRound(
                    case_id=case.id,
                    round=round_no,
                    overlap=settled is not None,
                    amount_fen=settled,
                    ended_at=now,
                )
            )
            return {"round": round_no, "ended": True}

        await self._change(actor, case_id, apply, notice=_blind_notice)
        return await self.blind_offers_view(actor, case_id)

    async def blind_offers_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """The rounds as ``actor`` may see them: its own side's figures only; the other side's
        never, not even after settlement (only the settlement amount is told)."""
        side = SIDE_OF_ROLE.get(actor.role)
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            rounds = await self._rounds(s, case_id)
            mine: dict[int, int] = {}
            if side is not None and actor.user_id is not None:
                rows = (
                    await s.execute(
                        select(BlindOffer.round, BlindOffer.amount_fen).where(
                            BlindOffer.case_id == case_id, BlindOffer.side == side.value
                        )
                    )
                ).all()
                mine = {n: amount for n, amount in rows}
        settled = next((r for r in rounds if r.overlap), None)
        items = [
            {
                "round": r.number,
                "submitted": {s.value: s in r.submitted for s in Side},
                "my_figure_fen": mine.get(r.number),
                "outcome": None
                if r.overlap is None
                else ("settled" if r.overlap else "no_overlap"),
                "amount_fen": r.amount_fen if r.overlap else None,
            }
            for r in rounds
        ]
        try:
            next_round: int | None = round_for(side, rounds, self.rules.blind) if side else None
        except Conflict:
            next_round = None
        return {
            "side": side.value if side else None,
            "rule": self.rules.blind.rule.value,
            "max_rounds": self.rules.blind.max_rounds,
            "rounds": items,
            "settled_amount_fen": settled.amount_fen if settled else None,
            "can_submit": next_round is not None
            and case.state.value in {s.value for s in _negotiation_states()},
            "round_open_for_me": next_round,
        }

    # --- open offers --------------------------------------------------------------------------

    async def _open_offers(self, s: AsyncSession, case_id: int) -> list[OpenOffer]:
        rows = await repo.events(s, case_id)
        answered = {
            r.payload.get("offer_sequence")
            for r in rows
            if r.kind == EventKind.OFFER_ANSWERED.value
        }
        return [
            OpenOffer(
                r.sequence,
                Side(r.payload["side"]),
                int(r.payload["amount_fen"]),
                r.sequence in answered,
            )
            for r in rows
            if r.kind == EventKind.OFFER_MADE.value
        ]

    async def make_offer(
        self, actor: Actor, case_id: int, *, amount_fen: int, text: str = ""
    ) -> dict[str, Any]:
        """An offer the other side sees; made while the other side's offer is open, it is a
        counter-offer to it."""
        figure = check_figure(amount_fen)

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            offers = await self._open_offers(s, case.id)
            latest = max(offers, key=lambda o: o.sequence) if offers else None
            side = SIDE_OF_ROLE.get(actor.role)
            reply_to = (
                latest.sequence
                if latest and not latest.answered and latest.side is not side
                else None
            )
            case.make_offer(actor, now, amount_fen=figure, text=text, in_reply_to=reply_to)

        await self._change(actor, case_id, apply, notice=lambda c, e: {})
        return await self.offers_view(actor, case_id)

    async def answer_offer(
        self, actor: Actor, case_id: int, *, offer_sequence: int, accept: bool
    ) -> dict[str, Any]:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            authorize(actor, Action.MAKE_OFFER, case.scope())
            side = SIDE_OF_ROLE.get(actor.role)
            if side is None:
                raise Forbidden("Only the two sides answer offers.", code="forbidden")
            offer = offer_to_answer(side, await self._open_offers(s, case.id), offer_sequence)
            case.answer_offer(
                actor,
                now,
                offer_sequence=offer.sequence,
                amount_fen=offer.amount_fen,
                accept=accept,
            )

        await self._change(actor, case_id, apply, notice=lambda c, e: {})
        return await self.offers_view(actor, case_id)

    async def offers_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            rows = await repo.events(s, case_id)
            names = await _names(s, {r.actor_user_id for r in rows if r.actor_user_id})
        answers = {
            r.payload.get("offer_sequence"): r
            for r in rows
            if r.kind == EventKind.OFFER_ANSWERED.value
        }
        items = []
        for r in rows:
            if r.kind != EventKind.OFFER_MADE.value:
                continue
            answer = answers.get(r.sequence)
            items.append(
                {
                    "sequence": r.sequence,
                    "side": r.payload.get("side"),
                    "by": names.get(r.actor_user_id or 0, ""),
                    "amount_fen": r.payload.get("amount_fen"),
                    "text": r.payload.get("text", ""),
                    "in_reply_to": r.payload.get("in_reply_to"),
                    "at": _iso(r.at),
                    "status": "open"
                    if answer is None
                    else ("accepted" if answer.payload.get("accepted") else "declined"),
                }
            )
        return {"state": case.state.value, "items": items}

    async def declare_not_settled(self, actor: Actor, case_id: int, *, reason: str) -> Case:
        """The mediator ends mediation without agreement (then: close, refer)."""

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.declare_not_settled(actor, now, reason=reason)

        case, _ = await self._change(
            actor, case_id, apply, notice=lambda c, e: {"params": {"reason": reason}}
        )
        return case

    # --- the closing report ------------------------------------------------------------------

    async def report(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """The closing report's data as all parties may see it (any reader of the case)."""
        from odr.services.reports import gather

        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            data = await gather(s, case_id, self.zone())
            data["language"] = case_language(await s.get(User, case.consumer_id))
        return data

    async def report_pdf(self, actor: Actor, case_id: int, lang: str | None = None) -> bytes:
        from odr.services.reports import report_pdf

        data = await self.report(actor, case_id)
        return await asyncio.to_thread(report_pdf, data, lang or data["language"], self.zone())

    async def close_case(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """Close a case that reached its end and enter its closing report (in the case's
        language) into the evidence."""
        outcome = await self.cases.act(actor, case_id, "close")
        item = await self.enter_report(case_id)
        return {"state": outcome.case.state.value, "report_sequence": item.sequence}

    async def after_operation(self, case_id: int, operation: str) -> None:
        """What follows a case operation made through the generic case actions: closing
        enters the closing report, whichever way the case was closed."""
        if operation == "close":
            await self.enter_report(case_id)

    async def enter_report(self, case_id: int) -> Item:
        from odr.services.reports import gather, report_pdf

        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            data = await gather(s, case_id, self.zone())
            lang = case_language(await s.get(User, case.consumer_id))
        pdf = await asyncio.to_thread(report_pdf, data, lang, self.zone())
        return await self.evidence.enter_record(
            case_id,
            _chunks(pdf),
            name=f"{case.number}-closing-report.pdf",
            kind="report",
            media_type="application/pdf",
            description=f"closing report; chain head {data['chain_head']}",
        )

    # --- referral and judicial confirmation packages ------------------------------------------

    async def _package(
        self, actor: Actor, case_id: int, out: Path, kind: str, forum: str = ""
    ) -> None:
        import json
        import tempfile
        import zipfile

        from odr.services.reports import gather

        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.EXPORT_EVIDENCE, case.scope())
            data = await gather(s, case_id, self.zone())
            parties = await self._court_parties(s, case)
            agreement = await self._agreement_data(s, case)
            closed_not_settled = data["outcome"]["result"] == CaseState.NOT_SETTLED.value
        if kind == "referral" and not closed_not_settled:
            raise Conflict("Only a case that was not settled is referred.", code="not_referable")
        window = None
        if kind == "confirmation":
            window = await self.confirmation_window(actor, case_id)
            if window is None:
                raise Conflict("No signed agreement.", code="no_signed_agreement")
            if not window["open"]:
                raise Conflict(
                    "The 30-day window to apply for judicial confirmation has closed.",
                    code="confirmation_window_closed",
                )
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "evidence-bundle.zip"
            await self.evidence.export(actor, case_id, bundle)
            letter = await asyncio.to_thread(_package_letter, kind, data, parties, window, forum)
            members: list[tuple[str, bytes]] = [
                (f"{kind}-letter.pdf", letter),
                ("parties.json", json.dumps(parties, ensure_ascii=False, indent=2).encode()),
            ]
            if agreement["agreement"] is not None:
                members.append(
                    (
                        "agreement.pdf",
                        await asyncio.to_thread(_agreement_pdf, case.number, agreement),
                    )
                )

            def write() -> None:
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
                    for name, content in members:
                        z.writestr(name, content)
                    z.write(bundle, "evidence-bundle.zip")

            await asyncio.to_thread(write)

    async def referral_package(self, actor: Actor, case_id: int, out: Path, forum: str) -> None:
        """A case not settled, referred to arbitration or a court: a letter, the parties and
        the evidence bundle (verifiable offline with ``odr verify-bundle``)."""
        if forum not in ("arbitration", "court"):
            raise ValidationFailed(
                "Refer to arbitration or to a court.",
                code="invalid_forum",
                details={"field": "forum"},
            )
        await self._package(actor, case_id, out, "referral", forum)

    async def confirmation_package(self, actor: Actor, case_id: int, out: Path) -> None:
        """What a court needs to confirm the agreement (司法确认) within the window: the signed
        agreement, the parties' details and the evidence bundle."""
        await self._package(actor, case_id, out, "confirmation")

    async def _court_parties(self, s: AsyncSession, case: Case) -> dict[str, Any]:
        from odr.storage.models import Membership

        consumer = await s.get(User, case.consumer_id)
        insurer = await s.get(Organisation, case.insurer_id)
        mediator = await s.get(User, case.mediator_id) if case.mediator_id else None
        centre = await s.get(Organisation, case.centre_id) if case.centre_id else None
        badge = None
        if mediator is not None:
            badge = (
                await s.execute(
                    select(Membership.badge_number).where(
                        Membership.user_id == mediator.id, Membership.ended_on.is_(None)
                    )
                )
            ).scalar_one_or_none()
        return {
            "case_number": case.number,
            "applicant": {
                "kind": "natural_person",
                "name": consumer.display_name if consumer else "",
                "mobile": consumer.mobile if consumer else None,
                "email": consumer.email if consumer else None,
                "birth_date": _iso(consumer.birth_date) if consumer else None,
            },
            "respondent": {
                "kind": "insurance_institution",
                "name": insurer.name if insurer else "",
            },
            "mediator": {
                "name": mediator.display_name if mediator else "",
                "badge_number": badge,
                "organisation": centre.name if centre else "",
            },
            "policy_numbers": list(case.policy_numbers),
        }

    # --- satisfaction -------------------------------------------------------------------------

    async def rate(self, actor: Actor, case_id: int, *, score: int, comment: str = "") -> None:
        """A party rates the service once the case is closed (1-5 and a comment); rating again
        replaces the earlier rating."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValidationFailed(
                "Choose 1 to 5 stars.", code="invalid_score", details={"field": "score"}
            )
        text = comment.strip()
        if len(text) > 2000:
            raise ValidationFailed(
                "The comment may have at most 2000 characters.",
                code="comment_too_long",
                details={"field": "comment"},
            )
        now = self.now()
        async with UnitOfWork(self.sessionmaker) as uow:
            s = uow.session
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.RATE_SERVICE, case.scope())
            if case.state is not CaseState.CLOSED:
                raise Conflict(
                    "The service can be rated once the case is closed.", code="case_not_closed"
                )
            existing = await s.get(SatisfactionRating, (case_id, actor.user_id))
            if existing is None:
                s.add(
                    SatisfactionRating(
                        case_id=case_id,
                        user_id=actor.user_id,
                        role=actor.role.value,
                        score=score,
                        comment=text,
                        rated_at=now,
                    )
                )
            else:
                existing.score, existing.comment, existing.rated_at = score, text, now
            await uow.commit()

    async def my_rating(self, actor: Actor, case_id: int) -> dict[str, Any] | None:
        async with self.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            row = await s.get(SatisfactionRating, (case_id, actor.user_id or 0))
        if row is None:
            return None
        return {"score": row.score, "comment": row.comment, "rated_at": _iso(row.rated_at)}


async def satisfaction_summary(
    s: AsyncSession, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The ratings of a period for the dashboard: count, mean and how many of each score."""
    stmt = select(SatisfactionRating.score, func.count()).group_by(SatisfactionRating.score)
    if start is not None:
        stmt = stmt.where(SatisfactionRating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(SatisfactionRating.rated_at < end)
    counts = {int(score): int(n) for score, n in (await s.execute(stmt)).all()}
    total = sum(counts.values())
    mean = sum(k * v for k, v in counts.items()) / total if total else None
    return {
        "ratings": total,
        "mean_score": None if mean is None else round(mean, 2),
        "by_score": {str(k): counts.get(k, 0) for k in range(1, 6)},
    }


def _negotiation_states() -> frozenset[CaseState]:
    from odr.domain.cases import NEGOTIATION_STATES

    return NEGOTIATION_STATES


def _blind_notice(case: Case, events: list[CaseEvent]) -> dict[str, Any] | None:
    """Tell both sides when a round ends (never a figure; the amount only when settled)."""
    if not events or events[-1].kind is not EventKind.BLIND_ROUND_ENDED:
        return None
    return {"to": "all"}


async def _names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(User.id, User.display_name).where(User.id.in_(ids))
    return {i: n for i, n in (await s.execute(stmt)).all()}


async def _chunks(data: bytes) -> Any:
    yield data


# --- the agreement as a PDF --------------------------------------------------------------------

_PDF_LABELS = {
    "zh-CN": {
        "title": "调解协议书",
        "subtitle": "案件 {number} · 文本 SHA-256 {sha}",
        "signatures": "签署记录",
        "party": "签署方",
        "name": "签署人",
        "at": "时间",
        "method": "验证方式",
        "hash": "所签文本 SHA-256",
        "none": "尚无签署。",
        "consumer": "消费者",
        "insurer": "保险机构",
        "mediator": "调解员（确认）",
        "password": "密码",
        "password+totp": "密码 + 动态验证码",
        "amount": "金额：{amount} 元；履行期限：{due}",
    },
    "en": {
        "title": "Mediation agreement",
        "subtitle": "Case {number} · text SHA-256 {sha}",
        "signatures": "Signatures",
        "party": "Party",
        "name": "Signed by",
        "at": "Time",
        "method": "Method",
        "hash": "SHA-256 of the text signed",
        "none": "Not signed yet.",
        "consumer": "Consumer",
        "insurer": "Insurer",
        "mediator": "Mediator (countersignature)",
        "password": "Password",
        "password+totp": "Password + one-time code",
        "amount": "Amount: CNY {amount}; due by {due}",
    },
}


def _agreement_pdf(number: str, data: dict[str, Any]) -> bytes:
    agreement = data["agreement"]
    lang = agreement.get("language") or "zh-CN"
    t = _PDF_LABELS.get(lang, _PDF_LABELS["zh-CN"])
    lines = agreement["text"].split("\n")
    body = "\n".join(lines[1:])  # the first line is the title
    rows = [[t["party"], t["name"], t["at"], t["method"], t["hash"]]]
    for sig in data["signatures"]:
        rows.append(
            [
                t.get(sig["party"], sig["party"]),
                sig["name"],
                sig["at"] or "",
                t.get(sig["method"], sig["method"]),
                sig["sha256"] or "",
            ]
        )
    blocks: list[Any] = [Text(body)]
    if agreement.get("amount_fen"):
        blocks.append(
            Text(t["amount"].format(amount=yuan(agreement["amount_fen"]), due=agreement["due_on"]))
        )
    blocks.append(Heading(t["signatures"]))
    blocks.append(
        Table(rows, widths=(0.16, 0.14, 0.2, 0.14, 0.36)) if len(rows) > 1 else Text(t["none"])
    )
    return render_pdf(
        t["title"],
        blocks,
        subtitle=t["subtitle"].format(number=number, sha=agreement["sha256"]),
        footer=f"{number} · SHA-256 {agreement['sha256']}",
    )


_LETTER: dict[str, dict[str, Any]] = {
    "referral": {
        "title": "调解不成转介函 / Referral after mediation",
        "body": "案件 {number} 经调解未能达成协议（原因：{reason}）。现转介至{forum}处理，"
        "随附当事人信息及证据包（evidence-bundle.zip，可用 odr verify-bundle 离线校验）。\n"
        "Case {number} was not settled in mediation (reason: {reason}). It is referred to "
        "{forum_en}, with the parties' details and the evidence bundle (evidence-bundle.zip, "
        "verifiable offline with odr verify-bundle).",
        "arbitration": ("仲裁机构", "arbitration"),
        "court": ("人民法院", "a court"),
    },
    "confirmation": {
        "title": "司法确认申请材料 / Judicial confirmation package",
        "body": "案件 {number} 的调解协议已于 {effective} 生效。各方可于 {ends} 前（三十日内）"
        "共同向有管辖权的人民法院申请司法确认。随附：调解协议（agreement.pdf）、当事人信息"
        "（parties.json）、证据包（evidence-bundle.zip）。协议文本 SHA-256：{sha}\n"
        "The agreement of case {number} took effect on {effective}. The parties may jointly "
        "apply to the competent people's court for judicial confirmation until {ends}. "
        "Enclosed: the agreement, the parties' details and the evidence bundle. Agreement "
        "text SHA-256: {sha}",
    },
}


def _package_letter(
    kind: str,
    data: dict[str, Any],
    parties: dict[str, Any],
    window: dict[str, Any] | None,
    forum: str,
) -> bytes:
    t = _LETTER[kind]
    number = data["case"]["number"]
    o = data["outcome"]
    if kind == "referral":
        zh, en = t[forum]
        body = t["body"].format(
            number=number, reason=o["not_settled_reason"] or "", forum=zh, forum_en=en
        )
    else:
        assert window is not None
        body = t["body"].format(
            number=number,
            effective=window["effective_on"],
            ends=window["ends_on"],
            sha=o["agreement_sha256"],
        )
    rows = [
        ["申请人 Applicant", parties["applicant"]["name"], parties["applicant"]["mobile"] or ""],
        ["被申请人 Respondent", parties["respondent"]["name"], ""],
        [
            "调解员 Mediator",
            parties["mediator"]["name"],
            f"{parties['mediator']['organisation']} {parties['mediator']['badge_number'] or ''}",
        ],
    ]
    return render_pdf(
        t["title"],
        [Text(body), Heading("当事人 Parties"), Table(rows, header=False, widths=(0.3, 0.3, 0.4))],
        subtitle=number,
        footer=f"{number} · chain head {data['chain_head']}",
    )
