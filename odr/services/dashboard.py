"""The supervisor's figures (DESIGN.md §7): counts, deadline compliance, durations, mediation,
fulfilment, a time series, early warnings and each insurer's figures against thresholds.
Read-only.

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
import statistics
import time as clock
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from odr.domain.accounts import Actor, OrganisationKind
from odr.domain.authz import Action, authorize
from odr.domain.cases import OPEN_STATES, CaseState, EventKind
from odr.domain.thresholds import LIMITS, InsurerThresholds, ThresholdRules
from odr.storage.models import (
    CaseEventRow,
    CaseRow,
    DashboardCaseFacts,
    DashboardDaily,
    DashboardDuration,
    EarlyWarningRow,
    Organisation,
    SatisfactionRating,
)

__all__ = [
    "DEFAULT",
    "HIGH_RISK_SCORE",
    "MAX_PERIOD_DAYS",
    "InsurerThresholds",
    "Period",
    "ThresholdRules",
    "figures",
    "figures_csv",
    "satisfaction_figures",
    "series_unit",
]

MAX_PERIOD_DAYS = 3 * 366
HIGH_RISK_SCORE = 70
LIST_LIMIT = 20
HIGH_RISK_LIST = LIST_LIMIT
DAILY_UP_TO_DAYS = 62  # longer periods are shown per week

DEFAULT = InsurerThresholds()
T = TypeVar("T")


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


def series_unit(period: Period) -> str:
    """``day`` for periods up to `DAILY_UP_TO_DAYS` days, else ``week``."""
    return "day" if period.days <= DAILY_UP_TO_DAYS else "week"


def _bucket_of(day: date, unit: str) -> date:
    return day if unit == "day" else day - timedelta(days=day.weekday())


def _buckets(period: Period, unit: str) -> list[date]:
    step = timedelta(days=1 if unit == "day" else 7)
    out, at = [], _bucket_of(period.start, unit)
    while at <= period.end:
        out.append(at)
        at += step
    return out


_E = CaseEventRow
_F = DashboardCaseFacts
_D = DashboardDaily
_U = DashboardDuration


@dataclass
class _Query:
    """What every query of one dashboard answer shares."""

    s: AsyncSession
    period: Period
    zone: str
    now: datetime
    timings: dict[str, float] | None
    lo: datetime = field(init=False)
    hi: datetime = field(init=False)
    today: date = field(init=False)
    pg: bool = field(init=False)
    #: the whole UTC days ``[first_day, end_day)`` inside the period (read from `DashboardDaily`)
    #: and the partial days at its edges (read from the rows themselves)
    first_day: date = field(init=False)
    end_day: date = field(init=False)
    edges: list[tuple[datetime, datetime]] = field(init=False)

    def __post_init__(self) -> None:
        self.lo, self.hi = self.period.bounds(self.zone)
        lo, hi = self.lo.astimezone(UTC), self.hi.astimezone(UTC)
        self.first_day = lo.date() if lo.time() == time(0) else lo.date() + timedelta(days=1)
        self.end_day = hi.date()
        if self.first_day >= self.end_day:
            self.end_day = self.first_day
            self.edges = [(self.lo, self.hi)]
        else:
            cut_lo = datetime.combine(self.first_day, time(0), UTC)
            cut_hi = datetime.combine(self.end_day, time(0), UTC)
            self.edges = [(a, b) for a, b in ((self.lo, cut_lo), (cut_hi, self.hi)) if a < b]
        self.today = self.now.astimezone(ZoneInfo(self.zone)).date()
        self.pg = self.s.get_bind().dialect.name == "postgresql"

    async def timed(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        started = clock.perf_counter()
        result = await work()
        if self.timings is not None:
            self.timings[name] = round((clock.perf_counter() - started) * 1000, 2)
        return result

    def local_day(self, column: Any) -> Any:
        """PostgreSQL only: the local calendar day of an instant."""
        return cast(func.timezone(self.zone, column), Date)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rules(thresholds: InsurerThresholds | ThresholdRules) -> ThresholdRules:
    if isinstance(thresholds, ThresholdRules):
        return thresholds
    return ThresholdRules(defaults=thresholds)


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
    q = _Query(s, period, zone, now or datetime.now(UTC), timings)
    if q.pg:
        # for this transaction only: the period's aggregates hash and sort in memory, and
        # short analytical queries are not worth compiling (JIT costs more than it saves)
        await s.execute(text("SET LOCAL work_mem = '64MB'"))
        await s.execute(text("SET LOCAL jit = off"))
    rules = _rules(thresholds)
    lo, hi = q.lo, q.hi
    received = and_(CaseRow.received_at >= lo, CaseRow.received_at < hi)

    async def organisations() -> dict[int, tuple[str, str | None, int | None]]:
        rows = await s.execute(
            select(
                Organisation.id, Organisation.name, Organisation.name_en, Organisation.policy_count
            ).where(Organisation.kind == OrganisationKind.INSURER.value)
        )
        return {i: (n, en, p) for i, n, en, p in rows.all()}

    insurers = await q.timed("insurers", organisations)

    async def grouped(column: Any, *where: Any) -> dict[Any, int]:
        stmt = select(column, func.count()).where(*where).group_by(column)
        return {k: int(n) for k, n in (await s.execute(stmt)).all()}

    counted = await q.timed(
        "cases_by_category_insurer_channel_state_day",
        lambda: _case_counts(q, received, high_risk_score),
    )
    by_category, by_insurer, by_channel, by_state = counted.by
    total = sum(by_state.values())

    open_states = [st.value for st in OPEN_STATES]
    overdue_now = and_(CaseRow.state.in_(open_states), CaseRow.due_at < q.now)
    overdue = await q.timed("overdue_by_insurer", lambda: grouped(CaseRow.insurer_id, overdue_now))
    escalations = await q.timed("escalations_by_insurer", lambda: _escalations(q))
    answer_by_insurer = await q.timed("answer_compliance", lambda: _answer_compliance(q))
    answer_total = [sum(v[i] for v in answer_by_insurer.values()) for i in (0, 1)]

    answer_hours = await q.timed(
        "median_first_answer", lambda: _median_hours(q, _F.answered_at, "answer")
    )
    decision_hours = await q.timed(
        "median_decision", lambda: _median_hours(q, _F.decided_at, "decision")
    )
    decided, decided_in_time = await q.timed("decision_compliance", lambda: _decisions(q))

    mediation = await q.timed("mediation", lambda: _mediation(q))
    settled = mediation.get(EventKind.AGREEMENT_SIGNED.value, 0)
    not_settled = mediation.get(EventKind.NOT_SETTLED.value, 0)

    fulfilment = await q.timed("fulfilment", lambda: _fulfilment(q))
    unpaid = await q.timed("unpaid_agreements", lambda: _unpaid_agreements(q))
    satisfaction = await q.timed("satisfaction", lambda: satisfaction_figures(s, lo, hi))
    series = await q.timed("series", lambda: _series(q, counted.days))

    def name(insurer_id: int) -> str:
        return insurers.get(insurer_id, ("", None, None))[0]

    high_risk = await q.timed(
        "high_risk",
        lambda: _high_risk(q, received, high_risk_score, counted.high_risk, open_states),
    )
    clusters = await q.timed("duplicate_clusters", lambda: _clusters(q, counted.duplicates))
    overdue_cases = await q.timed("overdue_cases", lambda: _overdue_cases(q, overdue_now))
    for listed in [*high_risk["open_cases"], *clusters["clusters"], *overdue_cases]:
        listed["insurer"] = name(listed["insurer_id"])
    for listed in unpaid["cases"]:
        listed["insurer"] = name(listed["insurer_id"])

    per_insurer = []
    for insurer_id in sorted(set(insurers) | set(by_insurer)):
        org_name, name_en, org_policies = insurers.get(insurer_id, ("", None, None))
        limits = rules.for_insurer(insurer_id, org_name)
        policies = org_policies or limits.policy_count
        n = by_insurer.get(insurer_id, 0)
        cohort, in_time = answer_by_insurer.get(insurer_id, (0, 0))
        item: dict[str, Any] = {
            "insurer_id": insurer_id,
            "name": org_name,
            "name_en": name_en,
            "policy_count": policies,
            "cases": n,
            "per_10k_policies": round(n * 10_000 / policies, 4) if policies else None,
            "overdue_now": overdue.get(insurer_id, 0),
            "escalations": escalations.get(insurer_id, 0),
            "escalation_share": _share(escalations.get(insurer_id, 0), n),
            "answer_cases": cohort,
            "answer_share_in_time": _share(in_time, cohort),
        }
        reasons = limits.breaches(item, period.days)
        item["warning"] = bool(reasons)
        item["reasons"] = reasons
        item["thresholds"] = {k: limits.limit(k, period.days) for k in LIMITS}
        per_insurer.append(item)

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
            "by_category": [{"category": k, "count": v} for k, v in sorted(by_category.items())],
            "by_insurer": [
                {"insurer_id": k, "name": name(k), "count": v}
                for k, v in sorted(by_insurer.items())
            ],
            "by_channel": [{"channel_kind": k, "count": v} for k, v in sorted(by_channel.items())],
            "by_state": [{"state": k, "count": v} for k, v in sorted(by_state.items())],
        },
        "series": series,
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
        "satisfaction": satisfaction,
        "warnings": {
            "high_risk": high_risk,
            "duplicate_clusters": clusters,
            "overdue_now": sum(overdue.values()),
            "overdue_cases": overdue_cases,
            "unpaid_agreements": unpaid,
            "insurers_over_threshold": sum(1 for i in per_insurer if i["warning"]),
        },
        "insurers": per_insurer,
        "thresholds": asdict(rules.defaults),
    }


async def satisfaction_figures(
    s: AsyncSession, lo: datetime, hi: datetime
) -> dict[str, Any] | None:
    """The satisfaction ratings given in ``[lo, hi)`` (1 to 5 stars, by the parties once a
    case is closed): ``responses``, ``average`` (null without ratings), ``by_score`` and
    ``by_role`` (consumer, insurer_rep: responses and average)."""
    rows = (
        await s.execute(
            select(SatisfactionRating.role, SatisfactionRating.score, func.count())
            .where(SatisfactionRating.rated_at >= lo, SatisfactionRating.rated_at < hi)
            .group_by(SatisfactionRating.role, SatisfactionRating.score)
        )
    ).all()
    by_score: Counter[int] = Counter()
    roles: dict[str, Counter[int]] = {}
    for role, score, n in rows:
        by_score[int(score)] += int(n)
        roles.setdefault(role, Counter())[int(score)] += int(n)

    def summary(counts: Counter[int]) -> dict[str, Any]:
        total = sum(counts.values())
        mean = sum(k * v for k, v in counts.items()) / total if total else None
        return {"responses": total, "average": None if mean is None else round(mean, 2)}

    return {
        **summary(by_score),
        "by_score": [{"score": k, "count": by_score.get(k, 0)} for k in range(1, 6)],
        "by_role": [{"role": r, **summary(c)} for r, c in sorted(roles.items())],
    }


@dataclass
class _Received:
    """What one pass over the period's cases gives."""

    by: list[dict[Any, int]]  # by category, insurer, channel kind, state
    days: Counter[date] | None  # by bucket of the series (PostgreSQL only)
    high_risk: int
    duplicates: int


