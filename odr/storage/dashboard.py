"""The dashboard's reads: every count and list the supervisor's figures are made of, as typed
rows; `odr.services.dashboard` composes them into figures and applies the thresholds.

Per-case figures come from the read model `DashboardCaseFacts` (one row per case, kept by a
database trigger). On PostgreSQL the period's whole UTC days are read from `DashboardDaily`
(per UTC day counts kept exact by triggers) and only the partial UTC days at each end from the
rows; exact medians sort only the bucket of `DashboardDuration` that holds the middle value.
On SQLite a few figures that need the local calendar read one row per case of the period and
finish in Python.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
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

from odr.domain.accounts import OrganisationKind
from odr.domain.cases import OPEN_STATES, CaseState, EventKind
from odr.domain.periods import Period, bucket_of, buckets, series_unit
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

#: The risk score from which `DashboardDaily` counts a case as high-risk (its trigger's).
HIGH_RISK_SCORE = 70
LIST_LIMIT = 20  # cases in each early-warning list

_E = CaseEventRow
_F = DashboardCaseFacts
_D = DashboardDaily
_U = DashboardDuration
_CASE_DIMENSIONS = ("category", "insurer", "channel", "state")
_SLOT_EPOCH = date(2000, 1, 1)
R = TypeVar("R")


@dataclass(frozen=True)
class Insurer:
    name: str
    name_en: str | None
    policy_count: int | None


@dataclass(frozen=True)
class CaseCounts:
    """The cases received in the period, by each dimension."""

    by_category: dict[Any, int]
    by_insurer: dict[Any, int]
    by_channel: dict[Any, int]
    by_state: dict[Any, int]
    high_risk: int
    duplicates: int  # linked by triage to an earlier case


@dataclass(frozen=True)
class Cohort:
    cases: int
    in_time: int


@dataclass(frozen=True)
class Median:
    count: int
    hours: float | None


@dataclass(frozen=True)
class Mediations:
    settled: int
    not_settled: int


@dataclass(frozen=True)
class Fulfilment:
    confirmed: int
    with_due_date: int
    on_time: int


@dataclass(frozen=True)
class Listed(Generic[R]):
    """The first `LIST_LIMIT` rows of a list, and how many there are in all."""

    count: int
    rows: list[R]


@dataclass(frozen=True)
class UnpaidAgreement:
    id: int
    number: str
    insurer_id: int
    due_on: str


@dataclass(frozen=True)
class HighRiskCase:
    id: int
    number: str
    insurer_id: int
    risk_score: int | None
    state: str


@dataclass(frozen=True)
class OverdueCase:
    id: int
    number: str
    insurer_id: int
    state: str
    due_at: datetime | None


@dataclass(frozen=True)
class Cluster:
    id: int
    insurer_id: int
    category: str | None
    created_at: datetime
    acknowledged: bool
    cases: list[tuple[int, str | None]]  # (id, number)


@dataclass(frozen=True)
class Clusters:
    count: int
    unacknowledged: int
    rows: list[Cluster]


@dataclass(frozen=True)
class RatingCount:
    role: str
    score: int
    n: int


@dataclass
class DashboardReads:
    """The reads of one dashboard answer: one session, one period in one time zone, one now."""

    s: AsyncSession
    period: Period
    zone: str
    now: datetime
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

    async def prepare(self) -> None:
        """PostgreSQL, for this transaction only: the period's aggregates hash and sort in
        memory, and short analytical queries are not worth compiling (JIT costs more than it
        saves)."""
        if self.pg:
            await self.s.execute(text("SET LOCAL work_mem = '64MB'"))
            await self.s.execute(text("SET LOCAL jit = off"))

    def local_day(self, column: Any) -> Any:
        """PostgreSQL only: the local calendar day of an instant."""
        return cast(func.timezone(self.zone, column), Date)

    async def insurers(self) -> dict[int, Insurer]:
        """Every insurer organisation."""
        rows = await self.s.execute(
            select(
                Organisation.id, Organisation.name, Organisation.name_en, Organisation.policy_count
            ).where(Organisation.kind == OrganisationKind.INSURER.value)
        )
        return {i: Insurer(n, en, p) for i, n, en, p in rows.all()}

    async def ratings(self) -> list[RatingCount]:
        """The satisfaction ratings given in the period, counted by role and score."""
        rows = await self.s.execute(
            select(SatisfactionRating.role, SatisfactionRating.score, func.count())
            .where(self._in(SatisfactionRating.rated_at))
            .group_by(SatisfactionRating.role, SatisfactionRating.score)
        )
        return [RatingCount(role, int(score), int(n)) for role, score, n in rows.all()]

    async def case_counts(self, score: int) -> CaseCounts:
        """Cases received in the period by category, insurer, channel kind and state, how many
        have a risk score of ``score`` or more and how many triage linked to an earlier case."""
        received = self._in(CaseRow.received_at)
        columns = (CaseRow.category, CaseRow.insurer_id, CaseRow.channel_kind, CaseRow.state)
        risky = func.count(case((CaseRow.risk_score >= score, 1)))
        duplicate = func.count(CaseRow.duplicate_of_id)
        out: list[dict[Any, int]] = [{}, {}, {}, {}]
        if self.pg:  # the whole UTC days from the daily counts, the partial ones from the cases
            edge = self._edges(CaseRow.received_at)
            for i, column in enumerate(columns):
                stmt = select(column, func.count()).where(edge).group_by(column)
                out[i] = {k: int(n) for k, n in (await self.s.execute(stmt)).all()}
            high, dup = (await self.s.execute(select(risky, duplicate).where(edge))).one()
            daily = await self._daily([*_CASE_DIMENSIONS, "high_risk", "duplicate"])
            for i, dimension in enumerate(_CASE_DIMENSIONS):
                for key, n in daily[dimension].items():
                    k: Any = int(key) if dimension == "insurer" else key
                    out[i][k] = out[i].get(k, 0) + n
                out[i] = {k: n for k, n in out[i].items() if n}
            if score == HIGH_RISK_SCORE:
                high = int(high) + daily["high_risk"][""]
            else:
                high = (await self.s.execute(select(risky).where(received))).scalar_one()
            return CaseCounts(
                out[0],
                out[1],
                out[2],
                out[3],
                high_risk=int(high),
                duplicates=int(dup) + daily["duplicate"][""],
            )
        for i, column in enumerate(columns):
            stmt = select(column, func.count()).where(received).group_by(column)
            out[i] = {k: int(n) for k, n in (await self.s.execute(stmt)).all()}
        high_risk, duplicates = (
            await self.s.execute(select(risky, duplicate).where(received))
        ).one()
        return CaseCounts(
            out[0], out[1], out[2], out[3], high_risk=int(high_risk), duplicates=int(duplicates)
        )

    async def _daily(self, dimensions: list[str]) -> dict[str, Counter[str]]:
        """The `DashboardDaily` counts of the period's whole UTC days, per dimension and key."""
        out: dict[str, Counter[str]] = {d: Counter() for d in dimensions}
        if self.first_day >= self.end_day:
            return out
        rows = await self.s.execute(
            select(_D.dimension, _D.key, func.sum(_D.n))
            .where(_D.day >= self.first_day, _D.day < self.end_day, _D.dimension.in_(dimensions))
            .group_by(_D.dimension, _D.key)
        )
        for dimension, key, n in rows.all():
            if n:
                out[dimension][key] += int(n)
        return out

    def _in(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.lo, column < self.hi)

    def _edges(self, column: Any) -> ColumnElement[bool]:
        return or_(*(and_(column >= lo, column < hi) for lo, hi in self.edges))

    async def escalations_by_insurer(self) -> dict[int, int]:
        where = self._edges(_F.escalated_at) if self.pg else self._in(_F.escalated_at)
        rows = await self.s.execute(
            select(_F.insurer_id, func.count()).where(where).group_by(_F.insurer_id)
        )
        out = Counter({k: int(n) for k, n in rows.all()})
        if self.pg:
            out.update(
                {int(k): n for k, n in (await self._daily(["escalation"]))["escalation"].items()}
            )
        return {k: n for k, n in out.items() if n}

    async def _slots(self, dimension: str) -> Counter[date] | None:
        """PostgreSQL: a quarter-hour dimension of `DashboardDaily` summed per bucket of the
        series; None when a bucket does not start on a quarter hour (then the rows are read)."""
        starts = buckets(self.period, series_unit(self.period))
        tz = ZoneInfo(self.zone)
        moments = [max(self.lo, datetime.combine(b, time(0), tz)) for b in starts] + [self.hi]
        bounds = [_slot_number(m) for m in moments]
        if any(b is None for b in bounds):
            return None
        slot = cast(_D.day - _SLOT_EPOCH, Integer) * 96 + cast(_D.key, Integer)
        which = func.width_bucket(slot, cast(bounds, ARRAY(Integer)))
        rows = await self.s.execute(
            select(which, func.sum(_D.n))
            .where(
                _D.dimension == dimension,
                _D.day >= self.lo.astimezone(UTC).date(),
                _D.day <= self.hi.astimezone(UTC).date(),
                slot >= bounds[0],
                slot < bounds[-1],
            )
            .group_by(which)
        )
        return Counter({starts[int(i) - 1]: int(n) for i, n in rows.all() if n})

    async def answer_compliance(self) -> dict[int, Cohort]:
        """Per insurer: the cases in the answer cohort, and of them those in time."""
        good = and_(
            _F.answered_in_time == true(),
            _F.answered_late == false(),
            _F.answer_escalated_at.is_(None),
        )
        rows = await self.s.execute(
            select(_F.insurer_id, func.count(), func.count(case((good, 1))))
            .where(or_(self._in(_F.answered_at), self._in(_F.answer_escalated_at)))
            .group_by(_F.insurer_id)
        )
        return {k: Cohort(int(n), int(ok)) for k, n, ok in rows.all()}

    async def median_hours(self, measure: str) -> Median:
        """How many, and the median hours from receipt, over the cases whose first ``answer`` or
        ``decision`` is in the period.

        PostgreSQL: the histogram of whole days from receipt (``<measure>_days`` of
        `DashboardDaily`, plus the period's partial UTC days read from `DashboardDuration`) names
        the day-bucket holding each middle value and its rank there; only that bucket's cases are
        then sorted (`DashboardDuration`). The result is the exact median, interpolated as
        ``percentile_cont(0.5)`` does."""
        column = _F.answered_at if measure == "answer" else _F.decided_at
        where = self._in(column)
        if self.pg:
            dimension = f"{measure}_days"
            histogram: Counter[int] = Counter(
                {int(k): v for k, v in (await self._daily([dimension]))[dimension].items()}
            )
            rows = await self.s.execute(
                select(_U.days, func.count())
                .where(_U.measure == measure, self._edges(_U.at))
                .group_by(_U.days)
            )
            histogram.update({int(k): int(v) for k, v in rows.all()})
            histogram = Counter({k: v for k, v in histogram.items() if v > 0})
            n = sum(histogram.values())
            if n == 0:
                return Median(0, None)
            ranks = sorted({(n - 1) // 2, n // 2})
            found: dict[int, float] = {}
            below = 0
            for bucket in sorted(histogram):
                inside = [r - below for r in ranks if below <= r < below + histogram[bucket]]
                if inside:
                    middle = (
                        await self.s.execute(
                            select(_U.hours)
                            .where(_U.measure == measure, _U.days == bucket, self._in(_U.at))
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
            return Median(n, round(median, 2))
        hours = (func.julianday(column) - func.julianday(_F.received_at)) * 24.0
        values = [float(v) for v in (await self.s.execute(select(hours).where(where))).scalars()]
        return Median(len(values), round(statistics.median(values), 2) if values else None)

    def _mediation_ended(self, lo: datetime, hi: datetime) -> Any:
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

    async def mediations_ended(self) -> Mediations:
        """Mediations ended in the period: settled, or not."""
        out: Counter[str] = Counter()
        spans = self.edges if self.pg else [(self.lo, self.hi)]
        for lo, hi in spans:
            out.update(
                {k: int(n) for k, n in (await self.s.execute(self._mediation_ended(lo, hi))).all()}
            )
        if self.pg:
            out.update((await self._daily(["mediation"]))["mediation"])
        return Mediations(
            settled=out.get(EventKind.AGREEMENT_SIGNED.value, 0),
            not_settled=out.get(EventKind.NOT_SETTLED.value, 0),
        )

    async def decisions(self) -> Cohort:
        """The cases decided in the period, and of them those decided in time."""
        if self.pg:  # whole UTC days from the daily counts, partial ones from the facts
            daily = await self._daily(["decision_days", "decided_in_time"])
            n, ok = (
                await self.s.execute(
                    select(func.count(), func.count(case((_F.decided_in_time == true(), 1)))).where(
                        self._edges(_F.decided_at)
                    )
                )
            ).one()
            return Cohort(
                int(n) + sum(daily["decision_days"].values()),
                int(ok) + daily["decided_in_time"][""],
            )
        n, ok = (
            await self.s.execute(
                select(func.count(), func.count(case((_F.decided_in_time == true(), 1)))).where(
                    self._in(_F.decided_at)
                )
            )
        ).one()
        return Cohort(int(n), int(ok))

    async def fulfilment(self) -> Fulfilment:
        """The payments confirmed in the period: with a due date, and of them on time."""
        paid = self._in(_F.paid_at)
        dated = and_(_F.due_on.is_not(None), _F.due_on != "")
        if self.pg:
            on_time_row = and_(dated, self.local_day(_F.paid_at) <= cast(_F.due_on, Date))
            totals = select(
                func.count(), func.count(case((dated, 1))), func.count(case((on_time_row, 1)))
            ).where(paid)
            confirmed, with_due, on_time = (await self.s.execute(totals)).one()
            confirmed, with_due, on_time = int(confirmed), int(with_due), int(on_time)
        else:
            tz = ZoneInfo(self.zone)
            rows = (await self.s.execute(select(_F.paid_at, _F.due_on).where(paid))).all()
            confirmed = len(rows)
            dated_rows = [(at, date.fromisoformat(d)) for at, d in rows if at and d]
            with_due = len(dated_rows)
            on_time = sum(1 for at, d in dated_rows if at.astimezone(tz).date() <= d)
        return Fulfilment(confirmed, with_due, on_time)

    async def unpaid_agreements(self) -> Listed[UnpaidAgreement]:
        """Cases still settled whose agreement's due date is before today, oldest due first."""
        late = and_(
            _F.due_on < self.today.isoformat(),
            _F.due_on != "",
            _F.paid_at.is_(None),
            CaseRow.state == CaseState.SETTLED.value,
        )
        listed: Any = select(CaseRow.id, CaseRow.number, CaseRow.insurer_id, _F.due_on)
        count: Any = 0
        if (
            self.pg
        ):  # the count from `DashboardDaily` (``settled_due``), the list stops at its limit
            count = (
                await self.s.execute(
                    select(func.coalesce(func.sum(_D.n), 0)).where(
                        _D.dimension == "settled_due",
                        _D.key < self.today.isoformat(),
                        _D.key != "",
                    )
                )
            ).scalar_one()
        else:
            listed = listed.add_columns(func.count().over())
        rows = (
            await self.s.execute(
                listed.select_from(_F)
                .join(CaseRow, CaseRow.id == _F.case_id)
                .where(late)
                .order_by(_F.due_on, CaseRow.id)
                .limit(LIST_LIMIT)
            )
        ).all()
        cases = [UnpaidAgreement(r[0], r[1], r[2], r[3]) for r in rows]
        if not self.pg:
            count = rows[0][4] if rows else 0
        return Listed(int(count), cases)

    async def high_risk_open(self, score: int) -> list[HighRiskCase]:
        """Open cases received in the period with a risk score of ``score`` or more, riskiest
        first."""
        received = self._in(CaseRow.received_at)
        open_states = [st.value for st in OPEN_STATES]
        rows = (
            await self.s.execute(
                select(
                    CaseRow.id,
                    CaseRow.number,
                    CaseRow.insurer_id,
                    CaseRow.risk_score,
                    CaseRow.state,
                )
                .where(received, CaseRow.risk_score >= score, CaseRow.state.in_(open_states))
                .order_by(CaseRow.risk_score.desc(), CaseRow.id)
                .limit(LIST_LIMIT)
            )
        ).all()
        return [HighRiskCase(*row) for row in rows]

    async def clusters(self) -> Clusters:
        """Early-warning clusters created in the period, newest first, with their cases."""
        in_period = and_(
            EarlyWarningRow.created_at >= self.lo, EarlyWarningRow.created_at < self.hi
        )
        count, unacknowledged = (
            await self.s.execute(
                select(
                    func.count(),
                    func.count(case((EarlyWarningRow.acknowledged_at.is_(None), 1))),
                ).where(in_period)
            )
        ).one()
        rows = list(
            (
                await self.s.execute(
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
                (
                    await self.s.execute(
                        select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids))
                    )
                ).all()
            )
            if ids
            else {}
        )
        return Clusters(
            int(count),
            int(unacknowledged),
            [
                Cluster(
                    r.id,
                    r.insurer_id,
                    r.category,
                    r.created_at,
                    r.acknowledged_at is not None,
                    [(i, numbers.get(i)) for i in r.case_ids],
                )
                for r in rows
            ],
        )

    def _overdue_now(self) -> ColumnElement[bool]:
        """Open cases whose running deadline is before now."""
        return and_(CaseRow.state.in_([st.value for st in OPEN_STATES]), CaseRow.due_at < self.now)

    async def overdue_by_insurer(self) -> dict[int, int]:
        stmt = (
            select(CaseRow.insurer_id, func.count())
            .where(self._overdue_now())
            .group_by(CaseRow.insurer_id)
        )
        return {k: int(n) for k, n in (await self.s.execute(stmt)).all()}

    async def overdue_cases(self) -> list[OverdueCase]:
        """The longest overdue open cases first."""
        overdue_now = self._overdue_now()
        rows = (
            await self.s.execute(
                select(
                    CaseRow.id, CaseRow.number, CaseRow.insurer_id, CaseRow.state, CaseRow.due_at
                )
                .where(overdue_now)
                .order_by(CaseRow.due_at, CaseRow.id)
                .limit(LIST_LIMIT)
            )
        ).all()
        return [OverdueCase(*row) for row in rows]

    async def series_counts(self) -> tuple[Counter[date], Counter[date]]:
        """Cases received and cases escalated (first escalation) per bucket of the series (by
        the bucket's first day)."""
        unit = series_unit(self.period)
        received = and_(CaseRow.received_at >= self.lo, CaseRow.received_at < self.hi)
        counts: list[Counter[date]] = []
        days = await self._slots("received_q") if self.pg else None
        escalated = await self._slots("escalated_q") if self.pg else None
        for column, where, done in (
            (CaseRow.received_at, received, days),
            (_F.escalated_at, self._in(_F.escalated_at), escalated),
        ):
            if done is not None:
                counts.append(done)
            elif self.pg:
                bucket = self._bucket(column)
                rows = await self.s.execute(
                    select(bucket, func.count()).where(where).group_by(bucket)
                )
                counts.append(Counter({d: int(n) for d, n in rows.all()}))
            else:
                tz = ZoneInfo(self.zone)
                moments = (await self.s.execute(select(column).where(where))).scalars()
                counts.append(
                    Counter(bucket_of(_aware(m).astimezone(tz).date(), unit) for m in moments if m)
                )
        return counts[0], counts[1]

    def _bucket(self, column: Any) -> Any:
        """PostgreSQL only: the series' bucket (local day, or the Monday of its week)."""
        local = func.timezone(self.zone, column)
        return cast(
            local if series_unit(self.period) == "day" else func.date_trunc("week", local), Date
        )


def _slot_number(at: datetime) -> int | None:
    """The quarter hour of ``at`` counted from `_SLOT_EPOCH` (UTC); None when ``at`` is not
    on a quarter hour."""
    at = at.astimezone(UTC)
    if at.minute % 15 or at.second or at.microsecond:
        return None
    return (at.date() - _SLOT_EPOCH).days * 96 + at.hour * 4 + at.minute // 15


def _aware(at: datetime | str) -> datetime:
    """Aggregates (``min``) bypass the column type: SQLite hands back naive UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
