"""The closing report (结案报告): gathered from the case's data as all parties may see it —
parties, timeline, deadlines met or missed, evidence with hashes, hearings with durations and
recordings, outcome and agreement hash — and laid out as a PDF in a language.

`gather` reads; `report_blocks` lays out (pure); `ClosingService` enters the PDF as evidence.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.case_names import CATEGORIES, EVENTS, EVIDENCE_KINDS, STATES
from odr.domain.case_snapshot import restore
from odr.domain.cases import EventKind
from odr.domain.money import yuan
from odr.i18n import NC_, translate, translate_in
from odr.storage import cases as repo
from odr.storage.models import (
    CaseRow,
    HearingRecording,
    HearingRow,
    Organisation,
    User,
)
from odr.times import format_stored

#: Event kinds that are not part of the public story (each side's own secrets stay out).
_PRIVATE_KINDS = {EventKind.BLIND_OFFER_SUBMITTED.value}


def _iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def gather(s: AsyncSession, case_id: int, zone: ZoneInfo) -> dict[str, Any]:
    """Everything the report shows, as plain data (JSON-ready)."""
    row = await repo.row_of(s, case_id)
    case = restore(row.snapshot)
    events = await repo.events(s, case_id)
    users = {
        u.id: u
        for u in (
            await s.execute(
                select(User).where(
                    User.id.in_(
                        {e.actor_user_id for e in events if e.actor_user_id}
                        | {case.consumer_id, case.mediator_id or 0}
                    )
                )
            )
        ).scalars()
    }
    orgs = {
        o.id: o.name
        for o in (
            await s.execute(
                select(Organisation).where(
                    Organisation.id.in_({case.insurer_id, case.centre_id or 0})
                )
            )
        ).scalars()
    }

    def name(uid: int | None) -> str:
        user = users.get(uid or 0)
        return user.display_name if user else ""

    hidden_evidence = {
        e.sequence
        for e in events
        if e.kind == EventKind.EVIDENCE_ADDED.value
        and e.payload.get("visibility") == "mediator_only"
    }
    withdrawn = {
        e.payload.get("sequence") for e in events if e.kind == EventKind.EVIDENCE_WITHDRAWN.value
    }
    timeline = [
        {
            "sequence": e.sequence,
            "at": _iso(e.at),
            "kind": e.kind,
            "actor_role": e.actor_role,
            "actor": name(e.actor_user_id),
            "to_state": e.to_state,
        }
        for e in events
        if e.sequence not in hidden_evidence
        and e.kind not in _PRIVATE_KINDS
        and not (
            e.kind == EventKind.EVIDENCE_WITHDRAWN.value
            and e.payload.get("sequence") in hidden_evidence
        )
    ]
    evidence = [
        {
            "sequence": e.sequence,
            "name": e.payload.get("name"),
            "kind": e.payload.get("kind"),
            "sha256": e.payload.get("sha256"),
            "size": e.payload.get("size"),
            "submitted_at": _iso(e.at),
            "submitted_by": e.actor_role,
            "withdrawn": e.sequence in withdrawn,
        }
        for e in events
        if e.kind == EventKind.EVIDENCE_ADDED.value and e.sequence not in hidden_evidence
    ]
    hearings = []
    for h in (
        await s.execute(
            select(HearingRow).where(HearingRow.case_id == case_id).order_by(HearingRow.id)
        )
    ).scalars():
        recordings = (
            await s.execute(
                select(HearingRecording)
                .where(HearingRecording.hearing_id == h.id)
                .order_by(HearingRecording.started_at)
            )
        ).scalars()
        minutes = (
            round((h.ended_at - h.started_at).total_seconds() / 60)
            if h.started_at and h.ended_at
            else None
        )
        hearings.append(
            {
                "id": h.id,
                "state": h.state,
                "scheduled_for": _iso(h.starts_at),
                "started_at": _iso(h.started_at),
                "ended_at": _iso(h.ended_at),
                "duration_minutes": minutes,
                "recordings": [
                    {
                        "name": PurePosixPath(r.path).name,
                        "sha256": r.sha256,
                        "size": r.size,
                        "seconds": round((r.ended_at - r.started_at).total_seconds()),
                    }
                    for r in recordings
                ],
            }
        )
    chain = await repo.chain(s, case_id)
    return {
        "case": {
            "id": case.id,
            "number": case.number,
            "category": case.category.value,
            "state": case.state.value,
            "received_at": _iso(case.received_at),
            "amount_fen": case.amount_fen,
            "policy_numbers": list(case.policy_numbers),
        },
        "parties": {
            "consumer": name(case.consumer_id),
            "insurer": orgs.get(case.insurer_id, ""),
            "mediator": name(case.mediator_id),
            "centre": orgs.get(case.centre_id or 0, ""),
        },
        "timeline": timeline,
        "deadlines": _deadlines(events, case.agreement.due_on if case.agreement else None, zone),
        "evidence": evidence,
        "hearings": hearings,
        "outcome": _outcome(row, case, events),
        "signatures": _signatures(events, name),
        "chain_head": chain[-1].hash if chain else None,
    }


def _signatures(events: list[Any], name: Any) -> list[dict[str, Any]]:
    """The signatures of the agreement's last text: who, when, and how they proved who they
    were (password, SMS code, with or without the authenticator code)."""
    drafted = max(
        (e.sequence for e in events if e.kind == EventKind.AGREEMENT_PROPOSED.value), default=0
    )
    return [
        {
            "party": e.payload.get("party"),
            "name": name(e.actor_user_id),
            "at": _iso(e.at),
            "method": e.payload.get("method") or "",
        }
        for e in events
        if e.kind == EventKind.AGREEMENT_SIGNED.value and e.sequence > drafted
    ]


def _deadlines(events: list[Any], due_on: date | None, zone: ZoneInfo) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    answer_due = mediation_due = None
    answered_at = mediation_end = None
    answer_escalated = mediation_escalated = False
    paid_at = None
    for e in events:
        p = e.payload
        if e.kind == EventKind.TRIAGED.value:
            answer_due = p.get("answer_due_at")
        elif e.kind in (
            EventKind.ANSWER_REJECTED.value,
            EventKind.MEDIATION_REQUESTED.value,
            EventKind.REFERRED_TO_MEDIATION.value,
        ):
            mediation_due = p.get("mediation_due_at")
        elif e.kind == EventKind.DEADLINE_EXTENDED.value:
            if p.get("stage") == "mediation":
                mediation_due = p.get("due_at")
            else:
                answer_due = p.get("due_at")
        elif e.kind == EventKind.ANSWERED.value:
            answered_at = _iso(e.at)
        elif e.kind == EventKind.ESCALATED.value:
            if p.get("stage") == "mediation":
                mediation_escalated = True
            else:
                answer_escalated = True
        elif (e.kind == EventKind.AGREEMENT_SIGNED.value and p.get("all_signed")) or (
            e.kind == EventKind.NOT_SETTLED.value
        ):
            mediation_end = _iso(e.at)
        elif e.kind in (EventKind.PAYMENT_RECORDED.value, EventKind.PAYMENT_CONFIRMED.value):
            paid_at = paid_at or _iso(e.at)

    def status(due: str | None, done: str | None, escalated: bool) -> str:
        if done is None:
            return "missed" if escalated else "pending"
        return "met" if due is None or done <= due else "missed"

    if answer_due:
        found.append(
            {
                "name": "answer",
                "due": answer_due,
                "done": answered_at,
                "status": status(answer_due, answered_at, answer_escalated),
            }
        )
    if mediation_due:
        found.append(
            {
                "name": "mediation",
                "due": mediation_due,
                "done": mediation_end,
                "status": status(mediation_due, mediation_end, mediation_escalated),
            }
        )
    if due_on is not None:
        paid_day = (
            datetime.fromisoformat(paid_at).astimezone(zone).date().isoformat() if paid_at else None
        )
        found.append(
            {
                "name": "payment",
                "due": due_on.isoformat(),
                "done": paid_at,
                "status": "pending"
                if paid_day is None
                else ("met" if paid_day <= due_on.isoformat() else "missed"),
            }
        )
    return found


def _outcome(row: CaseRow, case: Any, events: list[Any]) -> dict[str, Any]:
    closed = next(
        (e for e in reversed(events) if e.kind == EventKind.CLOSED.value),
        None,
    )
    payments = [
        {
            "amount_fen": e.payload.get("amount_fen"),
            "paid_on": e.payload.get("paid_on"),
            "reference": e.payload.get("reference"),
            "recorded_at": _iso(e.at),
        }
        for e in events
        if e.kind == EventKind.PAYMENT_RECORDED.value
    ]
    settled_blind = next(
        (
            e.payload.get("amount_fen")
            for e in events
            if e.kind == EventKind.BLIND_ROUND_ENDED.value and e.payload.get("overlap")
        ),
        None,
    )
    not_settled = next(
        (e.payload.get("reason") for e in events if e.kind == EventKind.NOT_SETTLED.value), None
    )
    return {
        "result": closed.payload.get("outcome") if closed else case.state.value,
        "closed_at": _iso(closed.at) if closed else None,
        "agreement_sha256": case.agreement.sha256 if case.agreement else None,
        "agreement_amount_fen": case.agreement.amount_fen if case.agreement else None,
        "agreement_due_on": _iso(case.agreement.due_on) if case.agreement else None,
        "payments": payments,
        "payment_confirmed": any(e.kind == EventKind.PAYMENT_CONFIRMED.value for e in events),
        "blind_offer_settlement_fen": settled_blind,
        "not_settled_reason": not_settled,
    }


# --- layout ---------------------------------------------------------------------------------

#: The report's words, in English; the catalogue (context ``closing report``) translates them.
LABELS: dict[str, str] = {
    "title": NC_("closing report", "Closing report"),
    "subtitle": NC_("closing report", "Case %(number)s"),
    "case": NC_("closing report", "1. The case"),
    "number": NC_("closing report", "Case number"),
    "category": NC_("closing report", "Category"),
    "received": NC_("closing report", "Received"),
    "amount": NC_("closing report", "Amount in dispute"),
    "policies": NC_("closing report", "Policies"),
    "parties": NC_("closing report", "2. Parties"),
    "consumer": NC_("closing report", "Consumer"),
    "insurer": NC_("closing report", "Insurer"),
    "mediator": NC_("closing report", "Mediator"),
    "centre": NC_("closing report", "Mediation centre"),
    "timeline": NC_("closing report", "3. Timeline"),
    "seq": NC_("closing report", "No."),
    "at": NC_("closing report", "Time"),
    "event": NC_("closing report", "Event"),
    "by": NC_("closing report", "By"),
    "deadlines": NC_("closing report", "4. Deadlines"),
    "deadline": NC_("closing report", "Deadline"),
    "due": NC_("closing report", "Due"),
    "done": NC_("closing report", "Done"),
    "status": NC_("closing report", "Result"),
    "met": NC_("closing report", "met"),
    "missed": NC_("closing report", "missed"),
    "pending": NC_("closing report", "open"),
    "answer": NC_("closing report", "Insurer's answer"),
    "mediation": NC_("closing report", "Mediation"),
    "payment": NC_("closing report", "Payment under the agreement"),
    "evidence": NC_("closing report", "5. Evidence (SHA-256)"),
    "name": NC_("closing report", "File name"),
    "kind": NC_("closing report", "Kind"),
    "size": NC_("closing report", "Size (bytes)"),
    "hearings": NC_("closing report", "6. Hearings"),
    "hearing": NC_("closing report", "Hearing"),
    "scheduled": NC_("closing report", "Scheduled"),
    "duration": NC_("closing report", "Minutes"),
    "recordings": NC_("closing report", "Recordings"),
    "seconds": NC_("closing report", "Seconds"),
    "none": NC_("closing report", "None"),
    "outcome": NC_("closing report", "7. Outcome"),
    "result": NC_("closing report", "Result"),
    "closed_at": NC_("closing report", "Closed"),
    "agreement_hash": NC_("closing report", "Agreement text SHA-256"),
    "agreement_amount": NC_("closing report", "Amount agreed"),
    "agreement_due": NC_("closing report", "Due by"),
    "payments": NC_("closing report", "Payments"),
    "confirmed": NC_("closing report", "The consumer confirmed the payment"),
    "blind": NC_("closing report", "Blind-offer settlement"),
    "reason": NC_("closing report", "Why no agreement"),
    "chain": NC_("closing report", "Case record fingerprint"),
    "chain_note": NC_(
        "closing report",
        "The case record fingerprint is computed over everything recorded in the case. Any "
        "later change to the record would change it, so the record can be checked against "
        "this report.",
    ),
    "yuan": NC_("closing report", "CNY %(amount)s"),
    "footer": NC_("closing report", "%(number)s · closing report"),
    "yes": NC_("closing report", "yes"),
    "signatures": NC_("closing report", "Signatures of the agreement"),
    "party": NC_("closing report", "Party"),
    "signed_by": NC_("closing report", "Signed by"),
    "method": NC_("closing report", "Proved by"),
    "password": NC_("closing report", "Password"),
    "password+totp": NC_("closing report", "Password + authenticator code"),
    "sms_code": NC_("closing report", "SMS code"),
    "sms_code+totp": NC_("closing report", "SMS code + authenticator code"),
    "party_consumer": NC_("closing report", "Consumer"),
    "party_insurer": NC_("closing report", "Insurer"),
    "party_mediator": NC_("closing report", "Mediator"),
}


#: The catalogue context of `LABELS`.
CONTEXT = "closing report"


def _labels(lang: str) -> dict[str, str]:
    return {key: translate_in(lang, CONTEXT, text) for key, text in LABELS.items()}


def _name(names: dict[str, str], code: str, lang: str) -> str:
    """The name of a code (`odr.case_names`); a code without one as it is."""
    text = names.get(code)
    return code.replace("_", " ") if text is None else translate(lang, text)


def report_blocks(data: dict[str, Any], lang: str, zone: ZoneInfo) -> tuple[str, str, list[Any]]:
    """The report's title, subtitle and blocks (`odr.services.pdf`)."""
    from odr.services.pdf import Heading, Table, Text  # reportlab: loaded for PDFs only

    t = _labels(lang)
    c, p, o = data["case"], data["parties"], data["outcome"]

    def money(fen: int | None) -> str:
        return t["yuan"] % {"amount": yuan(fen)} if fen else t["none"]

    def when(value: str | None) -> str:
        return format_stored(value, lang, zone)

    def due(value: str | None) -> str:
        return format_stored(value, lang, zone, deadline=True)

    blocks: list[Any] = [
        Heading(t["case"]),
        Table(
            [
                [t["number"], c["number"]],
                [t["category"], _name(CATEGORIES, c["category"], lang)],
                [t["received"], when(c["received_at"])],
                [t["amount"], money(c["amount_fen"])],
                [t["policies"], ", ".join(c["policy_numbers"])],
            ],
            header=False,
            widths=(0.3, 0.7),
        ),
        Heading(t["parties"]),
        Table(
            [[t[k], p[k] or t["none"]] for k in ("consumer", "insurer", "mediator", "centre")],
            header=False,
            widths=(0.3, 0.7),
        ),
        Heading(t["timeline"]),
        Table(
            [[t["seq"], t["at"], t["event"], t["by"]]]
            + [
                [
                    str(row),  # rows numbered as shown: what is not shown leaves no gap
                    when(e["at"]),
                    _name(EVENTS, e["kind"], lang),
                    e["actor"],
                ]
                for row, e in enumerate(data["timeline"], start=1)
            ],
            widths=(0.08, 0.22, 0.45, 0.25),
        ),
        Heading(t["deadlines"]),
    ]
    if data["deadlines"]:
        blocks.append(
            Table(
                [[t["deadline"], t["due"], t["done"], t["status"]]]
                + [
                    [
                        t[d["name"]],
                        due(d["due"]),
                        when(d["done"]),
                        t[d["status"]],
                    ]
                    for d in data["deadlines"]
                ],
                widths=(0.3, 0.25, 0.25, 0.2),
            )
        )
    else:
        blocks.append(Text(t["none"]))
    blocks.append(Heading(t["evidence"]))
    if data["evidence"]:
        blocks.append(
            Table(
                [[t["seq"], t["name"], t["kind"], t["size"], "SHA-256"]]
                + [
                    [
                        str(row),
                        i["name"],
                        _name(EVIDENCE_KINDS, i["kind"], lang),
                        str(i["size"]),
                        i["sha256"],
                    ]
                    for row, i in enumerate(data["evidence"], start=1)
                ],
                widths=(0.07, 0.25, 0.13, 0.12, 0.43),
            )
        )
    else:
        blocks.append(Text(t["none"]))
    blocks.append(Heading(t["hearings"]))
    if data["hearings"]:
        rows = [[t["hearing"], t["scheduled"], t["duration"], t["recordings"]]]
        for h in data["hearings"]:
            rows.append(
                [
                    str(h["id"]),
                    when(h["scheduled_for"]),
                    "" if h["duration_minutes"] is None else str(h["duration_minutes"]),
                    str(len(h["recordings"])),
                ]
            )
        blocks.append(Table(rows, widths=(0.1, 0.4, 0.25, 0.25)))
        # one row a segment, so that a long list runs over pages
        segments = [
            [str(h["id"]), r["name"], str(r["seconds"]), r["sha256"]]
            for h in data["hearings"]
            for r in h["recordings"]
        ]
        if segments:
            blocks.append(
                Table(
                    [[t["hearing"], t["recordings"], t["seconds"], "SHA-256"], *segments],
                    widths=(0.1, 0.3, 0.12, 0.48),
                )
            )
    else:
        blocks.append(Text(t["none"]))
    blocks.append(Heading(t["outcome"]))
    outcome_rows = [
        [t["result"], _name(STATES, o["result"], lang)],
        [t["closed_at"], when(o["closed_at"]) or t["none"]],
    ]
    if o["agreement_sha256"]:
        outcome_rows += [
            [t["agreement_hash"], o["agreement_sha256"]],
            [t["agreement_amount"], money(o["agreement_amount_fen"])],
            [t["agreement_due"], due(o["agreement_due_on"]) or t["none"]],
        ]
    for pay in o["payments"]:
        outcome_rows.append(
            [t["payments"], f"{money(pay['amount_fen'])} {when(pay['paid_on'])} {pay['reference']}"]
        )
    if o["payment_confirmed"]:
        outcome_rows.append([t["confirmed"], t["yes"]])
    if o["blind_offer_settlement_fen"]:
        outcome_rows.append([t["blind"], money(o["blind_offer_settlement_fen"])])
    if o["not_settled_reason"]:
        outcome_rows.append([t["reason"], o["not_settled_reason"]])
    outcome_rows.append([t["chain"], data["chain_head"] or t["none"]])
    blocks.append(Table(outcome_rows, header=False, widths=(0.3, 0.7)))
    blocks.append(Text(t["chain_note"]))
    if data.get("signatures"):
        blocks.append(Heading(t["signatures"]))
        blocks.append(
            Table(
                [[t["party"], t["signed_by"], t["at"], t["method"]]]
                + [
                    [
                        t.get(f"party_{sig['party']}", str(sig["party"])),
                        sig["name"],
                        when(sig["at"]),
                        t.get(sig["method"], sig["method"]),
                    ]
                    for sig in data["signatures"]
                ],
                widths=(0.2, 0.25, 0.25, 0.3),
            )
        )
    return t["title"], t["subtitle"] % {"number": c["number"]}, blocks


def report_pdf(data: dict[str, Any], lang: str, zone: ZoneInfo) -> bytes:
    from odr.services.pdf import record_hash, render_pdf  # reportlab: loaded for PDFs only

    title, subtitle, blocks = report_blocks(data, lang, zone)
    footer = translate_in(lang, CONTEXT, LABELS["footer"], number=data["case"]["number"])
    footer = f"{footer} · {record_hash(lang, data['chain_head'])}"
    return render_pdf(title, blocks, lang=lang, subtitle=subtitle, footer=footer)