def _bucket(q: _Query, column: Any) -> Any:
    """PostgreSQL only: the series' bucket (local day, or the Monday of its week)."""
    local = func.timezone(q.zone, column)
    return cast(local if series_unit(q.period) == "day" else func.date_trunc("week", local), Date)


async def _case_counts(q: _Query, received: ColumnElement[bool], score: int) -> _Received:
    """Cases received in the period by category, insurer, channel kind and state (and, on
    PostgreSQL in the same pass, by bucket of the series), how many are high-risk and how
    many triage linked to an earlier case."""
    columns = (CaseRow.category, CaseRow.insurer_id, CaseRow.channel_kind, CaseRow.state)
    risky = func.count(case((CaseRow.risk_score >= score, 1)))
    duplicate = func.count(CaseRow.duplicate_of_id)
    out: list[dict[Any, int]] = [{}, {}, {}, {}]
    if q.pg:  # the whole UTC days from the daily counts, the partial ones from the cases
        edge = _edges(q, CaseRow.received_at)
        for i, column in enumerate(columns):
            stmt = select(column, func.count()).where(edge).group_by(column)
            out[i] = {k: int(n) for k, n in (await q.s.execute(stmt)).all()}
        high, dup = (await q.s.execute(select(risky, duplicate).where(edge))).one()
        daily = await _daily(q, [*_CASE_DIMENSIONS, "high_risk", "duplicate"])
        for i, dimension in enumerate(_CASE_DIMENSIONS):
            for key, n in daily[dimension].items():
                k: Any = int(key) if dimension == "insurer" else key
                out[i][k] = out[i].get(k, 0) + n
            out[i] = {k: n for k, n in out[i].items() if n}
        if score == HIGH_RISK_SCORE:
            high = int(high) + daily["high_risk"][""]
        else:
            high = (await q.s.execute(select(risky).where(received))).scalar_one()
        return _Received(out, None, int(high), int(dup) + daily["duplicate"][""])
    for i, column in enumerate(columns):
        stmt = select(column, func.count()).where(received).group_by(column)
        out[i] = {k: int(n) for k, n in (await q.s.execute(stmt)).all()}
    high_risk, duplicates = (await q.s.execute(select(risky, duplicate).where(received))).one()
    return _Received(out, None, int(high_risk), int(duplicates))


