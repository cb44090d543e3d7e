"""The end of a case: mediation ended without agreement, closing (any way) with the closing
report (结案报告) entered as evidence, the report as data and as a PDF, and the packages a
case leaves with: the referral of a case not settled to arbitration or a court, and the
judicial-confirmation (司法确认) package of a settled one within its window."""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize
from odr.domain.cases import Case, CaseState, EventKind
from odr.domain.errors import Conflict, ValidationFailed
from odr.services import outcome_documents as documents
from odr.services import reports
from odr.services.agreements import AgreementService, agreement_data
from odr.services.case_changes import CaseChanges, case_language, iso, one_chunk
from odr.services.evidence import EvidenceService, Item
from odr.storage import cases as repo
from odr.storage.models import Membership, Organisation, User


@dataclass
class ClosingService:
    changes: CaseChanges
    evidence: EvidenceService
    agreements: AgreementService

    async def declare_not_settled(self, actor: Actor, case_id: int, *, reason: str) -> Case:
        """The mediator ends mediation without agreement (then: close, refer)."""

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            case.declare_not_settled(actor, now, reason=reason)

        case, _ = await self.changes.change(
            actor, case_id, apply, notice=lambda c, e: {"params": {"reason": reason}}
        )
        return case

    # --- the closing report ------------------------------------------------------------------

    async def report(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """The closing report's data as all parties may see it (any reader of the case)."""
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            data = await reports.gather(s, case_id, self.changes.zone())
            data["language"] = case_language(await s.get(User, case.consumer_id))
        return data

    async def report_pdf(self, actor: Actor, case_id: int, lang: str | None = None) -> bytes:
        data = await self.report(actor, case_id)
        return await asyncio.to_thread(
            reports.report_pdf, data, lang or data["language"], self.changes.zone()
        )

    async def close_case(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """Close a case that reached its end and enter its closing report (in the case's
        language) into the evidence."""
        result = await self.changes.cases.act(actor, case_id, "close")
        # the reaction to the close (`odr.services.case_reactions`) entered the report, or,
        # where it is not subscribed, it is entered here
        sequence = await self.report_sequence(case_id)
        if sequence is None:
            sequence = (await self.enter_report(case_id)).sequence
        return {"state": result.case.state.value, "report_sequence": sequence}

    async def report_sequence(self, case_id: int) -> int | None:
        """The evidence sequence of the closing report entered since the case was closed."""
        async with self.changes.sessionmaker() as s:
            rows = await repo.events(s, case_id)
        closed = max((r.sequence for r in rows if r.kind == EventKind.CLOSED.value), default=0)
        reports_since = (
            r.sequence
            for r in rows
            if r.sequence > closed
            and r.kind == EventKind.EVIDENCE_ADDED.value
            and r.payload.get("kind") == "report"
        )
        return next(reports_since, None) if closed else None

    async def after_operation(self, case_id: int, operation: str) -> None:
        """What follows a case operation made through the generic case actions: closing
        enters the closing report, whichever way the case was closed."""
        if operation == "close":
            await self.enter_report(case_id)

    async def enter_report(self, case_id: int) -> Item:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            data = await reports.gather(s, case_id, self.changes.zone())
            lang = case_language(await s.get(User, case.consumer_id))
        pdf = await asyncio.to_thread(reports.report_pdf, data, lang, self.changes.zone())
        return await self.evidence.enter_record(
            case_id,
            one_chunk(pdf),
            name=f"{case.number}-closing-report.pdf",
            kind="report",
            media_type="application/pdf",
            description=data["chain_head"] or "",
        )

    # --- referral and judicial confirmation packages ------------------------------------------

    async def _package(
        self, actor: Actor, case_id: int, out: Path, kind: str, forum: str = ""
    ) -> None:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.EXPORT_EVIDENCE, case.scope())
            data = await reports.gather(s, case_id, self.changes.zone())
            parties = await self._court_parties(s, case)
            agreement = await agreement_data(s, case)
            closed_not_settled = data["outcome"]["result"] == CaseState.NOT_SETTLED.value
        if kind == "referral" and not closed_not_settled:
            raise Conflict("Only a case that was not settled is referred.", code="not_referable")
        window = None
        if kind == "confirmation":
            window = await self.agreements.confirmation_window(actor, case_id)
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
            letter = await asyncio.to_thread(
                documents.package_letter, kind, data, parties, window, forum, self.changes.zone()
            )
            members: list[tuple[str, bytes]] = [
                (f"{kind}-letter.pdf", letter),
                ("parties.json", json.dumps(parties, ensure_ascii=False, indent=2).encode()),
            ]
            if agreement["agreement"] is not None:
                members.append(
                    (
                        "agreement.pdf",
                        await asyncio.to_thread(
                            documents.agreement_pdf, case.number, agreement, self.changes.zone()
                        ),
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
                "birth_date": iso(consumer.birth_date) if consumer else None,
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
