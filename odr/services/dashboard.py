"""The supervisor's figures for oversight: counts, deadline compliance, durations, mediation,
fulfilment, a time series, early warnings and each insurer's figures against thresholds.
Read-only: the reads (SQL) are `odr.storage.dashboard`'s; this module composes the figures
and applies the thresholds.

The per-case figures (answers, escalations, decisions, payments, agreements' due dates) are
read from the read model `DashboardCaseFacts` (one row per case, kept by a database
trigger), so a period is a range over an index rather than a walk through every case's log.
Every count is an SQL ``GROUP BY``; Python only handles bounded result sets (one row per group,
or the rows of one small set named below). On the embedded SQLite setup a few figures that need
the local calendar (medians, fulfilment, the time series) read one row per case of the period
and finish in Python; PostgreSQL computes them in SQL.

On PostgreSQL, periods of a year or more stay well under a second at a million cases because
the period-wide counts are not recounted from the cases: `DashboardDaily` (per UTC day counts
kept exact by triggers, migration 0012) gives the period's whole UTC days, and only the
partial UTC days at each end (a local midnight is rarely a UTC one) are counted from the rows.
This covers the counts by category, insurer, channel and state, high-risk (at the default
score) and duplicates, escalations per insurer, decisions, ended mediations and the unpaid
agreements' count. The series sums quarter-hour counts per bucket (when every bucket starts on
a quarter hour, as in every current time zone; else it reads the rows). The medians stay exact:
a histogram of whole days from receipt names the bucket holding the middle value(s) and
only that bucket's durations (`DashboardDuration`) are sorted, then interpolated as
``percentile_cont(0.5)`` does. The early-warning lists use indexes that stop at the limit.

The period
----------
`Period` holds whole local days ``[start, end]`` in the configured time zone; queries use the
half-open UTC interval ``[start 00:00 local, (end + 1 day) 00:00 local)``. "In the period"
below always means that interval.

Definitions
-----------
* **Cases** (by category, insurer, channel kind, state): cases *received* in the period, counted
  by their current ``category``, ``insurer_id``, ``channel_kind`` and ``state``.
* **Time series** (``series``): per local day (periods up to 62 days) or per week (Monday to
  Sunday, longer periods; the first and last weeks are cut to the period), the cases received
  and the cases first escalated (any stage); every bucket is listed, empty ones with zeros.
* **Answer compliance** (``deadlines.answer``): the cohort is every case whose first
  ``answered`` event or first answer-stage ``escalated`` event (payload ``stage == "answer"``)
  is in the period: the cases whose answer deadline was met or missed in the period. A cohort
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
  when the local day of the first confirmation is no later than the ``due_on`` of the case's
  last ``agreement_proposed`` event. Cases whose agreement named no due date are counted in
  ``without_due_date`` and left out of the share.
* **Satisfaction**: the ratings (1 to 5) the parties gave in the period, once their case was
  closed: ``responses``, ``average`` (null without ratings), per score and per role.
* **Warnings** (each list holds at most `LIST_LIMIT` cases, its count holds them all):
  ``high_risk``: cases received in the period with ``risk_score`` at or above
  ``high_risk_score`` (default 70), listing the riskiest still open; ``duplicate_clusters``:
  early-warning clusters created in the period (how many are unacknowledged, and the newest
  with the complaints behind each), and cases received in the period that triage linked to an
  earlier one (``duplicates_filed``); ``overdue_now`` / ``overdue_cases``: open cases whose
  running deadline (``due_at``, set only while a stage's clock runs: answer or mediation) is
  before *now*, the longest overdue first; ``unpaid_agreements``: cases still ``settled``
  (payment not confirmed) whose agreement's ``due_on`` is before today (local), the oldest
  due first.
* **Per insurer** (every insurer organisation): ``cases`` received in the period,
  ``per_10k_policies = cases × 10,000 / policy_count`` (the organisation's policy count, else
  the thresholds file's; null without one), ``overdue_now``, ``escalations`` (cases whose
  first escalation, of any stage, is in the period),
  ``escalation_share = escalations / cases`` (null when no cases), the insurer's answer
  compliance, and ``warning`` with ``reasons`` when a
  figure is beyond the insurer's thresholds (`odr.domain.thresholds`: ``Settings.thresholds``,
  from the ``ODR_THRESHOLDS`` file). ``thresholds`` lists the limits applied to the period.

Timings
-------
`figures` takes an optional ``timings`` dict and fills it with the milliseconds each named
query took (``bench/dashboard.py`` prints them).
"""