async def _daily(q: _Query, dimensions: list[str]) -> dict[str, Counter[str]]:
    """The `DashboardDaily` counts of the period's whole UTC days, per dimension and key."""
    out: dict[str, Counter[str]] = {d: Counter() for d in dimensions}
    if q.first_day >= q.end_day:
        return out
    rows = await q.s.execute(
        select(_D.dimension, _D.key, func.sum(_D.n))
        .where(_D.day >= q.first_day, _D.day < q.end_day, _D.dimension.in_(dimensions))
        .group_by(_D.dimension, _D.key)
    )
    for dimension, key, n in rows.all():
        if n:
            out[dimension][key] += int(n)
    return out


def _edges(q: _Query, column: Any) -> ColumnElement[bool]:
    return or_(*(and_(column >= lo, column < hi) for lo, hi in q.edges))


async def _escalations(q: _Query) -> dict[int, int]:
    where = _edges(q, _F.escalated_at) if q.pg else _in(_F.escalated_at, q)
    rows = await q.s.execute(
        select(_F.insurer_id, func.count()).where(where).group_by(_F.insurer_id)
    )
    out = Counter({k: int(n) for k, n in rows.all()})
    if q.pg:
        out.update({int(k): n for k, n in (await _daily(q, ["escalation"]))["escalation"].items()})
    return {k: n for k, n in out.items() if n}


