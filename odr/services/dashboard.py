"""The supervisor's figures (DESIGN.md §7): counts, deadline compliance, durations, mediation,
fulfilment, early warnings and each insurer's figures against thresholds. Read-only.

Every count is an SQL ``GROUP BY``; Python only handles bounded result sets (one row per group,
or the rows of one small set named below).

The period
----------
`Period` holds whole local days ``[start, end]`` in the configured time zone; queries use the
half-open UTC interval ``[start 00:00 local, (end + 1 day) 00:00 local)``. "In the period"
below always means that interval.

Definitions
-----------
* **Cases** (by category, insurer, channel kind, state): cases *received* in the period, counted
  by their current ``category``, ``insurer_id``, ``channel_kind`` and ``state``.
* **Answer compliance** (``deadlines.answer``): the cohort is every case with an ``answered``
  event in the period or an answer-stage ``escalated`` event (payload ``stage == "answer"``)
  in the period: the cases whose answer deadline was met or missed in the period. A cohort
  case is *in time* when it has an ``answered`` event with ``in_time`` true and no answer-stage
  escalation; every other cohort case is *missed* (escalated, answered late, or both).
  ``share_in_time = in_time / cases`` (null when the cohort is empty).
* **Decision**: the first event of a case that decides the dispute: ``answer_accepted``
  (→ resolved), ``agreement_signed`` that makes the case ``settled`` (all parties signed), or
  ``not_settled``. Withdrawals and closings are not decisions. A case has at most one.
* **Decision compliance** (``deadlines.decision``): cases decided in the period; *in time*
  when no ``escalated`` event and no late answer (``answered`` with ``in_time`` false) came
  before the decision in the case's log.
* **Median hours to first answer**: over cases whose first ``answered`` event is in the period,
  the median of (that event's time − ``received_at``), in hours. **Median hours to decision**:
  the same for the decision event. Null when there is none. PostgreSQL computes the median
  with ``percentile_cont``; SQLite returns the durations column only and Python takes the
  median (fine for the embedded setup's sizes).
* **Mediation success rate**: among cases whose mediation ended in the period (an
  ``agreement_signed`` event to ``settled``, or a ``not_settled`` event), the share settled.
  Every settled case went through mediation; a settled case later ``fulfilled`` counts as
  settled.
* **Fulfilled on time**: cases with a ``payment_confirmed`` event in the period; *on time*
  when the local day of confirmation is no later than the ``due_on`` of the case's last
  ``agreement_proposed`` event. Cases whose agreement named no due date are counted in
  ``without_due_date`` and left out of the share. (Python reads one row per confirmed payment
  of the period.)
* **Satisfaction**: null: consumers cannot rate yet; the key is kept for the charts.
* **Warnings**: ``high_risk``: cases received in the period with ``risk_score`` at or above
  ``high_risk_score`` (default 70), with the 20 riskiest still open; ``duplicate_clusters``:
  early-warning clusters created in the period (and how many are unacknowledged), and cases
  received in the period that triage linked to an earlier one (``duplicates_filed``);
  ``overdue_now``: open cases whose running deadline (``due_at``, set only while a stage's clock
  runs: answer or mediation) is before *now*; ``unpaid_agreements``: cases still ``settled``
  (payment not confirmed) whose agreement's ``due_on`` is before today (local).
* **Per insurer** (every insurer organisation): ``cases`` received in the period,
  ``per_10k_policies = cases × 10,000 / policy_count`` (null without a policy count),
  ``overdue_now``, ``escalations`` (distinct cases with an ``escalated`` event in the period),
  ``escalation_share = escalations / cases`` (null when no cases), the insurer's answer
  compliance, and ``warning`` with ``reasons`` when a figure exceeds its `InsurerThresholds`.

Thresholds are parameters (defaults in `InsurerThresholds`); they belong in configuration
(``Settings.dashboard_thresholds``, from ``ODR_DASHBOARD_*``) once that exists.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from odr.domain.accounts import Actor, OrganisationKind
from odr.domain.authz import Action, authorize
from odr.domain.cases import OPEN_STATES, CaseState, EventKind
from odr.storage.models import CaseEventRow, CaseRow, EarlyWarningRow, Organisation

MAX_PERIOD_DAYS = 3 * 366
HIGH_RISK_SCORE = 70
HIGH_RISK_LIST = 20


@dataclass(frozen=True)
class Period:
    """Whole local days, both ends included."""

    start: date
    end: date

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """The half-open UTC interval ``[start 00:00, end + 1 day 00:00)`` of local time."""
        tz = ZoneInfo(zone)
        lo = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return lo, hi

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class InsurerThresholds:
    """An insurer's figures above these raise a warning (partner evaluation)."""

    max_cases: int = 100  # cases received in the period
    max_per_10k_policies: float = 5.0  # cases per 10,000 policies in the period
    max_overdue: int = 5  # open cases past their running deadline now
    max_escalation_share: float = 0.2  # escalated cases / cases received in the period


