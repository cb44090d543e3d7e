"""dashboard aggregates: per UTC day counts of the dashboard's figures, kept by triggers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 12:00:00.000000

``dashboard_daily`` holds, per UTC day, how many cases were received by category, insurer,
channel kind and state (and how many were high-risk or linked as duplicates), by quarter hour
of the day (the series), how many were first escalated (by insurer and by quarter hour), and a
histogram of the days from receipt to the first answer and to the decision. Triggers on
``cases`` and ``dashboard_case_facts`` add and subtract in the same transaction as the change,
so the counts are always exact. See `odr.storage.models.DashboardDaily`.
"""

# ruff: noqa: S608  (the SQL below is built from constants only)
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: the ``settled_due`` rows (settled cases not paid, per agreed due day) are not per day
UNPAID_DAY = "'2000-01-01'"
#: `odr.services.dashboard.HIGH_RISK_SCORE`: the ``high_risk`` row counts scores at or above it
HIGH_RISK_SCORE = 70
UPSERT = (
    "INSERT INTO dashboard_daily (day, dimension, key, n) "
    "SELECT day, dimension, key, sum(n) FROM ({rows}) AS t WHERE true "
    "GROUP BY day, dimension, key HAVING sum(n) <> 0 "
    "ON CONFLICT (dimension, day, key) DO UPDATE SET n = dashboard_daily.n + excluded.n"
)


class _Dialect:
    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def day(self, x: str) -> str:
        return f"CAST(({x} AT TIME ZONE 'UTC') AS date)" if self.pg else f"date({x})"

    def quarter(self, x: str) -> str:
        if self.pg:
            u = f"({x} AT TIME ZONE 'UTC')"
            return (
                f"CAST(CAST(extract(hour FROM {u}) AS integer) * 4 "
                f"+ CAST(extract(minute FROM {u}) AS integer) / 15 AS text)"
            )
        return (
            f"CAST(CAST(strftime('%H', {x}) AS integer) * 4 "
            f"+ CAST(strftime('%M', {x}) AS integer) / 15 AS text)"
        )

    def days_between(self, a: str, b: str) -> str:
        """Whole days from ``a`` to ``b`` (b >= a), as text."""
        if self.pg:
            return f"CAST(CAST(floor(extract(epoch FROM ({b} - {a})) / 86400) AS integer) AS text)"
        return f"CAST(CAST(julianday({b}) - julianday({a}) AS integer) AS text)"

    def text(self, x: str) -> str:
        return f"CAST({x} AS text)"


def case_parts(d: _Dialect, r: str) -> list[tuple[str, str, str, str]]:
    """(day, dimension, key, condition) of a ``cases`` row ``r``."""
    day = d.day(f"{r}.received_at")
    return [
        (day, "category", f"{r}.category", "true"),
        (day, "insurer", d.text(f"{r}.insurer_id"), "true"),
        (day, "channel", f"{r}.channel_kind", "true"),
        (day, "state", f"{r}.state", "true"),
        (day, "high_risk", "''", f"{r}.risk_score >= {HIGH_RISK_SCORE}"),
        (day, "duplicate", "''", f"{r}.duplicate_of_id IS NOT NULL"),
        (day, "received_q", d.quarter(f"{r}.received_at"), "true"),
        (
            UNPAID_DAY,
            "settled_due",
            f"(SELECT f.due_on FROM dashboard_case_facts f WHERE f.case_id = {r}.id)",
            f"{r}.state = 'settled' AND EXISTS (SELECT 1 FROM dashboard_case_facts f "
            f"WHERE f.case_id = {r}.id AND f.paid_at IS NULL AND f.due_on <> '')",
        ),
    ]


def facts_parts(d: _Dialect, r: str) -> list[tuple[str, str, str, str]]:
    """(day, dimension, key, condition) of a ``dashboard_case_facts`` row ``r``."""
    esc = f"{r}.escalated_at"
    return [
        (d.day(esc), "escalation", d.text(f"{r}.insurer_id"), f"{esc} IS NOT NULL"),
        (d.day(esc), "escalated_q", d.quarter(esc), f"{esc} IS NOT NULL"),
        (
            d.day(f"{r}.answered_at"),
            "answer_days",
            d.days_between(f"{r}.received_at", f"{r}.answered_at"),
            f"{r}.answered_at IS NOT NULL",
        ),
        (
            d.day(f"{r}.decided_at"),
            "decision_days",
            d.days_between(f"{r}.received_at", f"{r}.decided_at"),
            f"{r}.decided_at IS NOT NULL",
        ),
        (
            d.day(f"{r}.decided_at"),
            "decided_in_time",
            "''",
            f"{r}.decided_at IS NOT NULL AND {r}.decided_in_time",
        ),
        (
            UNPAID_DAY,
            "settled_due",
            f"{r}.due_on",
            f"{r}.paid_at IS NULL AND {r}.due_on <> '' AND EXISTS (SELECT 1 FROM cases c "
            f"WHERE c.id = {r}.case_id AND c.state = 'settled')",
        ),
    ]


def event_parts(d: _Dialect, r: str) -> list[tuple[str, str, str, str]]:
    """(day, dimension, key, condition) of a ``case_events`` row ``r``: mediations ended."""
    return [
        (
            d.day(f"{r}.at"),
            "mediation",
            f"{r}.kind",
            f"(({r}.kind = 'agreement_signed' AND {r}.to_state = 'settled') "
            f"OR {r}.kind = 'not_settled')",
        )
    ]