_CASE_DIMENSIONS = ("category", "insurer", "channel", "state")


_SLOT_EPOCH = date(2000, 1, 1)


def _slot_number(at: datetime) -> int | None:
    """The quarter hour of ``at`` counted from `_SLOT_EPOCH` (UTC); None when ``at`` is not
    on a quarter hour."""
    at = at.astimezone(UTC)
    if at.minute % 15 or at.second or at.microsecond:
        return None
    return (at.date() - _SLOT_EPOCH).days * 96 + at.hour * 4 + at.minute // 15


async def _slots(q: _Query, dimension: str) -> Counter[date] | None:
    """PostgreSQL: a quarter-hour dimension of `DashboardDaily` summed per bucket of the
    series; None when a bucket does not start on a quarter hour (then the rows are read)."""
    starts = _buckets(q.period, series_unit(q.period))
    tz = ZoneInfo(q.zone)
    moments = [max(q.lo, datetime.combine(b, time(0), tz)) for b in starts] + [q.hi]
    bounds = [_slot_number(m) for m in moments]
    if any(b is None for b in bounds):
        return None
    slot = cast(_D.day - _SLOT_EPOCH, Integer) * 96 + cast(_D.key, Integer)
    which = func.width_bucket(slot, cast(bounds, ARRAY(Integer)))
    rows = await q.s.execute(
        select(which, func.sum(_D.n))
        .where(
            _D.dimension == dimension,
            _D.day >= q.lo.astimezone(UTC).date(),
            _D.day <= q.hi.astimezone(UTC).date(),
            slot >= bounds[0],
            slot < bounds[-1],
        )
        .group_by(which)
    )
    return Counter({starts[int(i) - 1]: int(n) for i, n in rows.all() if n})


