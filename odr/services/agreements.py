"""The agreement: drafted by the mediator from the template, signed by each party after
re-authentication (a signature records signer, time, method and the hash of the exact text;
any edit voids them all), countersigned by the mediator, then entered as evidence with a PDF;
and the judicial-confirmation window it opens."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor, Role, requires_second_factor
from odr.domain.agreements import (
    AgreementDraft,
    AgreementParties,
    ConfirmationRules,
    window_ends_on,
)
from odr.domain.authz import Action, authorize
from odr.domain.cases import Case, CaseState, EventKind
from odr.domain.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from odr.domain.sides import Party
from odr.services import outcome_documents as documents
from odr.services.account_codes import AccountCodes, SigningCode
from odr.services.accounts import Logins
from odr.services.agreement_text import render_agreement
from odr.services.case_changes import (
    CaseChanges,
    case_language,
    display_names,
    iso,
    one_chunk,
    tell_parties,
)
from odr.services.codes import CodeSent
from odr.services.evidence import EvidenceService, Item
from odr.storage import cases as repo
from odr.storage.db import UnitOfWork
from odr.storage.models import AgreementDraftRow, Organisation, User


async def agreement_data(s: AsyncSession, case: Case) -> dict[str, Any]:
    """The agreement of ``case`` with the signatures of its current text."""
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
            "due_on": iso(a.due_on),
            "drafted_at": iso(a.at),
            "facts": draft.facts if draft else None,
            "terms": draft.terms if draft else None,
            "confidential": draft.confidential if draft else None,
            "language": draft.language if draft else "zh-CN",
        },
        "signatures": await _signatures(s, case),
        "all_signed": set(case.signatures) == set(Party),
    }


async def _signatures(s: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """The signatures of the current text: those after its last drafting."""
    rows = await repo.events(s, case.id)
    drafted = max(
        (r.sequence for r in rows if r.kind == EventKind.AGREEMENT_PROPOSED.value), default=0
    )
    signed = [
        r for r in rows if r.kind == EventKind.AGREEMENT_SIGNED.value and r.sequence > drafted
    ]
    names = await display_names(s, {r.actor_user_id for r in signed if r.actor_user_id})
    return [
        {
            "party": r.payload.get("party"),
            "user_id": r.actor_user_id,
            "name": names.get(r.actor_user_id or 0, ""),
            "at": iso(r.at),
            "method": r.payload.get("method", ""),
            "sha256": r.payload.get("sha256"),
            "sequence": r.sequence,
        }
        for r in signed
    ]


async def effective_at(s: AsyncSession, case_id: int) -> datetime | None:
    """When the last signature made the agreement effective."""
    for row in reversed(await repo.events(s, case_id)):
        if row.kind == EventKind.AGREEMENT_SIGNED.value and row.payload.get("all_signed"):
            return row.at
    return None


@dataclass
class AgreementService:
    changes: CaseChanges
    evidence: EvidenceService
    logins: Logins | None  # None in a worker: it signs nothing
    rules: ConfirmationRules = field(default_factory=ConfirmationRules)
    #: signing by a one-time SMS code instead of the password (None: password only)
    signing_codes: AccountCodes | None = None

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
        void_signatures: bool = True,
    ) -> dict[str, Any]:
        """The mediator drafts (or redrafts) the agreement from the template; a changed text
        voids every signature (the case's rule). With ``void_signatures`` false (a page whose
        box was not ticked) a draft that would void a signature is refused,
        ``signatures_not_voided``."""
        draft = AgreementDraft(facts, terms, amount_fen, due_on, confidential)

        async def apply(s: AsyncSession, case: Case, now: datetime) -> str:
            signed = bool(case.signatures)
            lang = case_language(await s.get(User, case.consumer_id))
            text = render_agreement(await self._parties(s, case), draft, lang)
            case.propose_agreement(
                actor, now, terms=text, amount_fen=draft.amount_fen, due_on=draft.due_on
            )
            if signed and not void_signatures:  # asked after the case's own checks
                raise ValidationFailed(
                    "Saving a change removes every signature; confirm it.",
                    code="signatures_not_voided",
                    details={"field": "confirm"},
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

        await self.changes.change(actor, case_id, apply, notice=tell_parties)
        return await self.agreement_view(actor, case_id)

    async def agreement_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            return await agreement_data(s, case)

    async def reauthenticate(
        self,
        actor: Actor,
        password: str,
        otp: str | None,
        today: date,
        *,
        code: str | None = None,
        bound: SigningCode | None = None,
    ) -> str:
        """Prove again who is signing: the password or a one-time SMS code to the verified
        mobile (``code``, for the document ``bound``), and the second factor for staff (and for
        anyone who set one up); the method, for the signature. `Unauthenticated` otherwise."""
        if actor.user_id is None or self.logins is None:
            raise Forbidden("Only people sign.", code="forbidden")
        if code and not password and self.signing_codes is not None and bound is not None:
            return await self._by_code(actor, actor.user_id, code, otp, today, bound)
        if not password:
            raise Unauthenticated(
                "Enter your password again to sign.", code="reauthentication_required"
            )
        async with UnitOfWork(self.changes.sessionmaker) as uow:
            user = await uow.session.get(User, actor.user_id)
            if user is None or not user.active:
                raise Unauthenticated("Please log in again.", code="unauthenticated")
            login = user.email or user.mobile or ""
            info = await self.logins.login(uow, login, password, otp, today)
        if info.id != actor.user_id:
            raise Unauthenticated("Please log in again.", code="unauthenticated")
        strong = info.has_second_factor or requires_second_factor(info.role)
        return "password+totp" if strong else "password"

    async def _by_code(
        self,
        actor: Actor,
        user_id: int,
        code: str,
        otp: str | None,
        today: date,
        bound: SigningCode,
    ) -> str:
        assert self.signing_codes is not None and self.logins is not None
        async with UnitOfWork(self.changes.sessionmaker) as uow:
            user = await uow.session.get(User, user_id)
            if user is None or not user.active:
                raise Unauthenticated("Please log in again.", code="unauthenticated")
            strong = user.totp_secret is not None or requires_second_factor(Role(user.role))
        if strong:  # staff: the authenticator code first, before the SMS code is spent
            async with UnitOfWork(self.changes.sessionmaker) as uow:
                await self.logins.check_second_factor(uow, user_id, otp, today)
        await self.signing_codes.check_signing_code(user_id, bound, code)
        return "sms_code+totp" if strong else "sms_code"

    async def send_signing_code(
        self, actor: Actor, case_id: int, *, sha256: str, client: str | None = None
    ) -> CodeSent:
        """A one-time code by SMS to sign the text whose hash the signer read: the rules of
        signing are checked first (a stranger learns nothing, a stale hash or a second
        signature is refused before anything is sent)."""
        if self.signing_codes is None:
            raise Forbidden("Signing by SMS code is not available.", code="forbidden")
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
        copy.deepcopy(case).sign_agreement(actor, self.changes.now(), agreement_sha256=sha256)
        return await self.signing_codes.send_signing_code(
            actor.user_id, SigningCode(case_id, sha256), client=client
        )

    async def sign_agreement(
        self,
        actor: Actor,
        case_id: int,
        *,
        sha256: str,
        password: str,
        otp: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """Sign the text whose hash the signer read, after re-authentication. When the last
        party signs (the mediator's countersignature among them) the case is settled and the
        signed agreement enters the evidence as a PDF."""
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
        # the rules first, on a copy (a stranger learns nothing, a stale hash or a second
        # signature is refused before a one-time code is spent)
        copy.deepcopy(case).sign_agreement(actor, self.changes.now(), agreement_sha256=sha256)
        method = await self.reauthenticate(
            actor,
            password,
            otp,
            self.changes.now().date(),
            code=code,
            bound=SigningCode(case_id, sha256),
        )

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.sign_agreement(actor, now, agreement_sha256=sha256, method=method)

        case, _ = await self.changes.change(actor, case_id, apply, notice=tell_parties)
        item = None
        if case.state is CaseState.SETTLED:
            item = await self.enter_agreement(case_id)
        view = await self.agreement_view(actor, case_id)
        view["evidence_sequence"] = item.sequence if item else None
        return view

    async def agreement_pdf(self, actor: Actor, case_id: int) -> bytes:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            data = await agreement_data(s, case)
        if data["agreement"] is None:
            raise Conflict("No agreement has been drafted.", code="no_agreement")
        return await asyncio.to_thread(
            documents.agreement_pdf, case.number, data, self.changes.zone()
        )

    async def enter_agreement(self, case_id: int) -> Item:
        """The signed agreement as evidence (a PDF with every signature and the text's hash)."""
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            data = await agreement_data(s, case)
        pdf = await asyncio.to_thread(
            documents.agreement_pdf, case.number, data, self.changes.zone()
        )
        return await self.evidence.enter_record(
            case_id,
            one_chunk(pdf),
            name=f"{case.number}-agreement.pdf",
            kind="agreement",
            media_type="application/pdf",
            description=data["agreement"]["sha256"],
        )

    async def confirmation_window(self, actor: Actor, case_id: int) -> dict[str, Any] | None:
        """The window to apply for judicial confirmation, once every party signed."""
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            signed_at = await effective_at(s, case_id)
        if signed_at is None or set(case.signatures) != set(Party):
            return None
        zone = self.changes.zone()
        ends_on = window_ends_on(signed_at, zone, self.rules)
        today = self.changes.now().astimezone(zone).date()
        return {
            "effective_on": iso(signed_at.astimezone(zone).date()),
            "ends_on": iso(ends_on),
            "days_left": max(0, (ends_on - today).days),
            "open": today <= ends_on,
        }