DEFAULT = InsurerThresholds()

_E = CaseEventRow


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _answer_escalation(e: Any) -> ColumnElement[bool]:
    return and_(e.kind == EventKind.ESCALATED.value, e.payload["stage"].as_string() == "answer")


def _answered_late(e: Any) -> ColumnElement[bool]:
    return and_(e.kind == EventKind.ANSWERED.value, e.payload["in_time"].as_boolean() == false())


def _is_decision(e: Any) -> ColumnElement[bool]:
    return or_(
        e.kind == EventKind.ANSWER_ACCEPTED.value,
        and_(
            e.kind == EventKind.AGREEMENT_SIGNED.value,
            e.to_state == CaseState.SETTLED.value,
        ),
        e.kind == EventKind.NOT_SETTLED.value,
    )


def _is_answer(e: Any) -> ColumnElement[bool]:
    return and_(e.kind == EventKind.ANSWERED.value)


async def figures(
    s: AsyncSession,
    actor: Actor,
    period: Period,
    *,
    zone: str,
    thresholds: InsurerThresholds = DEFAULT,
    high_risk_score: int = HIGH_RISK_SCORE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The dashboard's figures for ``period`` (see the module's definitions), JSON-ready."""
    authorize(actor, Action.VIEW_DASHBOARD)
    now = now or datetime.now(UTC)
    lo, hi = period.bounds(zone)
    today = now.astimezone(ZoneInfo(zone)).date()
    received = and_(CaseRow.received_at >= lo, CaseRow.received_at < hi)

    insurers: dict[int, tuple[str, int | None]] = {
        i: (n, p)
        for i, n, p in (
            await s.execute(
                select(Organisation.id, Organisation.name, Organisation.policy_count).where(
                    Organisation.kind == OrganisationKind.INSURER.value
                )
            )
        ).all()
    }

    async def grouped(column: Any, *where: Any) -> dict[Any, int]:
        stmt = select(column, func.count()).where(*where).group_by(column)
        return {k: int(n) for k, n in (await s.execute(stmt)).all()}

    by_category = await grouped(CaseRow.category, received)
    by_insurer = await grouped(CaseRow.insurer_id, received)
    by_channel = await grouped(CaseRow.channel_kind, received)
    by_state = await grouped(CaseRow.state, received)
    total = sum(by_state.values())

    open_states = [st.value for st in OPEN_STATES]
    overdue = await grouped(
        CaseRow.insurer_id, CaseRow.state.in_(open_states), CaseRow.due_at < now
    )
    escalated_cases = (
        select(_E.case_id)
        .where(_E.kind == EventKind.ESCALATED.value, _E.at >= lo, _E.at < hi)
        .distinct()
        .subquery()
    )
    escalations = {
        k: int(n)
        for k, n in (
            await s.execute(
                select(CaseRow.insurer_id, func.count())
                .join(escalated_cases, escalated_cases.c.case_id == CaseRow.id)
                .group_by(CaseRow.insurer_id)
            )
        ).all()
    }
    answer_by_insurer = await _answer_compliance(s, lo, hi)
    answer_total = [sum(v[i] for v in answer_by_insurer.values()) for i in (0, 1)]

    answer_hours = await _median_hours(s, _is_answer, lo, hi)
    decision_hours = await _median_hours(s, _is_decision, lo, hi)
    decided, decided_in_time = await _decision_compliance(s, lo, hi)

    mediation = await grouped(
        _E.kind,
        _E.at >= lo,
        _E.at < hi,
        or_(
            and_(
                _E.kind == EventKind.AGREEMENT_SIGNED.value,
                _E.to_state == CaseState.SETTLED.value,
            ),
            _E.kind == EventKind.NOT_SETTLED.value,
        ),
    )
    settled = mediation.get(EventKind.AGREEMENT_SIGNED.value, 0)
    not_settled = mediation.get(EventKind.NOT_SETTLED.value, 0)

    fulfilment = await _fulfilment(s, lo, hi, zone)
    unpaid = await _unpaid_agreements(s, today)

    high_risk_count = (
        await s.execute(select(func.count()).where(received, CaseRow.risk_score >= high_risk_score))
    ).scalar_one()
    high_risk_rows = (
        await s.execute(
            select(
                CaseRow.id, CaseRow.number, CaseRow.insurer_id, CaseRow.risk_score, CaseRow.state
            )
            .where(received, CaseRow.risk_score >= high_risk_score, CaseRow.state.in_(open_states))
            .order_by(CaseRow.risk_score.desc(), CaseRow.id)
            .limit(HIGH_RISK_LIST)
        )
    ).all()
    clusters = (
        await s.execute(
            select(
                func.count(),
                func.count(case((EarlyWarningRow.acknowledged_at.is_(None), 1))),
            ).where(EarlyWarningRow.created_at >= lo, EarlyWarningRow.created_at < hi)
        )
    ).one()
    duplicates_filed = (
        await s.execute(select(func.count()).where(received, CaseRow.duplicate_of_id.is_not(None)))
    ).scalar_one()

    def name(insurer_id: int) -> str:
        return insurers.get(insurer_id, ("", None))[0]

    per_insurer = []
    for insurer_id in sorted(set(insurers) | set(by_insurer)):
        policies = insurers.get(insurer_id, ("", None))[1]
        n = by_insurer.get(insurer_id, 0)
        cohort, in_time = answer_by_insurer.get(insurer_id, (0, 0))
        item: dict[str, Any] = {
            "insurer_id": insurer_id,
            "name": name(insurer_id),
            "policy_count": policies,
            "cases": n,
            "per_10k_policies": round(n * 10_000 / policies, 4) if policies else None,
            "overdue_now": overdue.get(insurer_id, 0),
            "escalations": escalations.get(insurer_id, 0),
            "escalation_share": _share(escalations.get(insurer_id, 0), n),
            "answer_cases": cohort,
            "answer_share_in_time": _share(in_time, cohort),
        }
        reasons = _reasons(item, thresholds)
        item["warning"] = bool(reasons)
        item["reasons"] = reasons
        per_insurer.append(item)

    return {
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "time_zone": zone,
            "generated_at": now.isoformat(),
        },
        "cases": {
            "total": total,
            "by_category": [{"category": k, "count": v} for k, v in sorted(by_category.items())],
            "by_insurer": [
                {"insurer_id": k, "name": name(k), "count": v}
                for k, v in sorted(by_insurer.items())
            ],
            "by_channel": [{"channel_kind": k, "count": v} for k, v in sorted(by_channel.items())],
            "by_state": [{"state": k, "count": v} for k, v in sorted(by_state.items())],
        },
        "deadlines": {
            "answer": {
                "cases": answer_total[0],
                "in_time": answer_total[1],
                "missed": answer_total[0] - answer_total[1],
                "share_in_time": _share(answer_total[1], answer_total[0]),
            },
            "decision": {
                "cases": decided,
                "in_time": decided_in_time,
                "missed": decided - decided_in_time,
                "share_in_time": _share(decided_in_time, decided),
            },
        },
        "durations": {
            "answers": answer_hours[0],
            "median_hours_to_first_answer": answer_hours[1],
            "decisions": decision_hours[0],
            "median_hours_to_decision": decision_hours[1],
        },
        "mediation": {
            "ended": settled + not_settled,
            "settled": settled,
            "not_settled": not_settled,
            "success_rate": _share(settled, settled + not_settled),
        },
        "fulfilment": fulfilment,
        "satisfaction": {
            "responses": 0,
            "average": None,
            "note": "Consumers cannot rate a case yet.",
        },
        "warnings": {
            "high_risk": {
                "threshold": high_risk_score,
                "count": int(high_risk_count),
                "open_cases": [
                    {
                        "id": i,
                        "number": num,
                        "insurer_id": ins,
                        "insurer": name(ins),
                        "risk_score": score,
                        "state": st,
                    }
                    for i, num, ins, score, st in high_risk_rows
                ],
            },
            "duplicate_clusters": {
                "count": int(clusters[0]),
                "unacknowledged": int(clusters[1]),
                "duplicates_filed": int(duplicates_filed),
            },
            "overdue_now": sum(overdue.values()),
            "unpaid_agreements": unpaid,
        },
        "insurers": per_insurer,
        "thresholds": asdict(thresholds),
    }


def _reasons(item: dict[str, Any], t: InsurerThresholds) -> list[dict[str, Any]]:
    checks = [
        ("cases", item["cases"], t.max_cases),
        ("per_10k_policies", item["per_10k_policies"], t.max_per_10k_policies),
        ("overdue_now", item["overdue_now"], t.max_overdue),
        ("escalation_share", item["escalation_share"], t.max_escalation_share),
    ]
    return [
        {"figure": figure, "value": value, "threshold": limit}
        for figure, value, limit in checks
        if value is not None and value > limit
    ]


async def _answer_compliance(
    s: AsyncSession, lo: datetime, hi: datetime
) -> dict[int, tuple[int, int]]:
    """Per insurer: (cases in the answer cohort, of which in time). See the module."""
    e = aliased(CaseEventRow)
    cohort = (
        select(e.case_id)
        .where(
            e.at >= lo,
            e.at < hi,
            or_(e.kind == EventKind.ANSWERED.value, _answer_escalation(e)),
        )
        .distinct()
    )
    answered_in_time = and_(
        _E.kind == EventKind.ANSWERED.value, _E.payload["in_time"].as_boolean() == true()
    )
    flags = (
        select(
            _E.case_id.label("case_id"),
            func.max(case((answered_in_time, 1), else_=0)).label("in_time"),
            func.max(case((or_(_answer_escalation(_E), _answered_late(_E)), 1), else_=0)).label(
                "missed"
            ),
        )
        .where(
            _E.case_id.in_(cohort),
            _E.kind.in_([EventKind.ANSWERED.value, EventKind.ESCALATED.value]),
        )
        .group_by(_E.case_id)
        .subquery()
    )
    good = and_(flags.c.in_time == 1, flags.c.missed == 0)
    rows = await s.execute(
        select(CaseRow.insurer_id, func.count(), func.sum(case((good, 1), else_=0)))
        .join(flags, flags.c.case_id == CaseRow.id)
        .group_by(CaseRow.insurer_id)
    )
    return {k: (int(n), int(ok or 0)) for k, n, ok in rows.all()}


def _first_in_period(cond: Any, lo: datetime, hi: datetime) -> Any:
    """Events matching ``cond`` in the period that are the first such event of their case."""
    e, earlier = aliased(CaseEventRow), aliased(CaseEventRow)
    first = ~exists().where(
        earlier.case_id == e.case_id, earlier.sequence < e.sequence, cond(earlier)
    )
    return e, and_(e.at >= lo, e.at < hi, cond(e), first)


async def _median_hours(
    s: AsyncSession, cond: Any, lo: datetime, hi: datetime
) -> tuple[int, float | None]:
    """(how many, median hours from receipt) over the first ``cond`` events in the period."""
    e, where = _first_in_period(cond, lo, hi)
    base = select().select_from(e).join(CaseRow, CaseRow.id == e.case_id).where(where)
    if s.get_bind().dialect.name == "postgresql":
        hours = cast(func.extract("epoch", e.at - CaseRow.received_at), Float) / 3600.0
        n, median = (
            await s.execute(
                base.add_columns(func.count(), func.percentile_cont(0.5).within_group(hours))
            )
        ).one()
        return int(n), None if median is None else round(float(median), 2)
    hours = (func.julianday(e.at) - func.julianday(CaseRow.received_at)) * 24.0
    values = [float(v) for v in (await s.execute(base.add_columns(hours))).scalars()]
    return len(values), round(statistics.median(values), 2) if values else None


async def _decision_compliance(s: AsyncSession, lo: datetime, hi: datetime) -> tuple[int, int]:
    e, where = _first_in_period(_is_decision, lo, hi)
    before = aliased(CaseEventRow)
    late = exists().where(
        before.case_id == e.case_id,
        before.sequence < e.sequence,
        or_(before.kind == EventKind.ESCALATED.value, _answered_late(before)),
    )
    n, ok = (
        await s.execute(
            select(func.count(), func.count(case((~late, 1)))).select_from(e).where(where)
        )
    ).one()
    return int(n), int(ok)


async def _agreement_due_dates(s: AsyncSession, case_filter: Any) -> dict[int, date | None]:
    """The ``due_on`` of each matching case's last proposed agreement."""
    rows = await s.execute(
        select(_E.case_id, _E.sequence, _E.payload["due_on"].as_string())
        .where(_E.kind == EventKind.AGREEMENT_PROPOSED.value, case_filter)
        .order_by(_E.case_id, _E.sequence)
    )
    due: dict[int, date | None] = {}
    for case_id, _seq, due_on in rows.all():
        due[case_id] = date.fromisoformat(due_on) if due_on else None
    return due