def duration_rows(d: _Dialect, r: str) -> str:
    """The ``dashboard_durations`` rows of a facts row ``r``: first answer and decision."""
    out = []
    for measure, column in (("answer", "answered_at"), ("decision", "decided_at")):
        at = f"{r}.{column}"
        if d.pg:
            hours = (
                f"CAST(extract(epoch FROM ({at} - {r}.received_at)) AS double precision) / 3600.0"
            )
        else:
            hours = f"(julianday({at}) - julianday({r}.received_at)) * 24.0"
        days = f"CAST({d.days_between(f'{r}.received_at', at)} AS integer)"
        out.append(
            f"SELECT '{measure}' AS measure, {days} AS days, {at} AS at, {r}.case_id AS case_id, "
            f"{hours} AS hours FROM {{source}} WHERE {at} IS NOT NULL"
        )
    return " UNION ALL ".join(out)


def _durations(d: _Dialect, old: bool, new: bool) -> str:
    steps = []
    if old:
        steps.append("DELETE FROM dashboard_durations WHERE case_id = OLD.case_id")
    if new:
        rows = duration_rows(d, "NEW").replace(" FROM {source}", "")
        steps.append(
            f"INSERT INTO dashboard_durations (measure, days, at, case_id, hours) "
            f"SELECT * FROM ({rows}) AS t WHERE true"
        )
    return "; ".join(steps)


def _rows(parts: list[tuple[str, str, str, str]], sign: int, source: str = "") -> str:
    return " UNION ALL ".join(
        f"SELECT {day} AS day, '{dim}' AS dimension, {key} AS key, {sign} AS n {source} "
        f"WHERE {cond}"
        for day, dim, key, cond in parts
    )


def _change(parts: Any, old: bool, new: bool) -> str:
    rows = []
    if old:
        rows.append(_rows(parts("OLD"), -1))
    if new:
        rows.append(_rows(parts("NEW"), 1))
    return UPSERT.format(rows=" UNION ALL ".join(rows))


#: the early-warning lists: the longest overdue first, the riskiest of a period first
CASE_INDEXES = {
    "ix_cases_due_at_id": ["due_at", "id"],
    "ix_cases_risk_score": ["risk_score", "received_at", "state"],
}

#: the medians: one bucket's hours in a period, and the partial days of a period
DURATION_INDEXES = {
    "ix_dashboard_durations_days": ["measure", "days", "at", "hours"],
    "ix_dashboard_durations_at": ["measure", "at", "days"],
}

TRIGGERS = {
    # table: (function of a row alias, columns whose update changes the counts)
    "cases": (
        case_parts,
        "category, insurer_id, channel_kind, state, risk_score, duplicate_of_id, received_at",
    ),
    "dashboard_case_facts": (
        facts_parts,
        "insurer_id, received_at, escalated_at, answered_at, decided_at, decided_in_time, "
        "paid_at, due_on",
    ),
    "case_events": (event_parts, "kind, at, to_state"),
}


def upgrade() -> None:
    op.create_table(
        "dashboard_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "key", name=op.f("pk_dashboard_daily")),
    )
    op.create_table(
        "dashboard_durations",
        sa.Column("measure", sa.String(length=8), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("measure", "case_id", name=op.f("pk_dashboard_durations")),
    )
    for name, columns in DURATION_INDEXES.items():
        op.create_index(name, "dashboard_durations", columns)
    for name, columns in CASE_INDEXES.items():
        op.create_index(name, "cases", columns)
    d = _Dialect(op.get_bind().dialect.name)
    backfill = " UNION ALL ".join(
        [
            # a pair (settled case, unpaid agreement) is counted once: from its facts
            _rows([p for p in case_parts(d, "c") if p[1] != "settled_due"], 1, "FROM cases c"),
            _rows(facts_parts(d, "f"), 1, "FROM dashboard_case_facts f"),
            _rows(event_parts(d, "e"), 1, "FROM case_events e"),
        ]
    )
    op.execute(UPSERT.format(rows=backfill))
    op.execute(
        "INSERT INTO dashboard_durations (measure, days, at, case_id, hours) "
        + duration_rows(d, "f").replace("{source}", "dashboard_case_facts f")
    )
    for table, (parts_of, updated) in TRIGGERS.items():

        def parts(r: str, parts_of: Any = parts_of) -> Any:
            return parts_of(d, r)

        def extra(old: bool, new: bool, table: str = table) -> str:
            if table != "dashboard_case_facts":
                return ""
            return "; " + _durations(d, old, new)

        name = f"dashboard_daily_on_{table}"
        if d.pg:
            op.execute(
                f"""
                CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN {_change(parts, False, True)}{extra(False, True)};
                  ELSIF TG_OP = 'DELETE' THEN {_change(parts, True, False)}{extra(True, False)};
                  ELSE {_change(parts, True, True)}{extra(True, True)};
                  END IF;
                  RETURN NULL;
                END $$
                """
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {updated} "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        else:
            for event, old, new in (
                ("INSERT", False, True),
                ("DELETE", True, False),
                (f"UPDATE OF {updated}", True, True),
            ):
                op.execute(
                    f"CREATE TRIGGER {name}_{event.split()[0].lower()} AFTER {event} ON {table} "
                    f"FOR EACH ROW BEGIN {_change(parts, old, new)}{extra(old, new)}; END"
                )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table in TRIGGERS:
        name = f"dashboard_daily_on_{table}"
        if pg:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
    for name in DURATION_INDEXES:
        op.drop_index(name, table_name="dashboard_durations")
    op.drop_table("dashboard_durations")
    op.drop_table("dashboard_daily")
    for name in CASE_INDEXES:
        op.drop_index(name, table_name="cases")