def _in(column: Any, q: _Query) -> ColumnElement[bool]:
    return and_(column >= q.lo, column < q.hi)


async def _answer_compliance(q: _Query) -> dict[int, tuple[int, int]]:
    """Per insurer: (cases in the answer cohort, of which in time). See the module."""
    good = and_(
        _F.answered_in_time == true(),
        _F.answered_late == false(),
        _F.answer_escalated_at.is_(None),
    )
    rows = await q.s.execute(
        select(_F.insurer_id, func.count(), func.count(case((good, 1))))
        .where(or_(_in(_F.answered_at, q), _in(_F.answer_escalated_at, q)))
        .group_by(_F.insurer_id)
    )
    return {k: (int(n), int(ok)) for k, n, ok in rows.all()}


async def _median_hours(q: _Query, column: Any, measure: str) -> tuple[int, float | None]:
    """(how many, median hours from receipt) over the cases whose ``column`` (a first event)
    is in the period.

    PostgreSQL: the histogram of whole days from receipt (``<measure>_days`` of
    `DashboardDaily`, plus the period's partial UTC days read from `DashboardDuration`) names
    the day-bucket holding each middle value and its rank there; only that bucket's cases are
    then sorted (`DashboardDuration`). The result is the exact median, interpolated as
    ``percentile_cont(0.5)`` does."""
    where = _in(column, q)
    if q.pg:
        dimension = f"{measure}_days"
        histogram: Counter[int] = Counter(
            {int(k): v for k, v in (await _daily(q, [dimension]))[dimension].items()}
        )
        rows = await q.s.execute(
            select(_U.days, func.count())
            .where(_U.measure == measure, _edges(q, _U.at))
            .group_by(_U.days)
        )
        histogram.update({int(k): int(v) for k, v in rows.all()})
        histogram = Counter({k: v for k, v in histogram.items() if v > 0})
        n = sum(histogram.values())
        if n == 0:
            return 0, None
        ranks = sorted({(n - 1) // 2, n // 2})
        found: dict[int, float] = {}
        below = 0
        for bucket in sorted(histogram):
            inside = [r - below for r in ranks if below <= r < below + histogram[bucket]]
            if inside:
                middle = (
                    await q.s.execute(
                        select(_U.hours)
                        .where(_U.measure == measure, _U.days == bucket, _in(_U.at, q))
                        .order_by(_U.hours)
                        .offset(inside[0])
                        .limit(inside[-1] - inside[0] + 1)
                    )
                ).scalars()
                for r, v in zip(range(inside[0], inside[-1] + 1), middle, strict=False):
                    found[r + below] = float(v)
            below += histogram[bucket]
        first, second = found[ranks[0]], found[ranks[-1]]
        median = first + (second - first) * ((n - 1) / 2 - ranks[0])
        return n, round(median, 2)
    hours = (func.julianday(column) - func.julianday(_F.received_at)) * 24.0
    values = [float(v) for v in (await q.s.execute(select(hours).where(where))).scalars()]
    return len(values), round(statistics.median(values), 2) if values else None


def _mediation_ended(q: _Query, lo: datetime, hi: datetime) -> Any:
    return (
        select(_E.kind, func.count())
        .where(
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
        .group_by(_E.kind)
    )


async def _mediation(q: _Query) -> Counter[str]:
    """Mediations ended in the period, by the kind of the event that ended them."""
    out: Counter[str] = Counter()
    spans = q.edges if q.pg else [(q.lo, q.hi)]
    for lo, hi in spans:
        out.update({k: int(n) for k, n in (await q.s.execute(_mediation_ended(q, lo, hi))).all()})
    if q.pg:
        out.update((await _daily(q, ["mediation"]))["mediation"])
    return out


async def _decisions(q: _Query) -> tuple[int, int]:
    if q.pg:  # whole UTC days from the daily counts, partial ones from the facts
        daily = await _daily(q, ["decision_days", "decided_in_time"])
        n, ok = (
            await q.s.execute(
                select(func.count(), func.count(case((_F.decided_in_time == true(), 1)))).where(
                    _edges(q, _F.decided_at)
                )
            )
        ).one()
        return (
            int(n) + sum(daily["decision_days"].values()),
            int(ok) + daily["decided_in_time"][""],
        )
    n, ok = (
        await q.s.execute(
            select(func.count(), func.count(case((_F.decided_in_time == true(), 1)))).where(
                _in(_F.decided_at, q)
            )
        )
    ).one()
    return int(n), int(ok)


async def _fulfilment(q: _Query) -> dict[str, Any]:
    paid = _in(_F.paid_at, q)
    dated = and_(_F.due_on.is_not(None), _F.due_on != "")
    if q.pg:
        on_time_row = and_(dated, q.local_day(_F.paid_at) <= cast(_F.due_on, Date))
        totals = select(
            func.count(), func.count(case((dated, 1))), func.count(case((on_time_row, 1)))
        ).where(paid)
        confirmed, with_due, on_time = (await q.s.execute(totals)).one()
        confirmed, with_due, on_time = int(confirmed), int(with_due), int(on_time)
    else:
        tz = ZoneInfo(q.zone)
        rows = (await q.s.execute(select(_F.paid_at, _F.due_on).where(paid))).all()
        confirmed = len(rows)
        dated_rows = [(at, date.fromisoformat(d)) for at, d in rows if at and d]
        with_due = len(dated_rows)
        on_time = sum(1 for at, d in dated_rows if at.astimezone(tz).date() <= d)
    return {
        "confirmed": confirmed,
        "with_due_date": with_due,
        "without_due_date": confirmed - with_due,
        "on_time": on_time,
        "share_on_time": _share(on_time, with_due),
    }


def _aware(at: datetime | str) -> datetime:
    """Aggregates (``min``) bypass the column type: SQLite hands back naive UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def _unpaid_agreements(q: _Query) -> dict[str, Any]:
    late = and_(
        _F.due_on < q.today.isoformat(),
        _F.due_on != "",
        _F.paid_at.is_(None),
        CaseRow.state == CaseState.SETTLED.value,
    )
    listed: Any = select(CaseRow.id, CaseRow.number, CaseRow.insurer_id, _F.due_on)
    count: Any = 0
    if q.pg:  # the count from `DashboardDaily` (``settled_due``), the list stops at its limit
        count = (
            await q.s.execute(
                select(func.coalesce(func.sum(_D.n), 0)).where(
                    _D.dimension == "settled_due",
                    _D.key < q.today.isoformat(),
                    _D.key != "",
                )
            )
        ).scalar_one()
    else:
        listed = listed.add_columns(func.count().over())
    rows = (
        await q.s.execute(
            listed.select_from(_F)
            .join(CaseRow, CaseRow.id == _F.case_id)
            .where(late)
            .order_by(_F.due_on, CaseRow.id)
            .limit(LIST_LIMIT)
        )
    ).all()
    cases = [{"id": r[0], "number": r[1], "insurer_id": r[2], "due_on": r[3]} for r in rows]
    if not q.pg:
        count = rows[0][4] if rows else 0
    return {
        "count": int(count),
        "case_ids": [c["id"] for c in cases],
        "cases": cases,
    }


async def _high_risk(
    q: _Query, received: ColumnElement[bool], score: int, count: int, open_states: list[str]
) -> dict[str, Any]:
    rows = (
        await q.s.execute(
            select(
                CaseRow.id, CaseRow.number, CaseRow.insurer_id, CaseRow.risk_score, CaseRow.state
            )
            .where(received, CaseRow.risk_score >= score, CaseRow.state.in_(open_states))
            .order_by(CaseRow.risk_score.desc(), CaseRow.id)
            .limit(LIST_LIMIT)
        )
    ).all()
    return {
        "threshold": score,
        "count": count,
        "open_cases": [
            {"id": i, "number": num, "insurer_id": ins, "risk_score": sc, "state": st}
            for i, num, ins, sc, st in rows
        ],
    }


async def _clusters(q: _Query, duplicates_filed: int) -> dict[str, Any]:
    in_period = and_(EarlyWarningRow.created_at >= q.lo, EarlyWarningRow.created_at < q.hi)
    count, unacknowledged = (
        await q.s.execute(
            select(
                func.count(),
                func.count(case((EarlyWarningRow.acknowledged_at.is_(None), 1))),
            ).where(in_period)
        )
    ).one()
    rows = list(
        (
            await q.s.execute(
                select(EarlyWarningRow)
                .where(in_period)
                .order_by(EarlyWarningRow.created_at.desc(), EarlyWarningRow.id.desc())
                .limit(LIST_LIMIT)
            )
        ).scalars()
    )
    ids = {i for r in rows for i in r.case_ids}
    numbers = (
        dict(
            (await q.s.execute(select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids)))).all()
        )
        if ids
        else {}
    )
    return {
        "count": int(count),
        "unacknowledged": int(unacknowledged),
        "duplicates_filed": int(duplicates_filed),
        "clusters": [
            {
                "id": r.id,
                "insurer_id": r.insurer_id,
                "category": r.category,
                "created_at": r.created_at.isoformat(),
                "acknowledged": r.acknowledged_at is not None,
                "cases": [{"id": i, "number": numbers.get(i)} for i in r.case_ids],
            }
            for r in rows
        ],
    }


async def _overdue_cases(q: _Query, overdue_now: ColumnElement[bool]) -> list[dict[str, Any]]:
    rows = (
        await q.s.execute(
            select(CaseRow.id, CaseRow.number, CaseRow.insurer_id, CaseRow.state, CaseRow.due_at)
            .where(overdue_now)
            .order_by(CaseRow.due_at, CaseRow.id)
            .limit(LIST_LIMIT)
        )
    ).all()
    return [
        {"id": i, "number": num, "insurer_id": ins, "state": st, "due_at": due and due.isoformat()}
        for i, num, ins, st, due in rows
    ]


async def _series(q: _Query, days: Counter[date] | None) -> dict[str, Any]:
    """Cases received (``days``: counted already on PostgreSQL) and cases escalated (first
    escalation), per local day or week of the period."""
    unit = series_unit(q.period)
    received = and_(CaseRow.received_at >= q.lo, CaseRow.received_at < q.hi)
    counts: list[Counter[date]] = []
    if q.pg and days is None:
        days = await _slots(q, "received_q")
    escalated = await _slots(q, "escalated_q") if q.pg else None
    for column, where, done in (
        (CaseRow.received_at, received, days),
        (_F.escalated_at, _in(_F.escalated_at, q), escalated),
    ):
        if done is not None:
            counts.append(done)
        elif q.pg:
            bucket = _bucket(q, column)
            rows = await q.s.execute(select(bucket, func.count()).where(where).group_by(bucket))
            counts.append(Counter({d: int(n) for d, n in rows.all()}))
        else:
            tz = ZoneInfo(q.zone)
            moments = (await q.s.execute(select(column).where(where))).scalars()
            counts.append(
                Counter(_bucket_of(_aware(m).astimezone(tz).date(), unit) for m in moments if m)
            )
    cases, escalations = counts
    points = []
    for start in _buckets(q.period, unit):
        end = start + timedelta(days=0 if unit == "day" else 6)
        points.append(
            {
                "start": max(start, q.period.start).isoformat(),
                "end": min(end, q.period.end).isoformat(),
                "cases": cases.get(start, 0),
                "escalations": escalations.get(start, 0),
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