from __future__ import annotations

import csv
import io
import time as clock
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize
from odr.domain.periods import Period, buckets, series_unit
from odr.domain.thresholds import LIMITS, InsurerThresholds, ThresholdRules
from odr.services.triage_corrections import agreement_by_category
from odr.storage.dashboard import HIGH_RISK_SCORE, DashboardReads, Insurer, RatingCount

__all__ = [
    "DEFAULT",
    "HIGH_RISK_SCORE",
    "MAX_PERIOD_DAYS",
    "InsurerThresholds",
    "Period",
    "ThresholdRules",
    "figures",
    "figures_csv",
    "series_unit",
]

MAX_PERIOD_DAYS = 3 * 366

DEFAULT = InsurerThresholds()
T = TypeVar("T")
NO_INSURER = Insurer("", None, None)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rules(thresholds: InsurerThresholds | ThresholdRules) -> ThresholdRules:
    if isinstance(thresholds, ThresholdRules):
        return thresholds
    return ThresholdRules(defaults=thresholds)


class _Timer:
    """Fills ``timings`` (when given) with the milliseconds each named read took."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings

    async def __call__(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        started = clock.perf_counter()
        result = await work()
        if self.timings is not None:
            self.timings[name] = round((clock.perf_counter() - started) * 1000, 2)
        return result


async def figures(
    s: AsyncSession,
    actor: Actor,
    period: Period,
    *,
    zone: str,
    thresholds: InsurerThresholds | ThresholdRules = DEFAULT,
    high_risk_score: int = HIGH_RISK_SCORE,
    now: datetime | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The dashboard's figures for ``period`` (see the module's definitions), JSON-ready."""
    authorize(actor, Action.VIEW_DASHBOARD)
    q = DashboardReads(s, period, zone, now or datetime.now(UTC))
    timed = _Timer(timings)
    await q.prepare()
    rules = _rules(thresholds)

    insurers = await timed("insurers", q.insurers)
    counted = await timed(
        "cases_by_category_insurer_channel_state_day", lambda: q.case_counts(high_risk_score)
    )
    by_insurer = counted.by_insurer
    total = sum(counted.by_state.values())

    overdue = await timed("overdue_by_insurer", q.overdue_by_insurer)
    escalations = await timed("escalations_by_insurer", q.escalations_by_insurer)
    answer_by_insurer = await timed("answer_compliance", q.answer_compliance)
    answer_cases = sum(c.cases for c in answer_by_insurer.values())
    answer_in_time = sum(c.in_time for c in answer_by_insurer.values())

    answer_hours = await timed("median_first_answer", lambda: q.median_hours("answer"))
    decision_hours = await timed("median_decision", lambda: q.median_hours("decision"))
    decided = await timed("decision_compliance", q.decisions)

    mediation = await timed("mediation", q.mediations_ended)
    settled, not_settled = mediation.settled, mediation.not_settled

    paid = await timed("fulfilment", q.fulfilment)
    unpaid = await timed("unpaid_agreements", q.unpaid_agreements)
    ratings = await timed("satisfaction", q.ratings)
    received, escalated = await timed("series", q.series_counts)

    def name(insurer_id: int) -> str:
        return insurers.get(insurer_id, NO_INSURER).name

    def listed(row: Any) -> dict[str, Any]:
        return {**asdict(row), "insurer": name(row.insurer_id)}

    high_risk = await timed("high_risk", lambda: q.high_risk_open(high_risk_score))
    clusters = await timed("duplicate_clusters", q.clusters)
    overdue_cases = await timed("overdue_cases", q.overdue_cases)
    since, until = period.bounds(zone)
    agreement = await timed("triage_agreement", lambda: agreement_by_category(s, since, until))

    per_insurer = []
    for insurer_id in sorted(set(insurers) | set(by_insurer)):
        org = insurers.get(insurer_id, NO_INSURER)
        limits = rules.for_insurer(insurer_id, org.name)
        policies = org.policy_count or limits.policy_count
        n = by_insurer.get(insurer_id, 0)
        cohort = answer_by_insurer.get(insurer_id)
        item: dict[str, Any] = {
            "insurer_id": insurer_id,
            "name": org.name,
            "name_en": org.name_en,
            "policy_count": policies,
            "cases": n,
            "per_10k_policies": round(n * 10_000 / policies, 4) if policies else None,
            "overdue_now": overdue.get(insurer_id, 0),
            "escalations": escalations.get(insurer_id, 0),
            "escalation_share": _share(escalations.get(insurer_id, 0), n),
            "answer_cases": cohort.cases if cohort else 0,
            "answer_share_in_time": _share(cohort.in_time, cohort.cases) if cohort else None,
        }
        reasons = limits.breaches(item, period.days)
        item["warning"] = bool(reasons)
        item["reasons"] = reasons
        item["thresholds"] = {k: limits.limit(k, period.days) for k in LIMITS}
        per_insurer.append(item)

    unpaid_cases = [listed(c) for c in unpaid.rows]
    return {
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "days": period.days,
            "time_zone": zone,
            "generated_at": q.now.isoformat(),
        },
        "cases": {
            "total": total,
            "by_category": [
                {"category": k, "count": v} for k, v in sorted(counted.by_category.items())
            ],
            "by_insurer": [
                {"insurer_id": k, "name": name(k), "count": v}
                for k, v in sorted(by_insurer.items())
            ],
            "by_channel": [
                {"channel_kind": k, "count": v} for k, v in sorted(counted.by_channel.items())
            ],
            "by_state": [{"state": k, "count": v} for k, v in sorted(counted.by_state.items())],
        },
        "series": _series(period, received, escalated),
        "deadlines": {
            "answer": {
                "cases": answer_cases,
                "in_time": answer_in_time,
                "missed": answer_cases - answer_in_time,
                "share_in_time": _share(answer_in_time, answer_cases),
            },
            "decision": {
                "cases": decided.cases,
                "in_time": decided.in_time,
                "missed": decided.cases - decided.in_time,
                "share_in_time": _share(decided.in_time, decided.cases),
            },
        },
        "durations": {
            "answers": answer_hours.count,
            "median_hours_to_first_answer": answer_hours.hours,
            "decisions": decision_hours.count,
            "median_hours_to_decision": decision_hours.hours,
        },
        "mediation": {
            "ended": settled + not_settled,
            "settled": settled,
            "not_settled": not_settled,
            "success_rate": _share(settled, settled + not_settled),
        },
        "fulfilment": {
            "confirmed": paid.confirmed,
            "with_due_date": paid.with_due_date,
            "without_due_date": paid.confirmed - paid.with_due_date,
            "on_time": paid.on_time,
            "share_on_time": _share(paid.on_time, paid.with_due_date),
        },
        "satisfaction": _satisfaction(ratings),
        #: per category staff chose in the period: how often triage had suggested it
        "triage_agreement": agreement,
        "warnings": {
            "high_risk": {
                "threshold": high_risk_score,
                "count": counted.high_risk,
                "open_cases": [listed(c) for c in high_risk],
            },
            "duplicate_clusters": {
                "count": clusters.count,
                "unacknowledged": clusters.unacknowledged,
                "duplicates_filed": counted.duplicates,
                "clusters": [
                    {
                        "id": c.id,
                        "insurer_id": c.insurer_id,
                        "category": c.category,
                        "created_at": c.created_at.isoformat(),
                        "acknowledged": c.acknowledged,
                        "cases": [{"id": i, "number": number} for i, number in c.cases],
                        "insurer": name(c.insurer_id),
                    }
                    for c in clusters.rows
                ],
            },
            "overdue_now": sum(overdue.values()),
            "overdue_cases": [
                {**listed(c), "due_at": c.due_at and c.due_at.isoformat()} for c in overdue_cases
            ],
            "unpaid_agreements": {
                "count": unpaid.count,
                "case_ids": [c["id"] for c in unpaid_cases],
                "cases": unpaid_cases,
            },
            "insurers_over_threshold": sum(1 for i in per_insurer if i["warning"]),
        },
        "insurers": per_insurer,
        "thresholds": asdict(rules.defaults),
    }