async def _fulfilment(s: AsyncSession, lo: datetime, hi: datetime, zone: str) -> dict[str, Any]:
    paid = dict(
        (
            await s.execute(
                select(_E.case_id, func.min(_E.at))
                .where(_E.kind == EventKind.PAYMENT_CONFIRMED.value, _E.at >= lo, _E.at < hi)
                .group_by(_E.case_id)
            )
        ).all()
    )
    due = await _agreement_due_dates(s, _E.case_id.in_(list(paid))) if paid else {}
    tz = ZoneInfo(zone)
    dated = {i: d for i, d in due.items() if d is not None}
    on_time = sum(1 for i, d in dated.items() if paid[i].astimezone(tz).date() <= d)
    return {
        "confirmed": len(paid),
        "with_due_date": len(dated),
        "without_due_date": len(paid) - len(dated),
        "on_time": on_time,
        "share_on_time": _share(on_time, len(dated)),
    }


async def _unpaid_agreements(s: AsyncSession, today: date) -> dict[str, Any]:
    settled = select(CaseRow.id).where(CaseRow.state == CaseState.SETTLED.value)
    due = await _agreement_due_dates(s, _E.case_id.in_(settled))
    late = sorted(i for i, d in due.items() if d is not None and d < today)
    return {"count": len(late), "case_ids": late[:HIGH_RISK_LIST]}


