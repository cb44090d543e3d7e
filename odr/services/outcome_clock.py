"""The clock of settled cases, driven by the worker: an unpaid agreement past its due date is
reminded, then escalated; the judicial-confirmation window is reminded before it closes —
each alert exactly once: the case's version check and the alert's primary key let one of
several concurrent workers record it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor
from odr.domain.agreements import confirmation_action, payment_action, window_ends_on
from odr.domain.cases import Case, CaseState, EventKind
from odr.domain.errors import Conflict
from odr.domain.sides import Party
from odr.services.agreements import effective_at
from odr.services.case_changes import CaseChanges, OutcomeRules
from odr.storage import cases as repo
from odr.storage.models import CaseEventRow, CaseRow, OutcomeAlert

log = logging.getLogger("odr.outcomes")


@dataclass
class OutcomeClock:
    changes: CaseChanges
    rules: OutcomeRules = field(default_factory=OutcomeRules)

    async def run_clock(self, now: datetime | None = None) -> int:
        """Record every overdue-payment reminder and escalation and every reminder of the
        judicial-confirmation window that is due, each exactly once."""
        now = now or self.changes.now()
        horizon = now - timedelta(days=self.rules.confirmation.window_days + 2)
        async with self.changes.sessionmaker() as s:
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
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            fired = await self._fired(s, case_id)
        if case.agreement is None or case.agreement.due_on is None:
            return 0
        zone = self.changes.zone()
        due = payment_action(case.agreement.due_on, now, zone, self.rules.fulfilment, fired)
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
        await self.changes.change(
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
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            if set(case.signatures) != set(Party) or case.agreement is None:
                return 0
            signed_at = await effective_at(s, case_id)
            fired = await self._fired(s, case_id)
        if signed_at is None:
            return 0
        zone = self.changes.zone()
        ends_on = window_ends_on(signed_at, zone, self.rules.confirmation)
        due = confirmation_action(ends_on, now, zone, self.rules.confirmation, fired)
        if due is None:
            return 0
        system = Actor.system()

        async def apply(s: AsyncSession, case: Case, at: datetime) -> None:
            case.remind_confirmation(system, at, key=due.key, window_ends_on=ends_on)
            s.add(OutcomeAlert(case_id=case.id, key=due.key, fired_at=at))

        await self.changes.change(
            system,
            case_id,
            apply,
            notice=lambda c, e: {"params": {"due": ends_on.isoformat()}},
            now=now,
        )
        return 1