def _satisfaction(rows: list[RatingCount]) -> dict[str, Any]:
    """``responses``, ``average`` (null without ratings), ``by_score`` and ``by_role``
    (consumer, insurer_rep: responses and average)."""
    by_score: Counter[int] = Counter()
    roles: dict[str, Counter[int]] = {}
    for row in rows:
        by_score[row.score] += row.n
        roles.setdefault(row.role, Counter())[row.score] += row.n

    def summary(counts: Counter[int]) -> dict[str, Any]:
        total = sum(counts.values())
        mean = sum(k * v for k, v in counts.items()) / total if total else None
        return {"responses": total, "average": None if mean is None else round(mean, 2)}

    return {
        **summary(by_score),
        "by_score": [{"score": k, "count": by_score.get(k, 0)} for k in range(1, 6)],
        "by_role": [{"role": r, **summary(c)} for r, c in sorted(roles.items())],
    }


def _series(period: Period, received: Counter[Any], escalated: Counter[Any]) -> dict[str, Any]:
    """Cases received and cases escalated (first escalation), per local day or week of the
    period; every bucket listed, the first and last cut to the period."""
    unit = series_unit(period)
    points = []
    for start in buckets(period, unit):
        end = start + timedelta(days=0 if unit == "day" else 6)
        points.append(
            {
                "start": max(start, period.start).isoformat(),
                "end": min(end, period.end).isoformat(),
                "cases": received.get(start, 0),
                "escalations": escalated.get(start, 0),
            }
        )
    return {"unit": unit, "points": points}


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
        ("satisfaction_average", (data["satisfaction"] or {}).get("average")),
        ("satisfaction_responses", (data["satisfaction"] or {}).get("responses")),
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
    series = data["series"]
    section(
        f"cases per {series['unit']}",
        ["start", "end", "cases", "escalations"],
        [[p["start"], p["end"], p["cases"], p["escalations"]] for p in series["points"]],
    )
    section(
        "high-risk open cases",
        ["case_id", "number", "insurer", "risk_score", "state"],
        [
            [c["id"], c["number"], c["insurer"], c["risk_score"], c["state"]]
            for c in warnings["high_risk"]["open_cases"]
        ],
    )
    section(
        "duplicate clusters",
        ["cluster_id", "insurer", "category", "created_at", "acknowledged", "cases"],
        [
            [
                cl["id"],
                cl["insurer"],
                cl["category"],
                cl["created_at"],
                cl["acknowledged"],
                " ".join(str(c["number"] or c["id"]) for c in cl["cases"]),
            ]
            for cl in warnings["duplicate_clusters"]["clusters"]
        ],
    )
    section(
        "overdue cases",
        ["case_id", "number", "insurer", "state", "due_at"],
        [
            [c["id"], c["number"], c["insurer"], c["state"], c["due_at"]]
            for c in warnings["overdue_cases"]
        ],
    )
    section(
        "unpaid agreements",
        ["case_id", "number", "insurer", "due_on"],
        [
            [c["id"], c["number"], c["insurer"], c["due_on"]]
            for c in warnings["unpaid_agreements"]["cases"]
        ],
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


class Dashboard:
    """`figures` in a session of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def figures(
        self,
        actor: Actor,
        period: Period,
        *,
        zone: str,
        thresholds: InsurerThresholds | ThresholdRules = DEFAULT,
    ) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            return await figures(s, actor, period, zone=zone, thresholds=thresholds)
