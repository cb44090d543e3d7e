"""Early warnings for supervisors: clusters of similar complaints against one insurer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor, Role
from odr.domain.authz import Action, authorize
from odr.domain.similarity import ClusterItem, detect_clusters, signature_from_bytes
from odr.domain.triage import TriageRules
from odr.services import notifications as notify
from odr.storage.models import CaseRow, ComplaintFingerprint, EarlyWarningRow, Organisation


async def detect_early_warnings(
    sessionmaker: async_sessionmaker[AsyncSession], rules: TriageRules, now: datetime
) -> int:
    """Find clusters among the complaints of the window; record each once (a growing cluster
    updates its warning) and tell supervisors of new ones. Returns how many are new."""
    params = rules.clusters
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                select(
                    CaseRow.id,
                    CaseRow.insurer_id,
                    CaseRow.category,
                    CaseRow.received_at,
                    ComplaintFingerprint.signature,
                )
                .join(ComplaintFingerprint, ComplaintFingerprint.case_id == CaseRow.id)
                .where(CaseRow.received_at >= now - params.window)
            )
        ).all()
        items = [
            ClusterItem(cid, str(insurer), category, received, signature_from_bytes(sig))
            for cid, insurer, category, received, sig in rows
        ]
        found = detect_clusters(items, now=now, params=params)
        new = 0
        for warning in found:
            key = f"cluster:{warning.insurer}:{warning.product}:{warning.item_ids[0]}"
            ids = [int(i) for i in warning.item_ids]
            existing = (
                await s.execute(select(EarlyWarningRow).where(EarlyWarningRow.key == key))
            ).scalar_one_or_none()
            if existing is not None:
                if set(ids) - set(existing.case_ids):
                    existing.case_ids = sorted(set(existing.case_ids) | set(ids))
                continue
            s.add(
                EarlyWarningRow(
                    key=key,
                    kind="cluster",
                    insurer_id=int(warning.insurer),
                    category=warning.product,
                    case_ids=ids,
                    created_at=now,
                )
            )
            # supervisors and the insurer's own complaint staff: the complaints are all
            # against that insurer, so its staff may read every one of them
            supervisors = await notify.users_with_role(s, Role.SUPERVISOR.value)
            staff = await notify.staff_of(s, int(warning.insurer), Role.INSURER_REP.value)
            insurer = await s.get(Organisation, int(warning.insurer))
            numbers = (
                await s.execute(
                    select(CaseRow.number).where(CaseRow.id.in_(ids)).order_by(CaseRow.id)
                )
            ).scalars()
            notify.notify(
                s,
                [*supervisors, *staff],
                kind="cluster_warning",
                key=key,
                case_id=None,
                params={
                    "insurer": insurer.name if insurer else "",
                    "count": len(ids),
                    "category": warning.product,
                    "numbers": ", ".join(numbers),
                },
                now=now,
            )
            new += 1
        await s.commit()
    return new


async def list_warnings(s: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    authorize(actor, Action.VIEW_DASHBOARD)
    rows = list(
        (
            await s.execute(
                select(EarlyWarningRow).order_by(EarlyWarningRow.created_at.desc()).limit(200)
            )
        ).scalars()
    )
    ids = {i for r in rows for i in r.case_ids}
    numbers = (
        dict((await s.execute(select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids)))).all())
        if ids
        else {}
    )
    names = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "insurer": {"id": r.insurer_id, "name": names.get(r.insurer_id, "")},
            "category": r.category,
            "created_at": r.created_at.isoformat(),
            "cases": [{"id": i, "number": numbers.get(i)} for i in r.case_ids],
            "acknowledged": r.acknowledged_at is not None,
        }
        for r in rows
    ]


class Warnings:
    """The early warnings as supervisors read them, in a session of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def list_warnings(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessionmaker() as s:
            return await list_warnings(s, actor)