# --- CSV ----------------------------------------------------------------------------------------


def figures_csv(data: dict[str, Any]) -> str:
    """The figures as CSV: one section per table, each a title row, a header row, the rows and
    a blank line. Starts with a UTF-8 byte order mark so Excel reads Chinese names right."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    period = data["period"]
    dl, du, med = data["deadlines"], data["durations"], data["mediation"]
    warnings = data["warnings"]
    summary = [
        ("from", period["from"]),
        ("to", period["to"]),
        ("time_zone", period["time_zone"]),
        ("cases", data["cases"]["total"]),
        ("answer_cases", dl["answer"]["cases"]),
        ("answer_share_in_time", dl["answer"]["share_in_time"]),
        ("decision_cases", dl["decision"]["cases"]),
        ("decision_share_in_time", dl["decision"]["share_in_time"]),
        ("median_hours_to_first_answer", du["median_hours_to_first_answer"]),
        ("median_hours_to_decision", du["median_hours_to_decision"]),
        ("mediation_success_rate", med["success_rate"]),
        ("fulfilled_share_on_time", data["fulfilment"]["share_on_time"]),
        ("satisfaction", data["satisfaction"]["average"]),
        ("high_risk_cases", warnings["high_risk"]["count"]),
        ("duplicate_clusters", warnings["duplicate_clusters"]["count"]),
        ("overdue_now", warnings["overdue_now"]),
        ("unpaid_agreements", warnings["unpaid_agreements"]["count"]),
    ]

    def section(title: str, header: list[str], rows: list[list[Any]]) -> None:
        w.writerow([f"# {title}"])
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
        w.writerow([])

    cases = data["cases"]
    section("summary", ["figure", "value"], [list(r) for r in summary])
    section(
        "cases by category",
        ["category", "count"],
        [[r["category"], r["count"]] for r in cases["by_category"]],
    )
    section(
        "cases by insurer",
        ["insurer_id", "insurer", "count"],
        [[r["insurer_id"], r["name"], r["count"]] for r in cases["by_insurer"]],
    )
    section(
        "cases by channel",
        ["channel_kind", "count"],
        [[r["channel_kind"], r["count"]] for r in cases["by_channel"]],
    )
    section(
        "cases by state", ["state", "count"], [[r["state"], r["count"]] for r in cases["by_state"]]
    )
    columns = [
        "insurer_id",
        "name",
        "policy_count",
        "cases",
        "per_10k_policies",
        "overdue_now",
        "escalations",
        "escalation_share",
        "answer_cases",
        "answer_share_in_time",
        "warning",
    ]
    section(
        "insurers",
        [*columns, "reasons"],
        [
            [
                *(i[c] for c in columns),
                "; ".join(f"{r['figure']}={r['value']}>{r['threshold']}" for r in i["reasons"]),
            ]
            for i in data["insurers"]
        ],
    )
    return "\ufeff" + out.getvalue()
